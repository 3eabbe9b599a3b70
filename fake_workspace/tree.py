"""The fake workspace's two file trees (DBFS and the Workspace) and their paths.

Directories are indexed by absolute path in one dict per tree, so every request is a few
dict lookups. Files are stored column-wise per directory (a list of names plus compact
arrays) so a million of them fit in a few hundred MB.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from collections.abc import Iterable, Iterator, Set

DEFAULT_MTIME_MS = 1_700_000_000_000

DIRECTORY = "DIRECTORY"
REPO = "REPO"
NOTEBOOK = "NOTEBOOK"
FILE = "FILE"
LIBRARY = "LIBRARY"
DASHBOARD = "DASHBOARD"
CONTAINER_TYPES = frozenset({DIRECTORY, REPO})
# Object types whose listing entry carries modified_at (and so feed newest_mtime_ms).
TIMED_TYPES = frozenset({NOTEBOOK, FILE})
LANGUAGES = ("", "PYTHON", "SQL", "SCALA", "R")

DBFS_DIR = "DBFS_DIR"


class PathError(ValueError):
    """A path the fake refuses as malformed (not absolute, '.' or '..' segments)."""


def normalize(path: str) -> str:
    """Absolute path without a trailing slash or empty segments; raises PathError."""
    if not path.startswith("/"):
        raise PathError(f"Path {path!r} is not absolute")
    if "//" not in path and (len(path) == 1 or not path.endswith("/")) and "/." not in path:
        return path
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise PathError(f"Path {path!r} has relative segments")
    return "/" + "/".join(parts)


def split(path: str) -> tuple[str, str]:
    """(parent, name) of a normalized path; the root's parent is ''."""
    if path == "/":
        return "", ""
    i = path.rfind("/")
    return (path[:i] or "/"), path[i + 1:]


def join(parent: str, name: str) -> str:
    return parent + name if parent == "/" else parent + "/" + name


class Files:
    """The non-directory entries of one directory, stored column-wise."""

    __slots__ = ("names", "kinds", "langs", "sizes", "mtimes", "created", "ids", "index")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.kinds = bytearray()
        self.langs = bytearray()
        self.sizes = array("q")
        self.mtimes = array("q")
        self.created = array("q")
        self.ids = array("q")
        self.index: dict[str, int] | None = None  # built on first lookup by name

    def find(self, name: str) -> int | None:
        if self.index is None:
            self.index = {n: i for i, n in enumerate(self.names)}
        return self.index.get(name)

    def __len__(self) -> int:
        return len(self.names)


class Dir:
    """A directory (DBFS dir, Workspace DIRECTORY or REPO)."""

    __slots__ = ("path", "kind", "parent", "object_id", "forbidden", "subdirs", "files")

    def __init__(self, path: str, kind: str, parent: Dir | None, object_id: int) -> None:
        self.path = path
        self.kind = kind
        self.parent = parent
        self.object_id = object_id
        self.forbidden = False
        self.subdirs: dict[str, Dir] = {}
        self.files: Files | None = None

    def entry_count(self) -> int:
        return len(self.subdirs) + (len(self.files) if self.files is not None else 0)


@dataclass(frozen=True)
class FileRef:
    """One non-directory entry found by path: its directory and column index."""

    dir: Dir
    index: int

    @property
    def path(self) -> str:
        return join(self.dir.path, self.dir.files.names[self.index])


