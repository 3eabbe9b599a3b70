"""What a perfect --whole-workspace client reports of Unity Catalog volumes.

By the rules the tool promises: every volume it can discover (catalogs and schemas the
token cannot read hide theirs) is an area `volumes:/Volumes/<c>/<s>/<v>` with its
owner; an EXTERNAL volume is skipped and never listed unless --include-external; a
volume the Files API refuses is an error. When volumes are scanned, the DBFS aliases of
/Volumes are no DBFS areas. Shared by the tests and the benchmark, beside truth.py.
"""

from __future__ import annotations

from . import truth
from .model import Workspace
from .unity import EXTERNAL, Volume

VOLUME_ALIASES = ("/Volume", "/Volumes", "/volume", "/volumes")


def discoverable(ws: Workspace) -> list[Volume]:
    """The volumes a client can find: not in a catalog or schema it cannot read."""
    uc = ws.unity
    if uc is None:
        return []
    return [v for c in uc.catalogs if not c.forbidden for s in c.schemas
            if not s.forbidden for v in s.volumes]


def walked(volume: Volume, include_external: bool) -> bool:
    return include_external or volume.volume_type != EXTERNAL


def expected_volumes(ws: Workspace, include_external: bool = False
                     ) -> dict[tuple[str, str], tuple[int, int, str, str]]:
    """(file system, path) -> (files, bytes, status, owner) of every volume area."""
    out = {}
    for volume in discoverable(ws):
        assert ws.unity is not None
        tree = ws.unity.files
        if not walked(volume, include_external):
            out[("volumes", volume.path)] = (0, 0, "skipped", volume.owner)
        elif volume.path in tree.forbidden_paths:
            out[("volumes", volume.path)] = (0, 0, "error", volume.owner)
        else:
            files, size = truth.visible(tree, volume.path)
            out[("volumes", volume.path)] = (files, size, "success" if files else "empty",
                                             volume.owner)
    return out


def expected_areas(ws: Workspace, include_external: bool = False
                   ) -> dict[tuple[str, str], tuple[int, int, str, str]]:
    """Every area row of a run that scans volumes: (files, bytes, status, owner). With
    a metastore, the DBFS aliases of /Volumes are left out (they are the same volumes)."""
    areas = {key: (*value, "") for key, value in truth.expected_areas(ws).items()}
    if include_external:  # --include-external walks mount points too
        for (fs, path), value in list(areas.items()):
            if fs == "dbfs" and path.startswith("/mnt/") and value[2] == "skipped":
                files, size = truth.visible(ws.dbfs, path)
                areas[(fs, path)] = (files, size, "success" if files else "empty", "")
    if ws.unity is not None:
        for alias in VOLUME_ALIASES:
            areas.pop(("dbfs", alias), None)
    areas.update(expected_volumes(ws, include_external))
    return areas


def volume_listings(ws: Workspace, include_external: bool = False) -> int:
    """Directories a perfect client lists successfully in the volumes it walks (each
    once, however many pages it takes; a refused volume lists nothing)."""
    if ws.unity is None:
        return 0
    tree = ws.unity.files
    count = 0
    for volume in discoverable(ws):
        if not walked(volume, include_external):
            continue
        count += sum(1 for path in tree.dirs
                     if (path == volume.path or path.startswith(volume.path + "/"))
                     and path not in tree.forbidden_paths and not tree.blocked(path))
    return count


def volume_roots(ws: Workspace, include_external: bool = False
                 ) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(owner, file system, root, excluded) of every volume a run walks, in the shape of
    truth.scanned_roots (an area owns its own directories)."""
    return [(v.path, "volumes", v.path, ()) for v in discoverable(ws)
            if walked(v, include_external)]


def expected_volume_dirs(ws: Workspace, depth: int, include_external: bool = False
                         ) -> set[tuple]:
    """The --dirs-output rows below volumes, as truth.expected_dirs gives them."""
    assert ws.unity is not None
    rows = set()
    tree = ws.unity.files
    for owner, fs, root, _ in volume_roots(ws, include_external):
        top = tree.dirs.get(root)
        if top is None or root in tree.forbidden_paths:
            continue
        stack = [(sub, 1) for sub in top.subdirs.values()]
        while stack:
            node, level = stack.pop()
            files, size = truth.visible(tree, node.path)
            rows.add((owner, fs, root, node.path, level, files, size, False))
            if level < depth:
                stack.extend((sub, level + 1) for sub in node.subdirs.values())
    return rows


def _pages(n_dirs: int, n_files: int, page: int) -> int:
    """Files API requests for one directory, page by page as unity_api.files_list cuts
    them (directories and files never share a page)."""
    total, start, count = n_dirs + n_files, 0, 0
    while True:
        end = start + page
        if start < n_dirs < end:
            end = n_dirs
        count += 1
        if end >= total:
            return count
        start = end


def volume_requests(ws: Workspace, include_external: bool = False) -> int:
    """Files API requests a perfect client makes: every page of every directory it lists
    (a refused volume: its one request)."""
    if ws.unity is None:
        return 0
    tree, page = ws.unity.files, min(ws.unity.files_page, 1000)
    count = 0
    for volume in discoverable(ws):
        if not walked(volume, include_external):
            continue
        if volume.path in tree.forbidden_paths:
            count += 1
            continue
        for path, d in tree.dirs.items():
            if path == volume.path or path.startswith(volume.path + "/"):
                count += _pages(len(d.subdirs), len(d.files or ()), page)
    return count


def whole_requests(ws: Workspace) -> dict[str, int]:
    """Listing requests per file system of a --whole-workspace run: truth.whole_listings,
    and the volumes' Files API pages."""
    counts = truth.whole_listings(ws)
    if ws.unity is not None:
        counts["volumes"] = volume_requests(ws)
    return counts
