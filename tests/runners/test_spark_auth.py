"""What reaches the cluster (spark_auth): a real local Spark Connect server of this module
(its scratch space and log are grepped), the fake workspace's Token API over HTTP."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, TOKEN, clean_env
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.clock import FakeClock
from dbx_inventory.errors import SparkFailure, Throttled, WorkspaceUnreachable
from dbx_inventory.transport.retry import RetryPolicy
from dbx_inventory.runners.spark.credentials import LIFETIME_S, ExecutorCredentials
from fake_workspace import api, generate_workspace
from helpers import closed_port, csv_rows, expected_rows, interruptible, users_file
from localspark import LocalSparkConnect

SCRIPT = "databricks_user_files_simple.py"
WORKSPACE_LIST = "/api/2.0/workspace/list"


@pytest.fixture(scope="module")
def spark_server():
    """A Spark Connect server of this module only: its scratch space is ours to grep."""
    server = LocalSparkConnect("local[2]", preload=True).start()
    yield server
    server.stop()


@pytest.fixture
def spark(spark_server, monkeypatch):
    from pyspark.sql import SparkSession

    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    session = SparkSession.builder.remote(spark_server.url).create()
    yield session
    session.stop()  # a second stop is harmless


def end_of_run(credentials, spark) -> None:
    """What the job path does in its finally: close, then release the session."""
    credentials.close()
    spark.stop()


def config_for(server) -> ClientConfig:
    return ClientConfig(host=server.url, credentials=StaticToken(TOKEN),
                        retry=RetryPolicy())


def leaks(spark_server, secrets: list[str]) -> list[str]:
    """Files under the server's scratch space (spark.local.dir, java.io.tmpdir, artifact
    and userFiles folders, its log) that hold any of the secrets."""
    root = spark_server.log_path.parent
    needles = [s.encode() for s in secrets if s]
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if any(needle in data for needle in needles):
                found.append(str(path.relative_to(root)))
    return found


def what_tasks_see(spark, host: str, artifact: str) -> tuple[str, int]:
    """(sha256 of the header a task reads from the artifact, the status /Me gives it).

    The header itself never travels back: rows could land in the server's scratch."""
    def task(batches):
        import hashlib

        import pandas as pd
        import requests
        from pyspark import SparkFiles

        with open(SparkFiles.get(artifact), encoding="utf-8") as handle:
            header = __import__("json").load(handle)["Authorization"]
        status = requests.get(host + "/api/2.0/preview/scim/v2/Me",
                              headers={"Authorization": header}, timeout=10).status_code
        for _ in batches:
            pass
        yield pd.DataFrame({"digest": [hashlib.sha256(header.encode()).hexdigest()],
                            "status": [status]})

    row = spark.range(0, 1, 1, 1).mapInPandas(task, "digest string, status bigint").collect()[0]
    return row["digest"], row["status"]


def digest(token: str) -> str:
    return hashlib.sha256(f"Bearer {token}".encode()).hexdigest()


# -- the credential itself -------------------------------------------------------------

def test_a_pat_run_ships_a_token_of_its_own_and_revokes_it(spark, spark_server, serve):
    server = serve(generate_workspace(2, seed=1))
    lines: list[str] = []
    credentials = ExecutorCredentials(spark, config_for(server), lines.append)
    name = credentials.artifact_name()
    assert credentials.artifact_name() == name  # not renewed while fresh

    [token] = server.tokens.created
    assert token.value != TOKEN
    assert token.expiry_ms - token.created_ms == LIFETIME_S * 1000
    assert "dbx-inventory run" in token.comment
    assert what_tasks_see(spark, server.url, name) == (digest(token.value), 200)
    assert leaks(spark_server, [TOKEN]) == []  # the user's own token never went out

    end_of_run(credentials, spark)
    assert server.tokens.deleted == [token.token_id]
    assert leaks(spark_server, [token.value]) == []  # executors' copy deleted too
    with ApiClient(ClientConfig(host=server.url,
                                credentials=StaticToken(token.value))) as c:
        with pytest.raises(Exception, match="401"):
            c.get("/api/2.0/preview/scim/v2/Me")
    assert lines == []
    with pytest.raises(SparkFailure):
        credentials.artifact_name()


