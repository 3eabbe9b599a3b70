"""What both scripts print: banners, footers, human sizes and durations.

Every line goes through one writer (`emit`): whole lines, under one lock, so lines from
scan threads (--debug) and the main thread never run into each other, and a live
progress bar is cleared before the lines and redrawn below them.
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime
from typing import Iterable

from dbx_inventory.humanize import format_duration, printable
from dbx_inventory.scrub import scrub

RULE = "=" * 80

_lock = threading.RLock()
_bar = None  # the live tqdm bar, if any: redrawn below every line written


def emit(lines: Iterable[str]) -> None:
    """Write whole lines to stdout, scrubbed, in one piece, the bar kept below them.

    A line is one line: a newline or control character in it is data (a user's or a
    folder's name) and is shown escaped."""
    text = "".join(printable(scrub(line)) + "\n" for line in lines)
    with _lock:
        if _bar is not None:
            _bar.clear()
        sys.stdout.write(text)
        sys.stdout.flush()
        if _bar is not None:
            _bar.refresh()


def out(line: str = "") -> None:
    emit([line])


def locked():
    """Hold the writer: for a bar update that must not cross a line being written."""
    return _lock


def attach_bar(bar) -> None:
    """Keep this bar (tqdm) below everything written from now on; None to drop it."""
    global _bar
    with _lock:
        _bar = bar


class ConsoleHandler(logging.Handler):
    """Logging through the one writer: a record is one whole line (or several)."""

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102 (logging API)
        try:
            text = self.format(record)
            # A traceback is several lines; a message is one, whatever names it holds.
            emit(text.splitlines() if record.exc_info else [text])
        except Exception:  # logging must never break the run
            self.handleError(record)



def now_text(when: datetime | None = None) -> str:
    return (when or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")


def banner(title: str, lines: Iterable[str] = ()) -> None:
    emit([RULE, title, RULE, *lines])


def footer(title: str, duration_s: float, lines: Iterable[str] = ()) -> None:
    emit(["", RULE, title, RULE, f"End time: {now_text()}",
          f"Duration: {format_duration(duration_s)}", *lines, RULE])


def fail(message: str) -> None:
    """One line on stderr saying what is wrong."""
    with _lock:
        if _bar is not None:
            _bar.clear()
        print(printable(scrub(f"Error: {message}")), file=sys.stderr, flush=True)

