"""Pure parts of the Spark runner: units, budget shares, the job queue's arithmetic,
the row schema, executor settings, error scrubbing. No Spark here (see test_spark_*)."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from conftest import TOKEN
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ClientConfig
from dbx_inventory.runners.modes import Mode
from dbx_inventory.scan.results import RESULT_FIELDS
from dbx_inventory.runners.spark.budget import Budget, shares
from dbx_inventory.runners.spark.job_queue import JobQueue, SparkReady, peak_overlap
from dbx_inventory.runners.spark.runner import add_stats
from dbx_inventory.runners.spark.session import first_line, task_slots
from dbx_inventory.runners.spark.task import REPORT_COLUMN, decode, executor_config, row_schema
from dbx_inventory.runners.spark.units import (CLIENT, MAX_UNIT_USERS, SPARK, JobDone, Unit,
                                               UnitCutter, here_at_most)


def names(n: int) -> list[str]:
    return [f"u{i}@x.com" for i in range(n)]


def cut_all(cutter: UnitCutter, seconds_per_user: float | None = None, share: int = 1) -> list:
    units = []
    while (unit := cutter.next(share)) is not None:
        units.append(unit)
        if seconds_per_user is not None:
            cutter.observed(unit, share, seconds_per_user * len(unit.users), None)
    return units


@pytest.mark.parametrize("users, threads", [(300, 4), (20_000, 8), (3, 8), (1, 1), (40, 4)])
def test_units_cover_every_user_once_in_order(users, threads):
    units = cut_all(UnitCutter(names(users), threads), seconds_per_user=0.01)
    assert [u for unit in units for u in unit.users] == names(users)
    assert [unit.number for unit in units] == list(range(len(units)))
    assert max(len(unit.users) for unit in units) <= MAX_UNIT_USERS


def test_units_start_single_then_sized_to_the_target_then_finer():
    cutter = UnitCutter(names(1000), 4, target_s=4.0)
    units = cut_all(cutter, seconds_per_user=0.2)   # a whole job: 0.2 s per user
    sizes = [len(unit.users) for unit in units]
    assert sizes[0] == 1                            # nothing measured yet
    assert sizes[1] == 20                           # 4 s / 0.2 s per user
    assert max(sizes) == 20
    assert sizes[-1] < 20                           # the end is cut finer ...
    assert min(sizes[1:-1]) >= 5                    # ... down to 1 s of work


def test_unit_sizes_follow_the_share_a_job_holds():
    """Measured at one share, sized for another: twice the requests, twice the users."""
    cutter = UnitCutter(names(2000), 4, target_s=4.0)  # 75 users: the run's cap is far
    first = cutter.next(2)
    cutter.observed(first, 2, 0.2, 0.2)             # 0.4 slot-seconds a user
    assert len(cutter.next(2).users) == 20          # 4 s x 2 / 0.4
    assert len(cutter.next(4).users) == 40


def test_running_jobs_hold_a_small_share_of_the_run():
    """A killed client's jobs run on without it: whatever the per-job time allows, the
    units of the lanes together hold at most ORPHAN_SHARE of the run's users (200
    users on 8 lanes: 3 a unit, where 4 s of work would be 20)."""
    from dbx_inventory.runners.spark.units import ORPHAN_SHARE

    cutter = UnitCutter(names(200), 8, target_s=4.0)
    units = cut_all(cutter, seconds_per_user=0.2)
    assert max(len(unit.users) for unit in units) * 8 <= 200 * ORPHAN_SHARE
    assert sum(len(unit.users) for unit in units) == 200


def test_a_small_run_is_not_cut_into_one_user_jobs():
    """40 users on 4 lanes: 15% would be 1 user a unit, a job's overhead per user; a
    unit may hold ORPHAN_FLOOR (a kill leaves 12 users' scans running at most)."""
    from dbx_inventory.runners.spark.units import ORPHAN_FLOOR

    cutter = UnitCutter(names(40), 4, target_s=4.0)
    units = cut_all(cutter, seconds_per_user=0.05)
    assert max(len(unit.users) for unit in units) == ORPHAN_FLOOR == 3
    assert sum(len(unit.users) for unit in units) == 40


def test_warm_ups_do_not_size_units():
    """A warm-up pays the cluster's start-up: its time is not a job's cost."""
    cutter = UnitCutter(names(100), 2, target_s=4.0)
    cutter.observed(Unit(-1, ()), 1, 30.0, 0.1)     # 30 s of start-up, nobody scanned
    assert len(cutter.next().users) == 1            # nothing measured yet


def test_units_grow_when_spark_overhead_dominates():
    """A loaded server: each job costs 3 s before its executor runs 0.1 s a user. Jobs
    run 5 x 3 s, so the overhead stays a sixth of the time, not three quarters."""
    cutter = UnitCutter(names(1000), 2, target_s=4.0)
    nxt = cutter.next()
    cutter.observed(nxt, 1, 3.1, 0.1)
    assert len(cutter.next().users) == min(150, MAX_UNIT_USERS)  # 15 s / 0.1 s


@pytest.mark.parametrize("budget, threads, expected", [
    (20, 8, [3, 3, 3, 3, 2, 2, 2, 2]),       # 20, not 16
    (20, 4, [5, 5, 5, 5]),
    (1, 1, [1]),
    (7, 3, [3, 2, 2]),
])
def test_shares_sum_to_the_budget(budget, threads, expected):
    assert shares(budget, threads) == expected
    assert sum(shares(budget, threads)) == budget


def test_budget_grows_shares_as_threads_retire_and_never_overspends():
    budget = Budget(20, 8)
    for thread in range(8):
        budget.join(thread)
    taken = {thread: budget.take(thread) for thread in range(8)}
    assert sum(taken.values()) == 20
    budget.give_back(taken[0])
    budget.retire(0)                        # seven threads share 20 now
    budget.give_back(taken[5])
    again = budget.take(5)
    assert again == 3                       # 20 over 7: six of 3, one of 2
    assert budget.peak == 20
    for thread in (1, 2, 3, 4, 6, 7):
        budget.give_back(taken[thread])
        budget.retire(thread)
    budget.give_back(again)
    assert budget.take(5) == 20             # the last job left gets the whole budget


def test_budget_refuses_more_threads_than_requests():
    with pytest.raises(ValueError):
        Budget(2, 3)


def test_the_first_lane_up_has_the_whole_budget_and_shares_shrink_as_lanes_join():
    """After the client lane's scan, a lane that is up starts without waiting for the
    others (they send no request while warming up): its job gets every request, and
    the lanes that join later wait for their share to be free."""
    budget = Budget(20, 4, client=True)
    with budget.alone():
        budget.retire(CLIENT)
    budget.join(0)
    assert budget.take(0) == 20             # lanes 1 to 3 still warm up
    budget.join(1)
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(budget.take(1)))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and not got    # lane 0's job holds all 20
    budget.give_back(20)
    waiter.join(5)
    assert got == [10]
    budget.join(2)
    budget.join(3)
    assert budget.take(0) == 5              # four lanes up now
    assert budget.peak == 20


