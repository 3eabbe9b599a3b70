"""Spark mode under hostile conditions, against a real local Spark Connect server: a
user's listing held open on purpose, then the server, a worker or the client killed
there. Issue 13: no orphaned scan, Ctrl-C always wins, the request budget kept."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, TOKEN
from helpers import csv_rows, expected_rows, journal_records, users_file
from fake_workspace import generate_workspace
from localspark import LocalSparkConnect
from spark_faults import Hold, process_of_port
from test_spark_mode import (SCRIPT, assert_no_rescan, ending, finish,
                             journal_results, launch, no_traceback, wait_for_results)


def scratch_files(server: LocalSparkConnect) -> list[Path]:
    return [path for path in Path(server._tmp).rglob("*") if path.is_file()]


def spark_args(spark: LocalSparkConnect) -> list[str]:
    """The run these tests hold and break: users.txt on the cluster only, 8 in flight,
    journaled in ck.json."""
    return ["--users-file", "users.txt", "--spark-only", "--spark-remote", spark.url,
            "--concurrency", "8", "-o", "out.csv", "--checkpoint", "ck.json"]


def wait_quiet(server, seconds: float = 2.0, timeout: float = 120) -> None:
    """Until the fake workspace has had no request in flight and no new one for a while."""
    if not server.wait_quiet(seconds, timeout):
        raise AssertionError("the workspace never went quiet: work still running")


def test_rows_stream_while_one_job_is_held_and_nothing_is_left_on_the_server(
        tmp_path, serve, spark_remote):
    """The first user's listing is held: every other unit's rows still reach the
    journal. After the run, nothing in the server's scratch space holds the token."""
    ws = generate_workspace(30, seed=21)
    server = serve(ws, latency_s=0.01)
    names = users_file(tmp_path, ws)
    hold = Hold(server, names[0])
    started = time.time()
    proc = launch(tmp_path, server, *spark_args(spark_remote))
    with ending(proc, hold):
        assert hold.arrived.wait(120), "the held user was never asked for"
        wait_for_results(tmp_path / "ck.json", len(names) - 1, proc)
        shown = {r["username"] for r in journal_results(tmp_path / "ck.json")}
        assert names[0] not in shown  # its job is still open: the others did not wait
        hold.release()
        code, out, err = finish(proc, tmp_path, timeout=120)
    assert code == 0, out[-2000:] + err[-2000:]
    assert "⚠ Spark" not in out
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    # The session was released: the server dropped its artifacts (the copy an executor
    # fetched into its SparkFiles folder is the credentials' concern: runners/spark/credentials.py).
    leftovers = scratch_files(spark_remote)
    assert not [p for p in leftovers if "dbx-inventory-auth" in p.name
                and any(part.startswith("artifacts-") for part in p.parts)], leftovers
    shipped = [p for p in leftovers if "dbx-inventory-auth" in p.name
               and p.stat().st_mtime >= started - 1]
    assert len(shipped) <= 1, shipped  # the headers were sent once, not once per thread
    assert TOKEN not in spark_remote.log_path.read_text(errors="replace")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_interrupt_with_the_server_dead_ends_the_run_in_seconds(tmp_path, serve, own_spark,
                                                                signum):
    ws = generate_workspace(40, seed=22)
    server = serve(ws, latency_s=0.02)
    names = users_file(tmp_path, ws)
    hold = Hold(server, names[6])  # keeps a job open, and the local fallback too
    proc = launch(tmp_path, server, *spark_args(own_spark))
    with ending(proc, hold):
        assert hold.arrived.wait(120), "the held user was never asked for"
        wait_for_results(tmp_path / "ck.json", 3, proc)
        own_spark.kill()
        proc.send_signal(signum)
        sent = time.monotonic()
        code, out, err = finish(proc, tmp_path, timeout=60)
        took = time.monotonic() - sent
    no_traceback(out + err)
    assert code == 1, out[-2000:] + err[-2000:]
    assert took < 8, f"the interrupt took {took:.1f}s to end the run"
    assert "interrupted." in err and "--resume" in err, err
    saved = journal_results(tmp_path / "ck.json")
    assert 3 <= len(saved) < len(names)
    assert records_are_whole(tmp_path / "ck.json")
    assert not (tmp_path / "out.csv").exists()


