"""OAuth M2M end to end, local mode: both tools as subprocesses against the fake
workspace with short-lived tokens; exact results across renewals; a wrong secret is one
line and no file; the secret and tokens show nowhere."""

from __future__ import annotations

import pytest

from conftest import ROOT
from helpers import csv_rows, expected_rows, users_file
from fake_workspace import generate_workspace

FILES = "databricks_user_files_simple.py"
USERS = "databricks_user_list.py"
CLIENT_ID = "5f1e-sp-inventory"
SECRET = "dose-M2M-SECRET-3c2b1a09"


def m2m_env(server, **extra) -> dict[str, str]:
    env = {"DATABRICKS_HOST": server.url, "DATABRICKS_CLIENT_ID": CLIENT_ID,
           "DATABRICKS_CLIENT_SECRET": SECRET}
    env.update(extra)
    return env


def test_tokens_expiring_mid_scan_give_exact_results(cli, serve, tmp_path):
    ws = generate_workspace(24, seed=11)
    # ~0.02 s a request, one request in flight at a time: the scan outlives many tokens.
    server = serve(ws, latency_s=0.02)
    server.oauth.register(CLIENT_ID, SECRET)
    server.oauth.lifetime_s = 1
    names = users_file(tmp_path, ws)
    result = cli(FILES, "--users-file", "users.txt", "--concurrency", "2", "--debug",
                 "--extended", env=m2m_env(server))
    assert result.code == 0, result.output
    assert csv_rows(tmp_path / "results.csv") == expected_rows(ws, names)
    assert server.oauth.minted >= 4, "tokens should have been renewed mid-scan"
    assert server.oauth.expired_used == 0  # renewed ahead of expiry, not after a 401
    kept = [result.output, (tmp_path / "results.csv").read_text("utf-8")]
    kept += [p.read_text("utf-8") for p in tmp_path.glob(".checkpoint_progress.json*")]
    for text in kept:
        assert SECRET not in text and "eyJfake." not in text


def test_wrong_secret_is_one_line_exit_1_and_no_output(cli, serve, tmp_path):
    ws = generate_workspace(3, seed=2)
    server = serve(ws)
    server.oauth.register(CLIENT_ID, "the-real-secret-0000")
    users_file(tmp_path, ws)
    result = cli(FILES, "--users-file", "users.txt", "--debug", env=m2m_env(server))
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "OAuth client credentials" in lines[0] and server.url in lines[0]
    assert SECRET not in result.output and "the-real-secret" not in result.output
    assert not (tmp_path / "results.csv").exists()


def test_client_credentials_by_flag_for_the_user_list(cli, serve, tmp_path):
    ws = generate_workspace(5, seed=3)
    server = serve(ws)
    server.oauth.register(CLIENT_ID, SECRET)
    result = cli(USERS, "--workspace-url", server.url, "--client-id", CLIENT_ID,
                 "--client-secret", SECRET, "-o", "users.csv", "--debug")
    assert result.code == 0, result.output
    listed = (tmp_path / "users.csv").read_text("utf-8").split()
    assert listed == [u.user_name for u in ws.users]
    assert server.oauth.minted == 1
    assert SECRET not in result.output


def test_auth_type_in_profile_picks_m2m_over_a_token(cli, serve, tmp_path):
    ws = generate_workspace(2, seed=4)
    server = serve(ws)
    server.oauth.register(CLIENT_ID, SECRET)
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(f"[sp]\nhost = {server.url}\ntoken = dapi-not-this-one\n"
                   f"auth_type = oauth-m2m\nclient_id = {CLIENT_ID}\n"
                   f"client_secret = {SECRET}\n", encoding="utf-8")
    result = cli(USERS, "--profile", "sp", env={"DATABRICKS_CONFIG_FILE": str(cfg)})
    assert result.code == 0, result.output
    assert server.oauth.minted == 1


@pytest.mark.parametrize("script", [FILES, USERS])
def test_version_from_a_checkout(cli, script):
    from dbx_inventory import __version__

    result = cli(script, "--version")
    assert result.code == 0
    assert result.stdout.strip() == f"dbx-workspace-inventory {__version__}"
    assert (ROOT / script).exists()


@pytest.mark.parametrize("module", ["cli.files", "cli.users"])
def test_help_documents_the_oauth_sources_and_their_order(module):
    import importlib

    text = " ".join(importlib.import_module(f"dbx_inventory.{module}").build_parser()
                    .format_help().split())
    order = ["these flags", "--profile or DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID",
             "DATABRICKS_CLIENT_SECRET", "DATABRICKS_AUTH_TYPE", "the [DEFAULT] profile"]
    assert [text.index(part) for part in order] == sorted(text.index(p) for p in order)
    assert "--client-id" in text and "--client-secret" in text
    assert "unless the auth type" in text and "oauth-m2m" in text
    assert text.count("flags show in ps") == 2  # --token and --client-secret
