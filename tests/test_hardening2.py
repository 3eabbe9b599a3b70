"""Hardening, second pass (issue 28), end to end against the fake workspace over HTTP:
no output destroys another file, no foreign answer becomes a final row, no name
becomes markup, odd values never make a run unfinishable, a damaged checkpoint is
refused, and the wording the tester found wrong."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT, TOKEN, clean_env, run_script
from fake_workspace import FakeWorkspaceServer, generate_workspace
from helpers import csv_rows, expected_rows
from test_files_cli import EXPECTED, SCRIPT, USERS, check_rows, hand_built, read_csv
from test_files_cli_faults import held, saved_results, start, stdout_of, wait_until

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


def test_an_output_that_leads_to_this_runs_console_is_refused(tmp_path, hand):
    """`--dirs-output /dev/stdout` with stdout sent to a file: the same link, made here
    (/dev/stdout itself is the machine's, and a failing run would replace it)."""
    _, server = hand
    os.symlink("/proc/self/fd/1", tmp_path / "console")
    env = clean_env(tmp_path, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
    with open(tmp_path / "stdout.txt", "w") as stdout:
        code = subprocess.run([sys.executable, str(ROOT / SCRIPT), *USERS[:2],
                               "--dirs-output", "console"], cwd=tmp_path, env=env,
                              stdout=stdout, stderr=subprocess.PIPE, text=True).returncode
    assert code == 2
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
