"""Pacing per API family, on a fake clock: a rate learned from 429s without Retry-After,
families independent, --max-rps held, waits computed and slept once (never polled)."""

from __future__ import annotations

import pytest

from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.clock import FakeClock
from dbx_inventory.transport.pacing import HOLD, Pacer, family_of


class Bucket:
    """The workspace's limit for one family: a token bucket on the fake clock."""

    def __init__(self, clock: FakeClock, rate: float, burst: float | None = None):
        self.clock, self.rate = clock, rate
        self.burst = burst if burst is not None else rate
        self.tokens, self.last = self.burst, clock.monotonic()

    def take(self) -> bool:
        now = self.clock.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def drive(pacer: Pacer, clock: FakeClock, buckets: dict, *, seconds: float,
          latency: float = 0.01, retry_wait: float = 0.5) -> dict:
    """One client thread sending round-robin over the families of `buckets` for `seconds`
    of fake time; a 429 waits retry_wait (no Retry-After: the client's backoff)."""
    log = {family: {"ok": [], "429": []} for family in buckets}
    end = clock.monotonic() + seconds
    turn = 0
    while clock.monotonic() < end:
        family = list(buckets)[turn % len(buckets)]
        turn += 1
        ticket = pacer.admit(family)
        admitted = buckets[family].take()
        clock.sleep(latency)
        pacer.answered(ticket, throttled=not admitted)
        log[family]["ok" if admitted else "429"].append(ticket.sent_at)
        if not admitted:
            clock.sleep(retry_wait)
    return log


def rate_between(times: list[float], start: float, end: float) -> float:
    return sum(1 for t in times if start <= t < end) / (end - start)


def test_family_of_api_paths():
    assert family_of("/api/2.0/workspace/list") == "workspace"
    assert family_of("/api/2.0/workspace/export?path=/x") == "workspace"
    assert family_of("/api/2.0/dbfs/list") == "dbfs"
    assert family_of("/api/2.0/preview/scim/v2/Users") == "scim"
    assert family_of("/api/2.0/preview/scim/v2/Me") == "scim"
    assert family_of("/api/2.0/clusters/get") == "other"
    assert family_of("/oidc/v1/token") == "other"


def test_learns_a_rate_from_429s_without_retry_after():
    clock = FakeClock()
    pacer = Pacer(clock)
    t0 = clock.monotonic()
    log = drive(pacer, clock, {"dbfs": Bucket(clock, 30.0)}, seconds=60)
    rate = pacer.rates()["dbfs"]
    assert 0.85 * 30 <= rate <= 1.1 * 30
    # Settled fast: from the 5th second on, at least 95% of the limit is used ...
    assert rate_between(log["dbfs"]["ok"], t0 + 5, t0 + 60) >= 0.95 * 30
    # ... and few requests were refused: the first burst and a rare probe.
    refused = log["dbfs"]["429"]
    assert len(refused) <= 12
    assert sum(1 for t in refused if t >= t0 + 5) <= 6


def test_a_published_start_hands_on_how_far_it_ramped_until_refused():
    """Unrefused, the pace a published start doubled to is handed on (no measure: a
    Spark job ramps on from it); once 429s teach a rate, that rate is handed on instead."""
    clock = FakeClock()
    pacer = Pacer(clock, published={"dbfs": 30.0})
    drive(pacer, clock, {"dbfs": Bucket(clock, 1000.0)}, seconds=3, latency=0.001)
    assert pacer.rates() == {}
    assert pacer.reached()["dbfs"] >= 4 * 30
    tight = Pacer(clock, published={"dbfs": 30.0})
    drive(tight, clock, {"dbfs": Bucket(clock, 40.0)}, seconds=10, latency=0.001)
    assert tight.pace("dbfs").cuts >= 1
    assert "dbfs" in tight.rates() and tight.reached() == {}


def dbfs_refused_after(successes: int, every_s: float) -> tuple[Pacer, FakeClock]:
    """A DBFS pace from its published start: `successes` answers every_s apart, then a
    429 (one the client took as the rate's)."""
    clock = FakeClock()
    pacer = Pacer(clock, published={"dbfs": 30.0})
    for _ in range(successes):
        ticket = pacer.admit("dbfs")
        clock.sleep(every_s)
        pacer.answered(ticket)
    pacer.answered(pacer.admit("dbfs"), throttled=True)
    return pacer, clock


