"""The files tool under faults and bad input, as a hostile admin would try it: outages,
non-workspaces, full disks, two runs at once, devices as outputs, leaked secrets, and
the resume rules. Runs that must be caught mid-way are held open by the server."""

from __future__ import annotations

import json
import os
import re
import resource
import shlex
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import ROOT, TOKEN, clean_env, run_script
from helpers import csv_rows, expected_rows, journal_records, saved_results, wait_until
from oddservers import OddServer
from dbx_inventory.outputs.checkpoint import CheckpointWriter
from dbx_inventory.cli.common import command_line
from dbx_inventory.cli.files import build_parser
from dbx_inventory.scan.results import UserResult
from fake_workspace import FakeWorkspaceServer, generate_workspace
from test_files_cli import EXPECTED, FULL, SCRIPT, USERS, check_rows, hand_built, read_csv

CHECKPOINT = ".checkpoint_progress.json"


@pytest.fixture
def hand(serve):
    ws = hand_built()
    return ws, serve(ws)


@pytest.fixture(scope="module")
def gen():
    ws = generate_workspace(16, seed=5)
    return ws, [u.user_name for u in ws.users]


def start(folder: Path, server, *args: str, env_extra=None, **popen) -> subprocess.Popen:
    env = clean_env(folder, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN,
                    **(env_extra or {}))
    return subprocess.Popen([sys.executable, str(ROOT / SCRIPT), *args], cwd=folder, env=env,
                            stdout=open(folder / "stdout.txt", "w"),
                            stderr=open(folder / "stderr.txt", "w"), **popen)




def stdout_of(folder: Path) -> str:
    return (folder / "stdout.txt").read_text("utf-8")


def held(server, name: str) -> threading.Event:
    """Hold the listings of one user's homes until the event is set."""
    release = threading.Event()
    server.faults.hold, server.faults.hold_paths = release, {f"/Users/{name}"}
    return release


# -- outages ----------------------------------------------------------------------------

def test_outage_that_ends_in_time_leaves_the_results_exact(tmp_path, gen):
    ws, names = gen
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        release = held(server, names[3])
        try:
            proc = start(tmp_path, server, *names, "--concurrency", "4")
            wait_until(lambda: len(saved_results(tmp_path)) >= 3, proc, "3 users saved")
            server.faults.down = True
            release.set()
            wait_until(lambda: "stopped answering" in stdout_of(tmp_path), proc,
                       "the outage was reported")
            server.faults.down = False
            assert proc.wait(timeout=120) == 0, (tmp_path / "stderr.txt").read_text()
        finally:
            release.set()
    stdout = stdout_of(tmp_path)
    assert "answers again" in stdout and "COMPLETED SUCCESSFULLY" in stdout
    assert csv_rows(tmp_path / "results.csv") == expected_rows(ws, names)
    assert not any("connection" in r["error"] for r in saved_results(tmp_path))


def test_outage_past_its_limit_stops_with_exit_1_and_the_resume_command(tmp_path, gen):
    ws, names = gen
    (tmp_path / "results.csv").write_text("previous\n")
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        release = held(server, names[3])
        try:
            proc = start(tmp_path, server, *names, "--concurrency", "4",
                         "--outage-timeout", "1")
            wait_until(lambda: len(saved_results(tmp_path)) >= 3, proc, "3 users saved")
            server.faults.down = True
            release.set()
            assert proc.wait(timeout=120) == 1
        finally:
            release.set()
        stderr = (tmp_path / "stderr.txt").read_text("utf-8")
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert "has not answered" in stderr and "--outage-timeout" in stderr
        saved = saved_results(tmp_path)
        assert f"{len(saved)} of {len(names)} users are saved" in stderr
        assert not any(r["status"] == "error" and "connection" in r["error"] for r in saved)
        assert journal_records(tmp_path / CHECKPOINT)[-1]["kind"] == "result"
        assert (tmp_path / "results.csv").read_text() == "previous\n"
        assert "COMPLETED" not in stdout_of(tmp_path)
        server.faults.down = False
        command = shlex.split(stderr.split("resume with: ", 1)[1].strip())
        assert "--resume" in command and ["--outage-timeout", "1.0"] == \
            command[command.index("--outage-timeout"):][:2]
        result = run_script(SCRIPT, *command[2:], cwd=tmp_path,
                            env=clean_env(tmp_path, DATABRICKS_HOST=server.url,
                                          DATABRICKS_TOKEN=TOKEN))
    assert result.code == 0, result.output
    assert csv_rows(tmp_path / "results.csv") == expected_rows(ws, names)


