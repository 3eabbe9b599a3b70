"""Adaptive concurrency limit: multiplicative cut per epoch, additive growth, blocking."""

from __future__ import annotations

import threading
from contextlib import ExitStack

import pytest

from dbx_inventory.transport.throttle import Throttle

BOUND = 5.0       # upper bound on any wait that should succeed
SHORT = 0.05      # how long we watch a thread that should stay blocked


def succeed(throttle: Throttle, times: int) -> None:
    for _ in range(times):
        throttle.release(throttle.acquire())


def throttle_once(throttle: Throttle) -> None:
    throttle.release(throttle.acquire(), throttled=True)


def test_limit_starts_at_max():
    t = Throttle(20)
    assert t.limit == 20
    assert t.in_flight == 0


def test_initial_overrides_start():
    assert Throttle(20, initial=5).limit == 5


def test_rejects_max_below_one():
    with pytest.raises(ValueError):
        Throttle(0)


def test_429_cuts_by_decrease_factor():
    t = Throttle(20)
    throttle_once(t)
    assert t.limit == 15          # 20 * 0.75
    assert (t.throttled, t.cuts) == (1, 1)


def test_custom_decrease_factor():
    t = Throttle(20, decrease=0.5)
    throttle_once(t)
    assert t.limit == 10


def test_several_429s_from_one_epoch_cut_once():
    t = Throttle(20)
    epochs = [t.acquire() for _ in range(5)]
    for epoch in epochs:
        t.release(epoch, throttled=True)
    assert t.limit == 15          # one cut, not 20 * 0.75**5 = 4
    assert (t.throttled, t.cuts) == (5, 1)
    assert t.in_flight == 0


def test_429_of_a_later_epoch_cuts_again():
    t = Throttle(20)
    throttle_once(t)              # 20 -> 15
    throttle_once(t)              # started after the cut: 15 -> 11.25
    assert t.limit == 11
    assert t.cuts == 2


def test_stale_429_after_a_cut_does_not_cut():
    t = Throttle(20)
    old = t.acquire()
    throttle_once(t)              # 20 -> 15, new epoch
    t.release(old, throttled=True)
    assert t.limit == 15
    assert (t.throttled, t.cuts) == (2, 1)


def test_never_below_one():
    t = Throttle(1)
    for _ in range(6):
        throttle_once(t)
    assert t.limit == 1
    t2 = Throttle(10, initial=2)
    for _ in range(10):
        throttle_once(t2)
    assert t2.limit == 1
    # ... and a slot is still available
    epoch = t2.acquire()
    assert t2.in_flight == 1
    t2.release(epoch)


def test_successes_grow_limit_back_to_max_but_not_beyond():
    t = Throttle(3, initial=1)
    # by hand: 1 -> 2 (step 1/1) -> 2.5 (1/2) -> 2.9 (1/2.5) -> min(3, 3.24..) = 3
    observed = []
    for _ in range(4):
        succeed(t, 1)
        observed.append(t.limit)
    assert observed == [2, 2, 2, 3]
    succeed(t, 50)
    assert t.limit == 3


def test_success_at_max_stays_at_max():
    t = Throttle(4)
    succeed(t, 100)
    assert t.limit == 4


def test_recovers_after_a_burst_of_429s():
    t = Throttle(8)
    for _ in range(4):
        throttle_once(t)          # 8 -> 6 -> 4.5 -> 3.375 -> 2.53
    assert t.limit == 2
    succeed(t, 2000)
    assert t.limit == 8


def test_recovers_fast_below_the_ceiling_then_probes_slowly():
    # A 429 at limit 16 cuts to 12 and marks 16 as the ceiling.
    fresh = Throttle(20, initial=12)
    burnt = Throttle(20, initial=16)
    throttle_once(burnt)
    assert burnt.limit == fresh.limit == 12
    # Below ceiling - 1 both climb one slot per window (~1/limit per success).
    succeed(fresh, 14)
    succeed(burnt, 14)
    assert fresh.limit == burnt.limit == 13
    succeed(fresh, 13 + 14)
    succeed(burnt, 13 + 14)
    assert fresh.limit == burnt.limit == 15
    # From 15 (ceiling - 1) the burnt one probes 16x slower: 15 steps of 1/15
    # take the fresh one to 16, the burnt one gets 1/16 of the way.
    succeed(fresh, 16)
    succeed(burnt, 16)
    assert fresh.limit == 16
    assert burnt.limit == 15
    succeed(burnt, 15 * 16 + 10)
    assert burnt.limit == 16


def test_acquire_blocks_when_full_and_wakes_on_release():
    t = Throttle(2)
    a = t.acquire()
    t.acquire()
    got = threading.Event()

    def third():
        t.acquire()
        got.set()

    worker = threading.Thread(target=third, daemon=True)
    worker.start()
    assert not got.wait(SHORT)
    assert t.in_flight == 2
    t.release(a)
    assert got.wait(BOUND)
    worker.join(BOUND)
    assert not worker.is_alive()
    assert t.in_flight == 2


def test_acquire_blocks_when_a_cut_leaves_too_many_in_flight():
    t = Throttle(4)
    epochs = [t.acquire() for _ in range(4)]
    t.release(epochs[0], throttled=True)   # limit 3, in flight 3
    assert (t.limit, t.in_flight) == (3, 3)
    got = threading.Event()
    worker = threading.Thread(target=lambda: (t.acquire(), got.set()), daemon=True)
    worker.start()
    assert not got.wait(SHORT)
    t.release(epochs[1])                  # in flight 2 < 3
    assert got.wait(BOUND)
    worker.join(BOUND)
    assert t.in_flight == 3


