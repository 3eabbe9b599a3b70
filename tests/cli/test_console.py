"""The console's own parts, in process: one writer, plurals, the settings line, retry lines,
and the parallel block's timing rules (each line only once it is true)."""

from __future__ import annotations

import io
import logging
import re
import sys
import threading
import time

import pytest

from conftest import TOKEN
from dbx_inventory import humanize
from dbx_inventory.cli import console
from dbx_inventory.transport import settings
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.cli.users import source_line
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.clock import FakeClock
from dbx_inventory.cli.progress import Progress, user_lines
from dbx_inventory.scan.results import UserResult
from dbx_inventory.cli.spark_console import SparkConsole, print_distribution
from dbx_inventory.runners.spark.events import BatchReport
from dbx_inventory.cli.worker_names import WorkerNames
from fake_workspace import Workspace


class SlowStream(io.StringIO):
    """A stream that lets other threads run between any two writes."""

    def __init__(self, log: list | None = None, name: str = ""):
        super().__init__()
        self.log, self.name = log, name

    def write(self, text: str) -> int:
        time.sleep(0.0002)
        if self.log is not None:
            self.log.append((self.name, text))
        return super().write(text)


def test_plural():
    assert humanize.plural(1, "user") == "1 user"
    assert humanize.plural(0, "user") == "0 users"
    assert humanize.plural(2, "request") == "2 requests"
    assert humanize.plural(1, "email address", "email addresses") == "1 email address"
    assert humanize.plural(3, "email address", "email addresses") == "3 email addresses"


