"""Workspace users and service principals from the SCIM API, paged the way the server pages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterator

from dbx_inventory.errors import NotAnAdmin
from dbx_inventory.transport.client import ApiClient

log = logging.getLogger("dbx_inventory.scan.scim")

USERS_PATH = "/api/2.0/preview/scim/v2/Users"
SERVICE_PRINCIPALS_PATH = "/api/2.0/preview/scim/v2/ServicePrincipals"
ME_PATH = "/api/2.0/preview/scim/v2/Me"
PAGE_SIZE = 1000  # small attribute set keeps even large pages quick
NOT_ADMIN = ("this token is not a workspace admin's: SCIM lists its users without their "
             "user names (only id and displayName); an admin token is needed to list users")


@dataclass(frozen=True)
class User:
    id: str
    user_name: str
    active: bool


@dataclass(frozen=True)
class ServicePrincipal:
    """A service principal; its home folder is named by its application id."""

    id: str
    application_id: str
    display_name: str
    active: bool


def iter_users(client: ApiClient, *, page_size: int = PAGE_SIZE,
               active_only: bool = False, max_users: int = 0) -> Iterator[User]:
    """Every user once, in server order; pages advance by the rows actually returned."""
    yielded = 0

    def next_count() -> int:
        return page_size if not max_users else min(page_size, max_users - yielded)

    for row in _iter_resources(client, USERS_PATH, "id,userName,active", "userName",
                               next_count, "SCIM Users"):
        active = row.get("active") is not False
        if active_only and not active:
            continue
        yield User(id=str(row.get("id") or row["userName"]), user_name=row["userName"],
                   active=active)
        yielded += 1
        if max_users and yielded >= max_users:
            return


def iter_service_principals(client: ApiClient, *, page_size: int = PAGE_SIZE
                            ) -> Iterator[ServicePrincipal]:
    """Every service principal once, in server order (same paging rules as users)."""
    for row in _iter_resources(client, SERVICE_PRINCIPALS_PATH,
                               "id,applicationId,displayName,active", "applicationId",
                               lambda: page_size, "SCIM ServicePrincipals"):
        yield ServicePrincipal(id=str(row.get("id") or row["applicationId"]),
                               application_id=row["applicationId"],
                               display_name=str(row.get("displayName") or ""),
                               active=row.get("active") is not False)


def _iter_resources(client: ApiClient, path: str, attributes: str, name_key: str,
                    next_count: Callable[[], int], subject: str) -> Iterator[dict]:
    """Each named resource once: startIndex advances by the rows a page really held,
    rows repeated by shifting offset pages are dropped by id, and the list ends on an
    empty page. NotAnAdmin when no row of a page has its name."""
    seen: set[str] = set()
    start = 1
    while True:
        count = next_count()
        log.debug("%s page request: startIndex=%d count=%d", subject, start, count)
        page = client.get(path, {"startIndex": start, "count": count,
                                 "attributes": attributes}, subject=subject)
        rows = page.get("Resources") or []
        log.debug("%s page: %d rows (totalResults=%s)", subject, len(rows),
                  page.get("totalResults"))
        if not rows:
            return
        if not any(row.get(name_key) for row in rows) and any(row.get("id") for row in rows):
            # Documented: a non-admin is not refused, it sees ids and display names only.
            # Read as "no users", every home would be reported as a removed user's.
            raise NotAnAdmin(NOT_ADMIN)
        for row in rows:
            key = str(row.get("id") or row.get(name_key))
            if not row.get(name_key) or key in seen:
                continue  # offset pages can shift while we page: drop repeats
            seen.add(key)
            yield row
        # totalResults is not the end of the list (the SDK ignores it too): the next
        # page, empty or not, is.
        start += len(rows)


def check_access(client: ApiClient) -> str:
    """The caller's userName: one cheap call proving the host and token work."""
    me = client.get(ME_PATH, subject="SCIM Me")
    return str(me.get("userName") or "")
