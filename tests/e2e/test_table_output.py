"""--output-table: the run's rows appended to a Spark table, read back from the real
local Spark Connect server; bad names and a Spark that refuses the table."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import uuid

import pytest

from conftest import TOKEN
from helpers import journal_records
from fake_workspace import generate_workspace

SCRIPT = "databricks_user_files_simple.py"
COLUMNS = ["username", "file_count", "total_size", "total_size_gb", "status", "file_source",
           "error", "dbfs_files", "dbfs_bytes", "workspace_files", "workspace_bytes",
           "last_modified", "duration_s", "user_status", "run_id", "scanned_at",
           "workspace_url", "kind", "owner"]

# Run in a child process: a pyspark client in the test process would leave gRPC threads
# behind that keep pytest from exiting once the server stops.
_SQL = """
import json, os, sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
rows = []
for statement in json.loads(sys.argv[2]):
    frame = spark.sql(statement)
    rows = [{k: str(v) if v is not None else None for k, v in r.asDict().items()}
            for r in frame.collect()]
    columns = frame.columns
print(json.dumps({"columns": columns, "rows": rows}))
sys.stdout.flush()
os._exit(0)
"""


def spark_sql(remote: str, *statements: str) -> dict:
    """Columns and rows of the last statement, run on the Spark Connect server."""
    proc = subprocess.run([sys.executable, "-c", _SQL, remote, json.dumps(statements)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def database(spark_remote, tmp_path):
    """A database of its own, stored under tmp_path (not in the repo's spark-warehouse)."""
    name = f"inv_{uuid.uuid4().hex[:10]}"
    spark_sql(spark_remote.url,
              f"CREATE DATABASE {name} LOCATION '{(tmp_path / 'warehouse').as_uri()}'")
    return name


def csv_dicts(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_each_run_is_appended_local_scan_or_spark_scan(cli, serve, tmp_path, spark_remote,
                                                       database):
    ws = generate_workspace(10, seed=21)
    server = serve(ws)
    table = f"{database}.inventory"
    local = cli(SCRIPT, "--all-homes", "--no-parallel", "--spark-remote", spark_remote.url,
                "--output-table", table, "-o", "local.csv", "--checkpoint", "a.json",
                server=server)
    assert local.code == 0, local.output
    assert f"Results appended to table: {table}" in local.stdout
    assert "Mode: LOCAL" in local.stdout  # only the write went through Spark
    on_spark = cli(SCRIPT, "--all-homes", "--spark-only", "--spark-remote", spark_remote.url,
                   "--output-table", table, "-o", "spark.csv", "--checkpoint", "b.json",
                   server=server)
    assert on_spark.code == 0, on_spark.output
    assert f"Mode: PARALLEL (Spark Connect at {spark_remote.url})" in on_spark.stdout
    scanned = len(csv_dicts(tmp_path / "spark.csv"))
    assert f"Scanned on Spark: {scanned} users" in on_spark.stdout  # discovered, then sent
    got = spark_sql(spark_remote.url, f"SELECT * FROM {table}")
    assert got["columns"] == COLUMNS
    runs = {}
    for row in got["rows"]:
        runs.setdefault(row["run_id"], []).append(row)
    assert len(runs) == 2  # appended, never overwritten
    for csv_name, journal in (("local.csv", "a.json"), ("spark.csv", "b.json")):
        run_id = journal_records(tmp_path / journal)[0]["meta"]["run_id"]
        rows = {r["username"]: r for r in runs[run_id]}
        expected = csv_dicts(tmp_path / csv_name)
        assert set(rows) == {r["username"] for r in expected}
        for want in expected:
            have = rows[want["username"]]
            for key in ("file_count", "total_size", "status", "file_source", "user_status"):
                assert have[key] == want[key], (key, want["username"])
            assert have["workspace_url"] == server.url and have["scanned_at"]
    assert TOKEN not in json.dumps(got)


def test_a_table_spark_refuses_costs_the_table_not_the_csv(cli, serve, tmp_path,
                                                           spark_remote, database):
    ws = generate_workspace(6, seed=22)
    server = serve(ws)
    refused = cli(SCRIPT, "--all-homes", "--no-parallel", "--spark-remote", spark_remote.url,
                  "--output-table", "no_such_database_here.inventory", server=server)
    assert refused.code == 1
    assert refused.stderr.count("\n") == 1 and "no_such_database_here" in refused.stderr
    assert TOKEN not in refused.output
    rows = csv_dicts(tmp_path / "results.csv")
    assert len(rows) == len(ws.users) + len(ws.removed_homes()) + len(ws.service_principals)
    # The run is not marked complete: --resume writes the outputs again, scanning nothing,
    # under the same run id.
    server.reset_stats()
    table = f"{database}.inventory"
    again = cli(SCRIPT, "--all-homes", "--resume", "--no-parallel", "--spark-remote",
                spark_remote.url, "--output-table", table, server=server)
    assert again.code == 0, again.output
    errors = {r["username"] for r in rows if r["status"] == "error"}  # rescanned by design
    assert {path.split("/")[2] for _, path in server.stats.listings} <= errors
    run_id = journal_records(tmp_path / ".checkpoint_progress.json")[0]["meta"]["run_id"]
    got = spark_sql(spark_remote.url, f"SELECT DISTINCT run_id FROM {table}")
    assert got["rows"] == [{"run_id": run_id}]


@pytest.mark.parametrize("args, needle", [
    (["--output-table", "bad name!", "--spark-remote", "sc://127.0.0.1:1"], "not a table name"),
    (["--output-table", "a.b.c.d", "--spark-remote", "sc://127.0.0.1:1"], "not a table name"),
    (["--output-table", "main.inv.results"], "--cluster-id or --spark-remote"),
])
def test_table_flags_that_cannot_work_fail_before_scanning(cli, serve, tmp_path, args, needle):
    server = serve(generate_workspace(3, seed=1))
    result = cli(SCRIPT, "--all-homes", *args, server=server)
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and needle in result.stderr
    assert server.stats.total_requests == 0
    assert not (tmp_path / "results.csv").exists()
