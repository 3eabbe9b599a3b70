"""Is the workspace as a whole answering? One gate shared by every request of a client.

A request that keeps failing transiently asks the gate. The gate probes the workspace
once with a cheap call: if that answers, only this path is failing and the request
fails for its user as usual. If it does not, the workspace is down: the gate closes,
every request waits at it (none spends its retries on an outage, no failure becomes a
row), the gate re-probes with backoff and reopens when the workspace answers. Past the
outage limit it gives up with WorkspaceOutage, which stops the run.
"""

from __future__ import annotations

import threading
from typing import Callable

from dbx_inventory.clock import Clock
from dbx_inventory.errors import WorkspaceOutage

# What the gate tells the console: ("down" | "waiting" | "up", seconds down, reason).
Notice = Callable[[str, float, str], None]


class OutageGate:
    """Shared by all threads of one client; `probe()` is True when the workspace answers."""

    def __init__(self, probe: Callable[[], bool], *, clock: Clock, limit_s: float,
                 base_delay: float = 1.0, max_delay: float = 30.0):
        self._probe = probe
        self._clock = clock
        self.limit_s = limit_s
        self._base = base_delay
        self._max = max_delay
        self._cond = threading.Condition()
        self._down_since: float | None = None
        self._reason = ""
        self._probing = False
        self._failed_probes = 0
        self.notify: Notice | None = None

    @property
    def down(self) -> bool:
        """True while the workspace is known not to answer (admit no new work)."""
        return self._down_since is not None

    def confirm(self, reason: str) -> bool:
        """After a path kept failing: False if the workspace answers (the failure is the
        path's own), True once an outage it was part of has ended (retry the request)."""
        with self._cond:
            if self._down_since is None:
                if self._probe_unlocked():
                    return False
                if self._down_since is None:
                    self._down_since = self._clock.monotonic()
                    self._reason = reason
                    self._failed_probes = 1
                    self._tell("down")
        self.wait_while_down()
        return True

    def wait_while_down(self) -> None:
        """Return at once when up; else wait for the gate to reopen (WorkspaceOutage past
        the limit). The thread that finds a probe due does it; the others wait."""
        with self._cond:
            while self._down_since is not None:
                down_for = self._clock.monotonic() - self._down_since
                if down_for >= self.limit_s:
                    raise WorkspaceOutage(
                        f"the workspace has not answered for {down_for:.0f} s "
                        f"({self._reason}); gave up after the outage limit of "
                        f"{self.limit_s:g} s (--outage-timeout)")
                if self._probing:
                    self._cond.wait(1.0)
                    continue
                delay = min(self._max, self._base * 2 ** (self._failed_probes - 1))
                delay = min(delay, max(0.0, self.limit_s - down_for))
                self._tell("waiting", next_try=delay)
                self._probing = True
                self._cond.release()
                try:
                    self._clock.sleep(delay)
                    ok = self._probe()
                finally:
                    self._cond.acquire()
                    self._probing = False
                if ok:
                    self._tell("up")
                    self._down_since = None
                    self._failed_probes = 0
                else:
                    self._failed_probes += 1
                self._cond.notify_all()

    def _probe_unlocked(self) -> bool:
        self._cond.release()
        try:
            return self._probe()
        finally:
            self._cond.acquire()

    def _tell(self, event: str, next_try: float = 0.0) -> None:
        if self.notify is None or self._down_since is None:
            return
        down_for = self._clock.monotonic() - self._down_since
        detail = self._reason if event != "waiting" else \
            f"{self._reason}; next try in {next_try:.0f} s, giving up after {self.limit_s:g} s"
        self.notify(event, down_for, detail)
