"""Where the workspace URL, credentials and cluster id come from, resolved once.

Each key is looked up in this order, first hit wins:
  1. command-line flags (--workspace-url, --token, --client-id, --client-secret,
     --cluster-id)
  2. the profile named by --profile, else by DATABRICKS_CONFIG_PROFILE
  3. environment: DATABRICKS_HOST (alias DATABRICKS_WORKSPACE_URL), DATABRICKS_TOKEN,
     DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET, DATABRICKS_AUTH_TYPE,
     DATABRICKS_CLUSTER_ID
  4. the default profile of the config file: the one `[__settings__] default_profile`
     names (the Databricks CLI writes it), else [DEFAULT]
The config file is DATABRICKS_CONFIG_FILE, else ~/.databrickscfg. `__settings__` is
not a profile. A token (or client secret) from the default profile is never sent to a
host from another source: when the host came from elsewhere and the default profile
names another host, resolve() refuses (the SDK and CLI no longer fall back to it).

Which credentials: an auth type of `pat` or `oauth-m2m` (profile `auth_type`,
DATABRICKS_AUTH_TYPE) chooses; otherwise a token wins over client credentials (as in
the Databricks CLI); with neither, profiles of other auth types go through databricks-sdk.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

from dbx_inventory.transport.auth import Credentials, OAuthM2M, SdkCredentials, StaticToken
from dbx_inventory.errors import ConfigError

DEFAULT_SECTION = "DEFAULT"
SETTINGS_SECTION = "__settings__"  # the CLI's own settings: default_profile = NAME
_HOSTNAME = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+")
_OAUTH_KEYS = ("auth_type", "client_id", "client_secret", "azure_client_id",
               "google_service_account", "username", "metadata_service_url")
PAT, M2M = "pat", "oauth-m2m"  # the auth types this project signs in with itself


def mask_token(token: str | None) -> str:
    """How a token may be shown: its last four characters at most."""
    if not token:
        return "(none)"
    return f"****{token[-4:]}" if len(token) >= 12 else "****"


def normalize_host(raw: str) -> str:
    """scheme://host[:port] with https:// added when no scheme, http:// kept, paths dropped."""
    text = raw.strip()
    if not text:
        raise ConfigError("the workspace URL is empty")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 \
            or not _HOSTNAME.fullmatch(parts.hostname):
        raise ConfigError(f"not a workspace URL: {raw.strip()!r}")
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def config_file_path(env: Mapping[str, str]) -> Path:
    """The Databricks config file these settings read."""
    override = env.get("DATABRICKS_CONFIG_FILE")
    return Path(override).expanduser() if override else Path("~/.databrickscfg").expanduser()