def test_spark_is_called_slower_only_when_its_jobs_cost_clearly_more_per_user():
    cutter = UnitCutter(names(200), 2)
    assert cutter.spark_costs_more() is None    # nothing measured
    cutter.observed(Unit(0, tuple(names(10))), 10, 1.0, 1.0, CLIENT)  # 1.0 slot-s/user
    assert cutter.spark_costs_more() is None    # Spark not measured yet
    cutter.observed(Unit(1, tuple(names(10))), 10, 1.1, 0.9)          # 1.1: within margin
    assert cutter.spark_costs_more() is None
    cutter.observed(Unit(2, tuple(names(10))), 10, 2.1, 1.0)          # averaged: 1.6
    assert cutter.spark_costs_more() == pytest.approx((1.0, 1.6))


def test_the_continuous_scan_takes_users_one_at_a_time_between_units():
    cutter = UnitCutter(names(10), 2)
    assert [cutter.next_user(), cutter.next_user()] == names(2)
    assert cutter.next(1).users == (names(10)[2],)            # a unit goes on from there
    taken = []
    while (name := cutter.next_user()) is not None:
        taken.append(name)
    assert taken == names(10)[3:]
    assert cutter.next(1) is None
    assert cutter.number() != cutter.number()                 # a fresh number per scan


