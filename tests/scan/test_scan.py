"""The Scanner over real HTTP: results equal the fake's ground truth, each dir listed once."""

from __future__ import annotations

import threading

import pytest

from conftest import TOKEN
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.errors import Unauthenticated, WorkspaceOutage
from dbx_inventory.scan.results import NO_HOME
from dbx_inventory.transport.retry import RetryPolicy
from dbx_inventory.scan.scanner import Scanner
from dbx_inventory.scan.filesystems import DBFS, WORKSPACE
from fake_workspace import Workspace, generate_workspace


def make_client(server, n: int = 10, token: str = TOKEN) -> ApiClient:
    return ApiClient(ClientConfig(host=server.url, credentials=StaticToken(token),
                                  max_in_flight=n,
                                  retry=RetryPolicy(base_delay=0.01, max_delay=0.05)))


def scan(server, names, n: int = 10, **options) -> dict:
    with make_client(server, n) as client:
        rows = list(Scanner(client, **options).scan(names))
    assert sorted(r.username for r in rows) == sorted(names), "each user exactly once"
    return {r.username: r for r in rows}


def expected(truth) -> dict:
    """What a row must say, derived from the fake's truth alone."""
    files = truth.dbfs_files + truth.workspace_files
    failed = truth.forbidden_dirs + truth.bad_path_dirs
    read = truth.listings - failed
    no_home = not truth.dbfs_home_exists and not truth.workspace_home_exists
    status = "error" if failed or no_home else ("success" if files else "empty")
    if truth.dbfs_files and truth.workspace_files:
        source = "both"
    elif truth.dbfs_files:
        source = "dbfs"
    elif truth.workspace_files:
        source = "workspace"
    else:
        source = "none"
    if status == "error" and read == 0:
        source = "unknown"
    return {"status": status, "file_source": source, "file_count": files,
            "total_size": truth.dbfs_bytes + truth.workspace_bytes,
            "dbfs_files": truth.dbfs_files, "dbfs_bytes": truth.dbfs_bytes,
            "workspace_files": truth.workspace_files,
            "workspace_bytes": truth.workspace_bytes,
            "last_modified_ms": truth.newest_mtime_ms, "listings": read}


def actual(row) -> dict:
    return {key: getattr(row, key) for key in (
        "status", "file_source", "file_count", "total_size", "dbfs_files", "dbfs_bytes",
        "workspace_files", "workspace_bytes", "last_modified_ms", "listings")}


def assert_equals_truth(ws: Workspace, rows: dict) -> None:
    wrong = {name: (actual(row), expected(ws.truth(name))) for name, row in rows.items()
             if actual(row) != expected(ws.truth(name))}
    assert wrong == {}
    for name, row in rows.items():
        assert bool(row.error) == (row.status == "error"), name


# -- many users, no faults ----------------------------------------------------------------

@pytest.fixture(scope="module")
def generated():
    return generate_workspace(60, seed=11)


def test_generated_workspace_equals_truth(serve, generated):
    server = serve(generated)
    names = [u.user_name for u in generated.users]
    rows = scan(server, names)
    assert_equals_truth(generated, rows)
    statuses = {row.status for row in rows.values()}
    assert statuses == {"success", "empty", "error"}  # the mix really was exercised
    assert server.stats.duplicate_listings() == {}


def test_every_directory_listed_exactly_once(serve):
    ws = generate_workspace(40, seed=5, forbidden_subtrees=0)
    server = serve(ws)
    names = [u.user_name for u in ws.users]
    rows = scan(server, names, n=8)
    assert_equals_truth(ws, rows)
    assert server.stats.duplicate_listings() == {}
    assert server.stats.successful_listings == ws.min_listings()
    assert sum(row.listings for row in rows.values()) == ws.min_listings()


def test_single_thread_scan_equals_truth(serve, generated):
    server = serve(generated)
    names = [u.user_name for u in generated.users][:15]
    assert_equals_truth(generated, scan(server, names, n=1))


# -- hand-built cases ---------------------------------------------------------------------

