"""The tool against the platform as it is (issue 27), over real HTTP against the fake."""

from __future__ import annotations

from conftest import TOKEN
from dbx_inventory.clock import FakeClock
from dbx_inventory.errors import NotAnAdmin
from dbx_inventory.scan.scim import iter_users
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from fake_workspace import Workspace

import pytest

USER_LIST, FILES = "databricks_user_list.py", "databricks_user_files_simple.py"


def client_for(server) -> ApiClient:
    return ApiClient(ClientConfig(host=server.url, credentials=StaticToken(TOKEN)),
                     clock=FakeClock())


def users_ws(n: int) -> Workspace:
    ws = Workspace()
    for i in range(n):
        name = f"user{i:02d}@x.com"
        ws.add_user(name)
        ws.workspace.add_file(f"/Users/{name}/nb.py", size=10)
    return ws


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


# --- 4. SCIM as it is -------------------------------------------------------------------

def test_users_paged_until_an_empty_page_not_total_results(serve):
    server = serve(users_ws(12), scim_max_page=5, scim_total_results=4)
    with client_for(server) as client:
        names = [user.user_name for user in iter_users(client)]
    assert names == [f"user{i:02d}@x.com" for i in range(12)]


def test_a_non_admin_token_is_not_read_as_no_users(serve):
    server = serve(users_ws(3), scim_non_admin=True)
    with client_for(server) as client, pytest.raises(NotAnAdmin, match="admin token"):
        list(iter_users(client))


def test_user_list_with_a_non_admin_token_stops_with_one_line(serve, cli, tmp_path):
    server = serve(users_ws(3), scim_non_admin=True)
    result = cli(USER_LIST, "-o", "users.txt", server=server)
    assert result.code == 1
    assert "an admin token is needed" in one_error_line(result)
    assert "Found 0 users" not in result.stdout
    assert not (tmp_path / "users.txt").exists()
    assert TOKEN not in result.output


def test_all_homes_with_a_non_admin_token_stops_before_writing(serve, cli, tmp_path):
    server = serve(users_ws(3), scim_non_admin=True)
    result = cli(FILES, "--all-homes", "--report", "r.html", server=server)
    assert result.code == 1
    assert "an admin token is needed" in one_error_line(result)
    assert "removed" not in result.stdout.lower()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "no-such-databrickscfg") \
        == []
    assert TOKEN not in result.output
