"""SCIM user paging over real HTTP: short pages, de-dup by id, filters, limits, attributes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


from conftest import TOKEN
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.clock import FakeClock
from dbx_inventory.scan.scim import USERS_PATH, User, check_access, iter_users
from fake_workspace import Workspace


def client_for(server) -> ApiClient:
    config = ClientConfig(host=server.url, credentials=StaticToken(TOKEN))
    return ApiClient(config, clock=FakeClock())


def recorded_queries(server, monkeypatch) -> list[dict]:
    """The query of every SCIM Users request the server received, as it received it."""
    queries: list[dict] = []
    decide = server._decide

    def recording(h, query, *args):
        if urlsplit(h.path).path == USERS_PATH:
            queries.append({k: v[0] for k, v in parse_qs(query).items()})
        return decide(h, query, *args)

    monkeypatch.setattr(server, "_decide", recording)
    return queries


def users_ws(n: int, inactive: set[int] = frozenset()) -> tuple[Workspace, list[str]]:
    ws = Workspace()
    names = [f"user{i:03d}@x.com" for i in range(n)]
    for i, name in enumerate(names):
        ws.add_user(name, active=i not in inactive)
    return ws, names


def scim_calls(server) -> int:
    return server.stats.by_endpoint["scim/Users"]


def test_short_pages_every_user_once_in_order(serve):
    ws, names = users_ws(50)
    server = serve(ws, scim_max_page=7)
    with client_for(server) as client:
        users = list(iter_users(client, page_size=1000))
    assert [u.user_name for u in users] == names
    assert [u.id for u in users] == [u.id for u in ws.users]
    assert all(u.active for u in users)
    assert scim_calls(server) == 9  # ceil(50 / 7), then the empty page that ends it


def test_pages_advance_by_rows_returned(serve, monkeypatch):
    ws, names = users_ws(23)
    server = serve(ws, scim_max_page=5)
    queries = recorded_queries(server, monkeypatch)
    with client_for(server) as client:
        users = list(iter_users(client, page_size=1000))
    assert [u.user_name for u in users] == names
    assert [int(q["startIndex"]) for q in queries] == [1, 6, 11, 16, 21, 24]


def test_unicode_user_names(serve):
    ws = Workspace()
    names = ["zoë@x.com", "李雷@x.com", "o'neil+1@x.com", "rocket🚀@x.com"]
    for name in names:
        ws.add_user(name)
    server = serve(ws, scim_max_page=3)
    with client_for(server) as client:
        assert [u.user_name for u in iter_users(client)] == names


def test_duplicate_ids_yield_once(serve):
    ws = Workspace()
    ws.add_user("a@x.com", user_id="1")
    ws.add_user("b@x.com", user_id="2")
    ws.add_user("a-again@x.com", user_id="1")
    ws.add_user("c@x.com", user_id="3")
    server = serve(ws, scim_max_page=2)
    with client_for(server) as client:
        users = list(iter_users(client))
    assert users == [User("1", "a@x.com", True), User("2", "b@x.com", True),
                     User("3", "c@x.com", True)]


def test_shifting_pages_do_not_repeat_users(serve):
    ws, names = users_ws(10)
    server = serve(ws, scim_max_page=5)
    got = []
    with client_for(server) as client:
        for user in iter_users(client):
            got.append(user.user_name)
            if len(got) == 5:
                # a user created at the front while we page: page 2 repeats user004
                ws.add_user("new@x.com")
                ws.users.insert(0, ws.users.pop())
    assert got == names
    assert len(got) == len(set(got))


def test_active_only(serve):
    ws, names = users_ws(12, inactive={0, 3, 4, 11})
    server = serve(ws, scim_max_page=4)
    with client_for(server) as client:
        users = list(iter_users(client, active_only=True))
    expected = [names[i] for i in (1, 2, 5, 6, 7, 8, 9, 10)]
    assert [u.user_name for u in users] == expected
    assert all(u.active for u in users)


def test_inactive_users_reported_inactive(serve):
    ws, names = users_ws(4, inactive={1})
    server = serve(ws)
    with client_for(server) as client:
        assert [(u.user_name, u.active) for u in iter_users(client)] == [
            (names[0], True), (names[1], False), (names[2], True), (names[3], True)]


def test_max_users(serve, monkeypatch):
    ws, names = users_ws(50)
    server = serve(ws, scim_max_page=3)
    queries = recorded_queries(server, monkeypatch)
    with client_for(server) as client:
        users = list(iter_users(client, max_users=10))
    assert [u.user_name for u in users] == names[:10]
    # asks for no more than it still needs: 10, 7, 4, 1
    assert [(int(q["startIndex"]), int(q["count"])) for q in queries] == [
        (1, 10), (4, 7), (7, 4), (10, 1)]


def test_max_users_with_active_only(serve):
    ws, names = users_ws(20, inactive={0, 2, 4})
    server = serve(ws, scim_max_page=4)
    with client_for(server) as client:
        users = list(iter_users(client, max_users=5, active_only=True))
    assert [u.user_name for u in users] == [names[i] for i in (1, 3, 5, 6, 7)]


def test_max_users_above_total(serve):
    ws, names = users_ws(6)
    server = serve(ws)
    with client_for(server) as client:
        assert [u.user_name for u in iter_users(client, max_users=100)] == names
    assert scim_calls(server) == 2  # the list ends on an empty page, not totalResults


def test_no_users_one_request(serve):
    server = serve(Workspace())
    with client_for(server) as client:
        assert list(iter_users(client)) == []
    assert scim_calls(server) == 1


def test_stops_on_empty_page(serve):
    ws, names = users_ws(10)
    server = serve(ws, scim_max_page=5)
    got = []
    with client_for(server) as client:
        for user in iter_users(client):
            got.append(user.user_name)
            if len(got) == 5:
                del ws.users[2:]  # the rest vanish: the next page is empty
    assert got == names[:5]
    assert scim_calls(server) == 2


def test_requests_only_needed_attributes(serve, monkeypatch):
    ws, names = users_ws(9)
    server = serve(ws, scim_max_page=4)
    queries = recorded_queries(server, monkeypatch)
    with client_for(server) as client:
        assert [u.user_name for u in iter_users(client)] == names
    assert len(queries) == 4  # three pages and the empty one
    for query in queries:
        assert set(query["attributes"].split(",")) == {"id", "userName", "active"}


def test_check_access_returns_caller(serve):
    ws, names = users_ws(3)
    server = serve(ws)
    with client_for(server) as client:
        assert check_access(client) == names[0]
