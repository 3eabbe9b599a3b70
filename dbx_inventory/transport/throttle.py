"""A limit on requests in flight, shared by every thread of the process.

The workspace admits about 20 requests at once and answers 429 beyond that or beyond
its rate. The limit grows by one slot per window of successes and shrinks by a quarter
on a 429 (at most once per window), so a run settles just under the workspace's real
capacity instead of spending requests on 429s. A 429 also marks a ceiling: the limit
climbs back quickly to just under it, then probes above it slowly.

A 429 is this limit's business only when it may be the workspace's cap on requests in
flight: when no request sent at as many requests in flight has succeeded since the last
cut. One sent at a level already proven was refused for its API family's rate, which
pacing.py learns per family, so it must not shrink the limit every family shares;
unless that level is contested: of at least CONTESTED_MIN answers to requests sent at
it or above since the last cut, a quarter or more were 429s. A rate refuses requests
whatever their level, a few in a hundred; a cap refuses those above it. The count here
runs ahead of the workspace's (an answer waits for this process to read it), so one
level above the cap is proven now and then: with 32 threads against a cap of 20, every
429 came at level 21, proven, and went to DBFS's pace, which held a 9-second scan to
23-77 s (bench.py local-C32).

Only 429s that cluster (CLUSTER_MIN of the last CLUSTER_OF answers) may be claimed:
an isolated 429 on a busy workspace says nothing about requests in flight, and a cut
on each one (the last cut resets what is proven) collapsed whole scans (issue 27).

A `Gate` is a second, outside limit a slot must also pass: in Spark mode this machine's
requests count in the budget it shares with the cluster's jobs (runners/spark/budget.py).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Protocol

CLUSTER_OF, CLUSTER_MIN = 20, 3  # as pacing.py's
MOSTLY_REFUSED = 10              # of the last 20: then a level once proven is not
CONTESTED_MIN, CONTESTED_SHARE = 10, 0.25   # answers at a level and above; share refused


class Gate(Protocol):
    def acquire(self) -> bool:
        """Wait for room for one request; False when the gate no longer counts."""

    def release(self) -> None:
        """A request acquired with True has ended."""


class Throttle:
    """Adaptive (AIMD) cap on concurrent requests."""

    def __init__(self, max_in_flight: int, *, initial: float | None = None,
                 decrease: float = 0.75, probe_slowdown: float = 16.0,
                 gate: Gate | None = None, cluster_min: int = CLUSTER_MIN):
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self._limit = float(initial if initial is not None else max_in_flight)
        self._decrease = decrease
        self._probe_slowdown = probe_slowdown
        self._in_flight = 0
        self._epoch = 0          # bumps on each decrease; stale 429s do not cut again
        self._ceiling: float | None = None  # the limit at the last 429
        self._proven = 0         # most in flight at which a request of this epoch succeeded
        self._answers: dict[int, list[int]] = {}  # level -> [successes, 429s], this epoch
        self._cond = threading.Condition()
        self.gate = gate
        self.throttled = 0       # 429s reported
        self.cuts = 0            # times the limit went down
        self._recent: deque[bool] = deque(maxlen=CLUSTER_OF)  # last answers: 429 or not
        self._cluster_min = cluster_min

    @property
    def limit(self) -> int:
        with self._cond:
            return max(1, int(self._limit))

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def acquire(self) -> int:
        """Wait for a slot; returns the epoch to hand back to release()."""
        return self._acquire()[0]

    def _acquire(self) -> tuple[int, int]:
        """Wait for a slot: (epoch, requests in flight with this one)."""
        with self._cond:
            while self._in_flight >= max(1, int(self._limit)):
                self._cond.wait()
            self._in_flight += 1
            return self._epoch, self._in_flight

    def _claims(self, epoch: int, level: int, again: bool = False) -> bool:
        """Whether a 429 on a request sent at `level` in flight may be this limit's:
        one of a cluster, sent at a level not proven since the last cut. `again`: the
        same request was refused just before; that is a cluster, and no proof holds."""
        with self._cond:
            self._recent.append(True)
            if epoch == self._epoch and level:
                self._answers.setdefault(level, [0, 0])[1] += 1
            refused = sum(self._recent)
            if refused < self._cluster_min and not again:
                return False
            # Half refused: a level a lucky request once got through is no proof.
            return epoch != self._epoch or level > self._proven or again \
                or refused >= MOSTLY_REFUSED or self._contested(level)

    def _contested(self, level: int) -> bool:
        """Are requests sent at `level` in flight or above refused too often for their
        proof to hold (a cap just below them)? Under the lock."""
        ok = no = 0
        for at, (good, bad) in self._answers.items():
            if at >= level:
                ok, no = ok + good, no + bad
        return ok + no >= CONTESTED_MIN and no >= CONTESTED_SHARE * (ok + no)

    def release(self, epoch: int, *, throttled: bool = False, level: int = 0,
                refused: bool = False) -> None:
        """Give the slot back, telling whether the request was answered 429 and claimed
        (`refused`: a 429 at all), and for a success how many were in flight when sent."""
        with self._cond:
            self._in_flight -= 1
            if not refused and level:
                self._recent.append(False)
            if not refused and level and epoch == self._epoch:  # a 429 proves nothing
                self._proven = max(self._proven, level)
                self._answers.setdefault(level, [0, 0])[0] += 1
            if throttled:
                self.throttled += 1
                if epoch == self._epoch:
                    self._ceiling = self._limit
                    self._limit = max(1.0, self._limit * self._decrease)
                    self._epoch += 1
                    self._proven = 0
                    self._answers = {}
                    self.cuts += 1
            elif self._limit < self.max_in_flight:
                step = 1.0 / self._limit
                if self._ceiling is not None and self._limit >= self._ceiling - 1:
                    step /= self._probe_slowdown
                self._limit = min(float(self.max_in_flight), self._limit + step)
            self._cond.notify_all()

    def slot(self) -> "_Slot":
        """Context manager form; call .throttled() inside to report a 429."""
        return _Slot(self)


class _Slot:
    def __init__(self, throttle: Throttle):
        self._throttle = throttle
        self._was_throttled = False
        self._refused = False

    def throttled(self, again: bool = False) -> bool:
        """Report a 429. True: it may be the limit on requests in flight (counted here);
        False: isolated, or requests this many in flight have succeeded (a rate limit).
        `again`: the same request's previous try was refused too."""
        self._refused = True
        self._was_throttled = self._throttle._claims(self._epoch, self.level, again)
        return self._was_throttled

    def __enter__(self) -> "_Slot":
        self._epoch, self.level = self._throttle._acquire()
        gate = self._throttle.gate
        try:
            self._gated = gate is not None and gate.acquire()
        except BaseException:
            self._throttle.release(self._epoch)  # nothing was sent: nothing proven
            raise
        return self

    def __exit__(self, *exc) -> None:
        gate = self._throttle.gate
        if self._gated and gate is not None:
            gate.release()
        self._throttle.release(self._epoch, throttled=self._was_throttled,
                               level=self.level, refused=self._refused)
