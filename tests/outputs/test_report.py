"""Results CSV: exact text, column order, extended columns, quoting, atomic write."""

from __future__ import annotations

import csv
import io

import pytest

from dbx_inventory.outputs.csv_files import write_results
from dbx_inventory.scan.results import UserResult

HEADER = "username,file_count,total_size,total_size_gb,status,file_source,error"
EXT_HEADER = HEADER + ",dbfs_files,dbfs_bytes,workspace_files,workspace_bytes," \
                      "last_modified,duration_s"


def r(name, status, files, size, source, error="", **extra) -> UserResult:
    return UserResult(username=name, status=status, file_count=files, total_size=size,
                      file_source=source, error=error, **extra)


def test_exact_csv_text(tmp_path):
    out = tmp_path / "results.csv"
    rows = [
        r("alice@x.com", "success", 3, 1610612736, "dbfs"),        # 1.5 GiB
        r("bob@x.com", "empty", 0, 0, "none"),
        r("carol@x.com", "success", 12, 536870912, "workspace"),   # 0.5 GiB
        r("dan@x.com", "success", 1, 10737418240, "both"),         # 10 GiB
        r("eve@x.com", "error", 0, 0, "unknown",
          "no home folder exists in DBFS or the Workspace: the user may never have signed in"),
    ]
    write_results(str(out), rows)
    assert out.read_bytes().decode("utf-8") == (
        HEADER + "\n"
        "alice@x.com,3,1610612736,1.50,success,dbfs,\n"
        "bob@x.com,0,0,0.00,empty,none,\n"
        "carol@x.com,12,536870912,0.50,success,workspace,\n"
        "dan@x.com,1,10737418240,10.00,success,both,\n"
        "eve@x.com,0,0,0.00,error,unknown,no home folder exists in DBFS or the Workspace: "
        "the user may never have signed in\n"
    )


def test_gb_rounds_to_two_decimals(tmp_path):
    out = tmp_path / "results.csv"
    # 1 byte -> 0.00; 3/4 GiB = 805306368 -> 0.75; 1 GiB + 1/8 GiB = 1207959552 -> 1.12
    # (1.125 rounds half to even); 2 GiB - 1 byte -> 2.00
    rows = [r("a", "success", 1, 1, "dbfs"), r("b", "success", 1, 805306368, "dbfs"),
            r("c", "success", 1, 1207959552, "dbfs"), r("d", "success", 1, 2147483647, "dbfs")]
    write_results(str(out), rows)
    gbs = [line.split(",")[3] for line in out.read_text().splitlines()[1:]]
    assert gbs == ["0.00", "0.75", "1.12", "2.00"]


def test_header_only_when_no_rows(tmp_path):
    out = tmp_path / "results.csv"
    write_results(str(out), [])
    assert out.read_text() == HEADER + "\n"


def test_rows_keep_input_order(tmp_path):
    out = tmp_path / "results.csv"
    names = ["zed", "amy", "Mike", "bob"]
    write_results(str(out), [r(n, "empty", 0, 0, "none") for n in names])
    assert [line.split(",")[0] for line in out.read_text().splitlines()[1:]] == names


def test_extended_columns(tmp_path):
    out = tmp_path / "results.csv"
    rows = [
        r("alice@x.com", "success", 3, 1610612736, "both", dbfs_files=2,
          dbfs_bytes=1073741824, workspace_files=1, workspace_bytes=536870912,
          last_modified_ms=1700000000000, started_at=100.0, ended_at=102.5),
        r("bob@x.com", "empty", 0, 0, "none", last_modified_ms=None,
          started_at=50.0, ended_at=50.0),
        r("old@x.com", "success", 1, 7, "dbfs", dbfs_files=1, dbfs_bytes=7,
          last_modified_ms=86401999, started_at=10.0, ended_at=70.0),
        r("epoch@x.com", "success", 1, 7, "dbfs", dbfs_files=1, dbfs_bytes=7,
          last_modified_ms=0, started_at=10.0, ended_at=5.0),
    ]
    write_results(str(out), rows, extended=True)
    assert out.read_text() == (
        EXT_HEADER + "\n"
        "alice@x.com,3,1610612736,1.50,success,both,,2,1073741824,1,536870912,"
        "2023-11-14T22:13:20Z,2.5\n"
        "bob@x.com,0,0,0.00,empty,none,,0,0,0,0,,0.0\n"
        "old@x.com,1,7,0.00,success,dbfs,,1,7,0,0,1970-01-02T00:00:01Z,60.0\n"
        "epoch@x.com,1,7,0.00,success,dbfs,,1,7,0,0,1970-01-01T00:00:00Z,0.0\n"
    )


