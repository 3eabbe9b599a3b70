"""Crash-safe progress: an append-only journal of finished users, one JSON line each.

Line 1 ties the journal to its run (workspace host and user list). Each finished user
is appended and fsynced before it is reported, so a kill loses at most the users in
flight. A torn last line (killed mid-write) is ignored and cut off before appending.
A final `complete` line marks a finished run. No token is ever written here.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .atomic import atomic_text_writer
from .errors import ConfigError
from .results import ERROR, UserResult

VERSION = 1
DEFAULT_PATH = ".checkpoint_progress.json"


@dataclass
class Journal:
    """What a checkpoint file holds."""

    host: str
    users: list[str]
    results: dict[str, UserResult] = field(default_factory=dict)  # latest per user
    complete: bool = False
    meta: dict = field(default_factory=dict)  # run facts kept across resumes (run id, ...)

    def done(self) -> dict[str, UserResult]:
        """Users that need no new scan: everything but error rows."""
        return {name: row for name, row in self.results.items() if row.status != ERROR}


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
    journal = Journal(host=header.get("host", ""), users=list(header.get("users", [])),
                      meta=dict(header.get("meta") or {}))
    for number, record in enumerate(records[1:], 2):
        if record.get("kind") == "result":
            try:
                row = UserResult.from_dict(record["result"])
            except (KeyError, TypeError):
                raise ConfigError(f"checkpoint {target} is damaged at line {number}; "
                                  "delete it to start fresh") from None
            journal.results[row.username] = row
        elif record.get("kind") == "complete":
            journal.complete = True
    return journal


def _parse(line: bytes, target: Path, number: int) -> dict:
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise ConfigError(f"checkpoint {target} is damaged at line {number}; "
                          "delete it to start fresh")
    return record


def _parse_last(line: bytes) -> dict | None:
    """The last line as a record, or None if it is torn."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def check_resumable(journal: Journal, path, host: str, users: Sequence[str]) -> None:
    """Refuse a journal from another workspace or another user list (growth is fine)."""
    if journal.host != host:
        raise ConfigError(f"checkpoint {path} belongs to a run on {journal.host}, not "
                          f"{host}; delete it or pass another --checkpoint")
    if not set(journal.users) <= set(users):
        missing = len(set(journal.users) - set(users))
        raise ConfigError(f"checkpoint {path} was made for another user list ({missing} of "
                          f"its users are not in this one); delete it or pass another "
                          "--checkpoint")


class CheckpointWriter:
    """Appends to a journal; every record is on disk before record() returns."""

    def __init__(self, path: str | os.PathLike, *, host: str, users: Sequence[str],
                 append: bool = False, grown: bool = False, meta: dict | None = None):
        """A new journal, or (append=True) the existing one; grown rewrites its list.

        `meta` is kept in the header for the run's later resumes (no secrets in it).
        """
        self.path = Path(path)
        self.recorded = 0  # results this writer made durable
        header = _header_line(host, users, meta)
        if append:
            _cut_torn_tail(self.path)
            if grown:
                _replace_header(self.path, header)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        else:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._append(header)
        os.chmod(self.path, 0o600)

    def record(self, result: UserResult) -> None:
        self._append(_line({"kind": "result", "result": result.to_dict()}))
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
        os.write(self._fd, line.encode("utf-8"))
        os.fsync(self._fd)


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _header_line(host: str, users: Sequence[str], meta: dict | None = None) -> str:
    record = {"kind": "header", "version": VERSION, "host": host, "users": list(users),
              "created": time.time()}
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
