"""How the report names what it shows: an area by its path and file system, an owner."""

from __future__ import annotations

from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import USER, split_key


def area_name(row: UserResult) -> str:
    """An area as people read it: its path with its file system (dbfs:/FileStore)."""
    file_system, path = split_key(row.username)
    return f"{file_system}:{path}"


def owner_label(row: UserResult) -> str:
    return row.username if row.kind == USER else area_name(row)
