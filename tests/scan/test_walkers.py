"""Walkers over real HTTP against the fake workspace: what one listing counts, and how deep."""

from __future__ import annotations

import pytest

from conftest import TOKEN
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.errors import BadRequest, NotFound, PermissionDenied
from dbx_inventory.transport.retry import RetryPolicy
from dbx_inventory.scan.scanner import Scanner
from dbx_inventory.scan.filesystems import DBFS, WORKSPACE, DirListing
from fake_workspace import Workspace

U = "walker@x.com"
HOME = f"/Users/{U}"
GIB = 1024 ** 3


def make_client(server, n: int = 10) -> ApiClient:
    return ApiClient(ClientConfig(host=server.url, credentials=StaticToken(TOKEN),
                                  max_in_flight=n,
                                  retry=RetryPolicy(base_delay=0.01, max_delay=0.05)))


def scan_one(server, name: str, **options):
    with make_client(server) as client:
        rows = list(Scanner(client, **options).scan([name]))
    assert len(rows) == 1
    return rows[0]


class _StubClient:
    """Answers one listing with a fixed body: for shapes the fake never produces."""

    def __init__(self, body):
        self.body = body
        self.calls = []

    def get(self, api_path, params=None, *, subject=None):
        self.calls.append((api_path, dict(params or {})))
        return self.body


# -- one listing --------------------------------------------------------------------------

def test_empty_directories_answer_empty_object_and_count_nothing(serve):
    ws = Workspace()
    ws.dbfs.mkdir(HOME)
    ws.workspace.mkdir(HOME)
    server = serve(ws)
    with make_client(server) as client:
        assert client.get("/api/2.0/dbfs/list", {"path": HOME}) == {}
        assert client.get("/api/2.0/workspace/list", {"path": HOME}) == {}
        for walker in (DBFS, WORKSPACE):
            listing = walker.list_dir(client, HOME)
            assert listing == DirListing(files=0, bytes=0, newest_ms=None, subdirs=[])


def test_dbfs_listing_counts_files_and_sizes_and_returns_subdirs(serve):
    ws = Workspace()
    ws.dbfs.add_file(f"{HOME}/a.csv", size=10, mtime_ms=1_000)
    ws.dbfs.add_file(f"{HOME}/b.bin", size=3 * GIB, mtime_ms=5_000)
    ws.dbfs.add_file(f"{HOME}/zero", size=0, mtime_ms=2_000)
    ws.dbfs.add_file(f"{HOME}/sub/deeper.txt", size=999)
    ws.dbfs.mkdir(f"{HOME}/empty")
    server = serve(ws)
    with make_client(server) as client:
        listing = DBFS.list_dir(client, HOME)
    assert listing.files == 3
    assert listing.bytes == 10 + 3 * GIB
    assert listing.newest_ms == 5_000
    assert sorted(listing.subdirs) == [f"{HOME}/empty", f"{HOME}/sub"]


def test_workspace_listing_every_object_type(serve):
    ws = Workspace()
    ws.workspace.add_notebook(f"{HOME}/nb py", mtime_ms=7_000)
    ws.workspace.add_notebook(f"{HOME}/nb sql", language="SQL", mtime_ms=1_000)
    ws.workspace.add_file(f"{HOME}/data.json", size=1234, mtime_ms=3_000)
    ws.workspace.add_file(f"{HOME}/empty.txt", size=0, mtime_ms=2_000)
    ws.workspace.add_object(f"{HOME}/lib", "LIBRARY")
    ws.workspace.add_object(f"{HOME}/dash", "DASHBOARD")
    ws.workspace.add_object(f"{HOME}/exp", "MLFLOW_EXPERIMENT")
    ws.workspace.add_object(f"{HOME}/future", "SOME_TYPE_FROM_2030")
    ws.workspace.add_repo(f"{HOME}/my repo")
    ws.workspace.mkdir(f"{HOME}/folder")
    server = serve(ws)
    with make_client(server) as client:
        listing = WORKSPACE.list_dir(client, HOME)
    # 2 notebooks + 2 FILEs + 4 other objects (unknown types too) are files; REPO and
    # DIRECTORY are walked, not counted.
    assert listing.files == 8
    assert listing.bytes == 1234          # only FILE sizes; notebooks and the rest are 0
    assert listing.newest_ms == 7_000
    assert sorted(listing.subdirs) == [f"{HOME}/folder", f"{HOME}/my repo"]