def test_transient_error_rows_are_rescanned_even_after_a_finished_run(cli, tmp_path, hand):
    _, server = hand
    path = tmp_path / CHECKPOINT
    flaky = UserResult("zed.both@x.com", "error", 0, 0, "unknown",
                       "DBFS: 503 unavailable (gave up after 8 attempts)",
                       error_kind="transient")
    with CheckpointWriter(path, host=server.url, users=USERS, scope=FULL) as writer:
        for name, want in zip(USERS[1:], EXPECTED[1:], strict=True):
            writer.record(UserResult(name, want[4], want[1], want[2], want[5],
                                     "denied" if want[4] == "error" else "",
                                     error_kind="final" if want[4] == "error" else ""))
        writer.record(flaky)
        writer.mark_complete()
    result = cli(SCRIPT, *USERS, "--resume", server=server)
    assert result.code == 0, result.output
    assert "Remaining to process: 1" in result.stdout
    rows = read_csv(tmp_path / "results.csv")[1:]
    check_rows(rows[:1], EXPECTED[:1])  # rescanned: now the true row
    assert server.stats.listing_attempts[("dbfs", "/Users/ws.only@x.com")] == 0


# -- answers that are not a workspace -----------------------------------------------------

@pytest.mark.parametrize("body", [{"hello": "world"}, {"userName": "me@x.com"}],
                         ids=["any-json", "me-but-odd-listings"])
def test_a_host_that_is_not_a_workspace_is_one_line_exit_1(cli, tmp_path, body):
    # The third answers /Me like a workspace, then the same object for every listing.
    with OddServer(lambda path: body) as server:
        result = cli(SCRIPT, "ana@x.com", env={"DATABRICKS_HOST": server.url,
                                                "DATABRICKS_TOKEN": TOKEN})
        users = cli("databricks_user_list.py", "-o", "users.txt",
                    env={"DATABRICKS_HOST": server.url, "DATABRICKS_TOKEN": TOKEN})
    assert result.code == 1, result.output
    assert "does not look like a Databricks workspace" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "COMPLETED" not in result.stdout
    assert not (tmp_path / "results.csv").exists()
    assert users.code == 1 and "does not look like a Databricks workspace" in users.stderr
    assert not (tmp_path / "users.txt").exists()


# -- scope ------------------------------------------------------------------------------

def test_resume_with_another_scope_is_refused(cli, tmp_path, hand):
    _, server = hand
    assert cli(SCRIPT, *USERS, "--workspace-only", server=server).code == 0
    before = (tmp_path / "results.csv").read_bytes()
    result = cli(SCRIPT, *USERS, "--resume", server=server)
    assert result.code == 2
    assert "sources=workspace, this run asks for sources=dbfs+workspace" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "results.csv").read_bytes() == before


# -- outputs ------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["-o", "--checkpoint"])
def test_a_fifo_as_output_or_checkpoint_is_refused_and_left_alone(cli, tmp_path, hand, flag):
    _, server = hand
    os.mkfifo(tmp_path / "pipe")  # a stand-in for /dev/null: not a regular file
    result = cli(SCRIPT, "empty@x.com", flag, "pipe", server=server)
    assert result.code == 1, result.output
    assert "not a regular file" in result.stderr and "pipe" in result.stderr
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
    assert server.stats.total_requests == 0


def test_user_list_refuses_a_fifo_as_output(cli, tmp_path, hand):
    _, server = hand
    os.mkfifo(tmp_path / "pipe")
    result = cli("databricks_user_list.py", "-o", "pipe", server=server)
    assert result.code == 1 and "not a regular file" in result.stderr
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)


def test_outputs_follow_the_umask_and_an_existing_file_keeps_its_mode(cli, tmp_path, hand):
    _, server = hand
    old = os.umask(0o022)
    try:
        assert cli(SCRIPT, "empty@x.com", server=server).code == 0
        assert stat.S_IMODE((tmp_path / "results.csv").stat().st_mode) == 0o644
        os.chmod(tmp_path / "results.csv", 0o640)
        assert cli(SCRIPT, "empty@x.com", server=server).code == 0
        assert stat.S_IMODE((tmp_path / "results.csv").stat().st_mode) == 0o640
        assert cli("databricks_user_list.py", "-o", "users.txt", server=server).code == 0
        assert stat.S_IMODE((tmp_path / "users.txt").stat().st_mode) == 0o644
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / CHECKPOINT).stat().st_mode) == 0o600


