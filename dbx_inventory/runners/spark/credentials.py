"""What reaches the cluster: the least credential that works, for no longer than the run.

Executors read the auth headers from a session file artifact (never the plan, rows or
conf: those show in the server's log and UI). With a personal access token the artifact
carries a token created for this run (Token API, `lifetime_seconds`), renewed before it
nears expiry and revoked when the run ends; the user's own token goes only where the
workspace refuses to create one, and the console says so. With OAuth it carries the
client's current short-lived access token, never the client secret.

Releasing the Spark session deletes the artifact on the server but not the copies that
executors fetched into their `userFiles` folders (measured on pyspark 4.3): `close()`
runs a short job that deletes them before it revokes the tokens.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
import shutil
import tempfile
import threading
from dataclasses import dataclass
from typing import Callable

from dbx_inventory import scrub
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.clock import Clock
from dbx_inventory.errors import ApiError, SparkFailure
from dbx_inventory.runners.spark.session import task_slots

log = logging.getLogger("dbx_inventory.runners.spark.credentials")

# An hour, as Databricks' own OAuth access tokens: a copy left behind (a client killed
# with kill -9 never revokes) is worthless within the hour, and one renewal every half
# hour costs nothing. Renewing at half-life means every job handed out carries a token
# good for at least 30 more minutes, far longer than a job of a few users runs.
LIFETIME_S = 3600
PREFIX = "dbx-inventory-auth-"
SWEEP_TIMEOUT_S = 20.0   # bounds a finished or failed run's sweep (a second Ctrl-C skips it)
# An interrupted run's exit must not wait long, yet the sweep's tasks queue until
# Spark kills the interrupted ones (spark.python.task.killTimeout, 2 s).
QUICK_SWEEP_S = 5.0
RETRY_RENEWAL_S = 60.0   # after a failed renewal, keep the current token this long
CREATE, LIST, DELETE = "/api/2.0/token/create", "/api/2.0/token/list", "/api/2.0/token/delete"


def client_token(config: ClientConfig, clock: Clock) -> tuple[str, float | None]:
    """The client's own access token and when it expires (clock.monotonic(), or None).

    The one place that asks the client's credentials. A personal access token has no
    known expiry (None); an OAuth access token's expiry (epoch seconds) becomes a
    deadline on `clock`.
    """
    token, expires_at = config.credentials.access_token()
    if expires_at is None:
        return token, None
    return token, clock.monotonic() + expires_at - time.time()


@dataclass(frozen=True)
class _Shipped:
    """One artifact sent to the session and the token it carries."""

    name: str
    token: str
    deadline: float | None   # clock.monotonic() when it expires; None: unknown (a PAT)
    token_id: str | None     # set when this run created the token


class ExecutorCredentials:
    """The auth artifact the job path hands to executors, renewed and revoked here."""

    def __init__(self, spark, config: ClientConfig, out: Callable[[str], None] = print, *,
                 clock: Clock | None = None, lifetime_s: int = LIFETIME_S,
                 sweep_tasks: int | None = None):
        self._spark = spark
        self._config = config
        self._out = out
        self._clock = clock or Clock()
        self._lifetime_s = lifetime_s
        self._sweep_tasks = sweep_tasks
        self._comment = f"dbx-inventory run {secrets.token_hex(6)} (revoked when it ends)"
        self._salt = secrets.token_bytes(16)  # artifact names say nothing about the token
        self._lock = threading.Lock()
        self._current: _Shipped | None = None
        self._names: list[str] = []
        self._created: list[str] = []          # token ids this run created
        self._refused = False                  # the workspace will not create tokens
        self._lost_create = False              # a create whose answer never came
        self._retry_at = 0.0
        self._closed = False

    def artifact_name(self) -> str:
        """The session file artifact holding the current headers; call it per job."""
        with self._lock:
            if self._closed:
                raise SparkFailure("the run's executor credentials are already revoked")
            if self._current is None or self._stale(self._current):
                self._current = self._renew(self._current)
            return self._current.name

    def close(self, sweep_s: float = SWEEP_TIMEOUT_S) -> None:
        """Delete the executors' copies (waiting at most sweep_s), then revoke every token
        this run created: a copy the deletion misses holds a revoked token.

        Call it before the session is stopped (the deletion runs as a Spark job).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            names = list(self._names)
        try:
            if names and sweep_s > 0:  # 0: the server is gone, nothing could run there
                self._sweep(names, sweep_s)
        finally:
            self._revoke()

    # -- choosing the token ------------------------------------------------------------

    def _stale(self, shipped: _Shipped) -> bool:
        now = self._clock.monotonic()
        if now < self._retry_at:
            return False
        if shipped.token_id is not None and shipped.deadline is not None:
            return shipped.deadline - now < self._lifetime_s / 2
        # The client's own token: stale once its credentials renewed it (OAuth).
        return client_token(self._config, self._clock)[0] != shipped.token

    def _renew(self, current: _Shipped | None) -> _Shipped:
        token, deadline = client_token(self._config, self._clock)
        token_id = None
        if deadline is None and not self._refused:
            try:
                token, deadline, token_id = self._create()
            except ApiError as exc:
                if current is None or current.deadline is None or \
                        current.deadline - self._clock.monotonic() < self._lifetime_s / 4:
                    raise SparkFailure("could not create a token for the Spark executors "
                                       f"({scrub.scrub(exc.describe())})") from None
                self._retry_at = self._clock.monotonic() + RETRY_RENEWAL_S
                self._out("Note: could not renew the Spark executors' token "
                          f"({scrub.scrub(exc.describe())}); the current one stays valid "
                          "for now")
                return current
        return self._ship(token, deadline, token_id)

    def _create(self) -> tuple[str, float | None, str | None]:
        """A token for this run: (value, deadline, id); the client's own when refused."""
        started = self._clock.monotonic()
        body = {"lifetime_seconds": self._lifetime_s, "comment": self._comment}
        with ApiClient(self._config, clock=self._clock) as client:
            try:
                answer = client.post(CREATE, body, idempotent=False, subject="token/create")
            except ApiError as exc:
                if exc.status is None or exc.status == 429 or exc.status >= 500:
                    self._lost_create = True  # it may exist: find it and revoke it
                    self._revoke_by_comment(client)
                    raise
                self._refused = True
                self._out("⚠ This workspace refused to create a token for the Spark run "
                          f"({scrub.scrub(exc.describe())}): the executors get your own "
                          "token, which does not expire with the run")
                token, deadline = client_token(self._config, self._clock)
                return token, deadline, None
        value = answer.get("token_value")
        token_id = (answer.get("token_info") or {}).get("token_id")
        if token_id:
            self._created.append(str(token_id))  # revoked at the end, whatever comes next
        if not isinstance(value, str) or not value or not token_id:
            raise ApiError("token/create answered without a token", path="token/create")
        scrub.remember(value)
        log.debug("created the executors' token %s, valid %d s", token_id, self._lifetime_s)
        return value, started + self._lifetime_s, str(token_id)

    # -- shipping and cleaning up ------------------------------------------------------

    def _ship(self, token: str, deadline: float | None, token_id: str | None) -> _Shipped:
        content = json.dumps({"Authorization": f"Bearer {token}"}).encode("utf-8")
        # Content-hashed (re-adding a name fails), salted so the name is no fingerprint.
        name = f"{PREFIX}{hashlib.sha256(self._salt + content).hexdigest()[:20]}.json"
        folder = tempfile.mkdtemp(prefix="dbx-inventory-")
        path = os.path.join(folder, name)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(content)
            self._spark.addArtifacts(path, file=True)
        except Exception as exc:  # pyspark and gRPC errors share no base class
            raise SparkFailure("could not send credentials to the cluster as a session "
                               f"file ({_one_line(exc)})") from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self._names.append(name)
        return _Shipped(name, token, deadline, token_id)

    def _sweep(self, names: list[str], timeout_s: float) -> None:
        """Delete the executors' fetched copies; bounded in time, never raises."""
        done: list = []

        def run() -> None:
            try:
                try:
                    self._spark.interruptAll()  # tasks still holding a copy stop now
                except Exception:
                    pass
                tasks = self._sweep_tasks or task_slots(self._spark, None)
                frame = self._spark.range(0, tasks, 1, tasks).mapInPandas(
                    delete_files(tuple(names)), "host string, removed bigint")
                done.append(frame.collect())
            except Exception as exc:  # a dead server, a killed worker: say so below
                done.append(exc)

        worker = threading.Thread(target=run, name="dbx-inventory-sweep", daemon=True)
        worker.start()
        worker.join(timeout_s)
        outcome = done[0] if done else TimeoutError(f"no answer in {timeout_s:.0f} s")
        if isinstance(outcome, Exception):
            held = "your own token" if self._refused else "the run's token, revoked now"
            self._out(f"Note: could not delete the credential file from the Spark executors "
                      f"({_one_line(outcome)}); it holds {held}")
        else:
            log.debug("credential files deleted on executors: %s",
                      sorted({(row["host"], row["removed"]) for row in outcome}))

    def _revoke(self) -> None:
        if not self._created and not self._lost_create:
            return
        with ApiClient(self._config, clock=self._clock) as client:
            for token_id in self._created:
                try:
                    client.post(DELETE, {"token_id": token_id}, idempotent=True,
                                subject="token/delete")
                except ApiError as exc:
                    if exc.status != 404:  # 404: already gone
                        self._out(f"Note: could not revoke the Spark executors' token "
                                  f"({scrub.scrub(exc.describe())}); it expires within "
                                  f"{self._lifetime_s // 60} minutes")
            if self._lost_create:
                self._revoke_by_comment(client)

    def _revoke_by_comment(self, client: ApiClient) -> None:
        """Revoke tokens of this run that a lost answer left unknown; best effort."""
        try:
            infos = client.get(LIST, subject="token/list").get("token_infos") or []
            for info in infos:
                if info.get("comment") == self._comment and \
                        info.get("token_id") not in self._created:
                    client.post(DELETE, {"token_id": info["token_id"]}, idempotent=True,
                                subject="token/delete")
        except ApiError as exc:
            log.debug("could not look for tokens of this run: %s", exc.describe())


def delete_files(names: tuple[str, ...]):
    """The function each sweep task runs: remove this session's copies of `names`."""
    def run(batches):
        import os
        import socket

        import pandas as pd
        from pyspark import SparkFiles

        removed = 0
        for name in names:
            try:
                os.unlink(SparkFiles.get(name))
                removed += 1
            except OSError:
                pass  # never fetched on this executor, or already deleted
        for _ in batches:
            pass
        yield pd.DataFrame({"host": [f"{socket.gethostname()}/pid{os.getpid()}"],
                            "removed": [removed]})
    return run


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return scrub.scrub(f"{type(exc).__name__}: {lines[0] if lines else ''}")[:300]
