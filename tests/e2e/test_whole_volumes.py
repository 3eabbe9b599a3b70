"""Unity Catalog volumes in --whole-workspace, end to end: every volume an area with its
owner, exactly, under faults and an in-flight cap, after kill -9 and --resume, on Spark,
in --dirs-output; external volumes named with their location and never listed inside
unless --include-external; the volume answering 403 an error naming it; user rows and
the other areas as they were. Expected figures from fake_workspace/volume_truth.py.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import threading

from conftest import ROOT, TOKEN, clean_env
from fake_workspace import FakeWorkspaceServer, add_unity_catalog, generate_workspace
from fake_workspace.truth import expected_users
from fake_workspace.unity import EXTERNAL
from fake_workspace.volume_truth import (VOLUME_ALIASES, discoverable, expected_areas,
                                         expected_volume_dirs, volume_listings,
                                         volume_requests)
from helpers import kill_9_when, saved_results

SCRIPT = "databricks_user_files_simple.py"
PAYROLL = "/Volumes/main/finance/payroll"
CATS = "/Volumes/ml/features/training_images/cats"


def workspace(seed: int = 21, users: int = 10, big: int = 2400):
    ws = generate_workspace(users, seed=seed, whole_workspace=True, forbidden_subtrees=0)
    add_unity_catalog(ws, seed=seed, big_volume_files=big)
    return ws


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def check_exact(ws, folder, include_external=False):
    users = read(folder / "results.csv")
    assert {row["username"]: (int(row["file_count"]), int(row["total_size"]))
            for row in users} == expected_users(ws)
    rows = read(folder / "results_areas.csv")
    assert list(rows[0])[-1] == "owner"
    got = {(row["file_system"], row["path"]): (int(row["file_count"]),
                                               int(row["total_size"]), row["status"],
                                               row["owner"]) for row in rows}
    assert got == expected_areas(ws, include_external)
    return {row["path"]: row for row in rows if row["file_system"] == "volumes"}


def external_paths(ws):
    return [v.path for v in discoverable(ws) if v.volume_type == EXTERNAL]


def listed_inside(server, places):
    return [path for fs, path in server.stats.listing_attempts if fs == "volumes"
            and any(path == place or path.startswith(place + "/") for place in places)]


def test_every_volume_is_an_exact_area_with_its_owner_under_faults(cli, serve, tmp_path):
    ws = workspace()
    server = serve(ws, max_in_flight=8, error_rate=0.05, latency_s=0.002)
    result = cli(SCRIPT, "--whole-workspace", "--concurrency", "12", server=server)
    assert result.code == 0, result.output
    volumes = check_exact(ws, tmp_path)
    for path in external_paths(ws):
        assert volumes[path]["status"] == "skipped"
        location = next(v.storage_location for v in discoverable(ws) if v.path == path)
        assert location in volumes[path]["error"]
        assert "--include-external" in volumes[path]["error"]
    assert listed_inside(server, external_paths(ws)) == []
    assert "403" in volumes[PAYROLL]["error"] and PAYROLL in volumes[PAYROLL]["error"]
    # The catalog and the schema the token cannot read are warnings naming them.
    assert "⚠ cannot list the schemas of catalog restricted" in result.stdout
    assert "⚠ cannot list the volumes of schema main.hr" in result.stdout
    assert not any(row["file_system"] == "dbfs" and row["path"] in VOLUME_ALIASES
                   for row in read(tmp_path / "results_areas.csv"))
    # The walked volumes: every folder listed once, however many pages.
    assert sum(n for (fs, _), n in server.stats.listings.items()
               if fs == "volumes") == volume_listings(ws)
    assert "Scanning: DBFS, WORKSPACE, VOLUMES" in result.stdout
    assert TOKEN not in result.output


def test_include_external_walks_external_volumes_and_mounts(cli, serve, tmp_path):
    ws = workspace(users=5, big=300)
    server = serve(ws)
    result = cli(SCRIPT, "--whole-workspace", "--include-external", server=server)
    assert result.code == 0, result.output
    assert "⚠ --include-external: walking 2 external volumes" in result.stdout
    volumes = check_exact(ws, tmp_path, include_external=True)
    assert all(volumes[path]["status"] == "success" for path in external_paths(ws))
    # Every page once: what the bench counts as the volumes' least requests.
    assert server.stats.by_endpoint["fs/directories"] == volume_requests(ws, True)
    again = tmp_path / "alias"
    again.mkdir()
    result = cli(SCRIPT, "--whole-workspace", "--include-mounts", "-o", "alias/results.csv",
                 server=serve(ws))
    assert result.code == 0, result.output
    check_exact(ws, again, include_external=True)


def test_without_volumes_the_dbfs_aliases_stay_skipped(cli, serve, tmp_path):
    ws = workspace(users=4, big=50)
    server = serve(ws)
    result = cli(SCRIPT, "--whole-workspace", "--file-systems", "dbfs,workspace",
                 server=server)
    assert result.code == 0, result.output
    rows = {(r["file_system"], r["path"]): r for r in read(tmp_path / "results_areas.csv")}
    assert rows[("dbfs", "/Volumes")]["status"] == "skipped"
    assert not any(fs == "volumes" for fs, _ in rows)
    assert not any(key.startswith("unity-catalog") or key.startswith("fs/")
                   for key in server.stats.by_endpoint)


def test_bad_file_systems_are_one_line(cli, serve, tmp_path):
    server = serve(workspace(users=2, big=10))
    for args in (["--file-systems", "dbfs,s3", "--whole-workspace"],
                 ["--file-systems", "volumes"], ["--file-systems", ","],
                 ["--file-systems", "dbfs", "--dbfs-only"]):
        result = cli(SCRIPT, *args, server=server)
        assert result.code == 2, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert server.stats.total_requests == 0


def test_workspace_and_volumes_only(cli, serve, tmp_path):
    ws = workspace(users=4, big=50)
    server = serve(ws)
    result = cli(SCRIPT, "--whole-workspace", "--file-systems", "workspace,volumes",
                 server=server)
    assert result.code == 0, result.output
    rows = read(tmp_path / "results_areas.csv")
    assert {row["file_system"] for row in rows} == {"workspace", "volumes"}
    assert not any(fs == "dbfs" for fs, _ in server.stats.listing_attempts)


def volume_dirs(path) -> set[tuple]:
    """The --dirs-output rows below volumes, in volume_truth.expected_volume_dirs' shape."""
    with open(path, newline="", encoding="utf-8") as handle:
        return {(r["owner"], r["file_system"], r["root"], r["path"], int(r["depth"]),
                 int(r["file_count"]), int(r["total_size"]), bool(r["error"]))
                for r in csv.DictReader(handle) if r["file_system"] == "volumes"}



