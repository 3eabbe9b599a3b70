"""Write a file whole or not at all: temp file in the same folder, fsync, rename.

Only regular files are ever replaced: renaming over /dev/null or a pipe would turn it
into a file (as root, delete the device). A symlink is followed: its target is
replaced and the link stays a link (renaming over the link itself replaced it, and
through /dev/stdout the system's /dev/stdout). A new file gets the mode the umask gives; an
existing one keeps its mode; callers that hold secrets pass their own (0600).
"""

from __future__ import annotations

import errno
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
    target = _destination(path)
    folder = target.parent if str(target.parent) else Path(".")
    existing = _existing_mode(path)
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
    target = _destination(path)
    folder = target.parent if str(target.parent) else Path(".")
    _existing_mode(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write there ({exc.strerror})", str(path)) from None
    os.close(fd)
    os.unlink(tmp)


def _destination(path: str | os.PathLike) -> Path:
    """The file a name leads to: symlinks followed, `..` resolved."""
    real = Path(os.path.realpath(path))
    if real.is_symlink():  # realpath stops inside a loop of links
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
    return real


def _existing_mode(shown: str | os.PathLike) -> int | None:
    """The permission bits of the existing regular file a name leads to, None if there
    is none (errors name the file as the user gave it)."""
    try:
        info = os.stat(shown)  # through the name given: /dev/stdout leads to a pipe's fd
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(shown))
    if not stat.S_ISREG(info.st_mode):
        raise NotARegularFile(0, "exists and is not a regular file (a device, pipe or "
                                 "socket); refusing to replace it", str(shown))
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
