"""Test helpers shared by several test files (fixtures live in conftest.py)."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from localspark import free_port as closed_port  # a port nothing listens on  # noqa: F401


def expected_rows(ws, names):
    """CSV columns a perfect scan gives, from the fake workspace's ground truth
    (the error column as a flag: its text is the tool's own)."""
    rows = []
    for name in names:
        t = ws.truth(name)
        files = t.dbfs_files + t.workspace_files
        no_home = not t.dbfs_home_exists and not t.workspace_home_exists
        error = bool(t.forbidden_dirs or t.bad_path_dirs or no_home)
        source = ("both" if t.dbfs_files and t.workspace_files else "dbfs" if t.dbfs_files
                  else "workspace" if t.workspace_files else "none")
        if no_home:
            source = "unknown"
        status = "error" if error else "success" if files else "empty"
        rows.append((name, str(files), str(t.dbfs_bytes + t.workspace_bytes), status, source,
                     error))
    return rows


def csv_rows(path: Path):
    """The CSV in the shape of expected_rows."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [(r["username"], r["file_count"], r["total_size"], r["status"],
                 r["file_source"], bool(r["error"])) for r in csv.DictReader(handle)]


def users_file(tmp_path: Path, ws) -> list[str]:
    """Write the workspace's users to tmp_path/users.txt; returns them in order."""
    names = [u.user_name for u in ws.users]
    (tmp_path / "users.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return names


def journal_records(path: Path) -> list[dict]:
    """Every readable record of a checkpoint journal, in order (torn lines skipped)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_bytes().split(b"\n"):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # blank, or torn by a kill
        if isinstance(record, dict):
            records.append(record)
    return records


def saved_results(folder: Path) -> list[dict]:
    """The rows a run in folder has saved to its default checkpoint journal, in order."""
    return [r["result"] for r in journal_records(folder / ".checkpoint_progress.json")
            if r["kind"] == "result"]


def wait_until(condition, proc: subprocess.Popen, what: str) -> None:
    """Until condition() holds; fails if the run ends first (60 s is only a safety net)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended (exit {proc.returncode}) before {what}")
        time.sleep(0.05)
    pytest.fail(f"no {what} within 60 s")


def kill_9_when(condition, proc: subprocess.Popen, what: str) -> None:
    """SIGKILL a run (held open by the test) once condition() holds."""
    try:
        wait_until(condition, proc, what)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def interruptible() -> None:
    """preexec_fn for a run a test sends SIGINT to: Ctrl-C's default, as in a terminal.
    A shell starts a background job with SIGINT ignored, a child keeps SIG_IGN across
    exec, and Popen's restore_signals resets only SIGPIPE, SIGXFZ and SIGXFSZ."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
