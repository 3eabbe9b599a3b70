"""How executors get the auth headers: a session file artifact, never the plan or rows.

Minimal version (today's behaviour: the headers shipped once). The credentials work
replaces this module; its API stays: artifact_name() per job, close() at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import threading

from .client import ClientConfig


class ExecutorCredentials:
    """The auth headers as a session-scoped file artifact that tasks read by name."""

    def __init__(self, spark, config: ClientConfig, out=print):
        self._spark = spark
        self._config = config
        self._out = out
        self._name: str | None = None
        self._lock = threading.Lock()  # the runner's job threads ask at the same time

    def artifact_name(self) -> str:
        """Name of the artifact holding the current headers; ask again for every job."""
        with self._lock:
            if self._name is None:
                self._name = self._ship()
            return self._name

    def close(self) -> None:
        """Nothing of ours to revoke: the session's release drops its artifacts."""

    def _ship(self) -> str:
        from .spark_session import SparkFailure, first_line

        folder = tempfile.mkdtemp(prefix="dbx-inventory-")
        name = f"dbx-inventory-auth-{secrets.token_hex(8)}.json"
        path = os.path.join(folder, name)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(dict(self._config.headers), handle)
            self._spark.addArtifacts(path, file=True)
        except Exception as exc:
            raise SparkFailure("could not send credentials to the cluster as a session "
                               f"file ({first_line(exc, self._config)})") from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return name
