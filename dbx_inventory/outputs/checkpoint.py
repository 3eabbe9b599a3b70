"""Crash-safe progress: an append-only journal of finished users, one JSON line each.

Line 1 ties the journal to its run (workspace host, user list, and the scope: what
changes a row, such as the file systems scanned). Each finished user is appended and
fsynced before it is reported, so a kill loses at most the users in flight. A torn last
line (killed mid-write) is ignored and cut off before appending. A `complete` line
marks a finished run. No secret is ever written here: error text is scrubbed.

One run at a time: a run holds an exclusive lock (PATH.lock, naming its process) for
as long as it may write the journal. A journal is never destroyed: one set aside gets
a name of its own.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from dbx_inventory.outputs.atomic import atomic_text_writer
from dbx_inventory.errors import CheckpointBusy, ConfigError, JournalWriteError
from dbx_inventory.scan.results import ERROR, FINAL, RESULT_FIELDS, STATUSES, TRANSIENT, UserResult
from dbx_inventory.scan.dirs import checked
from dbx_inventory.scan.filesystems import WALKERS
from dbx_inventory.scan.roots import KINDS, Root
from dbx_inventory.scrub import scrub

VERSION = 1
DEFAULT_PATH = ".checkpoint_progress.json"


@dataclass
class Journal:
    """What a checkpoint file holds."""

    host: str
    users: list[str]
    results: dict[str, UserResult] = field(default_factory=dict)  # latest per user
    complete: bool = False
    scope: dict[str, Any] = field(default_factory=dict)  # what changes a row
    meta: dict = field(default_factory=dict)  # run facts kept across resumes (run id, ...)

    def done(self) -> dict[str, UserResult]:
        """Users that need no new scan.

        Error rows are scanned again, except, after a finished run, those whose cause
        was final (403, no home): a transient error is never an answer about a user.
        """
        return {name: row for name, row in self.results.items()
                if row.status != ERROR or (self.complete and not row.transient)}


def read_journal(path: str | os.PathLike) -> Journal | None:
    """The journal at path, or None if there is none. Unreadable → ConfigError."""
    target = Path(path)
    if not target.exists():
        return None
    try:
        raw = target.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read checkpoint {target}: {exc.strerror}") from None
    lines = [line for line in raw.split(b"\n") if line.strip()]
    # The last line may be torn by a kill mid-append: unreadable there, it is dropped.
    if lines and _parse_last(lines[-1]) is None:
        lines.pop()
    records = [_parse(line, target, number) for number, line in enumerate(lines, 1)]
    if not records:
        return None  # killed before the header reached the disk: nothing was saved
    if records[0].get("kind") != "header" \
            or records[0].get("version") != VERSION:
        raise ConfigError(f"{target} is not a checkpoint of this tool (or of another "
                          "version); delete it or pass another --checkpoint")
    header = records[0]
    host, users, scope = header.get("host"), header.get("users"), header.get("scope", {})
    meta = header.get("meta") or {}
    if not isinstance(host, str) or not isinstance(scope, dict) or not isinstance(meta, dict) \
            or not isinstance(users, list) or not all(isinstance(u, str) for u in users) \
            or not _meta_ok(meta):
        raise _damaged(target, 1)
    journal = Journal(host=host, users=list(users), scope=scope, meta=dict(meta))
    for number, record in enumerate(records[1:], 2):
        kind = record.get("kind")
        if kind == "result":
            row = _result(record.get("result"))
            if row is None:
                raise _damaged(target, number)
            # The breakdown stays on disk (JournalBreakdowns): rows are kept without it.
            journal.results[row.username] = dataclasses.replace(row, dirs=()) \
                if row.dirs else row
            journal.complete = False  # scanned after a finish: a new run is under way
        elif kind == "complete":
            journal.complete = True
        else:
            raise _damaged(target, number)
    return journal


# The type each stored field must have; the first six are required.
_REQUIRED = ("username", "status", "file_count", "total_size", "file_source", "error")
_INT, _NUM, _STR = (int,), (int, float), (str,)
_TYPES: dict[str, tuple] = {
    "username": _STR, "status": _STR, "file_count": _INT, "total_size": _INT,
    "file_source": _STR, "error": _STR, "dbfs_files": _INT, "dbfs_bytes": _INT,
    "workspace_files": _INT, "workspace_bytes": _INT, "last_modified_ms": (int, type(None)),
    "started_at": _NUM, "ended_at": _NUM, "worker": _STR, "listings": _INT,
    "error_kind": _STR, "user_status": _STR, "kind": _STR, "dirs": (list,), "owner": _STR,
}
assert set(_TYPES) == set(RESULT_FIELDS), "every stored field has a checked type"


def _meta_ok(meta: dict) -> bool:
    """The run facts a resume relies on have their shapes; every recorded root is one
    this tool can walk (a root naming an unknown file system would never finish)."""
    roots = meta.get("roots") or {}
    if not isinstance(roots, dict):
        return False
    for key, data in roots.items():
        try:
            root = Root.from_dict(data)
        except ValueError:
            return False
        if root.name != key or not all(place.file_system in WALKERS
                                       and place.path.startswith("/")
                                       for place in root.places):
            return False
    return all(_str_map(meta.get(name) or {}) for name in ("statuses", "incomplete"))


def _str_map(value) -> bool:
    return isinstance(value, dict) and all(isinstance(key, str) and isinstance(item, str)
                                           for key, item in value.items())


def _result(data) -> UserResult | None:
    """A stored row, or None when its shape is wrong (checked now, not mid-scan)."""
    if not isinstance(data, dict) or any(key not in data for key in _REQUIRED):
        return None
    for key, value in data.items():
        kinds = _TYPES.get(key)
        if kinds is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            return None
    if not data["username"] or data["status"] not in STATUSES \
            or data.get("error_kind", "") not in ("", TRANSIENT, FINAL) \
            or data.get("kind", KINDS[0]) not in KINDS:
        return None
    rows = checked(data.get("dirs", []))
    if rows is None:
        return None
    return UserResult.from_dict({**data, "dirs": rows})


def _damaged(target: Path, number: int) -> ConfigError:
    return ConfigError(f"checkpoint {target} is damaged at line {number}; "
                       "delete it to start fresh")


def _parse(line: bytes, target: Path, number: int) -> dict:
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise _damaged(target, number)
    return record


def _parse_last(line: bytes) -> dict | None:
    """The last line as a record, or None if it is torn."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def check_resumable(journal: Journal, path, host: str, users: Sequence[str],
                    scope: Mapping[str, Any] | None = None) -> None:
    """Refuse a journal from another workspace, scope, or a list that lost users.

    The same users in any order, or a list that only grew, resume (new users are
    scanned). Host names are compared without regard to letter case, as DNS does.
    """
    if journal.host.lower() != host.lower():
        raise ConfigError(f"checkpoint {path} belongs to a run on {journal.host}, not "
                          f"{host}; delete it or pass another --checkpoint")
    wanted = dict(scope or {})
    if journal.scope != wanted:
        raise ConfigError(f"checkpoint {path} was made with {_describe(journal.scope)}, "
                          f"this run asks for {_describe(wanted)}; resume with the same "
                          "options, or pass another --checkpoint")
    if not set(journal.users) <= set(users):
        missing = len(set(journal.users) - set(users))
        raise ConfigError(f"checkpoint {path} was made for another user list ({missing} of "
                          f"its users are not in this one); delete it or pass another "
                          "--checkpoint")


