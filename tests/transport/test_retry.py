"""Retry policy: Retry-After parsing, waits per status, backoff bounds."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from dbx_inventory.transport.retry import RetryPolicy, parse_retry_after

NOW = datetime(2015, 10, 21, 7, 27, 30, tzinfo=timezone.utc)


class FixedDraw(random.Random):
    """A Random whose random() always returns one chosen value (for the bounds)."""

    def __init__(self, value: float):
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


# --- parse_retry_after --------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("5", 5.0),
    ("0", 0.0),
    (" 12 ", 12.0),
    ("120", 120.0),
    ("1.5", 1.5),
    ("0.25", 0.25),
])
def test_parse_seconds(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_http_date_in_future():
    # 07:28:00 is 30 s after NOW (07:27:30).
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 30.0


def test_parse_http_date_two_minutes_ahead():
    assert parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now=NOW) == 120.0


def test_parse_http_date_in_past_is_zero():
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "abc123", "-1", "-0.5",
                                   "nan", "inf", "-inf", "Wed, 99 Foo 2015 99:99:99 GMT",
                                   "1,5"])
def test_parse_garbage_negative_or_missing_is_one_second(value):
    assert parse_retry_after(value, now=NOW) == 1.0


# --- should_retry_status ------------------------------------------------------------

@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 200])
def test_not_retryable(status):
    assert RetryPolicy().should_retry_status(status) is False


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable(status):
    assert RetryPolicy().should_retry_status(status) is True


# --- wait_for -----------------------------------------------------------------------

def test_429_with_retry_after_uses_it():
    assert RetryPolicy().wait_for(429, "7", 1, FixedDraw(0.9)) == 7.0


def test_429_without_retry_after_waits_one_second():
    # First retry: backoff ceiling 0.5 s, so the 1 s default wins.
    assert RetryPolicy().wait_for(429, None, 1, FixedDraw(0.9)) == 1.0


def test_429_with_garbage_retry_after_waits_one_second():
    assert RetryPolicy().wait_for(429, "later please", 1, FixedDraw(0.9)) == 1.0


def test_429_backoff_is_a_floor_under_retry_after():
    # Retry 5: ceiling 0.5 * 2**4 = 8 s, draw 0.5 -> 4 + 2 = 6 s beats the 1 s default,
    # and "Retry-After: 0" cannot turn into a busy loop.
    assert RetryPolicy().wait_for(429, None, 5, FixedDraw(0.5)) == 6.0
    assert RetryPolicy().wait_for(429, "0", 1, FixedDraw(0.0)) == 0.25


def test_503_with_retry_after_uses_it():
    assert RetryPolicy().wait_for(503, "9", 1, FixedDraw(0.0)) == 9.0


def test_503_without_retry_after_backs_off():
    # retry 3: ceiling 0.5 * 2**2 = 2.0, draw 0.5 -> 1.0 + 0.5 * 1.0 = 1.5
    assert RetryPolicy().wait_for(503, None, 3, FixedDraw(0.5)) == 1.5


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_capped_by_max_retry_after(status):
    assert RetryPolicy().wait_for(status, "600", 1) == 120.0
    assert RetryPolicy(max_retry_after=5.0).wait_for(status, "30", 1) == 5.0


# Ceilings by hand for base 0.5, cap 32: 0.5, 1, 2, 4, 8, 16, 32, 32 (64 capped), 32.
CEILINGS = [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 16.0), (7, 32.0),
            (8, 32.0), (12, 32.0)]


@pytest.mark.parametrize("status", [500, 502, 504, None])
@pytest.mark.parametrize("retry_number,ceiling", CEILINGS)
def test_backoff_within_half_ceiling_and_ceiling(status, retry_number, ceiling):
    policy = RetryPolicy()
    assert policy.wait_for(status, None, retry_number, FixedDraw(0.0)) == ceiling / 2
    assert policy.wait_for(status, None, retry_number, FixedDraw(0.5)) == ceiling * 0.75
    top = policy.wait_for(status, None, retry_number, FixedDraw(0.999999))
    assert ceiling / 2 < top <= ceiling
    rng = random.Random(1234)
    for _ in range(200):
        wait = policy.wait_for(status, None, retry_number, rng)
        assert ceiling / 2 <= wait <= ceiling


def test_backoff_with_seeded_rng_matches_formula():
    draws = random.Random(42)
    expected = []
    for ceiling in (0.5, 1.0, 2.0, 4.0):
        d = draws.random()
        expected.append(ceiling / 2 + d * ceiling / 2)
    rng = random.Random(42)
    got = [RetryPolicy().wait_for(502, None, n, rng) for n in (1, 2, 3, 4)]
    assert got == pytest.approx(expected)


def test_backoff_is_capped_by_custom_max_delay():
    policy = RetryPolicy(base_delay=1.0, max_delay=3.0)
    # retry 3 would be 4 s uncapped; the cap makes it 3 -> [1.5, 3]
    assert policy.wait_for(500, None, 3, FixedDraw(0.0)) == 1.5
    assert policy.wait_for(500, None, 3, FixedDraw(0.5)) == 2.25
    assert policy.wait_for(500, None, 10, FixedDraw(0.999999)) <= 3.0


def test_waits_grow_between_retries():
    policy = RetryPolicy()
    floors = [policy.wait_for(504, None, n, FixedDraw(0.0)) for n in range(1, 8)]
    assert floors == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
