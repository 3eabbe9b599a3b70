"""The one HTTP client every caller goes through: auth, retries, throttle, typed errors."""

from __future__ import annotations

import json
import os
import logging
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

import requests
import urllib3
from requests.adapters import HTTPAdapter

from . import __version__
from .clock import Clock
from .errors import (ApiError, NetworkError, Throttled, WorkspaceUnreachable,
                     error_for_status)
from .retry import RetryPolicy
from .throttle import Throttle

log = logging.getLogger("dbx_inventory.client")

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 120.0  # DBFS warns a huge directory can take ~60 s to list


@dataclass(frozen=True)
class ClientConfig:
    """All a client needs; picklable so Spark tasks can build their own. Headers hidden."""

    host: str
    headers: Mapping[str, str] = field(repr=False)
    max_in_flight: int = 20
    retry: RetryPolicy = RetryPolicy()


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, requests: int = 0, retries: int = 0, throttled: int = 0) -> None:
        with self.lock:
            self.requests += requests
            self.retries += retries
            self.throttled += throttled


class ApiClient:
    """GET (and POST) JSON to a workspace, retrying what is transient and nothing else."""

    def __init__(self, config: ClientConfig, *, clock: Clock | None = None,
                 throttle: Throttle | None = None, session: requests.Session | None = None,
                 rng: random.Random | None = None):
        self.config = config
        self.host = config.host
        self.retry = config.retry
        self.clock = clock or Clock()
        self.throttle = throttle or Throttle(config.max_in_flight)
        self.stats = ClientStats()
        self._rng = rng or random.Random()
        self._answered = False  # has the workspace ever answered over HTTP?
        self._session = session or requests.Session()
        # requests re-reads proxy, netrc and CA settings from the environment on every
        # call (17% of CPU at high rates): read them once here, then stop looking.
        self._session.proxies.update(requests.utils.get_environ_proxies(config.host))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self._session.verify = bundle
        self._session.trust_env = False
        pool = max(4, config.max_in_flight + 4)
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update({"User-Agent": f"dbx-workspace-inventory/{__version__}",
                                      "Accept": "application/json"})
        self._headers = dict(config.headers)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, api_path: str, params: Mapping[str, Any] | None = None, *,
            subject: str | None = None) -> dict:
        """GET host+api_path with params in the query string; the parsed JSON object.

        `subject` names what is being read (a path, a user) in errors and logs.
        """
        return self._call("GET", api_path, params, None, subject or api_path, True)

    def post(self, api_path: str, body: Mapping[str, Any], *, idempotent: bool,
             subject: str | None = None) -> dict:
        """POST a JSON body; the parsed JSON answer.

        A POST that is not idempotent (one that creates something) is retried only when
        the workspace cannot have acted on it (429, or no connection made): a retry after
        a lost answer could create a second object nobody knows about.
        """
        return self._call("POST", api_path, None, body, subject or api_path, idempotent)

    def _call(self, method: str, api_path: str, params, json_body, subject: str,
              idempotent: bool) -> dict:
        url = self.host + api_path
        started = self.clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            body, failure = self._attempt(method, url, params, json_body, subject)
            if failure is None:
                return body
            status, error = failure.status, failure.error
            transient = isinstance(error, NetworkError) or (
                status is not None and self.retry.should_retry_status(status))
            if not idempotent:
                transient = status == 429 or failure.unsent
            if not transient:
                raise error
            if isinstance(error, NetworkError) and not self._answered:
                if self.clock.monotonic() - started >= self.retry.first_contact_s \
                        or attempt >= self.retry.attempts:
                    raise WorkspaceUnreachable(
                        f"cannot reach {self.host}: {error.message}", path=subject) from None
            elif attempt >= self.retry.attempts:
                if status == 429:
                    raise Throttled(f"still throttled after {attempt} attempts",
                                    status=429, error_code=error.error_code, path=subject)
                raise type(error)(f"{error.message} (gave up after {attempt} attempts)",
                                  status=error.status, error_code=error.error_code,
                                  path=subject)
            wait = self.retry.wait_for(status, failure.retry_after, attempt, self._rng)
            if not self._answered:
                wait = min(wait, 1.0)
            self.stats.add(retries=1)
            log.debug("%s on %s, retrying in %.1fs (attempt %d/%d)",
                      _reason(status, error), subject, wait, attempt, self.retry.attempts)
            self.clock.sleep(wait)

    def _attempt(self, method: str, url: str, params, json_body, subject: str
                 ) -> tuple[dict, "_Failure | None"]:
        """One request: the parsed body, or what went wrong."""
        timeout = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
        with self.throttle.slot() as slot:
            self.stats.add(requests=1)
            try:
                response = self._session.request(method, url, params=params, json=json_body,
                                                 headers=self._headers, timeout=timeout)
            except requests.RequestException as exc:
                return {}, _Failure(None, None, NetworkError(_network_reason(exc), path=subject),
                                    unsent=_never_sent(exc))
            self._answered = True
            if response.status_code == 429:
                slot.throttled()
                self.stats.add(throttled=1)
            if response.status_code < 400:
                try:
                    body = response.json()
                except ValueError:
                    return {}, _Failure(None, None, ApiError(
                        f"HTTP {response.status_code} with a body that is not JSON",
                        status=response.status_code, path=subject))
                return (body if isinstance(body, dict) else {}), None
            return {}, _Failure(response.status_code, response.headers.get("Retry-After"),
                                parse_error(response.status_code, response.text, subject))


@dataclass(frozen=True)
class _Failure:
    status: int | None       # None when no HTTP answer came
    retry_after: str | None
    error: ApiError
    unsent: bool = False     # no connection was made: the server cannot have acted


def parse_error(status: int, text: str, subject: str | None = None) -> ApiError:
    """An ApiError from any of the workspace's error shapes, or an HTML gateway page."""
    code = None
    message = None
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = body.get("error_code") or body.get("scimType") or None
        message = body.get("message") or body.get("detail") or body.get("error")
    elif text:
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        message = f"non-JSON answer: {title.group(1).strip()[:120]}" if title \
            else "non-JSON answer"
    cls = error_for_status(status)
    return cls(str(message or "no message").strip(), status=status, error_code=code,
               path=subject)


def _reason(status: int | None, error: ApiError) -> str:
    if status == 429:
        return "Rate limited (429)"
    if status is not None:
        return f"Server error ({status})"
    return f"Request error ({error.message})"


def _never_sent(exc: requests.RequestException) -> bool:
    """True when no connection was made, so the request cannot have reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _network_reason(exc: requests.RequestException) -> str:
    """One line for a transport failure, from the innermost cause."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    text = str(exc)
    for needle, reason in (("Name or service not known", "unknown host"),
                           ("nodename nor servname", "unknown host"),
                           ("Temporary failure in name resolution", "unknown host"),
                           ("Connection refused", "connection refused"),
                           ("Connection reset", "connection reset"),
                           ("RemoteDisconnected", "connection closed without answer"),
                           ("BadStatusLine", "malformed answer")):
        if needle in text:
            return reason
    return type(exc).__name__
