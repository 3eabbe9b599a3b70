"""The one HTTP client every caller goes through: auth, retries, throttle, typed errors."""

from __future__ import annotations

import json
import logging
import os
import random
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlencode

import requests
import urllib3

from dbx_inventory import __version__
from dbx_inventory import scrub
from dbx_inventory.transport.auth import Credentials
from dbx_inventory.clock import Clock
from dbx_inventory.transport.deadline import Deadline, DeadlineAdapter
from dbx_inventory.transport.family_limits import FamilyCaps, shared
from dbx_inventory.errors import (ApiError, ForeignAnswer, ListingTooLarge, NetworkError,
                                  NotAWorkspace, Throttled, WorkspaceUnreachable,
                                  error_for_status)
from dbx_inventory.transport.outage import OutageGate
from dbx_inventory.transport.pacing import PUBLISHED_RATES, Pacer, family_of
from dbx_inventory.transport.politeness import RequestStats
from dbx_inventory.transport.retry import RetryPolicy, looks_too_large, says_rate_limited
from dbx_inventory.transport.throttle import Throttle

log = logging.getLogger("dbx_inventory.transport.client")

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 120.0  # DBFS warns a huge directory can take ~60 s to list
PROBE_PATH = "/api/2.0/preview/scim/v2/Me"  # cheap: is the workspace answering at all?

# The key a good answer of these APIs has ({} is an empty listing). Anything else means
# the host is not a workspace: trusting it would report every user as empty.
_SHAPES = {"/api/2.0/dbfs/list": "files", "/api/2.0/workspace/list": "objects",
           "/api/2.0/preview/scim/v2/Me": "userName",
           "/api/2.0/preview/scim/v2/Users": "totalResults"}


@dataclass(frozen=True)
class ClientConfig:
    """All a client needs; picklable (with a StaticToken) so Spark tasks build their own."""

    host: str
    credentials: Credentials = field(repr=False)
    max_in_flight: int = 20
    retry: RetryPolicy = RetryPolicy()
    max_rps: float | None = None    # requests/s over all API families (--max-rps)
    family_rates: Mapping[str, float] | None = None  # starting pace per family (pacing.py)
    # Where families with no starting pace begin (pacing.py); None: unpaced.
    published_rates: Mapping[str, float] | None = field(
        default_factory=lambda: dict(PUBLISHED_RATES))
    # This client's part of the families' own limits (family_limits.py): a Spark job's
    # share of the run's requests in flight.
    family_share: float = 1.0


