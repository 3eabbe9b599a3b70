"""The Spark Connect session: reach it fast, fail fast, let go of it without waiting.

Imports of pyspark stay inside functions, so local mode works without it. Every call
that could sit in pyspark's gRPC retry loop against a dead server is bounded here.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import warnings
from urllib.parse import urlsplit

from dbx_inventory.transport.auth import OAuthM2M, StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.errors import ApiError, SparkFailure
from dbx_inventory.runners.spark.versions import check_runtime, dbconnect_version
from dbx_inventory.scrub import scrub

DEFAULT_TASK_SLOTS = 8     # when the cluster does not say how many tasks run at once
PROBE_TIMEOUT_S = 5.0
RUNNING_STATES = ("RUNNING", "RESIZING")
RELEASE_WAIT_S = 2.0       # a live server releases a session or interrupts in ~0.2 s

_releases: list[threading.Thread] = []


def connect(mode, config: ClientConfig):
    """A Spark Connect session for --spark-remote or --cluster-id, checked to answer."""
    # pyspark warns once per give-up; the SparkFailure raised then says it in one line.
    warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]")
    # gRPC's C core logs each failed handshake to stderr; our error says it in one line.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        if mode.remote:
            probe(endpoint(mode.remote))
            builder = _builder().remote(mode.remote)
        else:
            _check_cluster(config, mode.cluster_id)
            probe(_cluster_endpoint(config))
            builder = _cluster_builder(config, mode.cluster_id)
        spark = builder.getOrCreate()
        _bound_retries(spark)
        _no_call_context(spark)
        # A config read is one cheap RPC: it proves the server answers without paying
        # for a first job (7 s measured on this machine), which the real work pays anyway.
        spark.conf.get("spark.master", None)
        return spark
    except SparkFailure:
        raise
    except ImportError as exc:
        raise SparkFailure(f"the Spark Connect client is not installed ({exc.name}); "
                           "run make install, or pip install -r requirements-spark.txt"
                           ) from None
    except Exception as exc:
        raise SparkFailure(f"cannot start Spark: {first_line(exc, config)}") from None


def _no_call_context(spark) -> None:
    """databricks-connect tags every request with the calling source line, found by a
    stack walk and an ast.parse of the caller's file. Our lanes submit from several
    threads at once, and concurrent parses trip a CPython 3.11 bug (SystemError: AST
    constructor recursion depth mismatch, seen in CI); the tag tells the server nothing
    it needs. pyspark's own client has no such tag."""
    disable = getattr(getattr(spark, "client", None), "disable_client_call_context", None)
    if disable is not None:
        disable()


def release(spark) -> threading.Thread:
    """Release the session (the server drops its artifacts) without blocking the caller.

    A dead server would hold spark.stop() in gRPC retries; the thread is waited for,
    briefly, by settle() at process exit.
    """
    def stop() -> None:
        try:
            spark.stop()
        except Exception:
            pass  # best effort: a dead server has nothing left to release

    thread = threading.Thread(target=stop, name="spark-release", daemon=True)
    thread.start()
    _releases.append(thread)
    return thread


def settle(timeout_s: float = RELEASE_WAIT_S) -> None:
    """Give pending session releases a few seconds to reach the server; never more."""
    for thread in list(_releases):
        thread.join(timeout_s)
        _releases.remove(thread)


def interrupt_all(spark, timeout_s: float = RELEASE_WAIT_S) -> bool:
    """Cancel every operation of the session; True when the server confirmed it."""
    done = threading.Event()

    def interrupt() -> None:
        try:
            spark.interruptAll()
            done.set()
        except Exception:
            pass

    threading.Thread(target=interrupt, name="spark-interrupt", daemon=True).start()
    return done.wait(timeout_s)


def cancel_running(spark) -> None:
    """Cancel the session's jobs and wait until their Python workers are really gone.

    An interrupted task's Python worker keeps running (its requests in flight) until
    Spark kills it, spark.python.task.killTimeout (2 s) later: a local fallback started
    sooner would overlap it beyond the request budget. A server that does not confirm
    the interrupt is dead, and its workers with it.
    """
    if interrupt_all(spark):
        time.sleep(_seconds(_conf(spark, "spark.python.task.killTimeout"), 2.0) + 0.5)


