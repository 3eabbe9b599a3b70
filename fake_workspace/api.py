"""The REST endpoints as plain functions: (workspace, params) -> Reply. No HTTP here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .model import Workspace
from .tree import DBFS_DIR, FILE, LANGUAGES, NOTEBOOK, Dir, FileRef, PathError, Tree, normalize

SCIM_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class Reply:
    status: int
    body: dict | str
    listing: tuple[str, str] | None = None  # (fs, path) when this was a directory listing


def error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error_code": code, "message": message})


def _scim_error(status: int, detail: str, scim_type: str | None = None) -> Reply:
    body = {"schemas": [SCIM_ERROR], "detail": detail, "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    return Reply(status, body)


def _int_param(params: dict, name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    return int(raw)


# -- SCIM ------------------------------------------------------------------------------

_FILTER = re.compile(r'^\s*userName\s+eq\s+"(.*)"\s*$', re.IGNORECASE)


def scim_users(ws: Workspace, params: dict, max_page: int | None = None, *,
               non_admin: bool = False, total: int | None = None) -> Reply:
    """The Users list; `non_admin`: as a non-admin token sees it (id and displayName
    only, documented), `total`: a totalResults that is not the list's length."""
    users = ws.users
    flt = params.get("filter")
    if flt:
        m = _FILTER.match(str(flt))
        if not m:
            return _scim_error(400, f"Unsupported filter: {flt}", "invalidFilter")
        user = ws.users_by_name.get(m.group(1))
        users = [user] if user is not None else []
    view = _NON_ADMIN_VIEW if non_admin else None
    return _scim_page(users, params, max_page, view, total)


def scim_service_principals(ws: Workspace, params: dict,
                            max_page: int | None = None) -> Reply:
    """The ServicePrincipals list, paged like Users (no filter support)."""
    return _scim_page(ws.service_principals, params, max_page)


_NON_ADMIN_VIEW = frozenset({"id", "displayName"})


def _scim_page(resources, params: dict, max_page: int | None,
               view: frozenset[str] | None = None, total: int | None = None) -> Reply:
    """One SCIM list page: startIndex is 1-based, a page holds at most count (and
    max_page) resources, each showing only the attributes asked for."""
    try:
        start = max(1, _int_param(params, "startIndex", 1))
        count = _int_param(params, "count", None)
    except ValueError:
        return _scim_error(400, "startIndex and count must be integers", "invalidValue")
    attrs = params.get("attributes")
    attributes = view or (frozenset(a.strip() for a in str(attrs).split(",") if a.strip())
                          if attrs else None)
    take = len(resources) if count is None else max(0, count)
    if max_page is not None:
        take = min(take, max_page)
    page = resources[start - 1:start - 1 + take]
    return Reply(200, {
        "schemas": [SCIM_LIST],
        "totalResults": len(resources) if total is None else total,
        "itemsPerPage": len(page),
        "startIndex": start,
        "Resources": [r.to_scim(attributes) for r in page],
    })


def scim_me(ws: Workspace, params: dict) -> Reply:
    if ws.users:
        return Reply(200, ws.users[0].to_scim())
    return Reply(200, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "id": "1", "userName": "admin@fake.example",
                       "displayName": "Fake Admin", "active": True,
                       "emails": [{"value": "admin@fake.example", "primary": True,
                                   "type": "work"}]})


# -- paths -----------------------------------------------------------------------------

def request_path(params: dict, fs: str) -> str | None:
    """The normalized path a request names, or None when it is missing or malformed."""
    raw = params.get("path")
    if raw is None or raw == "":
        return None
    raw = str(raw)
    if fs == "dbfs" and raw.startswith("dbfs:"):
        raw = raw[5:]
    try:
        return normalize(raw)
    except PathError:
        return None


def _resolve(tree: Tree, params: dict, fs: str, listing: bool = True
             ) -> tuple[str, Dir | FileRef] | Reply:
    """Normalized path and what lives there, or the error Reply to send (404 included)."""
    path = request_path(params, fs)
    if path is None:
        if params.get("path") in (None, ""):
            return error(400, "INVALID_PARAMETER_VALUE", "Path is required")
        return error(400, "INVALID_PARAMETER_VALUE", "Invalid request path")
    if path in tree.bad_paths:
        return error(400, "INVALID_PARAMETER_VALUE", "Invalid request path")
    refused = tree.refusal(path, listing)
    if refused is not None:
        # Reserved places (volume aliases, MLflow assets, some mount points): the DBFS
        # REST API refuses them. The status is not documented; the text is.
        return error(400, "INVALID_PARAMETER_VALUE", f"{refused}: {path}")
    if tree.blocked(path):
        return _forbidden(path)
    node = tree.lookup(path)
    return _missing(path) if node is None else (path, node)


def _forbidden(path: str) -> Reply:
    return error(403, "PERMISSION_DENIED", f"User does not have permission to read {path}")


def _missing(path: str) -> Reply:
    return error(404, "RESOURCE_DOES_NOT_EXIST", f"Path ({path}) doesn't exist.")


# -- Workspace -------------------------------------------------------------------------

def _dir_info(d: Dir) -> dict:
    return {"object_type": d.kind, "path": d.path, "object_id": d.object_id,
            "resource_id": str(d.object_id)}


