"""Per-user results as plain data: what a scan found, and how it is classified."""

from __future__ import annotations

from dataclasses import dataclass, fields

from dbx_inventory.scan.roots import AREA, USER

SUCCESS, EMPTY, ERROR = "success", "empty", "error"
SKIPPED = "skipped"  # an area named but never walked (a mount point, sample datasets)
STATUSES = (SUCCESS, EMPTY, ERROR, SKIPPED)
# error_kind of an error row: a transient cause (network, 5xx, 429 with retries spent)
# is no answer about the user, so --resume scans it again even after a finished run.
TRANSIENT, FINAL = "transient", "final"
# Users who never signed in have no home at all (spec: SCIM): an error row, but not a
# failure of the scan; SUMMARY counts them apart.
NO_HOME = "no home folder exists in DBFS or the Workspace: the user may never have signed in"
NO_HOME_BEFORE = "no home directory in DBFS or Workspace"  # the words of older checkpoints
GONE = "no longer exists (removed since the run listed it)"


@dataclass
class SideCount:
    """One file system's tally for one user."""

    files: int = 0
    bytes: int = 0
    newest_ms: int | None = None
    listings: int = 0            # listings that succeeded
    missing: bool = False        # every root in this file system answered 404
    roots: int = 0               # roots walked in this file system
    missing_roots: int = 0       # of which answered 404
    failed: int = 0              # listings that failed for good
    first_failure: str = ""      # what failed first, and where
    transient: bool = False      # a failure was transient (worth another scan later)

    def add(self, files: int, num_bytes: int, newest_ms: int | None) -> None:
        self.listings += 1
        self.files += files
        self.bytes += num_bytes
        if newest_ms is not None and (self.newest_ms is None or newest_ms > self.newest_ms):
            self.newest_ms = newest_ms

    def lost_root(self) -> None:
        """A root answered 404; the side is missing once all of them did."""
        self.missing_roots += 1
        self.missing = self.missing_roots >= self.roots

    def fail(self, reason: str, *, transient: bool = False) -> None:
        self.failed += 1
        self.transient = self.transient or transient
        if not self.first_failure:
            self.first_failure = reason


@dataclass(frozen=True)
class UserResult:
    """One row of the results: everything the CSV, checkpoint and console need.

    A row counts one scan root (roots.py): a user, or an area, whose `username` is
    then the area's key (`dbfs:/FileStore`)."""

    username: str
    status: str
    file_count: int
    total_size: int
    file_source: str
    error: str
    dbfs_files: int = 0
    dbfs_bytes: int = 0
    workspace_files: int = 0
    workspace_bytes: int = 0
    last_modified_ms: int | None = None
    started_at: float = 0.0      # epoch seconds
    ended_at: float = 0.0
    worker: str = ""             # host/pid that scanned the user
    listings: int = 0
    user_status: str = ""        # active/inactive/service_principal/removed; "" unknown
    error_kind: str = ""         # error rows: TRANSIENT or FINAL; "" otherwise
    kind: str = USER             # roots.USER or roots.AREA
    dirs: tuple = ()             # --dirs-output: dirs.DirRow for each directory at 1..N
    owner: str = ""              # an area's owner where its file system names one (volumes)

    @property
    def transient(self) -> bool:
        """An error row whose cause was transient: --resume always scans it again."""
        return self.status == ERROR and self.error_kind == TRANSIENT

    @property
    def duration_s(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    def to_dict(self) -> dict:
        # By name, not asdict(): this runs on executors too, where the class may be
        # pickled by value by a cloudpickle that breaks dataclass introspection.
        return {name: getattr(self, name) for name in RESULT_FIELDS}

    @classmethod
    def from_dict(cls, data: dict) -> "UserResult":
        return cls(**{key: value for key, value in data.items() if key in RESULT_FIELDS})


RESULT_FIELDS = tuple(f.name for f in fields(UserResult))


def classify(username: str, dbfs: SideCount | None, workspace: SideCount | None, *,
             started_at: float, ended_at: float, worker: str,
             kind: str = USER, dirs: tuple = (), volumes: SideCount | None = None,
             owner: str = "") -> UserResult:
    """Combine the sides into a row. A side not scanned is None."""
    sides = {label: side for label, side in (("DBFS", dbfs), ("Workspace", workspace),
                                             ("Volumes", volumes))
             if side is not None}
    files = sum(side.files for side in sides.values())
    size = sum(side.bytes for side in sides.values())
    problems = [f"{label}: {side.first_failure}"
                + (f" ({side.failed} listings failed)" if side.failed > 1 else "")
                for label, side in sides.items() if side.failed]
    if not problems and sides and all(side.missing for side in sides.values()):
        problems = [GONE if kind != USER else NO_HOME if len(sides) == 2
                    else f"no home directory in {next(iter(sides))}"]
    read_anything = any(side.listings for side in sides.values())
    if problems:
        status = ERROR
    else:
        status = SUCCESS if files else EMPTY
    error_kind = ""
    if status == ERROR:
        error_kind = TRANSIENT if any(side.transient for side in sides.values()) else FINAL
    source = _file_source(dbfs, workspace)
    if source == "none" and volumes is not None and volumes.files:
        source = "volumes"
    if status == ERROR and not read_anything:
        source = "unknown"
    newest = [side.newest_ms for side in sides.values() if side.newest_ms is not None]
    return UserResult(
        username=username, status=status, file_count=files, total_size=size,
        file_source=source, error="; ".join(problems),
        dbfs_files=dbfs.files if dbfs else 0, dbfs_bytes=dbfs.bytes if dbfs else 0,
        workspace_files=workspace.files if workspace else 0,
        workspace_bytes=workspace.bytes if workspace else 0,
        last_modified_ms=max(newest) if newest else None,
        started_at=started_at, ended_at=ended_at, worker=worker,
        listings=sum(side.listings for side in sides.values()), error_kind=error_kind,
        kind=kind, dirs=dirs, owner=owner)


def has_no_home(row: UserResult) -> bool:
    """A user row whose homes all answered 404: likely someone who never signed in."""
    return row.kind == USER and row.status == ERROR and row.error in (NO_HOME, NO_HOME_BEFORE)


def _file_source(dbfs: SideCount | None, workspace: SideCount | None) -> str:
    in_dbfs = bool(dbfs and dbfs.files)
    in_workspace = bool(workspace and workspace.files)
    if in_dbfs and in_workspace:
        return "both"
    if in_dbfs:
        return "dbfs"
    return "workspace" if in_workspace else "none"


def skipped_row(name: str, reason: str, *, worker: str, at: float,
                owner: str = "") -> UserResult:
    """The row of an area that is named but not walked: no request, no count."""
    return UserResult(username=name, status=SKIPPED, file_count=0, total_size=0,
                      file_source="none", error=reason, started_at=at, ended_at=at,
                      worker=worker, kind=AREA, owner=owner)
