"""The fake workspace's Unity Catalog and Files API, over real HTTP with plain `requests`."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from fake_workspace import FakeWorkspaceServer, Workspace, add_unity_catalog, generate_workspace
from fake_workspace.unity import EXTERNAL, MANAGED, ODD_FILES, UC_PAGE
from fake_workspace.volume_truth import discoverable, expected_volumes

TOKEN = "dapi-fake-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UC = "/api/2.1/unity-catalog"


@pytest.fixture(scope="module")
def ws():
    workspace = generate_workspace(6, seed=3)
    add_unity_catalog(workspace, seed=3, big_volume_files=2100)
    return workspace


@pytest.fixture(scope="module")
def server(ws):
    with FakeWorkspaceServer(ws, token=TOKEN) as srv:
        yield srv


def get(server, path, **params):
    return requests.get(server.url + path, params=params, headers=AUTH, timeout=10)


def all_pages(server, path, key, **params):
    """Every item of a paged list, and the size of each page."""
    items, sizes, token = [], [], None
    while True:
        answer = get(server, path, **params, **({"page_token": token} if token else {}))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body.get(key, [])
        sizes.append(len(body.get(key, [])))
        token = body.get("next_page_token")
        if not token:
            return items, sizes


def files(server, path, **params):
    return get(server, "/api/2.0/fs/directories" + quote(path), **params)


def test_catalogs_schemas_volumes_paged_with_short_pages(server, ws):
    catalogs, sizes = all_pages(server, f"{UC}/catalogs", "catalogs", max_results=100)
    assert [c["name"] for c in catalogs] == ["main", "ml", "analytics", "restricted"]
    # Pages shorter than asked while more follow: only the missing token ends a list.
    assert sizes[0] == UC_PAGE < 100 and len(sizes) == 2
    schemas, _ = all_pages(server, f"{UC}/schemas", "schemas", catalog_name="main")
    assert [s["name"] for s in schemas] == ["default", "information_schema", "finance", "hr"]
    volumes, _ = all_pages(server, f"{UC}/volumes", "volumes", catalog_name="main",
                           schema_name="default")
    assert [v["full_name"] for v in volumes] == ["main.default.landing",
                                                  "main.default.données-brutes",
                                                  "main.default.empty_volume"]
    assert {v["volume_type"] for v in volumes} == {MANAGED}
    everything = [v for v in discoverable(ws)]
    owners = {v.owner for v in everything}
    assert ws.users[0].user_name in owners and "data-engineers" in owners
    assert ws.service_principals[0].application_id in owners
    assert any(v.volume_type == EXTERNAL and v.storage_location.startswith("s3://")
               for v in everything)


def test_catalog_and_schema_the_token_cannot_read(server):
    answer = get(server, f"{UC}/schemas", catalog_name="restricted")
    assert answer.status_code == 403 and answer.json()["error_code"] == "PERMISSION_DENIED"
    answer = get(server, f"{UC}/volumes", catalog_name="main", schema_name="hr")
    assert answer.status_code == 403
    assert get(server, f"{UC}/volumes", catalog_name="analytics",
               schema_name="default").json() == {"volumes": []}
    assert get(server, f"{UC}/schemas", catalog_name="nope").status_code == 404
    assert get(server, f"{UC}/catalogs", max_results=-1).status_code == 400


def test_no_metastore_answers_404():
    with FakeWorkspaceServer(Workspace(), token=TOKEN) as srv:
        answer = get(srv, f"{UC}/catalogs")
        assert answer.status_code == 404
        assert answer.json()["error_code"] == "METASTORE_DOES_NOT_EXIST"


def listing(server, path, page_size=1000):
    """Every entry of one directory through the Files API, and each page's size."""
    entries, sizes, token = [], [], None
    while True:
        answer = files(server, path, page_size=page_size,
                       **({"page_token": token} if token else {}))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        entries += body.get("contents", [])
        sizes.append(len(body.get("contents", [])))
        token = body.get("next_page_token")
        if not token:
            return entries, sizes


def test_files_api_pages_a_big_volume(server, ws):
    path = "/Volumes/ml/features/training_images/cats"
    entries, sizes = listing(server, path)
    # The first page holds only the one subdirectory: short, with more to follow.
    assert sizes[0] == 1 and len(sizes) >= 2
    assert entries[0]["is_directory"] and "file_size" not in entries[0]
    node = ws.unity.files.dirs[path]
    assert len(entries) == len(node.subdirs) + len(node.files)
    assert sum(e.get("file_size", 0) for e in entries) == sum(node.files.sizes)
    assert all(set(e) >= {"path", "is_directory", "last_modified", "name"} for e in entries)
    assert server.stats.listings[("volumes", path)] == 1  # counted once, not per page


def listing_token(server, path):
    """The token of a directory's second page (its first holds the subdirectories)."""
    return files(server, path).json()["next_page_token"]


def test_files_api_odd_names_403_404_and_page_size(server, ws):
    base = "/Volumes/main/default/données-brutes"
    names = {e["name"] for e in listing(server, base)[0]}
    assert set(ODD_FILES) <= names and "sub #2 + é" in names
    deep = files(server, base + "/sub #2 + é").json()["contents"]
    assert [e["path"] for e in deep] == [base + "/sub #2 + é/deep 数据.csv"]
    assert files(server, "/Volumes/main/finance/payroll").status_code == 403
    assert files(server, "/Volumes/main/finance/payroll/2025").status_code == 403
    assert files(server, "/Volumes/main/default/nope").status_code == 404
    assert files(server, "/Volumes/main/default/empty_volume").json() == {}
    cats = "/Volumes/ml/features/training_images/cats"
    assert len(ws.unity.files.dirs[cats].files) > 1000
    big = files(server, cats, page_size=5000, page_token=listing_token(server, cats)).json()
    assert len(big["contents"]) == 1000 and big["next_page_token"]  # coerced to 1,000
    small = files(server, "/Volumes/ml/features/training_images/dogs", page_size=7).json()
    assert len(small["contents"]) == 7


def test_truth_of_volumes(ws):
    got = expected_volumes(ws)
    assert got[("volumes", "/Volumes/main/finance/reports")][2] == "skipped"
    assert got[("volumes", "/Volumes/main/finance/payroll")][2] == "error"
    assert got[("volumes", "/Volumes/main/default/empty_volume")][:3] == (0, 0, "empty")
    assert got[("volumes", "/Volumes/ml/features/training_images")][0] == 2100
    assert ("volumes", "/Volumes/restricted/default/secrets") not in got
    with_external = expected_volumes(ws, include_external=True)
    assert with_external[("volumes", "/Volumes/main/finance/reports")][0] == 8
