#!/usr/bin/env python3
"""Spark mode against its lower bound, next to the local mode on the same shapes.

The shapes are bench.py's (issue 10): `rates` (per-family rate limits without
Retry-After, cap 20, 10 ms) and `in-flight` (cap 20, 50 ms, bound 15.5 s). Each runs
in local mode, then with --spark-remote on a local Spark Connect server the bench
starts (`--spark-master`, default local[4]). Counts are checked against the truth;
every run also says when its first user, and half of its users, reached the console
(from its checkpoint journal, see bench.JournalWatch).

By default the server has answered one SQL query before the runs, as the driver of a
running cluster has (its JVM warm; the Python workers still start cold: every session
pays that). `--cold` skips it: the first run then also pays the JVM's warm-up.

The shapes get more users here (700 and 800, SPARK_USERS) so that the executors have
work once they are up. Targets (Spark mode, issue 21): within 1.25 x the bound (rates)
and 1.40 x (in-flight), 429s under 5% of the listings, the first user within 15 s, half
the users before 70% of the run, at least 80% of the users scanned on Spark (from the
run's SUMMARY), results exact. Figures go to bench-results/bench-spark-<timestamp>.json.

The mount shapes (issue 30) are DBFS-heavy worlds at the published rates (DBFS 30/s)
whose DBFS the server's executors also see as files (DBX_INVENTORY_DBFS_MOUNT, sparse
files written by the fake), as a Databricks cluster sees DBFS at /dbfs: Spark mode
against the REST bound, under 0.5 x for homes (`dbfs-mount`) and under 1.0 x for
--whole-workspace (`dbfs-mount-whole`, whose Workspace side still goes through its API).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import (RESULTS_DIR, ROOT, SHAPES, Shape, dbfs_heavy_workspace,  # noqa: E402
                   new_run, print_table, run_shape, verdict)
from dbx_inventory.scan.filesystems.dbfs_mount import MOUNT_ENV  # noqa: E402
from fake_workspace import (add_whole_workspace, generate_uniform,  # noqa: E402
                            generate_workspace, write_dbfs_mount)
from fake_workspace.faults import PUBLISHED_RATE_LIMITS  # noqa: E402

TARGETS = {"rates": 1.25, "in-flight": 1.40}   # x bound, Spark mode
TARGET_429_PCT = 5.0
TARGET_FIRST_S = 15.0
TARGET_HALF_SHARE = 0.70
TARGET_ON_SPARK = 0.80   # users scanned on executors, not on this machine
# The shapes grown so that the executors have work after they start (issue 21).
SPARK_USERS = {"rates": 700, "in-flight": 800}
MOUNT_TARGETS = {"dbfs-mount": 0.5, "dbfs-mount-whole": 1.0}  # x the REST bound
MOUNT_USERS = 400


def mount_shapes(mount: Path) -> list:
    """DBFS-heavy worlds whose DBFS is also written under `mount` when built."""
    def homes():
        ws = dbfs_heavy_workspace(MOUNT_USERS, seed=3)
        write_dbfs_mount(ws.dbfs, mount)
        return ws

    def whole():
        ws = dbfs_heavy_workspace(MOUNT_USERS, seed=3)
        add_whole_workspace(ws, seed=3)
        write_dbfs_mount(ws.dbfs, mount)
        return ws

    limits = dict(PUBLISHED_RATE_LIMITS)
    title = (f"{MOUNT_USERS} users, most with a large DBFS home, at the published rates "
             "(DBFS 30/s), 40 ms, DBFS also mounted on the executors")
    return [Shape("dbfs-mount", title, homes, latency_s=0.040, family_limits=limits,
                  retry_after=None),
            Shape("dbfs-mount-whole", "--whole-workspace, " + title, whole, latency_s=0.040,
                  family_limits=limits, retry_after=None, whole=True)]


def spark_shape(shape):
    """bench.py's shape with SPARK_USERS users (same generator, same limits)."""
    users = SPARK_USERS[shape.name]
    if shape.name == "rates":
        build = lambda: generate_workspace(users, seed=1, forbidden_subtrees=0,  # noqa: E731
                                           missing_both=0)
    else:
        build = lambda: generate_uniform(users, 4, 10, seed=4)  # noqa: E731
    return dataclasses.replace(shape, build=build,
                               title=shape.title.replace(str(_users(shape)), str(users)))


