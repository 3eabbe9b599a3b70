"""The fake's DBFS as files: what a cluster's executors see at /dbfs (the DBFS FUSE
mount: every node of a classic cluster sees DBFS as a local file system there,
databricks-api.md "The platform as it is").

Files are sparse (the right size, no blocks), with the listed modification time, so a
tree of terabytes costs a few megabytes. Forbidden directories get mode 000, the way a
mount refuses a path; a process running as root reads them anyway.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .tree import DbfsTree, join


def write_dbfs_mount(tree: DbfsTree, root: str | Path) -> Path:
    """Write `tree` under `root` (emptied first); returns root."""
    base = Path(root)
    if base.exists():
        _writable(base)
        shutil.rmtree(base)
    base.mkdir(parents=True)
    forbidden = []
    for path, directory in sorted(tree.dirs.items()):
        local = base / path.lstrip("/") if path != "/" else base
        local.mkdir(parents=True, exist_ok=True)
        files = directory.files
        if files is not None:
            for index, name in enumerate(files.names):
                target = base / join(path, name).lstrip("/")
                with open(target, "wb") as handle:
                    handle.truncate(files.sizes[index])
                stamp = files.mtimes[index] * 1_000_000
                os.utime(target, ns=(stamp, stamp))
        if directory.forbidden:
            forbidden.append(local)
    for local in forbidden:
        local.chmod(0)
    return base


def _writable(base: Path) -> None:
    """Give back the rights a previous tree took, so it can be removed."""
    for current, dirs, _ in os.walk(base):
        for name in dirs:
            os.chmod(os.path.join(current, name), 0o755)
