"""--whole-workspace: every top-level place of both file systems, as scan roots.

A handful of listings name everything: the root of each file system, and the folders
whose children belong to someone or are roots of their own (/Repos,
/FileStore/shared_uploads, /mnt, the Hive warehouse). What is found becomes places
of users (their Git folders, their uploads) or areas; nothing is listed inside a
skipped place. User rows plus area rows add up to both file systems less what is
skipped: each area leaves out the subtrees that are roots of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Collection

from dbx_inventory.transport.client import ApiClient
from dbx_inventory.errors import ApiError, InventoryError, NotFound, WorkspaceUnreachable
from dbx_inventory.scan.filesystems.dbfs import refusal
from dbx_inventory.scan.roots import AREA, HOMES, Place, Root, area_root

# Folders whose every child directory is one user's place (the name is the user's).
OWNED = {("workspace", "/Repos"), ("dbfs", "/FileStore/shared_uploads")}
MOUNTS = ("dbfs", "/mnt")
# Hadoop-style user folders (dbfs:/user/<name>): a child folder whose name is a user's
# joins that user's row; the others (hive, spark-logs, ...) stay in the area.
USER_FOLDERS = ("dbfs", "/user")
# Areas of their own inside another area, when they exist.
NESTED = {("dbfs", "/user/hive/warehouse")}
MOUNT_REASON = ("mount point: external storage, not the DBFS root; "
                "--include-external walks it")
VOLUME_ALIAS = ("Unity Catalog volume alias: the DBFS REST API refuses it (volumes are "
                "read through the Files API)")
SKIPPED = {
    ("dbfs", "/databricks-datasets"): "read-only sample datasets Databricks provides",
    ("dbfs", "/Volumes"): "Unity Catalog volumes: cloud storage, not the DBFS root",
    ("dbfs", "/Volume"): VOLUME_ALIAS,
    ("dbfs", "/volume"): VOLUME_ALIAS,
    ("dbfs", "/volumes"): VOLUME_ALIAS,
}
MLFLOW = "MLflow assets: mounted, the DBFS REST API refuses to list them"
# Reserved places inside an area: skipped areas of their own when they are there
# (a get-status each, no listing).
RESERVED = {("dbfs", "/databricks/mlflow-tracking"): MLFLOW,
            ("dbfs", "/databricks/mlflow-registry"): MLFLOW}


class RootRefused(InventoryError):  # exit 1 with one line, before anything is scanned
    """A file system's root cannot be listed: the whole workspace cannot be seen."""


@dataclass
class Layout:
    """What --whole-workspace found beyond the homes."""

    owned: dict[str, list[Place]] = field(default_factory=dict)  # user -> places
    areas: list[Root] = field(default_factory=list)              # by file system, path
    incomplete: dict[str, str] = field(default_factory=dict)     # place -> why unlisted
    home_files: list[Root] = field(default_factory=list)         # files right in /Users

    @property
    def skipped(self) -> list[Root]:
        return [area for area in self.areas if area.skipped]


def map_workspace(client: ApiClient, walkers, *, include_mounts: bool = False,
                  warn: Callable[[str], None], known: Collection[str] = ()) -> Layout:
    """List the roots of `walkers`' file systems and the folders named above. `known`:
    the names that are users' (SCIM users, homes, service principals' application ids),
    for the user folders of dbfs:/user."""
    layout = Layout()
    for walker in walkers:
        fs = walker.name
        top = _entries(client, walker, "/", required=True)
        for path, is_dir in top:
            if not is_dir:
                layout.areas.append(area_root(fs, path))  # a file right under the root
            elif path == HOMES:
                continue  # the homes: discovery lists them
            elif (fs, path) in SKIPPED:
                layout.areas.append(area_root(fs, path, skipped=SKIPPED[(fs, path)]))
            elif (fs, path) == MOUNTS:
                _mounts(client, walker, path, include_mounts, layout, warn)
            elif (fs, path) in OWNED:
                layout.areas.extend(_owned(client, walker, path, layout, warn) or [])
            else:
                layout.areas.extend(_area(client, walker, path, layout, warn, known))
    layout.areas.sort(key=lambda root: root.name)
    return layout


def _area(client: ApiClient, walker, path: str, layout: Layout, warn,
          known: Collection[str] = ()) -> list[Root]:
    """A top-level folder as an area, less the owned folders and nested areas below it
    (each of those is listed: to name its owners, or to know it is there)."""
    fs = walker.name
    inside = [place for place in sorted(OWNED | NESTED)
              if place[0] == fs and place[1].startswith(path + "/")]
    exclude: list[str] = []
    extra: list[Root] = []
    for (place_fs, below), reason in sorted(RESERVED.items()):
        if place_fs == fs and below.startswith(path + "/") and walker.exists(client, below):
            exclude.append(below)
            extra.append(area_root(fs, below, skipped=reason))
    for _, below in inside:
        if (fs, below) in NESTED:
            try:
                _entries(client, walker, below)  # is it there?
            except NotFound:
                continue
            except ApiError:
                pass  # there, but unreadable: its own area says why
            exclude.append(below)
            extra.append(area_root(fs, below))
            continue
        owned = _owned(client, walker, below, layout, warn, within=path)
        if owned is not None:
            exclude.append(below)
            extra += owned
    if (fs, path) == USER_FOLDERS:
        exclude += _user_folders(client, walker, path, layout, set(known), set(exclude))
    return [area_root(fs, path, exclude=exclude)] + extra


