"""Parallel mode: the same Scanner, run in small Spark jobs fed by this client.

How the pieces meet: session.py reaches the server and lets go of it, job_queue.py runs
the queue of units (cut in units.py) under one request budget (budget.py), task.py is
what an executor runs (and what the client lane runs here, from the start),
credentials.py gets the auth headers to executors. Here they are wired into one run:
rows are yielded as each job ends, and whatever way the run ends (done, failed,
interrupted, the consumer gone) nothing of ours keeps running on Spark and the
session is released.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
import threading
import time
from typing import Iterable, Iterator

from dbx_inventory.transport.client import ClientConfig
from dbx_inventory.transport.politeness import sum_stats
from dbx_inventory.runners.modes import safe_remote
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import Item, Place, area_root, key_of
from dbx_inventory.scan.scanner import Deliver
from dbx_inventory.scrub import scrub
from dbx_inventory.runners.spark.credentials import (QUICK_SWEEP_S, SWEEP_TIMEOUT_S,
                                                     ExecutorCredentials)
from dbx_inventory.runners.spark.events import BatchReport, SparkEvents
from dbx_inventory.runners.spark.job_queue import JobQueue, SparkReady
from dbx_inventory.runners.spark.session import (SparkFailure, cancel_running, connect, first_line,
                                                 interrupt_all, release, renewal_note,
                                                 server_listens, task_slots)
from dbx_inventory.runners.spark.task import (REPORT_COLUMN, UNREACHABLE, EmptyRow, decode,
                                              encoded, executor_config, row_schema,
                                              scan_unit, unit_task)
from dbx_inventory.runners.spark.units import CLIENT, SPARK, JobDone, Unit, here_at_most
from dbx_inventory.runners.spark.versions import probe_executors
from dbx_inventory.transport.throttle import Gate

__all__ = ["SparkFailure", "connect", "run_on_spark", "task_slots", "add_stats"]


def run_on_spark(mode, config: ClientConfig, usernames: list[Item], walkers, *,
                 debug: bool = False, events: SparkEvents | None = None,
                 stats: dict | None = None, dirs_depth: int = 0) -> Iterator[UserResult]:
    """Scan on Spark; yields results as jobs end. SparkFailure when Spark fails.

    `stats`, when given, receives the request counters summed over every job. Unless
    mode.spark_only, this machine scans units too, from the start (see job_queue.py).
    """
    events = events or SparkEvents()
    stats = {} if stats is None else stats
    here_most = 0 if mode.spark_only else here_at_most(len(usernames))
    events.connecting(f"cluster {mode.cluster_id}" if mode.cluster_id
                      else safe_remote(mode.remote or ""), here_most=here_most)
    renewal = renewal_note(mode, config)
    if renewal:
        events.note(renewal)
    started = time.monotonic()
    jobs: JobQueue | None = None
    setup: _Setup | None = None
    received = 0
    settled = False  # nothing of ours left running on Spark
    # Every unit came back, or Spark failed and the run goes on here: the credential
    # clean-up may take its time (a failure's sweep often needs Python workers started
    # anew, seconds on a loaded cluster). Only an interrupted run's exit must be quick.
    unhurried = False
    try:
        pace = ClusterPace(config)
        def hand_over(unit: Unit, on_rows) -> None:  # called once the queue runs
            assert jobs is not None
            jobs.hand_over(unit, on_rows)
        local = None if mode.spark_only else \
            _client_lane(config, tuple(walkers), pace, dirs_depth, hand_over)
        jobs = JobQueue(usernames, config.max_in_flight, 0, None,
                        run_id=secrets.token_hex(6), clock=time.time, local=local,
                        here_most=here_most)
        # This machine scans from the start; Spark joins when it is ready.
        setup = _Setup(mode, config, tuple(walkers), pace, jobs, dirs_depth)
        jobs.start()
        setup.start()
        timings: list[tuple[float, float, float]] = []
        warned = False  # that the executors scan slower than this machine
        try:
            for done in jobs.results():
                if isinstance(done, SparkReady):
                    # Units are cut as the run goes (sized from measured job times).
                    events.distributing(usernames, 0, done.threads, config.max_in_flight)
                    continue
                rows, report = _split(done)
                add_stats(stats, report.stats)
                if done.lane == SPARK:  # this machine's scans hand theirs on themselves
                    pace.learned(report.rates, done.share, report.reached)
                if done.warmup:
                    continue  # an executor is up, or a scan here ended: no user in it
                if done.lane == SPARK:
                    timings.append((done.returned_at - done.submitted_at,
                                    report.started_at, report.ended_at))
                    jobs.measured(timings)
                    costs = None if warned else jobs.units.spark_costs_more()
                    if costs is not None:  # said once; the cluster goes on scanning
                        warned = True
                        here, spark = costs
                        budget = config.max_in_flight
                        events.slower(budget / spark, budget / here)
                events.batch_finished(report)
                for row in rows:
                    received += 1
                    yield row
        except SparkFailure:
            raise
        except EmptyRow as exc:
            raise SparkFailure(str(exc)) from None
        except Exception as exc:  # gRPC, Spark and py4j errors share no base class
            raise SparkFailure(f"lost the Spark job after {received} users: "
                               f"{first_line(exc, config)}") from None
        unhurried = True
        setup.finish()
        if setup.error is not None:
            raise setup.error  # every user came from this machine: say Spark did not
        # The client lane may have scanned the last users while warm-ups still ran.
        settled = not jobs.spark_running
        events.finished(time.monotonic() - started)
    except SparkFailure as exc:
        unhurried = True
        if jobs is not None:
            jobs.stop()
        spark, _ = setup.finish() if setup is not None else (None, None)
        if spark is not None:
            # The caller may scan the rest locally next: nothing of ours may still run.
            cancel_running(spark)
        settled = True
        # Units that ended meanwhile (the client lane's own, above all) are results:
        # handing them over keeps the fallback from scanning them a second time.
        for done in (jobs.leftovers() if jobs is not None else []):
            try:
                rows, _ = _split(done)
            except (SparkFailure, EmptyRow):
                continue
            for row in rows:
                received += 1
                yield row
        events.lost(str(exc), received, len(usernames))
        raise
    finally:
        if jobs is not None:
            jobs.stop()
        spark, credentials = setup.finish() if setup is not None else (None, None)
        # A dead server runs nothing of ours and cannot run the clean-up: skip both.
        alive = spark is not None and server_listens(mode, config)
        if alive and not settled:
            # Interrupted, the consumer gone, or warm-ups still running: jobs must not
            # outlive the client. Bounded, so a sick server does not hold up the exit.
            interrupt_all(spark)
        if credentials is not None:
            credentials.close(sweep_s=0.0 if not alive else
                              SWEEP_TIMEOUT_S if unhurried else QUICK_SWEEP_S)
        if spark is not None:
            release(spark)


class _Setup(threading.Thread):
    """Connects to Spark, ships the package and the credentials, and adds the Spark
    lanes to the queue, while the client lane already scans. Its failure reaches the
    reader through the queue.

    Setting up is bounded (connect fails fast rather than wait for a cluster), so
    finish() waits for it: a run whose users were all scanned before Spark was ready
    still learns whether Spark could be used (`error`). The clean-up is finish()'s
    caller's if setting up was over before the run ended, else the thread undid what it
    made.
    """

    def __init__(self, mode, config: ClientConfig, walkers, pace: "ClusterPace",
                 jobs: JobQueue, dirs_depth: int = 0):
        super().__init__(name="spark-setup", daemon=True)
        self._mode, self._config, self._walkers = mode, config, walkers
        self._dirs_depth = dirs_depth
        self._pace, self._jobs = pace, jobs
        self._lock = threading.Lock()
        self._cancelled = False
        self._handed = False
        self._spark = None
        self._credentials: ExecutorCredentials | None = None
        self.error: SparkFailure | None = None

    def run(self) -> None:
        config = self._config
        budget = self._jobs.budget  # the workspace requests here are in it too
        try:
            with budget.borrow():
                self._spark = connect(self._mode, config)
            if self._over():
                return self._undo()
            _ship_package()
            # Before any scan job: a client the executors cannot run is one line here.
            probe_executors(self._spark)
            if self._over():
                return self._undo()
            self._credentials = ExecutorCredentials(self._spark, config)
            # Shipped here, before any lane starts: a job thread shipping it while the
            # run ends would hold the credentials (and the exit) in pyspark's retries.
            with budget.borrow():
                self._credentials.artifact_name()
            slots = task_slots(self._spark, self._mode)
            submit = _submitter(self._spark, config, self._credentials, self._walkers,
                                self._pace, self._dirs_depth)
            if self._over(hand=True):
                return self._undo()
        except Exception as exc:  # gRPC, Spark and py4j errors share no base class
            self._undo()  # the run goes on without Spark: nothing of ours may stay
            self.error = exc if isinstance(exc, SparkFailure) else SparkFailure(
                f"cannot start Spark: {first_line(exc, config)}")
            self._jobs.no_spark(self.error)
            return
        self._jobs.add_spark(slots, submit)

    def _over(self, hand: bool = False) -> bool:
        """Has the run ended already? If not and `hand`, the session and credentials
        are finish()'s to clean up from now on."""
        with self._lock:
            if hand and not self._cancelled:
                self._handed = True
            return self._cancelled

    def _undo(self) -> None:
        if self._credentials is not None:
            with self._jobs.budget.borrow():  # the client lane may still be scanning
                self._credentials.close(sweep_s=QUICK_SWEEP_S)
        if self._spark is not None:
            release(self._spark)

    def finish(self) -> tuple:
        """(session, credentials) to clean up, each None unless setting up was over."""
        with self._lock:
            self._cancelled = True
        if self.ident is not None:
            self.join()
        with self._lock:
            if self._handed:
                return self._spark, self._credentials
        return None, None