def test_notebooks_count_as_zero_bytes(serve):
    ws = Workspace()
    for i in range(5):
        ws.workspace.add_notebook(f"{HOME}/nb{i}", language="PYTHON")
    server = serve(ws)
    row = scan_one(server, U, walkers=(WORKSPACE,))
    assert (row.workspace_files, row.workspace_bytes, row.total_size) == (5, 0, 0)
    assert row.status == "success"


def test_repo_is_walked_not_counted(serve):
    ws = Workspace()
    ws.workspace.add_repo(f"{HOME}/repo")
    ws.workspace.add_file(f"{HOME}/repo/README.md", size=70)
    ws.workspace.add_notebook(f"{HOME}/repo/src/main")
    ws.workspace.add_file(f"{HOME}/repo/src/lib/util.py", size=30)
    server = serve(ws)
    row = scan_one(server, U, walkers=(WORKSPACE,))
    truth = ws.truth(U)
    assert (truth.workspace_files, truth.workspace_bytes) == (3, 100)
    assert (row.workspace_files, row.workspace_bytes) == (3, 100)
    assert row.listings == 4  # home, repo, repo/src, repo/src/lib


def test_sizes_come_only_from_the_api():
    """Absent, null, negative, boolean or junk sizes count 0 bytes, never a guess; a
    numeric string is the number it spells (int64 written as JSON text). The odd ones
    are counted for the run's warning; an absent or null size (a notebook) is not odd."""
    body = {"objects": [
        {"object_type": "FILE", "path": f"{HOME}/a", "size": 100},
        {"object_type": "FILE", "path": f"{HOME}/b"},
        {"object_type": "FILE", "path": f"{HOME}/c", "size": None},
        {"object_type": "FILE", "path": f"{HOME}/d", "size": -5},
        {"object_type": "FILE", "path": f"{HOME}/e", "size": True},
        {"object_type": "FILE", "path": f"{HOME}/f", "size": "12"},
        {"object_type": "NOTEBOOK", "path": f"{HOME}/g", "language": "PYTHON"},
        {"object_type": "LIBRARY", "path": f"{HOME}/h"},
    ]}
    listing = WORKSPACE.list_dir(_StubClient(body), HOME)
    assert (listing.files, listing.bytes, listing.odd_sizes) == (8, 112, 2)
    dbfs_body = {"files": [
        {"path": f"{HOME}/x", "is_dir": False, "file_size": 7},
        {"path": f"{HOME}/y", "is_dir": False},
        {"path": f"{HOME}/z", "is_dir": False, "file_size": None},
        {"path": f"{HOME}/d", "is_dir": True, "file_size": 4096},
    ]}
    listing = DBFS.list_dir(_StubClient(dbfs_body), HOME)
    assert (listing.files, listing.bytes, listing.subdirs) == (3, 7, [f"{HOME}/d"])


def test_directory_listing_itself_is_not_walked_again():
    body = {"objects": [{"object_type": "DIRECTORY", "path": HOME},
                        {"object_type": "DIRECTORY", "path": HOME + "/"},
                        {"object_type": "DIRECTORY", "path": f"{HOME}/real"}]}
    assert WORKSPACE.list_dir(_StubClient(body), HOME).subdirs == [f"{HOME}/real"]


