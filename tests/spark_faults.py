"""Holding a Spark run at a chosen point: the fake workspace blocks one user's requests
until the test releases them, and tells which process sent a request (to kill it)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit


class Hold:
    """Wraps a FakeWorkspaceServer: requests naming `user` wait until release().

    `arrived` is set when the first held request comes in; `sender_port` is its
    client's TCP port. Every user named by a request is recorded with the phase it
    came in (`mark(phase)`), so a test can tell what was asked after, say, a kill.
    """

    def __init__(self, server, user: str | None):
        self.user = user
        self.arrived = threading.Event()
        self._released = threading.Event()
        self.sender_port: int | None = None
        self.phase = "before"
        self.users_by_phase: dict[str, set[str]] = {}
        self.requests_by_phase: dict[str, int] = {}
        self._lock = threading.Lock()
        decide = server._decide

        def held_decide(h, query, body, route, n_in_flight, *rest):
            user = _user_of(h.path)
            with self._lock:
                self.requests_by_phase[self.phase] = \
                    self.requests_by_phase.get(self.phase, 0) + 1
                if user:
                    self.users_by_phase.setdefault(self.phase, set()).add(user)
            if user is not None and user == self.user and not self._released.is_set():
                if not self.arrived.is_set():
                    self.sender_port = h.client_address[1]
                    self.arrived.set()
                self._released.wait(300)
            return decide(h, query, body, route, n_in_flight, *rest)

        server._decide = held_decide

    def mark(self, phase: str) -> None:
        with self._lock:
            self.phase = phase

    def release(self) -> None:
        self._released.set()


def _user_of(raw_path: str) -> str | None:
    params = dict(parse_qsl(urlsplit(raw_path).query))
    path = unquote(params.get("path", ""))
    parts = path.removeprefix("dbfs:").split("/")
    if len(parts) > 2 and parts[1] == "Users":
        return parts[2]
    return None


def process_of_port(port: int) -> int | None:
    """The pid of the local process whose TCP socket has this local port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    return None


class EndpointHold:
    """Wraps a FakeWorkspaceServer: requests to one endpoint wait until release();
    `arrived` is set by the first."""

    def __init__(self, server, endpoint: str):
        self.arrived = threading.Event()
        self._released = threading.Event()
        decide = server._decide

        def held_decide(h, *rest):
            if urlsplit(h.path).path == endpoint and not self._released.is_set():
                self.arrived.set()
                self._released.wait(300)
            return decide(h, *rest)

        server._decide = held_decide

    def release(self) -> None:
        self._released.set()
