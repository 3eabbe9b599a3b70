"""What a walker hands the scanner: one directory's counts, made from API entries."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

# One listing entry as the API gave it: (path, is a container, size, modified).
Entry = tuple[Any, bool, Any, Any]
# 9999-12-31T23:59:59.999Z: the last instant a date can be written for. A time past it
# is not epoch ms (a server sending ns or us) and must not stop the run's outputs.
LATEST_MS = 253_402_300_799_999


@dataclass
class DirListing:
    """What one directory holds directly."""

    files: int = 0
    bytes: int = 0
    newest_ms: int | None = None
    subdirs: list[str] = field(default_factory=list)
    odd_sizes: int = 0   # entries whose size was no byte count: counted as 0 bytes
    odd_times: int = 0   # modification times out of range: ignored for dates

    def saw_time(self, value) -> None:
        stamp = _number(value)
        if stamp is None or stamp <= 0:
            if value is not None and value != 0:
                self.odd_times += 1
            return
        if stamp > LATEST_MS:
            self.odd_times += 1
            return
        if self.newest_ms is None or stamp > self.newest_ms:
            self.newest_ms = stamp


def tally(path: str, entries: Iterable[Entry]) -> DirListing:
    """Count (path, is_container, size, mtime) entries; an empty directory has none ({})."""
    listing = DirListing()
    own = path.rstrip("/")
    for child, is_container, size, mtime in entries:
        if is_container:
            # A server that lists a directory inside itself must not loop us.
            if child and child.rstrip("/") != own:
                listing.subdirs.append(child)
            continue
        listing.files += 1
        if size is not None:  # absent: a notebook, which has no size
            counted = _number(size)
            if counted is None or counted < 0:
                listing.odd_sizes += 1
            else:
                listing.bytes += counted
        listing.saw_time(mtime)
    return listing


def _number(value) -> int | None:
    """A whole number the API meant: an int, a finite float, or a numeric string (JSON
    encoders of int64 fields, protobuf's among them, write them as strings); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None