def test_paths_go_in_the_query_string():
    stub = _StubClient({})
    DBFS.list_dir(stub, "/Users/a b#c@x.com")
    WORKSPACE.list_dir(stub, "/Users/a b#c@x.com")
    assert stub.calls == [("/api/2.0/dbfs/list", {"path": "/Users/a b#c@x.com"}),
                          ("/api/2.0/workspace/list", {"path": "/Users/a b#c@x.com"})]


@pytest.mark.parametrize("walker", [DBFS, WORKSPACE], ids=lambda w: w.name)
def test_listing_errors_are_typed(serve, walker):
    ws = Workspace()
    tree = ws.dbfs if walker is DBFS else ws.workspace
    tree.forbid(f"{HOME}/secret")
    tree.mkdir(f"{HOME}/weird")
    tree.mark_bad_path(f"{HOME}/weird")
    server = serve(ws)
    with make_client(server) as client:
        with pytest.raises(PermissionDenied) as denied:
            walker.list_dir(client, f"{HOME}/secret")
        assert denied.value.status == 403
        with pytest.raises(BadRequest):
            walker.list_dir(client, f"{HOME}/weird")
        with pytest.raises(NotFound):
            walker.list_dir(client, f"{HOME}/gone")


@pytest.mark.parametrize("name", [
    "odd #1 + 'q' é 数据 🚀 50% a&b?c=d.csv", "space name.txt", "100%.csv", "a+b=c&d?.json"])
def test_odd_file_names_list_and_count(serve, name):
    ws = Workspace()
    ws.dbfs.add_file(f"{HOME}/dir #2 é/{name}", size=42)
    ws.workspace.add_file(f"{HOME}/dir #2 é/{name}", size=43)
    server = serve(ws)
    row = scan_one(server, U)
    assert (row.dbfs_files, row.dbfs_bytes, row.workspace_files, row.workspace_bytes) == \
        (1, 42, 1, 43)
    assert row.status == "success" and row.error == ""


# -- depth and width ----------------------------------------------------------------------

@pytest.mark.parametrize("tree_name", ["dbfs", "workspace"])
def test_deep_tree_depth_30_walked_to_the_bottom(serve, tree_name):
    ws = Workspace()
    tree = getattr(ws, tree_name)
    path = HOME
    for level in range(1, 31):
        path = f"{path}/level {level}"
        if level % 10 == 0:
            tree.add_file(f"{path}/f{level}.bin", size=level)
    tree.add_file(f"{path}/bottom.bin", size=1000)
    tree.mkdir(HOME)
    server = serve(ws)
    row = scan_one(server, U)
    truth = ws.truth(U)
    files = getattr(row, f"{tree_name}_files")
    size = getattr(row, f"{tree_name}_bytes")
    assert (files, size) == (4, 10 + 20 + 30 + 1000)
    assert (files, size) == (getattr(truth, f"{tree_name}_files"),
                             getattr(truth, f"{tree_name}_bytes"))
    assert row.listings == 31  # home + 30 levels; the other side has no home (404)
    assert row.status == "success"
    assert server.stats.duplicate_listings() == {}


def test_directory_of_5000_entries(serve):
    ws = Workspace()
    for i in range(5000):
        ws.dbfs.add_file(f"{HOME}/big/part-{i:05d}.json", size=i)
    for i in range(5000):
        if i % 2:
            ws.workspace.add_notebook(f"{HOME}/big/nb-{i:05d}")
        else:
            ws.workspace.add_file(f"{HOME}/big/f-{i:05d}", size=2)
    server = serve(ws)
    row = scan_one(server, U)
    assert (row.dbfs_files, row.dbfs_bytes) == (5000, sum(range(5000)))
    assert (row.workspace_files, row.workspace_bytes) == (5000, 2 * 2500)
    assert row.file_count == 10_000
    assert row.listings == 4
    truth = ws.truth(U)
    assert row.dbfs_bytes + row.workspace_bytes == truth.dbfs_bytes + truth.workspace_bytes
