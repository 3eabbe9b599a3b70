"""The fake workspace, checked over real HTTP with plain `requests` (no project client)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from conftest import ROOT
from fake_workspace import (FakeWorkspaceServer, Faults, Truth, Workspace, add_whole_workspace,
                            generate_uniform, generate_workspace)

TOKEN = "dapi-fake-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ODD_NAME = "odd #1 + 'q' é 数据 🚀 50% a&b?c=d.csv"
A = "a@x.com"
B = "b o'neil+1@x.com"


def hand_built() -> Workspace:
    ws = Workspace()
    ws.add_user(A)
    ws.add_user(B, "Bee")
    ws.add_user("c@x.com", active=False)
    ws.add_user("d@x.com")
    ws.add_cluster("c-1", state="TERMINATED", num_workers=4)
    # a@x.com on DBFS: dirs home, d, d/e, empty, secret(forbidden) -> 5 listings
    ws.dbfs.add_file(f"/Users/{A}/d/f.csv", size=10, mtime_ms=1000)
    ws.dbfs.add_file(f"/Users/{A}/d/e/g.bin", size=5, mtime_ms=3000)
    ws.dbfs.add_file(f"/Users/{A}/top.txt", size=0, mtime_ms=2000)
    ws.dbfs.mkdir(f"/Users/{A}/empty")
    ws.dbfs.add_file(f"/Users/{A}/secret/hidden.csv", size=99, mtime_ms=9999)
    ws.dbfs.forbid(f"/Users/{A}/secret")
    # a@x.com in the Workspace: dirs home, w, repo, repo/src, empty -> 5 listings, 6 objects
    ws.workspace.add_notebook(f"/Users/{A}/nb", language="SQL", mtime_ms=5000)
    ws.workspace.add_file(f"/Users/{A}/w/data.json", size=100, mtime_ms=4000, created_ms=3900)
    ws.workspace.add_repo(f"/Users/{A}/repo")
    ws.workspace.add_notebook(f"/Users/{A}/repo/src/main", mtime_ms=4500)
    ws.workspace.add_file(f"/Users/{A}/repo/README.md", size=7, mtime_ms=100)
    ws.workspace.add_object(f"/Users/{A}/lib", "LIBRARY")
    ws.workspace.add_object(f"/Users/{A}/exp", "MLFLOW_EXPERIMENT")
    ws.workspace.mkdir(f"/Users/{A}/empty")
    # b: an empty Workspace home only; c: nothing; d: a forbidden Workspace home
    ws.workspace.mkdir(f"/Users/{B}")
    ws.workspace.forbid("/Users/d@x.com")
    # outside any home: odd names, a bad path
    ws.dbfs.add_file(f"/shared/dir #2/{ODD_NAME}", size=42, mtime_ms=7)
    ws.workspace.add_file(f"/shared/dir #2/{ODD_NAME}", size=43, mtime_ms=8)
    ws.workspace.mkdir("/shared/weird")
    ws.workspace.mark_bad_path("/shared/weird")
    return ws


@pytest.fixture(scope="module")
def server():
    with FakeWorkspaceServer(hand_built(), token=TOKEN) as srv:
        yield srv


@pytest.fixture
def get(server):
    session = requests.Session()
    session.headers.update(AUTH)

    def _get(endpoint: str, **params):
        return session.get(server.url + endpoint, params=params, timeout=5)
    yield _get
    session.close()


# -- ground truth ----------------------------------------------------------------------

def test_truth_on_hand_built_workspace():
    ws = hand_built()
    assert ws.truth(A) == Truth(A, dbfs_files=3, dbfs_bytes=15, workspace_files=6,
                                workspace_bytes=107, newest_mtime_ms=5000,
                                dbfs_home_exists=True, workspace_home_exists=True,
                                listings=10, forbidden_dirs=1)
    assert ws.truth(B) == Truth(B, workspace_home_exists=True, listings=1)
    assert ws.truth("c@x.com") == Truth("c@x.com")
    assert ws.truth("d@x.com") == Truth("d@x.com", workspace_home_exists=True, listings=1,
                                        forbidden_dirs=1)
    assert ws.min_listings() == 12


def test_builder_replaces_duplicates_and_rejects_file_dir_clash():
    ws = Workspace()
    ws.dbfs.add_file("/Users/u/f", size=1)
    ws.dbfs.add_file("/Users/u/f", size=5)
    assert ws.truth("u").dbfs_bytes == 5 and ws.truth("u").dbfs_files == 1
    with pytest.raises(ValueError):
        ws.dbfs.mkdir("/Users/u/f")
    with pytest.raises(ValueError):
        ws.dbfs.add_file("/Users/u", size=1)


# -- SCIM ------------------------------------------------------------------------------

def test_scim_paging_attributes_and_filter(get):
    r = get("/api/2.0/preview/scim/v2/Users", startIndex=2, count=2, attributes="userName")
    body = r.json()
    assert r.status_code == 200
    assert body["totalResults"] == 4 and body["itemsPerPage"] == 2 and body["startIndex"] == 2
    assert [u["userName"] for u in body["Resources"]] == [B, "c@x.com"]
    assert set(body["Resources"][0]) == {"id", "schemas", "userName"}
    past = get("/api/2.0/preview/scim/v2/Users", startIndex=5, count=2).json()
    assert past["Resources"] == [] and past["totalResults"] == 4
    full = get("/api/2.0/preview/scim/v2/Users").json()["Resources"]
    assert [u["active"] for u in full] == [True, True, False, True]
    assert full[1]["displayName"] == "Bee" and full[1]["emails"][0]["value"] == B
    found = get("/api/2.0/preview/scim/v2/Users", filter=f'userName eq "{B}"').json()
    assert [u["userName"] for u in found["Resources"]] == [B]
    assert get("/api/2.0/preview/scim/v2/Users", filter="active eq true").status_code == 400
    assert get("/api/2.0/preview/scim/v2/Me").json()["userName"] == A


def test_scim_max_page_caps_rows():
    ws = generate_uniform(7, 0, 0)
    with FakeWorkspaceServer(ws, faults=Faults(scim_max_page=3)) as srv:
        seen, start = [], 1
        while True:
            page = requests.get(srv.url + "/api/2.0/preview/scim/v2/Users", headers=AUTH,
                                params={"startIndex": start, "count": 100}).json()
            if not page["Resources"]:
                break
            assert len(page["Resources"]) <= 3
            seen += [u["id"] for u in page["Resources"]]
            start += len(page["Resources"])
        assert len(set(seen)) == 7


# -- Workspace -------------------------------------------------------------------------

def test_workspace_listing_object_info(get):
    objs = {o["path"]: o for o in get("/api/2.0/workspace/list",
                                      path=f"/Users/{A}").json()["objects"]}
    nb = objs[f"/Users/{A}/nb"]
    assert nb["object_type"] == "NOTEBOOK" and nb["language"] == "SQL"
    assert nb["modified_at"] == 5000 and "size" not in nb
    assert isinstance(nb["object_id"], int) and isinstance(nb["resource_id"], str)
    assert objs[f"/Users/{A}/repo"]["object_type"] == "REPO"
    assert objs[f"/Users/{A}/w"]["object_type"] == "DIRECTORY"
    assert objs[f"/Users/{A}/exp"]["object_type"] == "MLFLOW_EXPERIMENT"
    assert objs[f"/Users/{A}/lib"]["object_type"] == "LIBRARY"
    f = get("/api/2.0/workspace/list", path=f"/Users/{A}/w").json()["objects"][0]
    assert (f["object_type"], f["size"], f["created_at"], f["modified_at"]) == ("FILE", 100,
                                                                                 3900, 4000)


def test_repo_lists_its_content_and_empty_dirs_answer_empty_object(get):
    repo = get("/api/2.0/workspace/list", path=f"/Users/{A}/repo").json()["objects"]
    assert sorted(o["object_type"] for o in repo) == ["DIRECTORY", "FILE"]
    assert get("/api/2.0/workspace/list", path=f"/Users/{A}/empty").json() == {}
    assert get("/api/2.0/workspace/list", path=f"/Users/{B}").json() == {}
    assert get("/api/2.0/dbfs/list", path=f"/Users/{A}/empty").json() == {}


def test_get_status(get):
    assert get("/api/2.0/workspace/get-status",
               path=f"/Users/{A}/repo").json()["object_type"] == "REPO"
    assert get("/api/2.0/workspace/get-status", path=f"/Users/{A}/nb").json()["language"] == "SQL"
    st = get("/api/2.0/dbfs/get-status", path=f"dbfs:/Users/{A}/d/f.csv").json()
    assert st == {"path": f"/Users/{A}/d/f.csv", "is_dir": False, "file_size": 10,
                  "modification_time": 1000}
    assert get("/api/2.0/dbfs/get-status", path=f"/Users/{A}").json()["is_dir"] is True
    assert get("/api/2.0/workspace/get-status", path="/Users/zz").status_code == 404


# -- DBFS ------------------------------------------------------------------------------

def test_dbfs_listing_shapes(get):
    plain = get("/api/2.0/dbfs/list", path=f"/Users/{A}").json()
    prefixed = get("/api/2.0/dbfs/list", path=f"dbfs:/Users/{A}/").json()
    assert plain == prefixed
    by_path = {f["path"]: f for f in plain["files"]}
    assert by_path[f"/Users/{A}/d"] == {"path": f"/Users/{A}/d", "is_dir": True,
                                         "file_size": 0, "modification_time": 0}
    assert by_path[f"/Users/{A}/top.txt"]["is_dir"] is False
    one = get("/api/2.0/dbfs/list", path=f"/Users/{A}/d/f.csv").json()
    assert one == {"files": [{"path": f"/Users/{A}/d/f.csv", "is_dir": False,
                              "file_size": 10, "modification_time": 1000}]}


def test_odd_paths_round_trip(get):
    for fs, key, size_key in (("dbfs", "files", "file_size"), ("workspace", "objects", "size")):
        listed = get(f"/api/2.0/{fs}/list", path="/shared/dir #2").json()[key]
        assert [e["path"] for e in listed] == [f"/shared/dir #2/{ODD_NAME}"]
        again = get(f"/api/2.0/{fs}/get-status", path=listed[0]["path"])
        assert again.status_code == 200 and again.json()["path"] == listed[0]["path"]
        assert again.json()[size_key] in (42, 43)


def test_json_body_on_get_is_accepted(server):
    r = requests.get(server.url + "/api/2.0/dbfs/list", headers=AUTH,
                     json={"path": f"/Users/{A}/d"})
    assert {f["path"] for f in r.json()["files"]} == {f"/Users/{A}/d/e", f"/Users/{A}/d/f.csv"}


# -- errors ----------------------------------------------------------------------------

def test_error_shapes(get, server):
    missing = get("/api/2.0/dbfs/list", path="/Users/nobody")
    assert missing.status_code == 404
    assert missing.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST",
                              "message": "Path (/Users/nobody) doesn't exist."}
    assert get("/api/2.0/workspace/list", path="/nope").json()["error_code"] == \
        "RESOURCE_DOES_NOT_EXIST"
    for fs, path in (("dbfs", f"/Users/{A}/secret"), ("workspace", "/Users/d@x.com")):
        denied = get(f"/api/2.0/{fs}/list", path=path)
        assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    below = get("/api/2.0/dbfs/list", path=f"/Users/{A}/secret/hidden.csv")
    assert below.status_code == 403
    bad = get("/api/2.0/workspace/list", path="/shared/weird")
    assert bad.status_code == 400 and bad.json() == {"error_code": "INVALID_PARAMETER_VALUE",
                                                     "message": "Invalid request path"}
    assert get("/api/2.0/workspace/list", path="relative").status_code == 400
    assert get("/api/2.0/nothing/here").json()["error_code"] == "ENDPOINT_NOT_FOUND"
    unauth = requests.get(server.url + "/api/2.0/dbfs/list", params={"path": "/"},
                          headers={"Authorization": "Bearer wrong-secret"})
    assert unauth.status_code == 401 and unauth.json()["error_code"] == "UNAUTHENTICATED"
    assert "wrong-secret" not in unauth.text and TOKEN not in unauth.text
    assert requests.get(server.url + "/api/2.0/preview/scim/v2/Me").status_code == 401


def test_clusters(get):
    assert get("/api/2.0/clusters/get", cluster_id="c-1").json()["state"] == "TERMINATED"
    r = get("/api/2.0/clusters/get", cluster_id="nope")
    assert r.status_code == 400 and r.json() == {"error_code": "INVALID_PARAMETER_VALUE",
                                                 "message": "Cluster nope does not exist"}


# -- faults ----------------------------------------------------------------------------

def _hammer(url: str, n: int) -> list[requests.Response]:
    results: list = [None] * n

    def one(i):
        results[i] = requests.get(url + "/api/2.0/dbfs/list", params={"path": "/"},
                                  headers=AUTH, timeout=10)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_max_in_flight_answers_429_with_retry_after():
    faults = Faults(latency_s=0.3, max_in_flight=2)
    with FakeWorkspaceServer(hand_built(), faults=faults) as srv:
        results = _hammer(srv.url, 8)
        throttled = [r for r in results if r.status_code == 429]
        assert throttled and any(r.status_code == 200 for r in results)
        assert throttled[0].headers["Retry-After"] == "1"
        assert throttled[0].json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert "concurrent limit of 2 requests" in throttled[0].json()["message"]
        assert srv.stats.throttled == len(throttled) and srv.stats.peak_in_flight >= 3
        faults.retry_after = None
        assert all("Retry-After" not in r.headers
                   for r in _hammer(srv.url, 6) if r.status_code == 429)
        faults.retry_after = "soon-ish"
        assert {r.headers["Retry-After"] for r in _hammer(srv.url, 6)
                if r.status_code == 429} == {"soon-ish"}


def test_rate_limit_answers_429():
    with FakeWorkspaceServer(hand_built(), faults=Faults(rate_limit_per_s=2)) as srv:
        codes = [requests.get(srv.url + "/api/2.0/dbfs/list", params={"path": "/"},
                              headers=AUTH).status_code for _ in range(6)]
        assert codes[:2] == [200, 200] and 429 in codes


def test_family_rate_limits_are_apart_and_switchable():
    faults = Faults(family_rate_limits={"dbfs": 2, "workspace/list": 3}, retry_after=None)
    with FakeWorkspaceServer(hand_built(), faults=faults) as srv:
        def codes(endpoint: str, n: int) -> list[int]:
            return [requests.get(srv.url + "/api/2.0/" + endpoint, params={"path": "/"},
                                 headers=AUTH).status_code for _ in range(n)]
        assert codes("dbfs/list", 6)[:2] == [200, 200]
        assert 429 in codes("dbfs/get-status", 3)          # one bucket for all of dbfs/*
        assert codes("workspace/list", 3) == [200, 200, 200]  # its own bucket, still full
        refused = requests.get(srv.url + "/api/2.0/dbfs/list", params={"path": "/"},
                               headers=AUTH)
        assert refused.status_code == 429 and "Retry-After" not in refused.headers
        assert "dbfs rate limit of 2 requests per second" in refused.json()["message"]
        assert codes("workspace/get-status", 5) == [200] * 5  # no limit of its own
        srv.faults.family_rate_limits = {}
        assert codes("dbfs/list", 4) == [200] * 4


def test_reset_rate_drops_connections():
    with FakeWorkspaceServer(hand_built(), faults=Faults(reset_rate=1.0)) as srv:
        with pytest.raises(requests.ConnectionError):
            requests.get(srv.url + "/api/2.0/dbfs/list", params={"path": "/"}, headers=AUTH)
        assert srv.stats.resets >= 1
        srv.faults.reset_rate = 0.0
        assert requests.get(srv.url + "/api/2.0/dbfs/list", params={"path": "/"},
                            headers=AUTH).status_code == 200


def test_error_rate_cycles_transient_shapes():
    with FakeWorkspaceServer(hand_built(), faults=Faults(error_rate=1.0)) as srv:
        rs = [requests.get(srv.url + "/api/2.0/dbfs/list", params={"path": "/"}, headers=AUTH)
              for _ in range(4)]
        assert [r.status_code for r in rs] == [500, 502, 503, 504]
        assert "error" in rs[0].json()
        assert rs[1].headers["Content-Type"].startswith("text/html") and "<html>" in rs[3].text
        assert rs[2].json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert srv.stats.injected_5xx == 4


def test_fail_first_n_and_always_fail():
    faults = Faults(fail_first_n_requests_for_path={f"/Users/{A}/d": 2},
                    always_fail_paths={f"dbfs:/Users/{A}"})
    with FakeWorkspaceServer(hand_built(), faults=faults) as srv:
        def lst(fs, path):
            return requests.get(f"{srv.url}/api/2.0/{fs}/list", params={"path": path},
                                headers=AUTH).status_code
        assert [lst("dbfs", f"/Users/{A}/d") for _ in range(3)] == [503, 503, 200]
        assert lst("dbfs", f"/Users/{A}") == 500 and lst("dbfs", f"/Users/{A}") == 500
        assert lst("workspace", f"/Users/{A}") == 200
        assert srv.stats.listings[("dbfs", f"/Users/{A}/d")] == 1
        srv.reset_stats()
        assert lst("dbfs", f"/Users/{A}/d") == 503


def test_latency_applies_to_every_endpoint():
    with FakeWorkspaceServer(hand_built(), faults=Faults(latency_s=0.1)) as srv:
        t0 = time.perf_counter()
        requests.get(srv.url + "/api/2.0/clusters/get", params={"cluster_id": "c-1"},
                     headers=AUTH)
        assert time.perf_counter() - t0 >= 0.1


# -- stats and keep-alive --------------------------------------------------------------

def test_stats_and_keep_alive():
    with FakeWorkspaceServer(hand_built()) as srv:
        with requests.Session() as s:
            s.headers.update(AUTH)
            for path in ("/", f"/Users/{A}", f"/Users/{A}", "/missing"):
                s.get(srv.url + "/api/2.0/dbfs/list", params={"path": path})
            s.get(srv.url + "/api/2.0/workspace/list", params={"path": f"/Users/{A}"})
        snap = srv.stats.snapshot()
        assert snap["connections"] == 1 and snap["total_requests"] == 5
        assert snap["by_endpoint"] == {"dbfs/list": 4, "workspace/list": 1}
        assert snap["by_status"] == {200: 4, 404: 1}
        assert snap["successful_listings"] == 4
        assert srv.stats.duplicate_listings() == {("dbfs", f"/Users/{A}"): 2}
        srv.reset_stats()
        assert srv.stats.snapshot()["total_requests"] == 0


# -- generators ------------------------------------------------------------------------

def test_generator_is_deterministic_and_varied():
    ws = generate_workspace(40, seed=3, files_per_user=(0, 30), large_dir_size=2100)
    again = generate_workspace(40, seed=3, files_per_user=(0, 30), large_dir_size=2100)
    truths = ws.truths()
    assert truths == again.truths()
    assert truths != generate_workspace(40, seed=4, files_per_user=(0, 30)).truths()
    names = "".join(u.user_name for u in ws.users)
    for ch in "=#+'%&?é李🙂":  # no space: a user name with whitespace is refused
        assert ch in names
    assert any(not u.active for u in ws.users)
    assert any(not t.dbfs_home_exists and not t.workspace_home_exists for t in truths)
    assert any(t.dbfs_home_exists and not t.workspace_home_exists for t in truths)
    assert any(t.workspace_home_exists and not t.dbfs_home_exists for t in truths)
    assert any(t.dbfs_home_exists and t.workspace_home_exists
               and t.dbfs_files + t.workspace_files == 0 for t in truths)
    assert any(t.forbidden_dirs for t in truths)
    all_dirs = list(ws.dbfs.dirs.values()) + list(ws.workspace.dirs.values())
    assert max(d.path.count("/") for d in all_dirs) >= 17  # /Users/u + 15 levels
    assert max(d.entry_count() for d in all_dirs) >= 2100
    assert any(d.kind == "REPO" and d.entry_count() for d in ws.workspace.dirs.values())
    kinds = set(ws.workspace.kind_table)
    assert {"NOTEBOOK", "FILE", "MLFLOW_EXPERIMENT"} <= kinds


def test_generated_workspace_served_matches_truth_for_one_user():
    ws = generate_workspace(12, seed=5, files_per_user=(5, 20), large_dirs=0)
    user = next(t for t in ws.truths() if t.dbfs_home_exists and t.dbfs_files)
    with FakeWorkspaceServer(ws) as srv, requests.Session() as s:
        s.headers.update(AUTH)
        stack, files, size, listings = [f"/Users/{user.username}"], 0, 0, 0
        while stack:
            r = s.get(srv.url + "/api/2.0/dbfs/list", params={"path": stack.pop()})
            listings += 1
            if r.status_code == 403:
                continue
            for f in r.json().get("files", []):
                if f["is_dir"]:
                    stack.append(f["path"])
                else:
                    files, size = files + 1, size + f["file_size"]
        assert (files, size) == (user.dbfs_files, user.dbfs_bytes)
        assert srv.stats.duplicate_listings() == {}


def test_generate_uniform_has_predictable_counts():
    ws = generate_uniform(4, dirs_per_user=3, files_per_dir=5, seed=1, file_size=10)
    t = ws.truths()[0]
    assert (t.dbfs_files, t.dbfs_bytes, t.workspace_files, t.listings) == (15, 150, 15, 8)
    assert t.workspace_bytes == 10 * 9  # FILE and NOTEBOOK alternate: 3 files of 5 per dir
    assert ws.min_listings() == 32 and ws.file_count() == 120
    only_dbfs = generate_uniform(2, 1, 1, workspace=False)
    assert only_dbfs.truths()[0].workspace_home_exists is False


# -- command line ----------------------------------------------------------------------

def test_module_entry_point_serves_until_sigterm():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "fake_workspace", "--users", "5", "--seed",
                             "1", "--port", "0", "--token", "dapi-demo", "--latency", "0.01"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("FAKE_WORKSPACE_URL=http://127.0.0.1:")
        url = line.split("=", 1)[1]
        r = requests.get(url + "/api/2.0/preview/scim/v2/Users",
                         headers={"Authorization": "Bearer dapi-demo"}, timeout=5)
        assert r.json()["totalResults"] == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


# -- the whole workspace: everything beyond /Users -------------------------------------

def test_whole_workspace_leaves_every_home_unchanged():
    plain = generate_workspace(40, seed=3, files_per_user=(0, 30))
    whole = generate_workspace(40, seed=3, files_per_user=(0, 30), whole_workspace=True)
    assert plain.whole is None and whole.whole is not None
    assert plain.truths() == whole.truths()
    assert plain.removed_homes() == whole.removed_homes()
    assert [(u.id, u.user_name) for u in plain.users] == [(u.id, u.user_name)
                                                          for u in whole.users]
    for p, w in ((plain.dbfs, whole.dbfs), (plain.workspace, whole.workspace)):
        assert p.top_level() == ["/Users"]
        assert p.totals() == p.subtree_totals("/")[:2] and p.totals()[0] == p.file_count()
        assert w.subtree_totals("/Users") == p.subtree_totals("/Users")
        assert {k: d.object_id for k, d in p.dirs.items()} == \
            {k: d.object_id for k, d in w.dirs.items() if k.startswith("/Users")} | {
                "/": w.root.object_id}
    assert whole.file_count() > plain.file_count()
    again = generate_workspace(40, seed=3, files_per_user=(0, 30), whole_workspace=True)
    assert again.whole == whole.whole and again.dbfs.totals() == whole.dbfs.totals()
    assert generate_workspace(40, seed=4, whole_workspace=True).whole != whole.whole


def test_whole_workspace_names_who_is_found_where():
    ws = generate_workspace(40, seed=3, whole_workspace=True)
    w = ws.whole
    scim, homes = set(ws.users_by_name), ws.home_names()
    principals = {sp.application_id for sp in ws.service_principals}
    assert ws.workspace.top_level() == ["/Repos", "/Shared", "/Users"]
    assert ws.dbfs.top_level() == sorted(
        ["/FileStore", "/Users", "/Volumes", "/databricks", "/databricks-datasets",
         "/databricks-results", "/init_script.sh", "/mnt", w.odd_area, "/tmp", "/user",
         "/Volume", "/volume", "/volumes"])  # the volume aliases a real DBFS root shows
    # /Repos: a third of SCIM, one of them homeless, then the removed user known only there
    assert list(ws.workspace.dirs["/Repos"].subdirs) == w.repo_owners
    scim_owners = w.repo_owners[:-1]
    assert set(scim_owners) <= scim and len(scim_owners) == round(40 / 3)
    assert any(n not in homes for n in scim_owners)
    assert w.repo_only == w.repo_owners[-1] == "former.repo.owner@example.com"
    assert w.repo_only not in scim | homes | principals | set(w.upload_owners)
    repos = [d for d in ws.workspace.dirs.values() if d.kind == "REPO"
             and d.path.startswith("/Repos/")]
    assert {d.parent.path for d in repos} == {f"/Repos/{n}" for n in w.repo_owners}
    assert all(d.parent.kind == "DIRECTORY" and d.subdirs and d.files for d in repos)
    # shared_uploads: a few SCIM users, then the removed user known only there
    assert list(ws.dbfs.dirs["/FileStore/shared_uploads"].subdirs) == w.upload_owners
    assert set(w.upload_owners[:-1]) <= scim and len(w.upload_owners) >= 3
    assert w.upload_only == w.upload_owners[-1] == "former.uploader@example.com"
    assert w.upload_only not in scim | homes | principals | set(w.repo_owners)
    for name in w.upload_owners:
        assert ws.dbfs.subtree_totals(f"/FileStore/shared_uploads/{name}")[0] >= 2
    assert w.odd_area == "/odd area #1 %20 a+b é 实验"
    assert ws.dbfs.subtree_totals(w.odd_area)[:1] == (6,) and w.odd_area in ws.dbfs.dirs
    assert w.mounts == ["/mnt/datalake", "/mnt/archive"]
    assert w.skipped == w.mounts + ["/databricks-datasets", "/Volume", "/Volumes", "/volume",
                                    "/volumes", "/databricks/mlflow-tracking",
                                    "/databricks/mlflow-registry"]
    assert all(ws.dbfs.subtree_totals(p)[0] for p in w.skipped)
    assert w.added_users == []


def test_whole_workspace_warehouse_holds_delta_tables():
    ws = generate_workspace(12, seed=5, whole_workspace=True)
    tables = ws.whole.warehouse_tables
    wh = ws.dbfs.dirs["/user/hive/warehouse"]
    dbs = [n for n in wh.subdirs if n.endswith(".db")]
    assert 2 <= len(dbs) <= 3
    assert 1 <= sum(t.count("/") == 4 for t in tables) <= 2  # default's, right below
    assert set(tables) == {d.path for d in ws.dbfs.dirs.values() if "_delta_log" in d.subdirs}
    part = re.compile(r"^part-\d{5}-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\.snappy\.parquet$")
    for table in tables:
        log = ws.dbfs.dirs[table + "/_delta_log"].files.names
        assert log[0] == "00000000000000000000.json" and len(log) >= 3
        parts = [d.files for p, d in ws.dbfs.dirs.items() if d.files
                 and (p == table or p.startswith(table + "/")) and "_delta_log" not in p]
        assert parts and all(part.match(n) for f in parts for n in f.names)
        assert all(2**20 <= s <= 4 * 2**30 for f in parts for s in f.sizes)
    assert any("event_date=" in p for p in ws.dbfs.dirs)
    assert max(s for d in ws.dbfs.dirs.values() if d.path.startswith(wh.path) and d.files
               for s in d.files.sizes) > 100 * 2**20


def test_subtree_totals_and_exclude_add_up():
    ws = hand_built()
    secret = f"/Users/{A}/secret"
    assert ws.dbfs.subtree_totals(f"/Users/{A}") == (4, 114, 9999)  # forbidden counts
    assert ws.dbfs.subtree_totals(f"/Users/{A}/", exclude=[secret + "/"]) == (3, 15, 3000)
    assert ws.workspace.subtree_totals(f"/Users/{A}") == (6, 107, 5000)
    assert ws.workspace.subtree_totals(f"/Users/{A}/lib") == (1, 0, None)  # untimed object
    assert ws.dbfs.subtree_totals(f"/Users/{A}/d/f.csv") == (1, 10, 1000)
    assert ws.dbfs.subtree_totals("/nope") == ws.dbfs.subtree_totals(
        f"/Users/{A}/d/f.csv/x") == (0, 0, None)
    assert ws.dbfs.subtree_totals(secret, exclude=[secret]) == (0, 0, None)
    assert ws.dbfs.totals() == (5, 156) and ws.workspace.top_level() == ["/Users", "/shared"]

    big = generate_workspace(30, seed=2, whole_workspace=True)
    dbfs, wh = big.dbfs, "/user/hive/warehouse"
    outside = dbfs.subtree_totals("/user", exclude=[wh])
    inside = dbfs.subtree_totals(wh)
    assert outside[0] > 0 and inside[0] > 0
    assert (outside[0] + inside[0], outside[1] + inside[1]) == dbfs.subtree_totals("/user")[:2]
    assert max(outside[2], inside[2]) == dbfs.subtree_totals("/user")[2]
    per_top = [dbfs.subtree_totals(p) for p in dbfs.top_level()]
    assert (sum(t[0] for t in per_top), sum(t[1] for t in per_top)) == dbfs.totals()
    rest = dbfs.subtree_totals("/", exclude=big.whole.skipped)
    skipped = [dbfs.subtree_totals(p) for p in big.whole.skipped]
    assert rest[0] + sum(t[0] for t in skipped) == dbfs.totals()[0]
    assert big.workspace.subtree_totals("/Shared/Sales dashboard") == (1, 0, None)


def test_mounts_hold_more_bytes_than_the_rest():
    ws = generate_workspace(40, seed=3, whole_workspace=True)
    mounts = [ws.dbfs.subtree_totals(p) for p in ws.whole.mounts]
    mount_files, mount_bytes = sum(t[0] for t in mounts), sum(t[1] for t in mounts)
    assert mount_bytes == 50 * 2**40 and all(t[1] for t in mounts)
    assert 10 <= mount_files <= 60
    rest = ws.dbfs.totals()[1] - mount_bytes + ws.workspace.totals()[1]
    assert mount_bytes > 100 * rest
    small = Workspace()
    made = add_whole_workspace(small, seed=1, mount_bytes=12345)
    assert small.dbfs.subtree_totals("/mnt")[1] == 12345
    assert made.added_users == ["git.folder.only@example.com", "whole.user@example.com"]
    assert made.repo_owners[:2] == made.added_users and small.whole is made


def _walk_http(s: requests.Session, url: str, fs: str, top: str,
               skip: set[str]) -> tuple[int, int, int | None]:
    """(files, bytes, newest mtime) of top as a client sees it, not entering skip or a 403."""
    key, stack, files, size, newest = ("files" if fs == "dbfs" else "objects"), [top], 0, 0, []
    while stack:
        r = s.get(f"{url}/api/2.0/{fs}/list", params={"path": stack.pop()}, timeout=10)
        if r.status_code == 403:
            continue
        assert r.status_code == 200, r.text
        for e in r.json().get(key, []):
            if e.get("is_dir") or e.get("object_type") in ("DIRECTORY", "REPO"):
                if e["path"] not in skip:
                    stack.append(e["path"])
                continue
            files += 1
            size += e.get("file_size", e.get("size", 0))
            mtime = e.get("modification_time", e.get("modified_at"))
            if mtime is not None:
                newest.append(mtime)
    return files, size, max(newest, default=None)


def test_whole_workspace_lists_over_http():
    ws = generate_workspace(12, seed=5, files_per_user=(2, 10), whole_workspace=True)
    w = ws.whole
    odd = w.odd_area
    with FakeWorkspaceServer(ws, token=TOKEN) as srv, requests.Session() as s:
        s.headers.update(AUTH)

        def get(fs: str, op: str, path: str) -> dict:
            r = s.get(f"{srv.url}/api/2.0/{fs}/{op}", params={"path": path}, timeout=10)
            assert r.status_code == 200, (path, r.text)
            return r.json()
        root = get("dbfs", "list", "/")["files"]
        assert sorted(f["path"] for f in root) == ws.dbfs.top_level()
        assert [f["is_dir"] for f in root if f["path"] == "/init_script.sh"] == [False]
        one = get("dbfs", "list", "/init_script.sh")["files"]
        assert len(one) == 1 and one[0]["path"] == "/init_script.sh" and one[0]["file_size"] > 0
        assert sorted(o["path"] for o in get("workspace", "list", "/")["objects"]) == \
            ["/Repos", "/Shared", "/Users"]
        listed = {f["path"] for f in get("dbfs", "list", f"dbfs:{odd}/")["files"]}
        assert f"{odd}/100% %20 literal.csv" in listed and f"{odd}/sub #2 + é" in listed
        assert get("dbfs", "get-status", f"{odd}/naïve 数据 🚀.parquet")["is_dir"] is False
        homeless = next(n for n in w.repo_owners if n not in ws.home_names())
        repos = get("workspace", "list", f"/Repos/{homeless}")["objects"]
        assert repos and {o["object_type"] for o in repos} == {"REPO"}
        inside = get("workspace", "list", repos[0]["path"])["objects"]
        assert "DIRECTORY" in {o["object_type"] for o in inside}
        assert get("workspace", "get-status", repos[0]["path"])["object_type"] == "REPO"
        readme = get("workspace", "list", repos[0]["path"] + "/README.md")["objects"]
        assert [o["object_type"] for o in readme] == ["FILE"] and readme[0]["size"] > 0
        for table in w.warehouse_tables:
            log = get("dbfs", "list", table + "/_delta_log")["files"]
            assert log[0]["path"] == table + "/_delta_log/00000000000000000000.json"
        skip = set(w.skipped) | ws.dbfs.forbidden_paths
        assert _walk_http(s, srv.url, "dbfs", "/", skip) == ws.dbfs.subtree_totals("/", skip)
        assert _walk_http(s, srv.url, "dbfs", "/user", {"/user/hive/warehouse"}) == \
            ws.dbfs.subtree_totals("/user", ["/user/hive/warehouse"])
        forbidden = ws.workspace.forbidden_paths
        assert _walk_http(s, srv.url, "workspace", "/", set(forbidden)) == \
            ws.workspace.subtree_totals("/", forbidden)
        assert _walk_http(s, srv.url, "workspace", "/Shared", set()) == \
            ws.workspace.subtree_totals("/Shared")


def test_wait_quiet_waits_out_a_held_request_and_says_when_it_cannot():
    """wait_quiet (used by the tests and the bench that kill a client) is False while a
    request is in flight, True once none is and none came for the quiet time."""
    hold = threading.Event()
    with FakeWorkspaceServer(hand_built(), token=TOKEN) as srv:
        srv.faults.hold = hold
        held = threading.Thread(target=lambda: requests.get(
            srv.url + "/api/2.0/dbfs/list", params={"path": "/"}, headers=AUTH, timeout=30))
        held.start()
        try:
            deadline = time.monotonic() + 10
            while not srv.stats.in_flight and time.monotonic() < deadline:
                time.sleep(0.01)
            assert srv.stats.in_flight
            assert srv.wait_quiet(0.2, timeout=1.0) is False  # the request is still held
        finally:
            hold.set()
            held.join()
        assert srv.wait_quiet(0.2, timeout=5.0) is True
