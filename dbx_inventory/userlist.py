"""Reading the list of users to scan."""

from __future__ import annotations

import csv
from typing import Iterable

from .errors import ConfigError


def parse_users(lines: Iterable[str]) -> list[str]:
    """Names from lines: blanks and # comments skipped, first of case-twins kept."""
    seen: set[str] = set()
    names = []
    for line in lines:
        text = line.strip()
        if text.startswith("#"):
            continue
        # A CSV with a header or extra columns: keep the first column only.
        name = next(csv.reader([text]), [""])[0].strip() if text else ""
        if not name or name.lower() == "username":
            continue
        key = name.casefold()
        if key not in seen:
            seen.add(key)
            names.append(name)
    return names


def read_users_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            names = parse_users(handle)
    except FileNotFoundError:
        raise ConfigError(f"users file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read users file {path}: {exc}") from None
    if not names:
        raise ConfigError(f"users file {path} lists no users")
    return names
