"""The request budget (--concurrency) shared by the Spark lanes and this machine.

The budget is a hard ceiling for the whole cluster and the client: a Spark job starts
only when its lane's whole share is free, so the shares of running jobs never sum past
it, and a lane that retires leaves its share to the others' next jobs. This machine's
continuous scan counts request by request (Budget is its Gate), and setting Spark up
borrows from the same budget.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Hashable

from dbx_inventory.runners.spark.units import CLIENT


def shares(budget: int, threads: int) -> list[int]:
    """The budget in whole shares over threads, summing to exactly the budget."""
    base, extra = divmod(budget, threads)
    return [base + (1 if index < extra else 0) for index in range(threads)]


class Budget:
    """Requests in flight for the cluster and the client, split between the lanes.

    The budget is shared out between the Spark lanes that are up (warmed up, not
    retired), and the client lane (last) while it runs: the first lane up gets it all,
    and shares shrink as more lanes join (grow as lanes retire). A Spark job starts only
    when its lane's whole share is free: while lanes join or retire, the requests of
    running jobs never sum past the total. The client lane counts its continuous scan
    request by request (the Gate methods acquire and release, inside alone(): no Spark
    job starts meanwhile). Without a client lane, no lane starts before every lane has
    warmed up (or retired): nothing would scan meanwhile anyway, and the first units
    spread over the executors.
    """

    def __init__(self, total: int, threads: int, *, client: bool = False):
        self.total = total
        self._lanes: list[Hashable] = [CLIENT] if client else []
        self._warming: set[Hashable] = set()
        self._in_use = 0
        self._borrowing = 0             # setting-up requests waiting for room (borrow())
        self._alone = False             # the client's continuous scan runs
        self.peak = 0
        self._closed = False
        self._started = False
        self._cond = threading.Condition()
        self.add(threads)

    def add(self, threads: int) -> None:
        """Spark lanes 0..threads-1, warming up (Spark is ready after the client lane
        may have started)."""
        if threads > self.total:
            raise ValueError("more threads than requests in the budget")
        with self._cond:
            self._lanes[:0] = range(threads)
            self._warming.update(range(threads))
            self._cond.notify_all()

    def _share(self, lane: Hashable) -> int:
        """A Spark lane's whole share: the budget over the lanes up. Spark lanes come
        first and are never more than the requests, so a share is one at least."""
        up = [other for other in self._lanes if other not in self._warming]
        return shares(self.total, len(up))[up.index(lane)]

    def take(self, lane: Hashable) -> int | None:
        """Wait until the Spark lane's share is free and take it; None when the lane has
        no more to do (closed or retired)."""
        with self._cond:
            while True:
                if self._closed or lane not in self._lanes or lane in self._warming:
                    return None
                if self._warming and CLIENT not in self._lanes and not self._started:
                    self._cond.wait()  # nobody scans yet: the lanes start together
                    continue
                if self._alone:
                    self._cond.wait()  # the client's scan has the budget and the pace
                    continue
                self._started = True
                share = self._share(lane)
                if self.total - self._in_use >= share:
                    self._in_use += share
                    self.peak = max(self.peak, self._in_use)
                    return share
                self._cond.wait()

    @contextlib.contextmanager
    def borrow(self):
        """One request in flight for setting Spark up (a cluster check, the executors'
        token) while the client lane may scan: it counts like any other."""
        with self._cond:
            self._borrowing += 1  # the client lane's next request leaves room for it
            while self.total - self._in_use < 1:
                self._cond.wait()
            self._borrowing -= 1
            self._in_use += 1
            self.peak = max(self.peak, self._in_use)
        try:
            yield
        finally:
            self.give_back(1)

    @contextlib.contextmanager
    def alone(self):
        """The client lane's continuous scan runs: no Spark job starts meanwhile (and,
        when it ends, lanes up need not wait for the others: the scan has started)."""
        with self._cond:
            self._alone = True
            self._started = True
        try:
            yield
        finally:
            with self._cond:
                self._alone = False
                self._cond.notify_all()

    def acquire(self) -> bool:
        """Gate (throttle.py) of the client lane's continuous scan (inside alone()):
        wait for room for one request; False (not counted) once the budget is closed."""
        with self._cond:
            while True:
                if self._closed:
                    return False
                if self._in_use + self._borrowing < self.total:
                    self._in_use += 1
                    self.peak = max(self.peak, self._in_use)
                    return True
                self._cond.wait()

    def release(self) -> None:
        """One request acquired by the client lane's scan has ended."""
        self.give_back(1)

    def give_back(self, share: int) -> None:
        with self._cond:
            self._in_use -= share
            self._cond.notify_all()

    def join(self, lane: Hashable) -> None:
        """A warmed-up Spark lane takes its own share from now on."""
        with self._cond:
            self._warming.discard(lane)
            self._cond.notify_all()

    def retire(self, lane: Hashable) -> None:
        """`lane` runs no more jobs: its share goes to the others' next jobs."""
        with self._cond:
            self._retire(lane)

    def _retire(self, lane: Hashable) -> None:
        self._warming.discard(lane)
        if lane in self._lanes:
            self._lanes.remove(lane)
        self._cond.notify_all()

    def close(self) -> None:
        """Every waiting lane gives up."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def joined(self) -> int:
        """Spark lanes warmed up and not retired: the budget is theirs to share too."""
        with self._cond:
            return sum(1 for lane in self._lanes if lane != CLIENT and lane not in self._warming)

    @property
    def active(self) -> int:
        """Spark lanes not retired (warming or joined)."""
        with self._cond:
            return sum(1 for lane in self._lanes if lane != CLIENT)
