"""Settings: sources, precedence, config-file errors, host normalisation, token hiding."""

from __future__ import annotations

import importlib.util

import pytest

from dbx_inventory.errors import ConfigError
from dbx_inventory.transport.settings import (Settings, describe_profiles, mask_token,
                                              normalize_host, resolve)

FLAG_TOKEN = "dapiFLAG0000000000000001"
PROF_TOKEN = "dapiPROF0000000000000002"
ENV_TOKEN = "dapiENVV0000000000000003"
DEF_TOKEN = "dapiDEFT0000000000000004"


def write_cfg(tmp_path, text: str):
    path = tmp_path / "databrickscfg"
    path.write_text(text, encoding="utf-8")
    return path


def env_for(path, **extra) -> dict:
    env = {"DATABRICKS_CONFIG_FILE": str(path)}
    env.update(extra)
    return env


FULL_CFG = f"""
[DEFAULT]
host = https://default.example.com
token = {DEF_TOKEN}
cluster_id = cluster-default

[dev]
host = https://dev.example.com
token = {PROF_TOKEN}
cluster_id = cluster-dev
"""


# --- each source on its own ---------------------------------------------------------

def test_flags_alone(tmp_path):
    env = env_for(tmp_path / "absent.cfg")
    s = resolve(workspace_url="flag.example.com", token=FLAG_TOKEN, cluster_id="c-flag",
                env=env)
    assert (s.host, s.token, s.cluster_id) == ("https://flag.example.com", FLAG_TOKEN, "c-flag")
    assert s.source == "command line"


def test_environment_alone(tmp_path):
    env = env_for(tmp_path / "absent.cfg", DATABRICKS_HOST="env.example.com/",
                  DATABRICKS_TOKEN=ENV_TOKEN, DATABRICKS_CLUSTER_ID="c-env")
    s = resolve(env=env)
    assert (s.host, s.token, s.cluster_id) == ("https://env.example.com", ENV_TOKEN, "c-env")
    assert s.source == "environment"


def test_workspace_url_alias(tmp_path):
    env = env_for(tmp_path / "absent.cfg", DATABRICKS_WORKSPACE_URL="https://alias.example.com",
                  DATABRICKS_TOKEN=ENV_TOKEN)
    assert resolve(env=env).host == "https://alias.example.com"


def test_databricks_host_beats_workspace_url_alias(tmp_path):
    env = env_for(tmp_path / "absent.cfg", DATABRICKS_HOST="https://host.example.com",
                  DATABRICKS_WORKSPACE_URL="https://alias.example.com",
                  DATABRICKS_TOKEN=ENV_TOKEN)
    assert resolve(env=env).host == "https://host.example.com"


def test_default_section_alone(tmp_path):
    s = resolve(env=env_for(write_cfg(tmp_path, FULL_CFG)))
    assert (s.host, s.token, s.cluster_id) == ("https://default.example.com", DEF_TOKEN,
                                               "cluster-default")
    assert s.profile == "DEFAULT"
    assert s.source == "profile DEFAULT"


def test_named_profile_by_flag(tmp_path):
    s = resolve(profile="dev", env=env_for(write_cfg(tmp_path, FULL_CFG)))
    assert (s.host, s.token, s.cluster_id) == ("https://dev.example.com", PROF_TOKEN,
                                               "cluster-dev")
    assert s.profile == "dev"
    assert s.source == "profile dev"


def test_config_profile_env_selects_profile(tmp_path):
    env = env_for(write_cfg(tmp_path, FULL_CFG), DATABRICKS_CONFIG_PROFILE="dev")
    s = resolve(env=env)
    assert (s.host, s.token, s.profile) == ("https://dev.example.com", PROF_TOKEN, "dev")


def test_profile_flag_beats_config_profile_env(tmp_path):
    cfg = FULL_CFG + "\n[prod]\nhost = https://prod.example.com\ntoken = dapiPROD00000000000\n"
    env = env_for(write_cfg(tmp_path, cfg), DATABRICKS_CONFIG_PROFILE="dev")
    s = resolve(profile="prod", env=env)
    assert s.host == "https://prod.example.com"
    assert s.profile == "prod"


# --- precedence pairs, per key ------------------------------------------------------

PROFILE_ONLY = f"""
[dev]
host = https://dev.example.com
token = {PROF_TOKEN}
cluster_id = cluster-dev
"""

DEFAULT_ONLY = f"""
[DEFAULT]
host = https://default.example.com
token = {DEF_TOKEN}
cluster_id = cluster-default
"""