@dataclass(frozen=True)
class Profiles:
    """The profiles of one config file (sections plus [DEFAULT])."""

    path: Path
    sections: dict[str, dict[str, str]]
    default_profile: str | None = None   # [__settings__] default_profile

    @classmethod
    def load(cls, path: Path) -> "Profiles":
        if not path.exists():
            return cls(path, {})
        # No interpolation: tokens may contain '%'. DEFAULT kept apart from sections,
        # so a named profile never silently inherits another workspace's token.
        parser = configparser.RawConfigParser(default_section="\x00none")
        try:
            with open(path, encoding="utf-8-sig") as handle:  # Notepad adds a BOM
                parser.read_file(handle)
        except (OSError, UnicodeDecodeError, configparser.Error) as exc:
            reason = str(exc).splitlines()[0]
            raise ConfigError(f"cannot read config file {path}: {reason}") from None
        sections = {name: dict(parser.items(name)) for name in parser.sections()}
        settings = sections.pop(SETTINGS_SECTION, {})
        return cls(path, sections, (settings.get("default_profile") or "").strip() or None)

    def default_name(self) -> str:
        """The profile used when none is named; ConfigError when it names none."""
        name = self.default_profile
        if name is None:
            return DEFAULT_SECTION
        if name not in self.sections:
            raise ConfigError(f"[{SETTINGS_SECTION}] default_profile = {name} in "
                              f"{self.path} names no profile (profiles: "
                              f"{', '.join(self.names()) or 'none'})")
        return name

    def names(self) -> list[str]:
        return list(self.sections)

    def get(self, name: str) -> dict[str, str]:
        if name not in self.sections:
            known = ", ".join(self.names()) or "none"
            raise ConfigError(f"profile {name!r} not found in {self.path} (profiles: {known})")
        return self.sections[name]


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings. Token and client secret never show in repr.

    `auth` is the chosen sign-in: "pat", "oauth-m2m", or another auth type that
    databricks-sdk handles through `header_factory`.
    """

    host: str
    token: str | None = field(default=None, repr=False)
    cluster_id: str | None = None
    profile: str | None = None
    source: str = ""  # where the host came from ("profile PROD", "environment", ...)
    token_source: str = ""  # where the token (or the sign-in) came from, same words
    auth: str = PAT
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    cluster_source: str = ""  # where cluster_id came from: only "command line" runs Spark
    # For other auth types when databricks-sdk is installed: returns auth headers.
    header_factory: Callable[[], Mapping[str, str]] | None = field(
        default=None, repr=False, compare=False)

    def credentials(self) -> Credentials:
        """The credentials object of this run: build it once, share it with every client."""
        if self.auth == M2M and self.client_id and self.client_secret:
            return OAuthM2M(self.host, self.client_id, self.client_secret)
        if self.header_factory is not None:
            return SdkCredentials(self.header_factory, self.auth)
        return StaticToken(self.token or "")


def resolve(*, workspace_url: str | None = None, token: str | None = None,
            cluster_id: str | None = None, profile: str | None = None,
            client_id: str | None = None, client_secret: str | None = None,
            env: Mapping[str, str] | None = None) -> Settings:
    """Settings from flags, profile, environment and [DEFAULT], in that order per key."""
    env = os.environ if env is None else env
    profiles = Profiles.load(config_file_path(env))
    profile_name = profile or env.get("DATABRICKS_CONFIG_PROFILE") or None
    named = profiles.get(profile_name) if profile_name else {}
    default_name = profiles.default_name() if not profile_name else DEFAULT_SECTION
    default = profiles.sections.get(default_name, {}) if not profile_name else {}
    layers: list[tuple[str, Mapping[str, str | None]]] = [
        ("command line", {"host": workspace_url, "token": token, "cluster_id": cluster_id,
                          "client_id": client_id, "client_secret": client_secret}),
        (f"profile {profile_name}", named),
        ("environment", {"host": env.get("DATABRICKS_HOST") or env.get("DATABRICKS_WORKSPACE_URL"),
                         "token": env.get("DATABRICKS_TOKEN"),
                         "client_id": env.get("DATABRICKS_CLIENT_ID"),
                         "client_secret": env.get("DATABRICKS_CLIENT_SECRET"),
                         "auth_type": env.get("DATABRICKS_AUTH_TYPE"),
                         "cluster_id": env.get("DATABRICKS_CLUSTER_ID")}),
        (f"profile {default_name}", default),
    ]

    def pick(key: str) -> tuple[str | None, str | None]:
        for origin, values in layers:
            value = (values.get(key) or "").strip()
            if value:
                return value, origin
        return None, None

    host, host_origin = pick("host")
    if not host:
        raise ConfigError("no workspace URL: pass --workspace-url, set DATABRICKS_HOST, "
                          f"or add a profile to {profiles.path}")
    tok, token_origin = pick("token")
    cid, cid_origin = pick("cluster_id")
    client, client_origin = pick("client_id")
    secret, _ = pick("client_secret")
    auth_type = (pick("auth_type")[0] or "").lower()
    auth = _choose_auth(auth_type, tok, client, secret, profiles.path)
    if auth == M2M:
        token_origin = client_origin  # the sign-in came from the client credentials
    if token_origin == f"profile {default_name}" and host_origin != token_origin \
            and not profile_name:
        _same_host(host, host_origin or "", default, default_name, profiles.path)
    chosen = profile_name or (default_name if default else None)
    factory = None
    if auth not in (PAT, M2M):
        factory = _sdk_headers(profile_name or default_name,
                               named or default, profiles.path)
        token_origin = f"profile {profile_name or default_name}"
    return Settings(host=normalize_host(host), token=tok, cluster_id=cid, profile=chosen,
                    source=host_origin or "", token_source=token_origin or "", auth=auth,
                    client_id=client, client_secret=secret, header_factory=factory,
                    cluster_source=cid_origin or "")


def _same_host(host: str, origin: str, default: Mapping[str, str], name: str,
               path: Path) -> None:
    """Refuse a default profile's credentials for a host from another source."""
    own = (default.get("host") or "").strip()
    if own and normalize_host(own) != normalize_host(host):
        raise ConfigError(f"the workspace URL comes from the {origin} ({normalize_host(host)}) "
                          f"but the credentials from profile [{name}] of {path}, which is "
                          f"for {normalize_host(own)}: a token is only sent to its own "
                          "host; give the credentials for that workspace (e.g. "
                          "DATABRICKS_TOKEN) or name a profile with --profile")


