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
by user, each request counted in the budget as it is sent (Budget.acquire). The first
Spark lane that joins stops the feed: the scan finishes the few users it holds (it has
the whole budget and the whole learned pace till then), and every other user goes to
Spark. The feed also stops at `here_most` users (a Spark run: a fifth, here_at_most):
when the executors are slow to start, this machine waits for them rather than scan the
run itself. A run that asked for a cluster gets the cluster doing the work, even when
its jobs cost more per user than this machine did (the reader says so once, see
UnitCutter.spark_costs_more); Spark lanes leave only when the cluster runs fewer tasks
at once than there are lanes.

The request budget (--concurrency) is a hard ceiling for the whole cluster and the
client: a job starts only when its lane's whole share is free, so the shares of running
jobs never sum past it, and a lane that retires leaves its share to the others' next
jobs. Nothing here imports pyspark: the jobs themselves are the `submit` callables.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Hashable, Iterable, Iterator, Sequence

from dbx_inventory.scan.roots import Item
from dbx_inventory.transport.throttle import Gate

log = logging.getLogger("dbx_inventory.spark")

TARGET_JOB_S = 4.0        # a job lasts seconds: results stream, a dead client orphans little
OVERHEAD_SHARE = 5        # ...and at least 5 x Spark's per-job overhead, so that stays small
HERE_SHARE = 0.2          # of the users, scanned here while the executors start
CLIENT_UNIT_S = 1.5       # the client lane hands its share back (or measures) this often
SPARK_SLOWER_MARGIN = 1.15  # beyond this cost ratio, the run says this machine is faster
MIN_TAIL_JOB_S = 1.0      # the last jobs are cut finer, down to this much work ...
TAIL_OVERHEAD = 2         # ... or twice the per-job overhead, when that is more
MAX_UNIT_USERS = 64
JOB_TAG_PREFIX = "dbx-inventory-"
CLIENT = "client"         # the lane that scans on this machine
SPARK = "spark"

# submit(unit, share, tag) -> (rows, seconds the unit's scan ran or None if unknown)
Submit = Callable[["Unit", int, str], "tuple[list, float | None]"]
# local(users, share, tag, gate) -> (username, rows) as each user finishes, read from
# `users` as the scan goes, then (None, rows) with the scan's closing report
Local = Callable[[Iterable[Item], int, str, "Gate | None"],
                 Iterator["tuple[str | None, list]"]]


@dataclass(frozen=True)
class Unit:
    """Users handed to one job; none for a Spark lane's warm-up."""

    number: int
    users: tuple[Item, ...]


@dataclass(frozen=True)
class JobDone:
    """One finished job: its unit, lane, the share it ran with, and the rows it returned."""

    unit: Unit
    share: int
    submitted_at: float    # client clock, epoch seconds
    returned_at: float
    rows: list
    lane: str = SPARK

    @property
    def warmup(self) -> bool:
        """No users: a Spark lane's warm-up, or the closing report of a client scan."""
        return not self.unit.users


class UnitCutter:
    """Cuts the next unit when a lane asks, sized from how long units have taken.

    Sizes follow slot-seconds per user (seconds a user's scan takes times the requests
    in flight it had), so one measure serves shares of any size. A Spark unit gets as
    many users as keep its share busy for TARGET_JOB_S, or for OVERHEAD_SHARE times
    Spark's per-job overhead (client time less executor time) when that is longer: on
    a loaded server a job costs seconds before it starts. A client unit lasts about
    CLIENT_UNIT_S and has at least as many users as requests in flight. The first unit
    has one user (with `first_wave`, each Spark lane's first), and the last stretch is
    cut finer so no lane is left with a long job while the others have run dry, but not
    below MIN_TAIL_JOB_S of work or TAIL_OVERHEAD times the per-job overhead.
    Thread-safe.
    """

    def __init__(self, usernames: Sequence[Item], threads: int, *,
                 target_s: float = TARGET_JOB_S, max_users: int = MAX_UNIT_USERS,
                 first_wave: bool = False):
        self._lock = threading.Lock()
        self._names = list(usernames)
        self._first_wave = first_wave
        self._threads = 1
        self._singles = 0
        self.lanes(threads)
        self._target_s = target_s
        self._max_users = max_users
        self._taken = 0
        self._number = 0
        self._slot_s: float | None = None       # slot-seconds per user, scanning
        self._held_s: dict[str, float] = {}     # ... per lane kind, share held (overhead in)
        self._overhead_s = 0.0                  # client seconds a Spark job costs beyond
        self._overhead_known = False

    def lanes(self, threads: int) -> None:
        """Spark lanes to cut for (known once Spark is ready)."""
        with self._lock:
            self._threads = max(1, threads)
            # No client lane: each Spark lane's first unit has one user (results come
            # early, and the first wave spreads over the executors).
            self._singles = threads if self._first_wave else 0

    def next(self, share: int = 1, lane: str = SPARK) -> Unit | None:
        """The next unit for a job holding `share`, or None when every user is out."""
        with self._lock:
            remaining = len(self._names) - self._taken
            if remaining <= 0:
                return None
            size = 1
            if lane == SPARK and self._singles:
                self._singles -= 1
            elif self._slot_s:
                per_s = share / self._slot_s   # users a second at this share
                tail = math.ceil(remaining / (2 * self._threads))
                if lane == CLIENT:
                    size = min(max(share, round(CLIENT_UNIT_S * per_s)), tail)
                else:
                    run_s = max(self._target_s, OVERHEAD_SHARE * self._overhead_s)
                    # Finer at the end, but never so fine that the overhead dominates.
                    least = round(max(MIN_TAIL_JOB_S, TAIL_OVERHEAD * self._overhead_s)
                                  * per_s)
                    size = min(round(run_s * per_s), max(least, tail))
            # The cap bounds what a killed client orphans on the cluster.
            size = max(1, min(size, self._max_users, remaining))
            unit = Unit(self._number, tuple(self._names[self._taken:self._taken + size]))
            self._taken += size
            self._number += 1
            return unit

    def next_user(self) -> Item | None:
        """One more user, for the client lane's continuous scan; None when all are out."""
        with self._lock:
            if self._taken >= len(self._names):
                return None
            self._taken += 1
            return self._names[self._taken - 1]

    def number(self) -> int:
        """A unit number for a scan whose users are not known in advance."""
        with self._lock:
            self._number += 1
            return self._number - 1

    @property
    def exhausted(self) -> bool:
        with self._lock:
            return self._taken >= len(self._names)

    def observed(self, unit: Unit, share: int, client_s: float, executor_s: float | None,
                 lane: str = SPARK) -> None:
        """A job of `unit` with `share` took client_s from submission to its rows,
        executor_s of which its scan ran (None when unknown: all of it)."""
        if not unit.users:
            return  # a warm-up pays the cluster's start-up: not a job's real cost
        ran = client_s if executor_s is None else max(0.0, min(executor_s, client_s))
        slot_s = max(ran, 1e-3) * max(1, share) / len(unit.users)
        held_s = max(client_s, 1e-3) * max(1, share) / len(unit.users)
        with self._lock:
            previous = self._slot_s
            self._slot_s = slot_s if previous is None else (previous + slot_s) / 2
            before = self._held_s.get(lane)
            self._held_s[lane] = held_s if before is None else (before + held_s) / 2
            if lane == CLIENT:
                return
            overhead = client_s - ran
            self._overhead_s = overhead if not self._overhead_known \
                else (self._overhead_s + overhead) / 2
            self._overhead_known = True

    def spark_costs_more(self) -> tuple[float, float] | None:
        """(client, Spark) slot-seconds per user when a Spark job holds clearly more of
        the budget per user than this machine did (by SPARK_SLOWER_MARGIN); None while
        either is unmeasured, or Spark is not slower."""
        with self._lock:
            client, spark = self._held_s.get(CLIENT), self._held_s.get(SPARK)
        if client is None or spark is None or spark <= client * SPARK_SLOWER_MARGIN:
            return None
        return client, spark