def _user_folders(client: ApiClient, walker, path: str, layout: Layout, known: set[str],
                  taken: set[str]) -> list[str]:
    """The folders of dbfs:/user named for a user (a name known as a user's, or any name
    with an @), each joined to that user's row; their paths, for the area to leave out.
    Unreadable: none, and the area's own walk says why."""
    try:
        found = _entries(client, walker, path)
    except ApiError:
        return []
    mine = []
    for child, is_dir in found:
        name = child.rsplit("/", 1)[-1]
        if is_dir and child not in taken and ("@" in name or name in known):
            layout.owned.setdefault(name, []).append(Place(walker.name, child))
            mine.append(child)
    return mine


def _owned(client: ApiClient, walker, path: str, layout: Layout, warn,
           within: str = "") -> list[Root] | None:
    """A folder of users' places: each child folder joins its owner's row, a file right
    in it is an area. None when it is absent, or unreadable and so left to the area
    `within` (counted there, only not attributed)."""
    fs = walker.name
    try:
        found = _entries(client, walker, path)
    except NotFound:
        return None
    except ApiError as exc:
        layout.incomplete[f"{fs}:{path}"] = exc.describe()
        if within:
            warn(f"⚠ cannot list {fs}:{path} ({exc.describe()}); it is counted in "
                 f"the area {fs}:{within}, not in its owners' rows")
            return None
        warn(f"⚠ cannot list {fs}:{path} ({exc.describe()}); its owners' places there "
             "are left out")
        return [area_root(fs, path)]  # its row says why it could not be counted
    areas = []
    for child, is_dir in found:
        if is_dir:
            owner = child.rsplit("/", 1)[-1]
            layout.owned.setdefault(owner, []).append(Place(fs, child))
        else:
            areas.append(area_root(fs, child))
    return areas


def _mounts(client: ApiClient, walker, path: str, include: bool, layout: Layout,
            warn) -> None:
    """Each mount point is an area, named from one listing of /mnt and skipped unless
    --include-mounts; a file right in /mnt is in the DBFS root, and walked."""
    fs = walker.name
    try:
        found = _entries(client, walker, path)
    except NotFound:
        return
    for child, is_dir in found:
        if is_dir and not include:
            layout.areas.append(area_root(fs, child, skipped=MOUNT_REASON))
        else:
            layout.areas.append(area_root(fs, child))
    if include and any(is_dir for _, is_dir in found):
        warn(f"⚠ --include-mounts: walking {sum(is_dir for _, is_dir in found)} mount "
             "points lists external storage through the DBFS API, one request per "
             "folder: on a data lake that can take days, and the bytes are not in the "
             "DBFS root")


def refused_area(root: Root, place: Place, depth: int, exc: ApiError) -> str:
    """Why an area is skipped when the DBFS REST API refuses its root by design (a
    mount point it cannot list, a reserved place); "" for any other failure."""
    if root.kind != AREA or depth != 0 or place.file_system != "dbfs":
        return ""
    words = refusal(exc)
    return f"refused by the DBFS REST API ({words}): list it on a cluster" if words else ""


def home_files(walker, listing_entries) -> list[Root]:
    """Files right in /Users (no one's home): areas of their own."""
    return [area_root(walker.name, path) for path, is_dir in listing_entries if not is_dir]


def _entries(client: ApiClient, walker, path: str, *, required: bool = False
             ) -> list[tuple[str, bool]]:
    """(path, is a folder) of each entry of one listing, in name order."""
    try:
        found = [(str(child).rstrip("/") or "/", bool(is_dir))
                 for child, is_dir, _, _ in walker.entries(client, path)
                 if isinstance(child, str) and child.rstrip("/") != path.rstrip("/")]
    except WorkspaceUnreachable:
        raise
    except ApiError as exc:
        if not required or isinstance(exc, NotFound):
            raise
        shown = f"dbfs:{path}" if walker.name == "dbfs" else path
        raise RootRefused(f"--whole-workspace cannot list {shown} ({exc.describe()}): "
                          f"it needs an admin's read access to the whole "
                          f"{walker.label}; scan the other file system alone with "
                          f"--{'workspace' if walker.name == 'dbfs' else 'dbfs'}-only"
                          ) from None
    return sorted(found)
