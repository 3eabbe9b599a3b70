"""What a run asked of the workspace, per API family: counters, their sum, summary lines.

ApiClient counts into RequestStats; a Spark task sends its counters back as the plain
dict of as_dict(), and sum_stats() adds several up. politeness_lines() turns that dict
into the SUMMARY lines: requests, 429s, retries and the achieved rate per family.
Times are epoch seconds so counters from different machines can be combined.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping



@dataclass
class FamilyCounts:
    """One family's counters; first_at/last_at: epoch seconds of its first/last request."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    first_at: float | None = None
    last_at: float | None = None


class RequestStats:
    """Thread-safe request counters of one client, per API family, with run totals."""

    def __init__(self, wall: Callable[[], float] = time.time):
        self._wall = wall
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.throttled = 0
        self.families: dict[str, FamilyCounts] = {}

    def add(self, family: str = "other", *, requests: int = 0, retries: int = 0,
            throttled: int = 0) -> None:
        """Count events of one family (a request sent, a retry decided, a 429 seen)."""
        with self._lock:
            counts = self.families.setdefault(family, FamilyCounts())
            counts.requests += requests
            counts.retries += retries
            counts.throttled += throttled
            self.requests += requests
            self.retries += retries
            self.throttled += throttled
            if requests:
                now = self._wall()
                if counts.first_at is None:
                    counts.first_at = now
                counts.last_at = now

    def as_dict(self) -> dict:
        """{family: {requests, throttled, retries, first_at, last_at}}: plain, picklable."""
        with self._lock:
            return {name: dict(vars(counts)) for name, counts in self.families.items()}


def sum_stats(many: Iterable[Mapping[str, Mapping]]) -> dict:
    """Add up several as_dict() results (e.g. one per Spark task) into one of that shape."""
    total: dict[str, dict] = {}
    for stats in many:
        for family, counts in stats.items():
            into = total.setdefault(family, dict(vars(FamilyCounts())))
            for key in ("requests", "throttled", "retries"):
                into[key] += int(counts.get(key) or 0)
            first, last = counts.get("first_at"), counts.get("last_at")
            if first is not None:
                into["first_at"] = first if into["first_at"] is None \
                    else min(into["first_at"], first)
            if last is not None:
                into["last_at"] = last if into["last_at"] is None \
                    else max(into["last_at"], last)
    return total


def politeness_lines(stats: Mapping[str, Mapping]) -> list[str]:
    """The SUMMARY's lines on how the run treated the workspace, from an as_dict()."""
    families = {name: c for name, c in stats.items() if c.get("requests")}
    requests = sum(c["requests"] for c in families.values())
    throttled = sum(c.get("throttled", 0) for c in families.values())
    retries = sum(c.get("retries", 0) for c in families.values())
    lines = [f"API requests: {requests:,}, answered 429: {throttled:,}"
             f"{_share(throttled, requests)}, retries: {retries:,}"]
    for name in sorted(families, key=lambda n: -families[n]["requests"]):
        c = families[name]
        rate = _rate(c)
        lines.append(f"  {name}: {c['requests']:,} request{'' if c['requests'] == 1 else 's'}"
                     + (f" at {rate:.1f}/s" if rate is not None else "")
                     + f", 429: {c.get('throttled', 0):,}, retries: {c.get('retries', 0):,}")
    return lines


def _share(part: int, whole: int) -> str:
    return f" ({100.0 * part / whole:.1f}%)" if whole else ""


def _rate(counts: Mapping) -> float | None:
    """Requests per second between the family's first and last request."""
    first, last = counts.get("first_at"), counts.get("last_at")
    if first is None or last is None or last - first < 1.0 or counts["requests"] < 2:
        return None
    return (counts["requests"] - 1) / (last - first)
