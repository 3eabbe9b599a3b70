"""The Workspace through workspace/list: one call per directory, no paging."""

from __future__ import annotations

from typing import Iterator

from dbx_inventory.scan.filesystems.listing import DirListing, Entry, tally
from dbx_inventory.transport.client import ApiClient

# Workspace objects that are walked into rather than counted. A REPO (Git folder)
# lists like a directory.
WORKSPACE_CONTAINERS = frozenset({"DIRECTORY", "REPO"})


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
        return tally(path, self.entries(client, path))
