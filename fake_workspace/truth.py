"""What a perfect --whole-workspace client reports, from the model's own trees.

By the rules the tool promises: a user's Git folders (/Repos/<user>) and uploads
(/FileStore/shared_uploads/<user>) join their row, every other top-level place is an
area, the Hive warehouse is an area of its own, and mount points, the sample datasets
and volumes are named and never listed. Shared by the tests and the benchmark.
"""

from __future__ import annotations

from .model import Workspace
from .tree import FileRef, Tree

OWNED = {"workspace": ["/Repos"], "dbfs": ["/FileStore/shared_uploads"]}
NESTED = {"/user": ["/user/hive/warehouse"], "/FileStore": ["/FileStore/shared_uploads"]}
USER_FOLDERS = "/user"  # dbfs:/user/<name>: a user's folder joins their row
SKIPPED_TOP = {"/databricks-datasets", "/Volumes", "/Volume", "/volume", "/volumes"}
# Reserved places inside an area (MLflow assets): skipped areas of their own.
RESERVED = {"/databricks": ["/databricks/mlflow-tracking", "/databricks/mlflow-registry"]}


def trees(ws: Workspace) -> dict[str, Tree]:
    return {"dbfs": ws.dbfs, "workspace": ws.workspace}


def visible(tree, path, exclude=()):
    """(files, bytes) a client can list at or below path: forbidden folders excluded."""
    files, size, _ = tree.subtree_totals(path, exclude=[*exclude, *tree.forbidden_paths])
    return files, size


def user_folders(ws) -> list[str]:
    """The names of the folders of dbfs:/user that are users': a SCIM user's name, a
    home's, a service principal's application id, or any name with an @."""
    node = ws.dbfs.dirs.get(USER_FOLDERS)
    if node is None:
        return []
    known = {user.user_name for user in ws.users} | ws.home_names() \
        | {sp.application_id for sp in ws.service_principals}
    return [name for name in node.subdirs if "@" in name or name in known]


def expected_users(ws) -> dict[str, tuple[int, int]]:
    """Name -> (files, bytes) of every user row, in the order the tool writes them."""
    scim = [user.user_name for user in ws.users]
    known = {name.lower() for name in scim}
    homes = sorted(name for name in ws.home_names() if name.lower() not in known)
    owned: dict[str, list] = {}
    for fs, containers in OWNED.items():
        tree = trees(ws)[fs]
        for container in containers:
            for name in tree.dirs[container].subdirs:
                owned.setdefault(name, []).append((tree, f"{container}/{name}"))
    for name in user_folders(ws):
        owned.setdefault(name, []).append((ws.dbfs, f"{USER_FOLDERS}/{name}"))
    rows = {}
    extra = [name for name in owned if name not in set(scim) | set(homes)]
    for name in scim + sorted(homes + extra):
        truth = ws.truth(name)
        files = truth.dbfs_files + truth.workspace_files
        size = truth.dbfs_bytes + truth.workspace_bytes
        for tree, path in owned.get(name, ()):
            more = visible(tree, path)
            files, size = files + more[0], size + more[1]
        rows[name] = (files, size)
    return rows


def expected_areas(ws) -> dict[tuple[str, str], tuple[int, int, str]]:
    """(file system, path) -> (files, bytes, status) of every area row."""
    areas = {}
    for fs, tree in trees(ws).items():
        containers = OWNED[fs]
        for top in tree.top_level():
            node = tree.lookup(top)
            if isinstance(node, FileRef):
                areas[(fs, top)] = (*visible(tree, top), "success")
            elif top == "/Users" or top in containers:
                for child in sorted(tree.dirs[top].files.names if tree.dirs[top].files
                                    else ()):
                    areas[(fs, f"{top}/{child}")] = (*visible(tree, f"{top}/{child}"),
                                                     "success")
            elif fs == "dbfs" and top == "/mnt":
                for child in tree.dirs[top].subdirs:
                    areas[(fs, f"/mnt/{child}")] = (0, 0, "skipped")
            elif fs == "dbfs" and top in SKIPPED_TOP:
                areas[(fs, top)] = (0, 0, "skipped")
            else:
                inner = [path for path in NESTED.get(top, ()) if path in tree.dirs]
                inner += _users_in(ws, fs, top)
                reserved = _reserved(tree, fs, top)
                files, size = visible(tree, top, exclude=inner + reserved)
                areas[(fs, top)] = (files, size, "success" if files else "empty")
                for path in reserved:
                    areas[(fs, path)] = (0, 0, "skipped")
                for path in inner:
                    if path not in containers and path not in _users_in(ws, fs, top):
                        files, size = visible(tree, path)
                        areas[(fs, path)] = (files, size, "success" if files else "empty")
    return areas