def test_lines_from_many_threads_never_run_into_each_other(monkeypatch):
    stream = SlowStream()
    monkeypatch.setattr(sys, "stdout", stream)
    logger = logging.getLogger("dbx_inventory.test_console")
    handler = console.ConsoleHandler()
    handler.setFormatter(logging.Formatter("  [debug] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def printer(number: int) -> None:
        for step in range(40):
            if number % 2:
                logger.debug("thread %d line %d", number, step)
            else:
                console.out(f"thread {number} line {step}")
    try:
        threads = [threading.Thread(target=printer, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6 * 40
    for line in lines:
        assert re.fullmatch(r"(  \[debug\] )?thread \d line \d+", line), line


def test_progress_bar_is_cleared_before_a_line_and_redrawn_below_it(monkeypatch):
    writes: list = []
    monkeypatch.setattr(sys, "stdout", SlowStream(writes, "out"))
    monkeypatch.setattr(sys, "stderr", SlowStream(writes, "err"))
    progress = Progress(3, bar=True)
    try:
        writes.clear()
        console.out("a line from another thread")
    finally:
        progress.close()
    at = writes.index(("out", "a line from another thread\n"))
    before = [text for name, text in writes[:at] if name == "err"]
    after = "".join(text for name, text in writes[at + 1:] if name == "err")
    assert before, "the bar was not cleared before the line"
    assert "0/3" in after, "the bar was not redrawn below the line"


# -- the settings line of databricks_user_list.py --------------------------------------

def _settings(tmp_path, env=None, **flags):
    config = tmp_path / "cfg"
    config.write_text(f"[PROD]\nhost = https://prod.example.com\ntoken = {TOKEN}\n"
                      "[HOSTONLY]\nhost = https://h.example.com\n", encoding="utf-8")
    return settings.resolve(env={"DATABRICKS_CONFIG_FILE": str(config), **(env or {})},
                            **flags)


def test_source_line_names_the_profile_only_when_it_supplied_something(tmp_path):
    env = {"DATABRICKS_HOST": "https://env.example.com", "DATABRICKS_TOKEN": TOKEN}
    assert source_line(_settings(tmp_path, profile="PROD")) == \
        "Using Databricks CLI configuration (profile: PROD)"
    assert source_line(_settings(tmp_path, env=env)) == "Using environment variables"
    assert source_line(_settings(tmp_path, workspace_url="https://f.example.com",
                                 token=TOKEN)) == "Using command-line flags"
    # --profile named, but flags supplied both: the profile gave nothing.
    both = _settings(tmp_path, profile="PROD", workspace_url="https://f.example.com",
                     token=TOKEN)
    assert source_line(both) == "Using command-line flags"
    assert source_line(_settings(tmp_path, env=env, profile="HOSTONLY")) == (
        "Using Databricks CLI configuration (profile: HOSTONLY) for the workspace URL "
        "and environment variables for the token")


def test_token_source_is_recorded(tmp_path):
    env = {"DATABRICKS_TOKEN": TOKEN}
    resolved = _settings(tmp_path, env=env, profile="HOSTONLY")
    assert (resolved.source, resolved.token_source) == ("profile HOSTONLY", "environment")
    assert _settings(tmp_path, profile="PROD").token_source == "profile PROD"


# -- retry lines -------------------------------------------------------------------------

@pytest.mark.parametrize("subject, shown", [
    ("dbfs:/Users/a@x.com", "[DBFS] Server error 503 on /Users/a@x.com"),
    ("workspace:/Users/a@x.com", "[WORKSPACE] Server error 503 on /Users/a@x.com"),
    ("SCIM Users", "Server error 503 on SCIM Users"),
])
def test_retry_line_in_the_seed_form(serve, subject, shown):
    ws = Workspace()
    ws.add_user("a@x.com")
    ws.dbfs.add_file("/Users/a@x.com/f", size=1)
    server = serve(ws, fail_first_n_requests_for_path={"/Users/a@x.com": 1})
    records: list[str] = []
    logger = logging.getLogger("dbx_inventory.transport.client")
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    config = ClientConfig(host=server.url, credentials=StaticToken(TOKEN))
    try:
        with ApiClient(config, clock=FakeClock()) as client:
            client.get("/api/2.0/dbfs/list", {"path": "/Users/a@x.com"}, subject=subject)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert len(records) == 1, records
    assert re.fullmatch(re.escape(shown) + r", retrying in (\d+|\d+\.\d)s \(attempt 1/8\)",
                        records[0]), records[0]


# -- the parallel block ------------------------------------------------------------------

def _row(name: str, worker: str, files: int = 3) -> UserResult:
    return UserResult(username=name, status="success", file_count=files, total_size=1500,
                      file_source="dbfs", error="", started_at=1_700_000_000.0,
                      ended_at=1_700_000_002.5, worker=worker)


def test_parallel_block_prints_each_line_when_it_becomes_true(capsys):
    names = WorkerNames(local="me/pid1")
    events = SparkConsole(3, names, debug=True, monotonic=iter([10.0, 12.0]).__next__)
    events.connecting("cluster 0101-abc")
    events.distributing(["a@x", "b@x", "c@x"], units=0, slots=2, in_flight=1)
    before = capsys.readouterr().out
    assert "PARALLEL PROCESSING 3 USERS USING SPARK CLUSTER" in before
    assert "Connecting to cluster: 0101-abc" in before.splitlines()
    assert "  2. b@x" in before.splitlines()
    assert "Distributing 3 users over Spark jobs of a few seconds (2 at a time, 1 request "\
        "in flight in all)" in before.splitlines()
    assert "Collecting results" not in before  # nothing has arrived yet
    for unit, (worker, users) in enumerate([("h/pid7", ("a@x", "b@x")),
                                            ("h/pid9", ("c@x",))]):
        events.batch_finished(BatchReport(unit, worker, users, 1.0, 2.0))
    events.lost("gone", 3, 3)
    lines = capsys.readouterr().out.splitlines()
    assert lines.count("Collecting results from workers...") == 1
    assert "[EXECUTOR] Executor-0 is the Spark Python worker h/pid7" in lines
    assert "[WORKER BATCH] Executor-0 received 2 user(s): a@x, b@x" in lines
    assert "[WORKER BATCH] Executor-1 received 1 user(s): c@x" in lines
    assert "Parallel processing stopped after 2s" in lines


def test_rows_this_machine_scans_before_spark_is_ready_come_before_the_handing_out(capsys):
    names = WorkerNames(local="me/pid1")
    events = SparkConsole(3, names, monotonic=iter([10.0, 12.0]).__next__)
    events.connecting("sc://h:15002", here_most=1)
    events.batch_finished(BatchReport(0, "me/pid1", ("a@x",), 1.0, 2.0))
    events.distributing(["a@x", "b@x", "c@x"], units=0, slots=2, in_flight=4)
    events.batch_finished(BatchReport(1, "h/pid7", ("b@x", "c@x"), 1.0, 2.0))
    lines = capsys.readouterr().out.splitlines()
    connect = lines.index("Connecting to cluster: sc://h:15002")
    assert lines[connect + 1] == ("This machine scans the first users (shown as local; 1 of 3 "
                                  "at most) while the executors start; once they are up, "
                                  "every other user goes to Spark")
    assert lines.count("Collecting results from workers...") == 1
    assert lines.index("Collecting results from workers...") > \
        lines.index("Processing 3 users across Spark workers...")


def test_user_block_layout_and_executor_lines():
    names = WorkerNames(local="me/pid1")
    plain = user_lines(1, 9, _row("a@x", "h/pid7"), debug=False, names=names)
    assert plain == ["", "[1/9] a@x", "  ✓ Files: 3, Size: 1.5 KB"]
    spark = user_lines(2, 9, _row("b@x", "h/pid7"), debug=True, names=names)
    assert spark[0].startswith("[WORKER COMPLETE] Executor-0 finished b@x - ")
    assert spark[0].endswith(" (duration: 2.5s, files: 3, size: 1500)")
    assert spark[1] == "  [2/9] ✓ [Executor-0] [DBFS] b@x: 3 files (1.5 KB) (2.5s)"
    local = user_lines(3, 9, _row("c@x", "me/pid1"), debug=True, names=names)
    assert local[0] == "  [3/9] ✓ [local] [DBFS] c@x: 3 files (1.5 KB) (2.5s)"


def test_distribution_block_says_confirmed_only_for_more_than_one(capsys):
    print_distribution({"Executor-0": 2, "Executor-1": 1})
    print_distribution({"Executor-0": 3})
    text = capsys.readouterr().out
    assert "PARALLEL EXECUTION CONFIRMED\n" in text
    assert "✓ Work was distributed across 2 different executors:" in text
    assert "  • Executor-1: processed 1 user(s)" in text
    assert "PARALLEL EXECUTION NOT CONFIRMED" in text
    assert "⚠ All work ran on one executor:" in text
