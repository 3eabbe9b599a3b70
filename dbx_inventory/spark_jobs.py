"""The client-fed queue of Spark jobs: small units of users, a share of the budget each.

K client threads each submit one-partition jobs, one unit at a time, and hand each
unit's rows back the moment its job ends (toLocalIterator would hold them in partition
order). The request budget (--concurrency) is a hard ceiling for the whole cluster:
the shares of running jobs never sum past it, and a thread that retires leaves its
share to the jobs started after it. Nothing here imports pyspark: the job itself is
the `submit` callable.
"""

from __future__ import annotations

import math
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

TARGET_JOB_S = 4.0        # a job lasts seconds: results stream, a dead client orphans little
OVERHEAD_SHARE = 5        # ...and at least 5 x Spark's per-job overhead, so that stays small
MAX_UNIT_USERS = 64
JOB_TAG_PREFIX = "dbx-inventory-"


@dataclass(frozen=True)
class Unit:
    """Users handed to one Spark job."""

    number: int
    users: tuple[str, ...]


@dataclass(frozen=True)
class JobDone:
    """One finished job: its unit, the share it ran with, and the rows it returned."""

    unit: Unit
    share: int
    submitted_at: float    # client clock, epoch seconds
    returned_at: float
    rows: list


class UnitCutter:
    """Cuts the next unit when a thread asks, sized from how long jobs have taken.

    The first wave has one user per unit so results reach the console early. After
    it, a unit gets as many users as keep an executor busy for TARGET_JOB_S, or for
    OVERHEAD_SHARE times Spark's per-job overhead (client time less executor time)
    when that is longer: on a loaded server a job costs seconds before it starts.
    The last stretch is cut finer again so no thread is left with a long job while
    the others have run dry. Thread-safe.
    """

    def __init__(self, usernames: Sequence[str], threads: int, *,
                 target_s: float = TARGET_JOB_S, max_users: int = MAX_UNIT_USERS):
        self._names = list(usernames)
        self._threads = max(1, threads)
        self._target_s = target_s
        self._max_users = max_users
        self._taken = 0
        self._number = 0
        self._per_user_s: float | None = None   # executor seconds per user
        self._overhead_s = 0.0                  # client seconds a job costs beyond that
        self._lock = threading.Lock()

    def next(self) -> Unit | None:
        """The next unit, or None when every user has been handed out."""
        with self._lock:
            remaining = len(self._names) - self._taken
            if remaining <= 0:
                return None
            size = 1
            if self._number >= self._threads and self._per_user_s:
                run_s = max(self._target_s, OVERHEAD_SHARE * self._overhead_s)
                size = round(run_s / self._per_user_s)
                size = min(size, math.ceil(remaining / (2 * self._threads)))
            size = max(1, min(size, self._max_users, remaining))
            unit = Unit(self._number, tuple(self._names[self._taken:self._taken + size]))
            self._taken += size
            self._number += 1
            return unit

    def observed(self, unit: Unit, client_s: float, executor_s: float | None) -> None:
        """A job of `unit` took client_s from submission to its rows, executor_s of
        which its executor ran (None when unknown: all of it)."""
        if unit.number < self._threads:
            return  # the first wave also pays Spark's start-up: not a job's real cost
        ran = client_s if executor_s is None else max(0.0, min(executor_s, client_s))
        per_user = max(ran, 1e-3) / max(1, len(unit.users))
        with self._lock:
            previous = self._per_user_s
            self._per_user_s = per_user if previous is None else (previous + per_user) / 2
            overhead = client_s - ran
            self._overhead_s = overhead if previous is None \
                else (self._overhead_s + overhead) / 2

    @property
    def handed_out(self) -> int:
        with self._lock:
            return self._number


def shares(budget: int, threads: int) -> list[int]:
    """The budget in whole shares over threads, summing to exactly the budget."""
    base, extra = divmod(budget, threads)
    return [base + (1 if index < extra else 0) for index in range(threads)]


