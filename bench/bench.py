#!/usr/bin/env python3
"""Benchmark of databricks_user_files_simple.py against the fake workspace.

Default (`make bench`): one workspace with >= 3,000 directory listings, served with
50 ms per request and at most 20 requests in flight (429 + Retry-After beyond it).
On that same workload it times, each as a subprocess with the server's counters reset:
  local-C20   the tool in local mode, --concurrency 20 (the workspace's cap)
  local-C32   the tool with --concurrency 32 (over the cap: the throttle learns it)
  spark-C20   the tool in Spark mode (--spark-remote) on a LocalSparkConnect
  sdk         a user-by-user walk with the official databricks-sdk (.venv-bench)
and checks every run's counts against the workspace's truth.

Then the shapes of issue 10 (SHAPES), local mode, each on its own workspace and server
limits, against its own lower bound and with its 429 share: `rates` (per-family rates,
no Retry-After, 10 ms), `dbfs-heavy` (the same limits at 40 ms, most homes large in DBFS),
`in-flight` (cap 20, 50 ms, a bound of at least 15 s). `--shape NAME` runs one or more
shapes only; `--no-shapes` skips them.

`--scale` (`make bench-scale`): 10,000 users and 1,000,000 files at zero latency,
local mode only: wall time, time per listing, peak RSS of the tool (target < 300 MB).

Figures go to bench-results/bench-<timestamp>.json; each run's CSV and console log to
bench-results/run-<timestamp>/.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fake_workspace import (FakeWorkspaceServer, Workspace, generate_uniform,  # noqa: E402
                            generate_workspace)
from fake_workspace.faults import PUBLISHED_RATE_LIMITS  # noqa: E402
from fake_workspace.truth import expected_users  # noqa: E402
from fake_workspace.unity import add_unity_catalog  # noqa: E402
from fake_workspace.volume_truth import expected_areas, whole_requests  # noqa: E402

TOOL = ROOT / "databricks_user_files_simple.py"
SDK_SCRIPT = Path(__file__).resolve().parent / "sdk_baseline.py"
REQUIREMENTS = Path(__file__).resolve().parent / "requirements-bench.txt"
BENCH_VENV = ROOT / ".venv-bench"
RESULTS_DIR = ROOT / "bench-results"
TOKEN = "dapi-bench-0000000000000000"
LISTING_ENDPOINTS = ("dbfs/list", "workspace/list", "fs/directories")
# The Files API's rate: the workspace publishes none; the Databricks CLI's own client
# holds it to 100 requests/s, and so does the fake in the whole-workspace shape.
FILES_API_RATE = 100.0

# Targets the team set (see bench/README.md).
TARGET_RATIO = 1.25          # local mode wall time / lower bound
TARGET_SPEEDUP = 20.0        # SDK baseline wall time / local mode wall time
TARGET_EXTRA_PCT = 5.0       # listing requests beyond the minimum, in %
TARGET_RSS_MB = 300.0        # peak RSS of the tool on the scale run
TARGET_DIRS_RSS_RATIO = 1.20  # the same run with --dirs-output, against without
TARGET_SHAPE_RATIO = 1.10    # local mode wall time / the shape's lower bound
TARGET_SHAPE_429_PCT = 3.0   # 429s as a share of the listings, local mode


# -- measuring ---------------------------------------------------------------------------

class Meter:
    """Wraps the server's Stats.enter/leave: first and last request, time-weighted
    requests in flight. The fake server's code is untouched; only this instance is."""

    def __init__(self, server: FakeWorkspaceServer):
        self._lock = threading.Lock()
        stats = server.stats
        self._enter, self._leave = stats.enter, stats.leave
        stats.enter, stats.leave = self.enter, self.leave
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.first = self.last = self._t = None
            self._n = 0
            self._area = 0.0

    def _tick(self, now: float, delta: int) -> None:
        if self._t is not None:
            self._area += self._n * (now - self._t)
        self._t = now
        self._n += delta

    def enter(self) -> int:
        now = time.perf_counter()
        with self._lock:
            if self.first is None:
                self.first = now
            self._tick(now, +1)
        return self._enter()

    def leave(self, *args, **kwargs) -> None:
        self._leave(*args, **kwargs)
        now = time.perf_counter()
        with self._lock:
            self._tick(now, -1)
            self.last = now

    def mean_in_flight(self) -> float | None:
        with self._lock:
            span = (self.last - self.first) if self.first is not None and self.last else 0
            return self._area / span if span > 0 else None


@dataclass
class Proc:
    returncode: int
    started: float
    ended: float
    peak_rss_mb: float          # VmHWM of the child's own address space, from /proc
    cpu_s: float
    ru_maxrss_mb: float         # from wait4: NOT the child's own peak, see run_process
    rss_timeline: list = field(default_factory=list)  # [(seconds since start, MB)]

    @property
    def wall_s(self) -> float:
        return self.ended - self.started


def run_process(cmd: list[str], env: dict, log_path: Path, poll_s: float = 0.05) -> Proc:
    """Run cmd to completion: wall time, CPU (wait4) and peak RSS.

    Peak RSS is the kernel's high-water mark of the child's own address space (VmHWM in
    /proc/PID/status), read every poll_s until it exits. wait4's ru_maxrss is kept only
    for the record: on Linux it also carries the RSS of the process that forked the child
    (subprocess uses vfork, and exec keeps the old mm's high-water mark), so here it
    reports the bench's own size (~200 MB with the 1M-file workspace loaded), not the
    tool's.
    """
    samples: dict = {"hwm": 0.0, "timeline": []}
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=ROOT)
        done = threading.Event()
        poller = threading.Thread(target=_poll_rss, args=(proc.pid, started, poll_s, done,
                                                          samples), daemon=True)
        poller.start()
        _, status, usage = os.wait4(proc.pid, 0)
        ended = time.perf_counter()
        done.set()
        poller.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Proc(proc.returncode, started, ended, samples["hwm"],
                usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0,
                samples["timeline"])