def test_403_subtree_is_error_keeping_counts(serve):
    ws = Workspace()
    u = "p@x.com"
    ws.dbfs.add_file(f"/Users/{u}/ok/a.csv", size=100)
    ws.dbfs.add_file(f"/Users/{u}/secret/hidden.csv", size=5000)
    ws.dbfs.forbid(f"/Users/{u}/secret")
    ws.workspace.add_notebook(f"/Users/{u}/nb")
    server = serve(ws)
    row = scan(server, [u])[u]
    assert row.status == "error"
    assert (row.file_count, row.total_size) == (2, 100)  # what could be read
    assert (row.dbfs_files, row.workspace_files) == (1, 1)
    assert row.file_source == "both"
    assert "403" in row.error and "DBFS" in row.error
    assert f"/Users/{u}/secret" in row.error
    assert_equals_truth(ws, {u: row})


def test_forbidden_home_is_error_unknown_source(serve):
    ws = Workspace()
    u = "denied@x.com"
    ws.workspace.forbid(f"/Users/{u}")
    server = serve(ws)
    row = scan(server, [u])[u]
    assert (row.status, row.file_source, row.file_count) == ("error", "unknown", 0)
    assert "Workspace" in row.error and "403" in row.error
    assert_equals_truth(ws, {u: row})


def test_forbidden_home_with_readable_other_side(serve):
    ws = Workspace()
    u = "half@x.com"
    ws.workspace.forbid(f"/Users/{u}")
    ws.dbfs.mkdir(f"/Users/{u}")
    server = serve(ws)
    row = scan(server, [u])[u]
    # DBFS was read (empty), the Workspace was not: error, and the source says none.
    assert (row.status, row.file_source) == ("error", "none")
    assert_equals_truth(ws, {u: row})


def test_always_failing_path_gives_up_with_error(serve):
    ws = Workspace()
    u = "flaky@x.com"
    ws.workspace.add_file(f"/Users/{u}/good/x.py", size=11)
    ws.workspace.add_file(f"/Users/{u}/broken/y.py", size=22)
    ws.dbfs.add_file(f"/Users/{u}/d.csv", size=33)
    server = serve(ws, always_fail_paths={f"workspace:/Users/{u}/broken"})
    row = scan(server, [u])[u]
    assert row.status == "error"
    assert "gave up" in row.error
    assert "500" in row.error and f"/Users/{u}/broken" in row.error
    assert row.error.startswith("Workspace:")
    assert (row.file_count, row.total_size) == (2, 44)
    assert row.file_source == "both"


def test_transient_failures_then_success_are_not_errors(serve):
    ws = Workspace()
    u = "retry@x.com"
    ws.dbfs.add_file(f"/Users/{u}/sub/f", size=9)
    server = serve(ws, fail_first_n_requests_for_path={f"dbfs:/Users/{u}/sub": 3,
                                                       f"/Users/{u}": 2})
    row = scan(server, [u])[u]
    assert (row.status, row.file_count, row.total_size, row.error) == ("success", 1, 9, "")


def test_exhausted_429_is_error_not_dropped(serve):
    ws = Workspace()
    u = "throttled@x.com"
    ws.dbfs.add_file(f"/Users/{u}/top.csv", size=4)
    ws.dbfs.add_file(f"/Users/{u}/sub/below.csv", size=8)
    # One token in the bucket, refilled far too slowly: the home listing gets it, the
    # subdirectory is answered 429 on every try.
    server = serve(ws, rate_limit_per_s=0.001, rate_limit_burst=1, retry_after="0")
    row = scan(server, [u], walkers=(DBFS,))[u]
    assert row.status == "error"
    assert "429" in row.error and f"/Users/{u}/sub" in row.error
    assert (row.file_count, row.total_size) == (1, 4)
    assert server.stats.throttled >= 2


def test_bad_path_400_is_error_not_retried(serve):
    ws = Workspace()
    u = "bad@x.com"
    ws.workspace.add_file(f"/Users/{u}/fine.txt", size=5)
    ws.workspace.mkdir(f"/Users/{u}/weird")
    ws.workspace.mark_bad_path(f"/Users/{u}/weird")
    server = serve(ws)
    row = scan(server, [u])[u]
    assert row.status == "error"
    assert "400" in row.error and f"/Users/{u}/weird" in row.error
    assert (row.file_count, row.total_size, row.file_source) == (1, 5, "workspace")
    assert server.stats.listing_attempts[("workspace", f"/Users/{u}/weird")] == 1
    assert_equals_truth(ws, {u: row})