class ApiClient:
    """GET JSON from a workspace, retrying what is transient and nothing else."""

    def __init__(self, config: ClientConfig, *, clock: Clock | None = None,
                 throttle: Throttle | None = None, rng: random.Random | None = None):
        self.config = config
        self.host = config.host
        self.retry = config.retry
        self.clock = clock or Clock()
        self.throttle = throttle or Throttle(config.max_in_flight)
        caps, starts = shared(config.family_share)
        self._default_starts = set(starts) - set(config.family_rates or {})
        self.pacer = Pacer(self.clock, max_rps=config.max_rps,
                           start_rates={**starts, **(config.family_rates or {})},
                           published=config.published_rates)
        self.family_caps = FamilyCaps(caps)
        self.stats = RequestStats()
        self._rng = rng or random.Random()
        self._answered = False  # has the workspace ever answered over HTTP?
        self._adapter, self._pool, self._prefix = _transport(config)
        self._headers = {"User-Agent": f"dbx-workspace-inventory/{__version__}",
                         "Accept": "application/json", "Accept-Encoding": "gzip, deflate"}
        self._credentials = config.credentials  # they remember their secrets for scrub
        self.outage = OutageGate(self._workspace_answers, clock=self.clock,
                                 limit_s=self.retry.outage_limit_s or 0.0,
                                 max_delay=self.retry.max_delay)

    def close(self) -> None:
        self._adapter.close()

    def learned_rates(self) -> dict[str, float]:
        """The pace held per API family (requests/s), for families that needed one (a
        family still at its own default start, never refused, needed none)."""
        return {family: rate for family, rate in self.pacer.rates().items()
                if family not in self._default_starts or self.pacer.pace(family).cuts}

    def reached_rates(self) -> dict[str, float]:
        """The pace each published start ramped to, never refused (see Pacer.reached)."""
        return self.pacer.reached()

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
        family = family_of(api_path)
        started = self.clock.monotonic()
        attempt = 0
        renewed = False
        watch_outage = bool(self.retry.outage_limit_s)
        too_large = 0  # failures the way a directory too large for the API fails
        failure: _Failure | None = None
        while True:
            if watch_outage:
                self.outage.wait_while_down()  # no attempt is spent on an outage
            attempt += 1
            sent_at = self.clock.monotonic()
            body, failure = self._attempt(method, api_path, params, json_body, subject, family,
                                          again=failure is not None and failure.status == 429)
            if failure is None:
                return self._checked(api_path, body, subject)
            if failure.foreign:
                raise ForeignAnswer(failure.foreign)
            status, error = failure.status, failure.error
            if not failure.unsent and looks_too_large(
                    api_path, status, error.message, self.clock.monotonic() - sent_at,
                    self.retry):
                too_large += 1
                if too_large >= self.retry.too_large_tries:
                    raise ListingTooLarge(f"{error.describe()}, {too_large} times",
                                          status=status, error_code=error.error_code,
                                          path=subject)
            # One renewal and one retry for a token refused before its time, never a loop.
            if status == 401 and not renewed and failure.used is not None \
                    and self._credentials.renew_after_401(failure.used):
                renewed = True
                log.debug("401 on %s: retrying once with renewed credentials", subject)
                continue
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
            elif watch_outage and status != 429 and attempt in (
                    self.retry.outage_check_after, self.retry.attempts) \
                    and self.outage.confirm(_reason(status, error, subject)):
                attempt = 0  # an outage came and went: this failure says nothing
                continue
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
            self.stats.add(family, retries=1)
            log.debug("%s, retrying in %ss (attempt %d/%d)", _reason(status, error, subject),
                      f"{wait:.1f}".removesuffix(".0"), attempt, self.retry.attempts)
            self.clock.sleep(wait)

    def _attempt(self, method: str, api_path: str, params, json_body, subject: str,
                 family: str, again: bool = False) -> tuple[dict, "_Failure | None"]:
        """One request: the parsed body, or what went wrong. `again`: its previous try
        was answered 429 (a second one is no isolated 429)."""
        # Until the workspace first answers, the first-contact bound is the deadline.
        limit = self.retry.deadline_s if self._answered else self.retry.first_contact_s
        timeout = (min(CONNECT_TIMEOUT_S, limit), min(READ_TIMEOUT_S, limit))
        deadline = Deadline(limit)
        ticket = self.pacer.admit(family)  # the family's pace first: it holds no slot
        auth = self._credentials.headers()  # per request: tokens renew mid-run
        target, body, headers = self._prepared(api_path, params, json_body, auth)
        with self.family_caps.slot(family), self.throttle.slot() as slot:
            self.stats.add(family, requests=1)
            try:
                with deadline:
                    response = self._pool.urlopen(
                        method, target, body=body, headers=headers, retries=False,
                        redirect=False, assert_same_host=False, preload_content=True,
                        timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]))
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                reason = f"no complete answer within {limit:g} s" if deadline.fired \
                    else _network_reason(exc)
                return {}, _Failure(None, None, NetworkError(reason, path=subject),
                                    unsent=_never_sent(exc))
            self._answered = True
            status = response.status
            error = parse_error(status, response.data.decode("utf-8", "replace"), subject) \
                if status >= 400 else None
            # A throttle that says so with another status is a 429 (issue 27, item 3).
            limited = status == 429 or (error is not None and says_rate_limited(
                error.error_code, error.message))
            # An isolated 429 only waits (issue 27). One in a cluster at a level of
            # requests in flight not yet proven is the in-flight limit's to learn; any
            # other is its family's rate.
            if not limited:
                self.pacer.answered(ticket)
            else:
                of_rate = self.pacer.clustered(family, again)  # each records the 429
                if not slot.throttled(again) and of_rate:
                    self.pacer.answered(ticket, throttled=True)
            if limited:
                self.stats.add(family, throttled=1)
        # The body is in memory: reading it needs no slot.
        if error is None:
            try:
                return json.loads(response.data), None
            except ValueError:
                return {}, _Failure(status, None, ApiError(
                    f"HTTP {status} with a body that is not JSON", status=status,
                    path=subject), foreign=_web_page_line(self.host, response.data))
        return {}, _Failure(429 if limited else status, response.headers.get("Retry-After"),
                            error, used=auth)

    def _prepared(self, api_path: str, params, json_body, auth: Mapping[str, str]
                  ) -> tuple[str, bytes | None, dict[str, str]]:
        """(target, body, headers) of one request, built before it takes a slot."""
        target = self._prefix + api_path
        if params:
            target += "?" + urlencode(params, doseq=True)
        headers = dict(self._headers)
        headers.update(auth)
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        return target, body, headers

    def _checked(self, api_path: str, body, subject: str) -> dict:
        """The body, if it has the shape this API answers with; else NotAWorkspace."""
        key = _SHAPES.get(api_path)
        if isinstance(body, dict) and (key is None or body == {} and key in ("files", "objects")
                                       or _has(body, key)):
            return body
        raise NotAWorkspace(f"{self.host} does not look like a Databricks workspace "
                            f"(unexpected answer to {subject})")

    def _workspace_answers(self) -> bool:
        """One probe, no retries: any HTTP answer below 500 means the workspace is up."""
        _, failure = self._attempt("GET", PROBE_PATH, None, None, "outage probe",
                                   family_of(PROBE_PATH))
        return failure is None or (failure.status is not None and failure.status < 500)