class Tree:
    """A file system tree indexed by directory path. Parents are created implicitly."""

    dir_kind = DIRECTORY

    def __init__(self) -> None:
        self._next_id = 1_000_000_000_000
        self.root = Dir("/", self.dir_kind, None, self._new_id())
        self.dirs: dict[str, Dir] = {"/": self.root}
        self.kind_table: list[str] = [FILE]
        self._kind_codes: dict[str, int] = {FILE: 0}
        self.forbidden_paths: set[str] = set()
        self.bad_paths: set[str] = set()
        # Places the DBFS REST API refuses, at and below them: path -> (message,
        # whether get-status of the place itself still answers).
        self.refused: dict[str, tuple[str, bool]] = {}

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def kind_code(self, kind: str) -> int:
        code = self._kind_codes.get(kind)
        if code is None:
            code = len(self.kind_table)
            if code > 255:
                raise ValueError("too many distinct object types")
            self.kind_table.append(kind)
            self._kind_codes[kind] = code
        return code

    # -- building ---------------------------------------------------------------------

    def mkdir(self, path: str) -> Dir:
        """Create a directory and its missing parents; return it."""
        return self._ensure_dir(normalize(path))

    def forbid(self, path: str) -> Dir:
        """Mark a directory (created if missing) so listing it answers 403."""
        d = self.mkdir(path)
        d.forbidden = True
        self.forbidden_paths.add(d.path)
        return d

    def refuse(self, path: str, message: str, *, status_ok: bool = False) -> Dir:
        """A place (created if missing) whose listing, and anything below it, answers
        400 with `message`; get-status of the place itself too unless status_ok."""
        d = self.mkdir(path)
        self.refused[d.path] = (message, status_ok)
        return d

    def refusal(self, path: str, listing: bool) -> str | None:
        """The message a request at path is refused with, if it is."""
        if not self.refused:
            return None
        for place, (message, status_ok) in self.refused.items():
            if path == place and (listing or not status_ok) \
                    or path.startswith(place.rstrip("/") + "/"):
                return message
        return None

    def mark_bad_path(self, path: str) -> None:
        """Listing or get-status of exactly this path answers 400 Invalid request path."""
        self.bad_paths.add(normalize(path))

    def _ensure_dir(self, path: str, kind: str | None = None) -> Dir:
        d = self.dirs.get(path)
        if d is not None:
            return d
        parent_path, name = split(path)
        parent = self._ensure_dir(parent_path)
        if parent.files is not None and parent.files.find(name) is not None:
            raise ValueError(f"{path} exists as a file")
        return self._child_dir(parent, name, kind or self.dir_kind)

    def _child_dir(self, parent: Dir, name: str, kind: str) -> Dir:
        """Append a new subdirectory without duplicate checks (generator fast path)."""
        path = join(parent.path, name)
        d = Dir(path, kind, parent, self._new_id())
        parent.subdirs[name] = d
        self.dirs[path] = d
        return d

    def _add_entry(self, path: str, kind_code: int, size: int, mtime_ms: int,
                   created_ms: int, lang: int = 0) -> FileRef:
        path = normalize(path)
        if path in self.dirs:
            raise ValueError(f"{path} exists as a directory")
        parent_path, name = split(path)
        parent = self._ensure_dir(parent_path)
        if parent.files is not None:
            i = parent.files.find(name)
            if i is not None:  # replace in place: the builder's last word wins
                f = parent.files
                f.kinds[i], f.langs[i], f.sizes[i] = kind_code, lang, size
                f.mtimes[i], f.created[i] = mtime_ms, created_ms
                return FileRef(parent, i)
        return FileRef(parent, self._append(parent, name, kind_code, size, mtime_ms,
                                            created_ms, lang))

    def _append(self, d: Dir, name: str, kind_code: int, size: int, mtime_ms: int,
                created_ms: int, lang: int = 0) -> int:
        """Append a file entry without duplicate checks (generator fast path)."""
        f = d.files
        if f is None:
            f = d.files = Files()
        i = len(f.names)
        f.names.append(name)
        f.kinds.append(kind_code)
        f.langs.append(lang)
        f.sizes.append(size)
        f.mtimes.append(mtime_ms)
        f.created.append(created_ms)
        f.ids.append(self._new_id())
        if f.index is not None:
            f.index[name] = i
        return i

    # -- reading ----------------------------------------------------------------------

    def lookup(self, path: str) -> Dir | FileRef | None:
        """The directory or file at a normalized path, or None."""
        d = self.dirs.get(path)
        if d is not None:
            return d
        parent_path, name = split(path)
        parent = self.dirs.get(parent_path)
        if parent is None or parent.files is None:
            return None
        i = parent.files.find(name)
        return None if i is None else FileRef(parent, i)

    def blocked(self, path: str) -> bool:
        """True when path is strictly below a forbidden directory."""
        if not self.forbidden_paths:
            return False
        parent_path, _ = split(path)
        d = self.dirs.get(parent_path)
        while parent_path and d is None:  # path below a file or missing: check ancestors
            parent_path, _ = split(parent_path)
            d = self.dirs.get(parent_path)
        while d is not None:
            if d.forbidden:
                return True
            d = d.parent
        return False

    def iter_dirs(self) -> Iterator[Dir]:
        return iter(self.dirs.values())

    def file_count(self) -> int:
        return sum(len(d.files) for d in self.dirs.values() if d.files is not None)

    # -- ground truth beyond homes ----------------------------------------------------

    def timed_codes(self) -> frozenset[int] | None:
        """Kind codes whose entries carry a time; None when every entry does (DBFS)."""
        if self.dir_kind != DIRECTORY:
            return None
        return frozenset(self._kind_codes[k] for k in TIMED_TYPES if k in self._kind_codes)

    def subtree_totals(self, path: str,
                       exclude: Iterable[str] = ()) -> tuple[int, int, int | None]:
        """(files, bytes, newest mtime ms) at or below path, not entering the directories
        named in exclude (exact absolute paths). Forbidden and bad-path directories count:
        this is what is stored, not what a client can list. A file path counts as itself;
        a missing path gives (0, 0, None)."""
        path = normalize(path)
        skip = {normalize(e) for e in exclude}
        node = self.lookup(path)
        if node is None or path in skip:
            return 0, 0, None
        timed = self.timed_codes()
        if isinstance(node, FileRef):
            f, i = node.dir.files, node.index
            mtime = f.mtimes[i] if timed is None or f.kinds[i] in timed else None
            return 1, f.sizes[i], mtime
        files = size = 0
        newest: int | None = None
        stack = [node]
        while stack:
            d = stack.pop()
            stack.extend(sub for sub in d.subdirs.values() if sub.path not in skip)
            count, total, m = own_files(d, timed)
            files, size = files + count, size + total
            if m is not None and (newest is None or m > newest):
                newest = m
        return files, size, newest

    def totals(self) -> tuple[int, int]:
        """(files, bytes) of the whole tree, forbidden directories included."""
        files = size = 0
        for d in self.dirs.values():
            f = d.files
            if f is not None:
                files += len(f.names)
                size += sum(f.sizes)
        return files, size

    def top_level(self) -> list[str]:
        """Absolute paths of the entries directly under the root (dirs and files), sorted."""
        names = list(self.root.subdirs)
        if self.root.files is not None:
            names.extend(self.root.files.names)
        return sorted(join("/", n) for n in names)


