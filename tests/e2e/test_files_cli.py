"""databricks_user_files_simple.py end to end: subprocess against the fake workspace."""

from __future__ import annotations

import csv
import io
import os
import random
import re
import shlex
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, TOKEN, clean_env, run_script
from helpers import interruptible, journal_records
from dbx_inventory.outputs.checkpoint import CheckpointWriter
from dbx_inventory.scan.results import UserResult
from fake_workspace import FakeWorkspaceServer, Workspace, generate_workspace

SCRIPT = "databricks_user_files_simple.py"
FULL = {"sources": ["dbfs", "workspace"]}  # the scope of a run over both file systems
GIB = 1024 ** 3
HEADER = "username,file_count,total_size,total_size_gb,status,file_source,error"
EXT_HEADER = HEADER + ",dbfs_files,dbfs_bytes,workspace_files,workspace_bytes," \
                      "last_modified,duration_s"
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z, the fake's default mtime

ODD = "o'neil#1+é数据🚀@x.com"  # odd but one name: no whitespace, no '/'
USERS = ["zed.both@x.com", "dbfs.only@x.com", "ws.only@x.com", "empty@x.com",
         "ghost@x.com", "partial@x.com", "denied@x.com", ODD, "bad.path@x.com", "big@x.com"]


def hand_built() -> Workspace:
    ws = Workspace()
    for name in USERS:
        ws.add_user(name)
    u = "/Users/zed.both@x.com"
    ws.dbfs.add_file(f"{u}/a.csv", size=1000, mtime_ms=T0 + 100_000)
    ws.dbfs.add_file(f"{u}/sub/b.bin", size=3 * GIB // 2, mtime_ms=T0 + 200_000)
    ws.workspace.add_notebook(f"{u}/nb", mtime_ms=T0 + 300_000)
    ws.workspace.add_file(f"{u}/w/data.json", size=2048, mtime_ms=T0 + 50_000)
    ws.dbfs.add_file("/Users/dbfs.only@x.com/x.parquet", size=500, mtime_ms=T0)
    u = "/Users/ws.only@x.com"
    ws.dbfs.mkdir(u)
    ws.workspace.add_repo(f"{u}/repo")
    ws.workspace.add_file(f"{u}/repo/README.md", size=10, mtime_ms=T0 + 1_000)
    ws.workspace.add_notebook(f"{u}/repo/src/main", mtime_ms=T0 + 2_000)
    ws.workspace.add_object(f"{u}/lib", "LIBRARY")
    ws.workspace.add_object(f"{u}/exp", "MLFLOW_EXPERIMENT")
    ws.dbfs.mkdir("/Users/empty@x.com/nothing here")
    ws.workspace.mkdir("/Users/empty@x.com")
    u = "/Users/partial@x.com"
    ws.dbfs.add_file(f"{u}/ok.csv", size=300, mtime_ms=T0)
    ws.dbfs.add_file(f"{u}/secret/hidden.csv", size=5000, mtime_ms=T0)
    ws.dbfs.forbid(f"{u}/secret")
    ws.workspace.forbid("/Users/denied@x.com")
    ws.dbfs.add_file(f"/Users/{ODD}/dir #2 é/数据 🚀 50%.csv", size=42, mtime_ms=T0)
    ws.workspace.add_file(f"/Users/{ODD}/a+b & c?/x.py", size=58, mtime_ms=T0)
    u = "/Users/bad.path@x.com"
    ws.workspace.add_file(f"{u}/fine.txt", size=5, mtime_ms=T0)
    ws.workspace.mkdir(f"{u}/weird")
    ws.workspace.mark_bad_path(f"{u}/weird")
    ws.dbfs.add_file("/Users/big@x.com/one.bin", size=2 * GIB, mtime_ms=T0)
    ws.dbfs.add_file("/Users/big@x.com/two.bin", size=int(0.996 * GIB), mtime_ms=T0)
    return ws


B_BIG = 2 * GIB + int(0.996 * GIB)
# username, files, bytes, gb, status, source, error check
EXPECTED = [
    ("zed.both@x.com", 4, 3 * GIB // 2 + 1000 + 2048, "1.50", "success", "both", ""),
    ("dbfs.only@x.com", 1, 500, "0.00", "success", "dbfs", ""),
    ("ws.only@x.com", 4, 10, "0.00", "success", "workspace", ""),
    ("empty@x.com", 0, 0, "0.00", "empty", "none", ""),
    ("ghost@x.com", 0, 0, "0.00", "error", "unknown",
     "no home folder exists in DBFS or the Workspace: the user may never have signed in"),
    ("partial@x.com", 1, 300, "0.00", "error", "dbfs",
     ("DBFS", "403", "/Users/partial@x.com/secret")),
    ("denied@x.com", 0, 0, "0.00", "error", "unknown",
     ("Workspace", "403", "/Users/denied@x.com")),
    (ODD, 2, 100, "0.00", "success", "both", ""),
    ("bad.path@x.com", 1, 5, "0.00", "error", "workspace",
     ("Workspace", "400", "/Users/bad.path@x.com/weird")),
    ("big@x.com", 2, B_BIG, "3.00", "success", "dbfs", ""),
]
# dbfs_files, dbfs_bytes, workspace_files, workspace_bytes, last_modified
EXTENDED = {
    "zed.both@x.com": (2, 3 * GIB // 2 + 1000, 2, 2048, "2023-11-14T22:18:20Z"),
    "dbfs.only@x.com": (1, 500, 0, 0, "2023-11-14T22:13:20Z"),
    "ws.only@x.com": (0, 0, 4, 10, "2023-11-14T22:13:22Z"),
    "empty@x.com": (0, 0, 0, 0, ""),
    "ghost@x.com": (0, 0, 0, 0, ""),
    "partial@x.com": (1, 300, 0, 0, "2023-11-14T22:13:20Z"),
    "denied@x.com": (0, 0, 0, 0, ""),
    ODD: (1, 42, 1, 58, "2023-11-14T22:13:20Z"),
    "bad.path@x.com": (0, 0, 1, 5, "2023-11-14T22:13:20Z"),
    "big@x.com": (2, B_BIG, 0, 0, "2023-11-14T22:13:20Z"),
}


def read_csv(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))


def check_error(cell: str, want) -> None:
    if isinstance(want, str):
        assert cell == want
    else:
        for part in want:
            assert part in cell, (part, cell)


def check_rows(rows: list[list[str]], expected=EXPECTED) -> None:
    assert [r[0] for r in rows] == [e[0] for e in expected]
    for row, (name, files, size, gb, status, source, err) in zip(rows, expected, strict=True):
        assert row[1:6] == [str(files), str(size), gb, status, source], name
        check_error(row[6], err)




def journal_results(path: Path) -> list[dict]:
    return [r["result"] for r in journal_records(path) if r.get("kind") == "result"]


@pytest.fixture
def hand(serve):
    ws = hand_built()
    return ws, serve(ws)


# -- exact results --------------------------------------------------------------------

def test_exact_csv_for_every_status_and_source(cli, tmp_path, hand):
    ws, server = hand
    result = cli(SCRIPT, *USERS, "--no-parallel", server=server)
    assert result.code == 0, result.output
    text = (tmp_path / "results.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == HEADER
    assert text.endswith("\n") and "\r" not in text
    assert text.splitlines()[1] == f"zed.both@x.com,4,{3 * GIB // 2 + 3048},1.50,success,both,"
    assert text.splitlines()[5] == \
        "ghost@x.com,0,0,0.00,error,unknown,no home folder exists in DBFS or the Workspace: " \
        "the user may never have signed in"
    rows = read_csv(tmp_path / "results.csv")
    assert rows[0] == HEADER.split(",")
    check_rows(rows[1:])
    # The numbers agree with the fake's independent ground truth as well.
    for row in rows[1:]:
        t = ws.truth(row[0])
        assert int(row[1]) == t.dbfs_files + t.workspace_files
        assert int(row[2]) == t.dbfs_bytes + t.workspace_bytes
    assert server.stats.duplicate_listings() == {}


def test_console_lines_and_summary(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, *USERS, server=server)
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    numbers = []
    for name, files, _size, _gb, status, _source, _err in EXPECTED:
        heads = [i for i, line in enumerate(lines)
                 if re.fullmatch(rf"\[(\d+)/10\] {re.escape(name)}", line)]
        assert len(heads) == 1, name
        numbers.append(int(re.match(r"\[(\d+)/", lines[heads[0]]).group(1)))
        detail = lines[heads[0] + 1]
        if status == "success":
            assert detail.startswith(f"  ✓ Files: {files:,}, Size: "), detail
        elif status == "empty":
            assert detail == "  ⊘ Empty (no files)"
        else:
            assert detail.startswith("  ✗ Error: "), detail
    assert sorted(numbers) == list(range(1, 11))
    assert "  ✓ Files: 4, Size: 1.5 GB" in lines
    assert "  ✓ Files: 2, Size: 3.0 GB" in lines
    assert "SUMMARY" in lines
    assert "Total users processed: 10" in lines
    assert "  ✓ Successful (with files): 5" in lines
    assert "  ⊘ Empty directories: 1" in lines
    assert "  ✗ Errors: 4" in lines
    assert "Total files across all users: 15" in lines
    total = sum(e[2] for e in EXPECTED)
    assert any(line.endswith(f"({total:,} bytes)") for line in lines)
    assert "Results saved to: results.csv" in lines
    assert "COMPLETED SUCCESSFULLY" in lines
    assert "Mode: LOCAL (this machine, up to 20 requests in flight)" in lines


def test_extended_columns(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, *USERS, "--extended", "-o", "ext.csv", server=server)
    assert result.code == 0, result.output
    rows = read_csv(tmp_path / "ext.csv")
    assert rows[0] == EXT_HEADER.split(",") + ["user_status"]  # known from SCIM: last
    check_rows([row[:7] for row in rows[1:]])
    assert {row[13] for row in rows[1:]} == {"active"}
    for row in rows[1:]:
        d_files, d_bytes, w_files, w_bytes, last = EXTENDED[row[0]]
        assert row[7:12] == [str(d_files), str(d_bytes), str(w_files), str(w_bytes), last], \
            row[0]
        assert re.fullmatch(r"\d+\.\d", row[12]), row
        assert int(row[1]) == d_files + w_files and int(row[2]) == d_bytes + w_bytes


def test_dbfs_only(cli, tmp_path, hand):
    _, server = hand
    names = ["zed.both@x.com", "ws.only@x.com", "dbfs.only@x.com", "denied@x.com"]
    result = cli(SCRIPT, *names, "--dbfs-only", server=server)
    assert result.code == 0, result.output
    rows = read_csv(tmp_path / "results.csv")[1:]
    check_rows(rows, [
        ("zed.both@x.com", 2, 3 * GIB // 2 + 1000, "1.50", "success", "dbfs", ""),
        ("ws.only@x.com", 0, 0, "0.00", "empty", "none", ""),
        ("dbfs.only@x.com", 1, 500, "0.00", "success", "dbfs", ""),
        ("denied@x.com", 0, 0, "0.00", "error", "unknown", ("DBFS",)),
    ])
    assert server.stats.by_endpoint["workspace/list"] == 0
    assert "Scanning: DBFS" in result.stdout.splitlines()


def test_workspace_only(cli, tmp_path, hand):
    _, server = hand
    names = ["zed.both@x.com", "ws.only@x.com", "dbfs.only@x.com", "denied@x.com"]
    result = cli(SCRIPT, *names, "--workspace-only", "--extended", server=server)
    assert result.code == 0, result.output
    rows = read_csv(tmp_path / "results.csv")[1:]
    check_rows([r[:7] for r in rows], [
        ("zed.both@x.com", 2, 2048, "0.00", "success", "workspace", ""),
        ("ws.only@x.com", 4, 10, "0.00", "success", "workspace", ""),
        ("dbfs.only@x.com", 0, 0, "0.00", "error", "unknown", ("Workspace",)),
        ("denied@x.com", 0, 0, "0.00", "error", "unknown", ("403",)),
    ])
    assert [r[7] for r in rows] == ["0"] * 4  # no DBFS counts at all
    assert server.stats.by_endpoint["dbfs/list"] == 0


def test_dbfs_only_and_workspace_only_together_is_usage_error(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, "a@x.com", "--dbfs-only", "--workspace-only", server=server)
    assert result.code == 2
    assert not (tmp_path / "results.csv").exists()


def test_single_user_report(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, "zed.both@x.com", server=server)
    assert result.code == 0, result.output
    out = result.stdout
    assert "USER REPORT: zed.both@x.com" in out
    assert f"  DBFS      dbfs:/Users/zed.both@x.com: 2 files, 1.5 GB " \
           f"({3 * GIB // 2 + 1000:,} bytes)" in out
    assert "  Workspace /Users/zed.both@x.com: 2 files, 2.0 KB (2,048 bytes)" in out
    assert "  Total: 4 files, 1.5 GB; status success; source both" in out
    assert "  Last modified: 2023-11-14T22:18:20Z" in out
    rows = read_csv(tmp_path / "results.csv")
    assert rows[1][:6] == ["zed.both@x.com", "4", str(3 * GIB // 2 + 3048), "1.50",
                           "success", "both"]


def test_single_user_report_for_error_names_it(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, "partial@x.com", server=server)
    assert result.code == 0, result.output
    assert "USER REPORT: partial@x.com" in result.stdout
    assert re.search(r"  Error: DBFS: 403 .*/Users/partial@x.com/secret", result.stdout)


# -- users file -------------------------------------------------------------------------

def test_users_file_comments_blanks_duplicates(cli, tmp_path, hand):
    _, server = hand
    (tmp_path / "users.csv").write_text(
        "# team list\nusername\nzed.both@x.com\n\n   \nZED.BOTH@x.com\n"
        "empty@x.com,extra column\n  dbfs.only@x.com  \n# trailing\nzed.both@x.com\n"
        f"{ODD}\n", encoding="utf-8")
    result = cli(SCRIPT, "ghost@x.com", "--users-file", "users.csv", server=server)
    assert result.code == 0, result.output
    rows = read_csv(tmp_path / "results.csv")[1:]
    # Home paths are case-sensitive: ZED.BOTH@ is another user (here: no home), named.
    assert [r[0] for r in rows] == ["ghost@x.com", "zed.both@x.com", "ZED.BOTH@x.com",
                                    "empty@x.com", "dbfs.only@x.com", ODD]
    assert "Users to process: 6" in result.stdout
    assert "Note: zed.both@x.com and ZED.BOTH@x.com differ only in letter case" \
        in result.stdout


def test_users_file_with_bom_and_crlf(cli, tmp_path, hand):
    _, server = hand
    (tmp_path / "users.csv").write_bytes(
        "\ufeffusername\r\nempty@x.com\r\ndbfs.only@x.com\r\n".encode("utf-8"))
    result = cli(SCRIPT, "--users-file", "users.csv", server=server)
    assert result.code == 0, result.output
    assert [r[0] for r in read_csv(tmp_path / "results.csv")[1:]] == \
        ["empty@x.com", "dbfs.only@x.com"]


@pytest.mark.parametrize("content, needle", [
    (None, "not found"),
    ("", "lists no users"),
    ("# only a comment\n\nusername\n", "lists no users"),
])
def test_users_file_errors_exit_2(cli, tmp_path, hand, content, needle):
    _, server = hand
    if content is not None:
        (tmp_path / "users.csv").write_text(content, encoding="utf-8")
    result = cli(SCRIPT, "--users-file", "users.csv", server=server)
    assert result.code == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "results.csv").exists()
    assert not (tmp_path / ".checkpoint_progress.json").exists()
    assert server.stats.total_requests == 0


def test_no_users_exit_2(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, server=server)
    assert result.code == 2
    assert "no users" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert server.stats.total_requests == 0


@pytest.mark.parametrize("args", [["--concurrency", "0"], ["--profile", "nope"],
                                  ["--bogus-flag"]])
def test_usage_and_config_errors_exit_2(cli, tmp_path, hand, args):
    _, server = hand
    (tmp_path / "cfg").write_text(f"[real]\nhost = {server.url}\ntoken = {TOKEN}\n")
    result = cli(SCRIPT, "empty@x.com", *args, server=server,
                 env={"DATABRICKS_CONFIG_FILE": str(tmp_path / "cfg")})
    assert result.code == 2, result.output
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "results.csv").exists()


def test_profile_from_config_file(cli, tmp_path, hand):
    _, server = hand
    (tmp_path / "cfg").write_text(f"[real]\nhost = {server.url}/\ntoken = {TOKEN}\n")
    result = cli(SCRIPT, "empty@x.com", "--profile", "real",
                 env={"DATABRICKS_CONFIG_FILE": str(tmp_path / "cfg")})
    assert result.code == 0, result.output
    assert read_csv(tmp_path / "results.csv")[1][4] == "empty"


def test_cluster_id_with_no_parallel_says_sequential(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, "empty@x.com", "--no-parallel", server=server,
                 env={"DATABRICKS_CLUSTER_ID": "0101-000000-fakeclus"})
    assert result.code == 0, result.output
    assert "Mode: LOCAL (this machine, up to 20 requests in flight, --no-parallel)" \
        in result.stdout.splitlines()


# -- the token --------------------------------------------------------------------------

def test_token_never_leaks(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, *USERS, "--debug", "--token", TOKEN, "--extended", server=server,
                 env={"DATABRICKS_TOKEN": ""})
    assert result.code == 0, result.output
    assert "[debug]" in result.stdout or re.search(r"\[\d+/10\] [✓⊘✗] \[", result.stdout)
    checkpoint = tmp_path / ".checkpoint_progress.json"
    for text in (result.stdout, result.stderr, (tmp_path / "results.csv").read_text("utf-8"),
                 checkpoint.read_text("utf-8")):
        assert TOKEN not in text
        assert TOKEN[-12:] not in text
    assert stat.S_IMODE(checkpoint.stat().st_mode) == 0o600


def test_bad_token_on_command_line_not_echoed(cli, tmp_path, hand):
    _, server = hand
    bad = "dapi-WRONG-SECRET-0123456789"
    result = cli(SCRIPT, "empty@x.com", "--debug", "--token", bad, server=server)
    assert result.code == 1
    assert "401" in result.stderr
    assert bad not in result.output and TOKEN not in result.output
    assert bad[-12:] not in result.output


# -- failures leave files alone ---------------------------------------------------------

def test_bad_token_exit_1_nothing_written(cli, tmp_path, hand):
    _, server = hand
    (tmp_path / "results.csv").write_text("previous results\n")
    result = cli(SCRIPT, *USERS, server=server, env={"DATABRICKS_TOKEN": "dapi-nope"})
    assert result.code == 1
    assert "401" in result.stderr and "token" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "results.csv").read_text() == "previous results\n"
    assert not (tmp_path / ".checkpoint_progress.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]
    assert server.stats.by_endpoint["dbfs/list"] == 0


def test_bad_token_leaves_unfinished_checkpoint_in_place(cli, tmp_path, hand):
    """A run that cannot start must not move the unfinished checkpoint aside."""
    _, server = hand
    path = tmp_path / ".checkpoint_progress.json"
    with CheckpointWriter(path, scope=FULL, host=server.url, users=USERS) as writer:
        writer.record(fake_row("zed.both@x.com"))
    before = path.read_bytes()
    result = cli(SCRIPT, *USERS, server=server, env={"DATABRICKS_TOKEN": "dapi-nope"})
    assert result.code == 1
    assert path.exists() and path.read_bytes() == before
    assert not (tmp_path / ".checkpoint_progress.json.prev").exists()


def test_unreachable_workspace_exit_1(cli, tmp_path):
    (tmp_path / "results.csv").write_text("previous results\n")
    result = cli(SCRIPT, "a@x.com", env={"DATABRICKS_HOST": "http://127.0.0.1:1",
                                         "DATABRICKS_TOKEN": TOKEN}, timeout=60)
    assert result.code == 1
    assert "cannot reach" in result.stderr
    assert (tmp_path / "results.csv").read_text() == "previous results\n"
    assert not (tmp_path / ".checkpoint_progress.json").exists()


def test_unwritable_output_fails_with_one_line(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, "empty@x.com", "-o", "no/such/dir/results.csv", server=server)
    assert result.code == 1, result.output
    assert "Traceback" not in result.stderr, result.stderr
    assert "no/such/dir/results.csv" in result.stderr
    assert "COMPLETED SUCCESSFULLY" not in result.stdout


# -- checkpoint and resume: small cases -----------------------------------------------------

def fake_row(name: str, *, files: int = 777, status: str = "success") -> UserResult:
    return UserResult(username=name, status=status, file_count=files, total_size=files * 10,
                      file_source="dbfs" if files else "unknown",
                      error="DBFS: 500 boom" if status == "error" else "",
                      dbfs_files=files, dbfs_bytes=files * 10, started_at=1.0, ended_at=2.0)


def test_checkpoint_contents_and_nothing_to_do(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, *USERS, server=server)
    assert result.code == 0, result.output
    path = tmp_path / ".checkpoint_progress.json"
    records = journal_records(path)
    assert records[0]["kind"] == "header"
    assert records[0]["host"] == server.url and records[0]["users"] == USERS
    assert sorted(r["result"]["username"] for r in records[1:-1]) == sorted(USERS)
    assert records[-1]["kind"] == "complete"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    csv_before = (tmp_path / "results.csv").read_bytes()
    requests_before = server.stats.total_requests
    again = cli(SCRIPT, *USERS, "--resume", server=server)
    assert again.code == 0, again.output
    assert "Nothing to scan" in again.stdout
    assert server.stats.total_requests == requests_before
    assert (tmp_path / "results.csv").read_bytes() == csv_before
    assert path.read_bytes() != b"" and journal_records(path)[-1]["kind"] == "complete"


def test_fresh_run_after_finished_run_uses_only_new_list(cli, tmp_path, hand):
    _, server = hand
    assert cli(SCRIPT, *USERS, server=server).code == 0
    result = cli(SCRIPT, "empty@x.com", "ghost@x.com", server=server)
    assert result.code == 0, result.output
    assert [r[0] for r in read_csv(tmp_path / "results.csv")[1:]] == \
        ["empty@x.com", "ghost@x.com"]
    assert journal_records(tmp_path / ".checkpoint_progress.json")[0]["users"] == \
        ["empty@x.com", "ghost@x.com"]


def test_resume_skips_done_rescans_errors_keeps_input_order(cli, tmp_path, hand):
    _, server = hand
    path = tmp_path / ".checkpoint_progress.json"
    with CheckpointWriter(path, scope=FULL, host=server.url, users=USERS) as writer:
        writer.record(fake_row("zed.both@x.com", files=777))          # done: kept as is
        writer.record(fake_row("big@x.com", files=0, status="error"))  # error: rescanned
    result = cli(SCRIPT, *USERS, "--resume", server=server)
    assert result.code == 0, result.output
    assert "RESUMING FROM CHECKPOINT" in result.stdout
    assert "Already completed: 1" in result.stdout
    assert "Remaining to process: 9" in result.stdout
    rows = read_csv(tmp_path / "results.csv")[1:]
    assert rows[0][:6] == ["zed.both@x.com", "777", "7770", "0.00", "success", "dbfs"]
    check_rows(rows[1:], EXPECTED[1:])
    assert server.stats.listings[("dbfs", "/Users/zed.both@x.com")] == 0
    assert server.stats.listings[("dbfs", "/Users/big@x.com")] == 1
    assert journal_records(path)[-1]["kind"] == "complete"


def test_resume_with_grown_list_accepted(cli, tmp_path, hand):
    _, server = hand
    path = tmp_path / ".checkpoint_progress.json"
    with CheckpointWriter(path, scope=FULL, host=server.url,
                          users=["empty@x.com", "zed.both@x.com"]) as w:
        w.record(fake_row("zed.both@x.com", files=777))
    grown = ["ghost@x.com", "zed.both@x.com", "dbfs.only@x.com", "empty@x.com"]
    result = cli(SCRIPT, *grown, "--resume", server=server)
    assert result.code == 0, result.output
    rows = read_csv(tmp_path / "results.csv")[1:]
    assert [r[0] for r in rows] == grown
    assert rows[1][1] == "777"
    assert [r[4] for r in rows] == ["error", "success", "success", "empty"]
    assert journal_records(path)[0]["users"] == grown
    again = cli(SCRIPT, *grown, "--resume", server=server)
    assert again.code == 0 and "Nothing to scan" in again.stdout


def test_resume_refuses_other_user_list(cli, tmp_path, hand):
    _, server = hand
    path = tmp_path / ".checkpoint_progress.json"
    with CheckpointWriter(path, scope=FULL, host=server.url,
                          users=["empty@x.com", "zed.both@x.com"]) as w:
        w.record(fake_row("zed.both@x.com"))
    before = path.read_bytes()
    (tmp_path / "results.csv").write_text("previous\n")
    result = cli(SCRIPT, "empty@x.com", "ghost@x.com", "--resume", server=server)
    assert result.code == 2
    assert "another user list" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == before
    assert (tmp_path / "results.csv").read_text() == "previous\n"
    assert server.stats.by_endpoint["dbfs/list"] == 0


def test_resume_refuses_checkpoint_from_another_host(cli, tmp_path, serve):
    ws = hand_built()
    server_a, server_b = serve(ws), serve(ws)
    names = ["zed.both@x.com", "empty@x.com"]
    assert cli(SCRIPT, *names, server=server_a).code == 0
    path = tmp_path / ".checkpoint_progress.json"
    before = path.read_bytes()
    result = cli(SCRIPT, *names, "--resume", server=server_b)
    assert result.code == 2
    assert server_a.url in result.stderr and "delete it" in result.stderr
    assert path.read_bytes() == before
    # The same with an unfinished checkpoint.
    with CheckpointWriter(path, scope=FULL, host=server_a.url, users=names) as writer:
        writer.record(fake_row("zed.both@x.com"))
    result = cli(SCRIPT, *names, "--resume", server=server_b)
    assert result.code == 2, result.output
    assert server_b.stats.by_endpoint["dbfs/list"] == 0


def test_resume_without_checkpoint_starts_fresh(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, "empty@x.com", "--resume", server=server)
    assert result.code == 0, result.output
    assert "No checkpoint" in result.stdout
    assert read_csv(tmp_path / "results.csv")[1][4] == "empty"


def test_unfinished_checkpoint_moved_aside_without_resume(cli, tmp_path, hand):
    _, server = hand
    path = tmp_path / "cp.json"
    with CheckpointWriter(path, scope=FULL, host=server.url, users=USERS) as writer:
        writer.record(fake_row("zed.both@x.com", files=777))
    before = path.read_bytes()
    result = cli(SCRIPT, *USERS, "--checkpoint", "cp.json", server=server)
    assert result.code == 0, result.output
    [aside] = tmp_path.glob("cp.json.prev-*")
    assert f"moved to {aside.name}" in result.stdout
    assert aside.read_bytes() == before
    check_rows(read_csv(tmp_path / "results.csv")[1:])  # 777 not mixed in


@pytest.mark.parametrize("content, needle", [
    (b"this is not json\nneither is this\n", "damaged"),
    (b'{"a": 1}\n{"b": 2}\n', "not a checkpoint"),
    (b'{"kind":"header","version":1,"host":"h","users":[]}\n{"kind":"result"}\n'
     b'{"kind":"complete"}\n', "damaged"),
])
def test_damaged_checkpoint_exit_2_one_line(cli, tmp_path, hand, content, needle):
    _, server = hand
    path = tmp_path / ".checkpoint_progress.json"
    path.write_bytes(content)
    result = cli(SCRIPT, "empty@x.com", "--resume", server=server)
    assert result.code == 2, result.output
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == content
    assert not (tmp_path / "results.csv").exists()


@pytest.mark.parametrize("tail", [b'{"kind":"result","result":{"username":"em',
                                  b'{"kind":"res\xe6\x95'], ids=["torn-json", "torn-utf8"])
def test_resume_after_torn_last_line(cli, tmp_path, hand, tail):
    """A kill mid-append leaves a torn last line: it is dropped, the rest is kept."""
    _, server = hand
    path = tmp_path / ".checkpoint_progress.json"
    names = ["zed.both@x.com", "empty@x.com", "ghost@x.com"]
    with CheckpointWriter(path, scope=FULL, host=server.url, users=names) as writer:
        writer.record(fake_row("zed.both@x.com", files=777))
    with open(path, "ab") as handle:
        handle.write(tail)
    result = cli(SCRIPT, *names, "--resume", server=server)
    assert result.code == 0, result.output
    assert "Already completed: 1" in result.stdout
    rows = read_csv(tmp_path / "results.csv")[1:]
    assert [(r[0], r[1], r[4]) for r in rows] == [("zed.both@x.com", "777", "success"),
                                                 ("empty@x.com", "0", "empty"),
                                                 ("ghost@x.com", "0", "error")]
    records = journal_records(path)
    assert [r["kind"] for r in records] == ["header", "result", "result", "result",
                                            "complete"]


def test_resume_with_zero_byte_checkpoint_starts_fresh(cli, tmp_path, hand):
    _, server = hand
    (tmp_path / ".checkpoint_progress.json").write_bytes(b"")
    result = cli(SCRIPT, "empty@x.com", "--resume", server=server)
    assert result.code == 0, result.output
    assert read_csv(tmp_path / "results.csv")[1][4] == "empty"


def test_each_user_is_in_the_journal_before_it_is_printed(tmp_path, serve):
    ws = generate_workspace(12, seed=4)
    server = serve(ws, latency_s=0.01)
    names = [u.user_name for u in ws.users]
    env = clean_env(tmp_path, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
    proc = subprocess.Popen([sys.executable, str(ROOT / SCRIPT), *names, "--concurrency", "2"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
    seen = []
    for line in proc.stdout:
        match = re.fullmatch(r"\[\d+/12\] (.+)", line.rstrip("\n"))
        if match:
            in_journal = {r["username"] for r in
                          journal_results(tmp_path / ".checkpoint_progress.json")}
            assert match.group(1) in in_journal
            seen.append(match.group(1))
    assert proc.wait(timeout=60) == 0
    assert sorted(seen) == sorted(names)


# -- kill, interrupt, resume over a generated workspace ------------------------------------

GEN_USERS = 40
LATENCY = 0.05
CONCURRENCY = "4"


@pytest.fixture(scope="module")
def gen():
    ws = generate_workspace(GEN_USERS, seed=9)
    names = [u.user_name for u in ws.users]
    random.Random(3).shuffle(names)  # input order differs from the workspace's
    return ws, names


@pytest.fixture(scope="module")
def clean_csv(gen, tmp_path_factory):
    """The CSV of one uninterrupted run: what every interrupted+resumed run must equal."""
    ws, names = gen
    folder = tmp_path_factory.mktemp("clean")
    (folder / "users.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        server.faults.latency_s = 0.005
        env = clean_env(folder, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
        result = run_script(SCRIPT, "--users-file", "users.txt", env=env, cwd=folder)
    assert result.code == 0, result.output
    data = (folder / "results.csv").read_bytes()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))[1:]
    assert [r[0] for r in rows] == names
    for row in rows:  # the clean run itself is checked against ground truth
        t = ws.truth(row[0])
        assert int(row[1]) == t.dbfs_files + t.workspace_files, row
        assert int(row[2]) == t.dbfs_bytes + t.workspace_bytes, row
        if t.forbidden_dirs or not (t.dbfs_home_exists or t.workspace_home_exists):
            assert row[4] == "error", row
    return data


def start_run(folder: Path, server, *extra: str, token_flag: bool = False) -> subprocess.Popen:
    env = clean_env(folder, DATABRICKS_HOST=server.url,
                    DATABRICKS_TOKEN="" if token_flag else TOKEN)
    args = ["--users-file", "users.txt", "--concurrency", CONCURRENCY, *extra]
    if token_flag:
        args += ["--token", TOKEN]
    return subprocess.Popen([sys.executable, str(ROOT / SCRIPT), *args], cwd=folder, env=env,
                            stdout=open(folder / "stdout.txt", "w"),
                            stderr=open(folder / "stderr.txt", "w"), preexec_fn=interruptible)


def wait_for_results(proc: subprocess.Popen, path: Path, k: int) -> None:
    """Until the journal holds at least k result lines (k=0: the header is there)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"run ended (exit {proc.returncode}) before {k} users were saved")
        records = journal_records(path)
        if records and len([r for r in records if r.get("kind") == "result"]) >= k:
            return
        time.sleep(0.005)
    pytest.fail("timed out waiting for the journal")


def owner(path: str) -> str:
    return path.split("/")[2]


@pytest.mark.parametrize("kill_points", [(0,), (6,), (3, 20)],
                         ids=["at-header", "after-6", "after-3-then-20"])
def test_sigkill_then_resume_equals_clean_run(tmp_path, gen, clean_csv, kill_points):
    ws, names = gen
    (tmp_path / "users.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    (tmp_path / "results.csv").write_text("previous\n")
    checkpoint = tmp_path / ".checkpoint_progress.json"
    saved_at_kills: set[str] = set()
    kills: list[tuple[set[str], dict]] = []  # (users saved, listings counted) per kill
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        server.faults.latency_s = LATENCY
        for number, k in enumerate(kill_points):
            proc = start_run(tmp_path, server, *(["--resume"] if number else []))
            wait_for_results(proc, checkpoint, k + (len(journal_results(checkpoint))
                                                    if number else 0))
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
            assert (tmp_path / "results.csv").read_text() == "previous\n"
            saved = {r["username"] for r in journal_results(checkpoint)
                     if r["status"] != "error"}
            saved_at_kills |= saved
            kills.append((saved, dict(server.stats.listings)))
        assert len(saved_at_kills) >= max(kill_points) - 3  # error rows are not "done"
        result = run_script(SCRIPT, "--users-file", "users.txt", "--concurrency", CONCURRENCY,
                            "--resume",
                            env=clean_env(tmp_path, DATABRICKS_HOST=server.url,
                                          DATABRICKS_TOKEN=TOKEN), cwd=tmp_path)
        assert result.code == 0, result.output
        assert "RESUMING FROM CHECKPOINT" in result.stdout
        assert f"Already completed: {len(saved_at_kills)}" in result.stdout
        assert (tmp_path / "results.csv").read_bytes() == clean_csv
        # Users saved before a kill were never listed again; only users in flight (or
        # with error rows, which a resume rescans) may have been listed twice.
        final = dict(server.stats.listings)
        for saved, at_kill in kills:
            again = {owner(key[1]) for key, n in final.items() if n != at_kill.get(key, 0)}
            assert again & saved == set()
        twice = {owner(path) for (_, path) in server.stats.duplicate_listings()}
        assert twice & kills[0][0] == set()
        for name in kills[0][0]:  # saved in the first run: listed once, in all
            t = ws.truth(name)
            listed = sum(n for (_, path), n in server.stats.listings.items()
                         if owner(path) == name)
            assert listed == t.listings - t.forbidden_dirs - t.bad_path_dirs, name
    assert journal_records(checkpoint)[-1]["kind"] == "complete"
    assert stat.S_IMODE(checkpoint.stat().st_mode) == 0o600
    assert TOKEN not in checkpoint.read_text("utf-8")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_interrupt_exit_1_says_how_to_resume(tmp_path, gen, clean_csv, signum):
    ws, names = gen
    (tmp_path / "users.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    (tmp_path / "results.csv").write_text("previous\n")
    checkpoint = tmp_path / ".checkpoint_progress.json"
    release = threading.Event()
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        server.faults.latency_s = LATENCY
        # One early user's homes answer only when released: the run cannot finish
        # before the signal, however fast or slow the machine is.
        server.faults.hold, server.faults.hold_paths = release, {f"/Users/{names[5]}"}
        try:
            proc = start_run(tmp_path, server, token_flag=True)
            wait_for_results(proc, checkpoint, 4)
            proc.send_signal(signum)
            assert proc.wait(timeout=30) == 1
        finally:
            release.set()
        stdout = (tmp_path / "stdout.txt").read_text("utf-8")
        stderr = (tmp_path / "stderr.txt").read_text("utf-8")
        assert "--resume" in stderr and "interrupted" in stderr
        assert "Traceback" not in stderr
        assert TOKEN not in stdout + stderr
        assert (tmp_path / "results.csv").read_text() == "previous\n"
        records = journal_records(checkpoint)
        assert records[-1]["kind"] == "result"  # kept, not marked complete
        saved = len(journal_results(checkpoint))
        said = int(re.search(rf"(\d+) of {GEN_USERS} users are saved", stderr).group(1))
        # A signal right after a save may be undercounted by one: that race is pinned
        # down deterministically by test_interrupt_right_after_a_save_counts_it.
        assert said in (saved, saved - 1)
        # Run exactly the command it printed (the token comes from the environment).
        command = shlex.split(stderr.split("resume with: ", 1)[1].strip().splitlines()[0])
        assert command[:2] == [sys.executable, str(ROOT / SCRIPT)]  # as really run
        assert "--token" not in command
        result = run_script(SCRIPT, *command[2:],
                            env=clean_env(tmp_path, DATABRICKS_HOST=server.url,
                                          DATABRICKS_TOKEN=TOKEN), cwd=tmp_path)
        assert result.code == 0, result.output
        assert (tmp_path / "results.csv").read_bytes() == clean_csv
        again = run_script(SCRIPT, *command[2:],
                           env=clean_env(tmp_path, DATABRICKS_HOST=server.url,
                                         DATABRICKS_TOKEN=TOKEN), cwd=tmp_path)
        assert again.code == 0 and "Nothing to scan" in again.stdout


def test_interrupt_right_after_a_save_counts_it(tmp_path, hand, monkeypatch, capsys):
    """Ctrl-C landing just after a user was written to the journal: the message must
    count that user as saved, since it is (the resume will skip it)."""
    from dbx_inventory.cli import files as cli_files

    _, server = hand

    class InterruptedWriter(cli_files.CheckpointWriter):
        records = 0

        def record(self, result):
            super().record(result)
            InterruptedWriter.records += 1
            if InterruptedWriter.records == 2:
                raise KeyboardInterrupt  # the signal arrives right after the fsync

    monkeypatch.setattr(cli_files, "CheckpointWriter", InterruptedWriter)
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith(("DATABRICKS_", "SPARK_REMOTE")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("DATABRICKS_HOST", server.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    code = cli_files.main(["empty@x.com", "ghost@x.com", "dbfs.only@x.com", "--concurrency",
                           "1"])
    err = capsys.readouterr().err
    assert code == 1
    saved = len(journal_results(tmp_path / ".checkpoint_progress.json"))
    assert saved == 2
    assert "2 of 3 users are saved" in err, err