def test_awkward_error_text_is_quoted(tmp_path):
    out = tmp_path / "results.csv"
    error = 'DBFS: 403 "PERMISSION_DENIED", path /Users/a,b\nsecond line'
    write_results(str(out), [r("a,b@x.com", "error", 2, 20, "dbfs", error)])
    text = out.read_text()
    assert text == (HEADER + "\n"
                    '"a,b@x.com",2,20,0.00,error,dbfs,'
                    '"DBFS: 403 ""PERMISSION_DENIED"", path /Users/a,b\nsecond line"\n')
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[1] == ["a,b@x.com", "2", "20", "0.00", "error", "dbfs", error]


def test_overwrites_existing_file(tmp_path):
    out = tmp_path / "results.csv"
    out.write_text("old contents\n" * 100)
    write_results(str(out), [r("a", "empty", 0, 0, "none")])
    assert out.read_text() == HEADER + "\na,0,0,0.00,empty,none,\n"


def failing_rows():
    yield r("alice@x.com", "success", 3, 1610612736, "dbfs")
    yield r("bob@x.com", "empty", 0, 0, "none")
    raise RuntimeError("disk on fire")


def test_failure_midway_leaves_old_file_and_no_temp(tmp_path):
    out = tmp_path / "results.csv"
    out.write_text("previous run\n")
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_results(str(out), failing_rows())
    assert out.read_text() == "previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_failure_midway_creates_nothing(tmp_path):
    out = tmp_path / "results.csv"
    with pytest.raises(RuntimeError):
        write_results(str(out), failing_rows(), extended=True)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_target_folder_raises(tmp_path):
    with pytest.raises(OSError):
        write_results(str(tmp_path / "no_such_dir" / "results.csv"),
                      [r("a", "empty", 0, 0, "none")])


def test_error_column_is_scrubbed_of_known_secrets(tmp_path):
    from dbx_inventory import scrub

    secret = "dapi-IN-AN-ERROR-7777"
    scrub.remember(secret)
    row = UserResult("a@x.com", "error", 0, 0, "unknown",
                     f"DBFS: 500 echo: Bearer {secret}; url https://h/?token=abc123")
    out = tmp_path / "r.csv"
    write_results(str(out), [row])
    text = out.read_text(encoding="utf-8")
    assert secret not in text and "abc123" not in text
    assert "Bearer ****" in text and "token=****" in text


def test_user_status_comes_last_after_the_extended_columns(tmp_path):
    out = tmp_path / "results.csv"
    rows = [r("a@x.com", "success", 1, 5, "dbfs", user_status="removed"),
            r("b@x.com", "empty", 0, 0, "none", user_status="active")]
    write_results(str(out), rows, user_status=True)
    assert out.read_text(encoding="utf-8").splitlines() == [
        HEADER + ",user_status", "a@x.com,1,5,0.00,success,dbfs,,removed",
        "b@x.com,0,0,0.00,empty,none,,active"]
    write_results(str(out), rows, extended=True, user_status=True)
    header, first = out.read_text(encoding="utf-8").splitlines()[:2]
    assert header == EXT_HEADER + ",user_status" and first.endswith(",removed")


# -- the HTML report of a --whole-workspace run: areas are not users -------------------

END = 1_780_000_000.0  # epoch seconds
DAY_MS = 86_400_000
MOUNT_REASON = "mount point: external storage, not the DBFS root; --include-mounts walks it"


def user(name, size, user_status="active", **extra) -> UserResult:
    return r(name, "success" if size else "empty", 1 if size else 0, size, "dbfs",
             dbfs_files=1 if size else 0, dbfs_bytes=size, user_status=user_status,
             last_modified_ms=int(END * 1000) - 10 * DAY_MS, **extra)


def area(key, size, status="success", error="", days=10) -> UserResult:
    return r(key, status, 3 if size else 0, size, "dbfs" if key.startswith("dbfs") else
             "workspace", error, kind="area",
             last_modified_ms=int(END * 1000) - days * DAY_MS if size else None)


