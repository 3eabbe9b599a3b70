"""Write a file whole or not at all: temp file in the same folder, fsync, rename.

Only regular files are ever replaced: renaming over /dev/null or a pipe would turn it
into a file (as root, delete the device). A new file gets the mode the umask gives; an
existing one keeps its mode; callers that hold secrets pass their own (0600).
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO


class NotARegularFile(OSError):
    """The target exists and is a device, pipe, socket or directory."""


@contextmanager
def atomic_text_writer(path: str | os.PathLike, *, newline: str | None = "\n",
                       mode: int | None = None) -> Iterator[TextIO]:
    """Yield a text handle; the target appears only if the block finishes without error."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    existing = _existing_mode(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None
                 else existing if existing is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)


def check_writable(path: str | os.PathLike) -> None:
    """Raise OSError now if `path` could not be written later (before hours of work)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    _existing_mode(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write there ({exc.strerror})", str(target)) from None
    os.close(fd)
    os.unlink(tmp)


def _existing_mode(target: Path) -> int | None:
    """The permission bits of an existing regular file, None if there is none."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(21, "Is a directory", str(target))
    if not stat.S_ISREG(info.st_mode):
        raise NotARegularFile(0, "exists and is not a regular file (a device, pipe or "
                                 "socket); refusing to replace it", str(target))
    return stat.S_IMODE(info.st_mode)


def _umask() -> int:
    # The umask can only be read by setting it; it is put back at once.
    current = os.umask(0o022)
    os.umask(current)
    return current


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
