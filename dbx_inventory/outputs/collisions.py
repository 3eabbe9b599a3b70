"""One check that no output of a run destroys another file the run needs.

Every output is replaced whole at the end (atomic.py), so two outputs naming the same
file leave only the last one, and an output naming the checkpoint replaces the journal
(every scanned row lost). "The same file" is decided by where a name leads, not how it
is spelled: `..`, symlinks (followed as atomic.py follows them) and hard links (the
same inode under two names) all count. The console's own stdout and stderr are files
this run uses too: `--dirs-output /dev/stdout` with stdout sent to a file would replace
that file under the running console.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Sequence

from dbx_inventory.errors import ConfigError


def check_outputs(outputs: Sequence[tuple[str, str]], checkpoint: str | None) -> None:
    """Refuse (ConfigError, exit 2) an output that is a directory, the checkpoint, its
    lock, the console, or the same file as an earlier output. `outputs` is (flag, path)
    in the order the run writes them; a tool without a checkpoint passes None."""
    # (flag, path, identity) of each file already claimed; the journal and its lock first
    kept = [("--checkpoint", checkpoint, _identity(path))
            for path in ((checkpoint, f"{checkpoint}.lock") if checkpoint else ())]
    for name, stream in (("standard output", sys.stdout), ("standard error", sys.stderr)):
        console = _console(stream)
        if console is not None:
            kept.append((name, "", console))
    for flag, path in outputs:
        if not path:
            raise ConfigError(f"{flag} is empty: name a file")
        if os.path.isdir(path):
            raise ConfigError(f"{flag} {path} is a directory: name a file")
        mine = _identity(path)
        for other_flag, other_path, other in kept:
            if not _same(mine, other):
                continue
            if other_flag == "--checkpoint":
                raise ConfigError(f"{flag} {path} is the checkpoint ({other_flag} "
                                  f"{other_path}): writing it would destroy the run's "
                                  "journal; give the output a file of its own")
            if not other_path:
                raise ConfigError(f"{flag} {path} is this run's {other_flag}: name a file")
            raise ConfigError(f"{flag} {path} is the same file as {other_flag} "
                              f"{other_path}: give each output a file of its own")
        kept.append((flag, path, mine))


def _identity(path: str) -> tuple:
    """(where the name leads, (device, inode) if it exists)."""
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError:
        return (real, None)
    return (real, (info.st_dev, info.st_ino))


def _console(stream) -> tuple | None:
    """The identity of a console stream when it is a regular file (a redirect)."""
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None  # a terminal or a pipe: atomic.py refuses to replace those anyway
    return ("", (info.st_dev, info.st_ino))


def _same(one: tuple, other: tuple) -> bool:
    return (bool(one[0]) and one[0] == other[0]) or (one[1] is not None and one[1] == other[1])