def _poll_rss(pid: int, started: float, every: float, done: threading.Event,
              samples: dict) -> None:
    """VmHWM (monotonic high-water mark) and, every ~0.5 s, VmRSS of one process."""
    status = Path(f"/proc/{pid}/status")
    last_mark = -1.0
    while True:
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines()
                          if line.startswith(("VmHWM:", "VmRSS:")))
        except (OSError, ValueError):
            return
        if "VmHWM" in fields:  # absent once the process is a zombie
            samples["hwm"] = max(samples["hwm"], int(fields["VmHWM"].split()[0]) / 1024.0)
            now = time.perf_counter() - started
            if now - last_mark >= 0.5:
                samples["timeline"].append((round(now, 2),
                                            round(int(fields["VmRSS"].split()[0]) / 1024, 1)))
                last_mark = now
        if done.wait(every):
            return


@dataclass
class RunResult:
    name: str
    kind: str                   # local | spark | sdk
    concurrency: int | None
    exit_code: int
    wall_s: float
    startup_s: float | None     # process start -> first request at the server
    span_s: float | None        # first -> last request at the server
    tail_s: float | None        # last request -> process exit
    requests: int
    throttled: int
    listing_requests: int
    min_listings: int
    beyond_min: int
    beyond_min_pct: float
    other_requests: int
    other_by_endpoint: dict
    duplicate_listings: int
    peak_in_flight: int
    mean_in_flight: float | None
    peak_rss_mb: float
    rss_scope: str
    cpu_s: float
    lower_bound_s: float
    ratio_to_bound: float | None
    match: bool
    mismatch: str = ""
    per_listing_ms: float | None = None
    log: str = ""
    extra: dict = field(default_factory=dict)


def measure(name: str, kind: str, concurrency: int | None, proc: Proc, server, meter: Meter,
            min_listings: int, bound: float, match: tuple[bool, str], rss_scope: str,
            log: Path) -> RunResult:
    snap = server.stats.snapshot()
    by_endpoint = Counter(snap["by_endpoint"])
    listing = sum(by_endpoint[e] for e in LISTING_ENDPOINTS)
    other = {e: n for e, n in by_endpoint.items() if e not in LISTING_ENDPOINTS}
    beyond = listing - min_listings
    return RunResult(
        name=name, kind=kind, concurrency=concurrency, exit_code=proc.returncode,
        wall_s=proc.wall_s,
        startup_s=(meter.first - proc.started) if meter.first else None,
        span_s=(meter.last - meter.first) if meter.first and meter.last else None,
        tail_s=(proc.ended - meter.last) if meter.last else None,
        requests=snap["total_requests"], throttled=snap["throttled"],
        listing_requests=listing, min_listings=min_listings, beyond_min=beyond,
        beyond_min_pct=100.0 * beyond / min_listings if min_listings else 0.0,
        other_requests=sum(other.values()), other_by_endpoint=other,
        duplicate_listings=sum(n - 1 for n in snap["listings"].values() if n > 1),
        peak_in_flight=snap["peak_in_flight"], mean_in_flight=meter.mean_in_flight(),
        peak_rss_mb=proc.peak_rss_mb, rss_scope=rss_scope, cpu_s=proc.cpu_s,
        lower_bound_s=bound, ratio_to_bound=(proc.wall_s / bound) if bound > 0 else None,
        match=match[0], mismatch=match[1],
        per_listing_ms=1000.0 * proc.wall_s / min_listings if min_listings else None,
        log=str(log.relative_to(ROOT)),
        extra={"rss_timeline_mb": proc.rss_timeline,
               "ru_maxrss_mb_inflated_by_fork": proc.ru_maxrss_mb})


# -- checking against the truth ------------------------------------------------------------

def _compare(got: dict[str, tuple], truths) -> tuple[bool, str]:
    problems = []
    for t in truths:
        want = (t.dbfs_files, t.dbfs_bytes, t.workspace_files, t.workspace_bytes)
        have = got.pop(t.username, None)
        if have is None:
            problems.append(f"{t.username}: missing")
        elif have != want:
            problems.append(f"{t.username}: got {have}, want {want}")
    problems += [f"{name}: not a user" for name in got]
    if problems:
        return False, f"{len(problems)} wrong: " + "; ".join(problems[:3])
    return True, ""


def check_csv(path: Path, truths) -> tuple[bool, str]:
    if not path.exists():
        return False, f"no CSV at {path}"
    got, errors = {}, 0
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            errors += row["status"] == "error"
            got[row["username"]] = tuple(int(row[k]) for k in (
                "dbfs_files", "dbfs_bytes", "workspace_files", "workspace_bytes"))
    ok, why = _compare(got, truths)
    if errors:
        return False, f"{errors} rows with status error; {why}"
    return ok, why


