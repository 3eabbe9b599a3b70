"""ApiClient over real HTTP against the fake workspace: retries, typed errors, first
contact, query encoding, token hygiene and the in-flight cap. Waits go to a FakeClock."""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

import pytest

from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.clock import Clock, FakeClock
from dbx_inventory.errors import (ApiError, BadRequest, NetworkError, NotAWorkspace,
                                  NotFound, PermissionDenied, ServerError, Throttled,
                                  Unauthenticated, WorkspaceUnreachable)
from dbx_inventory.transport.retry import RetryPolicy
from fake_workspace import FakeWorkspaceServer, Workspace
from conftest import TOKEN
from helpers import closed_port
from oddservers import OddServer

DBFS_LIST = "/api/2.0/dbfs/list"
USERS = "/api/2.0/preview/scim/v2/Users"
HOME = "/Users/a@x.com"


class FixedDraw(random.Random):
    """random() always 0.5, so backoff(n) is exactly 3/4 of its ceiling."""

    def __init__(self):
        super().__init__(0)

    def random(self) -> float:
        return 0.5


class HookClock(FakeClock):
    """A FakeClock that calls on_sleep(n) after its n-th sleep (to lift a fault)."""

    def __init__(self, on_sleep=None):
        super().__init__()
        self.on_sleep = on_sleep

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))


def make_client(url, *, clock=None, token=TOKEN, max_in_flight=20, retry=None, **kw):
    # Unpaced: these tests count the retry waits on the clock; the published starting
    # rates' sleeps are test_pacing's and test_platform's business.
    config = ClientConfig(host=url, credentials=StaticToken(token),
                          max_in_flight=max_in_flight, retry=retry or RetryPolicy(),
                          published_rates=None)
    return ApiClient(config, clock=clock if clock is not None else FakeClock(),
                     rng=FixedDraw(), **kw)




def small_ws() -> Workspace:
    ws = Workspace()
    ws.add_user("a@x.com")
    ws.dbfs.add_file(f"{HOME}/one.csv", size=10, mtime_ms=1000)
    ws.dbfs.add_file(f"{HOME}/two.bin", size=20, mtime_ms=2000)
    return ws


EXPECTED_LISTING = {"files": [
    {"path": f"{HOME}/one.csv", "is_dir": False, "file_size": 10, "modification_time": 1000},
    {"path": f"{HOME}/two.bin", "is_dir": False, "file_size": 20, "modification_time": 2000},
]}


def lift_after(n, action):
    def on_sleep(count):
        if count == n:
            action()
    return on_sleep


