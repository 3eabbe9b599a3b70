"""--whole-workspace's volumes: every Unity Catalog volume, found through the Unity
Catalog API (catalogs, their schemas, their volumes), each an area of its own.

Each list is paged by max_results/page_token; a page may be short while more follow,
so only a missing next_page_token ends it. A catalog or schema the token cannot read is
a warning naming it: its volumes are left out, the run goes on. A workspace without a
metastore answers 404: there are no volumes to scan, and the DBFS aliases of /Volumes
stay what they were (skipped areas). With the volumes scanned through the Files API,
those aliases are the same volumes: they are no DBFS areas.

An EXTERNAL volume points at storage outside the metastore's managed location, like a
mount point: it is named with its location and skipped unless --include-external.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from dbx_inventory.errors import (ApiError, NotAWorkspace, NotFound, Unauthenticated,
                                  WorkspaceOutage, WorkspaceUnreachable)
from dbx_inventory.scan.roots import Root, area_root
from dbx_inventory.transport.client import ApiClient

UC = "/api/2.1/unity-catalog"
# dbfs:/Volumes and the aliases the DBFS root shows for it (the DBFS API refuses them).
VOLUME_ALIASES = ("/Volume", "/Volumes", "/volume", "/volumes")
EXTERNAL = "EXTERNAL"
EXTERNAL_REASON = ("external volume: storage at {location}, outside the metastore's "
                   "managed storage; --include-external walks it")
# Every further request would fail the same way: these stop the run, as in the scan.
_FATAL = (Unauthenticated, WorkspaceUnreachable, WorkspaceOutage, NotAWorkspace)


@dataclass(frozen=True)
class Volume:
    catalog: str
    schema: str
    name: str
    owner: str
    volume_type: str
    storage_location: str

    @property
    def path(self) -> str:
        return f"/Volumes/{self.catalog}/{self.schema}/{self.name}"


@dataclass
class Catalogue:
    """What the Unity Catalog API showed: whether it is there, and the volumes."""

    available: bool = False
    volumes: list[Volume] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)  # "catalog x" -> why


def _pages(client: ApiClient, what: str, key: str, params: dict, subject: str
           ) -> Iterator[dict]:
    """Every item of one paged Unity Catalog list (max_results=0: the server's page)."""
    token = None
    seen: set[str] = set()
    while True:
        query = {**params, "max_results": 0} | ({"page_token": token} if token else {})
        body = client.get(f"{UC}/{what}", query, subject=subject)
        yield from (item for item in body.get(key) or () if isinstance(item, dict))
        token = body.get("next_page_token")
        if not token:
            return
        if token in seen:  # a server handing back a token twice must not loop us
            raise ApiError(f"the Unity Catalog API repeated a page token ({subject})",
                           path=subject)
        seen.add(token)


def _names(items) -> list[str]:
    return [item["name"] for item in items if isinstance(item.get("name"), str)]


def read_catalogue(client: ApiClient, *, warn: Callable[[str], None]) -> Catalogue:
    """Every volume the token can see, catalog by catalog, schema by schema."""
    found = Catalogue()
    try:
        catalogs = _names(_pages(client, "catalogs", "catalogs", {},
                                 "unity-catalog:/api/2.1/unity-catalog/catalogs"))
    except _FATAL:
        raise
    except NotFound as exc:
        warn(f"  Unity Catalog: not available on this workspace ({exc.describe()}); "
             "no volumes to scan")
        return found
    except ApiError as exc:
        warn(f"⚠ cannot list Unity Catalog catalogs ({exc.describe()}); volumes are "
             "not scanned")
        found.unreadable["Unity Catalog"] = exc.describe()
        return found
    found.available = True
    for catalog in catalogs:
        try:
            schemas = _names(_pages(client, "schemas", "schemas", {"catalog_name": catalog},
                                    f"catalog:{catalog}"))
        except _FATAL:
            raise
        except ApiError as exc:
            found.unreadable[f"catalog {catalog}"] = exc.describe()
            warn(f"⚠ cannot list the schemas of catalog {catalog} ({exc.describe()}); "
                 "its volumes are left out")
            continue
        for schema in schemas:
            try:
                found.volumes += [_volume(item, catalog, schema) for item in _pages(
                    client, "volumes", "volumes",
                    {"catalog_name": catalog, "schema_name": schema},
                    f"schema:{catalog}.{schema}") if isinstance(item.get("name"), str)]
            except _FATAL:
                raise
            except ApiError as exc:
                found.unreadable[f"schema {catalog}.{schema}"] = exc.describe()
                warn(f"⚠ cannot list the volumes of schema {catalog}.{schema} "
                     f"({exc.describe()}); they are left out")
    return found


def _volume(item: dict, catalog: str, schema: str) -> Volume:
    return Volume(str(item.get("catalog_name") or catalog),
                  str(item.get("schema_name") or schema), item["name"],
                  str(item.get("owner") or ""), str(item.get("volume_type") or ""),
                  str(item.get("storage_location") or ""))


def volume_areas(volumes: list[Volume], *, include_external: bool) -> list[Root]:
    """Each volume as an area with its owner; an external one skipped unless asked for."""
    return [area_root("volumes", v.path, owner=v.owner,
                      skipped="" if include_external or v.volume_type != EXTERNAL
                      else EXTERNAL_REASON.format(location=v.storage_location or "unknown"))
            for v in volumes]


def with_volumes(areas: list[Root], catalogue: Catalogue, *, include_external: bool,
                 warn: Callable[[str], None]) -> list[Root]:
    """The areas of a whole-workspace layout with the volumes in, sorted by name. When
    the volumes are scanned, the DBFS aliases of /Volumes are left out: the same
    volumes, seen through an API that refuses them."""
    if not catalogue.available:
        return areas
    external = sum(1 for v in catalogue.volumes if v.volume_type == EXTERNAL)
    if include_external and external:
        warn(f"⚠ --include-external: walking {external} external volume"
             f"{'s' if external > 1 else ''} lists cloud storage outside the metastore "
             "through the Files API, one request per folder: on a data lake that can "
             "take days")
    aliases = {f"dbfs:{alias}" for alias in VOLUME_ALIASES}
    kept = [area for area in areas if area.name not in aliases]
    return sorted(kept + volume_areas(catalogue.volumes, include_external=include_external),
                  key=lambda root: root.name)
