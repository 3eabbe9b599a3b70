"""Spark mode on a real Databricks cluster (issue 30): Spark only when asked, a version
mismatch named before any job, executors reading DBFS through its mount."""

from __future__ import annotations

import csv
import glob
import io
import shutil
import subprocess
import sys

import pytest

from conftest import TOKEN
from helpers import csv_rows, expected_rows, users_file
from dbx_inventory.errors import SparkFailure
from dbx_inventory.outputs.csv_files import iso_utc
from dbx_inventory.runners.spark.versions import Version, check_runtime
from dbx_inventory.scan.filesystems.dbfs_mount import MOUNT_ENV
from fake_workspace import Workspace, generate_workspace, write_dbfs_mount
from fake_workspace.truth import expected_areas, expected_users
from localspark import LocalSparkConnect

SCRIPT = "databricks_user_files_simple.py"
CLUSTER = "0101-000000-ideclus"
T0 = 1_700_000_000_000
USERS = ["ann@x.com", "bob@x.com"]


def small() -> Workspace:
    ws = Workspace()
    for name in USERS:
        ws.add_user(name)
    ws.dbfs.add_file("/Users/ann@x.com/a.csv", size=1000, mtime_ms=T0)
    ws.workspace.add_file("/Users/bob@x.com/b.py", size=20, mtime_ms=T0)
    ws.add_cluster(CLUSTER, state="RUNNING")
    return ws


