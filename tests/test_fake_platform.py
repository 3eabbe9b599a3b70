"""The fake workspace models the platform as it is (issue 27), each behaviour switchable:
tested over real HTTP, with nothing of the tool in between."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from conftest import TOKEN
from fake_workspace import Workspace


def get(server, path: str, token: str = TOKEN) -> tuple[int, dict | str]:
    """(status, parsed JSON or raw text) of one GET."""
    request = urllib.request.Request(server.url + path,
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, data = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, data = exc.code, exc.read()
    text = data.decode("utf-8")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


USERS = "/api/2.0/preview/scim/v2/Users"


def test_scim_non_admin_sees_ids_and_display_names_only(serve):
    ws = Workspace()
    ws.add_user("ann@x.com")
    ws.add_user("bob@x.com")
    server = serve(ws, scim_non_admin=True)
    status, body = get(server, USERS + "?attributes=id,userName,active")
    assert status == 200 and body["totalResults"] == 2
    assert [set(row) for row in body["Resources"]] == [{"schemas", "id", "displayName"}] * 2
    assert [row["displayName"] for row in body["Resources"]] == ["ann", "bob"]
    server.faults.scim_non_admin = False  # switchable while serving
    status, body = get(server, USERS + "?attributes=id,userName,active")
    assert [row["userName"] for row in body["Resources"]] == ["ann@x.com", "bob@x.com"]


def test_scim_total_results_is_not_the_end(serve):
    ws = Workspace()
    for i in range(5):
        ws.add_user(f"u{i}@x.com")
    server = serve(ws, scim_total_results=2)
    status, body = get(server, USERS + "?startIndex=3&count=10")
    assert body["totalResults"] == 2 and len(body["Resources"]) == 3