def _seconds(text: str, default: float) -> float:
    """A Spark duration ("2s", "500ms", "2") in seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", text or "")
    if not match:
        return default
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


def _bound_retries(spark) -> None:
    """Give up on a dead server in a few seconds instead of pyspark's 10+ minutes.

    The default gRPC retry policy waits out an unreachable server for over ten minutes;
    a lost session is better handed to the local fallback, which loses nothing. Retries
    (0.2 + 0.4 + 0.8 + 1.6 + 2 s) still cover a brief network hiccup.
    """
    client = getattr(spark, "client", None) or getattr(spark, "_client", None)
    if client is None:
        return
    try:
        from pyspark.sql.connect.client.retries import DefaultPolicy

        client.set_retry_policies([DefaultPolicy(
            max_retries=5, backoff_multiplier=2.0, initial_backoff=200, max_backoff=2_000,
            max_server_retry_delay=10_000)])
    except (AttributeError, ImportError, TypeError):
        pass  # another client build: keep its own policy


def task_slots(spark, mode) -> int:
    """How many tasks the cluster runs at once: --spark-tasks, else what it tells."""
    if getattr(mode, "tasks", None):
        return mode.tasks
    parallelism = _conf(spark, "spark.default.parallelism")
    if parallelism.isdigit():
        return max(1, int(parallelism))
    master = _conf(spark, "spark.master")
    local = re.fullmatch(r"local\[(\d+)(?:,\d+)?\]", master)
    if local:
        return int(local.group(1))
    cluster = re.fullmatch(r"local-cluster\[(\d+),\s*(\d+),\s*\d+\]", master)
    if cluster:
        return int(cluster.group(1)) * int(cluster.group(2))
    return DEFAULT_TASK_SLOTS


def _conf(spark, key: str) -> str:
    """A Spark conf value, or "" when unset or not readable over this connection."""
    try:
        return str(spark.conf.get(key, None) or "")
    except Exception:  # Connect servers may refuse to show some keys
        return ""


def _builder():
    try:
        from databricks.connect import DatabricksSession  # its own pyspark, if installed
        return DatabricksSession.builder
    except ImportError:
        from pyspark.sql import SparkSession
        return SparkSession.builder


def _cluster_builder(config: ClientConfig, cluster_id: str):
    token = config.credentials.access_token()[0]
    host, port = _cluster_endpoint(config)
    try:
        from databricks.connect import DatabricksSession
        if isinstance(config.credentials, OAuthM2M):
            # The SDK's config renews the session's access token; a token given
            # here would end the session with its hour.
            return DatabricksSession.builder.sdkConfig(
                config.credentials.sdk_config(cluster_id=cluster_id))
        return DatabricksSession.builder.remote(host=config.host, token=token,
                                                cluster_id=cluster_id)
    except ImportError:
        from pyspark.sql import SparkSession
        return SparkSession.builder.remote(
            f"sc://{host}:{port}/;token={token};x-databricks-cluster-id={cluster_id}")


def renewal_note(mode, config: ClientConfig) -> str | None:
    """What to say at the start when the Spark session's sign-in cannot outlive its
    access token: a cluster run under OAuth without databricks-connect (the open-source
    client takes one fixed token), or with a sign-in only databricks-sdk knows."""
    credentials = config.credentials
    if not mode.cluster_id or isinstance(credentials, StaticToken):
        return None
    try:
        import databricks.connect  # noqa: F401
        renews = isinstance(credentials, OAuthM2M)
    except ImportError:
        renews = False
    if renews:
        return None
    return ("the Spark session signs in with an OAuth access token that lives about an "
            "hour and this client cannot renew it: past that the session is lost and the "
            "rest is scanned here (the executors' tokens are renewed); for long runs use "
            "databricks-connect with client credentials, or a personal access token")


def _cluster_endpoint(config: ClientConfig) -> tuple[str, int]:
    """Databricks serves Spark Connect on the workspace's own host and port."""
    parts = urlsplit(config.host)
    return parts.hostname or "", parts.port or 443


def _check_cluster(config: ClientConfig, cluster_id: str) -> None:
    """Say plainly when the cluster is not running, or its runtime does not match this
    client, before any gRPC retry loop."""
    with ApiClient(config) as client:
        try:
            info = client.get("/api/2.0/clusters/get", {"cluster_id": cluster_id},
                              subject=f"cluster {cluster_id}")
        except ApiError as exc:
            raise SparkFailure(f"cannot use cluster {cluster_id}: {exc.describe()}") from None
    state = info.get("state", "UNKNOWN")
    # RESIZING is a running cluster that autoscales (Clusters API states): it takes jobs.
    if state not in RUNNING_STATES:
        raise SparkFailure(f"cluster {cluster_id} is {state}, not RUNNING; start it "
                           f"(databricks clusters start {cluster_id}, or the Compute page) "
                           "and run again")
    check_runtime(cluster_id, str(info.get("spark_version") or ""),
                  dbconnect=dbconnect_version())


def endpoint(remote: str) -> tuple[str, int]:
    """(host, port) of a Spark Connect URL."""
    parts = urlsplit(remote.split(";", 1)[0])
    return parts.hostname or "localhost", parts.port or 15002


def probe(address: tuple[str, int]) -> None:
    """Fail in seconds, not minutes of gRPC retries, when nothing listens."""
    host, port = address
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise SparkFailure(f"no Spark Connect server at {host}:{port} "
                           f"({exc.strerror or exc})") from None


def server_listens(mode, config: ClientConfig, timeout_s: float = 1.0) -> bool:
    """Does the Spark Connect endpoint still accept connections? (A quick look, no gRPC.)"""
    host, port = endpoint(mode.remote) if mode.remote else _cluster_endpoint(config)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def first_line(exc: BaseException, config: ClientConfig) -> str:
    """One line of a Spark error, with any credential in it blanked out."""
    text = str(exc).strip()
    # gRPC errors print as "<_MultiThreadedRendezvous ...>"; their details say what broke.
    details = re.search(r'details = "([^"]*)"', text)
    lines = text.splitlines()
    line = f"{type(exc).__name__}: " + (details.group(1) if details
                                        else lines[0] if lines else "")
    return scrub(line)[:300]  # every credential the run knows, blanked
