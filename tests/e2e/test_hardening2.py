"""Hardening, second pass (issue 28), end to end against the fake workspace over HTTP:
no output destroys another file, no foreign answer becomes a final row, no name
becomes markup, odd values never make a run unfinishable, a damaged checkpoint is
refused, and the wording the tester found wrong."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading

import pytest

import browser
from conftest import ROOT, TOKEN, clean_env, run_script
from fake_workspace import FakeWorkspaceServer, Workspace, generate_workspace
from helpers import csv_rows, expected_rows, journal_records
from oddservers import OddServer
from dbx_inventory.errors import ScanWorkerFailed
from dbx_inventory.outputs.checkpoint import CheckpointWriter
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import USER, Place, Root
from dbx_inventory.scan.scanner import Scanner
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ApiClient, ClientConfig
from test_files_cli import EXPECTED, FULL, SCRIPT, T0, USERS, check_rows, hand_built, read_csv
from test_files_cli_faults import held, saved_results, start, stdout_of, wait_until
from test_report_html import problems, require_chromium

CHECKPOINT = ".checkpoint_progress.json"


@pytest.fixture
def hand(serve):
    ws = hand_built()
    return ws, serve(ws)


def one_line(result, code: int = 2) -> str:
    """The run's single error line (and that nothing else went to stderr)."""
    assert result.code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# -- 1. outputs never destroy another file ----------------------------------------------

def test_an_output_that_is_a_symlink_is_written_through_and_stays_a_link(cli, tmp_path,
                                                                        hand):
    _, server = hand
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "real.csv").write_text("old\n")
    os.symlink("kept/real.csv", tmp_path / "results.csv")
    result = cli(SCRIPT, *USERS, server=server)
    assert result.code == 0, result.output
    assert (tmp_path / "results.csv").is_symlink()
    assert os.readlink(tmp_path / "results.csv") == "kept/real.csv"
    check_rows(read_csv(tmp_path / "kept" / "real.csv")[1:], EXPECTED)


@pytest.mark.parametrize("script, args", [
    (SCRIPT, [*USERS[:2], "--dirs-output", "console"]),
    ("databricks_user_list.py", ["-o", "console"])], ids=["files", "user-list"])
