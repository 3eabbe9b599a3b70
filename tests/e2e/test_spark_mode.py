"""Spark Connect mode end to end: the CLI as a subprocess, a real local Spark Connect
server (pyspark 4.3), the fake workspace over HTTP, answers checked against its truth."""

from __future__ import annotations

import re
import signal
from contextlib import contextmanager
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, TOKEN, clean_env
from helpers import csv_rows, expected_rows, interruptible, journal_records, users_file
from fake_workspace import generate_workspace
from localspark.server import free_port

SCRIPT = "databricks_user_files_simple.py"


# -- helpers ---------------------------------------------------------------------------

def journal_results(path: Path) -> list[dict]:
    """Result records of a checkpoint journal, in the order they were appended."""
    return [r["result"] for r in journal_records(path) if r.get("kind") == "result"]


def assert_no_rescan(journal: Path, names: list[str]) -> None:
    """Once a user's successful result is on disk, nobody scans that user again."""
    seen: dict[str, list[str]] = {}
    for result in journal_results(journal):
        seen.setdefault(result["username"], []).append(result["status"])
    assert set(seen) == set(names)
    twice = {name: statuses for name, statuses in seen.items()
             if len(statuses) > 1 and any(s != "error" for s in statuses[:-1])}
    assert not twice, f"users scanned again after a saved result: {twice}"


def fallback_line(stdout: str, count: int) -> bool:
    """The tool says it scans `count` users from this machine after Spark failed."""
    return any("from this machine" in line and re.search(rf"\b{count}\b", line)
               for line in stdout.splitlines())


def no_traceback(output: str) -> None:
    assert "Traceback (most recent call last)" not in output, output[-3000:]


