"""DBFS through the cluster's DBFS mount: os.scandir/stat, no dbfs/list request.

On a classic Databricks cluster every node sees DBFS as a local file system at /dbfs
(the DBFS FUSE mount), which the REST API's limits (30 requests/s, no listing of more
than ~10,000 entries) do not bind (databricks-api.md, "The platform as it is"). Only
executors look for it: a laptop has no /dbfs, and a stale one must not count.
The entries are those of dbfs/list (path, is a directory, size, modified in ms), so the
counting rules are the REST walker's (listing.tally). Where the mount refuses access
(Unity Catalog standard access mode, a cluster identity without rights) a directory
is listed through the REST API, as without a mount.
"""

from __future__ import annotations

import os
import threading
from typing import Iterator, Mapping

from dbx_inventory.errors import NotFound
from dbx_inventory.scan.filesystems.dbfs import DbfsWalker
from dbx_inventory.scan.filesystems.listing import DirListing, Entry, tally
from dbx_inventory.transport.client import ApiClient

MOUNT_ENV = "DBX_INVENTORY_DBFS_MOUNT"  # another place than /dbfs (the tests' executors)
DATABRICKS_MOUNT = "/dbfs"


def _join(parent: str, name: str) -> str:
    return parent + name if parent.endswith("/") else parent + "/" + name


class DbfsMountWalker(DbfsWalker):
    """DBFS read from a mount at `root`; the REST API for what the mount refuses."""

    def __init__(self, root: str):
        self.root = root.rstrip("/") or "/"
        self.refused = 0  # directories the mount refused (listed through the API)
        self._lock = threading.Lock()

    def local_path(self, path: str) -> str:
        return self.root + ("/" + path.lstrip("/") if path.strip("/") else "")

    def local_entries(self, path: str) -> Iterator[Entry]:
        """dbfs/list's entries for `path`, read from the mount (a file lists itself).
        `entries` stays the REST API's: what the mount refuses is asked there."""
        local = self.local_path(path)
        try:
            with os.scandir(local) as found:
                listed = []
                for entry in found:
                    child = _join(path, entry.name)
                    if entry.is_dir():
                        listed.append((child, True, 0, 0))
                    else:
                        info = entry.stat()
                        listed.append((child, False, info.st_size,
                                       info.st_mtime_ns // 1_000_000))
                return iter(listed)
        except NotADirectoryError:
            info = os.stat(local)
            return iter([(path, False, info.st_size, info.st_mtime_ns // 1_000_000)])
        except FileNotFoundError:
            # As dbfs/list's 404 RESOURCE_DOES_NOT_EXIST: a root that is not there.
            raise NotFound(f"{path} does not exist", status=404,
                           error_code="RESOURCE_DOES_NOT_EXIST", path=f"dbfs:{path}") from None

    def list_dir(self, client: ApiClient, path: str) -> DirListing:
        try:
            return tally(path, self.local_entries(path))
        except PermissionError:
            with self._lock:
                self.refused += 1
            return super().list_dir(client, path)

    def describe(self) -> str:
        refused = f"; {self.refused} refused, listed through the REST API" \
            if self.refused else ""
        return f"the DBFS mount at {self.root}{refused}"


def find_mount(env: Mapping[str, str] | None = None) -> tuple[DbfsMountWalker | None, str]:
    """(walker, how): a mount walker when DBFS is mounted and readable here, else None,
    and in words which way DBFS is read (for --debug)."""
    env = os.environ if env is None else env
    root = env.get(MOUNT_ENV) or DATABRICKS_MOUNT
    if not os.path.isdir(root):
        return None, f"the REST API (no DBFS mount at {root})"
    try:
        with os.scandir(root) as found:
            next(found, None)
    except OSError as exc:  # PermissionError above all: a mount that refuses us
        return None, f"the REST API (the DBFS mount at {root} refused: {exc.strerror or exc})"
    return DbfsMountWalker(root), f"the DBFS mount at {root}"
