"""Pacing per API family: learn the rate the workspace admits and hold each just under it.

A workspace limits each API family on its own (workspace/list about 50 requests/s, DBFS
30/s, SCIM reads about 4/s) and says so only with a 429, often without Retry-After.
Every family is paced apart, so one family's 429s never slow another:

- A family starts at a given rate (a Spark task's share of what earlier runs learned),
  else at its published rate (PUBLISHED_RATES: clients that start above the limits can
  get their IP blocked for minutes) and doubles from there while it holds, as if no
  measure were known; a family with no published rate (the workspace API) starts
  unpaced. Its first 429 takes the successes of the last second as a first guess
  (none: no guess; the retry waits alone slow it), and the pace doubles from there while
  it holds; a 429 before a measure ends the doubling at the last second's successes.
  Within a family's first second they count over the time it has sent, and fewer than
  its published rate are only a guess: the doubling goes on (a run's first successes
  read low, the connections opening and the in-flight limit refusing; taken as a
  measure, a pace held at 5 requests/s climbed 2% a second, and a 2-second scan took 50;
  one success 0.28 s in paced the workspace family at 1/s for 15 s, and one in DBFS's
  first 0.25 s held it at 4/s, then at a measure of 11/s, for a whole run). Fewer than
  GUESS_MIN successes there are no guess at all: the pace backs off as it would with
  none.
- A 429 means the workspace's bucket for that family was empty. The successes between
  two 429s, over the time between them, are what the bucket refilled in that time: the
  admitted rate. The family is then held at HOLD of it: it settles in one step.
- While the pace is what holds requests back, it probes upward: quickly back to just
  under the measured rate after a deeper cut, then by PROBE_STEP per PROBE_EVERY seconds,
  so a raised limit is found again at the cost of a rare 429.
- A 429 on a request sent before the last cut was already accounted for: it cuts nothing.
  Requests still waiting at the old pace take their turn again at the new one.
- Which 429s reach a family is the client's choice: one the in-flight limit claims
  (throttle.py) is not a rate, and an isolated one (clustered() says no) teaches
  nothing: busy workspaces answer a stray 429 far below any limit, and cutting on each
  collapsed a scan to a tenth of its pace. A 429 counts when 429s cluster (CLUSTER_MIN
  of the family's last CLUSTER_OF answers), or when the pace probes above a measure.

`--max-rps` is one more pace over all families together, never learned or raised.
Each request reserves the next free send time under a lock and sleeps until then on
the injected clock: waiting costs no CPU and there is no polling loop.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Mapping

from dbx_inventory.clock import Clock

log = logging.getLogger("dbx_inventory.transport.pacing")
FAMILIES = ("workspace", "dbfs", "scim", "fs", "other")  # fs: the Files API (volumes)
# Published per-workspace limits (requests/s): DBFS API 30, SCIM reads about 255 a
# minute. The workspace API's families have no published rate of their own here.
PUBLISHED_RATES = {"dbfs": 30.0, "scim": 255 / 60}

HOLD = 0.95           # share of the measured rate a family is held at
MIN_WINDOW_S = 0.25   # a measure needs this long between two 429s ...
MIN_OK = 8            # ... and this many successes in between
GUESS_MIN = 3         # successes in a family's first second that make a first guess
FAST_EVERY_S = 0.25   # growth step while far below the measured rate (or none is known)
RAMP_EVERY_S = 0.1    # doubling step from a published start never refused: it is no
                      # measure, and held-back requests hold scan threads
PROBE_EVERY_S = 1.0   # slow probe step at and above the measured rate
PROBE_STEP = 0.02     # slow probe: +2% of the pace per step
RECOVER_STEP = 1.25   # back towards the measured rate after a deep cut
REFUSED_AGAIN = 0.75  # cut when 429s continue before a new measure is possible
DEEPEST_CUT = 0.5     # a measure spanning slower paces reads low: cut at most by half
MIN_RATE = 0.5        # requests per second: a family is never stopped
CLUSTER_OF = 20       # a 429 is part of a cluster when, of the family's last 20 answers,
CLUSTER_MIN = 3       # at least 3 were 429s (isolated ones at 2.7%: 1 in 11 reads so)


def family_of(api_path: str) -> str:
    """The API family of a REST path: workspace, dbfs, scim, fs or other."""
    parts = [p for p in api_path.split("?", 1)[0].split("/") if p]
    # /api/2.0/<family>/... or /api/2.0/preview/scim/v2/...
    rest = parts[2:] if len(parts) > 2 and parts[0] == "api" else []
    if rest and rest[0] == "preview":
        rest = rest[1:]
    head = rest[0] if rest else ""
    return head if head in FAMILIES else "other"


@dataclass(frozen=True)
class Ticket:
    """A request's reserved send time, handed back with its answer."""

    family: str
    sent_at: float


