"""Where rows come from: Spark when the mode says so, this machine otherwise.

A Spark failure hands the users Spark did not finish to the local scan (unless the
caller's `on_spark_failure` raises), so a run never scans a user twice. The Spark
runner has cancelled its jobs before the local scan starts, so the two never share
the request budget.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

from dbx_inventory.transport.client import ApiClient
from dbx_inventory.runners.modes import Mode
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import Item, key_of
from dbx_inventory.scan.scanner import Scanner
from dbx_inventory.runners.spark.events import SparkEvents

# (the error, users Spark finished, users it was given) -> None; raise to stop the run.
SparkFailureHandler = Callable[[Exception, list[str], int], None]


def scan_rows(mode: Mode, client: ApiClient, todo: Sequence[Item], walkers, *,
              debug: bool, on_spark_failure: SparkFailureHandler,
              events: SparkEvents | None = None,
              notice: Callable[[str], None] | None = None,
              stats: dict | None = None, dirs_depth: int = 0) -> Iterator[UserResult]:
    """Rows for `todo` in completion order, from Spark or from this machine.

    `events` hears how the Spark run goes; `stats` receives its summed request counters;
    `notice` hears the local scan's warnings (a stall).
    """
    received: list[str] = []
    if mode.spark and todo:
        from dbx_inventory.runners.spark.runner import SparkFailure, run_on_spark

        try:
            for row in run_on_spark(mode, client.config, list(todo), walkers, debug=debug,
                                    events=events, stats=stats, dirs_depth=dirs_depth):
                received.append(row.username)
                yield row
            return
        except SparkFailure as exc:
            on_spark_failure(exc, received, len(todo))
    done = set(received)
    rest = [item for item in todo if key_of(item) not in done]
    yield from Scanner(client, walkers=walkers, notice=notice,
                       dirs_depth=dirs_depth).scan(rest)
