#!/usr/bin/env python3
"""End-to-end demo on an emulated workspace: no Databricks account needed.

Starts the project's fake workspace (SCIM, Workspace and DBFS APIs served over real
HTTP on 127.0.0.1, with latency and some throttling; it has inactive users, removed
users' homes and a service principal), writes a config profile for it, then runs the
recommended workflow exactly as a user would: `--whole-workspace --report` (every SCIM
user, every home folder, every other place of the Workspace and the DBFS root and every
Unity Catalog volume as an area, with an HTML report). --spark also starts a local Spark Connect
server, runs the parallel mode against it and appends the results to a Spark table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from fake_workspace import FakeWorkspaceServer, add_unity_catalog, generate_workspace

HERE = Path(__file__).resolve().parent
DEMO_TOKEN = "dapi-demo-0000000000000000"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=60, help="users in the fake workspace")
    parser.add_argument("--spark", action="store_true",
                        help="also run the parallel mode on a local Spark Connect server")
    parser.add_argument("--out", default="demo-out", help="folder for the demo's files")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    # Beyond the homes: Git folders, uploads, /Shared, the DBFS root's areas and its
    # Hive warehouse, two mount points and the sample datasets (--whole-workspace).
    workspace = generate_workspace(args.users, seed=7, whole_workspace=True)
    # Unity Catalog: managed and external volumes of users, a group and a service
    # principal, a catalog and a schema the token cannot read, a volume answering 403.
    add_unity_catalog(workspace, seed=7)
    with FakeWorkspaceServer(workspace, token=DEMO_TOKEN) as server:
        server.faults.latency_s = 0.01
        server.faults.max_in_flight = 20       # like a real workspace: 429 beyond ~20
        config = out / "databrickscfg"
        config.write_text(f"[DEMO]\nhost = {server.url}\ntoken = {DEMO_TOKEN}\n")
        config.chmod(0o600)
        env = dict(os.environ, DATABRICKS_CONFIG_FILE=str(config))
        for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLUSTER_ID",
                     "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_WORKSPACE_URL", "SPARK_REMOTE"):
            env.pop(name, None)
        print(f"# Emulated workspace at {server.url} (profile DEMO in {config})\n", flush=True)
        users = out / "users.csv"
        report = out / "report.html"
        steps = [
            ["databricks_user_list.py", "--profile", "DEMO", "--output", str(users)],
            ["databricks_user_files_simple.py", "--whole-workspace", "--report", str(report),
             "--profile", "DEMO", "--output", str(out / "results.csv"), "--checkpoint",
             str(out / "checkpoint.json"), "--extended"],
        ]
        spark = None
        if args.spark:
            from localspark import LocalSparkConnect

            warehouse = (out / "spark-warehouse").resolve()
            # Each demo's server starts with an empty catalog: a table folder left by the
            # previous demo would make Spark refuse to create the table again.
            shutil.rmtree(warehouse, ignore_errors=True)
            spark = LocalSparkConnect("local[4]", extra_conf={
                "spark.sql.warehouse.dir": str(warehouse)}).start()
            # --spark-only: a workspace this small would be done on this machine before
            # the executors are up, and this step is here to show them at work.
            steps.append(["databricks_user_files_simple.py", "--whole-workspace", "--profile",
                          "DEMO", "--spark-only", "--spark-remote", spark.url, "--output",
                          str(out / "results-spark.csv"), "--checkpoint",
                          str(out / "checkpoint-spark.json"), "--output-table",
                          "demo_inventory", "--debug"])
        try:
            for step in steps:
                print(f"$ python {' '.join(step)}", flush=True)
                code = subprocess.call([sys.executable, str(HERE / step[0]), *step[1:]],
                                       env=env)
                print(flush=True)
                if code != 0:
                    print(f"demo step failed with exit code {code}", file=sys.stderr)
                    return code
        finally:
            if spark is not None:
                spark.stop()
        print(f"# Done. Results: {out / 'results.csv'}"
              + (f" and {out / 'results-spark.csv'} (also in the Spark table demo_inventory)"
                 if spark else ""))
        print(f"# Report: open {report.resolve().as_uri()} in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
