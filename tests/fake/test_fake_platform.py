"""The fake workspace models the platform as it is (issue 27), each behaviour switchable:
tested over real HTTP, with nothing of the tool in between."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from conftest import TOKEN
from fake_workspace import Workspace
from fake_workspace.reserved import add_reserved_dbfs_places, refuse_mount


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


def test_reserved_dbfs_places_are_refused_by_the_rest_api(serve):
    ws = Workspace()
    add_reserved_dbfs_places(ws)
    ws.dbfs.add_file("/mnt/lake/part-0", size=10)
    refuse_mount(ws, "/mnt/lake")
    server = serve(ws)
    status, body = get(server, "/api/2.0/dbfs/list?path=/")
    assert {"/Volume", "/Volumes", "/volume", "/volumes", "/databricks", "/mnt"} == {
        entry["path"] for entry in body["files"]}
    for path in ("/Volume", "/volumes/x", "/databricks/mlflow-tracking", "/mnt/lake"):
        status, body = get(server, f"/api/2.0/dbfs/list?path={path}")
        assert status == 400, path
    assert "No operations allowed on this path" in get(
        server, "/api/2.0/dbfs/get-status?path=/Volumes")[1]["message"]
    # A mount point is seen (get-status answers), only not listed.
    assert get(server, "/api/2.0/dbfs/get-status?path=/mnt/lake")[0] == 200
    assert "limitation of the DBFS REST API" in get(
        server, "/api/2.0/dbfs/list?path=/databricks/mlflow-registry")[1]["message"]


def test_dbfs_disabled_refuses_every_dbfs_call(serve):
    ws = Workspace()
    ws.dbfs.add_file("/FileStore/a.csv", size=3)
    ws.workspace.add_file("/Users/a@x.com/nb.py", size=3)
    server = serve(ws, dbfs_disabled=True)
    for path in ("/api/2.0/dbfs/list?path=/", "/api/2.0/dbfs/get-status?path=/",
                 "/api/2.0/dbfs/list?path=/FileStore"):
        status, body = get(server, path)
        assert status == 403 and "DisableLegacyDbfs" in body["message"]
    assert get(server, "/api/2.0/workspace/list?path=/Users/a@x.com")[0] == 200