def test_a_429_within_the_first_second_is_a_guess_not_a_measure():
    """A run's first successes read low (connections opening, the in-flight limit
    refusing): a 429 0.3 s in, after 5 successes, must not hold the family near 5/s.
    It did (5/s, then +2% a second): a 2-second scan of a workspace with a cap of 3
    requests in flight took 50 s."""
    pacer, clock = dbfs_refused_after(5, 0.06)
    assert pacer.pace("dbfs").cuts == 1 and pacer.pace("dbfs").measured is None
    drive(pacer, clock, {"dbfs": Bucket(clock, 1000.0)}, seconds=3, latency=0.001)
    assert pacer.rates()["dbfs"] >= 60


def test_a_first_guess_within_the_first_second_counts_the_time_sent():
    """An unpaced family refused 0.3 s in: 6 successes in 0.3 s are 20 a second, not 6
    (one success 0.28 s in had paced the workspace family at 1/s, and it took 15 s to
    climb); one or two successes there are no guess at all."""
    def refused_after(successes: int) -> Pacer:
        clock = FakeClock()
        pacer = Pacer(clock)
        for _ in range(successes):
            ticket = pacer.admit("workspace")
            clock.sleep(0.3 / successes)
            pacer.answered(ticket)
        pacer.answered(pacer.admit("workspace"), throttled=True)
        return pacer

    assert refused_after(6).rates()["workspace"] == pytest.approx(6 / 0.3 * HOLD)
    lone = refused_after(1)
    assert "workspace" not in lone.rates() and lone.pace("workspace").cuts == 0


def test_a_published_rates_worth_within_the_first_second_ends_the_doubling():
    """35 successes in 0.7 s reached DBFS's published 30 a second: a measure, as a whole
    second's would be (doubling on from it cost DBFS-heavy runs four times the 429s)."""
    pacer, _ = dbfs_refused_after(35, 0.02)
    assert pacer.pace("dbfs").measured == 35.0
    assert pacer.rates()["dbfs"] == pytest.approx(35.0 * HOLD)


def test_a_whole_second_of_successes_ends_the_doubling():
    """After a full second, the last second's successes are the measure: a 429 ends the
    doubling there, and the pace holds just under it."""
    pacer, _ = dbfs_refused_after(25, 0.05)
    measured = pacer.pace("dbfs").measured
    assert measured == pytest.approx(20.0, rel=0.1)   # 20 a second, edges included
    assert pacer.rates()["dbfs"] == pytest.approx(measured * HOLD)


def test_families_are_paced_apart():
    clock = FakeClock()
    pacer = Pacer(clock)
    buckets = {"dbfs": Bucket(clock, 5.0), "workspace": Bucket(clock, 1000.0)}
    log = drive(pacer, clock, buckets, seconds=30)
    assert log["dbfs"]["429"]                      # dbfs was refused and paced ...
    assert pacer.rates()["dbfs"] < 6
    assert log["workspace"]["429"] == []           # ... workspace never, and it is
    assert "workspace" not in pacer.rates()        # still unpaced
    assert pacer.pace("workspace").cuts == 0


def test_one_familys_429s_do_not_slow_another():
    clock = FakeClock()
    pacer = Pacer(clock, start_rates={"workspace": 50.0, "dbfs": 30.0})
    for _ in range(5):
        ticket = pacer.admit("dbfs")
        pacer.answered(ticket, throttled=True)
        clock.sleep(1.0)
    assert pacer.rates()["dbfs"] < 30.0
    assert pacer.rates()["workspace"] == 50.0


def test_stale_429s_cut_once():
    clock = FakeClock()
    pacer = Pacer(clock, start_rates={"dbfs": 20.0})
    tickets = [pacer.admit("dbfs") for _ in range(5)]   # all sent before any answer
    for ticket in tickets:
        pacer.answered(ticket, throttled=True)
    assert pacer.pace("dbfs").cuts == 1
    assert pacer.rates()["dbfs"] == pytest.approx(20.0 * 0.75)