def test_full_disk_stops_with_one_line_and_no_user_shown_unsaved(tmp_path, hand):
    _, server = hand
    limit = 1800  # bytes: the header and a few users, then the "disk" is full

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = start(tmp_path, server, *USERS, "--concurrency", "1", preexec_fn=small_disk)
    assert proc.wait(timeout=120) == 1
    stderr = (tmp_path / "stderr.txt").read_text("utf-8")
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert f"cannot write the checkpoint {CHECKPOINT}: File too large" in stderr
    saved = saved_results(tmp_path)
    assert 0 < len(saved) < len(USERS)
    assert f"{len(saved)} of {len(USERS)} users are saved" in stderr
    assert f"make room, then resume with: {sys.executable} " in stderr
    shown = re.findall(r"^\[\d+/10\] (.+)$", stdout_of(tmp_path), re.M)
    assert shown == [r["username"] for r in saved]  # nobody printed beyond the journal
    assert not (tmp_path / "results.csv").exists()
    assert not list(tmp_path.glob(".results.csv.*"))
    result = run_script(SCRIPT, *USERS, "--resume", cwd=tmp_path,
                        env=clean_env(tmp_path, DATABRICKS_HOST=server.url,
                                      DATABRICKS_TOKEN=TOKEN))
    assert result.code == 0, result.output
    check_rows(read_csv(tmp_path / "results.csv")[1:])


# -- two runs on one checkpoint -----------------------------------------------------------

def test_a_second_run_on_a_locked_checkpoint_exits_2_naming_the_first(cli, tmp_path, hand):
    _, server = hand
    release = held(server, "zed.both@x.com")
    try:
        first = start(tmp_path, server, *USERS)
        wait_until(lambda: (tmp_path / CHECKPOINT).exists(), first, "the journal")
        second = cli(SCRIPT, *USERS, server=server)
        again = cli(SCRIPT, *USERS, "--resume", server=server)
    finally:
        release.set()
    assert first.wait(timeout=60) == 0
    for result in (second, again):
        assert result.code == 2
        assert f"in use by process {first.pid}" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    check_rows(read_csv(tmp_path / "results.csv")[1:])
    assert not list(tmp_path.glob(f"{CHECKPOINT}.prev*"))


# -- secrets ------------------------------------------------------------------------------

def test_abbreviated_token_flag_is_refused_without_echoing_the_value(cli, tmp_path, hand):
    _, server = hand
    for flag in (["--tok", TOKEN], [f"--toke={TOKEN}"], ["--tokn", TOKEN]):
        result = cli(SCRIPT, "empty@x.com", *flag, server=server)
        assert result.code == 2, result.output
        assert TOKEN not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
    assert server.stats.total_requests == 0


def test_resume_command_is_built_from_parsed_arguments_without_secrets():
    parser = build_parser()
    remote = "sc://spark.example.com:15002;token=SPARKSECRET;use_ssl=true"
    args = parser.parse_args(["ana@x.com", "b o@x.com", "--token", "PATSECRET",
                              "--spark-remote", remote, "--concurrency", "8", "-o", "r.csv",
                              "--workspace-only"])
    command = command_line(parser, args, SCRIPT, extra=("--resume",))
    assert "PATSECRET" not in command and "SPARKSECRET" not in command
    assert "--token" not in command
    words = shlex.split(command)
    assert words[:4] == ["python", SCRIPT, "ana@x.com", "b o@x.com"]
    assert {"--workspace-only", "--resume"} <= set(words)
    assert words[words.index("--concurrency") + 1] == "8"
    assert words[words.index("--output") + 1] == "r.csv"


def test_a_server_echoing_the_token_leaks_it_nowhere(cli, tmp_path, hand):
    _, server = hand
    server.faults.echo_auth = True
    result = cli(SCRIPT, *USERS, "--extended", "--debug", server=server)
    assert result.code == 0, result.output
    assert "Authorization: ****" in (tmp_path / "results.csv").read_text("utf-8")
    for text in (result.output, (tmp_path / "results.csv").read_text("utf-8"),
                 (tmp_path / CHECKPOINT).read_text("utf-8")):
        assert TOKEN not in text


# -- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("args, env, needle", [
    (["--concurrency", "100000"], {}, "--concurrency must be between 1 and"),
    (["--outage-timeout", "0"], {}, "--outage-timeout"),
    ([], {"DATABRICKS_TOKEN": "dapi\u2019pasted"}, "cannot be sent in an HTTP header"),
    (["--users-file", "users.txt"], {}, "line 2: '../../etc@x.com' is not a user name"),
])
def test_bad_input_is_one_line_exit_2_before_any_request(cli, tmp_path, hand, args, env,
                                                          needle):
    _, server = hand
    (tmp_path / "users.txt").write_text("ana@x.com\n../../etc@x.com\n", encoding="utf-8")
    result = cli(SCRIPT, *([] if args else ["empty@x.com"]), *args, server=server, env=env)
    assert result.code == 2, result.output
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert server.stats.total_requests == 0


