"""--all-homes discovery against the fake workspace over HTTP: who is found, in what
order, with what status, and what happens when a file system's /Users cannot be listed."""

from __future__ import annotations

import pytest

from conftest import TOKEN
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.clock import FakeClock
from dbx_inventory.scan.discover import (Directory, discover, left_behind_line, list_homes,
                                    read_directory)
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.filesystems import DBFS, WORKSPACE
from fake_workspace import Workspace

APP_ID = "6f1c2e7a-0b4d-4c3e-9a51-2d7f8e9b0c11"


def workspace() -> Workspace:
    ws = Workspace()
    ws.add_user("zoe@x.com")                   # SCIM order is not name order
    ws.add_user("amy@x.com", active=False)
    ws.add_user("Mixed.Case@x.com")
    ws.add_service_principal(APP_ID, "etl")
    ws.add_service_principal("11111111-2222-4333-8444-555555555555", "no home")
    for name in ("zoe@x.com", "amy@x.com"):
        ws.dbfs.mkdir(f"/Users/{name}")
        ws.workspace.mkdir(f"/Users/{name}")
    ws.workspace.mkdir("/Users/mixed.case@x.com")  # same user, other case: not removed
    ws.workspace.add_notebook(f"/Users/{APP_ID}/job")
    ws.dbfs.add_file("/Users/gone.both@x.com/a.csv", size=10)
    ws.workspace.add_file("/Users/gone.both@x.com/b.py", size=5)
    ws.dbfs.add_file("/Users/gone.dbfs@x.com/c.csv", size=7)
    ws.workspace.mkdir("/Users/bob.gone@x.com")
    return ws


def client_for(server) -> ApiClient:
    return ApiClient(ClientConfig(host=server.url,
                                  credentials=StaticToken(TOKEN)),
                     clock=FakeClock())


def test_scim_order_then_every_other_home_sorted_with_statuses(serve):
    ws = workspace()
    server = serve(ws, scim_max_page=2)  # short pages: paging must not skip anyone
    warnings = []
    with client_for(server) as client:
        found = discover(client, (DBFS, WORKSPACE), warn=warnings.append)
    assert found.users == ["zoe@x.com", "amy@x.com", "Mixed.Case@x.com", APP_ID,
                           "bob.gone@x.com", "gone.both@x.com", "gone.dbfs@x.com"]
    assert found.statuses == {"zoe@x.com": "active", "amy@x.com": "inactive",
                              "Mixed.Case@x.com": "active", APP_ID: "service_principal",
                              "bob.gone@x.com": "removed", "gone.both@x.com": "removed",
                              "gone.dbfs@x.com": "removed"}
    assert found.users[4:] == ws.removed_homes()  # the fake's own ground truth
    assert found.homes == {"DBFS": 4, "WORKSPACE": 6}
    assert found.incomplete == {} and warnings == []
    # One listing of /Users per file system, nothing below it.
    assert dict(server.stats.listings) == {("dbfs", "/Users"): 1, ("workspace", "/Users"): 1}


def test_only_the_scanned_file_systems_are_listed(serve):
    server = serve(workspace())
    with client_for(server) as client:
        found = discover(client, (WORKSPACE,), warn=print)
    assert "gone.dbfs@x.com" not in found.users and "gone.both@x.com" in found.users
    assert set(server.stats.listings) == {("workspace", "/Users")}


def test_dbfs_that_cannot_be_listed_is_reported_and_the_rest_still_counts(serve):
    ws = workspace()
    ws.dbfs.forbid("/Users")  # as on a workspace with the DBFS root disabled
    server = serve(ws)
    warnings = []
    with client_for(server) as client:
        found = discover(client, (DBFS, WORKSPACE), warn=warnings.append)
    assert "gone.both@x.com" in found.users and "bob.gone@x.com" in found.users
    assert "gone.dbfs@x.com" not in found.users  # only DBFS knew it: honestly missing
    assert list(found.incomplete) == ["DBFS"] and "403" in found.incomplete["DBFS"]
    assert len(warnings) == 1 and "DBFS discovery incomplete" in warnings[0]
    assert "dbfs:/Users" in warnings[0]


def test_a_slow_or_failing_users_listing_is_retried_like_any_listing(serve):
    server = serve(workspace(), fail_first_n_requests_for_path={"dbfs:/Users": 3})
    with client_for(server) as client:
        assert "gone.dbfs@x.com" in list_homes(client, DBFS)
    assert server.stats.listing_attempts[("dbfs", "/Users")] == 4


def test_no_users_folder_at_all_is_an_empty_complete_listing(serve):
    ws = Workspace()
    ws.add_user("only@x.com")
    ws.workspace.mkdir("/Users/only@x.com")
    server = serve(ws)
    warnings = []
    with client_for(server) as client:
        found = discover(client, (DBFS, WORKSPACE), warn=warnings.append)
    assert found.users == ["only@x.com"] and found.incomplete == {} and not warnings
    assert found.homes == {"DBFS": 0, "WORKSPACE": 1}


def test_statuses_come_from_one_paged_read_not_one_request_per_user(serve):
    ws = Workspace()
    for i in range(23):
        ws.add_user(f"u{i}@x.com", active=i % 5 != 0)
    server = serve(ws, scim_max_page=10)
    with client_for(server) as client:
        directory = read_directory(client)
    assert len(directory.users) == 23
    # 1000 asked, 10 given: pages of 10, 10, 3, then the empty page that ends the list
    # (totalResults is not trusted as the end: issue 27).
    assert server.stats.by_endpoint["scim/Users"] == 4
    assert server.stats.by_endpoint["scim/ServicePrincipals"] == 1


@pytest.mark.parametrize("name, status", [
    ("A@X.COM", "active"), ("b@x.com", "inactive"), (APP_ID.upper(), "service_principal"),
    ("nobody@x.com", "removed")])
def test_directory_status_of(name, status):
    directory = Directory(users=[("a@x.com", True), ("b@x.com", False)], principals={APP_ID})
    assert directory.status_of(name) == status


def test_summary_line_counts_data_held_by_inactive_and_removed_users():
    def row(name, status, files, size):
        return UserResult(username=name, status="success" if files else "empty",
                          file_count=files, total_size=size, file_source="dbfs", error="",
                          user_status=status)
    rows = [row("a", "active", 9, 9000), row("b", "inactive", 2, 2048),
            row("c", "removed", 3, 1024), row("d", "removed", 0, 0),
            row("e", "service_principal", 4, 4000)]
    assert left_behind_line(rows) == ("Data held by inactive and removed users: 2 users, "
                                      "5 files, 3.0 KB (3,072 bytes)")
    assert left_behind_line([row("a", "", 1, 1)]) is None
