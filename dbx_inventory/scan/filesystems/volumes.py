"""Unity Catalog volumes through the Files API: one directory in pages, by page token.

`GET /api/2.0/fs/directories/Volumes/<catalog>/<schema>/<volume>/...` names the directory
in the URL's path and answers pages of up to 1,000 entries. A page may hold fewer
entries than asked while more follow: only the absence of next_page_token ends a
listing. Volumes have no homes: their places are found through Unity Catalog
(scan/unity_catalog.py).
"""

from __future__ import annotations

from typing import Iterator
from urllib.parse import quote

from dbx_inventory.errors import ApiError
from dbx_inventory.scan.filesystems.listing import DirListing, Entry, tally
from dbx_inventory.transport.client import ApiClient

PAGE_SIZE = 1000  # the most the Files API gives in one page


class VolumesWalker:
    """Volumes: entries with is_directory false are files, sized by file_size."""

    name = "volumes"
    label = "VOLUMES"
    api_path = "/api/2.0/fs/directories"

    def entries(self, client: ApiClient, path: str) -> Iterator[Entry]:
        # Every character but '/' is escaped: names hold '#', '?', '%' and spaces.
        target = self.api_path + quote(path, safe="/")
        token = None
        seen: set[str] = set()
        while True:
            params = {"page_size": PAGE_SIZE} | ({"page_token": token} if token else {})
            body = client.get(target, params, subject=f"volumes:{path}")
            for entry in body.get("contents") or ():
                child = entry.get("path")
                is_dir = bool(entry.get("is_directory"))
                if is_dir and isinstance(child, str):
                    child = child.rstrip("/") or child
                yield child, is_dir, entry.get("file_size"), entry.get("last_modified")
            token = body.get("next_page_token")
            if not token:
                return
            if token in seen:  # a server handing back a token twice must not loop us
                raise ApiError(f"the Files API repeated a page token listing {path}",
                               path=f"volumes:{path}")
            seen.add(token)

    def list_dir(self, client: ApiClient, path: str) -> DirListing:
        return tally(path, self.entries(client, path))
