"""A fake Databricks workspace served over real HTTP/1.1 (keep-alive) on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .api import ROUTES as CORE_ROUTES
from .api import SCIM_ERROR, Reply, error, request_path
from .faults import Faults, Stats, TokenBucket
from .model import Workspace
from .oidc import OAuthIssuer
from .tokens import TokenStore
from .unity_api import (FILES_ENDPOINT, FILES_PREFIX, FILES_ROUTE, UC_ROUTES,
                        files_path)
LISTING_ENDPOINTS = frozenset({"workspace/list", "dbfs/list", FILES_ENDPOINT})
PATH_ENDPOINTS = LISTING_ENDPOINTS | {"workspace/get-status", "dbfs/get-status"}

_GATEWAY_PAGE = ("<html><head><title>{status} {phrase}</title></head><body>"
                 "<center><h1>{status} {phrase}</h1></center><hr><center>nginx</center>"
                 "</body></html>")


_SIGN_IN_PAGE = ("<!DOCTYPE html><html><head><title>Sign in to your account</title></head>"
                 "<body><form method=\"post\" action=\"/login\"><input name=\"user\">"
                 "<button>Sign in</button></form></body></html>")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address, handler, app: FakeWorkspaceServer):
        self.app = app
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self.sockets_lock:
            self.open_sockets.add(request)
        self.app.stats.connected()
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeDatabricks/1.0"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - quiet: no per-request stderr
        pass

    def do_GET(self):
        self.server.app._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET


class FakeWorkspaceServer:
    """Serve a Workspace on 127.0.0.1; start()/stop() or use as a context manager."""

    def __init__(self, workspace: Workspace, token: str = "dapi-fake-token",
                 faults: Faults | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self.workspace = workspace
        self.token = token
        self.faults = faults if faults is not None else Faults()
        self.stats = Stats()
        self.host = host
        self.port = port
        self._auth = f"Bearer {token}"
        self.oauth = OAuthIssuer()  # register service principals on it for OAuth M2M
        self.tokens = TokenStore()  # the Token API: tokens created through it authenticate too
        self._bucket = TokenBucket()
        self._family_buckets: dict[str, TokenBucket] = {}
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> FakeWorkspaceServer:
        self._httpd = _HttpServer((self.host, self.port), _Handler, self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-workspace", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def wait_quiet(self, seconds: float, timeout: float) -> bool:
        """Wait until no request has been in flight and none has come for `seconds`;
        False if that did not happen within `timeout` (work still running somewhere)."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            total = self.stats.total_requests
            if total != last or self.stats.in_flight:
                last, since = total, time.monotonic()
            elif time.monotonic() - since >= seconds:
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        with httpd.sockets_lock:
            open_sockets = list(httpd.open_sockets)
        for sock in open_sockets:  # wake handler threads parked on idle keep-alive reads
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeWorkspaceServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset_stats(self) -> None:
        """Zero every counter (this also re-arms fail_first_n_requests_for_path) and
        refill the per-family rate buckets, as for a workspace nobody used lately."""
        self.stats.reset()
        self._family_buckets.clear()

    # -- one request ------------------------------------------------------------------

    def _serve(self, h: _Handler) -> None:
        url = urlsplit(h.path)
        if url.path.startswith("/oidc/"):  # sign-in: no auth, faults or API stats
            self._send(h, self.oauth.serve(h.command, url.path, h.headers,
                                           self._read_body(h), self.url))
            return
        route = _route(url.path) if h.command == "GET" else None
        endpoint = route[0] if route else url.path.removeprefix("/api/2.0/") \
            if url.path.startswith("/api/2.0/token/") else "other"
        body = self._read_body(h)
        n_in_flight = self.stats.enter()
        reply, headers, injected = None, None, False
        try:
            reply, headers, injected = self._decide(h, url.query, body, route, n_in_flight,
                                                    endpoint)
        finally:
            # Counted before the answer leaves, so a client that got it sees it counted.
            self.stats.leave(endpoint, reply.status if reply else None, injected=injected,
                             listing=reply.listing if reply else None)
        if reply is None:
            self._reset(h)
        else:
            self._send(h, reply, headers)

    def _decide(self, h: _Handler, query: str, body: bytes, route, n_in_flight: int,
                endpoint: str) -> tuple[Reply | None, dict | None, bool]:
        """(reply or None to reset the connection, extra headers, injected fault?)."""
        faults = self.faults
        if faults.down:
            return None, None, False
        if faults.sign_in_page:
            return Reply(200, _SIGN_IN_PAGE), None, False
        limit = faults.max_in_flight
        if limit is not None and n_in_flight > limit:
            return self._throttle(faults, "Too many requests: exceeded the "
                                  f"concurrent limit of {limit} requests", endpoint)
        rate = faults.rate_limit_per_s
        if rate is not None and not self._bucket.take(rate, faults.rate_limit_burst):
            return self._throttle(faults, "Too many requests: exceeded the rate "
                                  f"limit of {rate:g} requests per second", endpoint)
        family = faults.family_limit(endpoint)
        if family is not None:
            key, family_rate = family
            bucket = self._family_buckets.get(key) or \
                self._family_buckets.setdefault(key, TokenBucket())
            if not bucket.take(family_rate, None):
                return self._throttle(faults, f"Too many requests: exceeded the {key} "
                                      f"rate limit of {family_rate:g} requests per second",
                                      endpoint)
        delay = faults.latency_s + faults.jitter()
        if delay > 0:
            time.sleep(delay)
        if faults.chance(faults.reset_rate):
            return None, None, False
        header = h.headers.get("Authorization")
        if header != self._auth and not self.oauth.accepts(header) \
                and not self.tokens.valid(header):
            return error(401, "UNAUTHENTICATED", "Invalid access token."), None, False
        reply, injected = self._reply(h, query, body, route, faults)
        headers = {"Retry-After": str(faults.retry_after)} \
            if reply.status == 429 and faults.retry_after is not None else None
        if faults.echo_auth and reply.status >= 400 and isinstance(reply.body, dict):
            # Some proxies and services quote the request back in their errors.
            echoed = dict(reply.body)
            echoed["message"] = (f"{echoed.get('message', '')} (request had "
                                 f"Authorization: {h.headers.get('Authorization')})")
            reply = Reply(reply.status, echoed, reply.listing)
        return reply, headers, injected

    def _reply(self, h: _Handler, query: str, body: bytes, route, faults: Faults
               ) -> tuple[Reply, bool]:
        """The Reply for an authenticated request and whether it was an injected fault."""
        api_path = urlsplit(h.path).path
        if route is None and not api_path.startswith("/api/2.0/token/"):
            return error(404, "ENDPOINT_NOT_FOUND",
                         f"No API found for '{h.command} {api_path}'"), False
        params = dict(parse_qsl(query, keep_blank_values=True))
        if body:
            try:
                extra = json.loads(body)
            except ValueError:
                return error(400, "MALFORMED_REQUEST", "Invalid JSON given in the body"), False
            if isinstance(extra, dict):
                for k, v in extra.items():
                    params.setdefault(k, v)
        if route is None:
            return self.tokens.serve(h.command, api_path, params), False
        endpoint, handler, fs = route
        if endpoint == FILES_ENDPOINT:
            params["path"] = files_path(api_path)
        if faults.dbfs_disabled and endpoint.startswith("dbfs/"):
            return error(403, "PERMISSION_DENIED", "DBFS root and mounts are disabled on "
                         "this workspace (DisableLegacyDbfs)"), True
        if endpoint == "dbfs/list" and faults.too_large_entries is not None:
            fault = self._too_large(params, faults)
            if fault is not None:
                return fault, True
        if endpoint in PATH_ENDPOINTS:
            fault = self._path_fault(endpoint, fs, params, faults)
            if fault is not None:
                return fault, True
        if faults.chance(faults.error_rate):
            return _transient(faults.next_error_status()), True
        try:
            if endpoint == "scim/Users":
                return handler(self.workspace, params, faults.scim_max_page,
                               non_admin=faults.scim_non_admin,
                               total=faults.scim_total_results), False
            reply = handler(self.workspace, params)
            return (_sizes_as_text(reply) if faults.sizes_as_text else reply), False
        except (ValueError, TypeError) as e:
            return error(400, "INVALID_PARAMETER_VALUE", f"Invalid parameter: {e}"), False

    def _path_fault(self, endpoint: str, fs: str, params: dict, faults: Faults) -> Reply | None:
        path = request_path(params, fs)
        if path is None:
            return None
        fs_key = f"{fs}:{path}"
        if endpoint in LISTING_ENDPOINTS:
            hold = faults.hold
            if hold is not None and (not faults.hold_paths or path in faults.hold_paths
                                     or fs_key in faults.hold_paths):
                hold.wait()
            attempt = self.stats.attempt_listing((fs, path))
            flaky = faults.flaky_paths
            turns = flaky.get(fs_key, flaky.get(path, ())) if flaky else ()
            if attempt <= len(turns):
                status = turns[attempt - 1]
                if status == 429:
                    return error(429, "REQUEST_LIMIT_EXCEEDED",
                                 "Too many requests: the workspace is busy")
                return _transient(status)
            fail_first = faults.fail_first_n_requests_for_path
            if fail_first:
                n = fail_first.get(fs_key, fail_first.get(path, 0))
                if attempt <= n:
                    return _transient(503)
        always = faults.always_fail_paths
        if always and (path in always or fs_key in always):
            return Reply(500, {"error_code": "INTERNAL_ERROR",
                               "message": f"Internal error while reading {path}"})
        return None

    def _too_large(self, params: dict, faults: Faults) -> Reply | None:
        """dbfs/list of a directory over too_large_entries: slow, then failed (the docs
        warn a listing of over ~10,000 entries times out after about 60 s)."""
        path = request_path(params, "dbfs")
        node = self.workspace.dbfs.dirs.get(path) if path is not None else None
        limit = faults.too_large_entries
        if node is None or limit is None or node.entry_count() <= limit:
            return None
        self.stats.attempt_listing(("dbfs", path))
        time.sleep(faults.too_large_delay_s)
        if faults.too_large_answer == "504":
            return _transient(504)
        return Reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE",
                           "message": "The service at this URL is taking too long to "
                                      "process your request. Please try again later or "
                                      "try a faster operation."})

    # -- writing ----------------------------------------------------------------------

    @staticmethod
    def _read_body(h: _Handler) -> bytes:
        length = h.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            h.close_connection = True
            return b""
        return h.rfile.read(n) if n > 0 else b""

    @staticmethod
    def _throttle(faults: Faults, message: str, endpoint: str) -> tuple[Reply, dict, bool]:
        headers = {}
        if faults.retry_after is not None:
            headers["Retry-After"] = str(faults.retry_after)
        status = faults.throttle_status
        if status == 429:
            return error(429, "REQUEST_LIMIT_EXCEEDED", message), headers, False
        # Another status: only the code or the text says it is a throttle.
        text = f"REQUEST_LIMIT_EXCEEDED: {message}. RPC token bucket limit has been exceeded."
        if endpoint.startswith("scim/"):
            return Reply(status, {"schemas": [SCIM_ERROR], "detail": text,
                                  "status": str(status)}), headers, False
        return error(status, faults.throttle_code, text), headers, False

    @staticmethod
    def _send(h: _Handler, reply: Reply, headers: dict | None = None) -> None:
        if isinstance(reply.body, str):
            data = reply.body.encode("utf-8")
            ctype = "text/html; charset=utf-8"
        else:
            data = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":")).encode()
            ctype = "application/json"
        phrase = HTTPStatus(reply.status).phrase
        lines = [f"HTTP/1.1 {reply.status} {phrase}", f"Content-Type: {ctype}",
                 f"Content-Length: {len(data)}"]
        if headers:
            lines.extend(f"{k}: {v}" for k, v in headers.items())
        if h.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            h.wfile.write(head if h.command == "HEAD" else head + data)
        except OSError:
            h.close_connection = True

    @staticmethod
    def _reset(h: _Handler) -> None:
        """Close with RST and no answer: the client sees a connection reset."""
        h.close_connection = True
        try:
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
        except OSError:
            pass


def _route(path: str):
    if path.startswith(FILES_PREFIX + "/"):
        return FILES_ROUTE
    # The core table is read at each request: tests may swap a handler in it.
    return CORE_ROUTES.get(path) or UC_ROUTES.get(path)


def _sizes_as_text(reply: Reply) -> Reply:
    """The same listing with each size as a string (entries are built per request)."""
    if isinstance(reply.body, dict):
        for key, size in (("files", "file_size"), ("objects", "size")):
            for entry in reply.body.get(key) or ():
                if size in entry:
                    entry[size] = str(entry[size])
    return reply


def _transient(status: int) -> Reply:
    """An injected 5xx in the shape real gateways and services use for that status."""
    if status in (502, 504):
        phrase = HTTPStatus(status).phrase
        return Reply(status, _GATEWAY_PAGE.format(status=status, phrase=phrase))
    if status == 503:
        return Reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE",
                           "message": "The service is temporarily unavailable."})
    return Reply(status, {"error": "Internal Server Error: an unexpected error occurred."})
