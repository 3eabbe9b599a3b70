"""A wall-clock deadline for one HTTP request, not only a per-read socket timeout.

A socket timeout restarts with every byte, so a server that sends one byte every few
seconds never times out. Here each request's connection is registered while the
request runs; one reaper thread shuts the socket down when the deadline passes, which
makes the blocked read fail at once. `DeadlineAdapter` is the requests adapter whose
connections register themselves.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from dbx_inventory.process_local import ProcessLocal, ThreadLocal

_current = ThreadLocal()  # the Deadline of the request this thread is sending


class Deadline:
    """`with Deadline(seconds):` around one request; `fired` tells why it failed."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.when = 0.0
        self.fired = False
        self._conn = None
        self._lock = threading.Lock()
        self._done = False

    def __enter__(self) -> "Deadline":
        _current.deadline = self
        self.when = time.monotonic() + self.seconds
        _reaper().add(self)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._done = True
            self._conn = None
        _current.deadline = None
        _reaper().remove(self)

    def watch(self, conn) -> None:
        with self._lock:
            self._conn = conn

    def expire(self) -> None:
        """Called by the reaper: cut the connection if the request is still running."""
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock = getattr(self._conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Reaper:
    """One daemon thread expiring deadlines. It holds only the requests in flight (a
    finished one is removed at once), so memory does not grow with the run."""

    def __init__(self) -> None:
        self._active: dict[int, Deadline] = {}
        self._next = math.inf  # when the thread wakes next
        self._cond = threading.Condition()
        threading.Thread(target=self._run, name="request-deadlines", daemon=True).start()

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            self._active[id(deadline)] = deadline
            if deadline.when < self._next:
                self._cond.notify()

    def remove(self, deadline: Deadline) -> None:
        with self._cond:
            self._active.pop(id(deadline), None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                expired = [d for d in self._active.values() if d.when <= now]
                for deadline in expired:
                    del self._active[id(deadline)]
                self._next = min((d.when for d in self._active.values()), default=math.inf)
                if not expired:
                    self._cond.wait(None if self._next == math.inf else self._next - now)
                    continue
            for deadline in expired:
                deadline.expire()


_state = ProcessLocal()  # .reaper: (pid, _Reaper); a forked child needs its own


def _reaper() -> _Reaper:
    current = getattr(_state, "reaper", None)
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _state.lock:
        current = getattr(_state, "reaper", None)
        if current is None or current[0] != os.getpid():
            current = _state.reaper = (os.getpid(), _Reaper())
        return current[1]


def _register(conn) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(conn)


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args, **kwargs):
        _register(self)
        return super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args, **kwargs):
        _register(self)
        return super().request(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """HTTPAdapter whose connections can be cut by a Deadline."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