class Budget:
    """Requests in flight for the cluster, split between the threads still working.

    A thread's entitlement only grows as others retire, so a job started on it never
    pushes the sum of running shares past the budget.
    """

    def __init__(self, total: int, threads: int):
        if threads > total:
            raise ValueError("more threads than requests in the budget")
        self.total = total
        self._active = list(range(threads))
        self._in_use = 0
        self.peak = 0
        self._lock = threading.Lock()

    def take(self, thread: int) -> int:
        """The share for the next job of `thread`; give it back with give_back()."""
        with self._lock:
            position = self._active.index(thread)
            share = shares(self.total, len(self._active))[position]
            share = max(1, min(share, self.total - self._in_use))
            self._in_use += share
            self.peak = max(self.peak, self._in_use)
            return share

    def give_back(self, share: int) -> None:
        with self._lock:
            self._in_use -= share

    def retire(self, thread: int) -> None:
        """`thread` runs no more jobs: its share goes to the others' next jobs."""
        with self._lock:
            if thread in self._active:
                self._active.remove(thread)

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._active)


def peak_overlap(intervals: Sequence[tuple[float, float]]) -> int:
    """Most intervals open at one moment (tasks the cluster really ran at once)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


class JobQueue:
    """Runs units on `threads` client threads; yields JobDone as jobs end.

    submit(unit, share, tag) runs one job in the calling thread and returns its rows
    and the seconds its executor ran (None if unknown).
    A job that raises stops the queue: no new job starts, and the error is raised
    from the iterator once the jobs still running have been left to the caller to
    cancel (by their tags).
    """

    def __init__(self, usernames: Sequence[str], budget: int, threads: int,
                 submit: Callable[[Unit, int, str], tuple[list, float | None]], *,
                 run_id: str,
                 clock: Callable[[], float]):
        self.threads = max(1, min(threads, budget, len(usernames)))
        self.budget = Budget(budget, self.threads)
        self.run_id = run_id
        self.tag = f"{JOB_TAG_PREFIX}{run_id}"
        self.units = UnitCutter(usernames, self.threads)
        self._pending = len(usernames)  # users not yet returned
        self._submit = submit
        self._clock = clock
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._slots_seen = self.threads
        self._workers: list[threading.Thread] = []

    def start(self) -> "JobQueue":
        """Start the client threads; each submits its first job at once."""
        for number in range(self.threads):
            thread = threading.Thread(target=self._work, args=(number,),
                                      name=f"spark-job-{number}", daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def results(self) -> Iterator[JobDone]:
        """JobDone per finished job, in completion order; raises what a job raised."""
        while self._pending:
            item = self._next()
            if isinstance(item, BaseException):
                self._stop.set()
                raise item
            self._pending -= len(item.unit.users)
            yield item

    def stop(self) -> None:
        """Start no more jobs (running ones are the caller's to cancel)."""
        self._stop.set()

    def measured(self, jobs: Sequence[tuple[float, float, float]]) -> None:
        """(client seconds, executor start, executor end) of the jobs so far: did jobs
        wait in Spark's queue because fewer tasks run at once than we have threads?

        Then queued jobs hold budget they cannot use: retire the surplus threads so the
        running ones get it. Evidence needed: fewer jobs ever ran side by side than
        there are threads, and a typical job waited (beyond the least per-job overhead
        seen) at least half as long as it ran: a slow client alone shows neither.
        """
        if len(jobs) < 2 * self.threads:
            return  # not enough jobs yet to tell a full cluster from a slow start
        seen = peak_overlap([(start, end) for _, start, end in jobs])
        if not 0 < seen < self.budget.active:
            return
        overheads = [client - (end - start) for client, start, end in jobs]
        least = min(overheads)
        waits = sorted(overhead - least for overhead in overheads)
        runs = sorted(end - start for _, start, end in jobs)
        if waits[len(waits) // 2] >= runs[len(runs) // 2] / 2:
            self._slots_seen = seen

    @property
    def slots_seen(self) -> int:
        return self._slots_seen

    def _next(self):
        # A timeout so that Ctrl-C reaches the main thread promptly.
        while True:
            try:
                return self._results.get(timeout=0.5)
            except queue.Empty:
                continue

    def _work(self, number: int) -> None:
        try:
            while not self._stop.is_set():
                if self.budget.active > self._slots_seen and number >= self._slots_seen:
                    return  # the cluster runs fewer tasks at once than we have threads
                unit = self.units.next()
                if unit is None:
                    return
                share = self.budget.take(number)
                submitted = self._clock()
                try:
                    rows, executor_s = self._submit(unit, share, self.tag)
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                    self._stop.set()
                    self._results.put(exc)
                    return
                finally:
                    self.budget.give_back(share)
                returned = self._clock()
                self.units.observed(unit, returned - submitted, executor_s)
                self._results.put(JobDone(unit, share, submitted, returned, rows))
        finally:
            self.budget.retire(number)