def rows(path) -> dict[str, tuple[str, str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {r["username"]: (r["file_count"], r["total_size"], r["status"])
                for r in csv.DictReader(io.StringIO(handle.read()))}


EXACT = {"ann@x.com": ("1", "1000", "success"), "bob@x.com": ("1", "20", "success")}


# -- Spark only when asked --------------------------------------------------------------

@pytest.mark.parametrize("where", ["environment", "profile"])
def test_a_configured_cluster_alone_runs_locally_and_says_how_to_use_it(cli, serve, tmp_path,
                                                                        where):
    server = serve(small())
    if where == "environment":
        env = {"DATABRICKS_CLUSTER_ID": CLUSTER}
        source = "DATABRICKS_CLUSTER_ID"
    else:
        (tmp_path / "cfg").write_text(f"[dev]\nhost = {server.url}\ntoken = {TOKEN}\n"
                                      f"cluster_id = {CLUSTER}\n")
        env = {"DATABRICKS_CONFIG_FILE": str(tmp_path / "cfg"), "DATABRICKS_HOST": "",
               "DATABRICKS_TOKEN": "", "DATABRICKS_CONFIG_PROFILE": "dev"}
        source = "profile dev"
    result = cli(SCRIPT, *USERS, server=server, env=env)
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Mode: LOCAL (this machine, up to 20 requests in flight)" in lines
    hint = [line for line in lines if CLUSTER in line]
    assert hint == [f"Note: cluster {CLUSTER} (from {source}) is not used unless asked: "
                    f"add --cluster-id {CLUSTER} to scan on it"]
    assert "PARALLEL" not in result.output and "Spark" not in result.output
    assert rows(tmp_path / "results.csv") == EXACT
    assert not server.stats.by_endpoint["clusters/get"]


def test_cluster_id_flag_asks_for_spark(cli, serve, tmp_path):
    """The flag is a request: Spark mode, the cluster read first (here it is not running:
    named, then the local fallback)."""
    ws = small()
    ws.clusters[CLUSTER]["state"] = "TERMINATED"
    server = serve(ws)
    result = cli(SCRIPT, *USERS, "--cluster-id", CLUSTER, server=server)
    assert result.code == 0, result.output
    assert f"Mode: PARALLEL (using cluster {CLUSTER})" in result.stdout.splitlines()
    assert f"cluster {CLUSTER} is TERMINATED, not RUNNING" in result.stdout
    assert "is not used unless asked" not in result.output
    assert rows(tmp_path / "results.csv") == EXACT


# -- a mismatch is named before any job -------------------------------------------------

def other_python() -> str | None:
    """A real Python of another minor version than this one (pyenv's, Debian's), ≥ 3.10
    (what pyspark 4.3's worker code runs on)."""
    for path in sorted(glob.glob("/root/.pyenv/versions/3.*/bin/python3")
                       + glob.glob("/usr/bin/python3.1[0-9]"), reverse=True):
        probe = subprocess.run([path, "-c", "import sys; print(*sys.version_info[:2])"],
                               capture_output=True, text=True, timeout=30)
        if probe.returncode != 0:
            continue
        major, minor = map(int, probe.stdout.split())
        if major == 3 and minor >= 10 and minor != sys.version_info[1]:
            return path
    return None


@pytest.fixture(scope="module")
def other_spark():
    """A local Spark Connect server whose executors run another Python minor version."""
    python = other_python()
    if python is None:
        pytest.skip("no Python of another minor version on this machine")
    with LocalSparkConnect("local[2]", python=python) as server:
        version = subprocess.run([python, "-c", "import sys; print('%d.%d' % "
                                  "sys.version_info[:2])"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
        yield server, version


@pytest.mark.parametrize("no_fallback", [False, True], ids=["fallback", "no-fallback"])
def test_executors_on_another_python_are_named_then_the_run_ends_locally(
        cli, serve, tmp_path, other_spark, no_fallback):
    spark, theirs = other_spark
    ours = "%d.%d" % sys.version_info[:2]
    ws = generate_workspace(12, seed=30)
    server = serve(ws, latency_s=0.02)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-remote", spark.url,
                 "-o", "out.csv", *(["--no-fallback"] if no_fallback else []),
                 server=server, timeout=240)
    assert "Traceback" not in result.output, result.output[-3000:]
    line = (f"the executors run Python {theirs}, this client Python {ours} (PySpark needs "
            f"the same minor version): run this tool from a Python {theirs} environment")
    said = [text for text in result.output.splitlines() if line in text]
    assert len(said) == 1, result.output[-3000:]
    assert "PYTHON_VERSION_MISMATCH" not in result.output  # one line of ours, not Spark's
    if no_fallback:
        assert result.code == 1, result.output[-3000:]
        assert result.stderr.strip().splitlines() == said
    else:
        assert result.code == 0, result.output[-3000:]
        assert said[0].startswith("⚠ Spark: ")
        assert "Mode: LOCAL (fallback" in result.stdout
        assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
        assert "Scanned on Spark: 0 users" in result.stdout.splitlines()
    assert TOKEN not in result.output


def test_a_cluster_runtime_for_another_python_is_named_before_any_session(cli, serve,
                                                                          tmp_path):
    """clusters/get says the runtime: DBR 16.4 runs Python 3.12 (DBR 15.4 LTS: 3.11)."""
    ws = small()
    theirs = "3.11" if sys.version_info[:2] != (3, 11) else "3.12"
    runtime = "15.4" if theirs == "3.11" else "16.4"
    ws.clusters[CLUSTER]["spark_version"] = f"{runtime}.x-scala2.12"
    server = serve(ws)
    result = cli(SCRIPT, *USERS, "--cluster-id", CLUSTER, server=server)
    assert result.code == 0, result.output
    ours = "%d.%d" % sys.version_info[:2]
    assert (f"⚠ Spark: cluster {CLUSTER} runs Databricks Runtime {runtime} with Python "
            f"{theirs}, this client Python {ours}: run this tool from a Python {theirs} "
            f"environment with databricks-connect=={runtime}.*") in result.stdout
    assert "cannot start Spark" not in result.stdout  # named before any gRPC
    assert rows(tmp_path / "results.csv") == EXACT


def test_databricks_connect_newer_than_the_runtime_is_named():
    with pytest.raises(SparkFailure, match=r"databricks-connect 16\.1 is newer than "
                       r"cluster c-1's Databricks Runtime 15\.4: run this tool from a "
                       r"Python 3\.11 environment with databricks-connect==15\.4\.\*"):
        check_runtime("c-1", "15.4.x-scala2.12", client=Version(3, 11),
                      dbconnect=Version(16, 1))
    check_runtime("c-1", "15.4.x-cpu-ml-scala2.12", client=Version(3, 11),
                  dbconnect=Version(15, 4))
    check_runtime("c-1", "99.1.x-scala2.13", client=Version(3, 11))  # unknown: the probe


def test_a_resizing_cluster_is_accepted(cli, serve, tmp_path):
    """RESIZING is a running cluster (autoscaling): the run goes on to its endpoint
    (here the fake's, which speaks no gRPC), instead of refusing the state."""
    ws = small()
    ws.clusters[CLUSTER]["state"] = "RESIZING"
    server = serve(ws)
    result = cli(SCRIPT, *USERS, "--cluster-id", CLUSTER, server=server, timeout=120)
    assert result.code == 0, result.output
    assert "RESIZING" not in result.output
    assert "⚠ Spark: cannot start Spark" in result.stdout
    assert rows(tmp_path / "results.csv") == EXACT


# -- executors read DBFS through the cluster's DBFS mount -------------------------------

def mount_world(users: int = 14, seed: int = 32, **options):
    """Varied homes, odd names, empty folders, huge sparse files, and one DBFS directory
    too large for dbfs/list (more than ~10,000 entries)."""
    ws = generate_workspace(users, seed=seed, forbidden_subtrees=0, **options)
    first = ws.users[0].user_name
    home = f"/Users/{first}"
    ws.dbfs.add_file(f"{home}/dir #2 é/数据 🚀 50%.csv", size=42, mtime_ms=T0 + 7)
    ws.dbfs.add_file(f"{home}/huge.bin", size=3 * 1024 ** 4, mtime_ms=T0 + 9_000)
    ws.dbfs.mkdir(f"{home}/empty/deeper")
    for number in range(10_050):
        ws.dbfs.add_file(f"/Users/{ws.users[1].user_name}/_delta_log/{number:020d}.json",
                         size=number % 700, mtime_ms=T0 + number)
    return ws


@pytest.fixture(scope="module")
def mount_spark(tmp_path_factory):
    """A local Spark Connect server whose executors see DBFS mounted at `mount`."""
    mount = tmp_path_factory.mktemp("dbfs-mount") / "dbfs"
    with LocalSparkConnect("local[2]", env={MOUNT_ENV: str(mount)}, preload=True) as server:
        yield server, mount


def dbfs_listed(server) -> list[str]:
    return sorted(path for fs, path in server.stats.listing_attempts if fs == "dbfs")


def test_executors_read_dbfs_through_its_mount_exactly(cli, serve, tmp_path, mount_spark):
    spark, mount = mount_spark
    ws = mount_world()
    write_dbfs_mount(ws.dbfs, mount)
    server = serve(ws, latency_s=0.01)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-remote", spark.url,
                 "--spark-only", "--debug", "-o", "out.csv", "--extended", server=server,
                 timeout=300)
    assert result.code == 0, result.output[-3000:]
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        got = {r["username"]: (r["dbfs_files"], r["dbfs_bytes"], r["last_modified"])
               for r in csv.DictReader(handle)}
    assert got == {t.username: (str(t.dbfs_files), str(t.dbfs_bytes), iso_utc(t.newest_mtime_ms))
                   for t in ws.truths()}
    assert dbfs_listed(server) == []  # every DBFS place was read through the mount
    assert server.stats.listings  # the Workspace side still goes through its API
    said = {line for line in result.stdout.splitlines() if line.startswith("[DBFS] ")}
    assert said and all(line.endswith(f"reads DBFS through the DBFS mount at {mount}")
                        for line in said), result.stdout[-3000:]
    assert TOKEN not in result.output


def test_without_a_mount_executors_use_the_rest_api_and_say_so(cli, serve, tmp_path,
                                                              mount_spark):
    spark, mount = mount_spark
    ws = generate_workspace(6, seed=33, forbidden_subtrees=0)
    if mount.exists():
        shutil.rmtree(mount)
    server = serve(ws, latency_s=0.01)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-remote", spark.url,
                 "--spark-only", "--debug", "-o", "out.csv", server=server, timeout=300)
    assert result.code == 0, result.output[-3000:]
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert dbfs_listed(server)
    said = {line for line in result.stdout.splitlines() if line.startswith("[DBFS] ")}
    assert said and all(line.endswith(f"reads DBFS through the REST API (no DBFS mount at "
                                      f"{mount})") for line in said), result.stdout[-3000:]


def test_whole_workspace_reads_dbfs_through_the_mount_exactly(cli, serve, tmp_path,
                                                              mount_spark):
    """Every place of both file systems, as the REST walk counts them; the only DBFS
    listings are this machine's, to find the places (the root and the containers)."""
    spark, mount = mount_spark
    ws = mount_world(users=10, seed=34, whole_workspace=True)
    write_dbfs_mount(ws.dbfs, mount)
    server = serve(ws, latency_s=0.01)
    result = cli(SCRIPT, "--whole-workspace", "--spark-remote", spark.url, "--spark-only",
                 "-o", "out.csv", server=server, timeout=300)
    assert result.code == 0, result.output[-3000:]
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        users = {r["username"]: (int(r["file_count"]), int(r["total_size"]))
                 for r in csv.DictReader(handle)}
    assert users == expected_users(ws)
    with open(tmp_path / "out_areas.csv", encoding="utf-8", newline="") as handle:
        areas = {(r["file_system"], r["path"]): (int(r["file_count"]), int(r["total_size"]),
                                                 r["status"]) for r in csv.DictReader(handle)}
    assert areas == expected_areas(ws)
    listed = dbfs_listed(server)
    assert "/Users/" + ws.users[1].user_name + "/_delta_log" not in listed
    # This machine's discovery of the places (dbfs:/user too: the users' folders there join
    # their rows); no listing inside a place.
    assert listed == ["/", "/FileStore/shared_uploads", "/Users", "/mnt", "/user",
                      "/user/hive/warehouse"]


def big_dir(ws) -> str:
    return f"/Users/{ws.users[1].user_name}/_delta_log"  # 10,050 entries: see mount_world


@pytest.mark.parametrize("mounted", [True, False], ids=["mount", "no-mount"])
def test_a_directory_too_large_met_here_is_counted_by_the_cluster(cli, serve, tmp_path,
                                                                  mount_spark, mounted):
    """This machine scans the first users while the executors start (a fifth: users 0
    and 1 of 14); user 1's _delta_log is refused by dbfs/list (tried twice, as issue 27
    says). With a mount on the executors, that directory goes to the cluster and the row
    is exact; without one, it stays the error it was, not tried a third time. Every
    other listing is made once: no user is scanned twice."""
    spark, mount = mount_spark
    ws = mount_world()
    if mounted:
        write_dbfs_mount(ws.dbfs, mount)
    elif mount.exists():
        shutil.rmtree(mount)
    server = serve(ws, latency_s=0.01, too_large_entries=10_000, too_large_delay_s=0.05)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-remote", spark.url,
                 "-o", "out.csv", server=server, timeout=300)
    assert result.code == 0, result.output[-3000:]
    big = big_dir(ws)
    attempts = server.stats.listing_attempts
    assert attempts[("dbfs", big)] == 2  # met here (users 0 and 1 are this machine's)
    assert {key: n for key, n in attempts.items() if n != 1} == {("dbfs", big): 2}
    got = csv_rows(tmp_path / "out.csv")
    want = expected_rows(ws, names)
    assert [row[0] for row in got] == [row[0] for row in want]  # one row each
    owner = ws.users[1].user_name
    if mounted:
        assert got == want
    else:
        row = next(r for r in read_rows(tmp_path / "out.csv") if r["username"] == owner)
        assert row["status"] == "error", row
        assert f"dbfs:{big} is too large for the DBFS REST API" in row["error"]
        assert [r for r in got if r[0] != owner] == [r for r in want if r[0] != owner]
    assert TOKEN not in result.output


