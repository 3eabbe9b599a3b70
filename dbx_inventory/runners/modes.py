"""Where a scan runs: this machine, or a Spark cluster through Spark Connect."""

from __future__ import annotations

import os
from dataclasses import dataclass

from dbx_inventory.humanize import plural


@dataclass(frozen=True)
class Mode:
    """Where the scan runs; `describe` is what the banner says."""

    spark: bool
    describe: str
    cluster_id: str | None = None
    remote: str | None = None
    tasks: int | None = None  # Spark tasks that run at once, when the user knows better
    spark_only: bool = False  # this machine scans nothing while the executors start
    hint: str | None = None  # one line under the banner: how to use a cluster not asked for


def choose_mode(args, cluster_id: str | None, env=os.environ, source: str = "") -> Mode:
    """Spark when asked: --spark-remote, SPARK_REMOTE or --cluster-id, unless --no-parallel.

    A cluster id from a profile or DATABRICKS_CLUSTER_ID (`source`) is there for
    Databricks Connect in an IDE, not a request to run jobs on that cluster: the run
    stays local and `hint` says how to use it.
    """
    asked = getattr(args, "cluster_id", None)
    remote = args.spark_remote or env.get("SPARK_REMOTE")
    local = f"LOCAL (this machine, up to {plural(args.concurrency, 'request')} in flight"
    if args.no_parallel:
        return Mode(False, local + ", --no-parallel)")
    if remote:
        return Mode(True, f"PARALLEL (Spark Connect at {safe_remote(remote)})", remote=remote,
                    tasks=args.spark_tasks, spark_only=args.spark_only)
    if asked:
        return Mode(True, f"PARALLEL (using cluster {asked})", cluster_id=asked,
                    tasks=args.spark_tasks, spark_only=args.spark_only)
    hint = None
    if cluster_id:
        where = "DATABRICKS_CLUSTER_ID" if source == "environment" else source or "settings"
        hint = (f"cluster {cluster_id} (from {where}) is not used unless asked: add "
                f"--cluster-id {cluster_id} to scan on it")
    return Mode(False, local + ")", hint=hint)


def safe_remote(remote: str) -> str:
    """A Spark Connect URL without its parameters: they may carry a token."""
    return remote.split(";", 1)[0].rstrip("/")
