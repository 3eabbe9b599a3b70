"""Parallel mode: the same Scanner, run inside Spark tasks over Spark Connect.

Spark Connect has no RDD API, so the work ships as a mapInPandas function over a
DataFrame of partition numbers; each task looks up its slice of users in the closure
and scans it with its share of the request budget. The closure (not any row, column or
conf) carries the auth headers. Rows stream back through toLocalIterator in partition
order while later partitions still run. Imports of pyspark stay inside this module, so
local mode works without it.
"""

from __future__ import annotations

import math
import re
import socket
import warnings
from typing import Iterator, Sequence
from urllib.parse import urlsplit

from .client import ApiClient, ClientConfig
from .errors import ApiError, SparkFailure
from .results import RESULT_FIELDS, UserResult
# Module-level on purpose: pickled by value with the function, so executors need
# no copy of this package (an import inside the function would look for one).
from .scan import Scanner
from .spark_auth import ExecutorCredentials

USERS_PER_TASK = 32       # at most: results come back task by task
TASKS_PER_SLOT = 4        # enough tasks that a slow one does not leave a slot idle long
DEFAULT_TASK_SLOTS = 8    # when the cluster does not say how many tasks run at once
_LONG = {"file_count", "total_size", "dbfs_files", "dbfs_bytes", "workspace_files",
         "workspace_bytes", "last_modified_ms", "listings"}
_DOUBLE = {"started_at", "ended_at"}


def result_schema() -> str:
    """DDL of the rows tasks send back: every UserResult field, nothing else."""
    def ddl(name: str) -> str:
        kind = "bigint" if name in _LONG else "double" if name in _DOUBLE else "string"
        return f"{name} {kind}"
    return ", ".join(ddl(name) for name in RESULT_FIELDS)


def plan_tasks(usernames: Sequence[str], slots: int, users_per_task: int = USERS_PER_TASK
               ) -> list[list[str]]:
    """Users cut into slices, one per task: a few tasks per slot, none too large.

    Larger tasks keep their share of the request budget busy (a task's last user
    leaves slots idle); more tasks stream results back sooner.
    """
    wanted = max(slots * TASKS_PER_SLOT, math.ceil(len(usernames) / users_per_task))
    count = max(1, min(len(usernames), wanted))
    size = math.ceil(len(usernames) / count)
    return [list(usernames[i:i + size]) for i in range(0, len(usernames), size)]


def scan_task(host: str, max_in_flight: int, retry, credentials: str, walkers,
              slices: list[list[str]]):
    """The function Spark runs per partition: scan that partition's slice of users.

    The auth headers are not in this closure: the plan (closure included) shows in
    the server's log, so they come from a session file artifact named `credentials`.
    No dataclasses.replace/asdict here: databricks-connect's older cloudpickle breaks
    field introspection of classes pickled by value.
    """
    def run(batches):
        import json

        import pandas as pd  # present on executors, as on Databricks Runtime
        from pyspark import SparkFiles

        with open(SparkFiles.get(credentials), encoding="utf-8") as handle:
            headers = json.load(handle)
        config = ClientConfig(host=host, headers=headers, max_in_flight=max_in_flight,
                              retry=retry)
        for batch in batches:
            for task_number in batch["id"]:
                with ApiClient(config) as client:
                    for row in Scanner(client, walkers=walkers).scan(slices[int(task_number)]):
                        yield pd.DataFrame([row.to_dict()])
    return run


def run_on_spark(mode, config: ClientConfig, usernames: list[str], walkers, *,
                 debug: bool = False, out=print) -> Iterator[UserResult]:
    """Scan on Spark; yields results as they arrive. SparkFailure when Spark fails."""
    spark = connect(mode, config)
    credentials = ExecutorCredentials(spark, config, out)
    try:
        slots = task_slots(spark, mode)
        slices = plan_tasks(usernames, slots)
        # The budget is for the whole cluster: each running task gets its share.
        per_task = max(1, config.max_in_flight // min(slots, len(slices)))
        _ship_package()
        artifact = credentials.artifact_name()
        out(f"Distributing {len(usernames)} users over {len(slices)} Spark tasks "
            f"({slots} at a time, {per_task} requests in flight each)")
        if debug:
            for number, names in enumerate(slices):
                out(f"  [task {number}] {len(names)} user(s): {', '.join(names[:3])}"
                    + (", ..." if len(names) > 3 else ""))
        frame = spark.range(0, len(slices), 1, len(slices)).mapInPandas(
            scan_task(config.host, per_task, config.retry, artifact, tuple(walkers), slices),
            result_schema())
        received = 0
        try:
            for row in frame.toLocalIterator():
                received += 1
                yield _from_row(row.asDict())
        except Exception as exc:  # gRPC, Spark and py4j errors share no base class
            raise SparkFailure(f"lost the Spark job after {received} users: "
                               f"{_first_line(exc, config)}") from None
    finally:
        try:
            credentials.close()  # before stop: it deletes the executors' copies
        finally:
            try:
                spark.stop()
            except Exception:
                pass


def connect(mode, config: ClientConfig):
    """A Spark Connect session for --spark-remote or --cluster-id, checked to answer."""
    # pyspark warns once per give-up; the SparkFailure raised then says it in one line.
    warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]")
    try:
        if mode.remote:
            _probe(mode.remote)
            builder = _builder().remote(mode.remote)
        else:
            _check_cluster(config, mode.cluster_id)
            builder = _cluster_builder(config, mode.cluster_id)
        spark = builder.getOrCreate()
        _bound_retries(spark)
        spark.range(1).collect()  # the server really runs jobs
        return spark
    except SparkFailure:
        raise
    except ImportError as exc:
        raise SparkFailure(f"the Spark Connect client is not installed ({exc.name}); "
                           "run make install, or pip install -r requirements-spark.txt"
                           ) from None
    except Exception as exc:
        raise SparkFailure(f"cannot start Spark: {_first_line(exc, config)}") from None