class FamilyPace:
    """The learning state of one family; every method takes `now` (monotonic seconds)."""

    def __init__(self, start_rate: float | None = None, *, published: float | None = None):
        # The pace held; None: unpaced. A published start is no measure: it doubles.
        self.rate: float | None = start_rate or published
        # What the workspace admits, as last measured (a given start counts as one).
        self.measured: float | None = start_rate / HOLD if start_rate else None
        self.learned = bool(start_rate)                # a rate worth handing on
        self._ramp = published is not None and not start_rate  # published, not refused
        self._published = published
        # A published rate is per second: its first second's worth may go at once.
        self._burst = float(int(published)) if self._ramp and published else 0.0
        self.next_at = 0.0                             # earliest next send time
        self.cuts = 0                                  # also tells waiters to re-reserve
        self._changed_at = float("-inf")   # the first request sets it
        self._first_at: float | None = None   # the family's first request
        self._cut_at = float("-inf")   # requests sent before this are stale for cutting
        self._window_start: float | None = None   # last 429: the bucket was empty then
        self._ok_in_window = 0
        self._recent: deque[float] = deque()      # success times of the last second
        self._held_back = False                   # a request waited for this pace
        self._ok_at_pace = 0                      # answers to requests sent at this pace
        self._last: deque[bool] = deque(maxlen=CLUSTER_OF)  # recent answers: 429 or not

    @property
    def ramping(self) -> bool:
        """Still doubling from a published start, never refused."""
        return self._ramp and not self.learned

    def reserve(self, now: float) -> float:
        """The earliest send time this pace allows for one more request; takes it."""
        if self._changed_at == float("-inf"):
            self._changed_at = now   # time at the starting pace, not since the epoch
            self._first_at = now
        self._probe(now)
        if self.rate is None:
            return now
        if self._burst >= 1 and self.ramping:
            self._burst -= 1
            return now
        at = max(now, self.next_at)
        self.next_at = at + 1.0 / self.rate
        if at > now:
            self._held_back = True
        return at

    def ok(self, sent_at: float, now: float) -> None:
        """A request sent at sent_at was answered (anything but 429)."""
        self._last.append(False)
        self._ok_in_window += 1
        if sent_at >= self._changed_at:
            self._ok_at_pace += 1
        if self.measured is None:
            self._recent.append(now)
            while self._recent and self._recent[0] < now - 1.0:
                self._recent.popleft()

    def clustered(self, again: bool = False) -> bool:
        """Record a 429; True when it is evidence about the rate: 429s cluster (the same
        request refused `again` is a cluster), or the pace probes above a measure."""
        self._last.append(True)
        if again or self.measured is not None and self.rate is not None \
                and self.rate > self.measured:
            return True
        return sum(self._last) >= CLUSTER_MIN

    def throttled(self, sent_at: float, now: float) -> bool:
        """A request sent at sent_at was answered 429; True when the pace was cut."""
        if sent_at <= self._cut_at:   # sent before the last cut was known
            return False
        target = None
        if self._window_start is not None:
            span = now - self._window_start
            if span >= MIN_WINDOW_S and self._ok_in_window >= MIN_OK:
                self.measured = self._ok_in_window / span
                target = self.measured * HOLD
        admitted = sum(1 for t in self._recent if t >= now - 1.0)  # in the last second
        # ... as a rate: over the time the family has sent, when that is under a second.
        span = now - (now if self._first_at is None else self._first_at)
        seen = admitted / min(1.0, max(span, MIN_WINDOW_S))
        # One or two successes in a family's first second are no basis for a rate.
        basis = admitted >= GUESS_MIN or (admitted > 0 and span >= 1.0)
        if target is not None:
            new = target if self.rate is None else \
                max(min(self.rate, target), self.rate * DEEPEST_CUT)
        elif self.rate is None:
            if not basis:
                # Nothing admitted lately: no basis for a rate. The retry waits hold it.
                self._window_start, self._ok_in_window = now, 0
                return False
            new = seen * HOLD    # a first guess: doubling follows while it holds
        else:
            # Refused again before a window could measure: back off, and end the
            # doubling with the last second's successes as the measure. Within the
            # first second they measure only once they reach the published rate;
            # fewer are a guess, and doubling goes on.
            if self.measured is None and basis and \
                    (span >= 1.0 or admitted >= (self._published or float("inf"))):
                self.measured = float(admitted)
            new = self.rate * REFUSED_AGAIN
            if self.measured is not None:
                new = min(new, self.measured * HOLD)
            elif basis:
                new = min(new, seen * HOLD)   # a guess, as a first 429's
        rate = max(MIN_RATE, new)
        self._set(rate, now)
        self.learned = True
        # Reservations handed out at the old pace are taken again at the new one.
        self.next_at = now + 1.0 / rate
        self._cut_at = now
        self._window_start = now
        self._ok_in_window = 0
        self._last.clear()   # the 429s that made this cut make no other
        self.cuts += 1
        return True

    def _probe(self, now: float) -> None:
        # A step up needs demand (a request waited) and proof the pace holds: answers
        # to requests sent at it (a few to double, MIN_OK to probe near a measure).
        if self.rate is None or not self._held_back:
            return
        since = now - self._changed_at
        if self.measured is None:
            every = RAMP_EVERY_S if self.ramping else FAST_EVERY_S
            if since >= every and self._ok_at_pace >= 2:
                self._set(self.rate * 2, now)
            return
        if self._ok_at_pace < MIN_OK:
            return
        hold = self.measured * HOLD
        if self.rate < hold * 0.98:
            if since >= FAST_EVERY_S:
                self._set(min(hold, self.rate * RECOVER_STEP), now)
        elif since >= PROBE_EVERY_S:
            self._set(self.rate * (1 + PROBE_STEP), now)

    def _set(self, rate: float, now: float) -> None:
        if self.measured is None and self._window_start is not None and \
                self.rate is not None and rate > self.rate:
            # Doubling: a measure must not span the slower paces before (it would read
            # low); the bucket may not be empty here, the next 429 corrects any excess.
            self._window_start, self._ok_in_window = now, 0
        self.rate = rate
        self._changed_at = now
        self._held_back = False
        self._ok_at_pace = 0


