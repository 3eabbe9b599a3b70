"""In-memory model of a Databricks workspace: its two trees (tree.py), users, service
principals and clusters, and the truth a scan must find."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .tree import DbfsTree, Tree, WorkspaceTree, own_files

if TYPE_CHECKING:
    from .whole import WholeWorkspace
    from .unity import UnityCatalog


@dataclass
class User:
    id: str
    user_name: str
    display_name: str
    active: bool = True
    emails: list[str] = field(default_factory=list)

    def to_scim(self, attributes: frozenset[str] | None = None) -> dict:
        """SCIM resource; when attributes is given, only those plus id and schemas."""
        full = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": self.id,
            "userName": self.user_name,
            "displayName": self.display_name,
            "active": self.active,
            "emails": [{"value": e, "primary": i == 0, "type": "work"}
                       for i, e in enumerate(self.emails)],
        }
        return _scim_view(full, attributes)


@dataclass
class ServicePrincipal:
    """A SCIM service principal; its home folder is named by its application id."""

    id: str
    application_id: str
    display_name: str
    active: bool = True

    def to_scim(self, attributes: frozenset[str] | None = None) -> dict:
        full = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"],
            "id": self.id,
            "applicationId": self.application_id,
            "displayName": self.display_name,
            "active": self.active,
        }
        return _scim_view(full, attributes)


def _scim_view(full: dict, attributes: frozenset[str] | None) -> dict:
    """SCIM's `attributes=`: only those asked for, plus id and schemas (always sent)."""
    if attributes is None:
        return full
    return {k: v for k, v in full.items() if k in attributes or k in ("id", "schemas")}


@dataclass
class Truth:
    """What a perfect client must report for one user, computed from the model."""

    username: str
    dbfs_files: int = 0
    dbfs_bytes: int = 0
    workspace_files: int = 0
    workspace_bytes: int = 0
    newest_mtime_ms: int | None = None
    dbfs_home_exists: bool = False
    workspace_home_exists: bool = False
    listings: int = 0
    forbidden_dirs: int = 0
    bad_path_dirs: int = 0


def home_path(username: str) -> str:
    return "/Users/" + username


class Workspace:
    """A whole fake workspace: users, both trees and clusters."""

    def __init__(self) -> None:
        self.dbfs = DbfsTree()
        self.workspace = WorkspaceTree()
        self.users: list[User] = []
        self.users_by_name: dict[str, User] = {}
        self.service_principals: list[ServicePrincipal] = []
        self.clusters: dict[str, dict] = {}
        self._next_user_id = 4_000_000_000_000_000
        # What add_whole_workspace made (None until it runs).
        self.whole: WholeWorkspace | None = None
        # Unity Catalog (unity.add_unity_catalog); None: no metastore is assigned.
        self.unity: UnityCatalog | None = None

    def add_user(self, user_name: str, display_name: str | None = None, *,
                 active: bool = True, user_id: str | None = None,
                 emails: list[str] | None = None) -> User:
        """Register a SCIM user (no homes are created: use mkdir/add_* for those)."""
        if user_name in self.users_by_name:
            raise ValueError(f"duplicate user {user_name}")
        if user_id is None:
            self._next_user_id += 1
            user_id = str(self._next_user_id)
        user = User(user_id, user_name, display_name or user_name.split("@")[0], active,
                    emails if emails is not None else [user_name])
        self.users.append(user)
        self.users_by_name[user_name] = user
        return user

    def add_service_principal(self, application_id: str, display_name: str, *,
                              active: bool = True) -> ServicePrincipal:
        """Register a SCIM service principal (homes, if any, are made separately)."""
        self._next_user_id += 1
        sp = ServicePrincipal(str(self._next_user_id), application_id, display_name, active)
        self.service_principals.append(sp)
        return sp

    def home_names(self) -> set[str]:
        """Names of every folder directly under /Users, in either file system."""
        return {name for tree in (self.dbfs, self.workspace)
                for name in (tree.dirs["/Users"].subdirs if "/Users" in tree.dirs else ())}

    def removed_homes(self) -> list[str]:
        """Homes left behind: under /Users but neither a SCIM user nor a service
        principal's application id (compared case-insensitively, as SCIM compares user
        names); sorted by name."""
        known = {name.lower() for name in self.users_by_name} \
            | {sp.application_id.lower() for sp in self.service_principals}
        return sorted(name for name in self.home_names() if name.lower() not in known)

    def add_cluster(self, cluster_id: str, state: str = "RUNNING", num_workers: int = 2,
                    **extra) -> dict:
        info = {"cluster_id": cluster_id, "cluster_name": f"fake-{cluster_id}",
                "state": state, "num_workers": num_workers,
                "spark_version": "15.4.x-scala2.12", **extra}
        self.clusters[cluster_id] = info
        return info

    @staticmethod
    def home(username: str) -> str:
        return home_path(username)

    # -- ground truth -----------------------------------------------------------------

    def truth(self, username: str) -> Truth:
        """Counts a perfect client would report for this user, computed from the model."""
        t = Truth(username)
        home = home_path(username)
        newest: list[int] = []
        t.dbfs_home_exists, t.dbfs_files, t.dbfs_bytes = _walk(self.dbfs, home, t, newest)
        t.workspace_home_exists, t.workspace_files, t.workspace_bytes = _walk(
            self.workspace, home, t, newest)
        t.newest_mtime_ms = max(newest) if newest else None
        return t

    def truths(self) -> list[Truth]:
        return [self.truth(u.user_name) for u in self.users]

    def min_listings(self) -> int:
        """Directory listings a perfect client needs for every user."""
        return sum(t.listings for t in self.truths())

    def file_count(self) -> int:
        return self.dbfs.file_count() + self.workspace.file_count()


def _walk(tree: Tree, home: str, t: Truth, newest: list[int]) -> tuple[bool, int, int]:
    """Add one tree's listings to t; return (home exists, files, bytes)."""
    root = tree.dirs.get(home)
    if root is None:
        return False, 0, 0
    files = size = 0
    timed = tree.timed_codes()
    stack = [root]
    while stack:
        d = stack.pop()
        t.listings += 1
        if d.forbidden or (d is root and tree.blocked(d.path)):
            t.forbidden_dirs += 1
            continue
        if d.path in tree.bad_paths:
            t.bad_path_dirs += 1
            continue
        stack.extend(d.subdirs.values())
        count, total, m = own_files(d, timed)
        files, size = files + count, size + total
        if m is not None:
            newest.append(m)
    return True, files, size