def test_start_rates_pace_from_the_first_request():
    clock = FakeClock()
    pacer = Pacer(clock, start_rates={"scim": 4.0})
    times = [pacer.admit("scim").sent_at for _ in range(5)]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps == pytest.approx([0.25] * 4)
    assert clock.sleeps == pytest.approx([0.25] * 4)   # one computed sleep per wait


def test_max_rps_holds_across_families():
    clock = FakeClock()
    pacer = Pacer(clock, max_rps=10.0)
    t0 = clock.monotonic()
    times = []
    for n in range(60):
        family = ("workspace", "dbfs", "scim", "other")[n % 4]
        ticket = pacer.admit(family)
        times.append(ticket.sent_at)
        pacer.answered(ticket)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.1 - 1e-9
    assert clock.monotonic() - t0 == pytest.approx(5.9)
    # Waiting is one sleep per request, of exactly the computed time: no polling.
    assert len(clock.sleeps) == 59


def test_max_rps_caps_a_learned_rate():
    clock = FakeClock()
    pacer = Pacer(clock, max_rps=5.0)
    log = drive(pacer, clock, {"workspace": Bucket(clock, 50.0)}, seconds=20)
    ok = log["workspace"]["ok"]
    assert rate_between(ok, ok[0], ok[0] + 20) <= 5.0 + 0.05
    assert log["workspace"]["429"] == []   # far under the workspace's own limit


def test_a_cut_while_waiting_takes_the_new_pace():
    class CutOnSleep(FakeClock):
        """Answers a 429 for another request while the first one waits."""

        def __init__(self):
            super().__init__()
            self.on_sleep = None

        def sleep(self, seconds):
            super().sleep(seconds)
            hook, self.on_sleep = self.on_sleep, None
            if hook:
                hook()

    clock = CutOnSleep()
    pacer = Pacer(clock, start_rates={"dbfs": 10.0})
    first = pacer.admit("dbfs")                 # goes now; the next waits 0.1 s
    clock.on_sleep = lambda: pacer.answered(first, throttled=True)   # cut to 7.5/s
    second = pacer.admit("dbfs")
    # Reserved at 10/s (0.1 s), then taken again at the cut pace: 1/7.5 s after the cut.
    assert second.sent_at - first.sent_at == pytest.approx(0.1 + 1 / 7.5)
    assert len(clock.sleeps) == 2


def test_probes_upward_when_the_limit_rises():
    clock = FakeClock()
    pacer = Pacer(clock)
    bucket = Bucket(clock, 20.0)
    drive(pacer, clock, {"dbfs": bucket}, seconds=30)
    assert pacer.rates()["dbfs"] <= 20.0 * 1.1
    bucket.rate = 40.0                      # the workspace raised its limit
    t1 = clock.monotonic()
    log = drive(pacer, clock, {"dbfs": bucket}, seconds=60)
    assert rate_between(log["dbfs"]["ok"], t1 + 45, t1 + 60) >= HOLD * 40 * 0.9


def test_rejects_bad_settings():
    with pytest.raises(ValueError):
        Pacer(FakeClock(), max_rps=0)
    with pytest.raises(ValueError):
        Pacer(FakeClock(), start_rates={"jobs": 3.0})


def test_client_paces_only_the_family_the_workspace_refuses(serve):
    """Over real HTTP: DBFS limited to 3/s with no Retry-After, the Workspace not at all."""
    from conftest import TOKEN
    from dbx_inventory.transport.client import ApiClient, ClientConfig
    from fake_workspace import generate_uniform

    ws = generate_uniform(1, 1, 1)
    server = serve(ws, family_rate_limits={"dbfs": 3.0}, retry_after=None)
    config = ClientConfig(host=server.url, credentials=StaticToken(TOKEN))
    with ApiClient(config) as client:
        for _ in range(12):
            client.get("/api/2.0/dbfs/list", {"path": "/Users"})
            client.get("/api/2.0/workspace/list", {"path": "/Users"})
        stats = client.stats.as_dict()
        assert set(client.learned_rates()) == {"dbfs"}
        assert client.throttle.cuts == 0      # a rate, not the limit on requests in flight
    assert stats["dbfs"]["throttled"] == server.stats.throttled >= 1
    assert stats["workspace"]["throttled"] == 0
    assert stats["workspace"]["requests"] == 12
    assert server.stats.by_status[200] == 24
