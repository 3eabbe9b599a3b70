"""--dirs-output end to end: every directory at depth 1..N below every scanned root, with
the fake workspace's own cumulative figures, in a plain run, with --whole-workspace,
after kill -9 and --resume, and on Spark; and no listing more than without it."""

from __future__ import annotations

import csv
import subprocess
import sys
import threading

import pytest

from conftest import ROOT, TOKEN, clean_env
from fake_workspace import FakeWorkspaceServer, generate_workspace
from fake_workspace.truth import expected_dirs, scanned_roots
from helpers import kill_9_when, saved_results, users_file

SCRIPT = "databricks_user_files_simple.py"
HEADER = ["owner", "file_system", "root", "path", "depth", "file_count", "total_size",
          "last_modified", "error"]


def read_dirs(path) -> tuple[list[str], set[tuple]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = {(r["owner"], r["file_system"], r["root"], r["path"], int(r["depth"]),
                 int(r["file_count"]), int(r["total_size"]), bool(r["error"]))
                for r in reader}
        return list(reader.fieldnames or []), rows


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_users_file_run_breaks_every_home_down_exactly(cli, serve, tmp_path, depth):
    ws = generate_workspace(14, seed=21)
    names = users_file(tmp_path, ws)
    server = serve(ws, error_rate=0.05, max_in_flight=8)
    args = ["--dirs-depth", str(depth)] if depth != 3 else []
    result = cli(SCRIPT, "--users-file", "users.txt", "--dirs-output", "dirs.csv", *args,
                 server=server)
    assert result.code == 0, result.output
    header, rows = read_dirs(tmp_path / "dirs.csv")
    assert header == HEADER
    want = expected_dirs(ws, scanned_roots(ws, names), depth)
    assert rows == want
    assert {row[4] for row in rows} == set(range(1, depth + 1))  # every depth is there
    assert any(row[7] for row in rows)  # a forbidden folder is marked, and counted so
    assert "Directory breakdown saved to: dirs.csv" in result.stdout


def test_the_breakdown_costs_no_listing(cli, serve, tmp_path):
    ws = generate_workspace(12, seed=22, whole_workspace=True)
    counts = []
    for extra in ([], ["--dirs-output", "dirs.csv", "--dirs-depth", "4"]):
        server = serve(ws)
        result = cli(SCRIPT, "--whole-workspace", "--checkpoint", f"cp{len(extra)}", *extra,
                     server=server)
        assert result.code == 0, result.output
        counts.append(dict(server.stats.listing_attempts))
    assert counts[0] == counts[1]


def test_whole_workspace_breaks_down_homes_places_and_areas(cli, serve, tmp_path):
    ws = generate_workspace(12, seed=23, whole_workspace=True)
    server = serve(ws, error_rate=0.05, max_in_flight=8)
    result = cli(SCRIPT, "--whole-workspace", "--dirs-output", "dirs.csv", server=server)
    assert result.code == 0, result.output
    _, rows = read_dirs(tmp_path / "dirs.csv")
    assert rows == expected_dirs(ws, scanned_roots(ws), 3)
    warehouse = {row[3] for row in rows if row[2] == "/user/hive/warehouse" and row[4] == 1}
    tables = ws.whole.warehouse_tables
    assert {path for path in tables if path.count("/") == 4} <= warehouse  # default db
    assert any(path.endswith(".db") for path in warehouse)                # databases
    # /user's rows never reach into the warehouse: it is a root of its own.
    assert not any(row[2] == "/user" and row[3].startswith("/user/hive/warehouse")
                   for row in rows)
    assert any(row[2].startswith("/Repos/") for row in rows)  # Git folders count


def test_bad_dirs_flags_are_one_line(cli, serve, tmp_path):
    server = serve(generate_workspace(3, seed=1))
    users_file(tmp_path, server.workspace)
    for args in (["--dirs-output", "results.csv"], ["--dirs-output", "dirs.csv",
                                                    "--dirs-depth", "0"]):
        result = cli(SCRIPT, "--users-file", "users.txt", *args, server=server)
        assert result.code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "--dirs-" in result.stderr


def test_kill_9_then_resume_keeps_the_breakdown_exact(tmp_path):
    ws = generate_workspace(16, seed=24, whole_workspace=True)
    release = threading.Event()
    args = ["--whole-workspace", "--dirs-output", "dirs.csv"]
    env = clean_env(tmp_path)
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        env.update(DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
        server.faults.hold = release
        server.faults.hold_paths = {ws.whole.warehouse_tables[0]}  # held: killed mid-run
        proc = subprocess.Popen([sys.executable, str(ROOT / SCRIPT), *args], cwd=tmp_path,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # Which rows come first is the scheduler's choice: wait for one with a breakdown.
            kill_9_when(lambda: any(row["dirs"] for row in saved_results(tmp_path)), proc,
                        "row with a breakdown saved")
        finally:
            release.set()
        server.faults.hold = None
        done = subprocess.run([sys.executable, str(ROOT / SCRIPT), *args, "--resume"],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    _, rows = read_dirs(tmp_path / "dirs.csv")
    assert rows == expected_dirs(ws, scanned_roots(ws), 3)
    # A resume with another depth would mix breakdowns: refused.
    other = subprocess.run([sys.executable, str(ROOT / SCRIPT), *args, "--dirs-depth", "2",
                            "--resume"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=60)
    assert other.returncode == 2 and "dirs_depth" in other.stderr


def test_spark_mode_carries_the_breakdown_back_and_to_a_table(cli, serve, tmp_path,
                                                              spark_remote):
    ws = generate_workspace(10, seed=25, whole_workspace=True)
    server = serve(ws, error_rate=0.03)
    result = cli(SCRIPT, "--whole-workspace", "--dirs-output", "dirs.csv", "--spark-remote",
                 spark_remote.url, "--spark-only", "--output-table", "dirs_inventory",
                 server=server, timeout=600)
    assert result.code == 0, result.output
    _, rows = read_dirs(tmp_path / "dirs.csv")
    assert rows == expected_dirs(ws, scanned_roots(ws), 3)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(spark_remote.url).getOrCreate()
    try:
        count = spark.sql("select count(*) as n from dirs_inventory_dirs").collect()[0]["n"]
    finally:
        spark.stop()
    assert count == len(rows)
