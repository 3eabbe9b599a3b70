"""Limits an API family starts with, below the workspace's: requests in flight and a pace.

The Files API (Unity Catalog volumes) is the one family with such a limit: the
Databricks CLI's own client holds it to 10 requests in flight and 100 requests a second,
so that is where this client starts too. Its requests in flight count in the run's one
in-flight budget as well (throttle.py): a Files API request takes a slot of its family
first, then one of the run's, so one waiting for its family holds no slot of the run.
The pace is a start, learned from there like any family's (pacing.py).
"""

from __future__ import annotations

import contextlib
import math
import threading
from typing import Iterator, Mapping

FILES = "fs"  # /api/2.0/fs/...: the Files API
IN_FLIGHT = {FILES: 10}
START_RATES = {FILES: 100.0}


def shared(part: float = 1.0) -> tuple[dict[str, int], dict[str, float]]:
    """(requests in flight, starting pace) per family for a client holding `part` of a
    run's requests in flight (a Spark job holds a share): its part of each limit."""
    part = min(1.0, max(0.0, part))
    return ({family: max(1, math.floor(cap * part)) for family, cap in IN_FLIGHT.items()},
            {family: rate * part for family, rate in START_RATES.items()})


class FamilyCaps:
    """A counting limit on requests in flight per family; families without one pass."""

    def __init__(self, caps: Mapping[str, int] | None = None):
        chosen = IN_FLIGHT if caps is None else caps
        self.caps = dict(chosen)
        self._gates = {family: threading.BoundedSemaphore(max(1, cap))
                       for family, cap in chosen.items()}

    @contextlib.contextmanager
    def slot(self, family: str) -> Iterator[None]:
        gate = self._gates.get(family)
        if gate is None:
            yield
            return
        with gate:
            yield
