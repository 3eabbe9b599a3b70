"""The Token API of the fake workspace: tokens created for a run, valid until they expire
or are deleted, plus the switches tests use to refuse or lose a create."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from .api import Reply, error

CREATE, LIST, DELETE = "/api/2.0/token/create", "/api/2.0/token/list", "/api/2.0/token/delete"


@dataclass
class Token:
    token_id: str
    value: str
    comment: str
    created_ms: int
    expiry_ms: int  # -1: never expires (no lifetime asked)

    def info(self) -> dict:
        return {"token_id": self.token_id, "creation_time": self.created_ms,
                "expiry_time": self.expiry_ms, "comment": self.comment}


@dataclass
class TokenStore:
    """Tokens created through the API; thread-safe; read by tests to see what happened."""

    refuse_create: bool = False   # answer 403 as a workspace with PAT creation disabled
    lose_create_answers: int = 0  # create the token, then reset the connection (n times)
    live: dict[str, Token] = field(default_factory=dict)
    created: list[Token] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def valid(self, authorization: str | None) -> bool:
        """Does this Authorization header carry a live, unexpired created token?"""
        value = (authorization or "").removeprefix("Bearer ")
        now = _now_ms()
        with self._lock:
            return any(t.value == value and (t.expiry_ms < 0 or t.expiry_ms > now)
                       for t in self.live.values())

    def values(self) -> list[str]:
        """Every token value ever created (for tests that grep for them)."""
        with self._lock:
            return [t.value for t in self.created]

    def serve(self, method: str, path: str, params: dict) -> Reply | None:
        """The answer to a Token API request; None to reset the connection."""
        if (method, path) == ("POST", CREATE):
            return self._create(params)
        if (method, path) == ("GET", LIST):
            with self._lock:
                return Reply(200, {"token_infos": [t.info() for t in self.live.values()]})
        if (method, path) == ("POST", DELETE):
            return self._delete(params)
        return error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")

    def _create(self, params: dict) -> Reply | None:
        if self.refuse_create:
            return error(403, "PERMISSION_DENIED",
                         "Personal access token creation is disabled for this workspace")
        lifetime = params.get("lifetime_seconds")
        if lifetime is not None and (not isinstance(lifetime, int) or lifetime <= 0):
            return error(400, "INVALID_PARAMETER_VALUE", "lifetime_seconds must be positive")
        now = _now_ms()
        token = Token(token_id=secrets.token_hex(16), value="dapi" + secrets.token_hex(16),
                      comment=str(params.get("comment", "")), created_ms=now,
                      expiry_ms=now + lifetime * 1000 if lifetime else -1)
        with self._lock:
            self.live[token.token_id] = token
            self.created.append(token)
            if self.lose_create_answers > 0:
                self.lose_create_answers -= 1
                return None
        return Reply(200, {"token_value": token.value, "token_info": token.info()})

    def _delete(self, params: dict) -> Reply:
        token_id = str(params.get("token_id", ""))
        with self._lock:
            if self.live.pop(token_id, None) is None:
                return error(404, "RESOURCE_DOES_NOT_EXIST",
                             f"Token with id {token_id} does not exist")
            self.deleted.append(token_id)
        return Reply(200, {})


def _now_ms() -> int:
    return int(time.time() * 1000)
