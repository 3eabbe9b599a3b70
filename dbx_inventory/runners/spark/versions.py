"""Does this client match the cluster? Named in one line before any scan job.

PySpark pickles the task function, and a worker refuses a function from another Python
minor version (PYTHON_VERSION_MISMATCH); Databricks Connect must not be newer than the
cluster's Databricks Runtime (databricks-api.md, "The platform as it is"). A mismatch
found only by the first scan job would be met user by user; found here, it is one line
and the local fallback.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from dbx_inventory.errors import SparkFailure

# Databricks Runtime major -> the Python its clusters run (Databricks' release notes:
# 13.3 LTS and 14.x 3.10, 15.x 3.11, 16.x and 17.x 3.12). A runtime not listed is left
# to the executors' own answer (probe_executors).
RUNTIME_PYTHON = {13: (3, 10), 14: (3, 10), 15: (3, 11), 16: (3, 12), 17: (3, 12)}
_RUNTIME = re.compile(r"(\d+)\.(\d+)\.")
_MISMATCH = re.compile(r"worker has different version:? \(?(\d+)[., ]+(\d+)\)? than that in "
                       r"driver:? \(?(\d+)[., ]+(\d+)")


@dataclass(frozen=True)
class Version:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def client_python() -> Version:
    return Version(*sys.version_info[:2])


def dbconnect_version() -> Version | None:
    """The databricks-connect this client runs with, if it is installed."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        text = version("databricks-connect")
    except (ImportError, PackageNotFoundError):
        return None
    match = re.match(r"(\d+)\.(\d+)", text)
    return Version(int(match.group(1)), int(match.group(2))) if match else None


def runtime_of(spark_version: str) -> Version | None:
    """Databricks Runtime of a cluster's spark_version ("15.4.x-scala2.12" -> 15.4)."""
    match = _RUNTIME.match(spark_version or "")
    return Version(int(match.group(1)), int(match.group(2))) if match else None


def install_line(python: Version, runtime: Version | None = None) -> str:
    """What to run the client from, for executors on `python` (and that runtime)."""
    if runtime is not None:
        return (f"run this tool from a Python {python} environment with "
                f"databricks-connect=={runtime}.* (README: Matching the cluster)")
    return (f"run this tool from a Python {python} environment (pip install -r "
            "requirements-spark.txt; README: Matching the cluster)")


def check_runtime(cluster_id: str, spark_version: str, client: Version | None = None,
                  dbconnect: Version | None = None) -> None:
    """SparkFailure when the cluster's runtime needs another Python or an older
    databricks-connect than this client's; silent when the runtime is unknown."""
    client = client or client_python()
    runtime = runtime_of(spark_version)
    if runtime is None:
        return
    python = RUNTIME_PYTHON.get(runtime.major)
    if python is not None and Version(*python) != client:
        raise SparkFailure(f"cluster {cluster_id} runs Databricks Runtime {runtime} with "
                           f"Python {Version(*python)}, this client Python {client}: "
                           f"{install_line(Version(*python), runtime)}")
    if dbconnect is not None and (dbconnect.major, dbconnect.minor) > \
            (runtime.major, runtime.minor):
        raise SparkFailure(f"databricks-connect {dbconnect} is newer than cluster "
                           f"{cluster_id}'s Databricks Runtime {runtime}: "
                           f"{install_line(Version(*python) if python else client, runtime)}")


def probe_executors(spark) -> Version:
    """The executors' Python, asked by a one-row job; SparkFailure naming both versions
    when it is not this client's (the worker refuses the job then: its message says)."""
    client = client_python()

    def python_of_worker(batches):
        import sys

        import pandas as pd

        for _ in batches:
            pass
        yield pd.DataFrame([{"major": sys.version_info[0], "minor": sys.version_info[1]}])

    try:
        row = spark.range(0, 1, 1, 1).mapInPandas(
            python_of_worker, "major bigint, minor bigint").collect()[0]
        executors = Version(int(row["major"]), int(row["minor"]))
    except Exception as exc:  # gRPC, Spark and py4j errors share no base class
        match = _MISMATCH.search(str(exc))
        if match is None:
            raise
        executors = Version(int(match.group(1)), int(match.group(2)))
    if executors != client:
        raise SparkFailure(f"the executors run Python {executors}, this client Python "
                           f"{client} (PySpark needs the same minor version): "
                           f"{install_line(executors)}")
    return executors