@dataclass(frozen=True)
class _Failure:
    status: int | None       # None when no HTTP answer came
    retry_after: str | None
    error: ApiError
    used: Mapping[str, str] | None = field(default=None, repr=False)  # the auth sent
    unsent: bool = False     # no connection was made: the server cannot have acted
    foreign: str = ""        # a success whose body is no JSON: the line that says so


def _transport(config: ClientConfig) -> tuple[DeadlineAdapter, Any, str]:
    """(adapter, pool, prefix): the connection pool requests builds for the host, with
    the proxy, CA bundle and TLS settings of the environment read once.

    Each request then goes straight to that urllib3 pool: requests' per-request layer
    (settings merge, cookies, hooks, redirects: none of it used here) doubled the CPU a
    request costs, and with 20 in flight on a small machine that CPU became waiting
    time inside the workspace's slots. `prefix` is the host when an HTTP proxy wants
    the full URL, else "".
    """
    proxies = requests.utils.get_environ_proxies(config.host)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    verify = bundle or True
    pool_size = max(4, config.max_in_flight + 4)
    adapter = DeadlineAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
    probe = requests.Request("GET", config.host + "/").prepare()
    connect = getattr(adapter, "get_connection_with_tls_context", None)  # requests 2.32.2+
    # Older requests (a cluster's runtime may have one) name it get_connection.
    pool = connect(probe, verify, proxies=proxies) if connect \
        else adapter.get_connection(config.host, proxies)
    adapter.cert_verify(pool, config.host, verify, None)
    return adapter, pool, adapter.request_url(probe, proxies)[:-1]


def _has(body: dict, key: str) -> bool:
    value = body.get(key)
    if key == "userName":
        return isinstance(value, str) and bool(value)
    if key == "totalResults":
        return isinstance(value, int) and isinstance(body.get("Resources", []), list)
    # A listing's entries are objects: anything else is not this API answering.
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


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
    # Server text may echo the request (the Authorization header among it).
    return cls(scrub.scrub(str(message or "no message").strip()), status=status,
               error_code=code, path=subject)


def _web_page_line(host: str, data: bytes) -> str:
    """What a success with a non-JSON body means: something answers for the workspace."""
    title = re.search(rb"<title>(.*?)</title>", data[:65536], re.IGNORECASE | re.DOTALL)
    shown = title.group(1).decode("utf-8", "replace").strip()[:80] if title else ""
    named = f': "{" ".join(shown.split())}"' if shown else ""
    return scrub.scrub(f"the workspace URL {host} answers with a web page, not the API "
                       f"(a sign-in or proxy page{named}); open it in a browser to see "
                       "what stands in the way")


def _reason(status: int | None, error: ApiError, subject: str) -> str:
    """The seed's words for a retry: 'Rate limited (429) on /Users/x', with the file
    system as a [DBFS] or [WORKSPACE] tag, since /Users/x exists in both."""
    side, sep, path = subject.partition(":")
    where = f"[{side.upper()}] " if sep and side in ("dbfs", "workspace") else ""
    path = path if where else subject
    if status == 429:  # a throttle with another status shows that status
        return f"{where}Rate limited ({error.status or 429}) on {path}"
    if status is not None:
        return f"{where}Server error {status} on {path}"
    return f"{where}Request error ({error.message}) on {path}"


def _never_sent(exc: Exception) -> bool:
    """True when no connection was made, so the request cannot have reached the server
    (NewConnectionError is a ConnectTimeoutError)."""
    return isinstance(exc, urllib3.exceptions.ConnectTimeoutError)


def _network_reason(exc: Exception) -> str:
    """One line for a transport failure, from the innermost cause."""
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, urllib3.exceptions.TimeoutError) \
            and not isinstance(exc, urllib3.exceptions.NewConnectionError):
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
