"""Which file systems a workspace lets us read at all, asked once before a run.

New accounts have no DBFS root, and the DisableLegacyDbfs setting blocks DBFS on older
ones: every dbfs/* call is refused. That is a normal workspace, not an error of every
user: the run scans what it can and says once what it could not.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from dbx_inventory.errors import ApiError, InventoryError
from dbx_inventory.scan.filesystems import DBFS
from dbx_inventory.scan.roots import Root
from dbx_inventory.transport.client import ApiClient

STATUS_PATH = "/api/2.0/dbfs/get-status"


class NothingToScan(InventoryError):  # exit 1 with one line
    """Every file system asked for is unavailable on this workspace."""


def dbfs_unavailable(client: ApiClient) -> str:
    """Why DBFS cannot be read on this workspace, or "" when it can.

    One get-status of the DBFS root: where DBFS exists the root always answers. A
    refusal of it (any 4xx but a throttle, which the client retries) means DBFS is off;
    its status and words are not documented, so none are relied on.
    """
    try:
        client.get(STATUS_PATH, {"path": "/"}, subject="dbfs:/")
    except ApiError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status != 401:
            return exc.describe()
        raise
    return ""


def readable(client: ApiClient, walkers: Sequence) -> tuple[tuple, dict[str, str]]:
    """(the walkers this workspace lets us read, {label: why not} for the others)."""
    if DBFS not in walkers:
        return tuple(walkers), {}
    why = dbfs_unavailable(client)
    if not why:
        return tuple(walkers), {}
    left = tuple(walker for walker in walkers if walker is not DBFS)
    if not left:
        raise NothingToScan(f"DBFS is not available on this workspace ({why}): nothing to "
                            "scan with --dbfs-only")
    return left, {DBFS.label: f"DBFS is not available on this workspace ({why})"}


def within(roots: Sequence[Root], walkers: Sequence) -> list[Root]:
    """The roots with only their places in the walkers' file systems."""
    names = {walker.name for walker in walkers}
    return [root if all(place.file_system in names for place in root.places)
            else replace(root, places=tuple(place for place in root.places
                                            if place.file_system in names))
            for root in roots]
