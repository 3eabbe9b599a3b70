"""Credentials asked per request: a personal access token, or OAuth M2M renewed in time.

ApiClient asks `headers()` before every request, so a token renewed mid-run is used
from the next request on, by every thread. OAuthM2M keeps databricks-sdk's timing: a
token counts as expired 40 s before its expiry, and once less than
min(lifetime / 2, 20 min) is left, the first caller renews it while every other thread
keeps using the still-valid one. Only a token that is really expired makes callers wait.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol
from urllib.parse import urlsplit

import requests

from dbx_inventory import scrub
from dbx_inventory.clock import Clock
from dbx_inventory.errors import OAuthFailed
from dbx_inventory.transport.retry import RetryPolicy

log = logging.getLogger("dbx_inventory.transport.auth")

SCOPE = "all-apis"
METADATA_PATH = "/oidc/.well-known/oauth-authorization-server"
FALLBACK_TOKEN_PATH = "/oidc/v1/token"
EXPIRY_MARGIN_S = 40.0       # a token this close to its expiry is not sent any more
MAX_STALE_S = 20 * 60.0      # renew early once less than min(lifetime / 2, this) is left
DEFAULT_LIFETIME_S = 3600.0  # when the token endpoint does not say
EARLY_RETRY_S = 10.0         # a failed early renewal is tried again after this long
TIMEOUT = (10.0, 30.0)       # connect, read: the token endpoint answers fast or not at all
TOKEN_RETRY = RetryPolicy(attempts=4, base_delay=1.0, max_delay=8.0, max_retry_after=30.0)


class Credentials(Protocol):
    """What ApiClient asks, per request, for authentication."""

    def headers(self) -> dict[str, str]:
        """The auth headers to send now (thread-safe; renews ahead of expiry)."""
        ...

    def renew_after_401(self, used: Mapping[str, str]) -> bool:
        """After a 401 on `used`: True when a retry with headers() may succeed."""
        ...

    def access_token(self) -> tuple[str, float | None]:
        """The current bearer token and its expiry (epoch seconds; None: never)."""
        ...

    def describe(self) -> str:
        """What kind of credentials these are, for messages."""
        ...


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class StaticToken:
    """A personal access token (or any fixed bearer token). Picklable: Spark tasks use it."""

    token: str = field(repr=False)

    def __post_init__(self) -> None:
        # A server may echo the header in its error text: blank it whole, then the token.
        scrub.remember(bearer(self.token)["Authorization"])
        scrub.remember(self.token)

    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    def renew_after_401(self, used: Mapping[str, str]) -> bool:
        return False  # nothing to renew: a refused PAT stays refused

    def access_token(self) -> tuple[str, float | None]:
        return self.token, None

    def describe(self) -> str:
        return "personal access token"


class SdkCredentials:
    """Headers from databricks-sdk, for the sign-in methods this project does not do itself."""

    def __init__(self, factory: Callable[[], Mapping[str, str]], auth_type: str):
        self._factory = factory
        self._auth_type = auth_type

    def headers(self) -> dict[str, str]:
        return dict(self._factory())

    def renew_after_401(self, used: Mapping[str, str]) -> bool:
        return False  # the SDK renews on its own schedule

    def access_token(self) -> tuple[str, float | None]:
        value = self.headers().get("Authorization", "")
        return value.removeprefix("Bearer "), None

    def describe(self) -> str:
        return f"databricks-sdk ({self._auth_type})"


@dataclass(frozen=True)
class _Minted:
    value: str = field(repr=False)
    expires: float       # clock.monotonic() of the server's expiry
    usable_until: float  # not sent after this (the expiry less the margin)
    stale: float         # the first caller after this renews it


class OAuthM2M:
    """OAuth client credentials (a service principal's id and secret), renewed in time.

    One object is shared by every client and thread of a run. It is never pickled: the
    secret stays on this machine (Spark executors get access tokens only).
    """

    def __init__(self, host: str, client_id: str, client_secret: str, *,
                 clock: Clock | None = None, wall: Callable[[], float] = time.time,
                 session: requests.Session | None = None):
        scrub.remember(client_secret)
        self.host = host
        self.client_id = client_id
        self._secret = client_secret
        self._clock = clock or Clock()
        self._wall = wall
        self._session = session or requests.Session()
        self._endpoint: str | None = None
        self._token: _Minted | None = None
        self._renewing = threading.Lock()  # held by the one thread that renews
        self._early_retry_at = 0.0
        self.minted = 0  # tokens obtained so far

    def __repr__(self) -> str:
        return f"OAuthM2M(host={self.host!r}, client_id={self.client_id!r})"

    def __reduce__(self):
        raise TypeError("OAuth client credentials are never pickled: the client secret "
                        "stays on this machine")

    def describe(self) -> str:
        return "OAuth client credentials"

    def sdk_config(self, **extra):
        """The same sign-in as a databricks-sdk Config, which renews its own tokens
        (what databricks-connect needs to keep a Spark session past an hour)."""
        from databricks.sdk.core import Config  # present wherever databricks-connect is

        return Config(host=self.host, client_id=self.client_id,
                      client_secret=self._secret, auth_type="oauth-m2m", **extra)

    def headers(self) -> dict[str, str]:
        return bearer(self._current().value)

    def access_token(self) -> tuple[str, float | None]:
        token = self._current()
        return token.value, self._wall() + (token.expires - self._clock.monotonic())

    def renew_after_401(self, used: Mapping[str, str]) -> bool:
        with self._renewing:
            current = self._token
            if current is None or bearer(current.value) == dict(used):
                self._token = self._mint(TOKEN_RETRY.attempts)
                log.debug("a request was refused (401): renewed the OAuth token")
            return True  # a newer token than the refused one is current now

    def _current(self) -> _Minted:
        """A token that may be sent now; renews early (one thread) or when expired."""
        token = self._token
        now = self._clock.monotonic()
        if token is not None and now < token.usable_until:
            if now >= token.stale and now >= self._early_retry_at \
                    and self._renewing.acquire(blocking=False):
                try:
                    if self._token is token:  # nobody renewed it meanwhile
                        self._renew_early()
                finally:
                    self._renewing.release()
            return self._token or token
        with self._renewing:  # expired: everyone waits for the one renewal
            token = self._token
            if token is None or self._clock.monotonic() >= token.usable_until:
                token = self._token = self._mint(TOKEN_RETRY.attempts)
            return token

    def _renew_early(self) -> None:
        try:
            self._token = self._mint(attempts=1)  # no waiting: the old token still works
        except OAuthFailed as exc:
            self._early_retry_at = self._clock.monotonic() + EARLY_RETRY_S
            log.debug("early OAuth token renewal failed (%s); the current token is "
                      "still valid, trying again in %.0f s", exc.message, EARLY_RETRY_S)

    def _mint(self, attempts: int) -> _Minted:
        """A new access token from the token endpoint (client_credentials grant)."""
        url = self._token_endpoint()
        for attempt in range(1, attempts + 1):
            sent = self._clock.monotonic()
            status, retry_after = None, None
            try:
                response = self._session.post(
                    url, data={"grant_type": "client_credentials", "scope": SCOPE},
                    auth=(self.client_id, self._secret), timeout=TIMEOUT,
                    headers={"Accept": "application/json"})
            except requests.RequestException as exc:
                reason = f"no answer from the token endpoint ({type(exc).__name__})"
            else:
                status, retry_after = response.status_code, response.headers.get("Retry-After")
                if status == 200:
                    return self._accept(response, sent)
                if not TOKEN_RETRY.should_retry_status(status):
                    raise OAuthFailed(
                        f"OAuth client credentials refused by {self.host} "
                        f"({status} {_oauth_error(response)}): check the client id "
                        "and secret, and that the service principal is in this workspace",
                        status=status)
                reason = f"the token endpoint answered {status}"
            if attempt < attempts:
                self._clock.sleep(TOKEN_RETRY.wait_for(status, retry_after, attempt))
        raise OAuthFailed(f"could not get an OAuth access token from {self.host}: {reason}",
                          status=status)

    def _accept(self, response: requests.Response, sent: float) -> _Minted:
        try:
            body = response.json()
        except ValueError:
            body = None
        value = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise OAuthFailed(f"the token endpoint of {self.host} sent no access token",
                              status=response.status_code)
        scrub.remember(value)  # before anything can print it
        lifetime = body.get("expires_in", DEFAULT_LIFETIME_S)
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)
        if not isinstance(lifetime, (int, float)) or lifetime <= 0:
            lifetime = DEFAULT_LIFETIME_S
        self.minted += 1
        # Short-lived tokens (tests) keep three quarters of their life usable.
        margin = min(EXPIRY_MARGIN_S, lifetime / 4)
        expires = sent + lifetime
        log.debug("got an OAuth access token valid for %.0f s", lifetime)
        return _Minted(value, expires=expires, usable_until=expires - margin,
                       stale=expires - min(lifetime / 2, MAX_STALE_S))

    def _token_endpoint(self) -> str:
        """Discovered once from the OIDC metadata; the usual path when that fails."""
        if self._endpoint is None:
            endpoint = None
            try:
                response = self._session.get(self.host + METADATA_PATH, timeout=TIMEOUT,
                                             headers={"Accept": "application/json"})
                if response.status_code == 200:
                    endpoint = response.json().get("token_endpoint")
            except (requests.RequestException, ValueError, AttributeError):
                pass
            # The secret goes only to this workspace, whatever the metadata says.
            if not isinstance(endpoint, str) or not _same_origin(endpoint, self.host):
                log.debug("no usable OIDC metadata at %s; using %s", self.host,
                          FALLBACK_TOKEN_PATH)
                endpoint = self.host + FALLBACK_TOKEN_PATH
            self._endpoint = endpoint
        return self._endpoint


def _same_origin(url: str, host: str) -> bool:
    a, b = urlsplit(url), urlsplit(host)
    return (a.scheme, a.netloc.lower()) == (b.scheme, b.netloc.lower())


def _oauth_error(response: requests.Response) -> str:
    """The OAuth error code of a refusal (RFC 6749 `error`), never its free text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    return str(code) if isinstance(code, str) and code.isidentifier() else "refused"
