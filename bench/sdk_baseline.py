#!/usr/bin/env python3
"""The baseline a user would write with the official databricks-sdk: user by user,
`w.dbfs.list(home, recursive=True)` then `w.workspace.list(home, recursive=True)`.

Run by bench/bench.py with the python of .venv-bench (databricks-sdk + requests).
The token comes from DATABRICKS_TOKEN (never argv). Writes one JSON object:
{"users": {name: {dbfs_files, dbfs_bytes, workspace_files, workspace_bytes, error}}}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
from databricks.sdk.service.workspace import ObjectType


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--users-file", required=True)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    users = [line.strip() for line in open(args.users_file, encoding="utf-8")
             if line.strip() and not line.startswith("#")]
    w = WorkspaceClient(host=args.host, token=os.environ["DATABRICKS_TOKEN"])
    results = {}
    started = time.perf_counter()
    for user in users:
        home = f"/Users/{user}"
        row = {"dbfs_files": 0, "dbfs_bytes": 0, "workspace_files": 0,
               "workspace_bytes": 0, "error": ""}
        try:
            for info in w.dbfs.list(home, recursive=True):
                if not info.is_dir:
                    row["dbfs_files"] += 1
                    row["dbfs_bytes"] += info.file_size or 0
        except NotFound:
            pass
        except Exception as exc:  # noqa: BLE001 - a baseline records and moves on
            row["error"] += f"dbfs: {type(exc).__name__}: {exc}; "
        try:
            for obj in w.workspace.list(home, recursive=True):
                if obj.object_type in (ObjectType.DIRECTORY, ObjectType.REPO):
                    continue
                row["workspace_files"] += 1
                row["workspace_bytes"] += obj.size or 0
        except NotFound:
            pass
        except Exception as exc:  # noqa: BLE001
            row["error"] += f"workspace: {type(exc).__name__}: {exc}; "
        results[user] = row
    elapsed = time.perf_counter() - started
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump({"users": results, "scan_s": elapsed}, handle)
    print(f"sdk baseline: {len(users)} users in {elapsed:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
