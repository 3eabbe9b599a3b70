"""The client-fed queue of Spark jobs: small units of users, a share of the budget each.

K client threads (Spark lanes) each submit one-partition jobs, one unit at a time, and
hand each unit's rows back the moment its job ends (toLocalIterator would hold them in
partition order). A Spark lane's first job is a warm-up with no users and no request: a
cluster's first Python job costs seconds (10 s measured here) before its executors run
anything. The first lane warms up alone, the others once it is up: Python workers that
start side by side share the cold start (local[4] on two cores: the first lane up
after 2.2 s and all four after 3.3 s, against 4.1 s for all four at once), and the first
lane ends the client lane's scan sooner.

The client lane scans on this machine from the start, while Spark gets ready
(add_spark), and hands each user's row on as it finishes: one continuous scan fed user
by user, each request counted in the budget as it is sent (Budget.acquire, budget.py).
The first Spark lane that joins stops the feed: the scan finishes the few users it
holds (it has the whole budget and the whole learned pace till then), and every other
user goes to Spark. The feed also stops at `here_most` users (a Spark run: a fifth,
units.here_at_most): when the executors are slow to start, this machine waits for them
rather than scan the run itself. A run that asked for a cluster gets the cluster doing
the work, even when its jobs cost more per user than this machine did (the reader says
so once, see UnitCutter.spark_costs_more); Spark lanes leave only when the cluster runs
fewer tasks at once than there are lanes. Units are cut in units.py, the budget is
shared out in budget.py. Nothing here imports pyspark: the jobs themselves are the
`submit` callables.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from dbx_inventory.runners.spark.budget import Budget
from dbx_inventory.runners.spark.units import CLIENT, SPARK, TARGET_JOB_S, JobDone, Unit, UnitCutter
from dbx_inventory.scan.roots import Item
from dbx_inventory.transport.throttle import Gate

log = logging.getLogger("dbx_inventory.spark")

JOB_TAG_PREFIX = "dbx-inventory-"
CLIENT_UNIT_S = 1.5       # the client lane's scan is measured this often

# submit(unit, share, tag) -> (rows, seconds the unit's scan ran or None if unknown)
Submit = Callable[[Unit, int, str], "tuple[list, float | None]"]
# local(users, share, tag, gate) -> (username, rows) as each user finishes, read from
# `users` as the scan goes, then (None, rows) with the scan's closing report
Local = Callable[[Iterable[Item], int, str, Gate], Iterator["tuple[str | None, list]"]]


def peak_overlap(intervals: Sequence[tuple[float, float]]) -> int:
    """Most intervals open at one moment (tasks the cluster really ran at once)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@dataclass(frozen=True)
class SparkReady:
    """In the results, where Spark became ready: `threads` Spark lanes start."""

    threads: int


