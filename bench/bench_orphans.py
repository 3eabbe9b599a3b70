#!/usr/bin/env python3
"""What a killed client leaves behind on the cluster (issue 30, item 5).

A 200-user Spark run (fake workspace at 150 ms a request, a local Spark Connect server
at local[8], the default 20 requests in flight) is killed with SIGKILL once 30% of its
users are in its checkpoint journal. The jobs it had submitted run on: the figure is
the listings the fake answers after the kill, until it has been quiet for 3 s, as a
share of the listings of the whole run (the truth's). Target: at most 12%.

    .venv/bin/python bench/bench_orphans.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import RESULTS_DIR, ROOT, TOOL, new_run, tool_env, verdict  # noqa: E402
from bench_spark import warm_jvm  # noqa: E402
from fake_workspace import FakeWorkspaceServer, generate_workspace  # noqa: E402

USERS = 200
LATENCY_S = 0.15
KILL_AT = 0.30
TARGET = 0.12
QUIET_S = 3.0


def results_in(journal: Path) -> int:
    try:
        return journal.read_bytes().count(b'"kind":"result"')
    except OSError:
        return 0


def wait_quiet(server, seconds: float, timeout: float = 600) -> None:
    """Until the fake workspace has had no request in flight and no new one for a while."""
    if not server.wait_quiet(seconds, timeout):
        raise RuntimeError("the workspace never went quiet")


def one_run(number: int, spark_url: str, run_dir: Path) -> dict:
    from bench import TOKEN

    ws = generate_workspace(USERS, seed=300 + number, forbidden_subtrees=0)
    total = sum(truth.listings for truth in ws.truths())
    here = run_dir / f"run{number}"
    here.mkdir(parents=True)
    (here / "users.txt").write_text("\n".join(u.user_name for u in ws.users) + "\n")
    server = FakeWorkspaceServer(ws, token=TOKEN).start()
    server.faults.latency_s = LATENCY_S
    try:
        journal = here / "ck.json"
        with open(here / "run.log", "w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                [sys.executable, str(TOOL), "--users-file", "users.txt", "--spark-remote",
                 spark_url, "-o", "out.csv", "--checkpoint", str(journal)],
                cwd=here, env=tool_env(server, here), stdout=log, stderr=subprocess.STDOUT)
        started = time.monotonic()
        while results_in(journal) < KILL_AT * USERS:
            if proc.poll() is not None:
                raise RuntimeError(f"the run ended before {KILL_AT:.0%}: see {here}/run.log")
            time.sleep(0.02)
        at_kill = server.stats.successful_listings
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_s = time.monotonic() - started
        saved = results_in(journal)
        wait_quiet(server, QUIET_S)
        after = server.stats.successful_listings - at_kill
    finally:
        server.stop()
    share = after / total
    print(f"run {number}: killed at {killed_s:.1f} s with {saved} users saved; "
          f"{after} of {total} listings after the kill = {share:.1%} "
          f"(target {TARGET:.0%}) -> {verdict(share <= TARGET)}", flush=True)
    return {"killed_s": killed_s, "saved": saved, "listings_total": total,
            "listings_after": after, "share_after": share}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--spark-master", default="local[8]")
    args = parser.parse_args(argv)
    from localspark import LocalSparkConnect

    stamp, run_dir = new_run("run-orphans")
    print(f"bench_orphans: run {stamp} on {platform.node()} ({os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}), Spark {args.spark_master}", flush=True)
    spark = LocalSparkConnect(args.spark_master).start()
    try:
        print(f"JVM warmed with one SQL query in {warm_jvm(spark.url):.1f}s", flush=True)
        runs = [one_run(number, spark.url, run_dir) for number in range(args.runs)]
    finally:
        spark.stop()
    worst = max(run["share_after"] for run in runs)
    print(f"worst: {worst:.1%} of the run's listings after the kill (target "
          f"{TARGET:.0%}) -> {verdict(worst <= TARGET)}")
    out = RESULTS_DIR / f"bench-orphans-{stamp}.json"
    out.write_text(json.dumps({"timestamp": stamp, "runs": runs}, indent=2) + "\n",
                   encoding="utf-8")
    print(f"Figures: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
