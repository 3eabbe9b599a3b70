"""What a walker hands the scanner: one directory's counts, made from API entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

# One listing entry as the API gave it: (path, is a container, size, modified).
Entry = tuple[Any, bool, Any, Any]


@dataclass
class DirListing:
    """What one directory holds directly."""

    files: int = 0
    bytes: int = 0
    newest_ms: int | None = None
    subdirs: list[str] = field(default_factory=list)

    def saw_time(self, value) -> None:
        if isinstance(value, (int, float)) and value > 0:
            stamp = int(value)
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
        listing.bytes += _size(size)
        listing.saw_time(mtime)
    return listing


def _size(value) -> int:
    """Bytes the API reported; anything else (absent, null, junk) counts as 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    return 0
