"""Live console output while users finish: one block per user, a bar, the summary.

One layout for both modes, the seed's: without --debug a blank line, `[n/N] user` and
its result; with --debug two lines per user naming who scanned it (Executor-N, or
local), preceded for Spark rows by the executor's [WORKER COMPLETE] line.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from typing import Sequence

from dbx_inventory.cli.console import RULE, attach_bar, emit, locked

from dbx_inventory.humanize import format_size, plural
from dbx_inventory.scan.results import EMPTY, ERROR, SKIPPED, SUCCESS, UserResult, has_no_home
from dbx_inventory.scan.roots import AREA, USER
from dbx_inventory.cli.worker_names import WorkerNames

ICONS = {SUCCESS: "✓", EMPTY: "⊘", ERROR: "✗", SKIPPED: "↷"}
SOURCE_TAGS = {"both": "BOTH", "dbfs": "DBFS", "workspace": "WORKSPACE",
               "none": "NONE", "unknown": "UNKNOWN"}


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def user_lines(number: int, total: int, row: UserResult, debug: bool,
               names: WorkerNames | None = None) -> list[str]:
    """The console block for one finished user."""
    icon = ICONS.get(row.status, "?")
    if debug:
        names = names or WorkerNames()
        who = names.label(row.worker)
        tag = SOURCE_TAGS.get(row.file_source, row.file_source.upper())
        detail = (f"error: {row.error}" if row.status == ERROR else
                  f"skipped: {row.error}" if row.status == SKIPPED else
                  f"{row.file_count:,} files ({format_size(row.total_size)})")
        lines = [] if names.is_local(row.worker) else [
            # Times the executor measured, shown now that the client has them.
            f"[WORKER COMPLETE] {who} finished {row.username} - {_stamp(row.ended_at)} "
            f"(duration: {row.duration_s:.1f}s, files: {row.file_count}, "
            f"size: {row.total_size})"]
        return lines + [f"  [{number}/{total}] {icon} [{who}] [{tag}] {row.username}: "
                        f"{detail} ({row.duration_s:.1f}s)",
                        f"      ↳ start={_stamp(row.started_at)} end={_stamp(row.ended_at)}"]
    lines = ["", f"[{number}/{total}] {row.username}"]
    if row.status == SUCCESS:
        lines.append(f"  {icon} Files: {row.file_count:,}, Size: {format_size(row.total_size)}")
    elif row.status == EMPTY:
        lines.append(f"  {icon} Empty (no files)")
    elif row.status == SKIPPED:
        lines.append(f"  {icon} Skipped, not walked: {row.error}")
    else:
        lines.append(f"  {icon} Error: {row.error}")
    return lines


class Progress:
    """Prints each user as it finishes; a tqdm bar on stderr when it is a terminal."""

    def __init__(self, total: int, *, done_before: int = 0, debug: bool = False,
                 bar: bool | None = None, names: WorkerNames | None = None):
        self.total = total
        self.number = done_before
        self.debug = debug
        self.names = names or WorkerNames()
        self._bar = None
        if bar if bar is not None else sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done_before, unit="user",
                             file=sys.stderr, dynamic_ncols=True, leave=False)
            attach_bar(self._bar)

    def report(self, row: UserResult) -> None:
        with locked():  # the block and the bar's step as one, under the one writer
            self.number += 1
            emit(user_lines(self.number, self.total, row, self.debug, self.names))
            if self._bar is not None:
                self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            attach_bar(None)
            self._bar.close()
            self._bar = None


def print_summary(rows: Sequence[UserResult], where: Sequence[str] = (),
                  notes: Sequence[str] = ()) -> None:
    """The SUMMARY block; `where` says which users were scanned where, `notes` are extra
    lines the caller adds at its end."""
    counts = Counter(row.status for row in rows)
    files = sum(row.file_count for row in rows)
    size = sum(row.total_size for row in rows)
    emit(["", RULE, "SUMMARY", RULE,
          f"Total users processed: {len(rows)}",
          f"  ✓ Successful (with files): {counts[SUCCESS]}",
          f"  ⊘ Empty directories: {counts[EMPTY]}",
          f"  ✗ Errors: {counts[ERROR]}",
          *_no_home_line(rows),
          "",
          f"Total files across all users: {files:,}",
          f"Total size across all users: {format_size(size)} ({size:,} bytes)",
          *notes,
          *([""] + list(where) if where else []),
          RULE])


def _no_home_line(rows: Sequence[UserResult]) -> list[str]:
    """Users with no home anywhere apart: thousands who never signed in are no failures."""
    count = sum(1 for row in rows if has_no_home(row))
    if not count:
        return []
    return [f"    of which {plural(count, 'user')} {'has' if count == 1 else 'have'} no home "
            "folder (they may never have signed in)"]


def whole_lines(rows: Sequence[UserResult]) -> list[str]:
    """SUMMARY's split of a --whole-workspace run: users' places, areas, skipped, and
    the grand total (empty for a run without areas)."""
    areas = [row for row in rows if row.kind == AREA]
    if not areas:
        return []
    users = [row for row in rows if row.kind == USER]
    walked = [row for row in areas if row.status != SKIPPED]
    skipped = len(areas) - len(walked)

    def amount(part: Sequence[UserResult]) -> str:
        size = sum(row.total_size for row in part)
        return f"{sum(row.file_count for row in part):,} files, {format_size(size)}"
    size = sum(row.total_size for row in rows)
    errors = sum(1 for row in areas if row.status == ERROR)
    return ["", "Whole workspace (--whole-workspace):",
            f"  Users' places: {len(users)} users, {amount(users)}",
            f"  Areas: {len(walked)} areas, {amount(walked)}"
            + (f" ({errors} with errors)" if errors else ""),
            f"  Skipped (named, not walked): {skipped} places",
            f"  Grand total: {sum(row.file_count for row in rows):,} files, "
            f"{format_size(size)} ({size:,} bytes)"]