def run_info(**extra):
    from dbx_inventory.outputs.output import RunInfo

    fields = dict(host="https://adb-1.azuredatabricks.net", started_at=END - 90,
                  ended_at=END, mode="LOCAL", command="python x --whole-workspace",
                  sources=("dbfs", "workspace"), run_id="run-1", all_homes=True,
                  whole_workspace=True, statuses_known=True)
    return RunInfo(**{**fields, **extra})


def whole_rows() -> list[UserResult]:
    return [user("alice@x.com", 1000), user("former.bob@x.com", 300, "removed"),
            area("dbfs:/user/hive/warehouse", 9_000_000, days=800),
            user("app-1234", 20, "service_principal"),
            area("workspace:/Shared", 5_000),
            area("dbfs:/mnt/datalake", 0, "skipped", MOUNT_REASON),
            area("dbfs:/tmp", 0, "error", "DBFS: 403 PERMISSION_DENIED"),
            user("carol@x.com", 0)]


def test_report_counts_users_from_user_rows_only():
    from dbx_inventory.outputs.html.report import context, table_data

    ctx = context(run_info(), whole_rows())
    users = ["alice@x.com", "former.bob@x.com", "app-1234", "carol@x.com"]
    assert [row.username for row in ctx["rows"]] == users
    assert ctx["users"] == 4 and ctx["files"] == 3 and ctx["bytes"] == 1320
    assert ctx["per_fs"] == [("DBFS", 3, 1320), ("Workspace", 0, 0)]
    assert dict(ctx["by_status"]) == {"success": 3, "empty": 1, "error": 0}
    assert dict(ctx["by_user_status"]) == {"active": 2, "inactive": 0,
                                           "service_principal": 1, "removed": 1}
    assert ctx["errors"] == []                       # dbfs:/tmp's error is an area's
    assert [row.username for row in ctx["stale"]] == []  # the warehouse is 800 days old
    assert [row.username for row in ctx["left"]] == ["former.bob@x.com"]
    charts = {chart["id"]: chart["figure"]["data"] for chart in ctx["charts"]}
    top = [name for trace in charts["top-users"] for name in trace["y"]]
    assert set(top) == set(users)
    assert sum(charts["bytes-per-user"][0]["y"]) == 4
    assert sum(charts["home-age"][0]["y"]) == 3
    by_status = charts["left-behind"][0]
    assert dict(zip(by_status["x"], by_status["y"], strict=True)) == {
        "active": 1000, "inactive": 0, "service_principal": 20, "removed": 300}
    data = table_data(ctx)
    assert [record[0] for record in data["records"]] == users


def test_report_whole_workspace_section_lists_areas_skipped_and_not_in_scim():
    from dbx_inventory.outputs.html.report import context, table_data

    ctx = context(run_info(), whole_rows())
    whole = ctx["whole"]
    assert [row.username for row in whole["areas"]] == [
        "dbfs:/user/hive/warehouse", "workspace:/Shared", "dbfs:/mnt/datalake", "dbfs:/tmp"]
    assert whole["walked"] == 3 and whole["area_errors"] == 1
    assert whole["skipped"] == [("dbfs:/mnt/datalake", MOUNT_REASON)]
    assert (whole["user_files"], whole["user_bytes"]) == (3, 1320)
    assert (whole["area_files"], whole["area_bytes"]) == (6, 9_005_000)
    assert (whole["files"], whole["bytes"]) == (9, 9_006_320)
    assert [row.username for row in whole["outside"]] == ["former.bob@x.com", "app-1234"]
    bars = {name: size for trace in whole["chart"]["figure"]["data"]
            for name, size in zip(trace["y"], trace["x"], strict=True)}
    assert bars == {"dbfs:/user/hive/warehouse": 9_000_000, "workspace:/Shared": 5_000,
                    "dbfs:/tmp": 0, "users' places": 1320}   # skipped places: no bar
    tables = {table["id"]: table for table in table_data(ctx)["tables"]}
    assert [record[:2] + record[5:6] for record in tables["areas-table"]["records"]] == [
        ["dbfs", "/user/hive/warehouse", "success"], ["workspace", "/Shared", "success"],
        ["dbfs", "/mnt/datalake", "skipped"], ["dbfs", "/tmp", "error"]]
    assert tables["areas-table"]["records"][2][7] == MOUNT_REASON
    records = table_data(ctx)["records"]
    assert [records[i][0] for i in tables["outside-table"]["rows"]] == [
        "former.bob@x.com", "app-1234"]


