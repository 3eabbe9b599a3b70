"""OAuth M2M on the fake workspace: OIDC metadata, the client-credentials token endpoint,
and the access tokens it mints, with a lifetime a test chooses (a few seconds: renewals
happen mid-scan). An expired token is refused with 401, as a real workspace does.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import parse_qs

from .api import Reply

METADATA_PATH = "/oidc/.well-known/oauth-authorization-server"
TOKEN_PATH = "/oidc/v1/token"


def _oauth_error(status: int, code: str, description: str) -> Reply:
    return Reply(status, {"error": code, "error_description": description})


@dataclass
class OAuthIssuer:
    """Registered service principals and the access tokens minted for them."""

    lifetime_s: float = 3600.0
    metadata: bool = True  # False: the metadata URL answers 404 (clients fall back)
    # When set to an Event, token requests wait for it: a test holds a renewal open.
    gate: threading.Event | None = None
    held: threading.Event = field(default_factory=threading.Event)  # one waits at the gate
    minted: int = 0         # tokens handed out
    refused: int = 0        # token requests refused (bad client, grant or scope)
    expired_used: int = 0   # API requests that came with an expired token
    clients: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def register(self, client_id: str, client_secret: str) -> None:
        """A service principal that may ask for tokens."""
        self.clients[client_id] = client_secret

    def expire_all(self) -> None:
        """Every token minted so far is expired from now on."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def accepts(self, authorization: str | None) -> bool:
        """Is this Authorization header a live token of ours?"""
        token = (authorization or "").removeprefix("Bearer ")
        with self._lock:
            expiry = self._tokens.get(token)
            if expiry is None:
                return False
            if time.monotonic() >= expiry:
                self.expired_used += 1
                return False
            return True

    def serve(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
              base_url: str) -> Reply:
        """The answer to a request under /oidc/."""
        if path == METADATA_PATH and method == "GET" and self.metadata:
            return Reply(200, {
                "issuer": f"{base_url}/oidc",
                "authorization_endpoint": f"{base_url}/oidc/v1/authorize",
                "token_endpoint": f"{base_url}{TOKEN_PATH}",
                "grant_types_supported": ["client_credentials", "authorization_code",
                                          "refresh_token"],
                "scopes_supported": ["all-apis", "offline_access"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"]})
        if path == TOKEN_PATH and method == "POST":
            if self.gate is not None:
                self.held.set()
                self.gate.wait(timeout=60)
            return self._token(headers.get("Authorization"), body)
        return Reply(404, {"error_code": "ENDPOINT_NOT_FOUND",
                           "message": f"No API found for '{method} {path}'"})

    def _token(self, authorization: str | None, body: bytes) -> Reply:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client = _basic_client(authorization)
        if client is None or self.clients.get(client[0]) != client[1]:
            self.refused += 1
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        if form.get("grant_type") != "client_credentials":
            self.refused += 1
            return _oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
        if form.get("scope") != "all-apis":
            self.refused += 1
            return _oauth_error(400, "invalid_scope", "Invalid scope")
        token = f"eyJfake.{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens[token] = time.monotonic() + self.lifetime_s
            self.minted += 1
        lifetime = self.lifetime_s
        return Reply(200, {"access_token": token, "token_type": "Bearer",
                           "expires_in": int(lifetime) if lifetime == int(lifetime) else lifetime,
                           "scope": "all-apis"})


def _basic_client(authorization: str | None) -> tuple[str, str] | None:
    """(client id, secret) from an HTTP Basic header; None when it is not one."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None