def read_rows(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# -- long runs keep their credentials ---------------------------------------------------

@pytest.mark.parametrize("sign_in", ["oauth-m2m", "pat"])
def test_a_session_that_cannot_be_renewed_is_said_at_the_start(cli, serve, tmp_path, sign_in):
    """Under OAuth, the open-source client's session holds one access token (an hour):
    said before the run goes far. A personal access token has nothing to renew."""
    ws = small()
    server = serve(ws)
    env = {}
    if sign_in == "oauth-m2m":
        secret = "dose-RENEWAL-M2M-SECRET-77c1"
        server.oauth.register("sp-renewal", secret)
        env = {"DATABRICKS_TOKEN": "", "DATABRICKS_CLIENT_ID": "sp-renewal",
               "DATABRICKS_CLIENT_SECRET": secret}
    result = cli(SCRIPT, *USERS, "--cluster-id", CLUSTER, server=server, env=env,
                 timeout=120)
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    notes = [line for line in lines if "cannot renew" in line]
    if sign_in == "pat":
        assert notes == []
    else:
        assert notes == ["Note: the Spark session signs in with an OAuth access token that "
                         "lives about an hour and this client cannot renew it: past that the "
                         "session is lost and the rest is scanned here (the executors' tokens "
                         "are renewed); for long runs use databricks-connect with client "
                         "credentials, or a personal access token"]
        assert lines.index(notes[0]) < next(i for i, line in enumerate(lines)
                                            if line.startswith("⚠ Spark"))
    assert rows(tmp_path / "results.csv") == EXACT