def add_stats(total: dict, more: dict) -> dict:
    """One job's per-family request counters added into the run's (in place)."""
    merged = sum_stats([total, more])
    total.clear()
    total.update(merged)
    return total


class ClusterPace:
    """The workspace's rate per API family as the cluster learns it, shared out by budget.

    A job's executor learns the pace it was held to; scaled from its share of the
    budget to the whole budget, that is the cluster's. Each new job starts from its
    share of what the cluster has learned (and of --max-rps), so later jobs do not pay
    the learning again.
    """

    def __init__(self, config: ClientConfig):
        self.budget = config.max_in_flight
        self.rates: dict[str, float] = {}
        self.reached: dict[str, float] = {}
        self._lock = threading.Lock()

    def learned(self, job_rates: dict, share: int, job_reached: dict | None = None) -> None:
        """A job holding `share` of the budget was held to job_rates (and its published
        starts ramped to job_reached, never refused): the cluster's pace is that times
        budget / share."""
        if share <= 0:
            return
        scale = self.budget / share
        with self._lock:
            for family, rate in job_rates.items():
                if isinstance(rate, (int, float)) and rate > 0:
                    self.rates[family] = float(rate) * scale
            for family, rate in (job_reached or {}).items():
                if isinstance(rate, (int, float)) and rate > 0:
                    self.reached[family] = max(self.reached.get(family, 0.0),
                                               float(rate) * scale)

    def share(self, share: int) -> tuple[dict[str, float], dict[str, float]]:
        """Starting paces for a job holding `share` of the in-flight budget: learned
        ones, and where the ramps from published rates got to."""
        part = share / self.budget
        with self._lock:
            return ({family: rate * part for family, rate in self.rates.items()},
                    {family: rate * part for family, rate in self.reached.items()})