def test_an_output_that_leads_to_this_runs_console_is_refused(tmp_path, hand, script, args):
    """`--dirs-output /dev/stdout` with stdout sent to a file: the same link, made here
    (/dev/stdout itself is the machine's, and a failing run would replace it)."""
    _, server = hand
    os.symlink("/proc/self/fd/1", tmp_path / "console")
    env = clean_env(tmp_path, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
    with open(tmp_path / "stdout.txt", "w") as stdout:
        proc = subprocess.run([sys.executable, str(ROOT / script), *args], cwd=tmp_path,
                              env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "console is this run's standard output: name a file" in proc.stderr
    assert os.readlink(tmp_path / "console") == "/proc/self/fd/1"
    assert (tmp_path / "stdout.txt").read_text() == ""
    assert server.stats.total_requests == 0


@pytest.mark.parametrize("flag, name", [
    ("-o", CHECKPOINT), ("--dirs-output", f"sub/../{CHECKPOINT}"),
    ("--report", "alias.json"), ("-o", "link.json"), ("--report", f"{CHECKPOINT}.lock")],
    ids=["results", "dirs-dotdot", "report-hardlink", "results-symlink", "report-lock"])
def test_an_output_that_is_the_checkpoint_is_refused_before_any_request(cli, tmp_path,
                                                                         hand, flag, name):
    _, server = hand
    (tmp_path / "sub").mkdir()
    assert cli(SCRIPT, *USERS, server=server).code == 0
    journal = tmp_path / CHECKPOINT
    before = journal.read_bytes()
    os.link(journal, tmp_path / "alias.json")
    os.symlink(CHECKPOINT, tmp_path / "link.json")
    server.reset_stats()
    line = one_line(cli(SCRIPT, *USERS, "--resume", flag, name, server=server))
    assert f"{flag} {name} is the checkpoint" in line
    assert journal.read_bytes() == before and not journal.is_symlink()
    assert (tmp_path / "link.json").is_symlink()
    assert server.stats.total_requests == 0


def test_an_output_that_is_the_checkpoint_is_refused_on_a_fresh_run_too(cli, tmp_path,
                                                                       hand):
    _, server = hand
    line = one_line(cli(SCRIPT, *USERS, "-o", CHECKPOINT, server=server))
    assert "is the checkpoint" in line
    assert not (tmp_path / CHECKPOINT).exists()
    assert server.stats.total_requests == 0


@pytest.mark.parametrize("args", [
    ["--report", "results.csv"], ["--report", "./sub/../results.csv"],
    ["--dirs-output", "same.csv", "--report", "same.csv"]],
    ids=["report-on-results", "report-dotdot", "report-on-dirs"])
def test_report_onto_another_output_is_refused_and_leaves_it(cli, tmp_path, hand, args):
    _, server = hand
    (tmp_path / "sub").mkdir()
    (tmp_path / "results.csv").write_text("previous\n")
    (tmp_path / "same.csv").write_text("previous\n")
    line = one_line(cli(SCRIPT, *USERS, *args, server=server))
    assert f"--report {args[-1]} is the same file as" in line
    assert (tmp_path / "results.csv").read_text() == "previous\n"
    assert (tmp_path / "same.csv").read_text() == "previous\n"
    assert server.stats.total_requests == 0


# -- 3. a foreign answer is an outage, not a row ------------------------------------------

def test_a_sign_in_page_mid_run_stops_the_run_and_resume_finishes_exactly(tmp_path):
    ws = generate_workspace(16, seed=5)
    names = [u.user_name for u in ws.users]
    (tmp_path / "results.csv").write_text("previous\n")
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        release = held(server, names[3])
        try:
            proc = start(tmp_path, server, *names, "--concurrency", "4")
            wait_until(lambda: len(saved_results(tmp_path)) >= 3, proc, "3 users saved")
            server.faults.sign_in_page = True  # the SSO session in front lapsed
            release.set()
            assert proc.wait(timeout=120) == 1, stdout_of(tmp_path)
        finally:
            release.set()
        stderr = (tmp_path / "stderr.txt").read_text("utf-8")
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert f"the workspace URL {server.url} answers with a web page" in stderr
        assert "sign-in or proxy page" in stderr
        saved = saved_results(tmp_path)
        assert f"{len(saved)} of {len(names)} users are saved" in stderr
        assert not any("JSON" in r["error"] or "web page" in r["error"] for r in saved)
        assert "COMPLETED" not in stdout_of(tmp_path)
        assert (tmp_path / "results.csv").read_text() == "previous\n"
        server.faults.sign_in_page = False  # signed in again
        command = shlex.split(stderr.split("resume with: ", 1)[1].strip())
        result = run_script(SCRIPT, *command[2:], cwd=tmp_path,
                            env=clean_env(tmp_path, DATABRICKS_HOST=server.url,
                                          DATABRICKS_TOKEN=TOKEN))
    assert result.code == 0, result.output
    assert csv_rows(tmp_path / "results.csv") == expected_rows(ws, names)


def test_a_sign_in_page_from_the_start_says_so_in_one_line(cli, tmp_path, hand):
    _, server = hand
    server.faults.sign_in_page = True
    for script, args in ((SCRIPT, USERS), ("databricks_user_list.py", ["-o", "users.txt"])):
        line = one_line(cli(script, *args, server=server), code=1)
        assert f"the workspace URL {server.url} answers with a web page, not the API " \
               '(a sign-in or proxy page: "Sign in to your account")' in line
        assert "admin" not in line and TOKEN not in line
    assert not (tmp_path / "results.csv").exists() and not (tmp_path / "users.txt").exists()
    assert not (tmp_path / CHECKPOINT).exists()
    assert server.stats.by_endpoint["dbfs/list"] == 0


# -- 4. names are data, everywhere ----------------------------------------------------------

HUGE = '<span style="font-size:90px;color:red">HUGE'  # any DBFS user can name a folder so
LINK = '<a href="http:evil.example">click me'
BOLD = "<b>bold area"
FORGED = "forged\n  ✓ FORGED LINE"


@pytest.fixture(scope="module")
def hostile_names(tmp_path_factory):
    """A --whole-workspace run with a breakdown and a report over folders named as markup:
    a removed user's home (top users), a directory (treemap), an area (areas chart), and a
    home whose name holds a newline (the console)."""
    tmp = tmp_path_factory.mktemp("names")
    ws = Workspace()
    ws.add_user("ana@x.com")
    ws.dbfs.add_file(f"/Users/ana@x.com/{LINK}/f.bin", size=5000, mtime_ms=T0)
    ws.dbfs.add_file(f"/Users/{HUGE}/f.bin", size=9000, mtime_ms=T0)
    ws.workspace.add_file(f"/Users/{FORGED}/f.py", size=9, mtime_ms=T0)
    ws.dbfs.add_file(f"/{BOLD}/f.bin", size=7000, mtime_ms=T0)
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        result = run_script(SCRIPT, "--whole-workspace", "--dirs-output", "dirs.csv",
                            "--report", "report.html", cwd=tmp,
                            env=clean_env(tmp, DATABRICKS_HOST=server.url,
                                          DATABRICKS_TOKEN=TOKEN))
    assert result.code == 0, result.output
    return tmp, result


def test_names_in_the_report_charts_are_text_never_links_or_styles(hostile_names):
    require_chromium()
    tmp, _ = hostile_names
    page = browser.render(tmp / "report.html")
    assert problems(page, {}) == []
    charts = [page.dom[start:page.dom.find("</section>", start)]
              for start in (m.start() for m in re.finditer(r'id="chart-', page.dom))]
    drawn = "".join(charts)
    assert 'id="chart-dirs"' in drawn and 'id="chart-areas"' in drawn
    # Plotly turns <a href> into an SVG link and <span style>/<b> into styled tspans.
    assert not re.search(r"<a\b[^>]*evil\.example", drawn), "a name became a link"
    assert not re.search(r'<[^<>]*\bstyle="[^"]*(font-size: ?90px|color: ?red|font-weight: ?'
                         r"bold)", drawn), "a name became a style"
    # Each is drawn as the text it is (a text node: < and > serialized as entities).
    for name in (HUGE, LINK.split("/")[-1], f"dbfs:/{BOLD}"):
        assert name.replace("<", "&lt;").replace(">", "&gt;") in drawn, name


def test_a_name_with_a_newline_cannot_forge_a_console_line(hostile_names):
    _, result = hostile_names
    assert "forged\\n  ✓ FORGED LINE" in result.stdout
    assert not any(line.startswith("  ✓ FORGED") for line in result.stdout.splitlines())


# -- 2. a value the API should not send never makes a run unfinishable --------------------

NS_MTIME = 10 ** 17  # far past year 9999 as epoch ms: a server sending nanoseconds


def test_odd_times_and_sizes_never_stop_the_run(cli, serve, tmp_path):
    ws = Workspace()
    ws.add_user("ana@x.com")
    ws.dbfs.add_file("/Users/ana@x.com/ns.bin", size=1000, mtime_ms=NS_MTIME)
    ws.dbfs.add_file("/Users/ana@x.com/sub/ok.bin", size=500, mtime_ms=T0)
    ws.workspace.add_file("/Users/ana@x.com/minus.txt", size=-7, mtime_ms=T0)
    ws.workspace.add_file("/Users/ana@x.com/w/fine.txt", size=20, mtime_ms=T0)
    server = serve(ws, sizes_as_text=True)  # every size a JSON string
    result = cli(SCRIPT, "ana@x.com", "--extended", "--dirs-output", "dirs.csv",
                 "--report", "r.html", "--debug", server=server)
    assert result.code == 0, result.output
    row = read_csv(tmp_path / "results.csv")[1]
    assert row[:3] == ["ana@x.com", "4", "1520"]  # the strings counted, -7 as 0
    assert row[11] == "2023-11-14T22:13:20Z"  # the one true time; 1e17 ignored
    warnings = [line for line in result.stdout.splitlines() if "not a byte count" in line]
    assert warnings == ["⚠ 1 entry had a size that is not a byte count (negative or not a "
                        "number): counted as 0 bytes (see --debug for where)"]
    assert "1 modification times out of range were ignored for dates" in result.stdout
    assert "[DBFS] /Users/ana@x.com: 0 sizes counted as 0 bytes, 1 modification" \
        in result.stdout
    assert (tmp_path / "r.html").exists() and (tmp_path / "dirs.csv").exists()


def test_a_journal_holding_an_out_of_range_time_still_writes_its_outputs(cli, tmp_path,
                                                                        hand):
    """A run recorded before such times were ignored: --resume finishes it."""
    _, server = hand
    with CheckpointWriter(tmp_path / CHECKPOINT, host=server.url, users=["ana@x.com"],
                          scope=FULL) as writer:
        writer.record(UserResult("ana@x.com", "success", 1, 10, "dbfs", "", dbfs_files=1,
                                 dbfs_bytes=10, last_modified_ms=NS_MTIME))
        writer.mark_complete()
    result = cli(SCRIPT, "ana@x.com", "--resume", "--extended", "--report", "r.html",
                 server=server)
    assert result.code == 0, result.output
    row = read_csv(tmp_path / "results.csv")[1]
    assert row[:3] == ["ana@x.com", "1", "10"] and row[11] == ""
    assert server.stats.total_requests == 0


# -- 5. a damaged checkpoint is refused, never a hang ---------------------------------------

def _unfinished_whole_run(cli, server, tmp_path) -> list[dict]:
    """A --whole-workspace journal whose last row (the area) is not yet saved."""
    assert cli(SCRIPT, "--whole-workspace", server=server).code == 0
    records = journal_records(tmp_path / CHECKPOINT)
    assert "dbfs:/data" in records[0]["meta"]["roots"]
    return [r for r in records if r["kind"] == "header"
            or r["kind"] == "result" and r["result"]["username"] != "dbfs:/data"]


@pytest.mark.parametrize("damage", [
    lambda root: root["places"][0].__setitem__(0, "s3"),      # an unknown file system
    lambda root: root["places"][0].__setitem__(1, 5),         # a number for a path
    lambda root: root["places"][0].__setitem__(2, "abc"),     # text for the exclusions
    lambda root: root.__setitem__("name", "dbfs:/elsewhere"),  # not the key it is under
    lambda root: root.__setitem__("places", "dbfs:/data"),
], ids=["file-system", "path", "exclude", "name", "places"])
def test_a_damaged_recorded_root_is_refused_naming_the_file_and_line(cli, serve, tmp_path,
                                                                     damage):
    ws = Workspace()
    ws.add_user("ana@x.com")
    ws.dbfs.add_file("/data/f.bin", size=10, mtime_ms=T0)
    server = serve(ws)
    records = _unfinished_whole_run(cli, server, tmp_path)
    damage(records[0]["meta"]["roots"]["dbfs:/data"])
    (tmp_path / CHECKPOINT).write_text("".join(json.dumps(r) + "\n" for r in records))
    before = (tmp_path / CHECKPOINT).read_bytes()
    server.reset_stats()
    line = one_line(cli(SCRIPT, "--whole-workspace", "--resume", server=server, timeout=60))
    assert f"checkpoint {CHECKPOINT} is damaged at line 1" in line
    assert (tmp_path / CHECKPOINT).read_bytes() == before
    assert server.stats.total_requests == 0


def test_a_scan_worker_that_dies_ends_the_scan_with_a_clear_error(serve):
    """Whatever kills a worker (here a root of a file system no walker knows, which only
    a hand-made root can still carry), the scan ends: it never waits for the dead."""
    server = serve(hand_built())
    bad = Root(USER, "ana@x.com", (Place("s3", "/Users/ana@x.com"),))
    outcome: list = []

    def scan() -> None:
        with ApiClient(ClientConfig(host=server.url, credentials=StaticToken(TOKEN),
                                    max_in_flight=2)) as client:
            try:
                outcome.append(list(Scanner(client).scan(["empty@x.com", bad])))
            except ScanWorkerFailed as exc:
                outcome.append(exc)

    thread = threading.Thread(target=scan, daemon=True)
    thread.start()
    thread.join(timeout=60)  # only a hang waits this long
    assert outcome, "the scan hung on a dead worker"
    assert isinstance(outcome[0], ScanWorkerFailed)
    assert "a scan worker failed (KeyError: 's3')" in str(outcome[0])


# -- 6. wording ------------------------------------------------------------------------------

def test_resume_of_a_finished_whole_workspace_run_counts_users_and_areas(cli, serve):
    ws = Workspace()
    ws.add_user("ana@x.com")
    ws.dbfs.add_file("/data/f.bin", size=10, mtime_ms=T0)
    server = serve(ws)
    assert cli(SCRIPT, "--whole-workspace", server=server).code == 0
    result = cli(SCRIPT, "--whole-workspace", "--resume", server=server)
    assert result.code == 0, result.output
    assert "already finished (2 users and areas)" in result.stdout


@pytest.mark.parametrize("args, needle", [
    (["--whole-workspace", "ana@x.com"], "--whole-workspace finds the users itself"),
    (["ana@x.com", "--dirs-depth", "2"], "--dirs-depth goes with --dirs-output"),
    (["ana@x.com", "--dirs-output", ""], "--dirs-output is empty: name a file"),
    (["ana@x.com", "--report", ""], "--report is empty: name a file"),
], ids=["whole-with-users", "depth-alone", "empty-dirs-output", "empty-report"])
def test_refusals_name_the_flag_given(cli, tmp_path, hand, args, needle):
    _, server = hand
    line = one_line(cli(SCRIPT, *args, server=server))
    assert needle in line and "--all-homes" not in line
    assert server.stats.total_requests == 0
    assert not (tmp_path / "results.csv").exists()


def test_sizes_past_1024_tb_are_shown_in_pb(cli, serve):
    ws = Workspace()
    ws.add_user("big@x.com")
    ws.dbfs.add_file("/Users/big@x.com/lake.bin", size=2 * 1024 ** 5, mtime_ms=T0)
    result = cli(SCRIPT, "big@x.com", server=serve(ws))
    assert result.code == 0, result.output
    assert "2.0 PB (2,251,799,813,685,248 bytes)" in result.stdout
    assert " TB" not in result.stdout


def test_listings_of_the_wrong_shape_stop_the_run_not_become_rows(cli, tmp_path):
    """An answer with the right key but entries that are not objects is not the API's."""
    def answer(path: str):
        return {"userName": "me@x.com"} if "/scim/v2/Me" in path else \
            {"files": [1, 2], "objects": ["x"]}

    with OddServer(answer) as server:
        result = cli(SCRIPT, "ana@x.com", env={"DATABRICKS_HOST": server.url,
                                                "DATABRICKS_TOKEN": TOKEN})
    line = one_line(result, code=1)
    assert "does not look like a Databricks workspace" in line and "resume with" in line
    assert "COMPLETED" not in result.stdout
    assert not (tmp_path / "results.csv").exists()