def _users_in(ws: Workspace, fs: str, top: str) -> list[str]:
    """The users' folders of dbfs:/user, when `top` is it."""
    if fs != "dbfs" or top != USER_FOLDERS:
        return []
    return [f"{USER_FOLDERS}/{name}" for name in user_folders(ws)]


def _reserved(tree: Tree, fs: str, top: str) -> list[str]:
    return [path for path in RESERVED.get(top, ()) if fs == "dbfs" and path in tree.dirs]


def skipped_places(ws: Workspace) -> list[str]:
    """The DBFS places a client must never list inside."""
    mounts = ws.dbfs.dirs.get("/mnt")
    return [f"/mnt/{name}" for name in (mounts.subdirs if mounts else ())] + sorted(
        path for path in SKIPPED_TOP if path in ws.dbfs.dirs) + sorted(
        path for paths in RESERVED.values() for path in paths if path in ws.dbfs.dirs)


def whole_listings(ws: Workspace) -> dict[str, int]:
    """Listings a perfect client makes in each tree: every directory it can list, outside
    the skipped places, plus the few that name what is there (/mnt, the warehouse probe)."""
    skipped = skipped_places(ws)
    counts = {}
    for name, tree in trees(ws).items():
        blocked = tree.forbidden_paths
        counts[name] = sum(
            1 for path in tree.dirs
            if not any(path == place or path.startswith(place + "/") for place in skipped)
            and not any(path.startswith(f + "/") for f in blocked))
    # Discovery lists each nested area once to know it is there, before it is walked,
    # and dbfs:/user once to name the users' folders there.
    counts["dbfs"] += sum(1 for paths in NESTED.values() for path in paths
                          if path in ws.dbfs.dirs and path not in OWNED["dbfs"])
    counts["dbfs"] += USER_FOLDERS in ws.dbfs.dirs
    return counts


def scanned_roots(ws: Workspace, users: list[str] | None = None
                  ) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(owner, file system, root path, excluded paths) of every root a run walks: the
    homes of `users`, or with None everything --whole-workspace walks."""
    roots = []
    names = list(expected_users(ws)) if users is None else users
    for name in names:
        for fs, tree in trees(ws).items():
            roots.append((name, fs, f"/Users/{name}", ()))
            if users is None:
                roots += [(name, fs, f"{container}/{name}", ()) for container in OWNED[fs]
                          if container in tree.dirs
                          and name in tree.dirs[container].subdirs]
                if fs == "dbfs" and name in user_folders(ws):
                    roots.append((name, fs, f"{USER_FOLDERS}/{name}", ()))
    if users is None:
        for (fs, path), (_, _, status) in expected_areas(ws).items():
            if status != "skipped":
                inner = tuple(p for p in NESTED.get(path, ()) if p in trees(ws)[fs].dirs)
                inner += tuple(_users_in(ws, fs, path)) + tuple(_reserved(trees(ws)[fs], fs,
                                                                            path))
                roots.append((path, fs, path, inner))
    return roots


def expected_dirs(ws: Workspace, roots, depth: int) -> set[tuple]:
    """(owner, fs, root, path, depth, files, bytes, has error) of every directory at
    1..depth below each root, with what a client can list of it."""
    rows = set()
    for owner, fs, root, exclude in roots:
        tree = trees(ws)[fs]
        top = tree.dirs.get(root)
        if top is None or root in tree.forbidden_paths:
            continue
        stack = [(sub, 1) for sub in top.subdirs.values()]
        while stack:
            node, level = stack.pop()
            if node.path in exclude:
                continue
            files, size = visible(tree, node.path, exclude)
            error = any(f == node.path or f.startswith(node.path + "/")
                        for f in tree.forbidden_paths)
            rows.add((owner, fs, root, node.path, level, files, size, error))
            if level < depth and node.path not in tree.forbidden_paths:
                stack.extend((sub, level + 1) for sub in node.subdirs.values())
    return rows