def check_whole(path: Path, ws) -> tuple[bool, str]:
    """A --whole-workspace run: every user row and area row (volumes with their owners)
    as the model has them."""
    areas_path = path.with_name(f"{path.stem}_areas.csv")
    if not path.exists() or not areas_path.exists():
        return False, f"no CSV at {path} or {areas_path}"
    with open(path, newline="", encoding="utf-8") as handle:
        users = {row["username"]: (int(row["file_count"]), int(row["total_size"]))
                 for row in csv.DictReader(handle)}
    with open(areas_path, newline="", encoding="utf-8") as handle:
        areas = {(row["file_system"], row["path"]): (
            int(row["file_count"]), int(row["total_size"]), row["status"], row["owner"])
            for row in csv.DictReader(handle)}
    want_users, want_areas = expected_users(ws), expected_areas(ws)
    wrong = [name for name in set(users) | set(want_users)
             if users.get(name) != want_users.get(name)]
    wrong += [f"{fs}:{p}" for fs, p in set(areas) | set(want_areas)
              if areas.get((fs, p)) != want_areas.get((fs, p))]
    if wrong:
        return False, f"{len(wrong)} wrong: " + "; ".join(sorted(wrong)[:3])
    return True, ""


def check_sdk(path: Path, truths) -> tuple[bool, str]:
    if not path.exists():
        return False, f"no output at {path}"
    users = json.loads(path.read_text(encoding="utf-8"))["users"]
    errors = sum(1 for row in users.values() if row["error"])
    got = {name: (r["dbfs_files"], r["dbfs_bytes"], r["workspace_files"], r["workspace_bytes"])
           for name, r in users.items()}
    ok, why = _compare(got, truths)
    if errors:
        return False, f"{errors} users with errors; {why}"
    return ok, why


# -- the runs ----------------------------------------------------------------------------

class JournalWatch:
    """How soon results reach the user: samples how many results the run's checkpoint
    journal holds (a row is journaled just before it is shown), every 50 ms."""

    def __init__(self, path: Path, every_s: float = 0.05):
        self.path, self.every_s = path, every_s
        self.samples: list[tuple[float, int]] = []   # (perf_counter, results)
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

    def timing(self, started: float, wall_s: float, users: int) -> dict:
        """Seconds from the process start to its first result and to half of them,
        and that half as a share of the run."""
        def first(count: int) -> float | None:
            return next((t - started for t, n in self.samples if n >= count), None)
        half = first((users + 1) // 2)
        return {"first_user_s": first(1), "half_users_s": half,
                "half_share": half / wall_s if half is not None and wall_s else None}


def tool_env(server: FakeWorkspaceServer, run_dir: Path) -> dict:
    env = dict(os.environ)
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLUSTER_ID",
                 "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_WORKSPACE_URL", "SPARK_REMOTE",
                 "DATABRICKS_CONFIG_FILE"):
        env.pop(name, None)
    env.update(DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN,
               DATABRICKS_CONFIG_FILE=str(run_dir / "no-such-databrickscfg"))
    return env


class Bench:
    def __init__(self, server, meter, ws, run_dir: Path, users_file: Path, bound: float,
                 whole: bool = False):
        self.server, self.meter, self.ws = server, meter, ws
        self.run_dir, self.users_file, self.bound = run_dir, users_file, bound
        self.whole = whole  # --whole-workspace instead of the users file
        self.truths = ws.truths()
        self.min_listings = sum(whole_requests(ws).values()) if whole else \
            sum(t.listings for t in self.truths)
        self.env = tool_env(server, run_dir)

    def _reset(self) -> None:
        faults = self.server.faults
        wait = 0.2  # let the previous client's connections close
        if faults.rate_limit_per_s:  # and the rate limit's bucket fill up again
            bucket = faults.rate_limit_burst or max(1.0, faults.rate_limit_per_s)
            wait = max(wait, bucket / faults.rate_limit_per_s + 0.1)
        time.sleep(wait)
        self.server.reset_stats()
        self.meter.reset()

    def tool(self, name: str, concurrency: int, spark_remote: str | None = None,
             wrap: list[str] | None = None, extra: tuple = ()) -> RunResult:
        out = self.run_dir / f"{name}.csv"
        log = self.run_dir / f"{name}.log"
        scope = ["--whole-workspace"] if self.whole else ["--users-file", self.users_file]
        cmd = [sys.executable, TOOL, *scope, "--concurrency", concurrency, "-o", out,
               "--checkpoint", self.run_dir / f"{name}.checkpoint", "--extended", *extra]
        if spark_remote:
            cmd += ["--spark-remote", spark_remote, "--no-fallback"]
        self._reset()
        print(f"  running {name} ...", flush=True)
        journal = self.run_dir / f"{name}.checkpoint"
        with JournalWatch(journal) as watch:
            proc = run_process((wrap or []) + cmd, self.env, log)
        scope = ("Spark Connect client process only (JVM and Python workers not counted)"
                 if spark_remote else "tool process")
        if wrap:
            scope = "profiler + tool (not comparable)"
        result = measure(name, "spark" if spark_remote else "local", concurrency, proc,
                         self.server, self.meter, self.min_listings, self.bound,
                         check_whole(out, self.ws) if self.whole
                         else check_csv(out, self.truths), scope, log)
        result.extra.update(watch.timing(proc.started, proc.wall_s, len(self.truths)))
        if proc.returncode != 0:
            print(f"    exit code {proc.returncode}; log: {log}")
        return result

    def sdk(self, python: Path) -> RunResult:
        out = self.run_dir / "sdk.json"
        log = self.run_dir / "sdk.log"
        self._reset()
        print("  running sdk (one request at a time: the slow one) ...", flush=True)
        proc = run_process([python, SDK_SCRIPT, "--host", self.server.url, "--users-file",
                            self.users_file, "-o", out], self.env, log)
        if proc.returncode != 0:
            print(f"    exit code {proc.returncode}; log: {log}")
        return measure("sdk", "sdk", 1, proc, self.server, self.meter, self.min_listings,
                       self.bound, check_sdk(out, self.truths), "baseline process", log)