def test_many_threads_never_exceed_limit():
    t = Throttle(3)
    lock = threading.Lock()
    peak = [0]
    current = [0]
    start = threading.Barrier(8)

    def work():
        start.wait(BOUND)
        for _ in range(50):
            with t.slot():
                with lock:
                    current[0] += 1
                    peak[0] = max(peak[0], current[0])
                with lock:
                    current[0] -= 1

    threads = [threading.Thread(target=work, daemon=True) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(BOUND)
    assert not any(th.is_alive() for th in threads)
    assert 1 <= peak[0] <= 3
    assert t.in_flight == 0


def test_slot_reports_a_429_at_an_unproven_level():
    t = Throttle(20, cluster_min=1)  # every 429 a cluster: the level rules alone
    with t.slot() as slot:
        assert t.in_flight == 1
        assert slot.throttled() is True     # nothing has succeeded yet: may be the cap
    assert t.in_flight == 0
    assert (t.limit, t.throttled, t.cuts) == (15, 1, 1)


def test_slot_leaves_a_429_at_a_proven_level_to_pacing():
    # Two in flight succeeded; a 429 with two in flight was a family's rate, not the cap.
    t = Throttle(20, cluster_min=1)  # every 429 a cluster: the level rules alone
    with t.slot():
        with t.slot():
            pass
    with t.slot():
        with t.slot() as slot:
            assert slot.throttled() is False
    assert (t.limit, t.throttled, t.cuts) == (20, 0, 0)
    with t.slot():
        with t.slot():
            with t.slot() as slot:           # three in flight: never proven
                assert slot.throttled() is True
    assert (t.limit, t.cuts) == (15, 1)


def test_a_cut_forgets_the_proven_level():
    t = Throttle(20, cluster_min=1)  # every 429 a cluster: the level rules alone
    with t.slot():
        pass                                 # level 1 proven in epoch 0
    with t.slot():
        with t.slot() as slot:
            assert slot.throttled() is True  # level 2: unproven, cut -> epoch 1
    with t.slot() as slot:
        assert slot.throttled() is True      # level 1 is unproven again after the cut


def test_slot_released_on_exception():
    t = Throttle(2)
    with pytest.raises(RuntimeError):
        with t.slot():
            raise RuntimeError("boom")
    assert t.in_flight == 0
    assert t.limit == 2


def test_an_isolated_429_is_not_claimed_a_cluster_is():
    # Busy workspaces answer stray 429s far below any limit (issue 27): one is no
    # evidence about requests in flight; 3 of the last 20 answers are.
    t = Throttle(20)
    for _ in range(30):
        with t.slot():
            pass
    with t.slot() as slot:
        assert slot.throttled() is False
    for _ in range(30):
        with t.slot():
            pass
    with t.slot() as slot:
        assert slot.throttled() is False
    assert t.cuts == 0
    for _ in range(30):
        with t.slot():
            pass
    with t.slot() as one, t.slot() as two, t.slot() as three:
        assert one.throttled() is False       # 1 of the last 20 answers
        assert two.throttled() is False       # 2
        assert three.throttled() is True      # 3: a cluster, at level 3, never proven
    assert t.cuts == 1


def test_a_request_refused_again_is_a_cluster_of_its_own():
    t = Throttle(20)
    with t.slot():
        pass                                   # level 1 proven
    with t.slot() as slot:
        assert slot.throttled() is False       # isolated
    with t.slot() as slot:
        assert slot.throttled(again=True) is True   # its retry refused too: no proof holds
    assert t.cuts == 1


def test_a_429_proves_nothing():
    # Two isolated 429s at level 1 (not claimed) left level 1 "proven", and the cluster
    # they began was then the rate's. Only a success proves a level.
    t = Throttle(20)
    with t.slot() as slot:
        assert slot.throttled() is False       # isolated: 1 of the last 20
    with t.slot() as slot:
        assert slot.throttled() is False       # 2
    with t.slot() as slot:
        assert slot.throttled() is True        # 3: a cluster at a level never succeeded
    assert t.cuts == 1


def level_21(throttle: Throttle, answers: str) -> list[bool]:
    """With 20 requests held in flight, one request at level 21 per letter: s a success,
    r a 429; what the throttle said of each 429."""
    said = []
    with ExitStack() as held:
        for _ in range(20):
            held.enter_context(throttle.slot())
        for answer in answers:
            with throttle.slot() as slot:
                assert slot.level == 21
                if answer == "r":
                    said.append(slot.throttled())
    return said


def test_a_proven_level_refused_often_is_contested():
    """32 threads against a cap of 20: this process counts a request until it reads the
    answer, so level 21 succeeds now and then, yet a quarter of its requests are refused:
    those 429s are the cap's, not DBFS's rate (which then held a 9-second scan to 77 s)."""
    t = Throttle(32, cluster_min=1)  # every 429 a cluster: the level rules alone
    assert level_21(t, "sssssss" + "rrr") == [False, False, True]  # 3 of 10 answers
    assert t.cuts == 1


def test_a_proven_level_refused_rarely_leaves_its_429s_to_pacing():
    # A rate refuses requests whatever their level: a few in a hundred.
    t = Throttle(32, cluster_min=1)
    assert level_21(t, "s" * 30 + "r" + "s" * 30 + "r") == [False, False]
    assert t.cuts == 0
