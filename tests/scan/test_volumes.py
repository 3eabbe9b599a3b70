"""The volumes walker over real HTTP against the fake's Files API: paging, odd names,
403, the Files API's own limits (10 in flight, 100/s to start)."""

from __future__ import annotations

import pytest

from conftest import TOKEN
from dbx_inventory.scan.filesystems import VOLUMES, WALKERS
from dbx_inventory.scan.roots import area_root
from dbx_inventory.scan.scanner import Scanner
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.transport.family_limits import FILES
from dbx_inventory.transport.retry import RetryPolicy
from fake_workspace import generate_workspace, add_unity_catalog
from fake_workspace.truth import visible

BIG = "/Volumes/ml/features/training_images"
ODD = "/Volumes/main/default/données-brutes"


@pytest.fixture(scope="module")
def ws():
    workspace = generate_workspace(4, seed=5)
    add_unity_catalog(workspace, seed=5, big_volume_files=2600)
    return workspace


def client_for(server, n: int = 20, **config) -> ApiClient:
    return ApiClient(ClientConfig(host=server.url, credentials=StaticToken(TOKEN),
                                  max_in_flight=n, **config,
                                  retry=RetryPolicy(base_delay=0.01, max_delay=0.05)))


def scan(server, *paths, **config):
    with client_for(server, **config) as client:
        rows = list(Scanner(client, walkers=(VOLUMES,)).scan(
            [area_root("volumes", path, owner="someone") for path in paths]))
    return {row.username: row for row in rows}, client


def test_walker_registered():
    assert WALKERS["volumes"] is VOLUMES


def test_a_big_volume_is_exact_through_many_short_pages(serve, ws):
    ws.unity.files_page = 7  # many pages per directory, and short ones at the dir/file seam
    try:
        server = serve(ws)
        rows, _ = scan(server, BIG, ODD)
    finally:
        ws.unity.files_page = 1000
    for path in (BIG, ODD):
        row = rows[f"volumes:{path}"]
        assert (row.file_count, row.total_size) == visible(ws.unity.files, path)
        assert row.status == "success" and row.owner == "someone"
        assert row.file_source == "volumes"
    assert rows[f"volumes:{BIG}"].file_count == 2600
    # Each directory listed once (pages are not listings), and none twice.
    assert server.stats.duplicate_listings() == {}
    dirs = [p for p in ws.unity.files.dirs if p == BIG or p.startswith(BIG + "/")]
    assert rows[f"volumes:{BIG}"].listings == len(dirs)


def test_a_volume_answering_403_is_an_error_naming_it(serve, ws):
    server = serve(ws)
    rows, _ = scan(server, "/Volumes/main/finance/payroll")
    row = rows["volumes:/Volumes/main/finance/payroll"]
    assert row.status == "error" and row.error_kind == "final"
    assert "403" in row.error and "/Volumes/main/finance/payroll" in row.error
    assert row.error.startswith("Volumes:")


def test_files_api_held_to_10_in_flight_and_100_per_second_to_start(serve):
    wide = generate_workspace(2, seed=6)
    add_unity_catalog(wide, seed=6, big_volume_files=10)
    for k in range(80):  # wide: far more directories than requests in flight
        wide.unity.files.add_file(f"{BIG}/wide/d{k}/f.bin", size=k)
    server = serve(wide, latency_s=0.2)  # at 100/s, 20 would be in flight
    rows, client = scan(server, BIG, n=20)
    assert rows[f"volumes:{BIG}"].file_count == 90
    assert server.stats.peak_in_flight == 10  # of the run's 20
    # Held back by the pace from the start: it probes up slowly from 100/s.
    assert 100.0 <= client.pacer.pace(FILES).rate < 110.0


def test_a_spark_share_gets_its_part_of_the_files_api_limits(serve, ws):
    server = serve(ws)
    with client_for(server) as client:
        assert client.family_caps.caps == {FILES: 10}
        assert client.pacer.pace(FILES).rate == pytest.approx(100.0)
    with client_for(server, n=4, family_share=0.2) as client:
        assert client.family_caps.caps == {FILES: 2}
        assert client.pacer.pace(FILES).rate == pytest.approx(20.0)
