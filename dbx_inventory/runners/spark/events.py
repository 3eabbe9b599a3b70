"""What the Spark runner tells the console as a parallel run goes.

The runner (runner.py) calls these at the moments they become true; the console
side decides how they look. Rows themselves still flow as UserResults to Progress.
Every default here prints nothing, so a runner works with no console attached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence


@dataclass(frozen=True)
class BatchReport:
    """One unit of work as its executor recorded it, known when its rows arrive."""

    unit: int                      # the client's number for the unit, from 0
    worker: str                    # host/pid of the Python worker that ran it
    users: tuple[str, ...]         # the users it was given, in order
    started_at: float              # epoch seconds, measured on the executor
    ended_at: float
    stats: dict = field(default_factory=dict)  # request counters of that executor's client
    rates: dict = field(default_factory=dict)  # requests/s per API family it was held to
    reached: dict = field(default_factory=dict)  # requests/s a published start ramped to
    dbfs_via: str | None = None    # how that executor read DBFS (its mount, the REST API)


class SparkEvents:
    """Base with no output; a console subclass overrides what it shows."""

    def connecting(self, target: str, *, here_most: int = 0) -> None:
        """About to connect: target is "cluster ID" or a Spark Connect URL (no params);
        here_most: users this machine may scan while the executors start (see
        units.here_at_most; 0: none)."""

    def note(self, line: str) -> None:
        """Something the user should know before the run goes far (one line)."""

    def distributing(self, users: Sequence[object], units: int, slots: int,
                     in_flight: int) -> None:
        """Spark is ready, work is handed out: units of work, tasks at once, budget."""

    def batch_finished(self, report: BatchReport) -> None:
        """A unit's rows have all reached the client (called before its rows are yielded)."""

    def slower(self, spark_users_s: float, here_users_s: float) -> None:
        """Measured once both have scanned: the executors scan fewer users a second
        than this machine did (each at the whole request budget)."""

    def finished(self, elapsed_s: float) -> None:
        """Every unit is in; the Spark part of the run took elapsed_s."""

    def lost(self, reason: str, received: int, total: int) -> None:
        """Spark failed after `received` of `total` users reached the client."""
