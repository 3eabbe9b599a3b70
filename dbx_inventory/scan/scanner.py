"""The scan: walk every user's homes with one shared pool of listing workers.

All directories of all admitted users go through one priority queue, earliest user
first, so the in-flight budget stays full across users (no per-user barrier) while
users still finish roughly in input order. A user's result is emitted the moment its
last listing returns. Memory holds only the queue of paths not yet listed.

Local mode and every Spark task run this same code.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

from dbx_inventory.transport.client import ApiClient
from dbx_inventory.scan.dirs import Breakdown
from dbx_inventory.errors import (ApiError, ListingTooLarge, NetworkError, NotAWorkspace,
                                  NotFound, ScanWorkerFailed, ServerError, Throttled,
                                  Unauthenticated, WorkspaceOutage)
from dbx_inventory.scan.results import (ERROR, GONE, SideCount, UserResult, classify,
                                        skipped_row)
from dbx_inventory.scan.areas import refused_area
from dbx_inventory.scan.roots import Item, Place, Root, as_root
from dbx_inventory.scan.filesystems import DBFS, VOLUMES, WALKERS, WORKSPACE
from dbx_inventory.scan.filesystems.dbfs import too_large

log = logging.getLogger("dbx_inventory.scan.scanner")

_STOP = object()
_HANDED = object()  # a user whose only listings left were handed on: the scan lets go
STALL_NOTICE_S = 30.0  # no listing finished for this long: say what we wait for
# Every further request would fail the same way: these stop the whole scan.
_FATAL = (Unauthenticated, NotAWorkspace, WorkspaceOutage)
_TRANSIENT = (NetworkError, ServerError, Throttled)


# handover(place, reason, depth, deliver): count the subtree at `place` (a DBFS
# directory too large for the REST API, `depth` below its root) elsewhere, then call
# deliver(its row, or None when it could not be counted: `reason` stands); deliver
# returns the user's row when that finished it.
Deliver = Callable[[UserResult | None], UserResult | None]
HandOver = Callable[[Place, str, int, Deliver], None]


def worker_identity() -> str:
    """host/pid of this process: tells executors apart even on one machine."""
    return f"{socket.gethostname()}/pid{os.getpid()}"


@dataclass
class _UserState:
    root: Root
    order: int
    sides: dict = field(default_factory=dict)   # walker name -> SideCount
    pending: int = 0
    breakdown: Breakdown | None = None          # --dirs-output: directories at 1..N
    skipped: str = ""                           # an area the API refuses by design
    handed: int = 0                             # places handed on, not yet delivered
    released: bool = False                      # the scan let go: delivery makes the row
    started_at: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Scanner:
    """Scan roots over an ApiClient; yields a row as each root finishes.

    A user name given instead of a root stands for that user's homes in `walkers`.
    """

    def __init__(self, client: ApiClient, *, walkers: Sequence = (DBFS, WORKSPACE),
                 threads: int | None = None, max_active_users: int | None = None,
                 worker: str | None = None, notice: Callable[[str], None] | None = None,
                 stall_notice_s: float = STALL_NOTICE_S, dirs_depth: int = 0,
                 handover: "HandOver | None" = None):
        self.client = client
        self.walkers = tuple(walkers)
        # A walker given for a file system lists it (an executor's DBFS mount, say).
        self._walker_of = {walker.name: walker for walker in self.walkers}
        self.threads = threads or client.throttle.max_in_flight
        # Enough users in play that one deep, narrow tree never leaves slots idle.
        self.max_active_users = max_active_users or max(8, 4 * self.threads)
        self.worker = worker or worker_identity()
        self.dirs_depth = dirs_depth  # rows carry their directories down to this depth
        self._tasks: queue.PriorityQueue = queue.PriorityQueue()
        self._done: queue.Queue = queue.Queue()
        self._seq = itertools.count()
        self._stopping = threading.Event()
        self._fatal: BaseException | None = None
        self._pool: list[threading.Thread] = []
        self._notice = notice  # one console line when the scan seems stuck
        self._stall_s = stall_notice_s
        self._in_flight: dict[int, tuple[str, float]] = {}  # listing -> (what, since)
        self._flight_lock = threading.Lock()
        self._last_progress = time.monotonic()
        self._last_notice = 0.0
        self._odd = {"sizes": 0, "times": 0}  # entries with values no API should send
        # A DBFS directory too large for the REST API goes to whoever can count it
        # (Spark mode: the cluster, which reads DBFS through its mount).
        self._handover = handover

    def scan(self, items: Iterable[Item]) -> Iterator[UserResult]:
        """Results in completion order; stop() or closing the iterator ends it early."""
        self._start_pool()
        file_systems = [walker.name for walker in self.walkers]
        pending_users = iter(items)
        order = itertools.count()
        active = 0
        exhausted = False
        try:
            while True:
                # During an outage no new user is admitted; in-flight ones wait.
                while not exhausted and active < self.max_active_users \
                        and not self._stopping.is_set() and not self.client.outage.down:
                    item = next(pending_users, None)
                    if item is None:
                        exhausted = True
                        break
                    root = as_root(item, file_systems)
                    if root.skipped:  # named, never walked: its row needs no request
                        yield skipped_row(root.name, root.skipped, worker=self.worker,
                                          at=time.time(), owner=root.owner)
                        continue
                    self._admit(_UserState(root, next(order)))
                    active += 1
                if active == 0:
                    return
                result = self._next_result()
                if result is None:  # stopping: in-flight users are dropped
                    return
                active -= 1
                if result is _HANDED:  # its row comes with the delivery (see _hand_over)
                    continue
                yield result
        finally:
            self.stop()
            self._report_odd_values()

    def stop(self) -> None:
        """Admit no more users and let the workers go; unfinished users are dropped."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        for _ in self._pool:
            self._tasks.put(((-1,), next(self._seq), _STOP))

    def _next_result(self) -> UserResult | None:
        while True:
            if self._fatal is not None:
                raise self._fatal
            if self._stopping.is_set():
                return None
            try:
                return self._done.get(timeout=0.2)
            except queue.Empty:
                self._maybe_report_stall()
                continue

    def _maybe_report_stall(self) -> None:
        """Silence is not an answer: say what the scan waits for when nothing moves."""
        now = time.monotonic()
        quiet = now - self._last_progress
        if self._notice is None or quiet < self._stall_s \
                or now - self._last_notice < self._stall_s:
            return
        self._last_notice = now
        with self._flight_lock:
            waiting = sorted(self._in_flight.values(), key=lambda item: item[1])
        if self.client.outage.down:
            return  # the outage gate says it itself
        if waiting:
            what, since = waiting[0]
            self._notice(f"waiting: no listing has finished for {quiet:.0f} s; "
                         f"{len(waiting)} in flight, the oldest {what} for "
                         f"{now - since:.0f} s (retrying: see --debug)")
        else:
            self._notice(f"waiting: no listing has finished for {quiet:.0f} s")

    def _start_pool(self) -> None:
        if self._pool:
            raise RuntimeError("a Scanner runs one scan")
        for number in range(self.threads):
            thread = threading.Thread(target=self._work, name=f"scan-{number}", daemon=True)
            thread.start()
            self._pool.append(thread)

    def _admit(self, user: _UserState) -> None:
        user.started_at = time.time()
        if self.dirs_depth:
            user.breakdown = Breakdown(self.dirs_depth)
        places = user.root.places
        for place in places:
            side = user.sides.setdefault(place.file_system, SideCount())
            side.roots += 1
        user.pending = len(places)
        if not places:  # nothing to walk: finished as it starts
            user.pending = 1
            self._finish_task(user)
        for place in places:
            self._push(user, place, place.path, 0, ())

    def _push(self, user: _UserState, place: Place, path: str, depth: int,
              chain: tuple) -> None:
        """Queue a listing; `chain` names the directories at 1..N its files add to."""
        self._tasks.put(((user.order,), next(self._seq), (user, place, path, depth, chain)))

    def _work(self) -> None:
        """A worker that dies of anything unforeseen stops the scan: its listing would
        never finish and the run would wait for it forever."""
        try:
            self._work_tasks()
        except BaseException as exc:
            log.debug("a scan worker failed", exc_info=True)
            self._fatal = ScanWorkerFailed(f"a scan worker failed ({type(exc).__name__}: "
                                           f"{exc}); see --debug")

    def _work_tasks(self) -> None:
        while True:
            _, _, task = self._tasks.get()
            if task is _STOP or self._stopping.is_set():
                return
            user, place, path, depth, chain = task
            key = next(self._seq)
            with self._flight_lock:
                self._in_flight[key] = (f"{WALKERS[place.file_system].label} {path}",
                                        time.monotonic())
            try:
                self._list_one(user, place, path, depth, chain)
            except _FATAL as exc:
                # The token died, the host is no workspace, or the outage outlasted
                # its limit: every further request would fail the same way.
                self._fatal = exc
                return
            finally:
                with self._flight_lock:
                    del self._in_flight[key]
                self._last_progress = time.monotonic()
            self._finish_task(user)

    def _list_one(self, user: _UserState, place: Place, path: str, depth: int,
                  chain: tuple) -> None:
        walker = self._walker_of.get(place.file_system) or WALKERS[place.file_system]
        side: SideCount = user.sides[place.file_system]
        breakdown = user.breakdown
        try:
            listing = walker.list_dir(self.client, path)
        except NotFound:
            with user.lock:
                if depth == 0:
                    side.lost_root()
                elif breakdown is not None:
                    # Below the root, a 404 is a directory deleted while we walked.
                    breakdown.gone(chain, depth)
            return
        except _FATAL:
            raise
        except ListingTooLarge as exc:  # tried twice; the rest of the tree is counted
            log.debug("[%s] too large to list: %s: %s", walker.label, path, exc)
            if self._handover is None or place.file_system != DBFS.name:
                self._failed(user, side, chain, too_large(path, exc), False)
            else:
                self._hand_over(user, place, path, depth, chain, too_large(path, exc))
            return
        except ApiError as exc:
            log.debug("[%s] listing failed for %s: %s", walker.label, path, exc)
            reason = refused_area(user.root, place, depth, exc)
            if reason:  # a mount point the REST API cannot list: skipped, not an error
                user.skipped = reason
                return
            self._failed(user, side, chain, exc.describe(), isinstance(exc, _TRANSIENT))
            return
        except Exception as exc:  # a malformed answer must cost one user, not the run
            self._failed(user, side, chain, f"{type(exc).__name__}: {exc} ({path})", False)
            return
        if listing.odd_sizes or listing.odd_times:
            self._odd_values(walker.label, path, listing)
        subdirs = listing.subdirs
        if place.exclude:  # roots of their own: counted in their own rows
            subdirs = [path for path in subdirs if path.rstrip("/") not in place.exclude]
        chains: list[tuple] = []
        with user.lock:
            side.add(listing.files, listing.bytes, listing.newest_ms)
            user.pending += len(subdirs)
            if breakdown is not None:
                breakdown.listed(chain, listing.files, listing.bytes, listing.newest_ms)
                chains = [breakdown.child_chain(place.file_system, place.path, chain,
                                                depth + 1, subdir) for subdir in subdirs]
        for number, subdir in enumerate(subdirs):
            self._push(user, place, subdir, depth + 1, chains[number] if chains else ())

    def _odd_values(self, label: str, path: str, listing) -> None:
        with self._flight_lock:
            self._odd["sizes"] += listing.odd_sizes
            self._odd["times"] += listing.odd_times
        log.debug("[%s] %s: %d sizes counted as 0 bytes, %d modification times out of "
                  "range ignored for dates", label, path, listing.odd_sizes,
                  listing.odd_times)

    def _report_odd_values(self) -> None:
        """One line for the run, whatever the number of listings that had them."""
        sizes, times = self._odd["sizes"], self._odd["times"]
        if times:
            log.debug("%d modification times out of range were ignored for dates", times)
        if sizes and self._notice is not None:
            self._notice(f"{sizes:,} {'entry' if sizes == 1 else 'entries'} had a size that "
                         "is not a byte count (negative or not a number): counted as 0 "
                         "bytes (see --debug for where)")

    @staticmethod
    def _failed(user: _UserState, side: SideCount, chain: tuple, reason: str,
                transient: bool) -> None:
        with user.lock:
            side.fail(reason, transient=transient)
            if user.breakdown is not None:
                user.breakdown.failed(chain, reason)

    def _hand_over(self, user: _UserState, place: Place, path: str, depth: int,
                   chain: tuple, reason: str) -> None:
        """Hand the subtree at `path` on (see HandOver); the user's row waits for it,
        the scan does not: once only handed places are left, it lets the user go."""
        assert self._handover is not None
        with user.lock:
            user.pending += 1  # the subtree: done when delivered
            user.handed += 1
        inside = path.rstrip("/") + "/"
        piece = Place(place.file_system, path,
                      tuple(e for e in place.exclude if e.startswith(inside)))

        def deliver(row: UserResult | None) -> UserResult | None:
            with user.lock:
                self._graft(user, place, depth, chain, row, reason)
                user.handed -= 1
            return self._finish_task(user)
        self._handover(piece, reason, depth, deliver)

    def _graft(self, user: _UserState, place: Place, depth: int, chain: tuple,
               row: UserResult | None, reason: str) -> None:
        """The handed subtree's row into the user's (lock held); None: not counted."""
        side: SideCount = user.sides[place.file_system]
        breakdown = user.breakdown
        if row is None:
            side.fail(reason)
            if breakdown is not None:
                breakdown.failed(chain, reason)
            return
        if row.status == ERROR and row.error == GONE:  # deleted since it was met
            if breakdown is not None:
                breakdown.gone(chain, depth)
            return
        side.add(row.dbfs_files, row.dbfs_bytes, row.last_modified_ms)
        side.listings += row.listings - 1
        if breakdown is not None:
            breakdown.listed(chain, row.dbfs_files, row.dbfs_bytes, row.last_modified_ms)
            breakdown.graft(place.file_system, place.path, depth, row.dirs)
        if row.status == ERROR:
            error = row.error.removeprefix(f"{DBFS.label}: ")
            side.fail(error, transient=row.transient)
            if breakdown is not None:
                breakdown.failed(chain, error)

    def _finish_task(self, user: _UserState) -> UserResult | None:
        """One listing of `user` is done. Its row goes to the scan, or once the scan
        has let the user go (places handed on), back to the deliverer."""
        with user.lock:
            user.pending -= 1
            finished = user.pending == 0
            release = not finished and not user.released and user.pending == user.handed
            user.released = user.released or release
            released = user.released
        if release:
            self._done.put(_HANDED)
        if not finished:
            return None
        if user.skipped:
            row = skipped_row(user.root.name, user.skipped, worker=self.worker,
                              at=time.time())
        else:
            sides = user.sides
            row = classify(user.root.name, sides.get(DBFS.name), sides.get(WORKSPACE.name),
                           started_at=user.started_at, ended_at=time.time(),
                           worker=self.worker, kind=user.root.kind,
                           dirs=user.breakdown.rows() if user.breakdown else (),
                           volumes=sides.get(VOLUMES.name), owner=user.root.owner)
        if released:
            return row
        self._done.put(row)
        return None

