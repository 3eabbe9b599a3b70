"""Reading the list of users to scan."""

from __future__ import annotations

import csv
import re
from typing import Iterable

from dbx_inventory.errors import ConfigError

# "    1. ana@example.com": databricks_user_list.py's printed (numbered) listing.
_PRINTED_LINE = re.compile(r"\s*\d+\.\s+\S+\s*")
_PRINTED_TITLE = "DATABRICKS USER LISTING"
_BAD_CHAR = re.compile(r"[\s\x00-\x1f\x7f/]")
MAX_LINE = 4096  # no user name is longer; /dev/zero as a users file has no line end


def parse_users(lines: Iterable[str], *, where: str = "line") -> list[str]:
    """Names from lines: blanks and # comments skipped, exact duplicates dropped.

    A name becomes a path under /Users/, so anything that could leave that folder or
    is not one name (whitespace, control characters, '/', '.', '..') is refused,
    naming where it is (`where` and the 1-based line number).
    """
    seen: set[str] = set()
    names = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if _PRINTED_LINE.fullmatch(line.rstrip("\r\n")) or text == _PRINTED_TITLE:
            raise ConfigError(f"{where} {number} looks like the printed listing of "
                              "databricks_user_list.py; write the list with its -o FILE "
                              "and pass that file")
        if text.startswith("#"):
            continue
        # A CSV with a header or extra columns: keep the first column only.
        name = next(csv.reader([text]), [""])[0].strip() if text else ""
        if not name or name.lower() == "username":
            continue
        if _BAD_CHAR.search(name) or name in (".", ".."):
            raise ConfigError(f"{where} {number}: {_shown(name)} is not a user name "
                              "(whitespace, control characters, '/', '.' and '..' are "
                              "refused)")
        if name not in seen:  # home paths are case-sensitive: only exact repeats go
            seen.add(name)
            names.append(name)
    return names


def case_twins(names: Iterable[str]) -> list[list[str]]:
    """Groups of names that differ only in letter case (each is its own home)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name.casefold(), []).append(name)
    return [group for group in groups.values() if len(group) > 1]


def read_users_file(path: str) -> list[str]:
    """The names in a users file; ConfigError (one line) when it is missing or bad."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            names = parse_users(_bounded_lines(handle, path),
                                where=f"users file {path} line")
    except FileNotFoundError:
        raise ConfigError(f"users file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read users file {path}: {exc}") from None
    if not names:
        raise ConfigError(f"users file {path} lists no users")
    return names


def _bounded_lines(handle, path: str):
    """The file's lines, refusing one that never ends (a device, a binary file)."""
    number = 0
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE:
            raise ConfigError(f"users file {path} line {number} is longer than {MAX_LINE} "
                              "characters: not a list of users")
        yield line


def _shown(name: str) -> str:
    """A refused name, short and printable (2,048 NUL bytes must not fill the screen)."""
    return repr(name[:40] + ("..." if len(name) > 40 else ""))