class Flight:
    """Requests really in flight in a fake run: Spark jobs count their share while
    they run, the client lane one per request between acquire and release (its
    continuous scan)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.lanes: list[str] = []

    def add(self, amount: int, kind: str | None = None) -> None:
        with self.lock:
            self.now += amount
            self.peak = max(self.peak, self.now)
            if kind:
                self.lanes.append(kind)


def fake_local(flight: Flight, seconds: float = 0.0, hold=None):
    """local(users, share, tag, gate): each user 'scanned' with one request through
    the gate; `hold(name)` may block a user's request."""
    def local(users, share, tag, gate):
        for name in users:
            counted = gate.acquire()
            if counted:
                flight.add(1, "client")
            if hold is not None:
                hold(name)
            time.sleep(seconds)
            if counted:
                flight.add(-1)
                gate.release()
            yield name, [name]
        yield None, ["report"]
    return local


def users_in(done) -> list[str]:
    return sorted(u for d in done if isinstance(d, JobDone) for u in d.unit.users)


def warm_ups_pass(submit):
    """A fake submit that answers warm-ups (no users) at once."""
    def wrapped(unit, share, tag):
        if not unit.users:
            return [], 0.0
        return submit(unit, share, tag)
    return wrapped


def test_job_queue_keeps_the_budget_exact_with_real_threads():
    """Jobs held open until released: the shares running at once sum to the budget,
    never more, and later jobs grow when threads run dry."""
    users = names(40)
    lock = threading.Lock()
    running: list[int] = []
    sums: list[int] = []
    gate = threading.Semaphore(0)

    def submit(unit, share, tag):
        with lock:
            running.append(share)
            sums.append(sum(running))
        gate.acquire()
        with lock:
            running.remove(share)
        return [unit.users, share], None

    queue = JobQueue(users, 20, 8, warm_ups_pass(submit), run_id="t", clock=time.time)
    done = []

    def release_all():
        for _ in users:  # at most one job per user
            gate.release()

    releaser = threading.Thread(target=release_all, daemon=True)
    results = queue.start().results()
    # Let the eight first jobs start before releasing any.
    deadline = time.monotonic() + 10
    while len(sums) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sums[7] == 20                    # all eight running: exactly the budget
    releaser.start()
    for job in results:
        done.append(job)
    assert max(sums) <= 20
    assert sorted(u for job in done for u in job.unit.users) == sorted(names(40))
    assert queue.budget.peak == 20
    assert queue.tag == "dbx-inventory-t"


def spark_job(flight: Flight, warm: threading.Event, seconds: float = 0.01):
    """submit(unit, share, tag): warm-ups wait for `warm`; a job holds its share."""
    def run(unit, share, tag):
        if not unit.users:
            warm.wait(10)
            return [], 0.0
        flight.add(share, "spark")
        time.sleep(seconds)
        flight.add(-share)
        return [unit.users], None
    return run


def test_client_lane_scans_while_spark_warms_up_then_hands_over():
    """Warm-ups held open: the client lane scans on, in one continuous scan, with
    the whole budget. Released, the Spark lanes take a share; every user comes back
    once, and requests in flight (client and Spark together) never pass the budget."""
    flight = Flight()
    warm = threading.Event()
    # Jobs of 10 ms: units sized for jobs of 1 ms keep the Spark lanes worth a job.
    queue = JobQueue(names(400), 20, 4, spark_job(flight, warm), run_id="c",
                     clock=time.time, local=fake_local(flight, 0.002), target_s=0.001)
    done = []
    for item in queue.start().results():
        done.append(item)
        if len(users_in(done)) > 100:
            warm.set()
    warm.set()
    assert users_in(done) == sorted(names(400))
    assert flight.peak <= 20 and queue.budget.peak <= 20
    assert "spark" in flight.lanes             # Spark took over once warm
    first = [d for d in done if not d.warmup][:100]
    assert all(d.lane == CLIENT and d.share == 20 for d in first)  # warm-ups send nothing
    assert len({d.unit.number for d in first}) == 1  # one scan, no unit barriers