def _submitter(spark, config: ClientConfig, credentials: ExecutorCredentials, walkers,
               pace: ClusterPace, dirs_depth: int = 0):
    """submit(unit, share, tag) -> (rows, executor seconds): one tagged one-partition
    job, run to its end."""
    schema = row_schema()

    def submit(unit: Unit, share: int, tag: str) -> tuple[list, float | None]:
        # Tags are per client thread: every job this thread runs carries the run's tag.
        spark.addTag(tag)
        # A handed directory at depth d below its root: its rows are d levels deeper.
        depth = max(0, dirs_depth - unit.depth) if unit.handed else dirs_depth
        task = unit_task(executor_config(config, share, *pace.share(share)),
                         credentials.artifact_name(), walkers, unit.users, depth,
                         mount_only=bool(unit.handed))
        frame = spark.range(0, 1, 1, 1).mapInPandas(task, schema)
        try:
            rows = [row.asDict() for row in frame.collect()]
        except Exception as exc:
            unreachable = _unreachable(exc)
            if unreachable is not None:
                raise unreachable from None
            if unit.users:
                raise
            raise SparkFailure("the executors could not start: "
                               f"{first_line(exc, config)}") from None
        return rows, _executor_seconds(rows)
    return submit


def _unreachable(exc: BaseException) -> SparkFailure | None:
    """The executor's own line when its probe could not reach the workspace."""
    for line in str(exc).splitlines():
        if UNREACHABLE in line:
            return SparkFailure(scrub(line[line.index(UNREACHABLE):].strip())[:300])
    return None