def all_text(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


# --- 429 ----------------------------------------------------------------------------

@pytest.mark.parametrize("retry_after,expected_wait", [
    ("2", 2.0),
    ("soon-ish", 1.0),
    (None, 1.0),
    ("600", 120.0),  # capped at RetryPolicy.max_retry_after
])
def test_429_waits_retry_after_then_succeeds(serve, retry_after, expected_wait):
    server = serve(small_ws(), max_in_flight=0, retry_after=retry_after)  # every call 429
    clock = HookClock(lift_after(2, lambda: setattr(server.faults, "max_in_flight", None)))
    with make_client(server.url, clock=clock) as client:
        body = client.get(DBFS_LIST, {"path": HOME})
    assert body == EXPECTED_LISTING
    assert clock.sleeps == [expected_wait, expected_wait]
    assert server.stats.by_status == {429: 2, 200: 1}
    assert client.stats.throttled == 2 and client.stats.retries == 2


def test_429_with_http_date_retry_after(serve):
    server = serve(small_ws(), max_in_flight=0,
                   retry_after=formatdate(time.time() + 30, usegmt=True))
    clock = HookClock(lift_after(1, lambda: setattr(server.faults, "max_in_flight", None)))
    with make_client(server.url, clock=clock) as client:
        assert client.get(DBFS_LIST, {"path": HOME}) == EXPECTED_LISTING
    assert len(clock.sleeps) == 1
    assert 27.0 <= clock.sleeps[0] <= 30.0  # date has whole seconds, a little time passed


def test_always_429_gives_throttled_after_all_attempts(serve):
    server = serve(small_ws(), max_in_flight=0, retry_after="3")
    clock = FakeClock()
    with make_client(server.url, clock=clock, retry=RetryPolicy(attempts=5)) as client:
        with pytest.raises(Throttled) as info:
            client.get(DBFS_LIST, {"path": HOME}, subject=HOME)
    assert server.stats.total_requests == 5
    assert clock.sleeps == [3.0] * 4
    err = info.value
    assert err.status == 429
    assert err.error_code == "REQUEST_LIMIT_EXCEEDED"
    assert err.path == HOME


def test_429_retry_after_zero_is_not_a_busy_loop(serve):
    # A limiter that rounds its refill time down to whole seconds says "0" while it is
    # still throttling: spending every attempt in the same instant cannot succeed.
    server = serve(small_ws(), max_in_flight=0, retry_after="0")
    clock = FakeClock()
    with make_client(server.url, clock=clock) as client:
        with pytest.raises(Throttled):
            client.get(DBFS_LIST, {"path": HOME})
    assert server.stats.total_requests == RetryPolicy().attempts
    assert sum(clock.sleeps) > 0


# --- 5xx and resets -----------------------------------------------------------------

@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retried_with_backoff_then_succeeds(serve, status):
    server = serve(small_ws(), error_rate=1.0, error_statuses=(status,))
    clock = HookClock(lift_after(2, lambda: setattr(server.faults, "error_rate", 0.0)))
    with make_client(server.url, clock=clock) as client:
        body = client.get(DBFS_LIST, {"path": HOME})
    assert body == EXPECTED_LISTING
    # backoff with draw 0.5: ceiling/2 + ceiling/4; ceilings 0.5 then 1.0
    assert clock.sleeps == [0.375, 0.75]
    assert server.stats.by_status == {status: 2, 200: 1}


def test_connection_resets_retried_then_succeeds(serve):
    server = serve(small_ws())
    clock = HookClock(lift_after(3, lambda: setattr(server.faults, "reset_rate", 0.0)))
    with make_client(server.url, clock=clock) as client:
        assert client.get(DBFS_LIST, {"path": HOME}) == EXPECTED_LISTING
        server.faults.reset_rate = 1.0
        assert client.get(DBFS_LIST, {"path": HOME}) == EXPECTED_LISTING
    assert server.stats.resets == 3
    assert server.stats.by_status == {200: 2}
    assert clock.sleeps == [0.375, 0.75, 1.5]


def test_connection_resets_at_first_contact_retried(serve):
    server = serve(small_ws(), reset_rate=1.0)
    clock = HookClock(lift_after(2, lambda: setattr(server.faults, "reset_rate", 0.0)))
    with make_client(server.url, clock=clock) as client:
        assert client.get(DBFS_LIST, {"path": HOME}) == EXPECTED_LISTING
    assert server.stats.resets == 2
    assert clock.sleeps == [0.375, 0.75]


def test_502_html_page_exhausted_is_server_error(serve):
    server = serve(small_ws(), error_rate=1.0, error_statuses=(502,))
    clock = FakeClock()
    with make_client(server.url, clock=clock, retry=RetryPolicy(attempts=3)) as client:
        with pytest.raises(ServerError) as info:
            client.get(DBFS_LIST, {"path": HOME}, subject=HOME)
    assert server.stats.total_requests == 3
    err = info.value
    assert err.status == 502
    assert "502 Bad Gateway" in err.message
    assert "<html" not in str(err)
    assert err.path == HOME


def test_always_failing_path_gives_server_error_after_attempts(serve):
    ws = small_ws()
    server = serve(ws, always_fail_paths={HOME})
    clock = FakeClock()
    with make_client(server.url, clock=clock, retry=RetryPolicy(attempts=4)) as client:
        with pytest.raises(ServerError) as info:
            client.get(DBFS_LIST, {"path": HOME}, subject=HOME)
    assert server.stats.total_requests == 4
    assert server.stats.by_status == {500: 4}
    assert len(clock.sleeps) == 3
    err = info.value
    assert err.status == 500
    assert err.error_code == "INTERNAL_ERROR"
    assert f"Internal error while reading {HOME}" in err.message
    assert err.path == HOME


def test_error_shaped_500_body_parsed(serve):
    server = serve(small_ws(), error_rate=1.0, error_statuses=(500,))
    with make_client(server.url, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(ServerError) as info:
            client.get(DBFS_LIST, {"path": HOME})
    assert server.stats.total_requests == 1
    assert info.value.status == 500
    assert info.value.message.startswith("Internal Server Error: an unexpected error occurred.")
    assert info.value.path == DBFS_LIST  # subject defaults to the API path


# --- 4xx: never retried -------------------------------------------------------------

def test_404_not_retried(serve):
    server = serve(small_ws())
    clock = FakeClock()
    with make_client(server.url, clock=clock) as client:
        with pytest.raises(NotFound) as info:
            client.get(DBFS_LIST, {"path": "/Users/nobody"}, subject="/Users/nobody")
    assert server.stats.total_requests == 1
    assert clock.sleeps == []
    err = info.value
    assert (err.status, err.error_code, err.path) == (404, "RESOURCE_DOES_NOT_EXIST",
                                                     "/Users/nobody")
    assert err.message == "Path (/Users/nobody) doesn't exist."


def test_403_not_retried(serve):
    ws = small_ws()
    ws.dbfs.forbid(f"{HOME}/secret")
    server = serve(ws)
    with make_client(server.url) as client:
        with pytest.raises(PermissionDenied) as info:
            client.get(DBFS_LIST, {"path": f"{HOME}/secret"}, subject="secret dir")
    assert server.stats.total_requests == 1
    err = info.value
    assert (err.status, err.error_code, err.path) == (403, "PERMISSION_DENIED", "secret dir")
    assert err.message == f"User does not have permission to read {HOME}/secret"


def test_400_not_retried(serve):
    ws = small_ws()
    ws.dbfs.mkdir(f"{HOME}/weird")
    ws.dbfs.mark_bad_path(f"{HOME}/weird")
    server = serve(ws)
    with make_client(server.url) as client:
        with pytest.raises(BadRequest) as info:
            client.get(DBFS_LIST, {"path": f"{HOME}/weird"}, subject="weird")
    assert server.stats.total_requests == 1
    err = info.value
    assert (err.status, err.error_code, err.message, err.path) == (
        400, "INVALID_PARAMETER_VALUE", "Invalid request path", "weird")


def test_401_not_retried(serve):
    server = serve(small_ws())
    with make_client(server.url, token="dapi-wrong-token-000000") as client:
        with pytest.raises(Unauthenticated) as info:
            client.get(USERS, subject="SCIM Users")
    assert server.stats.total_requests == 1
    err = info.value
    assert (err.status, err.error_code, err.message, err.path) == (
        401, "UNAUTHENTICATED", "Invalid access token.", "SCIM Users")


def test_scim_shaped_error_body_parsed(serve):
    server = serve(small_ws())
    with make_client(server.url) as client:
        with pytest.raises(BadRequest) as info:
            client.get(USERS, {"startIndex": "abc"}, subject="SCIM Users")
    assert server.stats.total_requests == 1
    err = info.value
    assert (err.status, err.error_code, err.message, err.path) == (
        400, "invalidValue", "startIndex and count must be integers", "SCIM Users")


def test_unknown_endpoint_404(serve):
    server = serve(small_ws())
    with make_client(server.url) as client:
        with pytest.raises(NotFound) as info:
            client.get("/api/2.0/no/such/thing")
    assert server.stats.total_requests == 1
    assert info.value.error_code == "ENDPOINT_NOT_FOUND"
    assert info.value.path == "/api/2.0/no/such/thing"


# --- first contact ------------------------------------------------------------------

def test_unreachable_host_fails_fast_on_fake_clock():
    port = closed_port()
    host = f"http://127.0.0.1:{port}"
    clock = FakeClock()
    policy = RetryPolicy()
    with make_client(host, clock=clock, retry=policy) as client:
        with pytest.raises(WorkspaceUnreachable) as info:
            client.get(USERS, subject="SCIM Users")
    assert host in str(info.value)
    assert "connection refused" in str(info.value)
    # never answered: each wait capped at 1 s, and the total within first_contact_s
    assert all(w <= 1.0 for w in clock.sleeps)
    assert sum(clock.sleeps) <= policy.first_contact_s + 1.0
    assert isinstance(info.value, NetworkError)


def test_unreachable_host_stops_at_first_contact_deadline():
    port = closed_port()
    host = f"http://127.0.0.1:{port}"
    clock = FakeClock()
    policy = RetryPolicy(attempts=1000, first_contact_s=3.0)
    with make_client(host, clock=clock, retry=policy) as client:
        with pytest.raises(WorkspaceUnreachable) as info:
            client.get(USERS)
    assert 3.0 <= sum(clock.sleeps) <= 4.0
    assert host in str(info.value)


def test_unreachable_host_real_clock_under_12s():
    port = closed_port()
    host = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with make_client(host, clock=Clock()) as client:
        with pytest.raises(WorkspaceUnreachable) as info:
            client.get(USERS)
    assert time.monotonic() - started < 12.0
    assert host in str(info.value)


def test_network_error_after_first_contact_is_not_unreachable(serve):
    server = serve(small_ws())
    clock = FakeClock()
    with make_client(server.url, clock=clock, retry=RetryPolicy(attempts=3)) as client:
        client.get(DBFS_LIST, {"path": HOME})
        server.faults.reset_rate = 1.0
        with pytest.raises(NetworkError) as info:
            client.get(DBFS_LIST, {"path": HOME})
    assert not isinstance(info.value, WorkspaceUnreachable)
    assert server.stats.resets == 3


# --- query-string encoding ----------------------------------------------------------

ODD_NAMES = ["with space", "hash#tag", "plus+sign", "o'neil", "100% done", "a&b",
             "what?x=1", "café élève", "数据目录", "rocket 🚀",
             "mix #1 + 'q' é 数据 🚀 50% a&b?c=d"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_directory_names_round_trip(serve, name):
    ws = Workspace()
    folder = f"/Users/é+o'neil@x.com/{name}"
    ws.dbfs.add_file(f"{folder}/f {name}.txt", size=3, mtime_ms=5)
    ws.dbfs.add_file(f"{folder}/plain.txt", size=4, mtime_ms=6)
    ws.dbfs.add_file("/Users/é+o'neil@x.com/decoy/x.txt", size=1)
    server = serve(ws)
    with make_client(server.url) as client:
        body = client.get(DBFS_LIST, {"path": folder})
    assert body == {"files": [
        {"path": f"{folder}/f {name}.txt", "is_dir": False, "file_size": 3,
         "modification_time": 5},
        {"path": f"{folder}/plain.txt", "is_dir": False, "file_size": 4,
         "modification_time": 6},
    ]}


# --- the token never leaks ----------------------------------------------------------

def test_config_repr_hides_token():
    config = ClientConfig(host="https://x.example",
                          credentials=StaticToken(TOKEN))
    assert TOKEN not in repr(config)
    assert TOKEN not in str(config)


def test_token_absent_from_every_error(serve, caplog):
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    other = FakeWorkspaceServer(small_ws(), token="some-other-token").start()
    try:
        with make_client(other.url) as client:  # sends TOKEN, server wants another
            with pytest.raises(Unauthenticated) as info:
                client.get(USERS)
            errors.append(info.value)
    finally:
        other.stop()
    server = serve(small_ws())
    with make_client(server.url, retry=RetryPolicy(attempts=2)) as client:
        for path in ("/Users/missing", HOME):
            if path == HOME:
                server.faults.error_rate = 1.0
            with pytest.raises(ApiError) as info:
                client.get(DBFS_LIST, {"path": path})
            errors.append(info.value)
        server.faults.error_rate = 0.0
        server.faults.reset_rate = 1.0
        with pytest.raises(NetworkError) as info:
            client.get(DBFS_LIST, {"path": HOME})
        errors.append(info.value)
        server.faults.reset_rate = 0.0
        server.faults.max_in_flight = 0
        with pytest.raises(Throttled) as info:
            client.get(DBFS_LIST, {"path": HOME})
        errors.append(info.value)
    with make_client(f"http://127.0.0.1:{closed_port()}") as client:
        with pytest.raises(WorkspaceUnreachable) as info:
            client.get(USERS)
        errors.append(info.value)
        assert TOKEN not in repr(client.config)
    assert [type(e) for e in errors] == [Unauthenticated, NotFound, ServerError,
                                         NetworkError, Throttled, WorkspaceUnreachable]
    for err in errors:
        assert TOKEN not in all_text(err)
        assert "SECRET" not in all_text(err)
    assert TOKEN not in caplog.text


# --- throttle -----------------------------------------------------------------------

def test_client_caps_requests_in_flight(serve):
    ws = small_ws()
    server = serve(ws, latency_s=0.05)
    with make_client(server.url, max_in_flight=4) as client:
        with ThreadPoolExecutor(16) as pool:
            bodies = list(pool.map(lambda _: client.get(DBFS_LIST, {"path": HOME}),
                                   range(40)))
    assert bodies == [EXPECTED_LISTING] * 40
    assert server.stats.total_requests == 40
    assert 2 <= server.stats.peak_in_flight <= 4


def test_client_learns_server_concurrency_limit(serve):
    server = serve(small_ws(), latency_s=0.05, max_in_flight=5, retry_after="0")
    barrier = threading.Barrier(12)

    def one(_):
        barrier.wait(timeout=10)
        return client.get(DBFS_LIST, {"path": HOME})

    with make_client(server.url, max_in_flight=12) as client:
        with ThreadPoolExecutor(12) as pool:
            bodies = list(pool.map(one, range(12))) + \
                list(pool.map(lambda _: client.get(DBFS_LIST, {"path": HOME}), range(36)))
        assert client.throttle.limit < 12
        assert client.throttle.cuts >= 1
    assert bodies == [EXPECTED_LISTING] * 48
    assert server.stats.throttled >= 1
    assert server.stats.by_status[200] == 48
    assert server.stats.total_requests == 48 + server.stats.throttled


# --- hangs: a wall-clock deadline per request ---------------------------------------

ME = "/api/2.0/preview/scim/v2/Me"


def test_silent_server_at_first_contact_gives_up_at_the_first_contact_bound():
    # Accepts the connection, reads the request, never answers: was 120 s (read timeout).
    with OddServer(lambda path: "silent") as server:
        started = time.monotonic()
        with make_client(server.url, clock=Clock(),
                         retry=RetryPolicy(first_contact_s=1.0)) as client:
            with pytest.raises(WorkspaceUnreachable, match="no complete answer within 1 s"):
                client.get(ME)
    assert time.monotonic() - started < 10  # bounded by the deadline, not a socket timeout


def test_body_dripped_one_byte_at_a_time_hits_the_request_deadline():
    # Each byte restarts a socket timeout, so only a wall-clock deadline can end this.
    answers = iter([{"userName": "me@x.com"}])
    with OddServer(lambda path: next(answers, "drip")) as server:
        with make_client(server.url, retry=RetryPolicy(deadline_s=1.0, attempts=2)) as client:
            client.get(ME)  # the workspace has answered once
            started = time.monotonic()
            with pytest.raises(NetworkError, match="no complete answer within 1 s"):
                client.get(DBFS_LIST, {"path": HOME})
    assert time.monotonic() - started < 10
    assert len(server.requests) == 3  # both tries were made


# --- shapes: a host that answers 200 with any JSON is not a workspace ----------------

@pytest.mark.parametrize("api_path, body", [
    (ME, {"hello": "world"}),                        # /Me without userName
    (ME, {"userName": ""}),
    (DBFS_LIST, []),                                 # a listing that is not an object
    (DBFS_LIST, {"status": "ok"}),                   # an object without files
    (DBFS_LIST, {"files": "none"}),
    ("/api/2.0/workspace/list", {"files": []}),      # the other API's key
    (USERS, {"ok": True}),                           # SCIM without totalResults
])
def test_answers_of_the_wrong_shape_mean_not_a_workspace(api_path, body):
    with OddServer(lambda path: body) as server:
        with make_client(server.url) as client:
            with pytest.raises(NotAWorkspace, match="does not look like a Databricks "
                                                    "workspace"):
                client.get(api_path, {"path": HOME})


@pytest.mark.parametrize("api_path, body", [
    (DBFS_LIST, {}), (DBFS_LIST, {"files": []}), ("/api/2.0/workspace/list", {}),
    (USERS, {"totalResults": 0, "schemas": []}), (ME, {"userName": "me@x.com"}),
])
def test_answers_of_the_right_shape_pass(api_path, body):
    with OddServer(lambda path: body) as server:
        with make_client(server.url) as client:
            assert client.get(api_path, {"path": HOME}) == body


def test_server_error_text_that_echoes_the_token_is_scrubbed(serve):
    server = serve(small_ws(), always_fail_paths={HOME}, echo_auth=True)
    with make_client(server.url, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(ServerError) as info:
            client.get(DBFS_LIST, {"path": HOME})
    assert "Authorization: ****" in str(info.value)
    assert TOKEN not in str(info.value)


def test_an_http_proxy_from_the_environment_gets_the_full_url(serve, monkeypatch):
    """HTTP_PROXY is honoured: the request goes to the proxy with the workspace's full URL
    (the fake server answers as a proxy would, from the path of that URL)."""
    proxy = serve(small_ws())
    seen: list[str] = []
    decide = proxy._decide

    def recording(h, *args):
        seen.append(h.path)
        return decide(h, *args)

    monkeypatch.setattr(proxy, "_decide", recording)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with make_client("http://workspace.invalid") as client:
        body = client.get(DBFS_LIST, {"path": HOME})
    assert sorted(f["path"] for f in body["files"]) == [f"{HOME}/one.csv", f"{HOME}/two.bin"]
    assert seen == ["http://workspace.invalid/api/2.0/dbfs/list?path=%2FUsers%2Fa%40x.com"]
