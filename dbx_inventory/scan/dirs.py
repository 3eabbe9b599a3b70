"""--dirs-output: where the bytes are, as a breakdown by directory below each root.

Made from the listings the scan makes anyway: a listed directory's own files are added
to itself and to each of its ancestors down to depth N below the place it belongs to
(`chain`). Only directories at depth 1..N are kept, so memory follows the rows written,
not the directories walked.
"""

from __future__ import annotations

from dataclasses import dataclass
# One row as plain data (it travels in checkpoints and Spark rows):
# (file_system, root, path, depth, file_count, total_size, last_modified_ms, error)
DirRow = tuple


@dataclass
class DirCount:
    """The cumulative figures of one directory at depth 1..N."""

    depth: int
    files: int = 0
    bytes: int = 0
    newest_ms: int | None = None
    error: str = ""

    def add(self, files: int, num_bytes: int, newest_ms: int | None) -> None:
        self.files += files
        self.bytes += num_bytes
        if newest_ms is not None and (self.newest_ms is None or newest_ms > self.newest_ms):
            self.newest_ms = newest_ms


class Breakdown:
    """The directories of one root at depth 1..depth; the caller holds the root's lock."""

    def __init__(self, depth: int):
        self.depth = depth
        self._dirs: dict[tuple[str, str, str], DirCount] = {}

    def child_chain(self, file_system: str, root: str, chain: tuple, depth: int,
                    path: str) -> tuple:
        """The chain of a subdirectory at `depth` below its root: its own row joins it
        while it is within the depth asked for."""
        if depth > self.depth:
            return chain
        key = (file_system, root, path.rstrip("/"))
        self._dirs[key] = DirCount(depth)
        return chain + (key,)

    def listed(self, chain: tuple, files: int, num_bytes: int, newest_ms: int | None) -> None:
        for key in chain:
            self._dirs[key].add(files, num_bytes, newest_ms)

    def failed(self, chain: tuple, reason: str) -> None:
        """A listing at or below these directories failed: their figures are short."""
        for key in chain:
            row = self._dirs[key]
            row.error = row.error or reason

    def graft(self, file_system: str, root: str, depth: int, rows) -> None:
        """The rows of a subtree counted on its own (a root of its own at `depth` below
        `root`, its rows at 1..): its directories within the depth asked for join."""
        for _, _, path, below, files, size, newest, error in rows:
            if depth + below <= self.depth:
                self._dirs[(file_system, root, path.rstrip("/"))] = DirCount(
                    depth + below, files, size, newest, error)

    def gone(self, chain: tuple, depth: int) -> None:
        """A directory deleted while we walked: its own row goes."""
        if chain and depth <= self.depth:
            self._dirs.pop(chain[-1], None)

    def rows(self) -> tuple[DirRow, ...]:
        return tuple((fs, root, path, row.depth, row.files, row.bytes, row.newest_ms,
                      row.error)
                     for (fs, root, path), row in sorted(self._dirs.items()))


def checked(value) -> tuple[DirRow, ...] | None:
    """Rows read back from a checkpoint or a Spark row; None when the shape is wrong."""
    if not isinstance(value, (list, tuple)):
        return None
    rows = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 8:
            return None
        fs, root, path, depth, files, size, newest, error = item
        if not all(isinstance(x, str) for x in (fs, root, path, error)) \
                or not all(isinstance(x, int) and not isinstance(x, bool)
                           for x in (depth, files, size)) \
                or not (newest is None or isinstance(newest, int)):
            return None
        rows.append((fs, root, path, depth, files, size, newest, error))
    return tuple(rows)


def owner_of(name: str, kind: str) -> str:
    """The owner column: the user's name, or the area's path."""
    from dbx_inventory.scan.roots import USER, split_key

    return name if kind == USER else split_key(name)[1]