def launch(tmp_path: Path, server, *args: str) -> subprocess.Popen:
    """The CLI in the background (for kills); output to files in tmp_path."""
    env = clean_env(tmp_path, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
    stdout = open(tmp_path / "bg.out", "w", encoding="utf-8")
    stderr = open(tmp_path / "bg.err", "w", encoding="utf-8")
    try:
        return subprocess.Popen([sys.executable, str(ROOT / SCRIPT), *args], cwd=tmp_path,
                                env=env, stdout=stdout, stderr=stderr,
                                preexec_fn=interruptible)
    finally:
        stdout.close()
        stderr.close()


@contextmanager
def ending(proc: subprocess.Popen, *holds):
    """However the test body ends: every hold released, the run killed if still going."""
    try:
        yield proc
    finally:
        for hold in holds:
            hold.release()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for_results(journal: Path, count: int, proc: subprocess.Popen,
                     timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = len(journal_results(journal))
        if done >= count:
            return done
        assert proc.poll() is None, "the CLI ended before it saved any results"
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} results in {journal} after {timeout}s")


def wait_for_line(path: Path, pattern: str, proc: subprocess.Popen,
                  timeout: float = 120) -> None:
    """Until a whole line of the background CLI's output matches `pattern`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if re.search(pattern, text, re.M):
            return
        assert proc.poll() is None, f"the CLI ended first:\n{text[-2000:]}"
        time.sleep(0.05)
    raise AssertionError(f"no line matching {pattern!r} in {path} after {timeout}s")


def finish(proc: subprocess.Popen, tmp_path: Path, timeout: float):
    """Exit code, stdout, stderr of a background CLI; killed (and failed) past timeout."""
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        out = (tmp_path / "bg.out").read_text(encoding="utf-8")
        err = (tmp_path / "bg.err").read_text(encoding="utf-8")
        raise AssertionError(f"the CLI was still running {timeout:.0f}s later; "
                             f"last output:\n{out[-1500:]}\n{err[-1500:]}") from None
    return (code, (tmp_path / "bg.out").read_text(encoding="utf-8"),
            (tmp_path / "bg.err").read_text(encoding="utf-8"))


def process_ancestors(pid: int) -> list[int]:
    chain = []
    for _ in range(10):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            break
        pid = int(re.search(r"^PPid:\s*(\d+)", status, re.M).group(1))
        if pid <= 1:
            break
        chain.append(pid)
    return chain


# -- 1. same answers as local mode, and as the truth ----------------------------------

def test_spark_csv_equals_local_csv_and_truth(tmp_path, serve, cli, spark_remote):
    ws = generate_workspace(40, seed=3)
    server = serve(ws, error_rate=0.1, retry_after="0", latency_s=0.01)
    names = users_file(tmp_path, ws)

    local = cli(SCRIPT, "--users-file", "users.txt", "--no-parallel", "-o", "local.csv",
                "--checkpoint", "local.ckpt", server=server)
    assert local.code == 0, local.output[-3000:]
    server.reset_stats()
    spark = cli(SCRIPT, "--users-file", "users.txt", "--spark-only",
                "--spark-remote", spark_remote.url,
                "-o", "spark.csv", "--checkpoint", "spark.ckpt", server=server)
    assert spark.code == 0, spark.output[-3000:]
    assert "⚠ Spark" not in spark.output  # really ran on Spark, no silent fallback
    assert "Distributing 40 users over" in spark.stdout

    assert csv_rows(tmp_path / "spark.csv") == expected_rows(ws, names)
    assert (tmp_path / "spark.csv").read_text(encoding="utf-8") == \
        (tmp_path / "local.csv").read_text(encoding="utf-8")
    assert server.stats.injected_5xx > 0  # the faults really fired in the Spark run
    assert server.stats.duplicate_listings() == {}  # and no directory was listed twice
    assert_no_rescan(tmp_path / "spark.ckpt", names)


# -- 2. banner, distribution, per-user worker ------------------------------------------

def test_banner_and_debug_show_the_spark_executors(tmp_path, serve, cli, spark_remote):
    ws = generate_workspace(40, seed=4)
    server = serve(ws, latency_s=0.02)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-only",
                 "--spark-remote", spark_remote.url,
                 "--debug", "-o", "out.csv", server=server)
    assert result.code == 0, result.output[-3000:]
    out = result.stdout
    assert f"Mode: PARALLEL (Spark Connect at {spark_remote.url})" in out
    assert "PARALLEL EXECUTION CONFIRMED" in out

    spread = dict(re.findall(r"^  • (Executor-\d+): processed (\d+) user\(s\)$", out, re.M))
    assert len(spread) > 1, out[-3000:]
    assert sum(int(n) for n in spread.values()) == len(names)
    assert f"✓ Work was distributed across {len(spread)} different executors:" in out
    # Numbered in the order they first report; the host/pid behind each shown once.
    first_seen = list(dict.fromkeys(re.findall(r"Executor-\d+", out)))
    assert first_seen == [f"Executor-{n}" for n in range(len(spread))]
    behind = re.findall(r"^\[EXECUTOR\] (Executor-\d+) is the Spark Python worker "
                        r"(\S+/pid\d+)$", out, re.M)
    assert sorted(name for name, _ in behind) == sorted(spread)
    assert len({worker for _, worker in behind}) == len(behind)

    per_user = re.findall(r"^  \[\d+/40\] \S \[(Executor-\d+)\] \[\w+\] (.+?): ", out, re.M)
    assert sorted(name for _, name in per_user) == sorted(names)
    assert {executor for executor, _ in per_user} == set(spread)
    finished = re.findall(r"^\[WORKER COMPLETE\] (Executor-\d+) finished (.+?) - ", out, re.M)
    assert sorted(finished) == sorted(per_user)
    # The executors are Spark's Python workers (children of the server), not the CLI.
    for _, worker in behind:
        pid = int(worker.rsplit("pid", 1)[1])
        if Path(f"/proc/{pid}").exists():
            assert spark_remote.process.pid in process_ancestors(pid), worker
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)


# -- 3. the token stays on this machine's side of the wire -----------------------------

def test_spark_tasks_splits_the_request_budget(tmp_path, serve, cli, spark_remote):
    ws = generate_workspace(10, seed=12)
    server = serve(ws, latency_s=0.01)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-only",
                 "--spark-remote", spark_remote.url,
                 "--spark-tasks", "4", "--concurrency", "8", "-o", "out.csv", server=server)
    assert result.code == 0, result.output[-3000:]
    # The server runs local[4]: 4 jobs at once share the 8 requests.
    assert ("Distributing 10 users over Spark jobs of a few seconds (4 at a time, "
            "8 requests in flight in all)") in result.stdout
    assert server.stats.peak_in_flight <= 8
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    bad = cli(SCRIPT, "--users-file", "users.txt", "--spark-only",
              "--spark-remote", spark_remote.url,
              "--spark-tasks", "0", server=server)
    assert bad.code == 2 and "--spark-tasks" in bad.stderr


def test_token_never_in_output_csv_checkpoint_or_spark_log(tmp_path, serve, cli,
                                                           spark_remote):
    ws = generate_workspace(16, seed=5)
    server = serve(ws, latency_s=0.01)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-only",
                 "--spark-remote", spark_remote.url,
                 "--debug", "--extended", "-o", "out.csv", "--checkpoint", "ck.json",
                 server=server)
    assert result.code == 0, result.output[-3000:]
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert TOKEN not in result.stdout
    assert TOKEN not in result.stderr
    for path in (tmp_path / "out.csv", tmp_path / "ck.json"):
        assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in spark_remote.log_path.read_text(errors="replace")


def test_dataframe_rows_carry_only_partition_numbers(tmp_path, serve, spark_remote,
                                                     monkeypatch):
    """In process: the DataFrame sent to Spark holds task numbers, nothing else; the rows
    coming back hold results only."""
    from dbx_inventory.runners.spark import runner as spark_runner
    from dbx_inventory.runners.modes import Mode
    from dbx_inventory.transport.auth import StaticToken
    from dbx_inventory.transport.client import ClientConfig
    from dbx_inventory.scan.filesystems import DBFS, WORKSPACE

    ws = generate_workspace(12, seed=6)
    server = serve(ws)
    names = [u.user_name for u in ws.users]
    inputs = []
    real_connect = spark_runner.connect

    class Recording:
        def __init__(self, spark):
            self._spark = spark

        def __getattr__(self, name):
            return getattr(self._spark, name)

        def range(self, *args, **kwargs):
            frame = self._spark.range(*args, **kwargs)
            inputs.append(frame)
            return frame

    monkeypatch.setattr(spark_runner, "connect",
                        lambda mode, config: Recording(real_connect(mode, config)))
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    config = ClientConfig(host=server.url, credentials=StaticToken(TOKEN))
    mode = Mode(True, "test", remote=spark_remote.url, spark_only=True)
    rows = list(spark_runner.run_on_spark(mode, config, names, (DBFS, WORKSPACE)))
    assert sorted(row.username for row in rows) == sorted(names)
    assert len(inputs) > 1  # one job per unit of users, then the one deleting credentials
    for frame in inputs:
        assert [(f.name, f.dataType.simpleString()) for f in frame.schema.fields] == \
            [("id", "bigint")]
        plan_text = str(frame._plan.print())  # the input relation: a Range, no literals
        assert plan_text.startswith("<Range") and TOKEN not in plan_text, plan_text
    for row in rows:
        assert TOKEN not in repr(row)


def test_token_in_spark_remote_url_is_not_printed(tmp_path, serve, cli, spark_remote):
    """sc://...;token=... forces TLS, which the local server does not speak: the tool
    says so without echoing the token, and scans locally."""
    ws = generate_workspace(6, seed=7)
    server = serve(ws)
    names = users_file(tmp_path, ws)
    remote = f"{spark_remote.url}/;token={TOKEN}"
    try:
        result = cli(SCRIPT, "--users-file", "users.txt", "--spark-only", "--spark-remote", remote,
                     "-o", "out.csv", server=server, timeout=45)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("still trying to reach Spark after 45 s (gRPC retries); "
                             f"output so far:\n{(exc.stdout or b'')[-1500:]!r}") from None
    assert result.code == 0, result.output[-3000:]
    assert TOKEN not in result.output
    assert f"Mode: PARALLEL (Spark Connect at {spark_remote.url})" in result.stdout
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)


# -- 4. no server at the URL ------------------------------------------------------------

def test_unreachable_server_falls_back_to_local(tmp_path, serve, cli):
    ws = generate_workspace(20, seed=8)
    server = serve(ws, latency_s=0.01)
    names = users_file(tmp_path, ws)
    port = free_port()
    started = time.monotonic()
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-only", "--spark-remote",
                 f"sc://127.0.0.1:{port}", "-o", "out.csv", server=server)
    took = time.monotonic() - started
    assert result.code == 0, result.output[-3000:]
    no_traceback(result.output)
    warning = [line for line in result.stdout.splitlines() if line.startswith("⚠ Spark:")]
    assert len(warning) == 1, result.stdout[:3000]
    assert f"no Spark Connect server at 127.0.0.1:{port}" in warning[0]
    assert fallback_line(result.stdout, len(names)), result.stdout[:3000]
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert took < 60


def test_unreachable_server_no_fallback_exits_1_with_one_line(tmp_path, serve, cli):
    ws = generate_workspace(5, seed=8)
    server = serve(ws)
    users_file(tmp_path, ws)
    port = free_port()
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-only", "--spark-remote",
                 f"sc://127.0.0.1:{port}", "--no-fallback", "-o", "out.csv", server=server)
    assert result.code == 1, result.output[-3000:]
    no_traceback(result.output)
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, result.stderr
    assert err[0].startswith(f"Error: no Spark Connect server at 127.0.0.1:{port}")
    assert f"resume with: {sys.executable} {ROOT / SCRIPT} " in err[0]
    assert "--no-parallel" in err[0]  # how to finish without the dead server
    assert not (tmp_path / "out.csv").exists()


# -- 5. --cluster-id, cluster not running ----------------------------------------------

@pytest.mark.parametrize("no_fallback", [False, True], ids=["fallback", "no-fallback"])
def test_cluster_not_running(tmp_path, serve, cli, no_fallback):
    ws = generate_workspace(8, seed=9)
    ws.add_cluster("0202-000000-stopped", state="TERMINATED")
    server = serve(ws, latency_s=0.01)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--cluster-id", "0202-000000-stopped",
                 "-o", "out.csv", *(["--no-fallback"] if no_fallback else []), server=server)
    no_traceback(result.output)
    assert "Mode: PARALLEL (using cluster 0202-000000-stopped)" in result.stdout
    reason = "cluster 0202-000000-stopped is TERMINATED, not RUNNING"
    if no_fallback:
        assert result.code == 1, result.output[-3000:]
        err = result.stderr.strip().splitlines()
        assert len(err) == 1 and reason in err[0], result.stderr
        assert not (tmp_path / "out.csv").exists()
    else:
        assert result.code == 0, result.output[-3000:]
        assert f"⚠ Spark: {reason}" in result.stdout
        # This machine scans from the start: some users may be in before Spark says no.
        here = re.search(r"Processed: (\d+)/", result.stdout)
        before = int(here.group(1)) if here else 0
        assert fallback_line(result.stdout, len(names) - before), result.stdout[:3000]
        assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert TOKEN not in result.output


def test_unknown_cluster_says_so_and_falls_back(tmp_path, serve, cli):
    ws = generate_workspace(4, seed=9)
    server = serve(ws)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--cluster-id", "0303-nope",
                 "-o", "out.csv", server=server)
    assert result.code == 0, result.output[-3000:]
    assert "⚠ Spark: cannot use cluster 0303-nope:" in result.stdout
    assert "does not exist" in result.stdout
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)


# -- 6. the Spark server dies mid-run --------------------------------------------------

@pytest.mark.parametrize("no_fallback", [False, True], ids=["fallback", "no-fallback"])
def test_server_killed_mid_run(tmp_path, serve, cli, own_spark, no_fallback):
    from spark_faults import Hold

    ws = generate_workspace(60, seed=10)
    server = serve(ws, latency_s=0.02)
    names = users_file(tmp_path, ws)
    # The last user's listings are held until the server is dead: killed mid-run.
    hold = Hold(server, names[-1])
    journal = tmp_path / "ck.json"
    args = ["--users-file", "users.txt", "--spark-only",
            "--spark-remote", own_spark.url, "-o", "out.csv",
            "--checkpoint", "ck.json"] + (["--no-fallback"] if no_fallback else [])
    proc = launch(tmp_path, server, *args)
    with ending(proc, hold):
        saved = wait_for_results(journal, 3, proc)
        own_spark.kill()
        hold.release()
        code, out, err = finish(proc, tmp_path, timeout=60)
    no_traceback(out + err)
    assert saved < len(names)
    if no_fallback:
        assert code == 1, out[-2000:] + err[-2000:]
        lines = [line for line in err.splitlines() if line.startswith("Error:")]
        assert len(lines) == 1, err
        assert "lost the Spark job" in lines[0]
        assert f"resume with: {sys.executable} {ROOT / SCRIPT} " in lines[0]
        assert " --resume" in lines[0]
        assert not (tmp_path / "out.csv").exists()
        resumed = cli(SCRIPT, *args, "--resume", "--no-parallel", server=server)
        assert resumed.code == 0, resumed.output[-3000:]
        assert "RESUMING FROM CHECKPOINT" in resumed.stdout
    else:
        assert code == 0, out[-2000:] + err[-2000:]
        assert re.search(r"^⚠ Spark: .*lost the Spark job", out, re.M), out[-3000:]
        assert re.search(r"^.*\d+.* from this machine", out, re.M), out[-3000:]
        # The seed's interruption lines, then the fallback as a mode change.
        assert "⚠ PARALLEL PROCESSING INTERRUPTED" in out
        assert re.search(r"^Processed: \d+/60 users before interruption", out, re.M)
        assert re.search(r"^Last completed: \S", out, re.M)
        assert re.search(r"^Mode: LOCAL \(fallback: Spark failed;", out, re.M), out[-3000:]
        assert re.search(r"^Scanned on this machine \(fallback\): \d+ users$", out, re.M)
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert_no_rescan(journal, names)


# -- 7. resume across modes ------------------------------------------------------------

def test_resume_local_run_on_spark(tmp_path, serve, cli, spark_remote):
    ws = generate_workspace(40, seed=12)
    server = serve(ws, latency_s=0.05)
    names = users_file(tmp_path, ws)
    journal = tmp_path / "ck.json"
    proc = launch(tmp_path, server, "--users-file", "users.txt", "--no-parallel",
                  "--concurrency", "4", "-o", "out.csv", "--checkpoint", "ck.json")
    try:
        wait_for_results(journal, 4, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = {r["username"] for r in journal_results(journal) if r["status"] != "error"}
    assert 0 < len(before) < len(names)

    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-only",
                 "--spark-remote", spark_remote.url,
                 "-o", "out.csv", "--checkpoint", "ck.json", "--resume", server=server)
    assert result.code == 0, result.output[-3000:]
    assert "⚠ Spark" not in result.output
    assert f"Already completed: {len(before)}" in result.stdout
    assert f"Distributing {len(names) - len(before)} users over" in result.stdout
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert_no_rescan(journal, names)


def test_this_machine_scans_while_the_executors_start(tmp_path, serve, spark_remote):
    """The executors' first jobs are held at the one question each job asks the
    workspace before its users: meanwhile the client scans with the budget left.
    Released, the executors scan their units; every user is scanned once, in the
    budget, and the summary says where."""
    from spark_faults import EndpointHold

    ws = generate_workspace(160, seed=31, forbidden_subtrees=0)
    # About 30 s of work for the whole budget: enough left, once the executors are up,
    # for Spark jobs to be worth their overhead (two rounds at least).
    server = serve(ws, latency_s=0.15)
    names = users_file(tmp_path, ws)
    first_jobs = EndpointHold(server, "/api/2.0/workspace/get-status")
    proc = launch(tmp_path, server, "--users-file", "users.txt", "--spark-remote",
                  spark_remote.url, "--concurrency", "6", "-o", "out.csv",
                  "--checkpoint", "ck.json")
    with ending(proc, first_jobs):
        assert first_jobs.arrived.wait(120), "no executor asked the workspace anything"
        wait_for_results(tmp_path / "ck.json", 5, proc)
        early = journal_results(tmp_path / "ck.json")
        server.faults.latency_s = 0.05  # the rest needs no slow answers, only many
        first_jobs.release()
        code, out, err = finish(proc, tmp_path, timeout=240)
    assert code == 0, out[-3000:] + err[-2000:]
    here = f"/pid{proc.pid}"
    assert all(row["worker"].endswith(here) for row in early), early
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert_no_rescan(tmp_path / "ck.json", names)
    assert server.stats.peak_in_flight <= 6
    spark = re.search(r"Scanned on Spark: (\d+) users? \(\d+ executors?\)", out)
    local = re.search(r"Scanned on this machine \(alongside Spark\): (\d+) user", out)
    assert spark and local, out[-2000:]
    assert int(spark.group(1)) + int(local.group(1)) == len(names)
    assert int(spark.group(1)) > 0 and int(local.group(1)) >= len(early)
    # Once a lane joined (before its first job asked its question), this machine took
    # no new user: it finished at most the few it held (one per request in flight).
    assert int(local.group(1)) <= len(early) + 6, out[-2000:]
    assert "This machine scans the first users (shown as local; 32 of 160 at most) while " \
        "the executors start" in out


def test_a_plain_spark_run_scans_on_the_executors(tmp_path, serve, spark_remote):
    """No forcing flag, a few hundred users: the executors scan them and the console is
    the seed's parallel one. This machine's DBFS listings wait until the first Spark
    lane is up, so how fast the executors start does not decide the split: this machine
    keeps the users it held then (concurrency / file systems), no more."""
    from spark_faults import EndpointHold

    ws = generate_workspace(300, seed=41, forbidden_subtrees=0)
    server = serve(ws, latency_s=0.01)
    names = users_file(tmp_path, ws)
    here_first = EndpointHold(server, "/api/2.0/dbfs/list")
    proc = launch(tmp_path, server, "--users-file", "users.txt", "--spark-remote",
                  spark_remote.url, "--debug", "-o", "out.csv", "--checkpoint", "ck.json")
    with ending(proc, here_first):
        assert here_first.arrived.wait(120), "this machine listed nothing in DBFS"
        wait_for_line(tmp_path / "bg.out", r"^  \[debug\] Spark lane \d+ is up "
                      r"\(its warm-up took \d+\.\d s\)$", proc)
        here_first.release()
        code, out, err = finish(proc, tmp_path, timeout=300)
    assert code == 0, out[-3000:] + err[-2000:]
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert_no_rescan(tmp_path / "ck.json", names)

    held = 20 // 2  # the default concurrency over DBFS and Workspace
    spark = re.search(r"^Scanned on Spark: (\d+) users \((\d+) executors?\)$", out, re.M)
    local = re.search(r"^Scanned on this machine \(alongside Spark\): (\d+) users?$", out,
                      re.M)
    assert spark and local, out[-3000:]
    assert int(spark.group(1)) + int(local.group(1)) == len(names)
    assert 1 <= int(local.group(1)) <= held, out[-3000:]
    assert int(spark.group(1)) >= 0.8 * len(names)

    # The seed's parallel lines, each user named by who scanned it.
    per_user = re.findall(r"^  \[\d+/300\] \S \[(Executor-\d+|local)\] \[\w+\] (.+?): ",
                          out, re.M)
    assert sorted(name for _, name in per_user) == sorted(names)
    # The executor's own times, as the seed shows them; this machine's are on its lines.
    finished = re.findall(r"^\[WORKER COMPLETE\] (Executor-\d+) finished (.+?) - ", out, re.M)
    assert sorted(finished) == sorted(item for item in per_user if item[0] != "local")
    batches = re.findall(r"^\[WORKER BATCH\] (Executor-\d+|local) received (\d+) user\(s\)",
                         out, re.M)
    assert {who for who, _ in batches} == {who for who, _ in per_user}
    assert all(int(count) == 1 for who, count in batches if who == "local")
    spread = dict(re.findall(r"^  • (Executor-\d+): processed (\d+) user\(s\)$", out, re.M))
    assert "PARALLEL EXECUTION CONFIRMED" in out and len(spread) > 1, out[-3000:]
    assert sum(int(n) for n in spread.values()) == int(spark.group(1))
    assert len(spread) == int(spark.group(2))
    assert sum(who == "local" for who, _ in per_user) == int(local.group(1))
    for executor, count in spread.items():
        assert sum(who == executor for who, _ in per_user) == int(count)