def test_once_a_spark_lane_joins_the_client_lane_starts_no_new_user():
    """The client lane scans while the executors warm up; the first lane that joins
    ends its feed: it finishes what it holds, every other user goes to Spark, even
    when Spark jobs cost more per user than this machine did."""
    flight = Flight()
    warm = threading.Event()
    queue = JobQueue(names(300), 20, 4, spark_job(flight, warm, 0.05), run_id="h",
                     clock=time.time, local=fake_local(flight, 0.001), target_s=0.001)
    done = []
    for item in queue.start().results():
        done.append(item)
        if len(users_in(done)) >= 30:
            warm.set()
    assert users_in(done) == sorted(names(300))
    here = [u for d in done if d.lane == CLIENT for u in d.unit.users]
    on_spark = [u for d in done if d.lane == SPARK for u in d.unit.users]
    first_spark = next(i for i, d in enumerate(done) if d.lane == SPARK and d.unit.users)
    late = [u for d in done[first_spark:] if d.lane == CLIENT for u in d.unit.users]
    assert len(here) >= 30 and len(on_spark) == 300 - len(here)
    assert late == []  # nothing of this machine's after the first Spark job's rows


def test_the_client_lane_scans_a_fifth_of_the_users_at_most_while_the_executors_start():
    """Executors slow to start: this machine's scan ends after a fifth of the users (as
    a Spark run asks; its closing report comes back), the cluster scans the rest."""
    flight = Flight()
    warm = threading.Event()
    queue = JobQueue(names(101), 20, 4, spark_job(flight, warm), run_id="f",
                     clock=time.time, local=fake_local(flight), target_s=0.001,
                     here_most=here_at_most(101))
    done = []
    for item in queue.start().results():
        done.append(item)
        if isinstance(item, JobDone) and item.lane == CLIENT and item.warmup:
            assert not warm.is_set()
            assert len(users_in(done)) == here_at_most(101) == 20
            warm.set()
    assert warm.is_set()
    assert users_in(done) == sorted(names(101))
    on_spark = [u for d in done if d.lane == SPARK for u in d.unit.users]
    assert len(on_spark) == 81
    assert here_at_most(3) == 1  # the first user shows early however few there are


def test_job_queue_uses_fewer_threads_than_slots_when_the_budget_is_smaller():
    queue = JobQueue(names(10), 3, 8, lambda *a: ([], None), run_id="x",
                     clock=time.time)
    assert queue.threads == 3
    assert shares(3, queue.threads) == [1, 1, 1]


def test_job_queue_hands_a_failure_to_the_caller_and_starts_nothing_more():
    started = []

    def submit(unit, share, tag):
        started.append(unit.number)
        if unit.number == 0:
            raise RuntimeError("worker crashed")
        return [], None

    queue = JobQueue(names(50), 20, 1, warm_ups_pass(submit), run_id="x", clock=time.time)
    with pytest.raises(RuntimeError, match="worker crashed"):
        list(queue.start().results())
    assert started == [0]


def test_the_first_lane_warms_up_alone_and_the_others_after_it():
    """Python workers that start side by side share their cold start: lane 0's warm-up
    runs alone, the other lanes' start once it has returned."""
    events: list = []
    lock = threading.Lock()
    first = threading.Event()

    def submit(unit, share, tag):
        if not unit.users:
            with lock:
                events.append(("start", unit.number))
            if unit.number == -1:
                first.wait(10)   # lane 0's warm-up held open until released below
            with lock:
                events.append(("end", unit.number))
            return [], 0.0
        return [unit.users], None

    queue = JobQueue(names(20), 8, 4, submit, run_id="w", clock=time.time)
    results = queue.start().results()
    waiter = threading.Thread(target=lambda: list(results), daemon=True)
    waiter.start()
    deadline = time.monotonic() + 10
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    with lock:
        assert events == [("start", -1)]    # nothing else while lane 0 warms up
    first.set()
    waiter.join(10)
    assert not waiter.is_alive()
    starts = [number for kind, number in events if kind == "start"]
    assert sorted(starts) == [-4, -3, -2, -1] and starts[0] == -1
    assert events.index(("end", -1)) < events.index(("start", starts[1]))


def test_a_failed_warm_up_stops_the_queue():
    def submit(unit, share, tag):
        raise RuntimeError("no Python on the executors")

    queue = JobQueue(names(5), 4, 2, submit, run_id="x", clock=time.time)
    with pytest.raises(RuntimeError, match="no Python"):
        list(queue.start().results())


def test_peak_overlap_counts_tasks_really_running_at_once():
    assert peak_overlap([(0, 2), (1, 3), (2.5, 4), (5, 6)]) == 2
    assert peak_overlap([(0, 10)] * 4) == 4
    assert peak_overlap([]) == 0


