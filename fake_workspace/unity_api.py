"""Unity Catalog and the Files API as plain functions: (workspace, params) -> Reply.

Facts from the spec pack (databricks-api.md, "Unity Catalog volumes"): the three lists
are paged by max_results/page_token -> next_page_token; the Files API lists
/Volumes/... in pages of up to 1,000 entries (page_size, page_token -> next_page_token),
each entry with path, is_directory, file_size (files only), last_modified and name,
and the number of entries in a page does not tell that the listing is complete.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote

from .api import Reply, error, request_path
from .model import Workspace
from .tree import Dir, FileRef, join
from .unity import FILES_PAGE_MAX

FILES_PREFIX = "/api/2.0/fs/directories"
FILES_ENDPOINT = "fs/directories"


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(params: dict) -> int:
    """Where a page starts; ValueError for a token this server did not hand out."""
    raw = params.get("page_token")
    if not raw:
        return 0
    text = base64.urlsafe_b64decode(str(raw).encode()).decode()
    if not text.startswith("offset:"):
        raise ValueError("invalid page_token")
    return int(text[7:])


def _page(items: list, params: dict, key: str, cap: int) -> Reply:
    """One page of a Unity Catalog list. max_results: absent or 0 is the server's own
    page length, above 0 the smaller of it and the server's, below 0 an error (as the
    API documents); the page has a next token while more follow."""
    try:
        asked = int(params.get("max_results") or 0)
        start = _offset(params)
    except ValueError:
        return error(400, "INVALID_PARAMETER_VALUE", "Invalid max_results or page_token")
    if asked < 0:
        return error(400, "INVALID_PARAMETER_VALUE", "max_results must be at least 0")
    size = min(asked, cap) if asked else cap
    body: dict = {key: [item.to_api() for item in items[start:start + size]]}
    if start + size < len(items):
        body["next_page_token"] = _token(start + size)
    return Reply(200, body)


def _no_metastore() -> Reply:
    # A workspace with no Unity Catalog metastore assigned answers the UC API this way.
    return error(404, "METASTORE_DOES_NOT_EXIST",
                 "No metastore assigned for the current workspace.")


def uc_catalogs(ws: Workspace, params: dict) -> Reply:
    uc = ws.unity
    if uc is None:
        return _no_metastore()
    return _page(uc.catalogs, params, "catalogs", uc.page)


def uc_schemas(ws: Workspace, params: dict) -> Reply:
    uc = ws.unity
    if uc is None:
        return _no_metastore()
    name = params.get("catalog_name")
    if not name:
        return error(400, "INVALID_PARAMETER_VALUE", "Missing required field: catalog_name")
    catalog = uc.catalog(str(name))
    if catalog is None:
        return error(404, "CATALOG_DOES_NOT_EXIST", f"Catalog '{name}' does not exist.")
    if catalog.forbidden:  # no USE CATALOG privilege: 403 (not retryable)
        return error(403, "PERMISSION_DENIED",
                     f"User does not have USE CATALOG on Catalog '{name}'.")
    return _page(catalog.schemas, params, "schemas", uc.page)


def uc_volumes(ws: Workspace, params: dict) -> Reply:
    uc = ws.unity
    if uc is None:
        return _no_metastore()
    catalog_name, schema_name = params.get("catalog_name"), params.get("schema_name")
    if not catalog_name or not schema_name:
        return error(400, "INVALID_PARAMETER_VALUE",
                     "Missing required field: catalog_name and schema_name")
    catalog = uc.catalog(str(catalog_name))
    if catalog is not None and catalog.forbidden:
        return error(403, "PERMISSION_DENIED",
                     f"User does not have USE CATALOG on Catalog '{catalog_name}'.")
    schema = uc.schema(str(catalog_name), str(schema_name))
    if schema is None:
        return error(404, "SCHEMA_DOES_NOT_EXIST",
                     f"Schema '{catalog_name}.{schema_name}' does not exist.")
    if schema.forbidden:
        return error(403, "PERMISSION_DENIED", f"User does not have USE SCHEMA on Schema "
                                               f"'{catalog_name}.{schema_name}'.")
    return _page(schema.volumes, params, "volumes", uc.page)


def files_path(api_path: str) -> str:
    """The directory a Files API URL names: the URL path after the prefix, decoded."""
    return unquote(api_path[len(FILES_PREFIX):]) or "/"


def _entries(d: Dir) -> list[dict]:
    """A directory's entries: subdirectories first, then files (each with its size)."""
    out = [{"path": sub.path, "is_directory": True, "name": name,
            "last_modified": 0} for name, sub in d.subdirs.items()]
    f = d.files
    if f is not None:
        out.extend({"path": join(d.path, name), "is_directory": False, "name": name,
                    "file_size": f.sizes[i], "last_modified": f.mtimes[i]}
                   for i, name in enumerate(f.names))
    return out


def files_list(ws: Workspace, params: dict) -> Reply:
    """GET /api/2.0/fs/directories{path}: one page of a volume directory's entries."""
    uc = ws.unity
    path = request_path(params, "volumes")
    if path is None:
        return error(400, "INVALID_PARAMETER_VALUE", "Invalid directory path")
    if uc is None or not path.startswith("/Volumes/"):
        # The Files API is documented for Unity Catalog volumes only.
        return error(404, "NOT_FOUND", f"The directory {path} does not exist.")
    tree = uc.files
    if tree.blocked(path):
        return error(403, "PERMISSION_DENIED", f"User does not have READ VOLUME on {path}.")
    node = tree.lookup(path)
    if node is None or isinstance(node, FileRef):
        return error(404, "NOT_FOUND", f"The directory {path} does not exist.")
    if node.forbidden:
        return error(403, "PERMISSION_DENIED", f"User does not have READ VOLUME on {path}.")
    try:
        asked = int(params.get("page_size") or FILES_PAGE_MAX)
        start = _offset(params)
    except ValueError:
        return error(400, "INVALID_PARAMETER_VALUE", "Invalid page_size or page_token")
    if asked < 1:
        return error(400, "INVALID_PARAMETER_VALUE", "page_size must be at least 1")
    entries = _entries(node)
    end = start + min(asked, FILES_PAGE_MAX, uc.files_page)
    n_dirs = len(node.subdirs)
    if start < n_dirs < end:
        # A page may end before page_size while more follow: here directories and
        # files come in separate pages, so only next_page_token ends a listing.
        end = n_dirs
    body: dict = {"contents": entries[start:end]} if entries[start:end] else {}
    if end < len(entries):
        body["next_page_token"] = _token(end)
    reply = Reply(200, body)
    if start == 0:
        reply.listing = ("volumes", path)  # a listing is counted once, at its first page
    return reply


UC_ROUTES = {
    "/api/2.1/unity-catalog/catalogs": ("unity-catalog/catalogs", uc_catalogs, None),
    "/api/2.1/unity-catalog/schemas": ("unity-catalog/schemas", uc_schemas, None),
    "/api/2.1/unity-catalog/volumes": ("unity-catalog/volumes", uc_volumes, None),
}
# The Files API names the directory in the URL's path, not in a parameter.
FILES_ROUTE = (FILES_ENDPOINT, files_list, "volumes")