def _object_info(tree: Tree, d: Dir, i: int, prefix: str) -> dict:
    f = d.files
    kind = tree.kind_table[f.kinds[i]]
    oid = f.ids[i]
    info = {"object_type": kind, "path": prefix + f.names[i], "object_id": oid,
            "resource_id": str(oid)}
    if kind == NOTEBOOK:
        info["language"] = LANGUAGES[f.langs[i]] or "PYTHON"
        info["created_at"] = f.created[i]
        info["modified_at"] = f.mtimes[i]
    elif kind == FILE:
        info["size"] = f.sizes[i]
        info["created_at"] = f.created[i]
        info["modified_at"] = f.mtimes[i]
    return info


def _prefix(d: Dir) -> str:
    return d.path if d.path == "/" else d.path + "/"


def workspace_list(ws: Workspace, params: dict) -> Reply:
    tree = ws.workspace
    found = _resolve(tree, params, "workspace")
    if isinstance(found, Reply):
        return found
    path, node = found
    if isinstance(node, FileRef):
        return Reply(200, {"objects": [_object_info(tree, node.dir, node.index,
                                                    _prefix(node.dir))]})
    if node.forbidden:
        return _forbidden(path)
    after = _int_param(params, "notebooks_modified_after", None)
    objects = [_dir_info(sub) for sub in node.subdirs.values()]
    f = node.files
    if f is not None:
        prefix = _prefix(node)
        objects.extend(_object_info(tree, node, i, prefix) for i in range(len(f.names)))
        if after is not None:
            objects = [o for o in objects
                       if o["object_type"] != NOTEBOOK or o["modified_at"] > after]
    reply = Reply(200, {"objects": objects} if objects else {})
    reply.listing = ("workspace", path)
    return reply


def workspace_get_status(ws: Workspace, params: dict) -> Reply:
    tree = ws.workspace
    found = _resolve(tree, params, "workspace")
    if isinstance(found, Reply):
        return found
    path, node = found
    if isinstance(node, FileRef):
        return Reply(200, _object_info(tree, node.dir, node.index, _prefix(node.dir)))
    return Reply(200, _dir_info(node))


# -- DBFS ------------------------------------------------------------------------------

def _dbfs_dir(d: Dir) -> dict:
    return {"path": d.path, "is_dir": True, "file_size": 0, "modification_time": 0}


def _dbfs_file(d: Dir, i: int, prefix: str) -> dict:
    f = d.files
    return {"path": prefix + f.names[i], "is_dir": False, "file_size": f.sizes[i],
            "modification_time": f.mtimes[i]}


def dbfs_list(ws: Workspace, params: dict) -> Reply:
    found = _resolve(ws.dbfs, params, "dbfs")
    if isinstance(found, Reply):
        return found
    path, node = found
    if isinstance(node, FileRef):
        return Reply(200, {"files": [_dbfs_file(node.dir, node.index, _prefix(node.dir))]})
    if node.forbidden:
        return _forbidden(path)
    files = [_dbfs_dir(sub) for sub in node.subdirs.values()]
    f = node.files
    if f is not None:
        prefix = _prefix(node)
        sizes, mtimes = f.sizes, f.mtimes
        files.extend({"path": prefix + name, "is_dir": False, "file_size": sizes[i],
                      "modification_time": mtimes[i]} for i, name in enumerate(f.names))
    reply = Reply(200, {"files": files} if files else {})
    reply.listing = ("dbfs", path)
    return reply


def dbfs_get_status(ws: Workspace, params: dict) -> Reply:
    found = _resolve(ws.dbfs, params, "dbfs", listing=False)
    if isinstance(found, Reply):
        return found
    path, node = found
    if isinstance(node, FileRef):
        return Reply(200, _dbfs_file(node.dir, node.index, _prefix(node.dir)))
    assert node.kind == DBFS_DIR
    return Reply(200, _dbfs_dir(node))


# -- clusters --------------------------------------------------------------------------

def clusters_get(ws: Workspace, params: dict) -> Reply:
    cid = params.get("cluster_id")
    if not cid:
        return error(400, "INVALID_PARAMETER_VALUE", "Missing required field: cluster_id")
    info = ws.clusters.get(str(cid))
    if info is None:
        return error(400, "INVALID_PARAMETER_VALUE", f"Cluster {cid} does not exist")
    return Reply(200, dict(info))


# URL path -> (endpoint name, handler, file system the path parameter names or None).
# Every handler takes (workspace, params); the server adds max_page for scim/Users.
Handler = Callable[..., Reply]
ROUTES: dict[str, tuple[str, Handler, str | None]] = {
    "/api/2.0/preview/scim/v2/Users": ("scim/Users", scim_users, None),
    "/api/2.0/preview/scim/v2/ServicePrincipals": ("scim/ServicePrincipals",
                                                   scim_service_principals, None),
    "/api/2.0/preview/scim/v2/Me": ("scim/Me", scim_me, None),
    "/api/2.0/workspace/list": ("workspace/list", workspace_list, "workspace"),
    "/api/2.0/workspace/get-status": ("workspace/get-status", workspace_get_status, "workspace"),
    "/api/2.0/dbfs/list": ("dbfs/list", dbfs_list, "dbfs"),
    "/api/2.0/dbfs/get-status": ("dbfs/get-status", dbfs_get_status, "dbfs"),
    "/api/2.0/clusters/get": ("clusters/get", clusters_get, None),
}
