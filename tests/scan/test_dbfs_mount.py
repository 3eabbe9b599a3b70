"""The DBFS mount walker against the REST walker: the same listing of every directory
of one tree, read from the fake's sparse-file copy and from dbfs/list over HTTP."""

from __future__ import annotations

import os

import pytest

from test_walkers import make_client
from dbx_inventory.errors import NotFound
from dbx_inventory.scan.filesystems import DBFS, WORKSPACE
from dbx_inventory.scan.filesystems.dbfs_mount import MOUNT_ENV, DbfsMountWalker, find_mount
from dbx_inventory.scan.scanner import Scanner
from fake_workspace import Workspace, generate_workspace, write_dbfs_mount

T0 = 1_700_000_000_000
# A directory the kernel refuses even to root (no CAP_SYS_ADMIN in this container):
# how a mount that refuses a path (Unity Catalog standard access mode) looks here.
REFUSED = "/proc/1/map_files"


def odd_world() -> Workspace:
    ws = generate_workspace(6, seed=35, forbidden_subtrees=0)
    home = f"/Users/{ws.users[0].user_name}"
    ws.dbfs.add_file(f"{home}/dir #2 é/数据 🚀 50%.csv", size=42, mtime_ms=T0 + 7)
    ws.dbfs.add_file(f"{home}/a+b & c?/x'y\"z.py", size=58, mtime_ms=T0 + 1)
    ws.dbfs.add_file(f"{home}/huge.bin", size=3 * 1024 ** 4, mtime_ms=T0 + 9_123)
    ws.dbfs.add_file(f"{home}/zero.txt", size=0, mtime_ms=T0)
    ws.dbfs.mkdir(f"{home}/empty/deeper")
    return ws


def same(listing):
    return (listing.files, listing.bytes, listing.newest_ms, sorted(listing.subdirs))


def test_every_directory_lists_as_dbfs_list_gives_it(serve, tmp_path):
    ws = odd_world()
    server = serve(ws)
    mount = DbfsMountWalker(str(write_dbfs_mount(ws.dbfs, tmp_path / "dbfs")))
    with make_client(server) as client:
        for path in ws.dbfs.dirs:
            assert same(mount.list_dir(client, path)) == same(DBFS.list_dir(client, path)), path
        server.reset_stats()
        file = f"/Users/{ws.users[0].user_name}/huge.bin"  # a file given as a root
        assert same(mount.list_dir(client, file)) == (1, 3 * 1024 ** 4, T0 + 9_123, [])
        with pytest.raises(NotFound):
            mount.list_dir(client, "/Users/nobody@x.com")
    assert server.stats.total_requests == 0  # none of that went to the workspace
    assert mount.refused == 0


def test_a_directory_the_mount_refuses_goes_through_the_rest_api(serve, tmp_path):
    if os.access(REFUSED, os.R_OK) and _listable(REFUSED):
        pytest.skip(f"{REFUSED} is readable here: nothing refuses root")
    ws = odd_world()
    server = serve(ws)
    root = write_dbfs_mount(ws.dbfs, tmp_path / "dbfs")
    refused = f"/Users/{ws.users[0].user_name}/dir #2 é"
    local = root / refused.lstrip("/")
    for child in local.iterdir():
        child.unlink()
    local.rmdir()
    local.symlink_to(REFUSED)
    mount = DbfsMountWalker(str(root))
    with make_client(server) as client:
        assert same(mount.list_dir(client, refused)) == same(DBFS.list_dir(client, refused))
    assert server.stats.listings[("dbfs", refused)] == 2  # the mount's and ours
    assert mount.refused == 1
    assert mount.describe() == (f"the DBFS mount at {root}; 1 refused, listed through the "
                                "REST API")


def _listable(path: str) -> bool:
    try:
        os.listdir(path)
        return True
    except OSError:
        return False