def _describe(scope: Mapping[str, Any]) -> str:
    if not scope:
        return "no recorded scope (an older checkpoint)"
    return ", ".join(f"{key}={_value(value)}" for key, value in sorted(scope.items()))


def _value(value) -> str:
    return "+".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


class CheckpointWriter:
    """Appends to a journal; every record is on disk before record() returns."""

    def __init__(self, path: str | os.PathLike, *, host: str, users: Sequence[str],
                 append: bool = False, grown: bool = False,
                 scope: Mapping[str, Any] | None = None, meta: dict | None = None):
        """A new journal, or (append=True) the existing one; grown rewrites its list.

        `scope` (what changes a row) is compared on resume; `meta` is kept in the header
        for the run's later resumes (no secrets in either).
        """
        self.path = Path(path)
        self.recorded = 0  # results this writer made durable
        header = _header_line(host, users, dict(scope or {}), meta)
        if append:
            _cut_torn_tail(self.path)
            if grown:
                _replace_header(self.path, header)
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        else:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._append(header)
        os.chmod(self.path, 0o600)

    def record(self, result: UserResult) -> None:
        """Make one finished user durable; JournalWriteError if it is not whole on disk."""
        data = result.to_dict()
        data["error"] = scrub(data["error"])  # server text may echo a credential
        self._append(_line({"kind": "result", "result": data}))
        self.recorded += 1

    def mark_complete(self) -> None:
        self._append(_line({"kind": "complete", "at": time.time()}))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "CheckpointWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _append(self, line: str) -> None:
        # os.write may write part of the line (disk full, quota): finish it or say so.
        view = memoryview(line.encode("utf-8"))
        fd = self._fd
        if fd is None:
            raise JournalWriteError(str(self.path), "the journal is already closed")
        try:
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            raise JournalWriteError(str(self.path), exc.strerror or str(exc)) from None


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _header_line(host: str, users: Sequence[str], scope: dict,
                 meta: dict | None = None) -> str:
    record = {"kind": "header", "version": VERSION, "host": host, "users": list(users),
              "scope": scope, "created": time.time()}
    if meta:
        record["meta"] = meta
    return _line(record)