def test_missing_homes(serve):
    ws = Workspace()
    ws.dbfs.add_file("/Users/dbfsonly@x.com/a", size=1)
    ws.workspace.add_file("/Users/wsonly@x.com/b", size=2)
    ws.dbfs.mkdir("/Users/emptyone@x.com")
    server = serve(ws)
    rows = scan(server, ["dbfsonly@x.com", "wsonly@x.com", "emptyone@x.com", "ghost@x.com"])
    assert (rows["dbfsonly@x.com"].status, rows["dbfsonly@x.com"].file_source) == \
        ("success", "dbfs")
    assert (rows["wsonly@x.com"].status, rows["wsonly@x.com"].file_source) == \
        ("success", "workspace")
    assert (rows["emptyone@x.com"].status, rows["emptyone@x.com"].file_source) == \
        ("empty", "none")
    ghost = rows["ghost@x.com"]
    assert (ghost.status, ghost.file_source, ghost.error) == ("error", "unknown", NO_HOME)
    assert_equals_truth(ws, rows)


def test_single_side_scan_missing_home_names_that_side(serve):
    ws = Workspace()
    ws.workspace.add_file("/Users/w@x.com/b", size=2)
    server = serve(ws)
    row = scan(server, ["w@x.com"], walkers=(DBFS,))["w@x.com"]
    assert row.status == "error" and "DBFS" in row.error
    row = scan(server, ["w@x.com"], walkers=(WORKSPACE,))["w@x.com"]
    assert (row.status, row.file_count, row.total_size) == ("success", 1, 2)


def test_404_below_home_while_walking_is_not_an_error(serve):
    """A directory deleted between its parent's listing and its own is simply gone."""
    ws = Workspace()
    u = "moving@x.com"
    ws.dbfs.add_file(f"/Users/{u}/keep/a", size=1)
    ws.dbfs.add_file(f"/Users/{u}/doomed/b", size=2)
    server = serve(ws)

    class DeletingClient(ApiClient):
        def get(self, api_path, params=None, *, subject=None):
            body = super().get(api_path, params, subject=subject)
            if api_path.endswith("dbfs/list") and params["path"] == f"/Users/{u}":
                home = ws.dbfs.dirs[f"/Users/{u}"]
                del home.subdirs["doomed"]
                del ws.dbfs.dirs[f"/Users/{u}/doomed"]
            return body

    client = DeletingClient(make_client(server).config)
    with client:
        row = next(Scanner(client).scan([u]))
    assert (row.status, row.file_count, row.total_size, row.error) == ("success", 1, 1, "")
    assert server.stats.by_status[404] >= 2  # the doomed dir and the missing Workspace home


ODD_USERS = ["first last@x.com", "hash#1@x.com", "plus+tag@x.com", "o'neil@x.com",
             "100%.sure@x.com", "r&d@x.com", "who?@x.com", "josé.núñez@x.com", "李雷@x.cn",
             "dev🙂@x.com", "Zoë.Ångström@x.com"]


def test_odd_user_and_path_names(serve):
    ws = Workspace()
    for i, name in enumerate(ODD_USERS):
        ws.add_user(name)
        ws.dbfs.add_file(f"/Users/{name}/dir #{i} é/数据 🚀 {i}%.csv", size=10 + i)
        ws.workspace.add_file(f"/Users/{name}/a+b & c?/o'neil {i}.py", size=100 + i)
        ws.workspace.add_notebook(f"/Users/{name}/naïve résumé #{i}")
    ws.workspace.mkdir("/Users/nested space dir@x.com")
    server = serve(ws)
    rows = scan(server, ODD_USERS)
    assert_equals_truth(ws, rows)
    for i, name in enumerate(ODD_USERS):
        row = rows[name]
        assert (row.status, row.file_count, row.total_size) == ("success", 3, 110 + 2 * i)
    assert server.stats.by_status.get(400, 0) == 0
    assert server.stats.by_status.get(404, 0) == 0


def test_unauthenticated_mid_run_stops_the_scan(serve):
    ws = Workspace()
    ws.dbfs.add_file("/Users/a@x.com/f", size=1)
    server = serve(ws)
    with make_client(server, token="dapi-wrong") as client:
        with pytest.raises(Unauthenticated):
            list(Scanner(client).scan(["a@x.com", "b@x.com"]))


# -- under faults -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean_ws():
    return generate_workspace(30, seed=21, forbidden_subtrees=0, large_dir_size=500)