@pytest.mark.parametrize("key,flag_value,expected", [
    ("host", "https://flag.example.com", "https://flag.example.com"),
    ("token", FLAG_TOKEN, FLAG_TOKEN),
    ("cluster_id", "c-flag", "c-flag"),
])
def test_flag_beats_named_profile(tmp_path, key, flag_value, expected):
    flags = {"workspace_url" if key == "host" else key: flag_value}
    s = resolve(profile="dev", env=env_for(write_cfg(tmp_path, PROFILE_ONLY)), **flags)
    assert getattr(s, key) == expected


@pytest.mark.parametrize("key,expected", [
    ("host", "https://dev.example.com"),
    ("token", PROF_TOKEN),
    ("cluster_id", "cluster-dev"),
])
def test_named_profile_beats_env(tmp_path, key, expected):
    env = env_for(write_cfg(tmp_path, PROFILE_ONLY), DATABRICKS_HOST="https://env.example.com",
                  DATABRICKS_TOKEN=ENV_TOKEN, DATABRICKS_CLUSTER_ID="c-env")
    s = resolve(profile="dev", env=env)
    assert getattr(s, key) == expected


@pytest.mark.parametrize("key,expected", [
    ("host", "https://env.example.com"),
    ("token", ENV_TOKEN),
    ("cluster_id", "c-env"),
])
def test_env_beats_default_section(tmp_path, key, expected):
    env = env_for(write_cfg(tmp_path, DEFAULT_ONLY), DATABRICKS_HOST="https://env.example.com",
                  DATABRICKS_TOKEN=ENV_TOKEN, DATABRICKS_CLUSTER_ID="c-env")
    s = resolve(env=env)
    assert getattr(s, key) == expected


def test_flag_beats_env_and_default(tmp_path):
    env = env_for(write_cfg(tmp_path, DEFAULT_ONLY), DATABRICKS_HOST="https://env.example.com",
                  DATABRICKS_TOKEN=ENV_TOKEN, DATABRICKS_CLUSTER_ID="c-env")
    s = resolve(workspace_url="https://flag.example.com", token=FLAG_TOKEN,
                cluster_id="c-flag", env=env)
    assert (s.host, s.token, s.cluster_id) == ("https://flag.example.com", FLAG_TOKEN, "c-flag")
    assert s.source == "command line"


def test_keys_fill_in_from_lower_layers(tmp_path):
    cfg = "[dev]\nhost = https://dev.example.com\n"
    env = env_for(write_cfg(tmp_path, cfg), DATABRICKS_TOKEN=ENV_TOKEN)
    s = resolve(profile="dev", cluster_id="c-flag", env=env)
    assert (s.host, s.token, s.cluster_id) == ("https://dev.example.com", ENV_TOKEN, "c-flag")
    assert s.source == "profile dev"


# --- [DEFAULT] is not a fallback for a named profile ---------------------------------

def test_default_not_used_for_missing_token_of_named_profile(tmp_path):
    cfg = DEFAULT_ONLY + "\n[dev]\nhost = https://dev.example.com\n"
    with pytest.raises(ConfigError, match="token"):
        resolve(profile="dev", env=env_for(write_cfg(tmp_path, cfg)))


def test_default_not_used_for_cluster_or_host_of_named_profile(tmp_path):
    cfg = DEFAULT_ONLY + f"\n[dev]\nhost = https://dev.example.com\ntoken = {PROF_TOKEN}\n"
    s = resolve(profile="dev", env=env_for(write_cfg(tmp_path, cfg)))
    assert s.cluster_id is None
    assert s.token == PROF_TOKEN
    cfg2 = DEFAULT_ONLY + f"\n[dev]\ntoken = {PROF_TOKEN}\n"
    (tmp_path / "two").mkdir()
    with pytest.raises(ConfigError):
        resolve(profile="dev", env=env_for(write_cfg(tmp_path / "two", cfg2)))


def test_default_not_used_when_profile_named_by_env(tmp_path):
    cfg = DEFAULT_ONLY + "\n[dev]\nhost = https://dev.example.com\n"
    env = env_for(write_cfg(tmp_path, cfg), DATABRICKS_CONFIG_PROFILE="dev")
    with pytest.raises(ConfigError):
        resolve(env=env)


# --- errors -------------------------------------------------------------------------

