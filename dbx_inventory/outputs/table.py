"""--output-table: append the run's rows to a Spark table, the history admins chart.

Written through a Spark Connect session (runners.spark.session.connect), whatever mode the scan
ran in. Every run appends, never overwrites: `run_id` tells runs apart, and the same
id is kept across a run's resumes. The schema is fixed (extended columns always, and
user_status null when unknown) so runs with different flags land in one table.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Sequence

from dbx_inventory.transport.client import ClientConfig
from dbx_inventory.errors import ConfigError, InventoryError
from dbx_inventory.runners.modes import Mode, safe_remote
from dbx_inventory.outputs.output import RunInfo
from dbx_inventory.scan.dirs import owner_of
from dbx_inventory.outputs.csv_files import GIB, utc_moment

SCHEMA = ", ".join([
    "username string", "file_count bigint", "total_size bigint", "total_size_gb double",
    "status string", "file_source string", "error string",
    "dbfs_files bigint", "dbfs_bytes bigint", "workspace_files bigint",
    "workspace_bytes bigint", "last_modified timestamp", "duration_s double",
    "user_status string", "run_id string", "scanned_at timestamp", "workspace_url string",
    # Last, so a table from before areas takes it with ALTER TABLE ... ADD COLUMNS;
    # owner (a volume's, as Unity Catalog names it) likewise after it.
    "kind string", "owner string"])

# --dirs-output's breakdown, in NAME_dirs: a row per directory, tied to its run.
DIRS_SCHEMA = ", ".join([
    "owner string", "file_system string", "root string", "path string", "depth int",
    "file_count bigint", "total_size bigint", "last_modified timestamp", "error string",
    "kind string", "run_id string", "scanned_at timestamp", "workspace_url string"])

# name, schema.name or catalog.schema.name; a part may be `back-quoted`.
_PART = r"(?:[A-Za-z0-9_]+|`[^`]+`)"
_NAME = re.compile(rf"{_PART}(?:\.{_PART}){{0,2}}")


class TableWriteFailed(InventoryError):  # exit 1 with one line; the CSV is already written
    """Spark could not be reached, or refused the table."""


def check_table_name(name: str) -> None:
    """Refuse a malformed table name before any scanning (exit 2)."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"--output-table {name!r} is not a table name: use table, "
                          "schema.table or catalog.schema.table")


def table_mode(args, cluster_id: str | None, env=os.environ) -> Mode:
    """The Spark session the table is written through, even when the scan is local."""
    remote = args.spark_remote or env.get("SPARK_REMOTE")
    if remote:
        return Mode(True, f"Spark Connect at {safe_remote(remote)}", remote=remote)
    if cluster_id:
        return Mode(True, f"cluster {cluster_id}", cluster_id=cluster_id)
    raise ConfigError("--output-table writes through Spark: give --cluster-id or "
                      "--spark-remote (or set DATABRICKS_CLUSTER_ID or SPARK_REMOTE)")


def table_rows(info: RunInfo, rows) -> list[tuple]:
    """One tuple per row, in SCHEMA's order."""
    def stamp(epoch_s: float) -> datetime:
        return datetime.fromtimestamp(epoch_s, tz=timezone.utc)

    return [(row.username, row.file_count, row.total_size, round(row.total_size / GIB, 2),
             row.status, row.file_source, row.error, row.dbfs_files, row.dbfs_bytes,
             row.workspace_files, row.workspace_bytes,
             utc_moment(row.last_modified_ms) if row.last_modified_ms else None,
             round(row.duration_s, 1), row.user_status or None, info.run_id,
             stamp(row.ended_at or info.ended_at), info.host, row.kind, row.owner or None)
            for row in rows]


def dirs_table_rows(info: RunInfo, rows) -> list[tuple]:
    """One tuple per directory of every row, in DIRS_SCHEMA's order."""
    def stamp(epoch_s: float) -> datetime:
        return datetime.fromtimestamp(epoch_s, tz=timezone.utc)

    return [(owner_of(row.username, row.kind), fs, root, path, depth, files, size,
             utc_moment(newest) if newest else None, error or None, row.kind,
             info.run_id, stamp(row.ended_at or info.ended_at), info.host)
            for row in rows
            for fs, root, path, depth, files, size, newest, error in row.dirs]


@dataclass(frozen=True)
class SparkTable:
    """Append the results to a Spark table."""

    name: str
    mode: Mode
    config: ClientConfig = field(repr=False)
    dirs: bool = False  # also append the directory breakdown to NAME_dirs

    def write(self, info: RunInfo, rows: Sequence) -> None:
        from dbx_inventory.runners.spark.runner import SparkFailure, connect

        try:
            spark = connect(self.mode, self.config)
        except SparkFailure as exc:
            raise TableWriteFailed(f"table {self.name} not written: {exc}") from None
        try:
            frame = spark.createDataFrame(table_rows(info, rows), schema=SCHEMA)
            frame.write.mode("append").saveAsTable(self.name)
            if self.dirs:
                frame = spark.createDataFrame(dirs_table_rows(info, rows),
                                              schema=DIRS_SCHEMA)
                frame.write.mode("append").saveAsTable(self.dirs_name)
        except Exception as exc:  # Spark's errors share no useful base class
            raise TableWriteFailed(f"Spark refused table {self.name}: "
                                   f"{_one_line(exc)}") from None
        finally:
            try:
                spark.stop()
            except Exception:
                pass

    @property
    def dirs_name(self) -> str:
        """NAME_dirs: the last part of the name gets the suffix, inside any back-quotes."""
        if self.name.endswith("`"):
            return self.name[:-1] + "_dirs`"
        return self.name + "_dirs"

    def describe(self) -> str:
        tables = f"{self.name} and {self.dirs_name}" if self.dirs else self.name
        return f"Results appended to table: {tables} (through {self.mode.describe})"


def _one_line(exc: BaseException) -> str:
    """The first line of a Spark error that says what is wrong (secrets are scrubbed
    where the line is printed)."""
    text = str(exc).strip()
    details = re.search(r'details = "([^"]*)"', text)  # gRPC errors bury the reason
    first = details.group(1) if details else (text.splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:300]
