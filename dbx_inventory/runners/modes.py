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


def choose_mode(args, cluster_id: str | None, env=os.environ) -> Mode:
    """Spark when a Spark Connect URL or a cluster is configured, unless --no-parallel."""
    remote = args.spark_remote or env.get("SPARK_REMOTE")
    local = f"LOCAL (this machine, up to {plural(args.concurrency, 'request')} in flight"
    if args.no_parallel:
        return Mode(False, local + ", --no-parallel)")
    if remote:
        return Mode(True, f"PARALLEL (Spark Connect at {safe_remote(remote)})", remote=remote,
                    tasks=args.spark_tasks, spark_only=args.spark_only)
    if cluster_id:
        return Mode(True, f"PARALLEL (using cluster {cluster_id})", cluster_id=cluster_id,
                    tasks=args.spark_tasks, spark_only=args.spark_only)
    return Mode(False, local + ")")


def safe_remote(remote: str) -> str:
    """A Spark Connect URL without its parameters: they may carry a token."""
    return remote.split(";", 1)[0].rstrip("/")