def test_unknown_profile_names_existing_profiles(tmp_path):
    cfg = FULL_CFG + "\n[prod]\nhost = https://prod.example.com\ntoken = dapiPROD00000000000\n"
    with pytest.raises(ConfigError) as info:
        resolve(profile="staging", env=env_for(write_cfg(tmp_path, cfg)))
    text = str(info.value)
    assert "staging" in text
    assert "dev" in text and "prod" in text


def test_unknown_profile_from_env_is_an_error_not_a_fallback(tmp_path):
    env = env_for(write_cfg(tmp_path, FULL_CFG), DATABRICKS_CONFIG_PROFILE="nope")
    with pytest.raises(ConfigError, match="nope"):
        resolve(env=env)


def test_named_profile_without_config_file(tmp_path):
    env = env_for(tmp_path / "absent.cfg", DATABRICKS_HOST="https://env.example.com",
                  DATABRICKS_TOKEN=ENV_TOKEN)
    with pytest.raises(ConfigError, match="dev"):
        resolve(profile="dev", env=env)


@pytest.mark.parametrize("content", [
    b"host = https://x.example.com\ntoken = abc\n",              # no section header
    b"[dev]\nhost = a\n[dev]\nhost = b\n",                       # duplicate section
    b"[dev\nhost = a\n",                                         # broken header
    b"[dev]\nhost = https://x.example.com\n\xff\xfe\xfa bad\n",  # not UTF-8
])
def test_garbled_config_file(tmp_path, content):
    path = tmp_path / "cfg"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="config file"):
        resolve(env=env_for(path, DATABRICKS_HOST="h.example.com", DATABRICKS_TOKEN=ENV_TOKEN))


def test_unreadable_config_file(tmp_path):
    folder = tmp_path / "a_directory"
    folder.mkdir()
    with pytest.raises(ConfigError, match="config file"):
        resolve(env=env_for(folder, DATABRICKS_HOST="h.example.com", DATABRICKS_TOKEN=ENV_TOKEN))


def test_missing_host(tmp_path):
    env = env_for(tmp_path / "absent.cfg", DATABRICKS_TOKEN=ENV_TOKEN)
    with pytest.raises(ConfigError, match="workspace URL"):
        resolve(env=env)


def test_blank_host_values_count_as_missing(tmp_path):
    env = env_for(write_cfg(tmp_path, "[DEFAULT]\nhost =   \n"), DATABRICKS_HOST="",
                  DATABRICKS_TOKEN=ENV_TOKEN)
    with pytest.raises(ConfigError):
        resolve(workspace_url="  ", env=env)


def test_missing_token_without_oauth(tmp_path):
    env = env_for(tmp_path / "absent.cfg", DATABRICKS_HOST="https://env.example.com")
    with pytest.raises(ConfigError, match="token"):
        resolve(env=env)


def test_sdk_not_installed_in_venv():
    # The next test relies on this: without the SDK an OAuth profile must be refused.
    assert importlib.util.find_spec("databricks") is None


def test_oauth_profile_without_token_and_without_sdk(tmp_path):
    cfg = "[sso]\nhost = https://sso.example.com\nauth_type = databricks-cli\n"
    with pytest.raises(ConfigError) as info:
        resolve(profile="sso", env=env_for(write_cfg(tmp_path, cfg)))
    text = str(info.value)
    assert "sso" in text
    assert "no token" in text
    assert "auth_type" in text
    assert "databricks-sdk" in text


def test_token_with_percent_signs_survives(tmp_path):
    token = "dapi%ab%%cd%(host)s%"
    cfg = f"[dev]\nhost = https://dev.example.com\ntoken = {token}\n"
    s = resolve(profile="dev", env=env_for(write_cfg(tmp_path, cfg)))
    assert s.token == token
    assert s.credentials().headers() == {"Authorization": f"Bearer {token}"}


# --- normalize_host -----------------------------------------------------------------

@pytest.mark.parametrize("raw,expected", [
    ("adb-1.2.azuredatabricks.net", "https://adb-1.2.azuredatabricks.net"),
    ("  ws.example.com  ", "https://ws.example.com"),
    ("https://ws.example.com/", "https://ws.example.com"),
    ("https://ws.example.com///", "https://ws.example.com"),
    ("https://ws.example.com/some/path/?o=123#frag", "https://ws.example.com"),
    ("ws.example.com/?o=42", "https://ws.example.com"),
    ("http://localhost:8080/", "http://localhost:8080"),
    ("http://127.0.0.1:5000/api", "http://127.0.0.1:5000"),
    ("HTTPS://ws.example.com", "https://ws.example.com"),
])
def test_normalize_host(raw, expected):
    assert normalize_host(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "https://", "ftp://ws.example.com",
                                 "file:///etc/passwd", "://", "http:///path-only"])
