"""Who to scan with --all-homes, and what each name is: active, inactive, a service
principal, or removed (a home left behind, or a name SCIM does not know).

SCIM lists users and service principals; only listing `/Users` itself finds the homes
Databricks keeps after a user is removed. One paged SCIM read and one listing per file
system, never a request per user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from dbx_inventory.scan.areas import Layout, home_files, map_workspace
from dbx_inventory.transport.client import ApiClient
from dbx_inventory.humanize import format_size
from dbx_inventory.errors import ApiError, NotFound, WorkspaceUnreachable
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import HOMELESS, Root, user_root
from dbx_inventory.scan.scim import iter_service_principals, iter_users
from dbx_inventory.scan.unity_catalog import read_catalogue, with_volumes

ACTIVE, INACTIVE, SERVICE_PRINCIPAL, REMOVED = (
    "active", "inactive", "service_principal", "removed")
USER_STATUSES = (ACTIVE, INACTIVE, SERVICE_PRINCIPAL, REMOVED)
LEFT = (INACTIVE, REMOVED)  # people gone or going whose data someone must decide on
HOMES_ROOT = "/Users"


@dataclass
class Directory:
    """What SCIM says: each user's name and whether active, and service principals."""

    users: list[tuple[str, bool]] = field(default_factory=list)  # SCIM order
    principals: set[str] = field(default_factory=set)            # application ids

    def __post_init__(self) -> None:
        # SCIM compares user names case-insensitively; so do we.
        self._active = {user.lower(): active for user, active in self.users}
        self._principals = {app.lower() for app in self.principals}

    def status_of(self, name: str) -> str:
        """The user_status of a name."""
        active = self._active.get(name.lower())
        if active is not None:
            return ACTIVE if active else INACTIVE
        return SERVICE_PRINCIPAL if name.lower() in self._principals else REMOVED


@dataclass
class Discovery:
    """The --all-homes user list and what discovery could not see."""

    users: list[str]
    statuses: dict[str, str]
    homes: dict[str, int]          # file system label -> folders found under /Users
    incomplete: dict[str, str]     # file system label -> why /Users could not be listed
    roots: list[Root] = field(default_factory=list)  # users', then areas, in scan order
    layout: Layout | None = None   # --whole-workspace: what lies beyond the homes
    outside: list[str] = field(default_factory=list)  # names found only beyond /Users

    def count(self, status: str) -> int:
        return sum(1 for value in self.statuses.values() if value == status)


def read_directory(client: ApiClient) -> Directory:
    """Every SCIM user (active or not) and every service principal, one paged read each."""
    return Directory(users=[(user.user_name, user.active) for user in iter_users(client)],
                     principals={sp.application_id for sp in iter_service_principals(client)})


def statuses_for(directory: Directory, names: Sequence[str]) -> dict[str, str]:
    return {name: directory.status_of(name) for name in names}


def list_homes(client: ApiClient, walker) -> list[str]:
    """Names of the folders under /Users in one file system (none when it is absent)."""
    return [path.rsplit("/", 1)[-1] for path, is_dir in homes_entries(client, walker)
            if is_dir]


def homes_entries(client: ApiClient, walker) -> list[tuple[str, bool]]:
    """(path, is a folder) of each entry of /Users in one file system (none when it is
    absent).

    One listing, possibly of tens of thousands of entries: the client's read timeout
    (120 s) covers DBFS's documented ~60 s for such a listing, and it is retried like
    any other.
    """
    try:
        return [(str(path).rstrip("/"), bool(is_dir))
                for path, is_dir, _, _ in walker.entries(client, HOMES_ROOT)
                if isinstance(path, str)]
    except NotFound:
        return []


def discover(client: ApiClient, walkers, *, warn: Callable[[str], None],
             whole: bool = False, include_mounts: bool = False,
             include_external: bool = False) -> Discovery:
    """SCIM users in SCIM order, then homes of anyone else, sorted by name.

    A file system whose /Users cannot be listed is reported through `warn` and marked
    incomplete; the other sources still count. SCIM failing stops the run. `whole`
    (--whole-workspace) adds the users' places outside /Users and every area, and with
    the volumes walker every Unity Catalog volume (include_external: external ones too).
    """
    all_walkers, walkers = walkers, [w for w in walkers if w.name not in HOMELESS]
    directory = read_directory(client)
    names = [name for name, _ in directory.users]
    known = {name.lower() for name in names}
    homes: dict[str, int] = {}
    incomplete: dict[str, str] = {}
    others: set[str] = set()
    stray: list[Root] = []  # files right in /Users: no one's home
    for walker in walkers:
        try:
            found = homes_entries(client, walker)
        except WorkspaceUnreachable:
            raise
        except ApiError as exc:
            incomplete[walker.label] = exc.describe()
            warn(f"⚠ {walker.label} discovery incomplete: cannot list "
                 f"{_shown(walker)} ({exc.describe()}); going on without it")
            continue
        folders = [path.rsplit("/", 1)[-1] for path, is_dir in found if is_dir]
        homes[walker.label] = len(folders)
        others.update(name for name in folders if name.lower() not in known)
        stray += home_files(walker, found)
    layout = None
    outside: list[str] = []
    if whole:
        layout = map_workspace(client, walkers, include_mounts=include_mounts, warn=warn,
                               known=set(names) | others | directory.principals)
        layout.home_files = stray
        incomplete.update(layout.incomplete)
        if any(w.name == "volumes" for w in all_walkers):
            layout.areas = with_volumes(layout.areas, read_catalogue(client, warn=warn),
                                        include_external=include_external, warn=warn)
        # Someone known only by a Git folder or an upload gets a row too; a place is
        # attached by its exact name (folder names are case-sensitive), never dropped.
        exact = set(names) | others
        outside = sorted(name for name in layout.owned if name not in exact)
        others.update(outside)
    names += sorted(others)
    file_systems = [walker.name for walker in all_walkers]
    owned = layout.owned if layout is not None else {}
    roots = [user_root(name, file_systems, owned.get(name, ())) for name in names]
    if layout is not None:
        roots += sorted(layout.home_files + layout.areas, key=lambda root: root.name)
    return Discovery(users=names, statuses=statuses_for(directory, names), homes=homes,
                     incomplete=incomplete, roots=roots, layout=layout, outside=outside)


def left_behind_line(rows: Sequence[UserResult]) -> str | None:
    """The SUMMARY line on data held by inactive and removed users, when statuses are known."""
    if not any(row.user_status for row in rows):
        return None
    held = [row for row in rows if row.user_status in LEFT and row.file_count]
    files = sum(row.file_count for row in held)
    size = sum(row.total_size for row in held)
    return (f"Data held by inactive and removed users: {len(held)} users, {files:,} files, "
            f"{format_size(size)} ({size:,} bytes)")


def _shown(walker) -> str:
    return f"dbfs:{HOMES_ROOT}" if walker.name == "dbfs" else HOMES_ROOT
