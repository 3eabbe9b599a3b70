"""--whole-workspace end to end: every place of both file systems is in a user's row or
an area's, exactly, under faults, after kill -9 and --resume, and on Spark.

The expected figures come from the fake workspace's own trees (subtree totals), by the
rules the issue gives: a user's Git folders and uploads join their row, every other
top-level place is an area, the Hive warehouse is an area of its own, mount points,
sample datasets and volumes are named and never listed.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading

import pytest

from conftest import ROOT, TOKEN, clean_env
from fake_workspace import FakeWorkspaceServer, generate_workspace
from fake_workspace.truth import (expected_areas, expected_users, skipped_places, trees,
                                  user_folders, visible, whole_listings)
from helpers import journal_records, kill_9_when, saved_results

SCRIPT = "databricks_user_files_simple.py"
AREA_HEADER = ["file_system", "path", "file_count", "total_size", "total_size_gb", "status",
               "error", "last_modified", "owner"]


def workspace(seed: int = 11, users: int = 18, **options):
    ws = generate_workspace(users, seed=seed, whole_workspace=True, **options)
    ws.dbfs.add_file("/Users/stray notes.txt", 4321)  # a file right in /Users: an area
    return ws


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def check_exact(ws, folder, *, results="results.csv", areas="results_areas.csv"):
    users = read(folder / results)
    assert {row["username"]: (int(row["file_count"]), int(row["total_size"]))
            for row in users} == expected_users(ws)
    assert [row["username"] for row in users] == list(expected_users(ws))
    rows = read(folder / areas)
    assert list(rows[0]) == AREA_HEADER
    got = {(row["file_system"], row["path"]): (int(row["file_count"]),
                                               int(row["total_size"]), row["status"])
           for row in rows}
    assert got == expected_areas(ws)
    assert [(row["file_system"], row["path"]) for row in rows] == sorted(got)
    assert all(row["error"] for row in rows if row["status"] == "skipped")
    return users, rows


def never_listed_inside_skipped(server, ws):
    skipped = skipped_places(ws)
    listed = [path for fs, path in server.stats.listing_attempts if fs == "dbfs"
              and any(path == place or path.startswith(place + "/") for place in skipped)]
    assert listed == []


def test_every_place_is_counted_once_and_exactly_under_faults(cli, serve, tmp_path):
    ws = workspace(forbidden_subtrees=0)
    server = serve(ws, max_in_flight=8, error_rate=0.05, latency_s=0.002)
    result = cli(SCRIPT, "--whole-workspace", "--concurrency", "12", server=server)
    assert result.code == 0, result.output
    users, areas = check_exact(ws, tmp_path)
    never_listed_inside_skipped(server, ws)
    # Reconciles with a full walk of both trees, less what is skipped.
    skipped = skipped_places(ws)  # mounts, samples, volume aliases, MLflow assets
    everything = [tree.totals() for tree in trees(ws).values()]
    left_out = [ws.dbfs.subtree_totals(path)[:2] for path in skipped]
    files = sum(f for f, _ in everything) - sum(f for f, _ in left_out)
    size = sum(b for _, b in everything) - sum(b for _, b in left_out)
    counted = users + [row for row in areas if row["status"] != "skipped"]
    assert sum(int(row["file_count"]) for row in counted) == files
    assert sum(int(row["total_size"]) for row in counted) == size
    lines = result.stdout.splitlines()
    assert f"  Grand total: {files:,} files, " in "\n".join(lines)
    assert any(line.startswith("  Grand total: ") and line.endswith(f"({size:,} bytes)")
               for line in lines), result.stdout
    assert f"  Skipped (named, not walked): {len(skipped)} places" in lines
    assert f"Users processed: {len(users)}" in lines and f"Areas: {len(areas)}" in lines
    # The names found only in a Git folder or an upload are rows of their own.
    whole = ws.whole
    by_name = {row["username"]: row for row in read(tmp_path / "results.csv")}
    for name in (whole.repo_only, whole.upload_only):
        assert by_name[name]["user_status"] == "removed"
        assert by_name[name]["status"] == "success"
    only = ", ".join(sorted([whole.repo_only, whole.upload_only]))
    assert f"  Found only outside /Users: {only}" in lines
    assert TOKEN not in result.output


def test_a_scim_user_with_only_a_git_folder_is_not_an_error(cli, serve, tmp_path):
    ws = workspace()
    homeless = [name for name in ws.whole.repo_owners if name in ws.users_by_name
                and not ws.truth(name).dbfs_home_exists
                and not ws.truth(name).workspace_home_exists]
    assert homeless
    result = cli(SCRIPT, "--whole-workspace", "--extended", server=serve(ws))
    assert result.code == 0, result.output
    rows = {row["username"]: row for row in read(tmp_path / "results.csv")}
    for name in homeless:
        assert rows[name]["status"] == "success" and rows[name]["error"] == ""
        assert int(rows[name]["file_count"]) == expected_users(ws)[name][0] > 0
        assert int(rows[name]["workspace_files"]) > 0


def test_include_mounts_walks_them_and_warns_of_the_cost(cli, serve, tmp_path):
    ws = workspace(users=6)
    server = serve(ws)
    result = cli(SCRIPT, "--whole-workspace", "--include-mounts", server=server)
    assert result.code == 0, result.output
    assert "⚠ --include-mounts: walking 2 mount points" in result.stdout
    rows = {row["path"]: row for row in read(tmp_path / "results_areas.csv")}
    for name in ws.dbfs.dirs["/mnt"].subdirs:
        files, size = visible(ws.dbfs, f"/mnt/{name}")
        row = rows[f"/mnt/{name}"]
        assert (row["status"], int(row["file_count"]), int(row["total_size"])) == (
            "success", files, size)
    assert rows["/databricks-datasets"]["status"] == "skipped"


def start(folder, server, *args):
    env = clean_env(folder, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
    return subprocess.Popen([sys.executable, str(ROOT / SCRIPT), *args], cwd=folder, env=env,
                            stdout=open(folder / "stdout.txt", "w"),
                            stderr=open(folder / "stderr.txt", "w"))



def test_kill_9_then_resume_gives_the_exact_inventory(tmp_path):
    ws = workspace(forbidden_subtrees=0)
    release = threading.Event()
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        server.faults.error_rate = 0.03
        # A warehouse table is held: the run cannot finish before it is killed.
        server.faults.hold = release
        server.faults.hold_paths = {ws.whole.warehouse_tables[0]}
        proc = start(tmp_path, server, "--whole-workspace")
        try:
            kill_9_when(lambda: len(saved_results(tmp_path)) >= 10, proc,
                        "10 rows saved")
        finally:
            release.set()
        before = {row["username"] for row in saved_results(tmp_path) if row["status"] != "error"}
        header = journal_records(tmp_path / ".checkpoint_progress.json")[0]
        assert "dbfs:/user/hive/warehouse" in header["users"]
        assert not (tmp_path / "results_areas.csv").exists()  # nothing half-written
        server.faults.hold = None
        listed = dict(server.stats.listings)
        resumed = subprocess.run(
            [sys.executable, str(ROOT / SCRIPT), "--whole-workspace", "--resume"],
            cwd=tmp_path, env=clean_env(tmp_path, DATABRICKS_HOST=server.url,
                                        DATABRICKS_TOKEN=TOKEN),
            capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "RESUMING FROM CHECKPOINT" in resumed.stdout
        assert "DISCOVERY" not in resumed.stdout  # the recorded roots are continued
        check_exact(ws, tmp_path)
        # A root saved before the kill is not walked again.
        again = {key for key, count in server.stats.listings.items()
                 if count > listed.get(key, 0)}
        for name in before:
            if name.startswith("dbfs:") or name.startswith("workspace:"):
                fs, path = name.split(":", 1)
                assert (fs, path) not in again, name


def test_spark_mode_gives_the_same_inventory_and_a_kind_column(cli, serve, tmp_path,
                                                                spark_remote):
    ws = workspace(users=14)
    server = serve(ws, max_in_flight=10, error_rate=0.03)
    result = cli(SCRIPT, "--whole-workspace", "--spark-remote", spark_remote.url,
                 "--spark-only", "--output-table", "whole_inventory", server=server,
                 timeout=600)
    assert result.code == 0, result.output
    check_exact(ws, tmp_path)
    never_listed_inside_skipped(server, ws)
    assert "PARALLEL PROCESSING" in result.stdout
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(spark_remote.url).getOrCreate()
    try:
        kinds = {row["kind"]: row["n"] for row in spark.sql(
            "select kind, count(*) as n from whole_inventory group by kind").collect()}
    finally:
        spark.stop()
    assert kinds == {"user": len(expected_users(ws)), "area": len(expected_areas(ws))}


@pytest.mark.parametrize("target", ["results.csv", "folder"])
def test_areas_output_onto_the_results_or_a_directory_is_one_line(cli, serve, tmp_path,
                                                                   target):
    (tmp_path / "folder").mkdir()
    result = cli(SCRIPT, "--whole-workspace", "--areas-output", target,
                 server=serve(workspace(users=3)))
    assert result.code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--areas-output" in result.stderr
    assert not (tmp_path / "results.csv").exists() or target != "results.csv"


def test_a_dbfs_root_that_answers_403_is_one_line_and_no_output(cli, serve, tmp_path):
    ws = workspace(users=3)
    ws.dbfs.root.forbidden = True
    result = cli(SCRIPT, "--whole-workspace", server=serve(ws))
    assert result.code == 1, result.output
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and "cannot list dbfs:/" in error[0] and "403" in error[0]
    assert "--workspace-only" in error[0]
    assert not (tmp_path / "results.csv").exists()
    assert not (tmp_path / "results_areas.csv").exists()


def test_area_options_need_whole_workspace(cli, serve, tmp_path):
    result = cli(SCRIPT, "--all-homes", "--include-mounts", server=serve(workspace(users=3)))
    assert result.code == 2 and "--whole-workspace" in result.stderr


def test_the_journal_keeps_the_roots_and_no_secret(cli, serve, tmp_path):
    ws = workspace(users=5, forbidden_subtrees=0)
    server = serve(ws)
    result = cli(SCRIPT, "--whole-workspace", server=server)
    assert result.code == 0, result.output
    # Every folder listed once, and only the warehouse and dbfs:/user twice (named,
    # then walked: /user to find the users' folders there).
    assert sum(server.stats.listings.values()) == sum(whole_listings(ws).values())
    assert server.stats.duplicate_listings() == {("dbfs", "/user/hive/warehouse"): 2,
                                                 ("dbfs", "/user"): 2}
    header = journal_records(tmp_path / ".checkpoint_progress.json")[0]
    roots = header["meta"]["roots"]
    assert roots["dbfs:/user"]["places"] == [
        ["dbfs", "/user", ["/user/hive/warehouse"]
         + [f"/user/{name}" for name in user_folders(ws)]]]
    assert roots["dbfs:/mnt/datalake"]["skipped"]
    assert header["scope"]["whole_workspace"] is True
    assert TOKEN not in json.dumps(header)