def here_at_most(users: int) -> int:
    """Users the client lane may scan in a Spark run (the run asked for the cluster:
    at least four in five go to it); one at least, so that the first shows early."""
    return max(1, int(users * HERE_SHARE))


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
    running jobs never sum past the total. The client lane takes whatever no Spark lane
    holds or waits for: what a job started with a smaller share leaves, as a share for a
    unit (take), or request by request for its continuous scan (the Gate methods
    acquire and release, inside alone(): no Spark job starts meanwhile). Without a
    client lane, no lane starts before every lane has warmed up (or retired): nothing
    would scan meanwhile anyway, and the first units spread over the executors.
    """

    def __init__(self, total: int, threads: int, *, client: bool = False):
        self.total = total
        self._lanes: list[Hashable] = [CLIENT] if client else []
        self._warming: set[Hashable] = set()
        self._in_use = 0
        self._running: set[Hashable] = set()  # Spark lanes holding a share
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

    def _share(self, lane: Hashable) -> int | None:
        """A Spark lane's whole share; for the client lane, what it may take now (0:
        wait). None: nothing ever, with more lanes than requests and every lane up."""
        up = [other for other in self._lanes if other not in self._warming]
        base = dict(zip(up, shares(self.total, len(up)), strict=True))
        if not base[lane] and not self._warming:
            return None
        if lane != CLIENT:
            return base[lane]
        # Kept free for Spark lanes between jobs (their share comes next) and setting up.
        kept = sum(base[other] for other in up
                   if other != CLIENT and other not in self._running)
        return max(0, self.total - self._in_use - kept - self._borrowing)

    def take(self, lane: Hashable) -> int | None:
        """Wait until the lane's share is free and take it; None when the lane has no
        more to do (closed, retired, or left no share with every lane up)."""
        with self._cond:
            while True:
                if self._closed or lane not in self._lanes or lane in self._warming:
                    return None
                if self._warming and CLIENT not in self._lanes and not self._started:
                    self._cond.wait()  # nobody scans yet: the lanes start together
                    continue
                if self._alone and lane != CLIENT:
                    self._cond.wait()  # the client's scan has the budget and the pace
                    continue
                self._started = True
                share = self._share(lane)
                if share is None:
                    return None  # more lanes than requests
                if share > 0 and self.total - self._in_use >= share:
                    self._in_use += share
                    self.peak = max(self.peak, self._in_use)
                    if lane != CLIENT:
                        self._running.add(lane)
                    return share
                self._cond.wait()

    @contextlib.contextmanager
    def borrow(self):
        """One request in flight for setting Spark up (a cluster check, the executors'
        token) while the client lane may scan: it counts like any other."""
        with self._cond:
            self._borrowing += 1  # the client lane's next share leaves room for it
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

    def give_back(self, share: int, lane: Hashable = None) -> None:
        with self._cond:
            self._in_use -= share
            self._running.discard(lane)
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

    @property
    def warming(self) -> bool:
        """Some Spark lane has not joined yet."""
        with self._cond:
            return bool(self._warming)

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
                    unit = self.units.next(share, SPARK)
                    if unit is None or not self._run(lane, unit, share):
                        return
                finally:
                    self.budget.give_back(share, lane)
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

    def _scan_here(self, users: Iterable[Item], share: int, gate: Gate | None) -> bool:
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