def test_report_page_shows_the_whole_workspace_section():
    import html
    import json
    import re

    from dbx_inventory.outputs.html.report import render

    page = render(run_info(), whole_rows())
    start = page.index('<section id="whole-workspace">')
    section = page[start:page.index("</section>", start)]
    assert "Whole workspace · 3 areas walked, 1 skipped" in section
    assert "<td>dbfs:/mnt/datalake</td>" in section and html.escape(MOUNT_REASON) in section
    assert "Users not in SCIM (removed users and service principals)" in section
    assert "9,006,320 bytes" in section  # the grand total, exact
    assert 'id="chart-areas"' in section and 'data-table="areas-table"' in section
    data = json.loads(html.unescape(re.search(
        r'<script type="application/json" id="table-data">(.*?)</script>', page,
        re.DOTALL).group(1)))
    assert not any(record[0].startswith(("dbfs:", "workspace:"))
                   for record in data["records"])  # the users' tables
    assert "All users' results · 4 rows" in page


def test_report_without_areas_has_no_whole_workspace_section():
    from dbx_inventory.outputs.html.report import context, render

    rows = [user("alice@x.com", 1000)]
    assert context(run_info(whole_workspace=False), rows)["whole"] is None
    assert 'id="whole-workspace"' not in render(run_info(whole_workspace=False), rows)
    # A --whole-workspace run that found no area still says so.
    page = render(run_info(), rows)
    assert 'id="whole-workspace"' in page and "No areas in this run." in page


def test_report_areas_chart_groups_the_smallest_areas_past_the_top():
    from dbx_inventory.outputs.html.charts import TOP_AREAS
    from dbx_inventory.outputs.html.report import context

    areas = [area(f"dbfs:/a{k:02}", 1000 + k) for k in range(TOP_AREAS + 5)]
    ctx = context(run_info(), [user("alice@x.com", 10), *areas])
    names = [name for trace in ctx["whole"]["chart"]["figure"]["data"]
             for name in trace["y"]]
    assert len(names) == TOP_AREAS + 2 and "5 other areas" in names
    assert "dbfs:/a34" in names and "dbfs:/a04" not in names  # the 5 smallest are grouped
    assert len(ctx["whole"]["areas"]) == TOP_AREAS + 5  # the table has every area


def test_report_errors_are_scrubbed_of_known_secrets():
    from dbx_inventory import scrub
    from dbx_inventory.outputs.html.report import render

    secret = "dapi-IN-AN-AREA-ERROR-4242"
    scrub.remember(secret)
    rows = [user("alice@x.com", 10),
            r("bob@x.com", "error", 0, 0, "unknown", f"DBFS: 500 Bearer {secret}"),
            area("dbfs:/tmp", 0, "error", f"DBFS: 500 echo {secret}")]
    assert secret not in render(run_info(), rows)


# -- "Where the bytes are": the directory breakdown of --dirs-output -------------------

NOW_MS = int(END * 1000)


def d(fs, root, rel, files, size, error="", days=5) -> tuple:
    """One dirs.DirRow: `rel` below `root`, its depth from the number of parts."""
    return (fs, root, f"{root}/{rel}", rel.count("/") + 1, files, size,
            NOW_MS - days * DAY_MS if files else None, error)


def dirs_rows() -> list[UserResult]:
    home = "/Users/ann@x.com"
    ann = user("ann@x.com", 1000, dirs=(  # two roots: her home in both file systems
        d("dbfs", home, "data", 4, 600), d("dbfs", home, "data/raw", 3, 500),
        d("dbfs", home, "data/raw/2024", 1, 200), d("dbfs", home, "tmp", 0, 0),
        d("workspace", home, "proj", 2, 300)))
    ben = user("ben@x.com", 5000, dirs=(d("dbfs", "/Users/ben@x.com", "big", 2, 4900),))
    warehouse = area("dbfs:/user/hive/warehouse", 9000)
    warehouse = UserResult(**{**warehouse.to_dict(), "dirs": (
        d("dbfs", "/user/hive/warehouse", "sales.db", 2, 7000),
        d("dbfs", "/user/hive/warehouse", "sales.db/orders", 1, 6500, "DBFS: 403 x"))})
    return [ann, ben, user("cy@x.com", 70), warehouse,
            area("dbfs:/mnt/datalake", 0, "skipped", MOUNT_REASON)]