def test_work_handed_out_later_carries_the_renewed_token(spark, spark_server, serve):
    server = serve(generate_workspace(2, seed=1))
    clock = FakeClock()
    credentials = ExecutorCredentials(spark, config_for(server), lambda line: None,
                                      clock=clock, lifetime_s=120)
    first = credentials.artifact_name()
    clock.now += 59  # 61 s left: more than half its life
    assert credentials.artifact_name() == first
    clock.now += 2   # 59 s left: renewed
    second = credentials.artifact_name()
    assert second != first
    old, new = server.tokens.created
    assert what_tasks_see(spark, server.url, second) == (digest(new.value), 200)
    assert what_tasks_see(spark, server.url, first) == (digest(old.value), 200)
    end_of_run(credentials, spark)
    assert sorted(server.tokens.deleted) == sorted([old.token_id, new.token_id])
    assert leaks(spark_server, [old.value, new.value]) == []


def test_oauth_executors_get_the_current_access_token_and_never_the_secret(
        spark, spark_server, serve):
    """OAuth M2M: executors get the access token the client holds now, renewed as the
    client renews it (on a fake clock: deterministic), never the client secret."""
    from dbx_inventory.transport.auth import OAuthM2M

    server = serve(generate_workspace(2, seed=1))
    secret = "dose-EXECUTOR-M2M-SECRET-9e8d"
    server.oauth.register("sp-inventory", secret)
    clock = FakeClock()
    start = time.time()
    oauth = OAuthM2M(server.url, "sp-inventory", secret, clock=clock,
                     wall=lambda: start + clock.now)
    config = ClientConfig(host=server.url, credentials=oauth, retry=RetryPolicy())
    credentials = ExecutorCredentials(spark, config, lambda line: None, clock=clock)
    first = credentials.artifact_name()
    assert server.oauth.minted == 1 and server.tokens.created == []  # no PAT for OAuth
    [token1] = list(server.oauth._tokens)
    assert what_tasks_see(spark, server.url, first) == (digest(token1), 200)
    clock.now += 2000  # 1,600 s of its hour left: not yet renewed (under 20 min is)
    assert credentials.artifact_name() == first and server.oauth.minted == 1
    clock.now += 500   # 1,100 s left: the client renews, later work carries the new one
    second = credentials.artifact_name()
    assert second != first and server.oauth.minted == 2
    token2 = next(t for t in server.oauth._tokens if t != token1)
    assert what_tasks_see(spark, server.url, second) == (digest(token2), 200)
    end_of_run(credentials, spark)
    assert leaks(spark_server, [secret, token1, token2]) == []


def test_refused_creation_ships_the_users_token_and_says_so(spark, spark_server, serve):
    server = serve(generate_workspace(2, seed=1))
    server.tokens.refuse_create = True
    lines: list[str] = []
    credentials = ExecutorCredentials(spark, config_for(server), lines.append)
    name = credentials.artifact_name()
    assert what_tasks_see(spark, server.url, name) == (digest(TOKEN), 200)
    assert len(lines) == 1 and "refused to create a token" in lines[0], lines
    assert "your own token" in lines[0] and TOKEN not in lines[0]
    end_of_run(credentials, spark)
    assert server.tokens.created == []
    assert leaks(spark_server, [TOKEN]) == []  # still deleted from the executors


def test_a_create_whose_answer_is_lost_is_not_repeated_and_is_revoked(spark, serve):
    server = serve(generate_workspace(2, seed=1))
    server.tokens.lose_create_answers = 1  # created, then the connection is reset
    credentials = ExecutorCredentials(spark, config_for(server), lambda line: None,
                                      clock=FakeClock())
    with pytest.raises(SparkFailure, match="could not create a token"):
        credentials.artifact_name()
    assert len(server.tokens.created) == 1  # no second, unknown token
    assert server.tokens.live == {}          # found by its comment and revoked
    credentials.close()


