"""The one retry policy: which failures are worth another try, and how long to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_RETRY_AFTER = 1.0
# Throttles that come with another status say so in their code or text; the official
# SDK retries on that text whatever the status.
RATE_LIMIT_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED"})
RATE_LIMIT_TEXTS = ("request_limit_exceeded", "token bucket limit has been exceeded")


def says_rate_limited(error_code: str | None, message: str | None) -> bool:
    """True when an error's code or message says a rate limit was exceeded."""
    if error_code in RATE_LIMIT_CODES:
        return True
    text = (message or "").lower()
    return any(needle in text for needle in RATE_LIMIT_TEXTS)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float:
    """Seconds to wait from a Retry-After header: seconds or an HTTP date; 1 s otherwise."""
    if value is None:
        return DEFAULT_RETRY_AFTER
    text = value.strip()
    try:
        seconds = float(text)
        if seconds >= 0 and seconds == seconds and seconds != float("inf"):
            return seconds
        return DEFAULT_RETRY_AFTER
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return DEFAULT_RETRY_AFTER
    if when is None:
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


# dbfs/list of a directory of more than ~10,000 entries runs ~60 s and fails: 503
# TEMPORARILY_UNAVAILABLE "taking too long to process your request", a gateway page,
# or a read timeout. Retried the same way it fails the same way.
TOO_LARGE_PATH = "/api/2.0/dbfs/list"
TOO_LARGE_TEXT = "taking too long to process your request"


def looks_too_large(api_path: str, status: int | None, message: str, took_s: float,
                    policy: "RetryPolicy") -> bool:
    """Whether one failed dbfs/list looks like a directory too large for the API: the
    503 that says so, or a gateway timeout or no answer after a long wait."""
    if api_path != TOO_LARGE_PATH:
        return False
    if status == 503 and TOO_LARGE_TEXT in message.lower():
        return True
    return status in (None, 504) and took_s >= policy.too_large_after_s


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries a GET gets and how the waits grow."""

    attempts: int = 8           # tries in all, the first included
    base_delay: float = 0.5     # first backoff, doubled each time
    max_delay: float = 32.0     # cap on one wait
    max_retry_after: float = 120.0  # a server asking for more is still capped here
    first_contact_s: float = 10.0   # give up this fast on a host that never answered
    deadline_s: float = 150.0   # wall clock for one request, however slowly it drips
    # 0: off. Else how long the workspace as a whole may stay silent before the run
    # stops; a path failing this many times in a row makes the client ask (outage.py).
    outage_limit_s: float = 0.0
    outage_check_after: int = 3
    # A directory too large for dbfs/list is tried this many times at most; a gateway
    # timeout or no answer counts as that only after this long (it takes ~60 s).
    too_large_tries: int = 2
    too_large_after_s: float = 30.0

    def should_retry_status(self, status: int) -> bool:
        return status in RETRYABLE_STATUSES

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Wait before retry number N (1-based): full jitter over an exponential cap."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        draw = (rng or random).random()
        # Half fixed, half jitter: spreads retries without ever waiting ~0.
        return ceiling / 2 + draw * ceiling / 2

    def wait_for(self, status: int | None, retry_after: str | None, retry_number: int,
                 rng: random.Random | None = None) -> float:
        """Wait before the next try: Retry-After when the server sent one, else backoff."""
        backoff = self.backoff(retry_number, rng)
        if status == 429 or (status == 503 and retry_after is not None):
            # Backoff is the floor: "Retry-After: 0" must not become a busy loop.
            return max(min(parse_retry_after(retry_after), self.max_retry_after), backoff)
        return backoff