def _client_lane(config: ClientConfig, walkers, pace: ClusterPace, dirs_depth: int = 0,
                 hand_over=None):
    """local(users, share, tag, gate): users scanned on this machine by the same code and
    settings a job's executor uses, with the run's own credentials; (username, [row])
    as each finishes, then (None, [report]).

    A DBFS directory too large for the REST API is handed to the cluster (its executors
    read DBFS through the mount, which has no such limit) with hand_over(unit, on_rows)
    (JobQueue.hand_over); its user's row waits for it."""
    def handover(place: Place, reason: str, depth: int, deliver: Deliver) -> None:
        def on_rows(rows: list) -> tuple[Item, list] | None:
            found = [decode(dict(data)) for data in rows]
            piece = next((item for item in found if isinstance(item, UserResult)), None)
            row = deliver(piece)  # None: an executor without a mount gave it up
            return None if row is None else (row.username, [encoded(row)])
        unit = Unit(-1, (area_root(place.file_system, place.path, exclude=place.exclude),),
                    handed=reason, depth=depth)
        hand_over(unit, on_rows)

    def local(users: Iterable[Item], share: int, tag: str, gate: Gate | None
              ) -> Iterator[tuple[str | None, list]]:
        own = dataclasses.replace(executor_config(config, share, *pace.share(share)),
                                  credentials=config.credentials)
        # Users held: as few as keep every request busy (each user starts with a
        # listing per file system), so that few are left to finish once Spark is up.
        hold = max(1, math.ceil(share / max(1, len(walkers))))
        for data in scan_unit(own, walkers, users, gate=gate, dirs_depth=dirs_depth,
                              hold=hold, handover=handover if hand_over else None):
            report = data.get(REPORT_COLUMN)
            if report:
                # Before the scan ends, so Spark jobs that start next (see
                # Budget.alone) start from the pace this machine learned.
                learned = json.loads(report)
                pace.learned(learned.get("rates", {}), share, learned.get("reached", {}))
            yield (None if report else data["username"]), [data]
    return local


def _executor_seconds(rows: list) -> float | None:
    """How long the job's executor ran, from its trailing report row."""
    for data in reversed(rows):
        if data.get(REPORT_COLUMN):
            report = json.loads(data[REPORT_COLUMN])
            return report["ended_at"] - report["started_at"]
    return None


def _split(done: JobDone) -> tuple[list[UserResult], BatchReport]:
    """A job's user rows, and its trailing report as a BatchReport (for a row of this
    machine's, which comes alone as its user finishes, what the row itself says)."""
    rows: list[UserResult] = []
    report: dict | None = None
    for data in done.rows:
        item = decode(data)
        if isinstance(item, UserResult):
            rows.append(item)
        else:
            report = item
    if report is None and done.lane == CLIENT and rows:
        report = {"worker": rows[0].worker, "started_at": rows[0].started_at,
                  "ended_at": rows[-1].ended_at}
    if report is None:
        raise SparkFailure(f"a Spark job ended without its report (unit {done.unit.number})")
    return rows, BatchReport(unit=done.unit.number, worker=report["worker"],
                             users=tuple(map(key_of, done.unit.users)),
                             started_at=report["started_at"],
                             ended_at=report["ended_at"], stats=report.get("stats", {}),
                             rates=report.get("rates", {}), reached=report.get("reached", {}),
                             dbfs_via=report.get("dbfs_via"))


def _ship_package() -> None:
    """Executors have pyspark, pandas and requests, not this project: send it by value."""
    import dbx_inventory
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(dbx_inventory)
