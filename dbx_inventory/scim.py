"""Workspace users from the SCIM API, paged the way the server really pages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

from .client import ApiClient

log = logging.getLogger("dbx_inventory.scim")

USERS_PATH = "/api/2.0/preview/scim/v2/Users"
ME_PATH = "/api/2.0/preview/scim/v2/Me"
PAGE_SIZE = 1000  # small attribute set keeps even large pages quick


@dataclass(frozen=True)
class User:
    id: str
    user_name: str
    active: bool


def iter_users(client: ApiClient, *, page_size: int = PAGE_SIZE,
               active_only: bool = False, max_users: int = 0) -> Iterator[User]:
    """Every user once, in server order; pages advance by the rows actually returned."""
    seen: set[str] = set()
    start = 1
    yielded = 0
    while True:
        count = page_size if not max_users else min(page_size, max_users - yielded)
        log.debug("SCIM page request: startIndex=%d count=%d", start, count)
        page = client.get(USERS_PATH, {"startIndex": start, "count": count,
                                       "attributes": "id,userName,active"},
                          subject="SCIM Users")
        rows = page.get("Resources") or []
        log.debug("SCIM page: %d rows (totalResults=%s)", len(rows), page.get("totalResults"))
        if not rows:
            return
        for row in rows:
            key = str(row.get("id") or row.get("userName"))
            name = row.get("userName")
            if not name or key in seen:
                continue  # offset pages can shift while we page: drop repeats
            seen.add(key)
            active = row.get("active") is not False
            if active_only and not active:
                continue
            yield User(id=key, user_name=name, active=active)
            yielded += 1
            if max_users and yielded >= max_users:
                return
        start += len(rows)
        total = page.get("totalResults")
        if isinstance(total, int) and start > total:
            return


def check_access(client: ApiClient) -> str:
    """The caller's userName: one cheap call proving the host and token work."""
    me = client.get(ME_PATH, subject="SCIM Me")
    return str(me.get("userName") or "")
