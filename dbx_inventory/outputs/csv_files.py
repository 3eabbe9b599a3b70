"""The results CSV: one writer, columns fixed, rows in input order, written atomically."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from typing import Iterable

from dbx_inventory.outputs.atomic import atomic_text_writer
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import split_key
from dbx_inventory.scrub import scrub

COLUMNS = ["username", "file_count", "total_size", "total_size_gb", "status",
           "file_source", "error"]
EXTENDED_COLUMNS = ["dbfs_files", "dbfs_bytes", "workspace_files", "workspace_bytes",
                    "last_modified", "duration_s"]
STATUS_COLUMN = "user_status"  # last, and only when statuses are known
GIB = 1024 ** 3


def utc_moment(epoch_ms: int | None) -> datetime | None:
    """The moment of an epoch-ms time; None for none, and for one no date can show (a
    journal written before such times were ignored: its outputs must still be written)."""
    if epoch_ms is None:
        return None
    try:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def iso_utc(epoch_ms: int | None) -> str:
    moment = utc_moment(epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def columns(extended: bool = False, user_status: bool = False) -> list[str]:
    """The header: the seed's seven, then --extended's, then user_status."""
    return COLUMNS + (EXTENDED_COLUMNS if extended else []) \
        + ([STATUS_COLUMN] if user_status else [])


def csv_row(row: UserResult, extended: bool = False, user_status: bool = False
            ) -> list[str]:
    values = [row.username, str(row.file_count), str(row.total_size),
              f"{row.total_size / GIB:.2f}", row.status, row.file_source, scrub(row.error)]
    if extended:
        values += [str(row.dbfs_files), str(row.dbfs_bytes), str(row.workspace_files),
                   str(row.workspace_bytes), iso_utc(row.last_modified_ms),
                   f"{row.duration_s:.1f}"]
    if user_status:
        values.append(row.user_status)
    return values


def write_results(path: str, rows: Iterable[UserResult], *, extended: bool = False,
                  user_status: bool = False) -> None:
    """Write the whole CSV or nothing (temp file + rename)."""
    with atomic_text_writer(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns(extended, user_status))
        for row in rows:
            writer.writerow(csv_row(row, extended, user_status))


AREA_COLUMNS = ["file_system", "path", "file_count", "total_size", "total_size_gb",
                "status", "error", "last_modified", "owner"]  # owner: a volume's


def area_row(row: UserResult) -> list[str]:
    file_system, path = split_key(row.username)
    return [file_system, path, str(row.file_count), str(row.total_size),
            f"{row.total_size / GIB:.2f}", row.status, scrub(row.error),
            iso_utc(row.last_modified_ms), row.owner]


def write_areas(path: str, rows: Iterable[UserResult]) -> None:
    """The areas CSV of --whole-workspace: whole or nothing, like the results."""
    with atomic_text_writer(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(AREA_COLUMNS)
        for row in rows:
            writer.writerow(area_row(row))


DIR_COLUMNS = ["owner", "file_system", "root", "path", "depth", "file_count", "total_size",
               "last_modified", "error"]


def write_dirs(path: str, rows: Iterable[tuple]) -> None:
    """The --dirs-output CSV from (owner, dirs.DirRow) pairs: whole or nothing."""
    with atomic_text_writer(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(DIR_COLUMNS)
        for owner, (fs, root, where, depth, files, size, newest, error) in rows:
            writer.writerow([owner, fs, root, where, depth, files, size, iso_utc(newest),
                             scrub(error)])
