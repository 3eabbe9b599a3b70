"""The parallel-mode block of the console, in the seed's wording, from SparkEvents.

Each line is printed when it becomes true: "Collecting results from workers..." once
the first results arrive, a [WORKER BATCH] line when a unit's rows reach the client
(an executor's own prints never do), with the times the executor measured.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from dbx_inventory.cli.console import RULE, emit, now_text

from dbx_inventory.humanize import format_duration, plural
from dbx_inventory.runners.spark.events import BatchReport, SparkEvents
from dbx_inventory.cli.worker_names import WorkerNames

SHOWN_PER_BATCH = 3  # users named in a [WORKER BATCH] line before "..."


class SparkConsole(SparkEvents):
    """Prints the PARALLEL PROCESSING block; --debug adds the batch and executor lines."""

    def __init__(self, total: int, names: WorkerNames, *, debug: bool = False,
                 monotonic: Callable[[], float] = time.monotonic):
        self.total = total
        self.names = names
        self.debug = debug
        self._monotonic = monotonic
        self._started: float | None = None
        self._collecting = False
        self._distributed = False
        self._dbfs_via: dict[str, str] = {}  # executor -> how it read DBFS, last said
        if debug:
            names.on_new = self._show_executor

    def connecting(self, target: str, *, here_most: int = 0) -> None:
        self._started = self._monotonic()
        users = plural(self.total, "USER", "USERS")
        emit(["", RULE, f"PARALLEL PROCESSING {users} USING SPARK CLUSTER",
              RULE, f"Parallel start time: {now_text()}", "",
              f"Connecting to cluster: {target.removeprefix('cluster ')}"])
        if here_most:
            emit([f"This machine scans the first users (shown as local; {here_most} "
                  f"of {self.total} at most) while the executors start; once they are "
                  "up, every other user goes to Spark"])

    def note(self, line: str) -> None:
        emit([f"Note: {line}"])

    def distributing(self, users: Sequence[object], units: int, slots: int,
                     in_flight: int) -> None:
        self._distributed = True
        lines = [f"Processing {plural(len(users), 'user')} across Spark workers..."]
        if self.debug:
            lines += ["", "Users to be distributed:",
                      *(f"  {number}. {name}" for number, name in enumerate(users, 1)), ""]
        lines += ["Distributing work to cluster workers...",
                  f"Distributing {plural(len(users), 'user')} over "
                  + (f"{plural(units, 'Spark job')}" if units else
                     "Spark jobs of a few seconds")
                  + f" ({slots} at a time, {plural(in_flight, 'request')} in flight in all)"]
        if self.debug:
            lines.append("Processing users across workers (showing results as they complete)...")
        emit(lines)

    def batch_finished(self, report: BatchReport) -> None:
        # Rows this machine scanned before Spark was ready come before the block that
        # hands work out; the seed's "Collecting" line follows that block.
        if not self._collecting and self._distributed:
            self._collecting = True
            emit(["Collecting results from workers..."])
        if self.debug:
            emit([""])
        name = self.names.label(report.worker)  # numbered here, at its first report
        if self.debug:
            shown = ", ".join(report.users[:SHOWN_PER_BATCH])
            more = ", ..." if len(report.users) > SHOWN_PER_BATCH else ""
            emit([f"[WORKER BATCH] {name} received {len(report.users)} user(s): "
                  f"{shown}{more}"])
            if report.dbfs_via and self._dbfs_via.get(name) != report.dbfs_via:
                self._dbfs_via[name] = report.dbfs_via
                emit([f"[DBFS] {name} reads DBFS through {report.dbfs_via}"])

    def slower(self, spark_users_s: float, here_users_s: float) -> None:
        emit([f"⚠ The executors scan {spark_users_s:.1f} users/s, this machine scanned "
              f"{here_users_s:.1f} users/s at the same request budget: --no-parallel "
              "would scan from here alone"])

    def finished(self, elapsed_s: float) -> None:
        emit(["", f"Parallel processing completed in {format_duration(elapsed_s)}"])

    def lost(self, reason: str, received: int, total: int) -> None:
        if self._started is not None:
            took = format_duration(self._monotonic() - self._started)
            emit(["", f"Parallel processing stopped after {took}"])

    def _show_executor(self, name: str, worker: str) -> None:
        emit([f"[EXECUTOR] {name} is the Spark Python worker {worker}"])


def print_distribution(counts: dict[str, int]) -> None:
    """--debug: how many users each executor scanned (executor name -> users)."""
    if not counts:
        return
    spread = len(counts) > 1
    emit(["", RULE, "PARALLEL EXECUTION " + ("CONFIRMED" if spread else "NOT CONFIRMED"), RULE,
          f"✓ Work was distributed across {len(counts)} different executors:" if spread
          else "⚠ All work ran on one executor:",
          *(f"  • {name}: processed {count} user(s)" for name, count in counts.items()),
          RULE])