class DbfsTree(Tree):
    """DBFS: directories and files with a size and a modification time."""

    dir_kind = DBFS_DIR

    def add_file(self, path: str, size: int = 0, mtime_ms: int = DEFAULT_MTIME_MS) -> FileRef:
        """Add (or replace) a file; parents are created."""
        return self._add_entry(path, 0, size, mtime_ms, mtime_ms)


class WorkspaceTree(Tree):
    """Workspace objects: DIRECTORY, REPO, NOTEBOOK, FILE, LIBRARY, DASHBOARD, others."""

    dir_kind = DIRECTORY

    def add_repo(self, path: str) -> Dir:
        """A Git folder: a container listed like a directory, object_type REPO."""
        d = self.mkdir(path)
        d.kind = REPO
        return d

    def add_notebook(self, path: str, language: str = "PYTHON",
                     mtime_ms: int = DEFAULT_MTIME_MS, created_ms: int | None = None) -> FileRef:
        lang = LANGUAGES.index(language) if language in LANGUAGES else 1
        return self._add_entry(path, self.kind_code(NOTEBOOK), 0, mtime_ms,
                               created_ms if created_ms is not None else mtime_ms, lang)

    def add_file(self, path: str, size: int = 0, mtime_ms: int = DEFAULT_MTIME_MS,
                 created_ms: int | None = None) -> FileRef:
        return self._add_entry(path, self.kind_code(FILE), size, mtime_ms,
                               created_ms if created_ms is not None else mtime_ms)

    def add_object(self, path: str, object_type: str) -> FileRef:
        """Any other object (LIBRARY, DASHBOARD, MLFLOW_EXPERIMENT, ...): no size, no times."""
        if object_type in CONTAINER_TYPES:
            raise ValueError("use mkdir/add_repo for containers")
        if object_type in TIMED_TYPES:
            raise ValueError("use add_notebook/add_file for timed objects")
        return self._add_entry(path, self.kind_code(object_type), 0, 0, 0)


def own_files(d: Dir, timed: Set[int] | None) -> tuple[int, int, int | None]:
    """(files, bytes, newest time) of a directory's own entries: what every truth walk
    adds up."""
    f = d.files
    if f is None or not f.names:
        return 0, 0, None
    return len(f.names), sum(f.sizes), newest_mtime(f, timed)


def newest_mtime(f: Files, timed: Set[int] | None) -> int | None:
    """The newest time among a directory's entries (only `timed` kinds carry one)."""
    if timed is None:
        return max(f.mtimes)
    return max((ts for k, ts in zip(f.kinds, f.mtimes, strict=True) if k in timed),
               default=None)