def test_find_mount_says_which_way(tmp_path):
    missing = tmp_path / "nothing"
    assert find_mount({MOUNT_ENV: str(missing)}) == (
        None, f"the REST API (no DBFS mount at {missing})")
    walker, how = find_mount({MOUNT_ENV: str(tmp_path)})
    assert isinstance(walker, DbfsMountWalker) and how == f"the DBFS mount at {tmp_path}"
    if not _listable(REFUSED):
        assert find_mount({MOUNT_ENV: REFUSED}) == (
            None, f"the REST API (the DBFS mount at {REFUSED} refused: Permission denied)")


def test_the_scanner_lists_with_the_walker_it_is_given(serve, tmp_path):
    ws = odd_world()
    server = serve(ws)
    mount = DbfsMountWalker(str(write_dbfs_mount(ws.dbfs, tmp_path / "dbfs")))
    names = [user.user_name for user in ws.users]
    with make_client(server) as client:
        rows = {row.username: row for row in Scanner(client, walkers=(mount, WORKSPACE))
                .scan(names)}
    for truth in ws.truths():
        row = rows[truth.username]
        assert (row.dbfs_files, row.dbfs_bytes) == (truth.dbfs_files, truth.dbfs_bytes)
        assert (row.file_count, row.last_modified_ms) == (
            truth.dbfs_files + truth.workspace_files, truth.newest_mtime_ms)
    assert not [key for key in server.stats.listing_attempts if key[0] == "dbfs"]


def test_a_directory_handed_on_is_counted_there_and_joins_its_users_row(serve, tmp_path):
    """Spark mode's hand-over (issue 30), without Spark: a DBFS directory too large for
    dbfs/list is handed on; the scan lets its user go, and the user's row comes with
    the delivery of the directory's own row (here counted through a mount), breakdown
    and all, equal to a scan that could list it."""
    from dbx_inventory.scan.roots import area_root

    ws = Workspace()
    home = "/Users/user00@x.com"
    for name in ("user00@x.com", "user01@x.com"):
        ws.add_user(name)
        ws.workspace.add_file(f"/Users/{name}/nb.py", size=5)
    for i in range(30):                                    # over N = 20: too large
        ws.dbfs.add_file(f"{home}/events/_delta_log/{i:020d}.json", size=100, mtime_ms=i)
    ws.dbfs.add_file(f"{home}/events/_delta_log/_commits/c.json", size=3, mtime_ms=1)
    ws.dbfs.add_file(f"{home}/events/part-0.parquet", size=5000)  # beside it: counted
    ws.dbfs.add_file("/Users/user01@x.com/a.csv", size=11)
    names = ["user00@x.com", "user01@x.com"]
    with make_client(serve(ws)) as client:
        want = {row.username: row for row in Scanner(client, dirs_depth=3).scan(names)}
    mount = DbfsMountWalker(str(write_dbfs_mount(ws.dbfs, tmp_path / "dbfs")))
    server = serve(ws, too_large_entries=20, too_large_delay_s=0.01)
    handed = []
    with make_client(server) as client:
        got = {row.username: row for row in Scanner(
            client, dirs_depth=3, handover=lambda *args: handed.append(args)).scan(names)}
        assert sorted(got) == ["user01@x.com"]  # user00's row waits for its directory
        [(place, reason, depth, deliver)] = handed
        assert (place.path, depth) == (f"{home}/events/_delta_log", 2)
        assert "too large for the DBFS REST API" in reason
        [piece] = Scanner(client, walkers=(mount,), dirs_depth=3 - depth).scan(
            [area_root("dbfs", place.path)])
        got["user00@x.com"] = deliver(piece)
    for name in names:
        mine, theirs = got[name], want[name]
        assert (mine.status, mine.file_count, mine.total_size, mine.dbfs_files,
                mine.last_modified_ms, mine.listings, mine.error, mine.dirs) == (
            theirs.status, theirs.file_count, theirs.total_size, theirs.dbfs_files,
            theirs.last_modified_ms, theirs.listings, theirs.error, theirs.dirs)
    assert any(row[2].endswith("/_commits") for row in got["user00@x.com"].dirs)