def records_are_whole(path: Path) -> bool:
    lines = [line for line in path.read_bytes().split(b"\n") if line]
    return len(lines) == len(journal_records(path))


def test_worker_crash_cancels_spark_before_the_local_fallback(tmp_path, serve, spark_remote):
    """One Python worker killed mid-job: the run falls back, and the jobs Spark still
    ran never overlap the local scan beyond the budget."""
    ws = generate_workspace(48, seed=23)
    server = serve(ws, latency_s=0.1)
    names = users_file(tmp_path, ws)
    hold = Hold(server, names[12])
    proc = launch(tmp_path, server, *spark_args(spark_remote))
    with ending(proc, hold):
        assert hold.arrived.wait(120), "the held user was never asked for"
        worker = process_of_port(hold.sender_port)
        assert worker is not None and worker != proc.pid
        os.kill(worker, signal.SIGKILL)
        hold.release()
        code, out, err = finish(proc, tmp_path, timeout=180)
    no_traceback(out + err)
    assert code == 0, out[-2000:] + err[-2000:]
    assert "⚠ Spark:" in out and "from this machine" in out, out[-3000:]
    assert server.stats.peak_in_flight <= 8
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert_no_rescan(tmp_path / "ck.json", names)


def test_killed_client_orphans_at_most_a_unit_per_slot(tmp_path, serve, cli, spark_remote):
    ws = generate_workspace(64, seed=24)
    server = serve(ws, latency_s=0.05)
    names = users_file(tmp_path, ws)
    hold = Hold(server, None)
    args = spark_args(spark_remote)
    proc = launch(tmp_path, server, *args)
    with ending(proc):
        wait_for_results(tmp_path / "ck.json", 6, proc)
        hold.mark("after")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        saved = {r["username"] for r in journal_results(tmp_path / "ck.json")}
        wait_quiet(server)
    orphaned = hold.users_by_phase.get("after", set()) - saved
    # local[4]: 4 jobs at once, each a unit of at most remaining / (2 x 4) users: the
    # dead client's orphans are those 4 units, never the rest of the list.
    remaining = len(names) - len(saved)
    assert len(orphaned) <= 4 * -(-remaining // 8), sorted(orphaned)
    assert len(saved) + len(orphaned) < len(names)
    resumed = cli(SCRIPT, *args, "--resume", server=server)
    assert resumed.code == 0, resumed.output[-3000:]
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)


def test_dead_server_is_noticed_in_seconds(tmp_path, serve, own_spark):
    ws = generate_workspace(40, seed=25)
    server = serve(ws, latency_s=0.02)
    names = users_file(tmp_path, ws)
    hold = Hold(server, names[6])
    proc = launch(tmp_path, server, *spark_args(own_spark))
    with ending(proc, hold):
        assert hold.arrived.wait(120), "the held user was never asked for"
        wait_for_results(tmp_path / "ck.json", 3, proc)
        own_spark.kill()
        killed = time.monotonic()
        noticed = None
        while proc.poll() is None and time.monotonic() - killed < 60:
            if "⚠ Spark:" in (tmp_path / "bg.out").read_text(encoding="utf-8"):
                noticed = time.monotonic() - killed
                break
            time.sleep(0.05)
        hold.release()
        code, out, err = finish(proc, tmp_path, timeout=120)
    assert noticed is not None and noticed < 10, f"noticed after {noticed}s"
    assert code == 0, out[-2000:] + err[-2000:]
    assert "from this machine" in out, out[-3000:]
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert_no_rescan(tmp_path / "ck.json", names)