def test_a_throttled_create_is_retried_the_workspace_did_not_act(serve):
    server = serve(generate_workspace(1, seed=1), max_in_flight=0)  # every request: 429
    retry = RetryPolicy()
    client = ApiClient(ClientConfig(host=server.url,
                                    credentials=StaticToken(TOKEN),
                                    retry=retry), clock=FakeClock())
    with pytest.raises(Throttled):
        client.post("/api/2.0/token/create", {"lifetime_seconds": 60}, idempotent=False)
    assert server.stats.by_endpoint["token/create"] == retry.attempts
    assert server.tokens.created == []


def test_a_create_that_never_connected_is_retried():
    """Connection refused: nothing reached a server, so trying again cannot duplicate."""
    clock = FakeClock()
    client = ApiClient(ClientConfig(host=f"http://127.0.0.1:{closed_port()}",
                                    credentials=StaticToken(TOKEN)),
                       clock=clock)
    with pytest.raises(WorkspaceUnreachable):
        client.post("/api/2.0/token/create", {"lifetime_seconds": 60}, idempotent=False)
    assert client.stats.requests > 1 and clock.sleeps


# -- whole runs: nothing left on the server --------------------------------------------

class Hold:
    """Workspace listings block until released: a run held open at a chosen point."""

    def __init__(self, monkeypatch):
        self.entered = threading.Event()
        self.released = threading.Event()
        name, handler, fs = api.ROUTES[WORKSPACE_LIST]

        def held(ws, params):
            self.entered.set()
            self.released.wait(120)
            return handler(ws, params)

        monkeypatch.setitem(api.ROUTES, WORKSPACE_LIST, (name, held, fs))

    def wait(self, proc: subprocess.Popen, tmp_path: Path) -> None:
        deadline = time.monotonic() + 180
        while not self.entered.wait(0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("no listing reached the fake workspace: "
                                     + (tmp_path / "bg.out").read_text()[-2000:]
                                     + (tmp_path / "bg.err").read_text()[-2000:])


def launch(tmp_path: Path, server, *args: str) -> subprocess.Popen:
    env = clean_env(tmp_path, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
    with open(tmp_path / "bg.out", "w") as out, open(tmp_path / "bg.err", "w") as err:
        return subprocess.Popen([sys.executable, str(ROOT / SCRIPT), *args], cwd=tmp_path,
                                env=env, stdout=out, stderr=err, preexec_fn=interruptible)


def python_workers(spark_server) -> list[int]:
    """Pids of the server's forked Python workers (children of its Python daemons:
    pyspark's, or the tests' servers' own, localspark_daemon)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    daemons = [pid for pid in children.get(spark_server.process.pid, [])
               if any(name in Path(f"/proc/{pid}/cmdline").read_bytes()
                      for name in (b"pyspark.daemon", b"localspark_daemon"))]
    return [pid for daemon in daemons for pid in children.get(daemon, [])]


def assert_nothing_left(spark_server, server) -> None:
    minted = server.tokens.values()
    assert minted, "the run created no token of its own"
    assert server.tokens.live == {}, "a token of the run was not revoked"
    assert leaks(spark_server, [TOKEN, *minted]) == []


def test_normal_run_leaves_no_credential(tmp_path, serve, cli, spark_server):
    ws = generate_workspace(12, seed=21)
    server = serve(ws, latency_s=0.01)
    names = users_file(tmp_path, ws)
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-only",
                 "--spark-remote", spark_server.url,
                 "-o", "out.csv", server=server)
    assert result.code == 0, result.output[-3000:]
    assert "⚠" not in result.output
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert_nothing_left(spark_server, server)
    for value in [TOKEN, *server.tokens.values()]:
        assert value not in result.output


def test_failed_spark_run_leaves_no_credential(tmp_path, serve, spark_server, monkeypatch):
    """Spark loses the job (its Python workers killed mid-task); the rest is scanned here."""
    ws = generate_workspace(12, seed=22)
    server = serve(ws)
    names = users_file(tmp_path, ws)
    hold = Hold(monkeypatch)
    proc = launch(tmp_path, server, "--users-file", "users.txt", "--spark-only", "--spark-remote",
                  spark_server.url, "-o", "out.csv")
    try:
        hold.wait(proc, tmp_path)  # tasks are running, the credential on the executor
        workers = python_workers(spark_server)
        assert workers
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        hold.released.set()
        code = proc.wait(timeout=300)
    finally:
        hold.released.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = (tmp_path / "bg.out").read_text() + (tmp_path / "bg.err").read_text()
    assert code == 0, out[-3000:]
    assert "⚠ Spark:" in out and "from this machine" in out, out[-3000:]
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert_nothing_left(spark_server, server)


def test_interrupted_run_leaves_no_credential(tmp_path, serve, spark_server, monkeypatch):
    ws = generate_workspace(12, seed=23)
    server = serve(ws)
    users_file(tmp_path, ws)
    hold = Hold(monkeypatch)
    proc = launch(tmp_path, server, "--users-file", "users.txt", "--spark-only", "--spark-remote",
                  spark_server.url, "-o", "out.csv", "--checkpoint", "ck.json")
    try:
        hold.wait(proc, tmp_path)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)  # held: the tasks never finish by themselves
    finally:
        hold.released.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = (tmp_path / "bg.err").read_text()
    assert code == 1, err[-3000:]
    assert "interrupted" in err and "--resume" in err
    assert not (tmp_path / "out.csv").exists()
    # The executors' copies are deleted after Spark killed the interrupted tasks; if
    # that took longer than the exit may wait, the run says so, and all a copy can hold
    # is the run's token, revoked by then. The user's own token never went out.
    minted = server.tokens.values()
    assert minted and server.tokens.live == {}, "a token of the run was not revoked"
    assert leaks(spark_server, [TOKEN]) == []
    left = leaks(spark_server, minted)
    said = "could not delete the credential file" in err + (tmp_path / "bg.out").read_text()
    assert not left or said, left
    for value in minted:
        with ApiClient(ClientConfig(host=server.url, credentials=StaticToken(value))) as c:
            with pytest.raises(Exception, match="401"):
                c.get("/api/2.0/preview/scim/v2/Me")


def test_m2m_spark_run_is_exact_and_leaves_no_secret_on_the_cluster(
        tmp_path, serve, cli, spark_server):
    """OAuth M2M in Spark mode: executors get short-lived access tokens minted on the
    client, renewed as the run goes; the client secret never leaves this machine."""
    client_id, secret = "7a2c-sp-spark", "dose-SPARK-M2M-SECRET-55aa"
    ws = generate_workspace(12, seed=24)
    server = serve(ws, latency_s=0.01)
    server.oauth.register(client_id, secret)
    # Expiry mid-run is covered on a fake clock above; here: the whole path, end to end.
    names = users_file(tmp_path, ws)
    env = {"DATABRICKS_HOST": server.url, "DATABRICKS_CLIENT_ID": client_id,
           "DATABRICKS_CLIENT_SECRET": secret}
    # --no-fallback: an executor refused for an expired token would fail the run here.
    result = cli(SCRIPT, "--users-file", "users.txt", "--spark-only",
                 "--spark-remote", spark_server.url,
                 "--concurrency", "2", "--no-fallback", "-o", "out.csv", env=env)
    assert result.code == 0, result.output[-3000:]
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert server.oauth.minted >= 1 and server.oauth.expired_used == 0
    assert server.tokens.values() == []  # OAuth: no personal access token was created
    minted = list(server.oauth._tokens)
    assert leaks(spark_server, [secret, *minted]) == []
    for text in (result.output, (tmp_path / "out.csv").read_text("utf-8")):
        assert secret not in text and not any(token in text for token in minted)
