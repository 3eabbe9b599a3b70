"""The report's tables as data: each row once, as a compact record, and each table as
columns plus row numbers; the page draws them a page at a time, sorts and filters them."""

from __future__ import annotations

from dbx_inventory.humanize import format_size
from dbx_inventory.outputs.csv_files import iso_utc
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import split_key
from dbx_inventory.scrub import scrub

PAGE_ROWS = 100  # rows drawn at a time: 20,000 users stay quick to open
# The tables' columns: label -> (index of the sort value in a row record, index of the
# text shown or None for the value itself, numeric?). Records are built by _record.
_COLUMNS = {"user": (0, None, False), "user status": (1, None, False),
            "status": (2, None, False), "files": (3, None, True), "size": (4, 5, True),
            "DBFS": (6, 7, True), "Workspace": (8, 9, True), "source": (10, None, False),
            "last modified": (11, None, False), "error": (12, None, False)}
# The areas table's columns, over records built by _area_record.
_AREA_COLUMNS = {"file system": (0, None, False), "path": (1, None, False),
                 "files": (2, None, True), "size": (3, 4, True), "bytes": (3, None, True),
                 "status": (5, None, False), "last modified": (6, None, False),
                 "error / reason": (7, None, False), "owner": (8, None, False)}
# The largest-directories table's columns, over records built by _dir_record.
_DIR_COLUMNS = {"path": (0, None, False), "file system": (1, None, False),
                "owner": (2, None, False), "depth": (3, None, True),
                "files": (4, None, True), "size": (5, 6, True), "bytes": (5, None, True),
                "last modified": (7, None, False), "error": (8, None, False)}


def table_data(ctx: dict) -> dict:
    """Rows once, as compact records, and each table as columns plus row numbers; the
    page draws the tables from this (a page at a time), sorts and filters them."""
    rows = ctx["rows"]
    number = {row.username: i for i, row in enumerate(rows)}

    def table(key: str, columns: list[str], chosen) -> dict:
        return {"id": key, "columns": [[label, *_COLUMNS[label]] for label in columns],
                "rows": None if chosen is None else [number[row.username] for row in chosen]}

    tables = [
        table("left-table", ["user", "user status", "files", "size", "DBFS", "Workspace",
                             "last modified"], ctx["left"]),
        table("stale-table", ["user", "user status", "last modified", "files", "size"],
              ctx["stale"]),
        table("error-table", ["user", "error", "files", "size"], ctx["errors"]),
        table("results-table", list(_COLUMNS), None)]
    whole = ctx.get("whole")
    if whole:
        # The areas have records of their own (a table may bring its own), in bytes order.
        tables.append({"id": "areas-table", "rows": None,
                       "columns": [[label, *spec] for label, spec in _AREA_COLUMNS.items()],
                       "records": [_area_record(row) for row in whole["areas"]]})
        if whole.get("volumes"):
            tables.append(whole["volumes"]["table"])  # records of its own (volumes.py)
        tables.append(table("outside-table", ["user", "user status", "files", "size",
                                              "DBFS", "Workspace", "last modified"],
                            whole["outside"]))
    dirs = ctx.get("dirs")
    if dirs:
        tables.append({"id": "dirs-table", "rows": None,
                       "columns": [[label, *spec] for label, spec in _DIR_COLUMNS.items()],
                       "records": [_dir_record(owner, dir_row)
                                   for owner, dir_row in dirs["largest"]]})
    return {"page": PAGE_ROWS, "records": [_record(row) for row in rows], "tables": tables}


def _record(row: UserResult) -> list:
    return [row.username, row.user_status, row.status, row.file_count, row.total_size,
            format_size(row.total_size), row.dbfs_bytes, format_size(row.dbfs_bytes),
            row.workspace_bytes, format_size(row.workspace_bytes), row.file_source,
            iso_utc(row.last_modified_ms), scrub(row.error)]


def _area_record(row: UserResult) -> list:
    file_system, path = split_key(row.username)
    return [file_system, path, row.file_count, row.total_size, format_size(row.total_size),
            row.status, iso_utc(row.last_modified_ms), scrub(row.error), row.owner]


def _dir_record(owner: str, dir_row: tuple) -> list:
    file_system, _, path, depth, files, size, newest_ms, error = dir_row
    return [path, file_system, owner, depth, files, size, format_size(size),
            iso_utc(newest_ms), scrub(error)]
