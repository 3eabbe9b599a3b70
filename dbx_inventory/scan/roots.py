"""Scan roots: what one row of the inventory counts.

A root is a user (their places: the homes under /Users, and with --whole-workspace
their Git folders under /Repos and their uploads under /FileStore/shared_uploads) or
an area (one top-level place of a file system, such as dbfs:/FileStore or the Hive
warehouse). An area that must not be walked (a mount point, the sample datasets) is a
root too, with the reason it is skipped: it gets its row without a request.

Every part of a run takes roots: the scanner walks their places, the checkpoint keeps
their rows by key, Spark units carry them, outputs split rows by kind. A plain user
name stands for a user's homes in the file systems scanned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence, Union

USER, AREA = "user", "area"
KINDS = (USER, AREA)
HOMES = "/Users"
HOMELESS = frozenset({"volumes"})  # file systems with no /Users: no user has a home there


@dataclass(frozen=True)
class Place:
    """One tree to walk: a path in one file system, without the subtrees in `exclude`
    (they are roots of their own)."""

    file_system: str                 # a walker's name: "dbfs" or "workspace"
    path: str
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Root:
    """What one row counts. `name` is the row's key: the user name, or for an area
    `file_system:path` (an area path may be in both file systems)."""

    kind: str
    name: str
    places: tuple[Place, ...]
    skipped: str = ""                # why an area is named but never walked
    owner: str = ""                  # who owns an area, when its file system says (volumes)

    def __str__(self) -> str:
        return self.name

    def to_dict(self) -> dict:
        """Plain data for the checkpoint header."""
        data: dict = {"kind": self.kind, "name": self.name,
                      "places": [[p.file_system, p.path, list(p.exclude)]
                                 for p in self.places]}
        if self.skipped:
            data["skipped"] = self.skipped
        if self.owner:
            data["owner"] = self.owner
        return data

    @classmethod
    def from_dict(cls, data) -> "Root":
        """The root a checkpoint recorded; ValueError when its shape is wrong."""
        try:
            kind, name = data["kind"], data["name"]
            places = tuple(Place(fs, path, tuple(exclude))
                           for fs, path, exclude in data["places"])
            skipped = data.get("skipped", "")
            owner = data.get("owner", "")
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("not a recorded scan root") from None
        # Every field its type: a number where a path belongs is damage, not a path.
        if kind not in KINDS or not isinstance(name, str) or not name \
                or not isinstance(skipped, str) or not isinstance(owner, str) \
                or not isinstance(data["places"], list) \
                or not all(isinstance(place, list) and isinstance(place[2], list)
                           for place in data["places"]) \
                or not all(isinstance(text, str) for place in places
                           for text in (place.file_system, place.path, *place.exclude)):
            raise ValueError("not a recorded scan root")
        return cls(kind, name, places, skipped, owner)


Item = Union[Root, str]  # what a scan takes: a root, or a user name (their homes)


def area_key(file_system: str, path: str) -> str:
    return f"{file_system}:{path}"


def split_key(key: str) -> tuple[str, str]:
    """(file system, path) of an area's key."""
    file_system, _, path = key.partition(":")
    return file_system, path


def home_places(name: str, file_systems: Iterable[str]) -> tuple[Place, ...]:
    return tuple(Place(fs, f"{HOMES}/{name}") for fs in file_systems if fs not in HOMELESS)


def user_root(name: str, file_systems: Iterable[str],
              extra: Sequence[Place] = ()) -> Root:
    """A user: their homes in each file system scanned, then any places found elsewhere."""
    return Root(USER, name, home_places(name, file_systems) + tuple(extra))


def area_root(file_system: str, path: str, *, exclude: Sequence[str] = (),
              skipped: str = "", owner: str = "") -> Root:
    return Root(AREA, area_key(file_system, path),
                (Place(file_system, path, tuple(exclude)),), skipped, owner)


def key_of(item: Item) -> str:
    return item.name if isinstance(item, Root) else item


def as_root(item: Item, file_systems: Iterable[str]) -> Root:
    return item if isinstance(item, Root) else user_root(item, file_systems)


def recorded(roots: Iterable[Root], file_systems: Sequence[str]) -> dict[str, dict]:
    """The roots a checkpoint must keep: all but users who are just their homes."""
    return {root.name: root.to_dict() for root in roots
            if root.kind != USER or root != user_root(root.name, file_systems)}


def rebuild(keys: Sequence[str], kept: dict, file_systems: Sequence[str]) -> list[Root]:
    """The roots of a recorded run: those it kept, and the homes of every other name."""
    return [Root.from_dict(kept[key]) if key in kept else user_root(key, file_systems)
            for key in keys]
