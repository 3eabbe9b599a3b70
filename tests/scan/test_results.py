"""classify(): status, error text, file_source and counts from the two sides."""

from __future__ import annotations

from dbx_inventory.scan.results import SideCount, UserResult, classify

NO_HOME = "no home folder exists in DBFS or the Workspace: the user may never have signed in"


def side(*listings, missing=False, failures=()) -> SideCount:
    """A SideCount built through its own API: listings are (files, bytes, newest_ms)."""
    count = SideCount(missing=missing)
    for files, num_bytes, newest in listings:
        count.add(files, num_bytes, newest)
    for reason in failures:
        count.fail(reason)
    return count


def run(dbfs, workspace) -> UserResult:
    return classify("u@x.com", dbfs, workspace, started_at=10.0, ended_at=13.5,
                    worker="box/42")


def test_side_count_add_and_fail():
    s = side((2, 100, 5), (3, 50, 9), (0, 0, None), failures=["first", "second"])
    assert (s.files, s.bytes, s.newest_ms, s.listings) == (5, 150, 9, 3)
    assert (s.failed, s.first_failure) == (2, "first")


def test_success_in_both():
    row = run(side((2, 200, 1000)), side((3, 30, 5000)))
    assert (row.status, row.file_count, row.total_size, row.file_source, row.error) == \
        ("success", 5, 230, "both", "")
    assert (row.dbfs_files, row.dbfs_bytes, row.workspace_files, row.workspace_bytes) == \
        (2, 200, 3, 30)
    assert row.last_modified_ms == 5000
    assert row.listings == 2
    assert (row.username, row.worker, row.duration_s) == ("u@x.com", "box/42", 3.5)


def test_success_dbfs_only_files():
    row = run(side((4, 40, 7)), side((0, 0, None)))
    assert (row.status, row.file_source, row.file_count) == ("success", "dbfs", 4)


def test_success_workspace_only_files():
    row = run(side((0, 0, None)), side((1, 0, 7)))
    # A file of size 0 is still a file.
    assert (row.status, row.file_source, row.file_count, row.total_size) == \
        ("success", "workspace", 1, 0)


def test_empty_when_both_listed_and_nothing_found():
    row = run(side((0, 0, None)), side((0, 0, None)))
    assert (row.status, row.file_source, row.error, row.file_count) == ("empty", "none", "", 0)
    assert row.last_modified_ms is None


def test_both_homes_missing_is_error():
    row = run(side(missing=True), side(missing=True))
    assert row.status == "error"
    assert row.error == NO_HOME
    assert row.file_source == "unknown"
    assert (row.file_count, row.total_size) == (0, 0)


def test_one_home_missing_other_has_files_is_success():
    row = run(side(missing=True), side((6, 600, 11)))
    assert (row.status, row.error, row.file_source, row.file_count) == \
        ("success", "", "workspace", 6)
    row = run(side((2, 20, 11)), side(missing=True))
    assert (row.status, row.error, row.file_source) == ("success", "", "dbfs")


def test_one_home_missing_other_empty_is_empty():
    row = run(side(missing=True), side((0, 0, None)))
    assert (row.status, row.error, row.file_source) == ("empty", "", "none")


def test_failed_listing_is_error_keeping_counts():
    dbfs = side((3, 300, 50), failures=["403 PERMISSION_DENIED (/Users/u/secret)"])
    row = run(dbfs, side((2, 20, 60)))
    assert row.status == "error"
    assert (row.file_count, row.total_size) == (5, 320)
    assert row.error == "DBFS: 403 PERMISSION_DENIED (/Users/u/secret)"
    assert row.file_source == "both"
    assert row.last_modified_ms == 60


def test_several_failures_counted_first_named():
    ws = side((1, 1, None), failures=["500 boom (/a)", "502 bad gateway (/b)",
                                      "504 timeout (/c)"])
    row = run(side((0, 0, None)), ws)
    assert row.status == "error"
    assert row.error == "Workspace: 500 boom (/a) (3 listings failed)"
    assert row.file_source == "workspace"


def test_failures_on_both_sides_named_in_order():
    row = run(side(failures=["429 throttled (/x)"]), side(failures=["timeout (/y)"]))
    assert row.error == "DBFS: 429 throttled (/x); Workspace: timeout (/y)"
    assert row.status == "error"
    assert row.file_source == "unknown"      # nothing was read at all


def test_failure_with_empty_but_listed_side_is_not_unknown():
    row = run(side((0, 0, None)), side(failures=["403 denied (/Users/u)"]))
    assert row.status == "error"
    assert row.file_source == "none"


def test_failed_side_with_missing_other():
    row = run(side(missing=True), side(failures=["401 bad token (/Users/u)"]))
    assert row.status == "error"
    assert row.error == "Workspace: 401 bad token (/Users/u)"
    assert row.file_source == "unknown"


def test_single_side_dbfs_only_scan():
    row = run(side((3, 33, 9)), None)
    assert (row.status, row.file_source, row.file_count, row.total_size) == \
        ("success", "dbfs", 3, 33)
    assert (row.workspace_files, row.workspace_bytes) == (0, 0)
    assert row.listings == 1


def test_single_side_workspace_only_scan():
    row = run(None, side((0, 0, None)))
    assert (row.status, row.file_source) == ("empty", "none")
    assert (row.dbfs_files, row.dbfs_bytes) == (0, 0)


def test_single_side_missing_home_names_that_side():
    row = run(None, side(missing=True))
    assert row.status == "error"
    assert row.error == "no home directory in Workspace"
    assert row.file_source == "unknown"
    row = run(side(missing=True), None)
    assert row.error == "no home directory in DBFS"


def test_last_modified_is_newest_of_both_sides():
    row = run(side((1, 1, 1_700_000_000_000), (1, 1, 1_600_000_000_000)),
              side((1, 1, 1_650_000_000_000)))
    assert row.last_modified_ms == 1_700_000_000_000
    row = run(side((1, 1, None)), side((1, 1, 1_650_000_000_000)))
    assert row.last_modified_ms == 1_650_000_000_000
    row = run(side((1, 1, 5)), side((1, 1, None)))
    assert row.last_modified_ms == 5


def test_round_trip_through_dict():
    row = run(side((2, 200, 1000), failures=["x"]), side((3, 30, 5000)))
    data = row.to_dict()
    data["unknown_future_field"] = "ignored"
    assert UserResult.from_dict(data) == row
    assert "token" not in data


def test_duration_never_negative():
    row = classify("u", side(), side(), started_at=20.0, ended_at=10.0, worker="")
    assert row.duration_s == 0.0
