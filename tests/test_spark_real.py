"""Spark mode on a real Databricks cluster (issue 30): Spark only when asked, a version
mismatch named before any job, executors reading DBFS through its mount."""

from __future__ import annotations

import csv
import io

import pytest

from conftest import TOKEN
from fake_workspace import Workspace

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
