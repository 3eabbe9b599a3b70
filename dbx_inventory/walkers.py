"""One walker per file system: how to list one directory and what in it counts.

The traversal itself (which directory next, how many at once) lives in scan.py and is
shared by both; a walker only turns one API listing into counts and subdirectories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from .client import ApiClient

# One listing entry as the API gave it: (path, is a container, size, modified).
Entry = tuple[Any, bool, Any, Any]

# Workspace objects that are walked into rather than counted. A REPO (Git folder)
# lists like a directory.
WORKSPACE_CONTAINERS = frozenset({"DIRECTORY", "REPO"})


@dataclass
class DirListing:
    """What one directory holds directly."""

    files: int = 0
    bytes: int = 0
    newest_ms: int | None = None
    subdirs: list[str] = field(default_factory=list)

    def saw_time(self, value) -> None:
        if isinstance(value, (int, float)) and value > 0:
            stamp = int(value)
            if self.newest_ms is None or stamp > self.newest_ms:
                self.newest_ms = stamp


class DbfsWalker:
    """DBFS: entries with is_dir false are files, sized by file_size."""

    name = "dbfs"
    label = "DBFS"
    api_path = "/api/2.0/dbfs/list"

    def entries(self, client: ApiClient, path: str) -> Iterator[Entry]:
        body = client.get(self.api_path, {"path": path}, subject=f"dbfs:{path}")
        return ((entry.get("path"), bool(entry.get("is_dir")), entry.get("file_size"),
                 entry.get("modification_time")) for entry in body.get("files") or ())

    def list_dir(self, client: ApiClient, path: str) -> DirListing:
        return _tally(path, self.entries(client, path))


class WorkspaceWalker:
    """Workspace: DIRECTORY and REPO are walked; every other object is one file.

    Only FILE objects report a size; notebooks count as files of 0 bytes, since
    measuring them would take one export call per notebook.
    """

    name = "workspace"
    label = "WORKSPACE"
    api_path = "/api/2.0/workspace/list"

    def entries(self, client: ApiClient, path: str) -> Iterator[Entry]:
        body = client.get(self.api_path, {"path": path}, subject=f"workspace:{path}")
        return ((obj.get("path"), obj.get("object_type") in WORKSPACE_CONTAINERS,
                 obj.get("size"), obj.get("modified_at") or obj.get("created_at"))
                for obj in body.get("objects") or ())

    def list_dir(self, client: ApiClient, path: str) -> DirListing:
        return _tally(path, self.entries(client, path))


def _tally(path: str, entries: Iterator[Entry]) -> DirListing:
    """Count (path, is_container, size, mtime) entries; an empty directory has none ({})."""
    listing = DirListing()
    own = path.rstrip("/")
    for child, is_container, size, mtime in entries:
        if is_container:
            # A server that lists a directory inside itself must not loop us.
            if child and child.rstrip("/") != own:
                listing.subdirs.append(child)
            continue
        listing.files += 1
        listing.bytes += _size(size)
        listing.saw_time(mtime)
    return listing


def _size(value) -> int:
    """Bytes the API reported; anything else (absent, null, junk) counts as 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    return 0


DBFS = DbfsWalker()
WORKSPACE = WorkspaceWalker()
WALKERS: dict[str, DbfsWalker | WorkspaceWalker] = {DBFS.name: DBFS,
                                                    WORKSPACE.name: WORKSPACE}