class JobQueue:
    """Runs units on `threads` Spark lanes, and on a client lane when `local` is given;
    yields JobDone as jobs end.

    submit(unit, share, tag) runs one Spark job in the calling thread and returns the
    unit's rows and the seconds its scan ran (None if unknown). local(users, share, tag,
    gate) scans on this machine (see Local); each of its users comes as a JobDone of
    its own, and each scan ends with a JobDone of no users holding its report. Without
    `submit` at first, the client lane starts alone and the Spark lanes come with
    add_spark(). Every Spark lane's first job is a warm-up (a unit with no users; it
    sends no request). A job that raises stops the queue: no new job starts, and the
    error is raised from the iterator; Spark jobs still running are the caller's to
    cancel (by their tag).
    """

    def __init__(self, usernames: Sequence[Item], budget: int, threads: int,
                 submit: Submit | None, *, run_id: str, clock: Callable[[], float],
                 local: Local | None = None, target_s: float = TARGET_JOB_S,
                 here_most: int | None = None):
        self._users = len(usernames)
        self._here_most = len(usernames) if here_most is None else here_most
        self._total = budget
        self.threads = self._lanes_for(threads) if submit is not None else 0
        self.budget = Budget(budget, self.threads, client=local is not None)
        self.run_id = run_id
        self.tag = f"{JOB_TAG_PREFIX}{run_id}"
        self.units = UnitCutter(usernames, max(1, self.threads), first_wave=local is None,
                                target_s=target_s)
        self._pending = len(usernames)  # users not yet returned
        self._submit = submit
        self._spark_expected = submit is None  # add_spark() comes once Spark is ready
        self._local = local
        self._clock = clock
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._first_up = threading.Event()  # the first Spark lane's warm-up has returned
        self._slots_seen = self.threads
        self._spark_running = 0
        self._counts_lock = threading.Lock()
        self._reports_due = 0  # client scans started whose closing report is not read
        self._client: threading.Thread | None = None
        self._lane_threads: list[threading.Thread] = []

    def _lanes_for(self, threads: int) -> int:
        return max(1, min(threads, self._total, self._users))

    def start(self) -> "JobQueue":
        """Start the client lane, and the Spark lanes if submit was given already."""
        if self._local is not None:
            self._client = self._spawn(CLIENT, self._client_lane)
        if self._submit is not None and not self._spark_expected:
            for lane in range(self.threads):
                self._spawn(lane, self._work)
        return self

    def add_spark(self, threads: int, submit: Submit) -> None:
        """Spark is ready (the client lane may have scanned meanwhile): start `threads`
        Spark lanes (fewer if the budget or the users are fewer), each with its warm-up
        first. The results' reader gets SparkReady first."""
        self._submit = submit
        self.threads = self._slots_seen = self._lanes_for(threads)
        self._results.put(SparkReady(self.threads))
        if not self._stop.is_set():
            self.units.lanes(self.threads)
            self.budget.add(self.threads)
            for lane in range(self.threads):
                self._spawn(lane, self._work)
        self._spark_expected = False  # after the spawns: the reader counts live lanes

    def no_spark(self, error: BaseException) -> None:
        """Spark could not be readied: the reader gets `error`."""
        self._spark_expected = False
        self._results.put(error)

    def _spawn(self, lane, work: Callable) -> threading.Thread:
        thread = threading.Thread(target=work, args=(lane,),
                                  name=f"spark-lane-{lane}", daemon=True)
        thread.start()
        self._lane_threads.append(thread)
        return thread

    def results(self) -> Iterator:
        """JobDone per finished job (warm-ups too), in completion order, until every
        user is in (and every client scan's report), and SparkReady where it came;
        raises what a job raised."""
        while self._pending or self._reports_unread():
            item = self._next()
            if isinstance(item, BaseException):
                self.stop()
                raise item
            if isinstance(item, JobDone):
                self._pending -= len(item.unit.users)
                if item.lane == CLIENT and item.warmup:
                    with self._counts_lock:
                        self._reports_due -= 1
            yield item

    def _reports_unread(self) -> bool:
        with self._counts_lock:
            return self._reports_due > 0

    def stop(self) -> None:
        """Start no more jobs (running Spark jobs are the caller's to cancel)."""
        self._stop.set()
        self._first_up.set()  # lanes waiting to warm up give up
        self.budget.close()

    def leftovers(self, timeout_s: float = 60.0) -> list[JobDone]:
        """After stop(): jobs that ended but were not yet taken, once the client lane
        has handed on its next finished user and stopped (bounded by timeout_s)."""
        if self._client is not None:
            self._client.join(timeout_s)
        found: list[JobDone] = []
        while True:
            try:
                item = self._results.get_nowait()
            except queue.Empty:
                return found
            if isinstance(item, JobDone) and item.unit.users:
                found.append(item)

    @property
    def spark_running(self) -> int:
        """Spark jobs submitted and not yet returned (warm-ups included)."""
        with self._counts_lock:
            return self._spark_running

    def measured(self, jobs: Sequence[tuple[float, float, float]]) -> None:
        """(client seconds, executor start, executor end) of the Spark jobs so far: did
        jobs wait in Spark's queue because fewer tasks run at once than we have lanes?

        Then queued jobs hold budget they cannot use: retire the surplus lanes so the
        running ones get it. Evidence needed: fewer jobs ever ran side by side than
        there are lanes, and a typical job waited (beyond the least per-job overhead
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
            lanes_gone = not self._spark_expected and \
                not any(thread.is_alive() for thread in self._lane_threads)
            try:
                return self._results.get(timeout=0.5)
            except queue.Empty:
                if lanes_gone:  # a bug, but one that must not hang the run
                    return RuntimeError(f"every lane stopped with {self._pending} users "
                                        "not scanned")

    def _work(self, lane) -> None:
        """A Spark lane: its warm-up (after the first lane's), then a job at a time."""
        try:
            if lane:
                self._first_up.wait()
            began = self._clock()
            warmed = not self._stop.is_set() and self._run(lane, Unit(-1 - lane, ()), 0)
            if not lane:
                self._first_up.set()
            if not warmed:
                return
            joined = False
            while not self._stop.is_set():
                if self.budget.active > self._slots_seen and lane >= self._slots_seen:
                    return  # the cluster runs fewer tasks at once than we have lanes
                # A Spark run asked the cluster to do the work: a lane scans to the end,
                # whatever it costs (the reader says so once when this machine is faster).
                if not joined:  # only now: joining ends the client lane's continuous scan
                    self.budget.join(lane)
                    joined = True
                    # Said after the join, so that it holds when read: from the first
                    # lane's on, this machine takes no new user.
                    log.debug("Spark lane %d is up (its warm-up took %.1f s)", lane,
                              self._clock() - began)
                share = self.budget.take(lane)
                if share is None:
                    return
                try:
                    unit = self.units.next(share)
                    if unit is None or not self._run(lane, unit, share):
                        return
                finally:
                    self.budget.give_back(share)
        finally:
            self.budget.retire(lane)

    def _run(self, lane, unit: Unit, share: int) -> bool:
        """One Spark job on `lane`; False when it failed (the error is handed on)."""
        assert self._submit is not None
        submitted = self._clock()
        with self._counts_lock:
            self._spark_running += 1
        try:
            rows, executor_s = self._submit(unit, max(1, share), self.tag)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.stop()
            self._results.put(exc)
            return False
        finally:
            with self._counts_lock:
                self._spark_running -= 1
        returned = self._clock()
        self.units.observed(unit, share, returned - submitted, executor_s, SPARK)
        self._results.put(JobDone(unit, share, submitted, returned, rows, SPARK))
        return True

    def _client_lane(self, lane) -> None:
        """This machine's lane: one continuous scan while no Spark lane has joined. The
        first lane that joins ends it: the users it holds are finished here, every
        other user goes to Spark (the budget is the Spark lanes' from then on)."""
        try:
            if not self.budget.joined:
                with self.budget.alone():
                    self._scan_here(self._lone_feed(), self.budget.total, self.budget)
                    # Before the Spark lanes may start: its share is theirs at once.
                    self.budget.retire(lane)
        finally:
            self.budget.retire(lane)

    def _lone_feed(self) -> Iterator[Item]:
        """Users for the continuous scan, one at a time, until a Spark lane joins (the
        budget is shared out by jobs again), this machine has taken its most, or none
        is left."""
        for _ in range(self._here_most):
            if self._stop.is_set() or self.budget.joined:
                return
            name = self.units.next_user()
            if name is None:
                return
            yield name

    def _scan_here(self, users: Iterable[Item], share: int, gate: Gate) -> bool:
        """Scan `users` on this machine, each row handed on as its user finishes; False
        when the scan failed (the error is handed on)."""
        assert self._local is not None
        number = self.units.number()
        submitted = since = self._clock()
        window: list[Item] = []  # users finished since the last measure
        with self._counts_lock:
            self._reports_due += 1
        try:
            for name, rows in self._local(users, share, self.tag, gate):
                now = self._clock()
                if name is not None:
                    window.append(name)
                unit = Unit(number, () if name is None else (name,))
                self._results.put(JobDone(unit, share, submitted, now, rows, CLIENT))
                # Measured as often as a unit would be: Spark's units are sized, and
                # the lanes' costs compared, from it while the scan goes on.
                if window and (name is None or now - since >= CLIENT_UNIT_S):
                    self.units.observed(Unit(number, tuple(window)), share, now - since,
                                        None, CLIENT)
                    since, window = now, []
                if self._stop.is_set():
                    break  # users still in progress are dropped: not received, not lost
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.stop()
            self._results.put(exc)
            return False
        return True