def _bound_retries(spark) -> None:
    """Give up on a dead server in about a minute instead of pyspark's 10+ minutes.

    The default gRPC retry policy waits out an unreachable server for over ten minutes
    (measured here: a killed local server hung the client for more than 25 minutes);
    a lost session is better handed to the local fallback, which loses nothing.
    """
    client = getattr(spark, "client", None) or getattr(spark, "_client", None)
    try:
        from pyspark.sql.connect.client.retries import DefaultPolicy

        client.set_retry_policies([DefaultPolicy(
            max_retries=6, backoff_multiplier=2.0, initial_backoff=200, max_backoff=5_000,
            max_server_retry_delay=30_000)])
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


def _ship_package() -> None:
    """Executors have pyspark, pandas and requests, not this project: send it by value."""
    import dbx_inventory
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(dbx_inventory)


def _builder():
    try:
        from databricks.connect import DatabricksSession  # its own pyspark, if installed
        return DatabricksSession.builder
    except ImportError:
        from pyspark.sql import SparkSession
        return SparkSession.builder


def _cluster_builder(config: ClientConfig, cluster_id: str):
    token = config.headers.get("Authorization", "").removeprefix("Bearer ")
    host = urlsplit(config.host).hostname
    try:
        from databricks.connect import DatabricksSession
        return DatabricksSession.builder.remote(host=config.host, token=token,
                                                cluster_id=cluster_id)
    except ImportError:
        from pyspark.sql import SparkSession
        return SparkSession.builder.remote(
            f"sc://{host}:443/;token={token};x-databricks-cluster-id={cluster_id}")


def _check_cluster(config: ClientConfig, cluster_id: str) -> None:
    """Say plainly when the cluster is not running, before any gRPC retry loop."""
    with ApiClient(config) as client:
        try:
            info = client.get("/api/2.0/clusters/get", {"cluster_id": cluster_id},
                              subject=f"cluster {cluster_id}")
        except ApiError as exc:
            raise SparkFailure(f"cannot use cluster {cluster_id}: {exc.describe()}") from None
    state = info.get("state", "UNKNOWN")
    if state != "RUNNING":
        raise SparkFailure(f"cluster {cluster_id} is {state}, not RUNNING; start it "
                           f"(databricks clusters start {cluster_id}, or the Compute page) "
                           "and run again")


def _probe(remote: str) -> None:
    """Fail in seconds, not minutes of gRPC retries, when nothing listens."""
    parts = urlsplit(remote.split(";", 1)[0])
    host, port = parts.hostname or "localhost", parts.port or 15002
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise SparkFailure(f"no Spark Connect server at {host}:{port} "
                           f"({exc.strerror or exc})") from None


def _from_row(data: dict) -> UserResult:
    if not data.get("username") or not data.get("status"):
        raise SparkFailure("a Spark task sent back an empty result row "
                           "(client and cluster Python libraries disagree?)")
    if data.get("last_modified_ms") is not None:
        data["last_modified_ms"] = int(data["last_modified_ms"])
    return UserResult.from_dict(data)


def _first_line(exc: BaseException, config: ClientConfig) -> str:
    """One line of a Spark error, with any credential in it blanked out."""
    text = str(exc).strip()
    # gRPC errors print as "<_MultiThreadedRendezvous ...>"; their details say what broke.
    details = re.search(r'details = "([^"]*)"', text)
    lines = text.splitlines()
    line = f"{type(exc).__name__}: " + (details.group(1) if details
                                        else lines[0] if lines else "")
    for value in config.headers.values():
        secret = value.split()[-1] if value else ""
        if len(secret) >= 4:
            line = line.replace(secret, "****")
    return re.sub(r"token=[^;/\s]+", "token=****", line)[:300]