def test_transient_5xx_and_resets_equal_truth(serve, clean_ws):
    server = serve(clean_ws, error_rate=0.2, reset_rate=0.05, retry_after="0")
    names = [u.user_name for u in clean_ws.users]
    rows = scan(server, names)
    assert_equals_truth(clean_ws, rows)
    assert all(row.error == "" for row in rows.values() if row.status != "error")
    assert server.stats.injected_5xx > 0 and server.stats.resets > 0
    assert server.stats.duplicate_listings() == {}
    assert server.stats.successful_listings == clean_ws.min_listings()


def test_concurrency_limit_429_equals_truth(serve, clean_ws):
    server = serve(clean_ws, max_in_flight=3, retry_after="0", latency_s=0.002)
    names = [u.user_name for u in clean_ws.users]
    rows = scan(server, names, n=10)
    assert_equals_truth(clean_ws, rows)
    assert server.stats.throttled > 0
    assert server.stats.duplicate_listings() == {}
    assert server.stats.successful_listings == clean_ws.min_listings()


def test_all_faults_together_equal_truth(serve, generated):
    server = serve(generated, error_rate=0.2, reset_rate=0.05, max_in_flight=3,
                   retry_after="0")
    names = [u.user_name for u in generated.users]
    rows = scan(server, names, n=10)
    assert_equals_truth(generated, rows)
    assert server.stats.duplicate_listings() == {}


# -- error kinds, outages, stalls -----------------------------------------------------------

def test_error_rows_say_whether_their_cause_was_transient(serve):
    ws = Workspace()
    ws.dbfs.add_file("/Users/flaky@x.com/broken/y.csv", size=1)
    ws.dbfs.add_file("/Users/denied@x.com/secret/y.csv", size=1)
    ws.dbfs.forbid("/Users/denied@x.com/secret")
    server = serve(ws, always_fail_paths={"dbfs:/Users/flaky@x.com/broken"})
    rows = scan(server, ["flaky@x.com", "denied@x.com", "nohome@x.com"], walkers=(DBFS,))
    assert rows["flaky@x.com"].error_kind == "transient" and rows["flaky@x.com"].transient
    assert rows["denied@x.com"].error_kind == "final"
    assert rows["nohome@x.com"].error_kind == "final"


def outage_client(server, limit_s: float) -> ApiClient:
    policy = RetryPolicy(base_delay=0.01, max_delay=0.05, outage_limit_s=limit_s)
    return ApiClient(ClientConfig(host=server.url, credentials=StaticToken(TOKEN),
                                  max_in_flight=4, retry=policy))


def test_outage_that_ends_in_time_leaves_results_exact(serve, clean_ws):
    server = serve(clean_ws)
    names = [u.user_name for u in clean_ws.users[:8]]
    events = []

    def notice(event, down_for, detail):
        events.append(event)
        if event == "down":
            server.faults.down = False  # it comes back once the outage is noticed

    with outage_client(server, limit_s=60) as client:
        client.get("/api/2.0/preview/scim/v2/Me")  # the workspace has answered once
        client.outage.notify = notice
        server.faults.down = True
        rows = {r.username: r for r in Scanner(client).scan(names)}
    assert events[0] == "down" and events[-1] == "up"
    assert sorted(rows) == sorted(names)
    assert all("connection" not in row.error for row in rows.values())
    assert_equals_truth(clean_ws, rows)


def test_outage_past_its_limit_stops_the_scan_recording_nobody_in_flight(serve, clean_ws):
    server = serve(clean_ws)
    names = [u.user_name for u in clean_ws.users[:8]]
    with outage_client(server, limit_s=0.3) as client:
        client.get("/api/2.0/preview/scim/v2/Me")
        server.faults.down = True
        rows = []
        with pytest.raises(WorkspaceOutage, match="has not answered"):
            for row in Scanner(client).scan(names):
                rows.append(row)
    assert rows == []  # no transient failure became a row


def test_a_stalled_scan_says_what_it_waits_for(serve):
    ws = Workspace()
    ws.dbfs.add_file("/Users/slow@x.com/f.csv", size=1)
    release = threading.Event()
    server = serve(ws, hold=release, hold_paths={"dbfs:/Users/slow@x.com"})
    lines = []

    def notice(line):
        lines.append(line)
        release.set()  # said once: now let the listing answer

    try:
        with make_client(server) as client:
            rows = list(Scanner(client, walkers=(DBFS,), notice=notice,
                                stall_notice_s=0.2).scan(["slow@x.com"]))
    finally:
        release.set()
    assert rows[0].file_count == 1
    assert len(lines) == 1
    assert "no listing has finished" in lines[0] and "DBFS /Users/slow@x.com" in lines[0]

