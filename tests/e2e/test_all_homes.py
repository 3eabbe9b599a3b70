"""--all-homes and user_status end to end: the script against the fake workspace."""

from __future__ import annotations

import csv
import json

from conftest import TOKEN
from helpers import csv_rows, expected_rows, journal_records
from fake_workspace import generate_workspace

SCRIPT = "databricks_user_files_simple.py"
SEED_HEADER = ["username", "file_count", "total_size", "total_size_gb", "status",
               "file_source", "error"]


def dict_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def expected_order(ws):
    """SCIM users in SCIM order, then every other home folder sorted by name."""
    scim = [user.user_name for user in ws.users]
    known = {name.lower() for name in scim}
    return scim + sorted(name for name in ws.home_names() if name.lower() not in known)


def expected_status(ws, name):
    user = ws.users_by_name.get(name)
    if user is not None:
        return "active" if user.active else "inactive"
    principals = {sp.application_id for sp in ws.service_principals}
    return "service_principal" if name in principals else "removed"


def test_all_homes_scans_every_user_and_every_home_left_behind(cli, serve, tmp_path):
    ws = generate_workspace(24, seed=5)
    assert ws.removed_homes() and ws.service_principals and any(
        not user.active for user in ws.users)
    server = serve(ws)
    result = cli(SCRIPT, "--all-homes", server=server)
    assert result.code == 0, result.output
    order = expected_order(ws)
    assert csv_rows(tmp_path / "results.csv") == expected_rows(ws, order)
    rows = dict_rows(tmp_path / "results.csv")
    assert list(rows[0]) == SEED_HEADER + ["user_status"]  # no --extended: seed + status
    assert {row["username"]: row["user_status"] for row in rows} == {
        name: expected_status(ws, name) for name in order}
    lines = result.stdout.splitlines()
    assert f"Users to process: {len(order)}" in lines
    assert f"  Removed users' homes (not in SCIM): {len(ws.removed_homes())}" in lines
    left = [r for r in rows if r["user_status"] in ("inactive", "removed")
            and int(r["file_count"])]
    size = sum(int(r["total_size"]) for r in left)
    assert any(line.startswith(f"Data held by inactive and removed users: {len(left)} users, ")
               and line.endswith(f"({size:,} bytes)") for line in lines), result.stdout
    header = journal_records(tmp_path / ".checkpoint_progress.json")[0]
    assert header["users"] == order and header["meta"]["all_homes"] is True
    assert TOKEN not in json.dumps(header) and TOKEN not in result.output


def test_all_homes_with_extended_puts_user_status_last(cli, serve, tmp_path):
    ws = generate_workspace(12, seed=6)
    server = serve(ws)
    result = cli(SCRIPT, "--all-homes", "--extended", "--dbfs-only", server=server)
    assert result.code == 0, result.output
    rows = dict_rows(tmp_path / "results.csv")
    assert list(rows[0])[-1] == "user_status" and list(rows[0])[7] == "dbfs_files"
    # --dbfs-only lists only dbfs:/Users: Workspace-only homes of removed users are not found
    dbfs_homes = set(ws.dbfs.dirs["/Users"].subdirs)
    removed = [r["username"] for r in rows if r["user_status"] == "removed"]
    assert removed and all(name in dbfs_homes for name in removed)


def test_all_homes_cannot_be_combined_with_a_user_list(cli, serve, tmp_path):
    server = serve(generate_workspace(4, seed=1))
    (tmp_path / "users.txt").write_text("a@x.com\n", encoding="utf-8")
    for extra in (["a@x.com"], ["--users-file", "users.txt"]):
        result = cli(SCRIPT, "--all-homes", *extra, server=server)
        assert result.code == 2
        assert result.stderr.count("\n") == 1 and "--all-homes" in result.stderr
        assert not (tmp_path / "results.csv").exists()
    assert server.stats.total_requests == 0


def test_dbfs_that_cannot_be_listed_marks_discovery_incomplete(cli, serve, tmp_path):
    ws = generate_workspace(30, seed=7)  # 2 removed users: one in both, one in DBFS only
    ws.dbfs.mark_bad_path("/Users")  # listing dbfs:/Users itself fails; homes still list
    server = serve(ws)
    result = cli(SCRIPT, "--all-homes", "--report", "report.html", server=server)
    assert result.code == 0, result.output
    warned = [line for line in result.stdout.splitlines() if "DBFS discovery incomplete" in line]
    assert len(warned) == 3, result.stdout  # as it happened, in the discovery block, summary
    names = [row["username"] for row in dict_rows(tmp_path / "results.csv")]
    only_dbfs = {name for name in ws.removed_homes()
                 if f"/Users/{name}" not in ws.workspace.dirs}
    assert only_dbfs and not only_dbfs & set(names)
    assert set(ws.removed_homes()) - only_dbfs <= set(names)
    assert "DBFS discovery incomplete" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_resume_continues_the_recorded_list_without_rediscovering(cli, serve, tmp_path):
    ws = generate_workspace(16, seed=8)
    server = serve(ws)
    first = cli(SCRIPT, "--all-homes", server=server)
    assert first.code == 0, first.output
    journal = tmp_path / ".checkpoint_progress.json"
    lines = journal.read_text(encoding="utf-8").splitlines()
    # Keep the header and 5 users: as if the run had been killed there.
    journal.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    recorded = json.loads(lines[0])["users"]
    ws.workspace.add_file("/Users/late.leaver@x.com/x.txt", size=3)  # a home that appears later
    server.reset_stats()
    again = cli(SCRIPT, "--all-homes", "--resume", "-o", "resumed.csv", server=server)
    assert again.code == 0, again.output
    done = sum(1 for line in lines[1:6] if json.loads(line)["result"]["status"] != "error")
    assert f"Already completed: {done}" in again.stdout
    assert [r["username"] for r in dict_rows(tmp_path / "resumed.csv")] == recorded
    assert ("dbfs", "/Users") not in server.stats.listings
    assert ("workspace", "/Users") not in server.stats.listings
    assert server.stats.by_endpoint["scim/Users"] == 0
    assert (tmp_path / "resumed.csv").read_text(encoding="utf-8") \
        == (tmp_path / "results.csv").read_text(encoding="utf-8")


def test_extended_user_list_gets_statuses_from_one_paged_scim_read(cli, serve, tmp_path):
    ws = generate_workspace(30, seed=9)
    app_id = ws.service_principals[0].application_id
    inactive = next(user.user_name for user in ws.users if not user.active)
    names = [ws.users[0].user_name, inactive, "never.heard.of@x.com", app_id]
    server = serve(ws, scim_max_page=7)
    result = cli(SCRIPT, *names, "--extended", server=server)
    assert result.code == 0, result.output
    rows = dict_rows(tmp_path / "results.csv")
    assert [r["user_status"] for r in rows] == ["active", "inactive", "removed",
                                                "service_principal"]
    # ceil(30 / 7) pages and the empty one that ends the list, never one per user
    assert server.stats.by_endpoint["scim/Users"] == 6


def test_without_all_homes_or_extended_the_header_is_the_seeds(cli, serve, tmp_path):
    ws = generate_workspace(4, seed=2)
    server = serve(ws)
    result = cli(SCRIPT, ws.users[0].user_name, server=server)
    assert result.code == 0, result.output
    header = (tmp_path / "results.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == SEED_HEADER
    assert "Data held by" not in result.stdout
    assert server.stats.by_endpoint["scim/Users"] == 0
