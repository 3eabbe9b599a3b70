"""DBFS through its REST API (dbfs/list): one call per directory, no paging."""

from __future__ import annotations

from typing import Iterator

from dbx_inventory.scan.filesystems.listing import DirListing, Entry, tally
from dbx_inventory.transport.client import ApiClient


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
        return tally(path, self.entries(client, path))
