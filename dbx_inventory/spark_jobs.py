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

UNITS_PER_THREAD = 8      # enough units that threads balance as jobs free up
MAX_UNIT_USERS = 16       # a job lasts seconds, and a dead client orphans little
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
    rows: list


def plan_units(usernames: Sequence[str], threads: int,
               max_users: int = MAX_UNIT_USERS) -> list[Unit]:
    """Users cut into units, in input order.

    The first wave has one user per unit so results reach the console early; the body
    uses units that keep a job busy for seconds; the last stretch gets smaller units
    again so no thread is left with a long job while the others have run dry.
    """
    names = list(usernames)
    total = len(names)
    size = max(1, min(max_users, math.ceil(total / max(1, threads * UNITS_PER_THREAD))))
    cuts: list[tuple[str, ...]] = []
    start = 0
    first_wave = min(threads, total) if size > 1 else 0
    for _ in range(first_wave):
        cuts.append((names[start],))
        start += 1
    tail = max(start, total - threads * size)
    while start < tail:
        cuts.append(tuple(names[start:start + size]))
        start += size
    small = max(1, size // 2)
    while start < total:
        cuts.append(tuple(names[start:start + small]))
        start += small
    return [Unit(number, users) for number, users in enumerate(cuts)]


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

    submit(unit, share, tag) runs one job in the calling thread and returns its rows.
    A job that raises stops the queue: no new job starts, and the error is raised
    from the iterator once the jobs still running have been left to the caller to
    cancel (by their tags).
    """

    def __init__(self, units: Sequence[Unit], budget: int, threads: int,
                 submit: Callable[[Unit, int, str], list], *, run_id: str,
                 clock: Callable[[], float]):
        self.threads = max(1, min(threads, budget, len(units)))
        self.budget = Budget(budget, self.threads)
        self.run_id = run_id
        self.tag = f"{JOB_TAG_PREFIX}{run_id}"
        self._units: queue.SimpleQueue = queue.SimpleQueue()
        for unit in units:
            self._units.put(unit)
        self._pending = len(units)
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
            self._pending -= 1
            yield item

    def stop(self) -> None:
        """Start no more jobs (running ones are the caller's to cancel)."""
        self._stop.set()

    def measured(self, intervals: Sequence[tuple[float, float]]) -> None:
        """Executor-measured job times so far: fewer tasks ran at once than threads?

        Then jobs wait in Spark's queue holding budget they cannot use: retire the
        surplus threads so the running ones get it.
        """
        if len(intervals) < 2 * self.threads:
            return  # not enough jobs yet to tell a full cluster from a slow start
        seen = peak_overlap(intervals)
        if 0 < seen < self.budget.active:
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
                try:
                    unit = self._units.get_nowait()
                except queue.Empty:
                    return
                share = self.budget.take(number)
                submitted = self._clock()
                try:
                    rows = self._submit(unit, share, self.tag)
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                    self._stop.set()
                    self._results.put(exc)
                    return
                finally:
                    self.budget.give_back(share)
                self._results.put(JobDone(unit, share, submitted, rows))
        finally:
            self.budget.retire(number)
