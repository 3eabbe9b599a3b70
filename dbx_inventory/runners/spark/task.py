"""What one Spark job runs on an executor: one unit of users, then a report of the unit.

A job is a one-partition mapInPandas over a one-row range. Its function scans the
unit's users with the job's share of the request budget, yields one row per user, then
one trailing row (`unit_report` set, JSON) with the executor's own measurements: the
worker's host/pid, start and end, and its client's request counters. The closure holds
users, host and limits only; the auth headers come from a session file artifact.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from typing import Iterable

from dbx_inventory.scan.roots import Item
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.scan.dirs import checked
from dbx_inventory.scan.results import RESULT_FIELDS, UserResult
# Module-level on purpose: pickled by value with the function, so executors need
# no copy of this package (an import inside the function would look for one).
from dbx_inventory.scan.scanner import HandOver, Scanner, worker_identity
from dbx_inventory.scan.filesystems.dbfs_mount import DbfsMountWalker, find_mount
from dbx_inventory.transport.throttle import Gate, Throttle

REPORT_COLUMN = "unit_report"
_LONG = {"file_count", "total_size", "dbfs_files", "dbfs_bytes", "workspace_files",
         "workspace_bytes", "last_modified_ms", "listings"}
_DOUBLE = {"started_at", "ended_at"}


class EmptyRow(ValueError):
    """A row came back without the fields every row has (library mismatch?)."""


def row_schema() -> str:
    """DDL of the rows a job sends back: every UserResult field, then the unit report."""
    def ddl(name: str) -> str:
        kind = "bigint" if name in _LONG else "double" if name in _DOUBLE else "string"
        return f"{name} {kind}"
    return ", ".join([ddl(name) for name in RESULT_FIELDS] + [f"{REPORT_COLUMN} string"])


def executor_config(config: ClientConfig, share: int,
                    rates: dict[str, float] | None = None,
                    reached: dict[str, float] | None = None) -> ClientConfig:
    """The one place a job's client settings are derived from its budget share: its
    requests in flight, its part of --max-rps, and its starting pace per API family
    (`rates` learned from 429s; else a ramp from the published rate, or from the pace
    earlier jobs' ramps `reached` when that is higher).

    Credentials are left out: they travel as a file artifact, not in the pickled closure.
    """
    share = max(1, share)
    part = share / config.max_in_flight
    max_rps = config.max_rps * part if config.max_rps else None
    # The published rates are the workspace's: each job starts at its share of them.
    published = {family: max(rate * part, (reached or {}).get(family, 0.0))
                 for family, rate in (config.published_rates or {}).items()} or None
    return dataclasses.replace(config, credentials=StaticToken(""), max_in_flight=share,
                               max_rps=max_rps, family_rates=rates or None,
                               published_rates=published,
                               family_share=min(1.0, share / config.max_in_flight))


def client_counters(client: ApiClient) -> dict:
    """The request counters of one client per API family, as plain data (summed on the
    client with politeness.sum_stats)."""
    return client.stats.as_dict()


PROBE = "/api/2.0/workspace/get-status"
UNREACHABLE = "the executor could not reach the workspace"


def encoded(row: UserResult) -> dict:
    """A row in the row schema (the breakdown travels as JSON: one string column)."""
    return {**row.to_dict(), "dirs": json.dumps(row.dirs), REPORT_COLUMN: None}


def scan_unit(config: ClientConfig, walkers, users: Iterable[Item], *, probe: bool = False,
              gate: Gate | None = None, dirs_depth: int = 0, hold: int | None = None,
              dbfs_via: str | None = None, handover: HandOver | None = None):
    """Rows as dicts in the row schema: a row per user as it finishes, then the report
    row. What a Spark task sends back, and what the client lane scans. `users` is read
    as the scan goes: the client lane feeds it while it is the only lane scanning.

    `probe` (executors): first ask the workspace one cheap question, inside the job's
    share, so an executor that cannot reach it (an IP access list, a network rule)
    fails before its first user, not user by user. `gate` (the client lane): each
    request also counts in the budget this machine shares with the cluster's jobs.
    `hold`: users in progress at most (the client lane holds few: what it holds when
    a Spark lane joins it finishes, every other user goes to Spark). `dbfs_via`
    (executors): which way DBFS was read, for the report. `handover` (the client lane):
    where a DBFS directory too large for the REST API goes (see Scanner).
    """
    started = time.time()
    worker = worker_identity()
    counters: dict = {}
    rates: dict = {}
    reached: dict = {}
    throttle = Throttle(config.max_in_flight, gate=gate) if gate is not None else None
    with ApiClient(config, throttle=throttle) as client:
        if probe:
            try:
                client.get(PROBE, {"path": "/"}, subject="the workspace root")
            except Exception as exc:
                raise RuntimeError(f"{UNREACHABLE}: {exc}") from None
        for row in Scanner(client, walkers=walkers, worker=worker, dirs_depth=dirs_depth,
                           max_active_users=hold, handover=handover).scan(users):
            yield encoded(row)
        counters = client_counters(client)
        rates = client.learned_rates()
        reached = client.reached_rates()
    report = {"worker": worker, "started_at": started, "ended_at": time.time(),
              "stats": counters, "rates": rates, "reached": reached}
    mount = next((w for w in walkers if isinstance(w, DbfsMountWalker)), None)
    if dbfs_via is not None:  # said after the scan: the mount may have refused some
        report["dbfs_via"] = mount.describe() if mount is not None else dbfs_via
    yield {**{name: None for name in RESULT_FIELDS}, REPORT_COLUMN: json.dumps(report)}


def unit_task(config: ClientConfig, credentials: str, walkers, users: tuple[Item, ...],
              dirs_depth: int = 0, mount_only: bool = False):
    """The function Spark runs for one unit of users (none: a warm-up that starts the
    Python worker, unpickles this package and reads the credentials like any job, but
    sends no request). A unit with users asks the workspace one question first: see
    scan_unit. `mount_only`: the unit is a DBFS directory too large for the REST API,
    counted through the DBFS mount or not at all (no row: the client keeps its reason).

    No dataclasses.replace/asdict here: databricks-connect's older cloudpickle breaks
    field introspection of classes pickled by value.
    """
    def run(batches):
        import json

        import pandas as pd  # present on executors, as on Databricks Runtime
        from pyspark import SparkFiles

        for _ in batches:
            pass  # the one input row only triggers the task
        with open(SparkFiles.get(credentials), encoding="utf-8") as handle:
            headers = json.load(handle)
        own = copy.copy(config)
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        object.__setattr__(own, "credentials", StaticToken(token))  # frozen, no replace()
        columns = list(RESULT_FIELDS) + [REPORT_COLUMN]
        # Where this executor sees DBFS mounted (/dbfs on Databricks), DBFS is read there.
        mount, via = find_mount() if any(w.name == "dbfs" for w in walkers) else (None, None)
        mine = tuple(mount if mount is not None and w.name == "dbfs" else w for w in walkers)
        todo = () if mount_only and mount is None else users
        for item in scan_unit(own, mine, todo, probe=bool(todo), dirs_depth=dirs_depth,
                              dbfs_via=via):
            yield pd.DataFrame([item], columns=columns)
    return run


def decode(data: dict) -> UserResult | dict:
    """A row from a job: a UserResult, or the unit's report as a dict."""
    report = data.pop(REPORT_COLUMN, None)
    if report:
        return json.loads(report)
    if not data.get("username") or not data.get("status"):
        raise EmptyRow("a Spark task sent back an empty result row "
                       "(client and cluster Python libraries disagree?)")
    if data.get("last_modified_ms") is not None:
        data["last_modified_ms"] = int(data["last_modified_ms"])
    rows = checked(json.loads(data.get("dirs") or "[]"))
    if rows is None:
        raise EmptyRow("a Spark task sent back a malformed directory breakdown")
    data["dirs"] = rows
    return UserResult.from_dict(data)
