"""Fault switches and request counters of the fake server."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

# Published per-workspace limits (requests/s) of the families the fake serves. Keys name
# an endpoint ("workspace/list") or every endpoint under a prefix ("dbfs" = dbfs/*).
PUBLISHED_RATE_LIMITS = {"workspace/list": 50.0, "dbfs": 30.0, "scim": 4.0}


@dataclass
class Faults:
    """Misbehaviour to inject; every switch is off by default and may change while serving."""

    latency_s: float = 0.0
    latency_jitter_s: float = 0.0
    max_in_flight: int | None = None
    rate_limit_per_s: float | None = None
    rate_limit_burst: int | None = None  # bucket size; defaults to max(1, rate)
    # Per-family limits, each its own bucket of one second's burst; see
    # PUBLISHED_RATE_LIMITS for the keys. Empty: none. May change while serving.
    family_rate_limits: dict[str, float] = field(default_factory=dict)
    retry_after: str | None = "1"  # None: no Retry-After header at all
    # Some throttles arrive with another status, saying so only in their code or text
    # ("REQUEST_LIMIT_EXCEEDED: ... RPC token bucket limit has been exceeded."; the
    # official SDK retries on that text whatever the status). SCIM's in its own shape.
    throttle_status: int = 429
    throttle_code: str = "REQUEST_LIMIT_EXCEEDED"
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503, 504)  # cycled in this order
    reset_rate: float = 0.0
    # Keys are paths; "dbfs:/p" or "workspace:/p" limits a key to one file system.
    fail_first_n_requests_for_path: dict[str, int] = field(default_factory=dict)
    always_fail_paths: set[str] = field(default_factory=set)
    # Flaky directories: the first listings of a path answer these statuses in turn
    # (429 with Retry-After). Isolated 429s happen on busy workspaces even far below
    # the limit: one is a reason to wait Retry-After, not proof of a rate. Same keys.
    flaky_paths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    scim_max_page: int | None = None
    # DBFS disabled: new accounts have no DBFS root and DisableLegacyDbfs blocks it on
    # older ones, so every dbfs/* call is refused. The status and words are not
    # documented: a client must not depend on them.
    dbfs_disabled: bool = False
    # Too-large DBFS listings: dbfs/list of a directory of more than this many entries
    # runs a long time (~60 s) and fails, as "503" (TEMPORARILY_UNAVAILABLE "taking too
    # long to process your request"), "504" (a gateway page) or "timeout" (no answer
    # before too_large_delay_s: set it beyond the client's read timeout). None: off.
    too_large_entries: int | None = None
    too_large_delay_s: float = 0.0
    too_large_answer: str = "503"
    # SCIM as it is (spec: "Users (SCIM)"). A non-admin token is not refused: it gets
    # the users with id and displayName only, no userName.
    scim_non_admin: bool = False
    # totalResults is not the end of the list (the SDK ignores it): report this instead.
    scim_total_results: int | None = None
    # Listings of hold_paths (every listing when empty) wait until `hold` is set:
    # tests hold a run open on purpose instead of racing it.
    hold: threading.Event | None = None
    hold_paths: set[str] = field(default_factory=set)
    down: bool = False        # every request, the access check included, is reset
    # Every request is answered 200 text/html with a sign-in page, as a single-sign-on
    # or corporate proxy in front of the workspace does once its session lapses (issue
    # 28: seen mid-run on a real workspace; the token is never checked).
    sign_in_page: bool = False
    # Listings send every size as a JSON string: protobuf's JSON mapping writes int64
    # fields as strings, and some gateways re-encode the API's answers that way.
    sizes_as_text: bool = False
    echo_auth: bool = False   # error messages quote the request's Authorization header
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)
    _error_turn: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def chance(self, p: float) -> bool:
        """One seeded draw: True with probability p."""
        if p <= 0:
            return False
        with self._lock:
            return self._rng.random() < p

    def jitter(self) -> float:
        if self.latency_jitter_s <= 0:
            return 0.0
        with self._lock:
            return self._rng.uniform(0, self.latency_jitter_s)

    def family_limit(self, endpoint: str) -> tuple[str, float] | None:
        """(key, requests/s) of the per-family limit an endpoint falls under, if any."""
        limits = self.family_rate_limits
        if not limits:
            return None
        for key in (endpoint, endpoint.split("/", 1)[0]):
            if key in limits:
                return key, limits[key]
        return None

    def next_error_status(self) -> int:
        with self._lock:
            status = self.error_statuses[self._error_turn % len(self.error_statuses)]
            self._error_turn += 1
            return status


class TokenBucket:
    """Thread-safe token bucket; rate and burst are read on every call so they can change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: float | None = None
        self._last = time.monotonic()

    def take(self, rate: float, burst: int | None) -> bool:
        cap = float(burst if burst else max(1.0, rate))
        with self._lock:
            now = time.monotonic()
            if self._tokens is None:
                self._tokens = cap
            self._tokens = min(cap, self._tokens + (now - self._last) * rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class Stats:
    """Thread-safe counters of what the server saw and did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total_requests = 0
            self.connections = 0
            self.by_endpoint: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.throttled = 0
            self.injected_5xx = 0
            self.resets = 0
            self.in_flight = 0
            self.peak_in_flight = 0
            self.listing_attempts: Counter[tuple[str, str]] = Counter()
            self.listings: Counter[tuple[str, str]] = Counter()  # successful, by (fs, path)
            self.successful_listings = 0

    # -- recording (called by the server) ---------------------------------------------

    def enter(self) -> int:
        """Count a request as in flight; return how many are in flight including it."""
        with self._lock:
            self.total_requests += 1
            self.in_flight += 1
            if self.in_flight > self.peak_in_flight:
                self.peak_in_flight = self.in_flight
            return self.in_flight

    def leave(self, endpoint: str, status: int | None, *, injected: bool = False,
              listing: tuple[str, str] | None = None) -> None:
        """Record a finished request; status None means the connection was reset."""
        with self._lock:
            self.in_flight -= 1
            self.by_endpoint[endpoint] += 1
            if status is None:
                self.resets += 1
                return
            self.by_status[status] += 1
            if status == 429:
                self.throttled += 1
            if injected and status >= 500:
                self.injected_5xx += 1
            if listing is not None and status == 200:
                self.listings[listing] += 1
                self.successful_listings += 1

    def connected(self) -> None:
        with self._lock:
            self.connections += 1

    def attempt_listing(self, key: tuple[str, str]) -> int:
        """Count a listing attempt that reached fault injection; return its 1-based number."""
        with self._lock:
            self.listing_attempts[key] += 1
            return self.listing_attempts[key]

    # -- reading ----------------------------------------------------------------------

    @property
    def count_429(self) -> int:
        return self.throttled

    def duplicate_listings(self) -> dict[tuple[str, str], int]:
        """(fs, path) listed successfully more than once, with the count."""
        with self._lock:
            return {k: n for k, n in self.listings.items() if n > 1}

    def snapshot(self) -> dict:
        """Plain-dict copy of every counter (listings keyed as 'fs:path')."""
        with self._lock:
            return {
                "total_requests": self.total_requests,
                "connections": self.connections,
                "by_endpoint": dict(self.by_endpoint),
                "by_status": dict(self.by_status),
                "throttled": self.throttled,
                "injected_5xx": self.injected_5xx,
                "resets": self.resets,
                "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight,
                "successful_listings": self.successful_listings,
                "listings": {f"{fs}:{p}": n for (fs, p), n in self.listings.items()},
            }
