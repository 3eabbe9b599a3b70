"""Units of users for Spark jobs, and how many users the next one gets.

A unit is the users one job scans, and JobDone one finished job as the queue hands it
on. UnitCutter sizes units from how long jobs have taken, so that a job lasts seconds
(its rows stream back, a killed client orphans little on the cluster) and Spark's
per-job overhead stays small; here_at_most is how much of a Spark run this machine may
scan itself. The lane names live here: every finished job and measure says its lane.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Sequence

from dbx_inventory.scan.roots import Item

TARGET_JOB_S = 4.0        # a job lasts seconds: results stream, a dead client orphans little
OVERHEAD_SHARE = 5        # ...and at least 5 x Spark's per-job overhead, so that stays small
HERE_SHARE = 0.2          # of the users, scanned here while the executors start
SPARK_SLOWER_MARGIN = 1.15  # beyond this cost ratio, the run says this machine is faster
MIN_TAIL_JOB_S = 1.0      # the last jobs are cut finer, down to this much work ...
TAIL_OVERHEAD = 2         # ... or twice the per-job overhead, when that is more
MAX_UNIT_USERS = 64
# Running jobs hold at most this share of the run's users: what a client killed with
# kill -9 leaves running on the cluster (its jobs run on without it) is about half of
# it, whatever the per-job time allows (200 users on local[8]: 3 users a unit).
ORPHAN_SHARE = 0.15
# ... but a unit may always hold this many: below it (runs of under ~80 users on 4
# lanes) every job would carry one user and its whole overhead, for a handful orphaned.
ORPHAN_FLOOR = 3
CLIENT = "client"         # the lane that scans on this machine
SPARK = "spark"


@dataclass(frozen=True)
class Unit:
    """Users handed to one job; none for a Spark lane's warm-up. `handed`: the unit is
    a DBFS directory this machine could not list through the REST API (the reason), at
    `depth` below its root: executors count it through their DBFS mount, or give it up."""

    number: int
    users: tuple[Item, ...]
    handed: str = ""
    depth: int = 0


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
    """Cuts the next unit when a Spark lane asks, sized from how long units have taken.

    Sizes follow slot-seconds per user (seconds a user's scan takes times the requests
    in flight it had), so one measure serves shares of any size, and this machine's
    scan measures too. A unit gets as many users as keep its share busy for
    TARGET_JOB_S, or for OVERHEAD_SHARE times Spark's per-job overhead (client time
    less executor time) when that is longer: on a loaded server a job costs seconds
    before it starts. The first unit has one user (with `first_wave`, each Spark lane's
    first), and the last stretch is cut finer so no lane is left with a long job while
    the others have run dry, but not below MIN_TAIL_JOB_S of work or TAIL_OVERHEAD times
    the per-job overhead.
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
        self._handed: list[Unit] = []           # places handed on: before any user

    def lanes(self, threads: int) -> None:
        """Spark lanes to cut for (known once Spark is ready)."""
        with self._lock:
            self._threads = max(1, threads)
            # No client lane: each Spark lane's first unit has one user (results come
            # early, and the first wave spreads over the executors).
            self._singles = threads if self._first_wave else 0

    def next(self, share: int = 1) -> Unit | None:
        """The next unit for a Spark job holding `share`, or None when every user is out."""
        with self._lock:
            if self._handed:
                return self._handed.pop(0)
            remaining = len(self._names) - self._taken
            if remaining <= 0:
                return None
            size = 1
            if self._singles:
                self._singles -= 1
            elif self._slot_s:
                per_s = share / self._slot_s   # users a second at this share
                run_s = max(self._target_s, OVERHEAD_SHARE * self._overhead_s)
                # Finer at the end, but never so fine that the overhead dominates.
                tail = math.ceil(remaining / (2 * self._threads))
                least = round(max(MIN_TAIL_JOB_S, TAIL_OVERHEAD * self._overhead_s) * per_s)
                size = min(round(run_s * per_s), max(least, tail))
            # The caps bound what a killed client orphans on the cluster.
            orphans = max(ORPHAN_FLOOR,
                          int(len(self._names) * ORPHAN_SHARE / self._threads))
            size = max(1, min(size, self._max_users, orphans, remaining))
            unit = Unit(self._number, tuple(self._names[self._taken:self._taken + size]))
            self._taken += size
            self._number += 1
            return unit

    def hand(self, unit: Unit) -> None:
        """A place handed on by this machine's scan: the next Spark job's."""
        with self._lock:
            self._handed.append(unit)

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
