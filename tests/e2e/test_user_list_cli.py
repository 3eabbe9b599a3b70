"""databricks_user_list.py run as a user runs it, against the fake workspace over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from conftest import ROOT, TOKEN, clean_env
from helpers import closed_port
from fake_workspace import FakeWorkspaceServer, Workspace

SCRIPT = "databricks_user_list.py"
NAMES = ["alice@x.com", "zoë.ünal@x.com", "李雷@x.com", "o'neil+1@x.com",
         "bob smith@x.com", "rocket🚀@x.com", "carol@x.com"]
INACTIVE = {"李雷@x.com", "bob smith@x.com"}


def ws_with(names=NAMES, inactive=INACTIVE) -> Workspace:
    ws = Workspace()
    for name in names:
        ws.add_user(name, active=name not in inactive)
    return ws


def many(n: int) -> list[str]:
    return [f"user{i:03d}@x.com" if i % 5 else f"üser{i:03d}@例え.com" for i in range(n)]




def file_bytes(names: list[str]) -> bytes:
    return "".join(name + "\n" for name in names).encode("utf-8")


def assert_success(result, n: int) -> None:
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert "DATABRICKS USER LISTING" in lines
    assert f"Found {n} users" in lines
    assert "COMPLETED SUCCESSFULLY" in lines
    assert f"Users processed: {n}" in lines
    assert result.stderr == ""
    assert TOKEN not in result.output


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


# --- the output file ----------------------------------------------------------------

def test_writes_exact_file(serve, cli, tmp_path):
    server = serve(ws_with())
    result = cli(SCRIPT, "-o", "users.csv", server=server)
    assert_success(result, len(NAMES))
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(NAMES)
    assert f"✓ Saved {len(NAMES)} email addresses to: users.csv" in result.stdout
    assert f"Workspace: {server.url}" in result.stdout
    assert "COMPLETED SUCCESSFULLY" not in result.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".users.csv")] == []


def test_overwrites_existing_file_on_success(serve, cli, tmp_path):
    (tmp_path / "users.csv").write_text("old\nlines\nthat\nare\nlonger\n" * 20)
    server = serve(ws_with())
    result = cli(SCRIPT, "-o", "users.csv", server=server)
    assert_success(result, len(NAMES))
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(NAMES)


def test_short_scim_pages(serve, cli, tmp_path):
    names = many(40)
    server = serve(ws_with(names, set()), scim_max_page=3)
    result = cli(SCRIPT, "-o", "users.csv", server=server)
    assert_success(result, 40)
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(names)
    assert server.stats.by_endpoint["scim/Users"] == 15  # ceil(40 / 3), then an empty page


def test_rate_limited_with_retry_after_zero(serve, cli, tmp_path):
    names = many(30)
    # 10 pages; the bucket refills one request per 100 ms after a burst of 2
    server = serve(ws_with(names, set()), scim_max_page=3, rate_limit_per_s=10.0,
                   rate_limit_burst=2, retry_after="0")
    result = cli(SCRIPT, "-o", "users.csv", server=server, timeout=60)
    assert_success(result, 30)
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(names)
    assert server.stats.throttled >= 1


def test_transient_5xx(serve, cli, tmp_path):
    names = many(30)
    server = serve(ws_with(names, set()), scim_max_page=3, error_rate=0.3, retry_after="0")
    result = cli(SCRIPT, "-o", "users.csv", server=server, timeout=60)
    assert_success(result, 30)
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(names)
    assert server.stats.injected_5xx >= 1


def test_connection_resets(serve, cli, tmp_path):
    names = many(12)
    server = serve(ws_with(names, set()), scim_max_page=4, reset_rate=0.25)
    result = cli(SCRIPT, "-o", "users.csv", server=server, timeout=60)
    assert_success(result, 12)
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(names)


# --- flags --------------------------------------------------------------------------

def test_max_users(serve, cli, tmp_path):
    server = serve(ws_with(), scim_max_page=2)
    result = cli(SCRIPT, "-o", "users.csv", "--max-users", "3", server=server)
    assert_success(result, 3)
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(NAMES[:3])


def test_max_users_zero_means_all(serve, cli, tmp_path):
    server = serve(ws_with())
    result = cli(SCRIPT, "-o", "users.csv", "--max-users", "0", server=server)
    assert_success(result, len(NAMES))
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(NAMES)


def test_negative_max_users_is_usage_error(serve, cli, tmp_path):
    server = serve(ws_with())
    result = cli(SCRIPT, "-o", "users.csv", "--max-users", "-1", server=server)
    assert result.code == 2
    assert "--max-users" in one_error_line(result)
    assert not (tmp_path / "users.csv").exists()
    assert server.stats.total_requests == 0


def test_active_only(serve, cli, tmp_path):
    server = serve(ws_with(), scim_max_page=3)
    result = cli(SCRIPT, "-o", "users.csv", "--active-only", server=server)
    expected = ["alice@x.com", "zoë.ünal@x.com", "o'neil+1@x.com", "rocket🚀@x.com",
                "carol@x.com"]
    assert_success(result, 5)
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(expected)


def test_prints_numbered_list_without_output(serve, cli, tmp_path):
    server = serve(ws_with())
    result = cli(SCRIPT, server=server)
    assert_success(result, len(NAMES))
    lines = result.stdout.splitlines()
    expected = [f"    {i}. {name}" for i, name in enumerate(NAMES, 1)]
    start = lines.index(expected[0])
    assert lines[start:start + len(NAMES)] == expected
    assert "Output file: (printed above)" in lines
    assert list(tmp_path.iterdir()) == []


# --- settings -----------------------------------------------------------------------

def write_config(tmp_path, server_url: str):
    path = tmp_path / "databrickscfg"
    path.write_text(f"[DEFAULT]\nhost = http://127.0.0.1:{closed_port()}\n"
                    f"token = {TOKEN}-default\n\n"
                    f"[prod]\nhost = {server_url}\ntoken = {TOKEN}\n\n"
                    "[staging]\nhost = https://staging.example.com\n"
                    f"token = {TOKEN}-staging\n", encoding="utf-8")
    return str(path)


def test_profile_from_config_file(serve, cli, tmp_path):
    server = serve(ws_with())
    config = write_config(tmp_path, server.url)
    result = cli(SCRIPT, "--profile", "prod", "-o", "users.csv",
                 env={"DATABRICKS_CONFIG_FILE": config})
    assert_success(result, len(NAMES))
    assert "Using Databricks CLI configuration (profile: prod)" in result.stdout
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(NAMES)


def test_unknown_profile(cli, tmp_path):
    config = write_config(tmp_path, "https://prod.example.com")
    result = cli(SCRIPT, "--profile", "nope", "-o", "users.csv",
                 env={"DATABRICKS_CONFIG_FILE": config})
    assert result.code == 2
    line = one_error_line(result)
    assert "nope" in line
    for name in ("DEFAULT", "prod", "staging"):
        assert name in line
    assert TOKEN not in result.output
    assert "DATABRICKS USER LISTING" not in result.stdout
    assert not (tmp_path / "users.csv").exists()


def test_list_profiles_shows_hosts_not_tokens(cli, tmp_path):
    config = write_config(tmp_path, "https://prod.example.com")
    result = cli(SCRIPT, "--list-profiles", env={"DATABRICKS_CONFIG_FILE": config})
    assert result.code == 0, result.output
    for text in ("DEFAULT", "prod", "staging", "https://prod.example.com",
                 "https://staging.example.com"):
        assert text in result.stdout
    assert TOKEN not in result.output
    assert TOKEN[-8:] not in result.output


def test_no_host_is_usage_error(cli, tmp_path):
    result = cli(SCRIPT, "-o", "users.csv", env={"DATABRICKS_TOKEN": TOKEN})
    assert result.code == 2
    assert "workspace URL" in one_error_line(result)
    assert TOKEN not in result.output
    assert not (tmp_path / "users.csv").exists()


# --- failures -----------------------------------------------------------------------

def test_wrong_token(cli, tmp_path):
    with FakeWorkspaceServer(ws_with(), token="dapi-the-right-one-0000") as server:
        result = cli(SCRIPT, "-o", "users.csv",
                     env={"DATABRICKS_HOST": server.url, "DATABRICKS_TOKEN": TOKEN})
        requests_seen = server.stats.total_requests
    assert result.code == 1
    line = one_error_line(result)
    assert "401" in line and "token" in line
    assert TOKEN not in result.output
    assert "COMPLETED SUCCESSFULLY" not in result.stdout
    assert not (tmp_path / "users.csv").exists()
    assert requests_seen == 1  # 401 is never retried


def test_wrong_token_leaves_existing_file_untouched(cli, tmp_path):
    previous = "keep@x.com\nme@x.com\n"
    (tmp_path / "users.csv").write_text(previous, encoding="utf-8")
    with FakeWorkspaceServer(ws_with(), token="dapi-the-right-one-0000") as server:
        result = cli(SCRIPT, "-o", "users.csv", "--token", TOKEN, "--debug",
                     env={"DATABRICKS_HOST": server.url})
    assert result.code == 1
    assert TOKEN not in result.output
    assert (tmp_path / "users.csv").read_text(encoding="utf-8") == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.csv"]


def test_unreachable_host_fails_fast(cli, tmp_path):
    previous = "keep@x.com\n"
    (tmp_path / "users.csv").write_text(previous, encoding="utf-8")
    host = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = cli(SCRIPT, "-o", "users.csv", timeout=60,
                 env={"DATABRICKS_HOST": host, "DATABRICKS_TOKEN": TOKEN})
    assert time.monotonic() - started < 20
    assert result.code == 1
    assert host in one_error_line(result)
    assert TOKEN not in result.output
    assert (tmp_path / "users.csv").read_text(encoding="utf-8") == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.csv"]


def test_unwritable_output_is_one_line_error(serve, cli, tmp_path):
    server = serve(ws_with())
    result = cli(SCRIPT, "-o", "no-such-dir/users.csv", server=server)
    assert result.code == 1
    line = one_error_line(result)  # no traceback
    assert "no-such-dir" in line
    assert "COMPLETED SUCCESSFULLY" not in result.stdout
    assert not (tmp_path / "no-such-dir").exists()


def test_non_utf8_console_still_succeeds(serve, tmp_path):
    # stdout redirected on Windows is cp1252: the run must not die printing a symbol
    server = serve(ws_with())
    env = clean_env(tmp_path, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN,
                    PYTHONIOENCODING="cp1252")
    proc = subprocess.run([sys.executable, str(ROOT / SCRIPT), "-o", "users.csv"],
                          cwd=tmp_path, env=env, capture_output=True, timeout=60)
    stderr = proc.stderr.decode("cp1252", "replace")
    assert proc.returncode == 0, stderr
    assert "COMPLETED SUCCESSFULLY" in proc.stdout.decode("cp1252", "replace")
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(NAMES)


# --- the token never shows ----------------------------------------------------------

@pytest.mark.parametrize("extra", [[], ["--debug"], ["--debug", "--token", TOKEN]])
def test_token_never_printed_even_with_debug(serve, cli, tmp_path, extra):
    server = serve(ws_with(), scim_max_page=2, error_rate=0.3, retry_after="0")
    result = cli(SCRIPT, "-o", "users.csv", *extra, server=server, timeout=60)
    assert_success(result, len(NAMES))
    if "--debug" in extra:
        assert "[debug]" in result.stdout
    assert TOKEN not in result.output
    assert TOKEN[-12:] not in result.output
    assert (tmp_path / "users.csv").read_bytes() == file_bytes(NAMES)