def test_queue_retires_threads_the_cluster_cannot_run():
    """8 threads, but jobs ran one at a time, each waiting for the one before."""
    queue = JobQueue(names(80), 16, 8, lambda *a: ([], None), run_id="x", clock=time.time)
    queued = [(1.0 + i, float(i), i + 0.9) for i in range(16)]  # waited i seconds
    queue.measured(queued)
    assert queue.slots_seen == 1


def test_queue_keeps_its_threads_when_jobs_did_not_wait():
    """Jobs rarely overlapped because Spark's per-job overhead is large, not because
    they queued: no thread is retired."""
    queue = JobQueue(names(80), 16, 4, lambda *a: ([], None), run_id="x", clock=time.time)
    spaced = [(3.0, 3.0 * i, 3.0 * i + 1.0) for i in range(8)]  # 2 s overhead each
    queue.measured(spaced)
    assert queue.slots_seen == 4


def test_schema_carries_every_result_field_and_the_report():
    columns = [part.split()[0] for part in row_schema().split(", ")]
    assert tuple(columns) == RESULT_FIELDS + (REPORT_COLUMN,)
    assert "token" not in row_schema().lower()


def test_report_row_decodes_to_a_dict_and_user_rows_to_results():
    report = decode({**{name: None for name in RESULT_FIELDS},
                     REPORT_COLUMN: '{"worker": "h/pid1", "stats": {"requests": 3}}'})
    assert report == {"worker": "h/pid1", "stats": {"requests": 3}}
    row = decode({"username": "a@x.com", "status": "empty", "file_count": 0,
                  "total_size": 0, "file_source": "none", "error": "",
                  "last_modified_ms": 5.0, REPORT_COLUMN: None})
    assert row.username == "a@x.com" and row.last_modified_ms == 5


def test_executor_config_carries_the_share_and_no_credentials():
    config = ClientConfig(host="https://x", credentials=StaticToken(TOKEN), max_in_flight=20,
                          max_rps=10.0)
    job = executor_config(config, 3, {"dbfs": 6.0})
    assert job.max_in_flight == 3 and job.host == "https://x"
    assert TOKEN not in repr(vars(job)) and job.credentials.headers() == {
        "Authorization": "Bearer "}
    assert job.max_rps == 1.5 and dict(job.family_rates) == {"dbfs": 6.0}
    assert executor_config(config, 0).max_in_flight == 1


def test_cluster_pace_shares_what_the_cluster_learned_by_budget():
    from dbx_inventory.runners.spark.runner import ClusterPace

    pace = ClusterPace(ClientConfig(host="https://x", credentials=StaticToken(TOKEN),
                                    max_in_flight=20))
    assert pace.share(5) == ({}, {})
    pace.learned({"dbfs": 7.5, "workspace": 0}, share=5)  # a quarter of 20 at 7.5/s
    pace.learned({"scim": 1.0}, share=0)                   # a warm-up's: nothing learned
    assert pace.share(5) == ({"dbfs": 7.5}, {}) and pace.share(20) == ({"dbfs": 30.0}, {})
    # Ramps from published rates: the highest a job got to, scaled the same way.
    pace.learned({}, share=5, job_reached={"scim": 2.0})
    pace.learned({}, share=10, job_reached={"scim": 2.0})  # half the budget: 4/s in all
    assert pace.share(5)[1] == {"scim": 2.0}


def test_stats_are_summed_in_one_place_per_api_family():
    total: dict = {}
    add_stats(total, {"dbfs": {"requests": 2, "throttled": 1, "retries": 1,
                               "first_at": 10.0, "last_at": 12.0}})
    add_stats(total, {"dbfs": {"requests": 1, "throttled": 0, "retries": 0,
                               "first_at": 9.0, "last_at": 11.0},
                      "workspace": {"requests": 5, "throttled": 0, "retries": 0,
                                    "first_at": 9.5, "last_at": 13.0}})
    assert total["dbfs"] == {"requests": 3, "throttled": 1, "retries": 1,
                             "first_at": 9.0, "last_at": 12.0}
    assert total["workspace"]["requests"] == 5


class _Conf:
    def __init__(self, values):
        self.values = values

    def get(self, key, default=None):
        return self.values.get(key, default)