def test_normalize_host_rejects_garbage(raw):
    with pytest.raises(ConfigError):
        normalize_host(raw)


def test_normalize_host_rejects_spaces_inside_host():
    with pytest.raises(ConfigError):
        normalize_host("not a url")


def test_normalize_host_rejects_non_numeric_port():
    with pytest.raises(ConfigError):
        normalize_host("ws.example.com:abc")


def test_http_host_not_doubled(tmp_path):
    env = env_for(tmp_path / "absent.cfg", DATABRICKS_HOST="http://localhost:9999/",
                  DATABRICKS_TOKEN=ENV_TOKEN)
    assert resolve(env=env).host == "http://localhost:9999"


# --- token hiding -------------------------------------------------------------------

@pytest.mark.parametrize("token,expected", [
    (None, "(none)"),
    ("", "(none)"),
    ("abc", "****"),
    ("abcdefghijk", "****"),         # 11 chars: nothing shown
    ("abcdefghijkl", "****ijkl"),    # 12 chars: last four
    ("dapi0123456789abcdef", "****cdef"),
])
def test_mask_token(token, expected):
    assert mask_token(token) == expected


@pytest.mark.parametrize("length", range(1, 60))
def test_mask_token_never_reveals_more_than_four(length):
    token = "".join(chr(ord("a") + i % 26) for i in range(length))
    shown = mask_token(token).replace("*", "")
    assert len(shown) <= 4
    assert token.endswith(shown)


def test_settings_repr_hides_token(tmp_path):
    secret = "dapiSECRETSECRET12345678"
    s = Settings(host="https://x.example.com", token=secret, cluster_id="c1")
    assert secret not in repr(s)
    assert secret not in str(s)
    assert "5678" not in repr(s)
    resolved = resolve(token=secret, workspace_url="x.example.com",
                       env=env_for(tmp_path / "absent.cfg"))
    assert secret not in repr(resolved)


def test_describe_profiles_lists_hosts_marks_default_and_hides_tokens(tmp_path):
    cfg = FULL_CFG + ("\n[sso]\nhost = https://sso.example.com\nauth_type = azure-cli\n"
                      "client_secret = SUPERSECRETCLIENT\n")
    lines = describe_profiles(env=env_for(write_cfg(tmp_path, cfg)))
    text = "\n".join(lines)
    for secret in (DEF_TOKEN, PROF_TOKEN, "SUPERSECRETCLIENT"):
        assert secret not in text
        assert secret[-8:] not in text
    assert "  DEFAULT (default): https://default.example.com [token, cluster cluster-default]" \
        in lines
    assert "  dev: https://dev.example.com [token, cluster cluster-dev]" in lines
    assert "  sso: https://sso.example.com [azure-cli]" in lines


def test_describe_profiles_marks_env_selected_profile(tmp_path):
    env = env_for(write_cfg(tmp_path, FULL_CFG), DATABRICKS_CONFIG_PROFILE="dev")
    lines = describe_profiles(env=env)
    assert any(line.startswith("  dev (default):") for line in lines)
    assert not any(line.startswith("  DEFAULT (default)") for line in lines)


def test_describe_profiles_without_file(tmp_path):
    path = tmp_path / "absent.cfg"
    assert describe_profiles(env=env_for(path)) == [f"No profiles in {path}"]


def test_real_home_config_not_read(tmp_path, monkeypatch):
    # A poisoned HOME: if resolve looked at ~/.databrickscfg it would find this host.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".databrickscfg").write_text("[DEFAULT]\nhost = https://home.example.com\n"
                                         "token = dapiHOME000000000000\n")
    monkeypatch.setenv("HOME", str(home))
    env = env_for(tmp_path / "absent.cfg")
    with pytest.raises(ConfigError):
        resolve(env=env)


# --- OAuth client credentials (M2M) -------------------------------------------------

CLIENT_SECRET = "dose-SETTINGS-SECRET-5e4d"
M2M_CFG = f"""
[sp]
host = https://sp.example.com
client_id = id-profile
client_secret = {CLIENT_SECRET}
"""


