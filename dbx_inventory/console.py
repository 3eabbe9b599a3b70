"""What both scripts print: banners, footers, human sizes and durations."""

from __future__ import annotations

import sys
from datetime import datetime

from .scrub import scrub

RULE = "=" * 80


def out(line: str = "") -> None:
    print(scrub(line), flush=True)


def now_text(when: datetime | None = None) -> str:
    return (when or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")


def banner(title: str, lines: list[str] = ()) -> None:
    out(RULE)
    out(title)
    out(RULE)
    for line in lines:
        out(line)


def footer(title: str, duration_s: float, lines: list[str] = ()) -> None:
    out()
    out(RULE)
    out(title)
    out(RULE)
    out(f"End time: {now_text()}")
    out(f"Duration: {format_duration(duration_s)}")
    for line in lines:
        out(line)
    out(RULE)


def fail(message: str) -> None:
    """One line on stderr saying what is wrong."""
    print(scrub(f"Error: {message}"), file=sys.stderr, flush=True)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def format_size(num_bytes: int) -> str:
    """Binary units, one decimal: 52.7 MB means 52.7 MiB."""
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PB"
