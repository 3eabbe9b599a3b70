"""Live console output while users finish: one block per user, a bar, the summary."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from typing import Sequence

from .console import RULE, format_size, out
from .results import EMPTY, ERROR, SUCCESS, UserResult

ICONS = {SUCCESS: "✓", EMPTY: "⊘", ERROR: "✗"}
SOURCE_TAGS = {"both": "BOTH", "dbfs": "DBFS", "workspace": "WORKSPACE",
               "none": "NONE", "unknown": "UNKNOWN"}


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def user_lines(number: int, total: int, row: UserResult, debug: bool) -> list[str]:
    """The console block for one finished user."""
    icon = ICONS.get(row.status, "?")
    if debug:
        tag = SOURCE_TAGS.get(row.file_source, row.file_source.upper())
        detail = (f"{row.file_count:,} files ({format_size(row.total_size)})"
                  if row.status != ERROR else f"error: {row.error}")
        return [f"  [{number}/{total}] {icon} [{row.worker}] [{tag}] {row.username}: "
                f"{detail} ({row.duration_s:.1f}s)",
                f"      ↳ start={_stamp(row.started_at)} end={_stamp(row.ended_at)}"]
    lines = [f"[{number}/{total}] {row.username}"]
    if row.status == SUCCESS:
        lines.append(f"  {icon} Files: {row.file_count:,}, Size: {format_size(row.total_size)}")
    elif row.status == EMPTY:
        lines.append(f"  {icon} Empty (no files)")
    else:
        lines.append(f"  {icon} Error: {row.error}")
    return lines


class Progress:
    """Prints each user as it finishes; a tqdm bar on stderr when it is a terminal."""

    def __init__(self, total: int, *, done_before: int = 0, debug: bool = False,
                 bar: bool | None = None):
        self.total = total
        self.number = done_before
        self.debug = debug
        self._bar = None
        if bar if bar is not None else sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done_before, unit="user",
                             file=sys.stderr, dynamic_ncols=True, leave=False)

    def report(self, row: UserResult) -> None:
        self.number += 1
        for line in user_lines(self.number, self.total, row, self.debug):
            if self._bar is not None:
                self._bar.write(line, file=sys.stdout)
            else:
                out(line)
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def print_summary(rows: Sequence[UserResult], notes: Sequence[str] = ()) -> None:
    """The SUMMARY block; `notes` are extra lines the caller adds at its end."""
    counts = Counter(row.status for row in rows)
    files = sum(row.file_count for row in rows)
    size = sum(row.total_size for row in rows)
    out()
    out(RULE)
    out("SUMMARY")
    out(RULE)
    out(f"Total users processed: {len(rows)}")
    out(f"  ✓ Successful (with files): {counts[SUCCESS]}")
    out(f"  ⊘ Empty directories: {counts[EMPTY]}")
    out(f"  ✗ Errors: {counts[ERROR]}")
    out()
    out(f"Total files across all users: {files:,}")
    out(f"Total size across all users: {format_size(size)} ({size:,} bytes)")
    for note in notes:
        out(note)
    out(RULE)


def print_distribution(rows: Sequence[UserResult]) -> None:
    """--debug, Spark mode: which executor process scanned how many users."""
    per_worker = Counter(row.worker for row in rows if row.worker)
    out()
    out(RULE)
    out("PARALLEL EXECUTION" + (" CONFIRMED" if len(per_worker) > 1 else ""))
    out(RULE)
    hosts = {worker.split("/")[0] for worker in per_worker}
    out(f"Work was spread over {len(per_worker)} executor process(es) "
        f"on {len(hosts)} host(s):")
    for worker, count in sorted(per_worker.items()):
        out(f"  • {worker}: processed {count} user(s)")
    out(RULE)