def _treemap(ctx) -> dict:
    return ctx["dirs"]["chart"]["figure"]["data"][0]


def _check_tree(trace) -> dict:
    """The treemap's boxes as {id: (parent, value)}, checked as branchvalues=total
    needs them: unique ids, every parent drawn, no parent smaller than its children."""
    ids, parents, values = trace["ids"], trace["parents"], trace["values"]
    assert trace["branchvalues"] == "total"
    assert len(ids) == len(set(ids)) == len(parents) == len(values)
    assert parents.count("") == 1
    assert all(parent == "" or parent in ids for parent in parents)
    children: dict = {}
    for parent, value in zip(parents, values, strict=True):
        children[parent] = children.get(parent, 0) + value
    tree = {key: (parent, value) for key, parent, value in zip(ids, parents, values,
                                                               strict=True)}
    assert all(tree[key][1] >= total for key, total in children.items() if key), children
    return tree


def test_treemap_owners_roots_and_directories_add_up():
    from dbx_inventory.outputs.html.report import context

    ctx = context(run_info(), dirs_rows())
    trace = _treemap(ctx)
    tree = _check_tree(trace)
    top = trace["ids"][0]
    owners = {key: value for key, (parent, value) in tree.items() if parent == top}
    # Owners are sized by their totals, largest first; skipped areas and empty owners
    # have no box; an owner without directories is a box of its own.
    assert owners == {"area:dbfs:/user/hive/warehouse": 9000, "user:ben@x.com": 5000,
                      "user:ann@x.com": 1000, "user:cy@x.com": 70}
    assert list(owners) == sorted(owners, key=lambda key: -owners[key])
    assert tree[top] == ("", 15070)
    ann = "user:ann@x.com"
    # Two roots: a box per root, the sum of its depth-1 directories (0-byte ones left out).
    assert {key: value for key, (parent, value) in tree.items() if parent == ann} == {
        f"{ann}|dbfs:/Users/ann@x.com": 600, f"{ann}|workspace:/Users/ann@x.com": 300}
    raw = f"{ann}|dbfs:/Users/ann@x.com/data/raw"
    assert tree[raw] == (f"{ann}|dbfs:/Users/ann@x.com/data", 500)
    assert tree[f"{ann}|dbfs:/Users/ann@x.com/data/raw/2024"] == (raw, 200)
    assert f"{ann}|dbfs:/Users/ann@x.com/tmp" not in tree
    # One root: the directories hang straight under the owner.
    assert tree["user:ben@x.com|dbfs:/Users/ben@x.com/big"] == ("user:ben@x.com", 4900)
    assert tree["area:dbfs:/user/hive/warehouse|dbfs:/user/hive/warehouse/sales.db"] == (
        "area:dbfs:/user/hive/warehouse", 7000)
    # Labels are short, the hover has the full path, the size for people and the files.
    at = trace["ids"].index(raw)
    assert trace["labels"][at] == "raw"
    assert trace["customdata"][at] == ["dbfs:/Users/ann@x.com/data/raw", "500 B", "3 files"]
    orders = trace["ids"].index(
        "area:dbfs:/user/hive/warehouse|dbfs:/user/hive/warehouse/sales.db/orders")
    assert trace["customdata"][orders][2] == "1 files · listing errors below"
    assert trace["labels"][trace["ids"].index("area:dbfs:/user/hive/warehouse")] == \
        "dbfs:/user/hive/warehouse"
    assert "%{customdata[0]}" in trace["hovertemplate"]


def test_treemap_lifts_an_owner_whose_total_is_short():
    """An error row can count less than its directories: the owner's box is lifted to
    them, or plotly would draw nothing."""
    from dbx_inventory.outputs.html.report import context

    short = user("ann@x.com", 100, dirs=(d("dbfs", "/Users/ann@x.com", "a", 2, 400),))
    tree = _check_tree(_treemap(context(run_info(), [short])))
    assert tree["user:ann@x.com"][1] == 400


