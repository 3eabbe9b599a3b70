"""Shared fixtures: the fake workspace over HTTP, the CLIs as subprocesses, local Spark."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from fake_workspace import FakeWorkspaceServer, Workspace

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "dapi-test-SECRET-9f8e7d6c5b4a"  # tests assert this never leaks


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with no Databricks/Spark settings from the machine running tests."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABRICKS_", "SPARK_REMOTE"))}
    env["DATABRICKS_CONFIG_FILE"] = str(tmp_path / "no-such-databrickscfg")
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def run_script(script: str, *args: str, env: dict[str, str], cwd: Path,
               timeout: float = 300) -> CliResult:
    """Run one of the two root scripts as a user would."""
    proc = subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8",
                          timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


# Marks by what a test needs, so `make test-fast` can leave the slow kinds out. Every
# test under e2e/ runs a tool as a subprocess (cli); the other needs go by file name,
# wherever the file lives; fixtures add theirs to a test that asks for them.
_FOLDER_MARKS = {"e2e": ("cli",)}
_FILE_MARKS = {"test_spark_mode.py": ("spark",), "test_dbconnect.py": ("spark", "venv"),
               "test_spark_hostile.py": ("spark",),
               "test_table_output.py": ("spark",), "test_console_docs.py": ("spark",),
               "test_report_html.py": ("browser",),
               "test_volume_report.py": ("browser",), "test_hardening2.py": ("browser",),
               "test_spark_auth.py": ("spark",)}
_FIXTURE_MARKS = {"spark_remote": "spark", "cli": "cli"}


def pytest_collection_modifyitems(items):
    for item in items:
        marks = set(_FILE_MARKS.get(item.path.name, ()))
        marks.update(_FOLDER_MARKS.get(item.path.parent.name, ()))
        marks.update(mark for fixture, mark in _FIXTURE_MARKS.items()
                     if fixture in getattr(item, "fixturenames", ()))
        for mark in sorted(marks):
            item.add_marker(mark)


@pytest.fixture(autouse=True)
def _no_secrets_from_earlier_tests():
    """Each test starts with a scrubber that knows no secret: the scrubber is per process,
    and what one test taught it blanks another's text (which test ran first on a worker
    depends on the layout and on xdist)."""
    from dbx_inventory import scrub

    scrub.forget_all()


@pytest.fixture
def serve():
    """serve(workspace, **faults) → a started FakeWorkspaceServer, stopped after the test."""
    servers = []

    def start(workspace: Workspace, **faults) -> FakeWorkspaceServer:
        server = FakeWorkspaceServer(workspace, token=TOKEN).start()
        for key, value in faults.items():
            setattr(server.faults, key, value)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def cli(tmp_path):
    """cli(script, *args, server=..., env=...) runs a script against a fake workspace."""
    def call(script: str, *args: str, server: FakeWorkspaceServer | None = None,
             env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
        environment = clean_env(tmp_path)
        if server is not None:
            environment.update(DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
        environment.update(env or {})
        return run_script(script, *args, env=environment, cwd=tmp_path, timeout=timeout)
    return call


@pytest.fixture(scope="session")
def spark_remote():
    """One local Spark Connect server (pyspark >= 4) for the whole test session."""
    import shutil
    import tempfile

    from localspark import LocalSparkConnect

    # Tables written by tests (--output-table) land here, not in ./spark-warehouse.
    warehouse = tempfile.mkdtemp(prefix="spark-warehouse-")
    server = LocalSparkConnect("local[4]", extra_conf={
        "spark.sql.warehouse.dir": warehouse}, preload=True).start()
    yield server
    server.stop()
    shutil.rmtree(warehouse, ignore_errors=True)


class _SpareSpark:
    """A Spark Connect server started in the background for the next test that may kill
    one: a start costs ~10 s, spent while the test before it runs."""

    def __init__(self):
        self._thread: threading.Thread | None = None
        self._started = None  # the server, or what its start raised

    def prepare(self) -> None:
        def start():
            try:
                self._started = _killable_server()
            except Exception as exc:  # handed to the test that takes it
                self._started = exc
        self._thread = threading.Thread(target=start, name="spare-spark", daemon=True)
        self._thread.start()

    def take(self):
        if self._thread is None:
            return _killable_server()
        self._thread.join()
        started, self._thread, self._started = self._started, None, None
        if isinstance(started, Exception):
            raise started
        return started

    def discard(self) -> None:
        if self._thread is not None:
            try:
                self.take().stop()
            except Exception:
                pass


def _killable_server():
    from localspark import LocalSparkConnect

    return LocalSparkConnect("local[4]", preload=True).start()


@pytest.fixture(scope="session")
def _spare_spark():
    spare = _SpareSpark()
    yield spare
    spare.discard()


@pytest.fixture
def own_spark(request, _spare_spark):
    """A Spark Connect server of this test only: it may be killed. When a later test of
    the same file asks for one too (a file runs on one worker, in order: --dist
    loadfile), its server starts while this test runs."""
    server = _spare_spark.take()
    items = request.session.items
    later = items[items.index(request.node) + 1:] if request.node in items else []
    if any(item.path == request.node.path and "own_spark" in item.fixturenames
           for item in later):
        _spare_spark.prepare()
    yield server
    server.stop()