class Pacer:
    """Paces every request of one client: per family, and under --max-rps overall."""

    def __init__(self, clock: Clock | None = None, *, max_rps: float | None = None,
                 start_rates: Mapping[str, float] | None = None,
                 published: Mapping[str, float] | None = None):
        if max_rps is not None and max_rps <= 0:
            raise ValueError("max_rps must be above 0")
        self.clock = clock or Clock()
        self.max_rps = max_rps
        starts = dict(start_rates or {})
        unknown = set(starts) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown API families: {', '.join(sorted(unknown))}")
        first = dict(published or {})
        self._families = {name: FamilyPace(starts.get(name) or None,
                                           published=first.get(name))
                          for name in FAMILIES}
        self._next_at = 0.0   # the run-wide pace (--max-rps)
        self._lock = threading.Lock()

    def admit(self, family: str) -> Ticket:
        """Wait (sleeping, not polling) until this family and the run may send; a ticket."""
        pace = self._families[family]
        while True:
            with self._lock:
                now = self.clock.monotonic()
                cuts = pace.cuts
                at = pace.reserve(now)
                if self.max_rps is not None:
                    # Both paces take the same time slot: the later of the two.
                    at = max(at, self._next_at)
                    self._next_at = at + 1.0 / self.max_rps
                    if pace.rate is not None:
                        pace.next_at = max(pace.next_at, at + 1.0 / pace.rate)
            if at <= now:
                return Ticket(family, now)
            self.clock.sleep(at - now)
            with self._lock:
                if pace.cuts == cuts:
                    return Ticket(family, at)
            # The pace was cut while this request waited: its time was at the old pace.

    def answered(self, ticket: Ticket, *, throttled: bool = False) -> None:
        """Learn from an HTTP answer to the request of this ticket."""
        with self._lock:
            now = self.clock.monotonic()
            pace = self._families[ticket.family]
            if throttled:
                if pace.throttled(ticket.sent_at, now):
                    log.debug("%s: 429, paced at %.1f requests/s (measured %s)",
                              ticket.family, pace.rate, "-" if pace.measured is None
                              else f"{pace.measured:.1f}/s")
            else:
                pace.ok(ticket.sent_at, now)

    def clustered(self, family: str, again: bool = False) -> bool:
        """Record a 429 of this family: True when it should teach the pace; False for
        an isolated one: only wait. `again`: the request's previous try was a 429."""
        with self._lock:
            return self._families[family].clustered(again)

    def rates(self) -> dict[str, float]:
        """The pace held per family (requests/s), for the families that learned one (a
        published start not yet refused is no measure to hand on)."""
        with self._lock:
            return {name: pace.rate for name, pace in self._families.items()
                    if pace.rate is not None and pace.learned}

    def reached(self) -> dict[str, float]:
        """The pace a published start has doubled to, never refused, per family: no
        measure, but what the workspace admitted. A Spark job hands it on, so the next
        job ramps on from there instead of from the published rate again."""
        with self._lock:
            return {name: pace.rate for name, pace in self._families.items()
                    if pace.rate is not None and pace.ramping}

    def pace(self, family: str) -> FamilyPace:
        """The learning state of one family (read-only use: tests, debug)."""
        return self._families[family]