def _choose_auth(auth_type: str, token: str | None, client_id: str | None,
                 secret: str | None, path: Path) -> str:
    """pat, oauth-m2m, or another auth type (then databricks-sdk signs in)."""
    if auth_type == PAT or (token and auth_type != M2M):
        if not token:
            raise ConfigError("auth type pat needs a token: pass --token, set "
                              f"DATABRICKS_TOKEN, or add token = ... to a profile in {path}")
        return PAT
    if auth_type == M2M or (not auth_type and (client_id or secret)):
        for value, key, flag in ((client_id, "client_id", "--client-id"),
                                 (secret, "client_secret", "--client-secret")):
            if not value:
                raise ConfigError(f"OAuth client credentials without a {key}: pass {flag}, "
                                  f"set DATABRICKS_{key.upper()}, or add {key} = ... to a "
                                  f"profile in {path}")
        return M2M
    return auth_type or "sdk"


def _sdk_headers(profile: str, section: Mapping[str, str], path: Path):
    """Auth headers from databricks-sdk for token-less (OAuth) profiles, if installed."""
    oauth = [key for key in _OAUTH_KEYS if section.get(key)]
    if not oauth:
        raise ConfigError("no token or client credentials: pass --token (or --client-id "
                          "and --client-secret), set DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID "
                          "and DATABRICKS_CLIENT_SECRET), or add token = ... to a profile "
                          f"in {path}")
    try:
        from databricks.sdk.core import Config  # optional dependency
    except ImportError:
        raise ConfigError(f"profile {profile!r} has no token (it uses {', '.join(oauth)}); "
                          "add a personal access token, or pip install databricks-sdk "
                          "to use that sign-in method") from None
    try:
        config = Config(profile=profile, config_file=str(path))
        provider = config.authenticate
        provider()  # fail now, not mid-scan
    except Exception as exc:  # the SDK raises many types; one line is enough here
        raise ConfigError(f"profile {profile!r}: databricks-sdk could not sign in: "
                          f"{str(exc).splitlines()[0]}") from None
    return provider


def describe_profiles(env: Mapping[str, str] | None = None) -> list[str]:
    """Lines for --list-profiles: names and hosts, never tokens."""
    env = os.environ if env is None else env
    profiles = Profiles.load(config_file_path(env))
    if not profiles.sections:
        return [f"No profiles in {profiles.path}"]
    default = env.get("DATABRICKS_CONFIG_PROFILE") or profiles.default_profile \
        or DEFAULT_SECTION
    lines = [f"Profiles in {profiles.path}:"]
    for name, values in profiles.sections.items():
        mark = " (default)" if name == default else ""
        m2m = M2M if values.get("client_id") and values.get("client_secret") else None
        auth = "token" if values.get("token") else (values.get("auth_type") or m2m
                                                    or "no token")
        host = values.get("host") or "(no host)"
        cluster = f", cluster {values['cluster_id']}" if values.get("cluster_id") else ""
        lines.append(f"  {name}{mark}: {host} [{auth}{cluster}]")
    return lines