def test_checkpoint_record_of_the_wrong_shape_is_refused_before_any_request(cli, tmp_path,
                                                                             hand):
    _, server = hand
    path = tmp_path / CHECKPOINT
    with CheckpointWriter(path, host=server.url, users=USERS, scope=FULL) as writer:
        writer.record(UserResult("empty@x.com", "empty", 0, 0, "none", ""))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"kind": "result", "result": {"username": "zed.both@x.com",
                                                              "status": "success"}}) + "\n")
        handle.write('{"kind":"complete"}\n')
    result = cli(SCRIPT, *USERS, "--resume", server=server)
    assert result.code == 2, result.output
    assert f"checkpoint {CHECKPOINT} is damaged at line 3" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert server.stats.total_requests == 0


# -- resume rules ---------------------------------------------------------------------------

def test_finished_run_plus_one_user_resumes_scanning_only_the_new_one(cli, tmp_path, hand):
    _, server = hand
    assert cli(SCRIPT, *USERS[:-1], server=server).code == 0
    server.reset_stats()
    result = cli(SCRIPT, *USERS, "--resume", server=server)
    assert result.code == 0, result.output
    assert "Remaining to process: 1" in result.stdout
    check_rows(read_csv(tmp_path / "results.csv")[1:])
    listed = {path.split("/")[2] for (_, path) in server.stats.listings}
    assert listed == {USERS[-1]}


def test_same_users_in_another_order_after_a_finish_write_that_order(cli, tmp_path, hand):
    _, server = hand
    assert cli(SCRIPT, *USERS, server=server).code == 0
    server.reset_stats()
    result = cli(SCRIPT, *reversed(USERS), "--resume", server=server)
    assert result.code == 0, result.output
    assert "Nothing to scan" in result.stdout
    assert [r[0] for r in read_csv(tmp_path / "results.csv")[1:]] == list(reversed(USERS))
    assert server.stats.total_requests == 0


def test_resume_of_a_finished_run_writes_the_output_asked_for(cli, tmp_path, hand):
    _, server = hand
    assert cli(SCRIPT, *USERS, server=server).code == 0
    result = cli(SCRIPT, *USERS, "--resume", "-o", "other.csv", server=server)
    assert result.code == 0, result.output
    assert "Results saved to: other.csv" in result.stdout
    assert (tmp_path / "other.csv").read_bytes() == (tmp_path / "results.csv").read_bytes()


def test_resume_accepts_the_same_host_in_other_letter_case(cli, tmp_path, hand):
    _, server = hand
    lower = f"http://localhost:{server.port}"
    names = ["empty@x.com", "zed.both@x.com"]
    with CheckpointWriter(tmp_path / CHECKPOINT, host=lower, users=names,
                          scope=FULL) as writer:
        writer.record(UserResult("empty@x.com", "empty", 0, 0, "none", ""))
    result = cli(SCRIPT, *names, "--resume", server=server,
                 env={"DATABRICKS_HOST": f"http://LOCALHOST:{server.port}"})
    assert result.code == 0, result.output
    assert "Already completed: 1" in result.stdout


def test_resume_without_a_checkpoint_does_not_claim_to_resume(cli, tmp_path, hand):
    _, server = hand
    result = cli(SCRIPT, "empty@x.com", "--resume", server=server)
    assert result.code == 0, result.output
    assert "No checkpoint" in result.stdout
    assert "RESUMING" not in result.stdout


def test_token_revoked_mid_run_says_how_many_are_saved_and_how_to_resume(tmp_path, hand):
    _, server = hand
    release = held(server, "zed.both@x.com")
    try:
        proc = start(tmp_path, server, *USERS, "--concurrency", "4")
        wait_until(lambda: len(saved_results(tmp_path)) >= 2, proc, "2 users saved")
        server._auth = "Bearer revoked"  # every later request: 401
    finally:
        release.set()
    assert proc.wait(timeout=60) == 1
    stderr = (tmp_path / "stderr.txt").read_text("utf-8")
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "refused the token" in stderr
    assert f"{len(saved_results(tmp_path))} of {len(USERS)} users are saved" in stderr
    assert f"fix the token, then resume with: {sys.executable} " in stderr and "--resume" in stderr
    assert TOKEN not in stderr