def _cut_torn_tail(path: Path) -> None:
    """Same rule as read_journal: a torn last line is cut; a whole one ends in a newline."""
    with open(path, "rb+") as handle:
        data = handle.read()
        body = data.rstrip(b"\n")
        start = body.rfind(b"\n") + 1
        last = body[start:]
        if last.strip() and _parse_last(last) is None:
            handle.truncate(start)
        elif data and not data.endswith(b"\n"):
            handle.write(b"\n")
        else:
            return
        handle.flush()
        os.fsync(handle.fileno())


def _replace_header(path: Path, header_line: str) -> None:
    """Swap line 1 atomically (rare: only when a resume grows the user list)."""
    with open(path, encoding="utf-8") as handle:
        handle.readline()
        rest = handle.read()
    with atomic_text_writer(path, newline="", mode=0o600) as out:
        out.write(header_line)
        out.write(rest)


def set_aside(path: str | os.PathLike) -> str:
    """Move a journal to a name of its own (PATH.prev-STAMP[-N]); never over another one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for number in range(1, 1000):
        aside = f"{path}.prev-{stamp}" + (f"-{number}" if number > 1 else "")
        try:
            os.link(path, aside)  # fails if the name is taken: nothing is overwritten
        except FileExistsError:
            continue
        os.unlink(path)
        return aside
    raise ConfigError(f"too many set-aside journals next to {path}; remove old ones")


class CheckpointLock:
    """An exclusive lock on a checkpoint (PATH.lock, holding the owner's pid)."""

    def __init__(self, path: str | os.PathLike):
        self.checkpoint = str(path)
        self.path = Path(f"{path}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise CheckpointBusy naming the process that holds it."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise CheckpointBusy(f"checkpoint {self.checkpoint} is in use by process "
                                     f"{holder}; wait for that run to end or pass another "
                                     "--checkpoint") from None
            # A lock file removed by its last owner between our open and flock is stale.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "CheckpointLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class JournalBreakdowns:
    """The directory breakdown of each row, read back from the journal when an output
    needs it: the run keeps its rows without it, so memory follows the rows, not the
    directories (see dirs.py). One pass finds each row's latest line; each row's
    breakdown is then read from its line, in the order asked for."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._offsets: dict[str, int] | None = None

    def _index(self) -> dict[str, int]:
        if self._offsets is None:
            offsets: dict[str, int] = {}
            position = 0
            with open(self.path, "rb") as handle:
                for line in handle:
                    if line.startswith(b'{"kind":"result"'):
                        record = _parse_last(line)
                        result = (record or {}).get("result")
                        if isinstance(result, dict) and isinstance(result.get("username"),
                                                                   str):
                            offsets[result["username"]] = position
                    position += len(line)
            self._offsets = offsets
        return self._offsets

    def of(self, name: str) -> tuple:
        """The breakdown recorded for one row (none when it has no line)."""
        offset = self._index().get(name)
        if offset is None:
            return ()
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            record = _parse_last(handle.readline()) or {}
        return checked((record.get("result") or {}).get("dirs", [])) or ()

    def attach(self, rows: Sequence[UserResult]) -> list[UserResult]:
        """The rows with their breakdowns, for outputs that need them all at once."""
        return [dataclasses.replace(row, dirs=self.of(row.username)) for row in rows]