def ensure_bench_venv() -> Path:
    """.venv-bench with databricks-sdk, requests and py-spy; (re)installed when its
    requirements change."""
    python = BENCH_VENV / "bin" / "python"
    stamp = BENCH_VENV / ".installed"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    print(f"Preparing {BENCH_VENV.name} (databricks-sdk, requests, py-spy) ...", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
                   check=True)
    stamp.write_text(digest + "\n")
    return python


# -- printing ----------------------------------------------------------------------------

def _f(value, spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


def print_table(results: list[RunResult]) -> None:
    head = (f"{'run':<18} {'wall s':>7} {'scan s':>7} {'start s':>7} {'requests':>8} "
            f"{'429s':>5} {'listing':>7} {'beyond min':>11} {'other':>5} {'peak/mean':>10} "
            f"{'RSS MB':>7} {'x bound':>7}  match")
    print(head)
    print("-" * len(head))
    for r in results:
        beyond = f"{r.beyond_min:+d} {r.beyond_min_pct:4.1f}%"
        flight = f"{r.peak_in_flight}/{_f(r.mean_in_flight, '.1f')}"
        rss = f"{r.peak_rss_mb:.0f}" + ("*" if r.kind == "spark" else "")
        print(f"{r.name:<18} {r.wall_s:>7.2f} {_f(r.span_s, '7.2f'):>7} "
              f"{_f(r.startup_s, '7.2f'):>7} {r.requests:>8} {r.throttled:>5} "
              f"{r.listing_requests:>7} {beyond:>11} {r.other_requests:>5} {flight:>10} "
              f"{rss:>7} {_f(r.ratio_to_bound, '7.2f'):>7}  "
              + ("yes" if r.match else f"NO ({r.mismatch})"))
    others = {r.name: r.other_by_endpoint for r in results if r.other_requests}
    print("  scan s: first to last request at the server; start s: process start to first"
          " request; peak/mean: requests in flight at the server")
    for r in results:
        if r.extra.get("first_user_s") is not None:
            print(f"  {r.name}: first user shown at {r.extra['first_user_s']:.1f}s, half of "
                  f"them at {_f(r.extra.get('half_users_s'), '.1f')}s "
                  f"({_f(100 * (r.extra.get('half_share') or 0), '.0f')}% of the run)")
    if any(r.kind == "spark" for r in results):
        print("  RSS*: Spark mode reports the Spark Connect client process only "
              "(the JVM and its Python workers are not counted)")
    if others:
        print("  other (non-listing) requests: " + "; ".join(
            f"{name}: " + ", ".join(f"{e} {n}" for e, n in sorted(eps.items()))
            for name, eps in others.items()))


def rss_quartiles(timeline: list, wall_s: float) -> str:
    """RSS at a quarter, half, three quarters and the end of the run."""
    if not timeline:
        return ""
    marks = []
    for share in (0.25, 0.5, 0.75, 1.0):
        upto = [mb for t, mb in timeline if t <= share * wall_s]
        if upto:
            marks.append(f"{share * 100:.0f}% {upto[-1]:.0f} MB")
    return ", ".join(marks)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


# -- modes -------------------------------------------------------------------------------

class start_server:
    """The fake server with the bench's faults, as a context manager."""

    def __init__(self, ws, *, latency: float, cap: int | None, rate: float | None,
                 retry_after: str, burst: int | None = None):
        self.server = FakeWorkspaceServer(ws, token=TOKEN)
        _set_faults(self.server, latency, cap, rate, retry_after)
        self.server.faults.rate_limit_burst = burst

    def __enter__(self) -> FakeWorkspaceServer:
        return self.server.start()

    def __exit__(self, *exc) -> None:
        self.server.stop()


def _set_faults(server, latency, cap, rate, retry_after) -> None:
    server.faults.latency_s = latency
    server.faults.max_in_flight = cap
    server.faults.rate_limit_per_s = rate
    server.faults.retry_after = retry_after


def lower_bound(listings: int, latency: float, cap: int | None, rate: float | None,
                burst: int | None = None) -> float:
    """listings x latency / cap, or the time the rate limit needs when that is longer
    (the server's token bucket starts full: its burst is free)."""
    bound = listings * latency / (cap or 1)
    if rate:
        bucket = burst if burst else max(1.0, rate)
        bound = max(bound, max(0.0, listings - bucket) / rate)
    return bound


# -- shapes (issue 10) ---------------------------------------------------------------------

@dataclass(frozen=True)
class Shape:
    """A workload and the server limits it runs under; any runner (local, Spark) can
    take one: build() the workspace, serve(ws) it, bound(ws) to compare against."""

    name: str
    title: str
    build: Callable[[], Workspace]
    latency_s: float
    cap: int | None = 20
    family_limits: dict = field(default_factory=dict)   # see PUBLISHED_RATE_LIMITS
    retry_after: str | None = "1"                        # None: no Retry-After on 429
    whole: bool = False                                  # a --whole-workspace run

    def serve(self, ws: Workspace) -> FakeWorkspaceServer:
        """A fake server (not started) with this shape's latency and limits."""
        server = FakeWorkspaceServer(ws, token=TOKEN)
        _set_faults(server, self.latency_s, self.cap, None, self.retry_after)
        server.faults.family_rate_limits = dict(self.family_limits)
        return server

    def bound(self, ws: Workspace) -> tuple[float, str]:
        """(seconds, how): the slowest family's listings over its rate less the first
        second's burst, or listings x latency / cap when that is larger."""
        per_tree = whole_requests(ws) if self.whole else listings_per_tree(ws)
        total = sum(per_tree.values())
        bound = total * self.latency_s / (self.cap or 1)
        how = f"{total} listings x {self.latency_s * 1000:.0f} ms / {self.cap}"
        faults = self.serve(ws).faults
        for tree, listings in per_tree.items():
            limit = faults.family_limit("fs/directories" if tree == "volumes"
                                        else f"{tree}/list")
            if limit is None:
                continue
            key, rate = limit
            by_rate = max(0.0, listings - max(1.0, rate)) / rate
            if by_rate > bound:
                bound, how = by_rate, f"({listings} {tree} listings - {rate:g}) / {rate:g}/s"
        return bound, how


def listings_per_tree(ws: Workspace) -> dict[str, int]:
    """Listings a perfect client needs in each tree: every directory under a user's home."""
    users = {u.user_name for u in ws.users}
    counts = {}
    for name, tree in (("dbfs", ws.dbfs), ("workspace", ws.workspace)):
        counts[name] = sum(1 for path in tree.dirs
                           if path.startswith("/Users/") and path.split("/")[2] in users)
    return counts


def dbfs_heavy_workspace(users: int = 200, seed: int = 3) -> Workspace:
    """Every user: a Workspace home of 2 folders; 4 in 5 users: a DBFS home of 8 folders
    of 10 files (the rest: 2 folders)."""
    ws = generate_uniform(users, 2, 10, seed=seed, dbfs=False)
    for i, user in enumerate(ws.users):
        home = f"/Users/{user.user_name}"
        ws.dbfs.mkdir(home)
        for d in range(8 if i % 5 else 2):
            for f in range(10):
                ws.dbfs.add_file(f"{home}/big_{d:02d}/part-{f:05d}.parquet",
                                 size=1024 * (f + 1))
    return ws


def whole_with_volumes(users: int, seed: int) -> Workspace:
    """A varied workspace with every place beyond homes and a metastore of volumes, one
    of them wide (many folders: the Files API is a family the run must keep busy)."""
    ws = generate_workspace(users, seed=seed, forbidden_subtrees=0, missing_both=0,
                            whole_workspace=True)
    uc = add_unity_catalog(ws, seed=seed, big_volume_files=6000)
    for k in range(400):
        uc.files.add_file(f"/Volumes/main/default/landing/daily/{k // 20:02d}/{k:04d}.json",
                          size=1000 + k)
    return ws


SHAPES = [
    Shape("rates", "per-family rates (workspace/list 50/s, DBFS 30/s, SCIM 4/s), cap 20, "
          "no Retry-After, 10 ms, 600 varied users",
          lambda: generate_workspace(600, seed=1, forbidden_subtrees=0, missing_both=0),
          latency_s=0.010, family_limits=dict(PUBLISHED_RATE_LIMITS), retry_after=None),
    Shape("dbfs-heavy", "the same limits at 40 ms, 200 users, most with a large DBFS home",
          dbfs_heavy_workspace, latency_s=0.040, family_limits=dict(PUBLISHED_RATE_LIMITS),
          retry_after=None),
    Shape("in-flight", "cap 20 in flight, 50 ms, 429 + Retry-After 1 beyond, no rate limits, "
          "620 users x 4 dirs x 10 files", lambda: generate_uniform(620, 4, 10, seed=4),
          latency_s=0.050),
    Shape("whole", "--whole-workspace at the per-family rates (Files API 100/s), cap 20, "
          "no Retry-After, 10 ms, 600 varied users plus Git folders, uploads, the DBFS "
          "root's areas and Unity Catalog volumes",
          lambda: whole_with_volumes(600, seed=1),
          latency_s=0.010, family_limits={**PUBLISHED_RATE_LIMITS, "fs": FILES_API_RATE},
          retry_after=None, whole=True),
]


def run_shape(shape: Shape, run_dir: Path, *, concurrency: int = 20,
              spark_remote: str | None = None, tag: str = "local") -> dict:
    """One run of the tool on a shape; its RunResult plus the shape's figures."""
    t0 = time.perf_counter()
    ws = shape.build()
    shape_dir = run_dir / shape.name
    shape_dir.mkdir(parents=True, exist_ok=True)
    users_file = shape_dir / "users.txt"
    write_users(ws, users_file)
    bound, how = shape.bound(ws)
    per_tree = whole_requests(ws) if shape.whole else listings_per_tree(ws)
    print(f"\nShape {shape.name}: {shape.title}")
    print(f"  {len(ws.users)} users, {sum(per_tree.values()):,} listings "
          f"(DBFS {per_tree['dbfs']:,}, Workspace {per_tree['workspace']:,}"
          + (f", volumes {per_tree['volumes']:,} pages" if "volumes" in per_tree else "")
          + f"; built in {time.perf_counter() - t0:.1f}s); "
          f"lower bound {how} = {bound:.2f}s")
    server = shape.serve(ws).start()
    try:
        bench = Bench(server, Meter(server), ws, shape_dir, users_file, bound, shape.whole)
        result = bench.tool(f"{shape.name}-{tag}", concurrency, spark_remote=spark_remote)
    finally:
        server.stop()
    share = 100.0 * result.throttled / result.min_listings if result.min_listings else 0.0
    return {"shape": shape.name, "title": shape.title, "bound_s": bound, "bound_how": how,
            "listings_per_tree": per_tree, "result": result, "throttled_pct": share}


def main_shapes(args, run_dir: Path) -> dict:
    """The shapes in local mode, each against its own bound; targets printed."""
    wanted = args.shape or [shape.name for shape in SHAPES]
    unknown = set(wanted) - {shape.name for shape in SHAPES}
    if unknown:
        raise SystemExit(f"bench: unknown shape(s): {', '.join(sorted(unknown))}")
    runs = [run_shape(shape, run_dir, concurrency=args.concurrency)
            for shape in SHAPES if shape.name in wanted]
    print()
    print_table([run["result"] for run in runs])
    print(f"Targets (local mode, each shape): within {TARGET_SHAPE_RATIO}x its bound, "
          f"429s under {TARGET_SHAPE_429_PCT:.0f}% of the listings, results exact")
    targets = {}
    for run in runs:
        r = run["result"]
        met = (r.ratio_to_bound is not None and r.ratio_to_bound <= TARGET_SHAPE_RATIO
               and run["throttled_pct"] < TARGET_SHAPE_429_PCT and r.match)
        targets[r.name] = {"ratio_to_bound": r.ratio_to_bound,
                           "throttled_pct": run["throttled_pct"], "match": r.match,
                           "met": met}
        print(f"  {r.name:<18} {_f(r.ratio_to_bound, '.3f')}x of {run['bound_s']:.2f}s, "
              f"429s {r.throttled} = {run['throttled_pct']:.2f}% of {r.min_listings:,} "
              f"listings, match {'yes' if r.match else 'NO'} -> {verdict(met)}")
    return {"runs": [dict(run, result=asdict(run["result"])) for run in runs],
            "targets": targets}


def write_users(ws, path: Path) -> None:
    path.write_text("".join(u.user_name + "\n" for u in ws.users), encoding="utf-8")


def main_bench(args, stamp: str, run_dir: Path) -> dict:
    sdk_python = None if args.no_sdk else ensure_bench_venv()
    t0 = time.perf_counter()
    ws = generate_uniform(args.users, args.dirs, args.files, seed=1)
    users_file = run_dir / "users.txt"
    write_users(ws, users_file)
    min_listings = ws.min_listings()
    bound = lower_bound(min_listings, args.latency, args.cap, args.rate, args.burst)
    print(f"Workspace: {args.users} users x {args.dirs} dirs x {args.files} files in DBFS "
          f"and Workspace = {ws.file_count():,} files, {min_listings:,} listings "
          f"(generated in {time.perf_counter() - t0:.1f}s)")
    print(f"Server: {args.latency * 1000:.0f} ms per request, cap {args.cap} in flight "
          f"(429 + Retry-After {args.retry_after!r} beyond)"
          + (f", rate limit {args.rate:g}/s" if args.rate else ", no rate limit"))
    print(f"Lower bound: {min_listings} listings x {args.latency * 1000:.0f} ms / {args.cap}"
          + (f" (or, beyond the bucket's burst, / {args.rate:g} per s)" if args.rate else "")
          + f" = {bound:.2f}s\n")
    results: list[RunResult] = []
    with start_server(ws, latency=args.latency, cap=args.cap, rate=args.rate,
                      retry_after=args.retry_after, burst=args.burst) as server:
        meter = Meter(server)
        bench = Bench(server, meter, ws, run_dir, users_file, bound)
        results.append(bench.tool(f"local-C{args.concurrency}", args.concurrency))
        if args.over_cap:
            results.append(bench.tool(f"local-C{args.over_cap}", args.over_cap))
        if not args.no_spark:
            from localspark import LocalSparkConnect

            print(f"  starting Spark Connect ({args.spark_master}) ...", flush=True)
            spark = LocalSparkConnect(args.spark_master).start()
            try:
                results.append(bench.tool(f"spark-C{args.concurrency}", args.concurrency,
                                          spark_remote=spark.url))
            finally:
                spark.stop()
        if sdk_python is not None:
            results.append(bench.sdk(sdk_python))
        profile = None
        if args.profile:
            profile = profile_run(bench, args.concurrency, run_dir,
                                  args.profile_mode or "wall")
    print()
    print_table(results)
    by_name = {r.name: r for r in results}
    local = by_name[f"local-C{args.concurrency}"]
    sdk = by_name.get("sdk")
    print()
    targets = {}
    speedups = {}
    if sdk is not None:
        for r in results:
            if r.kind != "sdk" and r.wall_s > 0:
                speedups[r.name] = sdk.wall_s / r.wall_s
        print("Speed-up over the SDK baseline: " + ", ".join(
            f"{name} {s:.1f}x" for name, s in speedups.items()))
    targets["local_within_1.25x_bound"] = {
        "measured": local.ratio_to_bound, "target": TARGET_RATIO,
        "met": local.ratio_to_bound is not None and local.ratio_to_bound <= TARGET_RATIO}
    if sdk is not None:
        targets["speedup_vs_sdk_>=20x"] = {"measured": speedups[local.name],
                                           "target": TARGET_SPEEDUP,
                                           "met": speedups[local.name] >= TARGET_SPEEDUP}
    for r in results:
        if r.kind == "local":
            targets[f"beyond_min_<=5pct_{r.name}"] = {
                "measured": r.beyond_min_pct, "target": TARGET_EXTRA_PCT,
                "met": r.beyond_min_pct <= TARGET_EXTRA_PCT}
    targets["all_runs_match_truth"] = {"measured": [r.name for r in results if not r.match],
                                       "target": [], "met": all(r.match for r in results)}
    print("Targets:" + ("  (--quick: fixed start-up cost weighs far more against a small "
                        "bound; the targets are for the default workload)" if args.quick else ""))
    print(f"  local within {TARGET_RATIO}x of the lower bound: {local.ratio_to_bound:.2f}x "
          f"-> {verdict(targets['local_within_1.25x_bound']['met'])}")
    if sdk is not None:
        print(f"  local >= {TARGET_SPEEDUP:.0f}x faster than the SDK: "
              f"{speedups[local.name]:.1f}x -> "
              f"{verdict(targets['speedup_vs_sdk_>=20x']['met'])}")
    for r in results:
        if r.kind == "local":
            print(f"  {r.name} requests beyond the minimum <= {TARGET_EXTRA_PCT:.0f}%: "
                  f"{r.beyond_min_pct:.1f}% -> "
                  f"{verdict(targets[f'beyond_min_<=5pct_{r.name}']['met'])}")
    print("  every run matches the truth: "
          + ("yes" if targets["all_runs_match_truth"]["met"] else
             "NO: " + ", ".join(targets["all_runs_match_truth"]["measured"])))
    return {"mode": "bench", "workload": {
                "users": args.users, "dirs_per_user": args.dirs, "files_per_dir": args.files,
                "files": ws.file_count(), "min_listings": min_listings,
                "latency_s": args.latency, "cap": args.cap, "rate_per_s": args.rate,
                "retry_after": args.retry_after, "lower_bound_s": bound},
            "runs": [asdict(r) for r in results], "speedup_vs_sdk": speedups,
            "targets": targets, "profile": profile}


def main_scale(args, stamp: str, run_dir: Path) -> dict:
    t0 = time.perf_counter()
    ws = generate_uniform(args.users, args.dirs, args.files, seed=2)
    users_file = run_dir / "users.txt"
    write_users(ws, users_file)
    min_listings = ws.min_listings()
    print(f"Scale workspace: {args.users:,} users x {args.dirs} dirs x {args.files} files "
          f"in DBFS and Workspace = {ws.file_count():,} files, {min_listings:,} listings "
          f"(generated in {time.perf_counter() - t0:.1f}s)")
    print(f"Server: {args.latency * 1000:.0f} ms per request, cap {args.cap} in flight"
          + (f", rate limit {args.rate:g}/s" if args.rate else "") + "\n")
    bound = lower_bound(min_listings, args.latency, args.cap, args.rate, args.burst)
    with start_server(ws, latency=args.latency, cap=args.cap, rate=args.rate,
                      retry_after=args.retry_after, burst=args.burst) as server:
        meter = Meter(server)
        bench = Bench(server, meter, ws, run_dir, users_file, bound)
        result = bench.tool(f"scale-C{args.concurrency}", args.concurrency)
        # The same run with the directory breakdown: what its rows cost in memory.
        dirs = bench.tool(f"scale-dirs-C{args.concurrency}", args.concurrency,
                          extra=("--dirs-output", run_dir / "dirs.csv"))
        profile = profile_run(bench, args.concurrency, run_dir,
                              args.profile_mode or "gil") if args.profile else None
    print()
    print_table([result, dirs])
    dirs_ratio = dirs.peak_rss_mb / result.peak_rss_mb if result.peak_rss_mb else None
    dirs_met = dirs_ratio is not None and dirs_ratio <= TARGET_DIRS_RSS_RATIO
    with open(run_dir / "dirs.csv", encoding="utf-8") as handle:
        dir_rows = sum(1 for _ in handle) - 1
    print(f"  --dirs-output ({dir_rows:,} directory rows): peak RSS {dirs.peak_rss_mb:.0f} MB "
          f"against {result.peak_rss_mb:.0f} MB without = {_f(dirs_ratio, '.2f')}x "
          f"(target <= {TARGET_DIRS_RSS_RATIO}x) -> {verdict(dirs_met)}")
    print(f"\n  time per listing: {result.per_listing_ms:.3f} ms "
          f"({min_listings / result.wall_s:,.0f} listings/s over the whole run; "
          f"{min_listings / result.span_s:,.0f}/s while scanning)" if result.span_s else "")
    print(f"  tool CPU time: {result.cpu_s:.1f}s")
    line = rss_quartiles(result.extra["rss_timeline_mb"], result.wall_s)
    if line:
        print(f"  tool RSS over the run (from /proc): {line}")
    met = result.peak_rss_mb < TARGET_RSS_MB
    print("Targets:")
    print(f"  peak RSS of the tool < {TARGET_RSS_MB:.0f} MB: {result.peak_rss_mb:.0f} MB "
          f"-> {verdict(met)}")
    print(f"  results match the truth: {'yes' if result.match else 'NO: ' + result.mismatch}")
    return {"mode": "scale", "workload": {
                "users": args.users, "dirs_per_user": args.dirs, "files_per_dir": args.files,
                "files": ws.file_count(), "min_listings": min_listings,
                "latency_s": args.latency, "cap": args.cap, "rate_per_s": args.rate},
            "runs": [asdict(result), asdict(dirs)],
            "targets": {"peak_rss_<300MB": {"measured": result.peak_rss_mb,
                                            "target": TARGET_RSS_MB, "met": met},
                        "matches_truth": {"measured": result.match, "met": result.match},
                        "dirs_rss_ratio": {"measured": dirs_ratio, "dir_rows": dir_rows,
                                           "target": TARGET_DIRS_RSS_RATIO,
                                           "met": dirs_met}},
            "profile": profile}


# -- profiling ---------------------------------------------------------------------------

def profile_run(bench: Bench, concurrency: int, run_dir: Path, mode: str) -> dict | None:
    """One more local run under py-spy, not part of the timed figures.

    mode "wall": every thread, idle ones too (where wall time goes, network waits
    included); mode "gil": only the thread holding the GIL (where a CPU-bound run goes).
    Writes collapsed stacks to the run folder and prints the top frames.
    """
    py_spy = BENCH_VENV / "bin" / "py-spy"
    if not py_spy.exists():
        ensure_bench_venv()
    raw = run_dir / f"profile-{mode}.collapsed"
    wrap = [py_spy, "record", "--format", "raw", "--threads", "--rate", "250",
            "--nonblocking", "-o", raw] + (["--idle"] if mode == "wall" else ["--gil"])
    result = bench.tool(f"profiled-{mode}", concurrency, wrap=wrap + ["--"])
    if not raw.exists():
        print(f"  py-spy wrote no profile; see {result.log}")
        return None
    summary = summarize_profile(raw)
    print(f"\nProfile (py-spy --{'idle' if mode == 'wall' else 'gil'}, "
          f"{raw.relative_to(ROOT)}; wall {result.wall_s:.2f}s under the profiler):")
    for title, rows in summary.items():
        print(f"  {title}:")
        for label, share in rows:
            print(f"    {share:5.1f}%  {label}")
    return {"mode": mode, "collapsed": str(raw.relative_to(ROOT)), "wall_s": result.wall_s,
            "summary": summary}


def summarize_profile(path: Path, top: int = 10) -> dict:
    """Shares of samples: per thread group, per innermost frame, and per tool function
    on the stack (inclusive)."""
    groups, leaves, inclusive = Counter(), Counter(), Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        total += n
        group = ("scan workers" if "scan-" in thread else
                 "main thread" if "MainThread" in thread else "other threads")
        groups[group] += n
        leaves[f"[{group}] {_leaf(frames)}"] += n
        for name in {_function(f) for f in frames if "dbx_inventory" in f}:
            inclusive[name] += n

    def rows(counter: Counter):
        return [(label, 100.0 * n / total) for label, n in counter.most_common(top)] \
            if total else []
    return {"samples by thread": rows(groups),
            "innermost frame": rows(leaves),
            "tool function on the stack (inclusive)": rows(inclusive)}


def _function(frame: str) -> str:
    """'Scanner._work (dbx_inventory/scan/scanner.py:133)' -> 'Scanner._work (scanner.py)'."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split('/')[-1].split(':')[0]})" if where else name


def _leaf(frames: list[str]) -> str:
    """The innermost frame, with the innermost tool frame that led to it."""
    if not frames:
        return "?"
    inner = _function(frames[-1])
    own = next((f for f in reversed(frames) if "dbx_inventory" in f), None)
    return inner if own is None or _function(own) == inner else f"{inner} <- {_function(own)}"


# -- entry -------------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true",
                        help="10,000 users / 1,000,000 files at zero latency, local mode only")
    parser.add_argument("--quick", action="store_true",
                        help="a small run (40 users; 5,000 with --scale) to try the bench")
    parser.add_argument("--users", type=int, help="users (default 300; --scale 10000)")
    parser.add_argument("--dirs", type=int, help="subdirectories per home (default 4; "
                                                 "--scale 5)")
    parser.add_argument("--files", type=int, help="files per subdirectory (default 10; "
                                                  "--scale 10)")
    parser.add_argument("--latency", type=float, help="seconds per request (default 0.05; "
                                                      "--scale 0)")
    parser.add_argument("--cap", type=int, default=20,
                        help="server's requests in flight before 429 (default 20)")
    parser.add_argument("--rate", type=float, default=None,
                        help="server rate limit, requests per second (default none)")
    parser.add_argument("--burst", type=int, default=None,
                        help="rate limit bucket size (default: one second's worth)")
    parser.add_argument("--retry-after", default="1", help="Retry-After on 429 (default 1)")
    parser.add_argument("--concurrency", type=int, default=20,
                        help="the tool's --concurrency (default 20)")
    parser.add_argument("--over-cap", type=int, default=32,
                        help="second local run's --concurrency, over the cap (default 32; "
                             "0 skips it)")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark mode run")
    parser.add_argument("--no-sdk", action="store_true", help="skip the SDK baseline")
    parser.add_argument("--no-shapes", action="store_true",
                        help="skip the shapes of issue 10 (" + ", ".join(
                            shape.name for shape in SHAPES) + ")")
    parser.add_argument("--shape", action="append", metavar="NAME",
                        help="run only this shape (repeatable); skips the default workload")
    parser.add_argument("--spark-master", default="local[4]")
    parser.add_argument("--profile", action="store_true",
                        help="also run the tool once under py-spy and summarise it")
    parser.add_argument("--profile-mode", choices=("wall", "gil"),
                        help="py-spy: all threads incl. idle (wall; bench default) or the "
                             "GIL holder only (gil; --scale default)")
    args = parser.parse_args(argv)
    if args.scale:
        defaults = dict(users=5000 if args.quick else 10000, dirs=5, files=10, latency=0.0)
    else:
        defaults = dict(users=40 if args.quick else 300, dirs=4, files=10, latency=0.05)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def new_run(prefix: str) -> tuple[str, Path]:
    """A timestamp for this bench run and its folder under bench-results/."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = RESULTS_DIR / f"{prefix}-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return stamp, run_dir


def main(argv=None) -> int:
    args = parse_args(argv)
    stamp, run_dir = new_run("run")
    print(f"bench: {'scale' if args.scale else 'bench'} run {stamp} on {platform.node()} "
          f"({os.cpu_count()} CPUs, Python {platform.python_version()})")
    if args.scale:
        report = main_scale(args, stamp, run_dir)
    elif args.shape:
        report = {"mode": "shapes", "shapes": main_shapes(args, run_dir)}
    else:
        report = main_bench(args, stamp, run_dir)
        if not args.no_shapes:
            report["shapes"] = main_shapes(args, run_dir)
    report.update(timestamp=stamp, cpus=os.cpu_count(), python=platform.python_version(),
                  argv=sys.argv[1:], run_dir=str(run_dir.relative_to(ROOT)))
    out = RESULTS_DIR / f"bench-{stamp}{'-scale' if args.scale else ''}.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nFigures: {out.relative_to(ROOT)}  (logs and CSVs: {run_dir.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