def test_treemap_stays_bounded(monkeypatch):
    from dbx_inventory.outputs.html import treemap
    from dbx_inventory.outputs.html.report import context

    monkeypatch.setattr(treemap, "TREEMAP_OWNERS", 5)
    monkeypatch.setattr(treemap, "TREEMAP_NODES", 60)
    rows = [user(f"u{k:02}@x.com", 100_000 + k, dirs=tuple(
        d("dbfs", f"/Users/u{k:02}@x.com", f"d{j:02}", 1, 1000 + 100 * k + j)
        for j in range(30))) for k in range(12)]
    trace = _treemap(context(run_info(), rows))
    tree = _check_tree(trace)
    top = trace["ids"][0]
    owners = [key for key, (parent, _) in tree.items() if parent == top]
    assert owners == [f"user:u{k:02}@x.com" for k in (11, 10, 9, 8, 7)] + ["other owners"]
    assert tree["other owners"][1] == sum(100_000 + k for k in range(7))
    assert trace["labels"][trace["ids"].index("other owners")] == "7 other owners"
    assert len(tree) == 61  # the budget, and the box of everything
    # The directories kept are the largest ones (u11's, then u10's...).
    kept = [key for key, (parent, _) in tree.items() if parent in owners]
    assert len(kept) == 54 and all(key.startswith(("user:u11", "user:u10")) for key in kept)
    assert sum(key.startswith("user:u10") for key in kept) == 24  # its 24 largest
    assert "user:u10@x.com|dbfs:/Users/u10@x.com/d29" in kept


def test_largest_directories_table_is_sorted_by_bytes_with_full_paths(monkeypatch):
    from dbx_inventory.outputs.html import report as report_html
    from dbx_inventory.outputs.html.report import context, table_data

    ctx = context(run_info(), dirs_rows())
    assert ctx["dirs"]["count"] == ctx["dirs"]["shown"] == 8
    tables = {table["id"]: table for table in table_data(ctx)["tables"]}
    table = tables["dirs-table"]
    assert [column[0] for column in table["columns"]] == [
        "path", "file system", "owner", "depth", "files", "size", "bytes",
        "last modified", "error"]
    records = table["records"]
    assert [record[:3] + record[5:6] for record in records[:4]] == [
        ["/user/hive/warehouse/sales.db", "dbfs", "/user/hive/warehouse", 7000],
        ["/user/hive/warehouse/sales.db/orders", "dbfs", "/user/hive/warehouse", 6500],
        ["/Users/ben@x.com/big", "dbfs", "ben@x.com", 4900],
        ["/Users/ann@x.com/data", "dbfs", "ann@x.com", 600]]
    sizes = [record[5] for record in records]
    assert sizes == sorted(sizes, reverse=True)
    assert records[1][3:] == [2, 1, 6500, "6.3 KB", "2026-05-23T20:26:40Z", "DBFS: 403 x"]
    assert records[-1][0] == "/Users/ann@x.com/tmp" and records[-1][7] == ""
    # Capped to the largest rows; the heading says how many there are.
    monkeypatch.setattr(report_html, "TOP_DIRS", 3)
    ctx = context(run_info(), dirs_rows())
    records = {t["id"]: t for t in table_data(ctx)["tables"]}["dirs-table"]["records"]
    assert [record[5] for record in records] == [7000, 6500, 4900]
    page = report_html.render(run_info(), dirs_rows())
    assert "Largest directories · the largest 3 of 8" in page


def test_report_page_shows_where_the_bytes_are():
    from dbx_inventory.outputs.html.report import render

    page = render(run_info(), dirs_rows())
    start = page.index('<section id="where-the-bytes-are">')
    section = page[start:page.index("</section>", start)]
    assert "Where the bytes are · 8 directories" in section
    assert 'id="chart-dirs"' in section and 'data-table="dirs-table"' in section
    assert '"id": "dirs"' in page.split("var charts =", 1)[1].split(";\n", 1)[0]


def test_report_without_dirs_has_no_directory_section():
    from dbx_inventory.outputs.html.report import context, render, table_data

    rows = [user("alice@x.com", 1000), area("dbfs:/tmp", 50)]
    ctx = context(run_info(), rows)
    assert ctx["dirs"] is None
    assert "dirs-table" not in [table["id"] for table in table_data(ctx)["tables"]]
    page = render(run_info(), rows)
    assert "where-the-bytes-are" not in page and "chart-dirs" not in page
    assert "Where the bytes are" not in page