def test_kill_9_then_resume_gives_the_exact_volumes(tmp_path):
    ws = workspace()
    release = threading.Event()
    env = None
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        server.faults.error_rate = 0.03
        # The big volume's largest folder is held: the run cannot finish before the kill.
        server.faults.hold = release
        server.faults.hold_paths = {CATS}
        env = clean_env(tmp_path, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
        args = [sys.executable, str(ROOT / SCRIPT), "--whole-workspace", "--dirs-output",
                "dirs.csv"]
        proc = subprocess.Popen(args, cwd=tmp_path, env=env,
                                stdout=open(tmp_path / "stdout.txt", "w"),
                                stderr=open(tmp_path / "stderr.txt", "w"))
        try:
            kill_9_when(lambda: any(row["username"].startswith("volumes:") and
                                       row["status"] == "success"
                                       for row in saved_results(tmp_path)), proc,
                        "volume saved")
        finally:
            release.set()
        before = {row["username"] for row in saved_results(tmp_path) if row["status"] == "success"}
        assert not (tmp_path / "results_areas.csv").exists()
        server.faults.hold = None
        listed = dict(server.stats.listings)
        resumed = subprocess.run(args + ["--resume"], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "DISCOVERY" not in resumed.stdout  # the recorded volumes are continued
        check_exact(ws, tmp_path)
        again = {key for key, count in server.stats.listings.items()
                 if count > listed.get(key, 0)}
        for name in before:
            if name.startswith("volumes:"):
                assert ("volumes", name.split(":", 1)[1]) not in again, name
        assert volume_dirs(tmp_path / "dirs.csv") == expected_volume_dirs(ws, 3)


def test_spark_mode_gives_the_same_volumes_and_an_owner_column(cli, serve, tmp_path,
                                                               spark_remote):
    ws = workspace(users=8, big=1500)
    server = serve(ws, max_in_flight=10, error_rate=0.03)
    result = cli(SCRIPT, "--whole-workspace", "--spark-remote", spark_remote.url,
                 "--spark-only", "--output-table", "volume_inventory", "--dirs-output",
                 "dirs.csv", server=server, timeout=600)
    assert result.code == 0, result.output
    check_exact(ws, tmp_path)
    assert listed_inside(server, external_paths(ws)) == []
    assert volume_dirs(tmp_path / "dirs.csv") == expected_volume_dirs(ws, 3)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(spark_remote.url).getOrCreate()
    try:
        owners = {row["username"]: row["owner"] for row in spark.sql(
            "select username, owner from volume_inventory where kind = 'area'").collect()}
    finally:
        spark.stop()
    for key, (_, _, _, owner) in expected_areas(ws).items():
        assert owners[f"{key[0]}:{key[1]}"] == (owner or None)


def test_no_metastore_is_one_line_and_the_dbfs_aliases_stay_skipped(cli, serve, tmp_path):
    ws = generate_workspace(4, seed=22, whole_workspace=True)  # no Unity Catalog
    result = cli(SCRIPT, "--whole-workspace", server=serve(ws))
    assert result.code == 0, result.output
    assert "  Unity Catalog: not available on this workspace (404 " in result.stdout
    rows = {(r["file_system"], r["path"]): r for r in read(tmp_path / "results_areas.csv")}
    assert rows[("dbfs", "/Volumes")]["status"] == "skipped"
    assert not any(fs == "volumes" for fs, _ in rows)