def test_client_credentials_from_each_source_in_order(tmp_path):
    cfg = write_cfg(tmp_path, M2M_CFG + "\n[DEFAULT]\nhost = https://d.example.com\n"
                    "client_id = id-default\nclient_secret = s-default\n")
    env = env_for(cfg, DATABRICKS_CLIENT_ID="id-env", DATABRICKS_CLIENT_SECRET="s-env")
    assert resolve(profile="sp", client_id="id-flag", client_secret="s-flag",
                   env=env).client_id == "id-flag"
    s = resolve(profile="sp", env=env)
    assert (s.auth, s.client_id, s.client_secret) == ("oauth-m2m", "id-profile", CLIENT_SECRET)
    s = resolve(workspace_url="w.example.com", env=env_for(tmp_path / "absent.cfg",
                DATABRICKS_CLIENT_ID="id-env", DATABRICKS_CLIENT_SECRET="s-env"))
    assert (s.auth, s.client_id, s.client_secret) == ("oauth-m2m", "id-env", "s-env")
    s = resolve(env=env)  # no profile named: the environment beats [DEFAULT]
    assert (s.client_id, s.client_secret, s.host) == ("id-env", "s-env", "https://d.example.com")
    s = resolve(env=env_for(cfg))
    assert (s.client_id, s.client_secret) == ("id-default", "s-default")


def test_a_token_wins_over_client_credentials_without_an_auth_type(tmp_path):
    env = env_for(write_cfg(tmp_path, M2M_CFG), DATABRICKS_TOKEN=ENV_TOKEN)
    s = resolve(profile="sp", env=env)
    assert s.auth == "pat"
    assert s.credentials().headers() == {"Authorization": f"Bearer {ENV_TOKEN}"}


@pytest.mark.parametrize("where", ["profile", "environment"])
def test_auth_type_oauth_m2m_picks_client_credentials_over_a_token(tmp_path, where):
    cfg = M2M_CFG + ("auth_type = oauth-m2m\n" if where == "profile" else "")
    extra = {"DATABRICKS_AUTH_TYPE": "oauth-m2m"} if where == "environment" else {}
    env = env_for(write_cfg(tmp_path, cfg), DATABRICKS_TOKEN=ENV_TOKEN, **extra)
    s = resolve(profile="sp", env=env)
    assert s.auth == "oauth-m2m"
    creds = s.credentials()
    assert creds.describe() == "OAuth client credentials"


def test_auth_type_pat_picks_the_token(tmp_path):
    env = env_for(write_cfg(tmp_path, M2M_CFG + "auth_type = oauth-m2m\n"),
                  DATABRICKS_TOKEN=ENV_TOKEN, DATABRICKS_AUTH_TYPE="pat")
    # The profile's auth_type comes first in the settings order.
    assert resolve(profile="sp", env=env).auth == "oauth-m2m"
    env = env_for(write_cfg(tmp_path, M2M_CFG), DATABRICKS_TOKEN=ENV_TOKEN,
                  DATABRICKS_AUTH_TYPE="pat")
    assert resolve(profile="sp", env=env).auth == "pat"


@pytest.mark.parametrize("given,missing", [({"client_id": "an-id"}, "client_secret"),
                                           ({"client_secret": "a-secret"}, "client_id")])
def test_half_of_the_client_credentials_is_a_clear_error(tmp_path, given, missing):
    with pytest.raises(ConfigError, match=f"OAuth client credentials without a {missing}"):
        resolve(workspace_url="w.example.com", env=env_for(tmp_path / "absent.cfg"), **given)


def test_auth_type_oauth_m2m_without_client_credentials(tmp_path):
    env = env_for(tmp_path / "absent.cfg", DATABRICKS_AUTH_TYPE="oauth-m2m",
                  DATABRICKS_TOKEN=ENV_TOKEN)
    with pytest.raises(ConfigError, match="client_id"):
        resolve(workspace_url="w.example.com", env=env)


def test_client_secret_hidden_from_repr_and_profile_list(tmp_path):
    env = env_for(write_cfg(tmp_path, M2M_CFG))
    s = resolve(profile="sp", env=env)
    assert CLIENT_SECRET not in repr(s) and CLIENT_SECRET not in repr(s.credentials())
    lines = describe_profiles(env=env)
    assert "  sp: https://sp.example.com [oauth-m2m]" in lines
    assert CLIENT_SECRET not in "\n".join(lines)


def test_config_file_with_a_utf8_byte_order_mark(tmp_path):
    # Notepad saves UTF-8 with a BOM; configparser alone then finds "no section headers".
    path = tmp_path / "databrickscfg"
    path.write_bytes(b"\xef\xbb\xbf" + FULL_CFG.lstrip().encode("utf-8"))
    settings = resolve(profile="dev", env=env_for(path))
    assert (settings.host, settings.token) == ("https://dev.example.com", PROF_TOKEN)