def test_no_wait_on_a_server_that_died_after_the_last_row(serve, own_spark):
    """In process: every row is in, then the server dies: the run ends at once."""
    from dbx_inventory.transport.auth import StaticToken
    from dbx_inventory.transport.client import ClientConfig
    from dbx_inventory.runners.modes import Mode
    from dbx_inventory.runners.spark.runner import run_on_spark
    from dbx_inventory.runners.spark.session import settle
    from dbx_inventory.scan.filesystems import DBFS, WORKSPACE

    ws = generate_workspace(6, seed=26)
    server = serve(ws)
    names = [u.user_name for u in ws.users]
    config = ClientConfig(host=server.url, credentials=StaticToken(TOKEN))
    mode = Mode(True, "test", remote=own_spark.url, spark_only=True)
    rows = run_on_spark(mode, config, names, (DBFS, WORKSPACE))
    got = [next(rows) for _ in names]
    own_spark.kill()
    started = time.monotonic()
    assert list(rows) == []
    ended = time.monotonic() - started
    settle()
    settled = time.monotonic() - started
    assert sorted(row.username for row in got) == sorted(names)
    assert ended < 1.0, f"{ended:.1f}s to end after the last row"
    assert settled < 4.0, f"{settled:.1f}s to let go of the dead session"


@pytest.mark.parametrize("flags, budget", [
    (["--concurrency", "1"], 1),
    (["--spark-tasks", "1", "--concurrency", "5"], 5),  # fewer slots said than real
    (["--spark-tasks", "16", "--concurrency", "6"], 6),  # more said than real
], ids=["c1", "tasks1-c5", "tasks16-c6"])
def test_concurrency_is_a_hard_ceiling_across_the_cluster(tmp_path, serve, cli,
                                                           spark_remote, flags, budget):
    ws = generate_workspace(24, seed=27)
    server = serve(ws, latency_s=0.02)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-only",
                 "--spark-remote", spark_remote.url,
                 *flags, "-o", "out.csv", server=server)
    assert result.code == 0, result.output[-3000:]
    assert "⚠ Spark" not in result.output
    assert server.stats.peak_in_flight <= budget
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)


def test_nothing_left_to_scan_never_claims_parallel(tmp_path, serve, cli):
    """A journal with every user but no 'complete' mark: resuming uses no Spark."""
    ws = generate_workspace(8, seed=28)
    server = serve(ws)
    # Users whose scan fails are scanned again on resume: keep the ones that succeed.
    names = [row[0] for row in expected_rows(ws, users_file(tmp_path, ws)) if not row[5]]
    (tmp_path / "users.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    first = cli(SCRIPT, "--users-file", "users.txt", "--no-parallel", "-o", "out.csv",
                "--checkpoint", "ck.json", server=server)
    assert first.code == 0, first.output[-3000:]
    journal = tmp_path / "ck.json"
    lines = journal.read_bytes().rstrip(b"\n").split(b"\n")
    journal.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # as if killed before the mark
    resumed = cli(SCRIPT, "--users-file", "users.txt", "--spark-only",
                  "--spark-remote", "sc://127.0.0.1:9",
                  "--resume", "-o", "out.csv", "--checkpoint", "ck.json", server=server)
    assert resumed.code == 0, resumed.output[-3000:]
    assert "Mode: PARALLEL" not in resumed.stdout
    assert "Mode: LOCAL (nothing left to scan" in resumed.stdout
    assert "Spark" not in resumed.stdout.replace("Spark not used", "")
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)


def test_unreachable_cluster_endpoint_fails_fast_and_says_how_to_finish_locally(
        tmp_path, serve, cli):
    """The cluster runs, but its Spark Connect endpoint does not answer gRPC."""
    ws = generate_workspace(4, seed=29)
    ws.add_cluster("0404-000000-running", state="RUNNING")
    server = serve(ws)
    users_file(tmp_path, ws)
    started = time.monotonic()
    result = cli(SCRIPT, "--users-file", "users.txt", "--cluster-id", "0404-000000-running",
                 "--no-fallback", "-o", "out.csv", server=server, timeout=120)
    took = time.monotonic() - started
    no_traceback(result.output)
    assert result.code == 1, result.output[-3000:]
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, result.stderr
    assert "⚠ Spark" not in result.stdout  # said once, in the error line
    assert f"resume with: {sys.executable} {ROOT / SCRIPT} " in err[0]
    assert "(or finish locally: " in err[0] and "--no-parallel" in err[0]
    assert TOKEN not in result.output
    assert took < 20, f"{took:.1f}s to give up on the cluster"