def _users(shape) -> int:
    return {"rates": 600, "in-flight": 620}[shape.name]


def on_spark_share(log: Path) -> float | None:
    """Share of the users the run's SUMMARY says were scanned on Spark."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    spark = re.search(r"Scanned on Spark: (\d+) user", text)
    here = re.search(r"Scanned on this machine[^:]*: (\d+) user", text)
    if spark is None:
        return None
    done = int(spark.group(1)) + (int(here.group(1)) if here else 0)
    return int(spark.group(1)) / done if done else None


def warm_jvm(url: str) -> float:
    """One SQL query on the server (no Python worker): seconds it took."""
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    spark = SparkSession.builder.remote(url).getOrCreate()
    spark.range(1).collect()
    spark.stop()
    return time.perf_counter() - started


def checks(run: dict, limit: float) -> dict:
    """(measured, target, met) per Spark-mode target."""
    r, extra = run["result"], run["result"].extra
    first, half = extra.get("first_user_s"), extra.get("half_share")
    ratio = r.ratio_to_bound
    return {
        "x_bound": (ratio, limit, ratio is not None and ratio <= limit),
        "429_pct": (run["throttled_pct"], TARGET_429_PCT,
                    run["throttled_pct"] < TARGET_429_PCT),
        "first_user_s": (first, TARGET_FIRST_S, first is not None and first <= TARGET_FIRST_S),
        "half_share": (half, TARGET_HALF_SHARE, half is not None and half <= TARGET_HALF_SHARE),
        "match": (r.match, True, r.match),
        "on_spark": (run.get("on_spark"), TARGET_ON_SPARK,
                     (run.get("on_spark") or 0) >= TARGET_ON_SPARK),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(TARGETS) + sorted(MOUNT_TARGETS),
                        action="append", help="run only this shape (repeatable; default all)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--spark-master", default="local[4]")
    parser.add_argument("--cold", action="store_true",
                        help="do not warm the server's JVM before the runs")
    parser.add_argument("--no-local", action="store_true", help="skip the local-mode runs")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from localspark import LocalSparkConnect

    stamp, run_dir = new_run("run-spark")
    print(f"bench_spark: run {stamp} on {platform.node()} ({os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}), "
          f"Spark {args.spark_master}, JVM {'cold' if args.cold else 'warmed'}")
    wanted = args.shape or sorted(TARGETS) + sorted(MOUNT_TARGETS)
    mount = run_dir / "executors-dbfs"  # the executors' DBFS, written by a mount shape
    report: dict = {"timestamp": stamp, "load_at_start": os.getloadavg()[0],
                    "spark_master": args.spark_master, "jvm_warmed": not args.cold,
                    "shapes": {}, "targets": {}}
    spark = LocalSparkConnect(args.spark_master, env={MOUNT_ENV: str(mount)}).start()
    try:
        if not args.cold:
            print(f"JVM warmed with one SQL query in {warm_jvm(spark.url):.1f}s")
        shapes = [spark_shape(s) for s in SHAPES if s.name in wanted] \
            + [s for s in mount_shapes(mount) if s.name in wanted]
        for shape in shapes:
            shutil.rmtree(mount, ignore_errors=True)  # only a mount shape's build writes it
            runs = [] if args.no_local else [
                run_shape(shape, run_dir, concurrency=args.concurrency, tag="local")]
            runs.append(run_shape(shape, run_dir, concurrency=args.concurrency,
                                  spark_remote=spark.url, tag="spark"))
            runs[-1]["on_spark"] = on_spark_share(
                run_dir / shape.name / f"{shape.name}-spark.log")
            print()
            print_table([run["result"] for run in runs])
            report["shapes"][shape.name] = [dict(run, result=asdict(run["result"]))
                                            for run in runs]
            report["targets"][shape.name] = checks(
                runs[-1], TARGETS.get(shape.name) or MOUNT_TARGETS[shape.name])
    finally:
        spark.stop()
    print("\nTargets (Spark mode):")
    for name, found in report["targets"].items():
        for check, (measured, target, met) in found.items():
            shown = f"{measured:.2f}" if isinstance(measured, float) else str(measured)
            print(f"  {name} {check}: {shown} (target {target}) -> {verdict(met)}")
    out = RESULTS_DIR / f"bench-spark-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nFigures: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
