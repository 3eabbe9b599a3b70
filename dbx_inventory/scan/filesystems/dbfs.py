"""DBFS through its REST API (dbfs/list): one call per directory, no paging."""

from __future__ import annotations

from typing import Iterator

from dbx_inventory.errors import ApiError, NotFound
from dbx_inventory.scan.filesystems.listing import DirListing, Entry, tally
from dbx_inventory.transport.client import ApiClient

# How the DBFS REST API refuses a reserved place (a volume alias, MLflow assets, a mount
# point it cannot list): by these words, with no documented status.
_REFUSALS = ("no operations allowed on this path", "limitation of the dbfs rest api")


def too_large(path: str, exc: ApiError) -> str:
    """A row's words for a directory dbfs/list cannot list: which, why, what to do."""
    return (f"dbfs:{path} is too large for the DBFS REST API (a listing of more than "
            f"~10,000 entries fails: {exc.message}); list it on a cluster (dbutils.fs.ls, "
            "or /dbfs on a classic cluster)")


def refusal(exc: ApiError) -> str | None:
    """The API's words when it refuses a place by design, else None."""
    text = (exc.message or "").lower()
    if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429 \
            and any(words in text for words in _REFUSALS):
        return exc.message
    return None


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

    def exists(self, client: ApiClient, path: str) -> bool:
        """Whether a place is there (one get-status; a refused place is there)."""
        try:
            client.get("/api/2.0/dbfs/get-status", {"path": path}, subject=f"dbfs:{path}")
        except NotFound:
            return False
        except ApiError as exc:
            if refusal(exc) is None:
                raise
        return True
