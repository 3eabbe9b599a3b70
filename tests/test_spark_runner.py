"""Pure parts of the Spark runner: task planning, the row schema, error scrubbing."""

from __future__ import annotations

import pytest

from conftest import TOKEN
from dbx_inventory.modes import Mode
from dbx_inventory.auth import StaticToken
from dbx_inventory.client import ClientConfig
from dbx_inventory.results import RESULT_FIELDS
from dbx_inventory.spark_runner import _first_line, plan_tasks, result_schema, task_slots


def names(n: int) -> list[str]:
    return [f"u{i}@x.com" for i in range(n)]


@pytest.mark.parametrize("users, slots, tasks, largest", [
    (300, 4, 16, 19),     # 4 tasks per slot: ceil(300 / 16) = 19 users each
    (20_000, 8, 625, 32),  # capped at 32 users a task: 20000 / 32 = 625 tasks
    (3, 8, 3, 1),          # never more tasks than users
    (1, 1, 1, 1),
])
def test_plan_tasks_sizes(users, slots, tasks, largest):
    plan = plan_tasks(names(users), slots)
    assert len(plan) == tasks
    assert max(len(t) for t in plan) == largest
    # Every user once, in input order.
    assert [u for t in plan for u in t] == names(users)


def test_schema_carries_every_result_field_and_nothing_else():
    columns = [part.split()[0] for part in result_schema().split(", ")]
    assert tuple(columns) == RESULT_FIELDS
    assert "token" not in result_schema().lower()


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
    line = _first_line(exc, CONFIG)
    assert TOKEN not in line
    assert line.startswith("RuntimeError: handshake failed")


def test_spark_error_text_goes_through_the_one_scrubber():
    from dbx_inventory import scrub

    scrub.remember("client-secret-XYZ-123")
    config = ClientConfig(host="https://h", credentials=StaticToken(TOKEN))
    line = _first_line(RuntimeError("auth failed for client-secret-XYZ-123"), config)
    assert "client-secret-XYZ-123" not in line and "****" in line


def test_the_package_pickles_by_value_without_locks_or_remembered_secrets():
    # Spark ships the package pickled by value and the server logs that plan: module
    # state (locks, thread-locals, remembered secrets) must travel as fresh, empty state.
    import pickle

    from pyspark import cloudpickle

    import dbx_inventory
    from dbx_inventory import deadline, scrub
    from dbx_inventory.client import ApiClient
    from dbx_inventory.scan import Scanner

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
