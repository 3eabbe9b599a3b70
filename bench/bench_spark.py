#!/usr/bin/env python3
"""Spark mode measured against its lower bound, and how early results reach the client.

Shapes (issue 10), each run local and Spark on the same workload, counts checked
against the truth:
  inflight  cap 20 in flight, 50 ms a request, 600 users x 4 dirs (6,000 listings,
            bound 15 s); 429 + Retry-After: 1 beyond the cap
  rates     cap 20, 10 ms, a rate limit without Retry-After (--rate, default 50/s; one
            global bucket until the fake workspace has per-family limits), 200 users
Besides wall time / bound and 429s it reports, from the checkpoint journal sampled
every 50 ms (a row is journaled just before it is shown): when the first user reached
the client, and when half of them had, as a share of the run.

Targets: Spark within 1.20 x bound (rates) and 1.30 x (inflight), 429s < 5% of the
listings, first user within 15 s, half the users before 70% of the run.
Figures go to bench-results/bench-spark-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import (RESULTS_DIR, ROOT, Bench, Meter, lower_bound, print_table,  # noqa: E402
                   start_server, verdict, write_users)
from fake_workspace import generate_uniform  # noqa: E402

SHAPES = {
    "inflight": dict(users=600, latency=0.05, cap=20, rate=None, retry_after="1",
                     target=1.30),
    "rates": dict(users=200, latency=0.01, cap=20, rate=50.0, retry_after=None,
                  target=1.20),
}
TARGET_429_PCT = 5.0
TARGET_FIRST_S = 15.0
TARGET_HALF_SHARE = 0.70


class JournalWatch:
    """Samples how many results a checkpoint journal holds, with perf_counter times."""

    def __init__(self, path: Path, every_s: float = 0.05):
        self.path, self.every_s = path, every_s
        self.samples: list[tuple[float, int]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> "JournalWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(self.every_s):
            try:
                count = self.path.read_bytes().count(b'"kind":"result"')
            except OSError:
                continue
            if not self.samples or self.samples[-1][1] != count:
                self.samples.append((time.perf_counter(), count))

    def first_time(self, count: int) -> float | None:
        return next((t for t, n in self.samples if n >= count), None)


def run_shape(name: str, shape: dict, args, run_dir: Path) -> dict:
    ws = generate_uniform(shape["users"], args.dirs, args.files, seed=1)
    users_file = run_dir / f"{name}-users.txt"
    write_users(ws, users_file)
    listings = ws.min_listings()
    bound = lower_bound(listings, shape["latency"], shape["cap"], shape["rate"])
    print(f"\n[{name}] {shape['users']} users, {listings:,} listings, "
          f"{shape['latency'] * 1000:.0f} ms, cap {shape['cap']}"
          + (f", {shape['rate']:g}/s without Retry-After" if shape["rate"] else "")
          + f": lower bound {bound:.2f}s")
    runs, timing = [], {}
    with start_server(ws, latency=shape["latency"], cap=shape["cap"], rate=shape["rate"],
                      retry_after=shape["retry_after"]) as server:
        meter = Meter(server)
        bench = Bench(server, meter, ws, run_dir, users_file, bound)
        spark = None
        if not args.no_spark:
            from localspark import LocalSparkConnect

            spark = LocalSparkConnect(args.spark_master).start()
        try:
            for kind in (("local", "spark") if spark else ("local",)):
                label = f"{name}-{kind}"
                with JournalWatch(run_dir / f"{label}.checkpoint") as watch:
                    result = bench.tool(label, args.concurrency,
                                        spark_remote=spark.url if kind == "spark" else None)
                runs.append(result)
                timing[label] = _timing(result, meter, watch, shape["users"])
        finally:
            if spark:
                spark.stop()
    print_table(runs)
    for label, t in timing.items():
        print(f"  {label}: first user at {_s(t['first_user_s'])}, half at "
              f"{_s(t['half_users_s'])} ({_pct(t['half_share'])} of the run)")
    return {"shape": {**shape, "listings": listings, "lower_bound_s": bound},
            "runs": [asdict(r) for r in runs], "timing": timing}


def _timing(result, meter: Meter, watch: JournalWatch, users: int) -> dict:
    # The process started startup_s before the first request the server saw.
    start = (meter.first - result.startup_s) if meter.first and result.startup_s else None
    first, half = watch.first_time(1), watch.first_time((users + 1) // 2)
    first_s = first - start if first and start else None
    half_s = half - start if half and start else None
    return {"first_user_s": first_s, "half_users_s": half_s,
            "half_share": half_s / result.wall_s if half_s else None}


def _s(value) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def targets(report: dict) -> dict:
    """Spark-mode targets per shape, with what was measured."""
    found = {}
    for name, shape in report["shapes"].items():
        for run in shape["runs"]:
            if run["kind"] != "spark":
                continue
            t = shape["timing"][run["name"]]
            share_429 = 100.0 * run["throttled"] / max(1, run["min_listings"])
            limit = SHAPES[name]["target"]
            found[name] = {
                "x_bound": (run["ratio_to_bound"], limit,
                            run["ratio_to_bound"] is not None and run["ratio_to_bound"] <= limit),
                "429_pct": (share_429, TARGET_429_PCT, share_429 < TARGET_429_PCT),
                "first_user_s": (t["first_user_s"], TARGET_FIRST_S,
                                 t["first_user_s"] is not None
                                 and t["first_user_s"] <= TARGET_FIRST_S),
                "half_share": (t["half_share"], TARGET_HALF_SHARE,
                               t["half_share"] is not None
                               and t["half_share"] <= TARGET_HALF_SHARE),
                "match": (run["match"], True, run["match"]),
            }
    return found


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append",
                        help="run only this shape (repeatable; default all)")
    parser.add_argument("--dirs", type=int, default=4)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--rate", type=float, default=None,
                        help="the rates shape's limit, requests per second (default 50)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--spark-master", default="local[4]")
    parser.add_argument("--no-spark", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.rate:
        SHAPES["rates"]["rate"] = args.rate
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = RESULTS_DIR / f"run-spark-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"bench_spark: run {stamp} on {platform.node()} ({os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()})")
    report = {"timestamp": stamp, "load_at_start": os.getloadavg()[0], "shapes": {}}
    for name in args.shape or sorted(SHAPES):
        report["shapes"][name] = run_shape(name, SHAPES[name], args, run_dir)
    report["targets"] = targets(report)
    print("\nTargets (Spark mode):")
    for name, checks in report["targets"].items():
        for check, (measured, target, met) in checks.items():
            shown = f"{measured:.2f}" if isinstance(measured, float) else str(measured)
            print(f"  {name} {check}: {shown} (target {target}) -> {verdict(met)}")
    out = RESULTS_DIR / f"bench-spark-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nFigures: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