class _Session:  # stands in for a pyspark session: only .conf is read
    def __init__(self, values):
        self.conf = _Conf(values)


CONFIG = ClientConfig(host="https://x", credentials=StaticToken(TOKEN))


@pytest.mark.parametrize("values, flag, expected", [
    ({"spark.default.parallelism": "12"}, None, 12),
    ({"spark.master": "local[6]"}, None, 6),
    ({"spark.master": "local-cluster[2,3,1024]"}, None, 6),
    ({}, None, 8),
    ({"spark.default.parallelism": "12"}, 3, 3),  # --spark-tasks wins
])
def test_task_slots(values, flag, expected):
    mode = Mode(True, "x", remote="sc://h", tasks=flag)
    assert task_slots(_Session(values), mode) == expected


def test_errors_lose_the_token():
    exc = RuntimeError(f'<_MultiThreadedRendezvous ... details = "handshake failed for '
                       f'sc://h:443/;token={TOKEN};x=1" ...> Bearer {TOKEN}')
    line = first_line(exc, CONFIG)
    assert TOKEN not in line
    assert line.startswith("RuntimeError: handshake failed")


def test_spark_error_text_goes_through_the_one_scrubber():
    from dbx_inventory import scrub

    scrub.remember("client-secret-XYZ-123")
    config = ClientConfig(host="https://h", credentials=StaticToken(TOKEN))
    line = first_line(RuntimeError("auth failed for client-secret-XYZ-123"), config)
    assert "client-secret-XYZ-123" not in line and "****" in line


def test_the_package_pickles_by_value_without_locks_or_remembered_secrets():
    # Spark ships the package pickled by value and the server logs that plan: module
    # state (locks, thread-locals, remembered secrets) must travel as fresh, empty state.
    import pickle

    from pyspark import cloudpickle

    import dbx_inventory
    from dbx_inventory.transport import deadline
    from dbx_inventory import scrub
    from dbx_inventory.transport.client import ApiClient
    from dbx_inventory.scan.scanner import Scanner

    scrub.remember("driver-only-SECRET-4242")
    with deadline.Deadline(5):
        pass  # the reaper thread and its lock exist in this process now
    cloudpickle.register_pickle_by_value(dbx_inventory)
    try:
        for thing in (Scanner, ApiClient, scrub.scrub, deadline.Deadline):
            data = cloudpickle.dumps(thing)
            assert b"driver-only-SECRET-4242" not in data
        shipped = pickle.loads(cloudpickle.dumps(scrub.scrub))
        assert shipped("x driver-only-SECRET-4242") == "x driver-only-SECRET-4242"
    finally:
        cloudpickle.unregister_pickle_by_value(dbx_inventory)
    assert scrub.scrub("x driver-only-SECRET-4242") == "x ****"


def test_without_a_client_lane_the_first_wave_is_one_user_per_lane():
    cutter = UnitCutter(names(100), 3, target_s=4.0, first_wave=True)
    first = cutter.next(5)
    cutter.observed(first, 5, 0.1, 0.1)         # measured already, yet ...
    assert [len(cutter.next(5).users) for _ in range(2)] == [1, 1]  # ... one each
    assert len(cutter.next(5).users) > 1


def test_without_a_client_lane_lanes_start_together():
    budget = Budget(10, 2)
    budget.join(0)
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(budget.take(0)))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and not got        # lane 1 still warms up
    budget.join(1)
    waiter.join(5)
    assert got == [5]


def test_a_queue_whose_lanes_all_stopped_says_so_rather_than_hang():
    queue = JobQueue(names(5), 4, 2, warm_ups_pass(lambda *a: ([], None)), run_id="x",
                     clock=time.time)
    queue.budget.close()  # every lane finds nothing to take and stops
    with pytest.raises(RuntimeError, match="every lane stopped with 5 users not scanned"):
        list(queue.start().results())


