"""A limit on requests in flight, shared by every thread of the process.

The workspace admits about 20 requests at once and answers 429 beyond that or beyond
its rate. The limit grows by one slot per window of successes and shrinks by a quarter
on a 429 (at most once per window), so a run settles just under the workspace's real
capacity instead of spending requests on 429s. A 429 also marks a ceiling: the limit
climbs back quickly to just under it, then probes above it slowly.

Only a 429 on a request sent with every slot taken can be the limit on requests in
flight; one sent with slots to spare was refused for its API family's rate, which
pacing.py learns per family, so it must not shrink the limit every family shares.
"""

from __future__ import annotations

import threading


class Throttle:
    """Adaptive (AIMD) cap on concurrent requests."""

    def __init__(self, max_in_flight: int, *, initial: float | None = None,
                 decrease: float = 0.75, probe_slowdown: float = 16.0):
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self._limit = float(initial if initial is not None else max_in_flight)
        self._decrease = decrease
        self._probe_slowdown = probe_slowdown
        self._in_flight = 0
        self._epoch = 0          # bumps on each decrease; stale 429s do not cut again
        self._ceiling: float | None = None  # the limit at the last 429
        self._cond = threading.Condition()
        self.throttled = 0       # 429s reported
        self.cuts = 0            # times the limit went down

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

    def _acquire(self) -> tuple[int, bool]:
        """Wait for a slot: (epoch, whether it was the last free slot)."""
        with self._cond:
            limit = max(1, int(self._limit))
            while self._in_flight >= limit:
                self._cond.wait()
                limit = max(1, int(self._limit))
            self._in_flight += 1
            return self._epoch, self._in_flight >= limit

    def release(self, epoch: int, *, throttled: bool = False) -> None:
        """Give the slot back, telling whether the request was answered 429."""
        with self._cond:
            self._in_flight -= 1
            if throttled:
                self.throttled += 1
                if epoch == self._epoch:
                    self._ceiling = self._limit
                    self._limit = max(1.0, self._limit * self._decrease)
                    self._epoch += 1
                    self.cuts += 1
            elif self._limit < self.max_in_flight:
                step = 1.0 / self._limit
                if self._ceiling is not None and self._limit >= self._ceiling - 1:
                    step /= self._probe_slowdown
                self._limit = min(float(self.max_in_flight), self._limit + step)
            self._cond.notify_all()

    def slot(self) -> "_Slot":
        """Context manager form; call .throttled() inside to report a 429.

        A 429 counts against the limit only when the slot was the last one free.
        """
        return _Slot(self)


class _Slot:
    def __init__(self, throttle: Throttle):
        self._throttle = throttle
        self._was_throttled = False
        self.full = False   # every slot was taken once this one was

    def throttled(self) -> None:
        if self.full:
            self._was_throttled = True

    def __enter__(self) -> "_Slot":
        self._epoch, self.full = self._throttle._acquire()
        return self

    def __exit__(self, *exc) -> None:
        self._throttle.release(self._epoch, throttled=self._was_throttled)
