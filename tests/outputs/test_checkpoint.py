"""Checkpoint journal: header + results, latest per user, torn tails, resumability."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from conftest import ROOT
from dbx_inventory.outputs.checkpoint import (CheckpointLock, CheckpointWriter, check_resumable,
                                      read_journal, set_aside)
from dbx_inventory.errors import CheckpointBusy, ConfigError
from dbx_inventory.scan.results import UserResult
from dbx_inventory.transport.settings import resolve

HOST = "https://ws.example.com"
USERS = ["alice@x.com", "bob@x.com", "carol@x.com"]


def row(name: str, status: str = "success", files: int = 1, size: int = 10,
        error: str = "") -> UserResult:
    source = "dbfs" if files else ("unknown" if status == "error" else "none")
    return UserResult(username=name, status=status, file_count=files, total_size=size,
                      file_source=source, error=error, dbfs_files=files, dbfs_bytes=size,
                      last_modified_ms=1700000000000, started_at=100.0, ended_at=102.5,
                      worker="host/1", listings=2)


def make(path, rows, users=USERS, host=HOST, complete=False):
    with CheckpointWriter(path, host=host, users=users) as writer:
        for r in rows:
            writer.record(r)
        if complete:
            writer.mark_complete()


def test_header_and_results_round_trip(tmp_path):
    path = tmp_path / "cp.json"
    a, b = row("alice@x.com", files=3, size=300), row("bob@x.com", status="empty", files=0,
                                                       size=0)
    make(path, [a, b])
    journal = read_journal(path)
    assert journal.host == HOST
    assert journal.users == USERS
    assert journal.results == {"alice@x.com": a, "bob@x.com": b}
    assert journal.complete is False
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["kind"] == "header"
    assert [json.loads(line)["kind"] for line in lines[1:]] == ["result", "result"]


def test_latest_row_per_user_wins(tmp_path):
    path = tmp_path / "cp.json"
    first = row("alice@x.com", status="error", files=0, size=0, error="DBFS: 500 boom")
    second = row("alice@x.com", files=7, size=70)
    make(path, [first, row("bob@x.com"), second])
    journal = read_journal(path)
    assert journal.results["alice@x.com"] == second
    assert len(journal.results) == 2


def test_file_mode_is_0600(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_file_mode_tightened_when_appending_to_loose_file(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    path.chmod(0o644)
    with CheckpointWriter(path, host=HOST, users=USERS, append=True) as writer:
        writer.record(row("bob@x.com"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_file_is_none(tmp_path):
    assert read_journal(tmp_path / "nothing.json") is None


def test_empty_file_is_none(tmp_path):
    path = tmp_path / "cp.json"
    path.write_bytes(b"")
    assert read_journal(path) is None


def test_only_torn_header_is_none(tmp_path):
    path = tmp_path / "cp.json"
    path.write_bytes(b'{"kind":"header","vers')
    assert read_journal(path) is None


def test_complete_marker(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")], complete=True)
    journal = read_journal(path)
    assert journal.complete is True
    assert list(journal.results) == ["alice@x.com"]


def test_torn_last_line_ignored(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    with open(path, "ab") as handle:
        handle.write(b'{"kind":"result","result":{"username":"bob@x.com","sta')
    journal = read_journal(path)
    assert list(journal.results) == ["alice@x.com"]


def test_torn_last_line_cut_before_next_append(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    with open(path, "ab") as handle:
        handle.write(b'{"kind":"result","result":{"username":"bob@x.com","sta')
    carol = row("carol@x.com", files=4, size=44)
    with CheckpointWriter(path, host=HOST, users=USERS, append=True) as writer:
        writer.record(carol)
    text = path.read_text(encoding="utf-8")
    assert '"sta{' not in text and not text.count('"username":"bob@x.com"')
    assert text.endswith("\n")
    for line in text.splitlines():
        json.loads(line)          # every line whole
    journal = read_journal(path)
    assert set(journal.results) == {"alice@x.com", "carol@x.com"}
    assert journal.results["carol@x.com"] == carol


def test_torn_multibyte_last_line_ignored(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    with open(path, "ab") as handle:
        handle.write('{"kind":"result","result":{"username":"zoë'.encode("utf-8")[:-1])
    assert list(read_journal(path).results) == ["alice@x.com"]


def test_damaged_middle_line_is_config_error(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com"), row("bob@x.com"), row("carol@x.com")])
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2][:25]          # bob's line cut short, later lines intact
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ConfigError, match="line 3"):
        read_journal(path)


def test_middle_line_of_json_that_is_not_a_record_is_config_error(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com"), row("bob@x.com")])
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"42"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ConfigError):
        read_journal(path)


def test_complete_garbage_last_line_does_not_break_the_next_resume(tmp_path):
    # The reader accepts a newline-terminated garbage last line as a torn tail; the
    # writer must then not leave it in the middle of the file when it appends.
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    with open(path, "ab") as handle:
        handle.write(b'{"kind":"result","resu\n')
    assert list(read_journal(path).results) == ["alice@x.com"]
    with CheckpointWriter(path, host=HOST, users=USERS, append=True) as writer:
        writer.record(row("bob@x.com"))
    journal = read_journal(path)
    assert set(journal.results) == {"alice@x.com", "bob@x.com"}


def test_not_a_checkpoint_file(tmp_path):
    path = tmp_path / "cp.json"
    path.write_text('{"kind":"something"}\n{"kind":"result"}\n', encoding="utf-8")
    with pytest.raises(ConfigError):
        read_journal(path)


def test_other_version_refused(tmp_path):
    path = tmp_path / "cp.json"
    path.write_text(json.dumps({"kind": "header", "version": 99, "host": HOST,
                                "users": USERS}) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        read_journal(path)


def test_check_resumable_same_run_ok(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    check_resumable(read_journal(path), path, HOST, USERS)


def test_check_resumable_refuses_other_host(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    with pytest.raises(ConfigError, match="other.example.com"):
        check_resumable(read_journal(path), path, "https://other.example.com", USERS)


def test_check_resumable_refuses_list_missing_users(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    with pytest.raises(ConfigError, match="1 of"):
        check_resumable(read_journal(path), path, HOST, ["alice@x.com", "bob@x.com"])


def test_check_resumable_accepts_grown_list(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    check_resumable(read_journal(path), path, HOST, USERS + ["dave@x.com"])


def test_grown_rewrites_header_keeps_results(tmp_path):
    path = tmp_path / "cp.json"
    a, b = row("alice@x.com"), row("bob@x.com", files=2, size=20)
    make(path, [a, b])
    grown_users = USERS + ["dave@x.com", "erin@x.com"]
    d = row("dave@x.com", files=5, size=50)
    with CheckpointWriter(path, host=HOST, users=grown_users, append=True,
                          grown=True) as writer:
        writer.record(d)
    journal = read_journal(path)
    assert journal.users == grown_users
    assert journal.results == {"alice@x.com": a, "bob@x.com": b, "dave@x.com": d}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["cp.json"]   # no temp file left
    check_resumable(journal, path, HOST, grown_users)


def test_append_without_grown_keeps_old_header(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    with CheckpointWriter(path, host=HOST, users=USERS, append=True) as writer:
        writer.record(row("bob@x.com"))
    text = path.read_text(encoding="utf-8")
    assert text.count('"kind":"header"') == 1


def test_new_writer_truncates_old_journal(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com"), row("bob@x.com")], complete=True)
    make(path, [row("carol@x.com")], users=["carol@x.com"])
    journal = read_journal(path)
    assert journal.users == ["carol@x.com"]
    assert list(journal.results) == ["carol@x.com"]
    assert journal.complete is False


def test_done_excludes_error_rows(tmp_path):
    path = tmp_path / "cp.json"
    ok = row("alice@x.com")
    empty = row("bob@x.com", status="empty", files=0, size=0)
    bad = row("carol@x.com", status="error", files=0, size=0, error="DBFS: 403 denied")
    make(path, [ok, empty, bad])
    journal = read_journal(path)
    assert journal.done() == {"alice@x.com": ok, "bob@x.com": empty}
    assert "carol@x.com" in journal.results


def test_error_row_replaced_by_later_success_counts_as_done(tmp_path):
    path = tmp_path / "cp.json"
    bad = row("alice@x.com", status="error", files=0, size=0, error="timeout")
    good = row("alice@x.com", files=3, size=30)
    make(path, [bad, good])
    assert read_journal(path).done() == {"alice@x.com": good}


def test_unicode_usernames_and_error_text_round_trip(tmp_path):
    path = tmp_path / "cp.json"
    weird = row("zoë@x.com", status="error", files=1, size=5,
                error='DBFS: 403 "denied",\nline two \u2028 sep')
    make(path, [weird], users=["zoë@x.com"])
    assert read_journal(path).results["zoë@x.com"] == weird


def test_no_token_in_journal(tmp_path):
    secret = "dapiSENTINEL0123456789abcdef"
    settings = resolve(workspace_url="ws.example.com", token=secret,
                       env={"DATABRICKS_CONFIG_FILE": str(tmp_path / "absent.cfg")})
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")], host=settings.host, complete=True)
    raw = path.read_bytes()
    assert secret.encode() not in raw
    assert b"dapi" not in raw
    assert read_journal(path).host == "https://ws.example.com"


# -- scope, record shapes, host case, the lock, set-aside journals --------------------------

FULL = {"sources": ["dbfs", "workspace"]}


def test_scope_recorded_and_a_resume_with_another_refused(tmp_path):
    path = tmp_path / "cp.json"
    with CheckpointWriter(path, host=HOST, users=USERS, scope={"sources": ["workspace"]}) as w:
        w.record(row("alice@x.com"))
    journal = read_journal(path)
    assert journal.scope == {"sources": ["workspace"]}
    check_resumable(journal, path, HOST, USERS, {"sources": ["workspace"]})
    with pytest.raises(ConfigError, match="sources=workspace, this run asks for "
                                          "sources=dbfs\\+workspace"):
        check_resumable(journal, path, HOST, USERS, FULL)


def test_same_host_in_other_letter_case_resumes(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    check_resumable(read_journal(path), path, "https://WS.Example.COM", USERS)


def test_same_users_in_another_order_resume(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")])
    check_resumable(read_journal(path), path, HOST, list(reversed(USERS)))


@pytest.mark.parametrize("result", [
    [],                                                     # not an object
    {"username": "alice@x.com"},                            # required fields missing
    {"username": "alice@x.com", "status": "success", "file_count": "7", "total_size": 1,
     "file_source": "dbfs", "error": ""},                   # a count that is text
    {"username": "alice@x.com", "status": "done", "file_count": 7, "total_size": 1,
     "file_source": "dbfs", "error": ""},                   # an unknown status
    {"username": "alice@x.com", "status": "success", "file_count": 7, "total_size": 1,
     "file_source": "dbfs", "error": None},                 # error that is not text
    {"username": "", "status": "success", "file_count": 7, "total_size": 1,
     "file_source": "dbfs", "error": ""},
    {"username": "alice@x.com", "status": "success", "file_count": True, "total_size": 1,
     "file_source": "dbfs", "error": ""},                   # a bool is not a count
])
def test_records_of_the_wrong_shape_are_refused_naming_the_line(tmp_path, result):
    path = tmp_path / "cp.json"
    make(path, [row("bob@x.com")])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"kind": "result", "result": result}) + "\n")
        handle.write(json.dumps({"kind": "complete"}) + "\n")
    with pytest.raises(ConfigError, match=f"{path} is damaged at line 3"):
        read_journal(path)


@pytest.mark.parametrize("header", [
    {"kind": "header", "version": 1, "host": 7, "users": []},
    {"kind": "header", "version": 1, "host": HOST, "users": "alice@x.com"},
    {"kind": "header", "version": 1, "host": HOST, "users": [1, 2]},
    {"kind": "header", "version": 1, "host": HOST, "users": [], "scope": []},
])
def test_header_of_the_wrong_shape_is_refused(tmp_path, header):
    path = tmp_path / "cp.json"
    path.write_text(json.dumps(header) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="damaged at line 1"):
        read_journal(path)


def test_unknown_record_kind_is_refused(tmp_path):
    path = tmp_path / "cp.json"
    make(path, [row("bob@x.com")])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"kind":"surprise"}\n{"kind":"complete"}\n')
    with pytest.raises(ConfigError, match="damaged at line 3"):
        read_journal(path)


def test_after_a_finish_transient_errors_are_rescanned_final_ones_kept(tmp_path):
    path = tmp_path / "cp.json"
    flaky = row("alice@x.com", status="error", files=0, size=0, error="DBFS: 503 (gave up)")
    flaky = UserResult(**{**flaky.to_dict(), "error_kind": "transient"})
    denied = UserResult(**{**row("bob@x.com", status="error", files=0, size=0,
                                 error="DBFS: 403").to_dict(), "error_kind": "final"})
    ok = row("carol@x.com")
    make(path, [flaky, denied, ok], complete=True)
    assert set(read_journal(path).done()) == {"bob@x.com", "carol@x.com"}
    make(path, [flaky, denied, ok], complete=False)  # unfinished: every error again
    assert set(read_journal(path).done()) == {"carol@x.com"}


def test_results_after_a_complete_marker_mean_unfinished(tmp_path):
    # A finished run resumed with a grown list, then killed: not finished any more.
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com")], complete=True)
    with CheckpointWriter(path, host=HOST, users=USERS, append=True) as writer:
        writer.record(row("bob@x.com"))
    assert read_journal(path).complete is False


def test_error_text_is_scrubbed_before_it_is_written(tmp_path):
    from dbx_inventory import scrub

    secret = "dapi-ECHOED-0123456789"
    scrub.remember(secret)
    path = tmp_path / "cp.json"
    make(path, [row("alice@x.com", status="error", error=f"500: header was Bearer {secret}")])
    assert secret not in path.read_text(encoding="utf-8")
    assert "Bearer ****" in read_journal(path).results["alice@x.com"].error


def test_lock_refuses_a_second_holder_naming_the_first(tmp_path):
    path = tmp_path / "cp.json"
    with CheckpointLock(path):
        with pytest.raises(CheckpointBusy, match=f"in use by process {os.getpid()}"):
            CheckpointLock(path).acquire()
    with CheckpointLock(path):  # released: free again
        pass
    assert not (tmp_path / "cp.json.lock").exists()


def test_lock_held_by_another_process_is_refused(tmp_path):
    path = tmp_path / "cp.json"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from dbx_inventory.outputs.checkpoint import CheckpointLock; "
         f"lock = CheckpointLock({str(path)!r}); lock.acquire(); print('held', flush=True); "
         "sys.stdin.read()"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CheckpointBusy, match=f"process {holder.pid}"):
            CheckpointLock(path).acquire()
    finally:
        holder.communicate("", timeout=30)
    with CheckpointLock(path):
        pass


def test_set_aside_never_overwrites_an_earlier_journal(tmp_path):
    path = tmp_path / "cp.json"
    contents = []
    for number in range(3):
        make(path, [row("alice@x.com", files=number + 1)])
        contents.append(path.read_bytes())
        aside = set_aside(path)
        assert not path.exists() and aside.startswith(f"{path}.prev-")
    kept = sorted(tmp_path.glob("cp.json.prev-*"))
    assert len(kept) == 3
    assert sorted(p.read_bytes() for p in kept) == sorted(contents)


def test_a_write_the_disk_cannot_take_is_an_error_naming_the_file(tmp_path):
    # The file size limit makes the kernel accept part of a line, then refuse the rest:
    # what a full disk does. (Python ignores SIGXFSZ, so the write just fails.)
    path = tmp_path / "cp.json"
    code = ("import resource, sys\n"
            "from dbx_inventory.outputs.checkpoint import CheckpointWriter\n"
            "from dbx_inventory.errors import JournalWriteError\n"
            "from dbx_inventory.scan.results import UserResult\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))\n"
            f"w = CheckpointWriter({str(path)!r}, host='h', users=['a'])\n"
            "try:\n"
            "    for n in range(50):\n"
            "        w.record(UserResult(f'u{n}', 'success', 1, 1, 'dbfs', ''))\n"
            "except JournalWriteError as exc:\n"
            "    print(exc, w.recorded)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    message, recorded = done.stdout.rsplit(" ", 1)
    assert f"cannot write the checkpoint {path}: File too large" == message
    assert path.stat().st_size == 600  # the last line was cut by the limit
    journal = read_journal(path)  # ... and is dropped as torn on the next read
    assert len(journal.results) == int(recorded)