def test_setting_spark_up_borrows_one_request_of_the_budget():
    """The cluster check and the executors' token are workspace requests made while the
    client lane scans: they wait for a free request, and get the first one freed even
    when the scan wants it too."""
    budget = Budget(4, 0, client=True)
    inside = threading.Event()
    leave = threading.Event()

    def setting_up():
        with budget.borrow():
            inside.set()
            leave.wait(5)

    with budget.alone():
        assert all(budget.acquire() for _ in range(4))
        scan = threading.Thread(target=budget.acquire, daemon=True)  # its next request
        scan.start()
        scan.join(0.2)
        assert scan.is_alive()                  # all 4 in use: it waits ...
        borrower = threading.Thread(target=setting_up, daemon=True)
        borrower.start()
        assert not inside.wait(0.2)             # ... and so does setting up
        budget.release()
        assert inside.wait(5)                   # the request freed is setting up's
        scan.join(0.2)
        assert scan.is_alive()                  # never past the 4
        leave.set()
        borrower.join(5)
        scan.join(5)
        assert not scan.is_alive() and budget.peak == 4


def test_spark_lanes_added_once_ready_join_a_queue_the_client_lane_started():
    """The client lane scans from start(); add_spark() brings the Spark lanes later
    (fewer than asked when the budget is smaller), announced by SparkReady."""
    flight = Flight()
    warm = threading.Event()
    warm.set()
    queue = JobQueue(names(300), 3, 0, None, run_id="r", clock=time.time,
                     local=fake_local(flight, 0.001), target_s=0.001)
    results = queue.start().results()
    first = next(results)
    assert isinstance(first, JobDone) and first.lane == CLIENT
    queue.add_spark(8, spark_job(flight, warm, 0.005))
    rest = list(results)
    ready = [item for item in rest if isinstance(item, SparkReady)]
    assert ready == [SparkReady(3)]            # 8 asked, 3 requests in the budget
    assert users_in([first] + rest) == sorted(names(300))
    assert flight.peak <= 3 and queue.budget.peak <= 3


def test_no_spark_job_starts_while_the_continuous_scan_has_the_budget():
    """A lane that joined waits until the client lane's scan has finished its users:
    till then every request of the budget is the scan's, a request at a time."""
    budget = Budget(4, 1, client=True)
    got: list = []
    with budget.alone():
        assert all(budget.acquire() for _ in range(4))
        budget.join(0)
        taker = threading.Thread(target=lambda: got.append(budget.take(0)))
        taker.start()
        budget.release()
        assert budget.acquire()                 # the scan keeps the budget it frees
        more = threading.Thread(target=budget.acquire)
        more.start()
        more.join(0.2)
        assert more.is_alive()                  # never past the 4
        for _ in range(4):
            budget.release()
        more.join(5)
        assert not more.is_alive()
        budget.release()
        taker.join(0.2)
        assert taker.is_alive() and not got     # all free, but the scan still runs
    taker.join(5)
    assert got == [2] and budget.peak == 4      # the scan is over: the job starts
    budget.close()
    assert budget.acquire() is False            # closed: not counted, not waited for


def test_the_client_lanes_rows_reach_the_reader_while_its_scan_runs():
    """Held at its sixth user, the client lane's continuous scan has already handed
    the first five on: rows stream, not unit by unit."""
    release = threading.Event()

    def hold(name):
        if name == names(10)[5]:
            release.wait(10)

    queue = JobQueue(names(10), 4, 0, None, run_id="s", clock=time.time,
                     local=fake_local(Flight(), hold=hold))
    results = queue.start().results()
    early = [next(results) for _ in range(5)]
    assert [d.unit.users for d in early] == [(name,) for name in names(5)]
    assert not release.is_set()                 # the scan is still held
    release.set()
    rest = list(results)
    assert users_in(early + rest) == sorted(names(10))
    assert [d.rows for d in rest if d.warmup] == [["report"]]  # its report, once, last


def test_a_stopped_queue_ends_the_continuous_scan_at_its_next_user():
    """Spark failed while this machine's scan held ten users: the user it finishes
    next is handed over, the rest are dropped (the local fallback scans them), and the
    scan does not finish all ten first."""
    release = threading.Event()

    def local(users, share, tag, gate):
        admitted = list(itertools.islice(users, 10))  # ahead, as the scanner admits
        for name in admitted:
            if name == names(20)[1]:
                release.wait(10)
            yield name, [name]
        yield None, ["report"]

    queue = JobQueue(names(20), 4, 0, None, run_id="f", clock=time.time, local=local)
    results = queue.start().results()
    assert next(results).unit.users == (names(20)[0],)
    queue.stop()
    release.set()
    assert [d.unit.users for d in queue.leftovers(timeout_s=10)] == [(names(20)[1],)]
