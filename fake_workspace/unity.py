"""Unity Catalog in the fake: catalogs, schemas, volumes, and the files inside volumes.

The files of every volume live in one tree, at the paths the Files API names them by
(`/Volumes/<catalog>/<schema>/<volume>/...`). The objects (catalogs, schemas, volumes)
are kept in order, as the Unity Catalog API lists them. add_unity_catalog builds a
varied metastore, identical for the same workspace and seed.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from .model import Workspace
from .tree import DbfsTree, join

MANAGED, EXTERNAL = "MANAGED", "EXTERNAL"
# The server's own page length of the Unity Catalog lists: small, so that every list the
# fake serves is paged (the API caps max_results at a server-configured value).
UC_PAGE = 3
FILES_PAGE_MAX = 1000  # the Files API's most entries in one page
MTIME_LO = 1_672_531_200_000  # 2023-01-01
MTIME_HI = 1_748_736_000_000  # 2025-06-01


@dataclass
class Volume:
    catalog: str
    schema: str
    name: str
    owner: str
    volume_type: str = MANAGED
    storage_location: str = ""
    volume_id: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.name}"

    @property
    def path(self) -> str:
        return f"/Volumes/{self.catalog}/{self.schema}/{self.name}"

    def to_api(self) -> dict:
        return {"catalog_name": self.catalog, "schema_name": self.schema, "name": self.name,
                "full_name": self.full_name, "owner": self.owner,
                "volume_type": self.volume_type, "storage_location": self.storage_location,
                "volume_id": self.volume_id, "metastore_id": "fake-metastore",
                "created_at": MTIME_LO, "updated_at": MTIME_LO}


@dataclass
class Schema:
    catalog: str
    name: str
    owner: str
    forbidden: bool = False  # listing its volumes answers 403
    volumes: list[Volume] = field(default_factory=list)

    def to_api(self) -> dict:
        return {"catalog_name": self.catalog, "name": self.name,
                "full_name": f"{self.catalog}.{self.name}", "owner": self.owner}


@dataclass
class Catalog:
    name: str
    owner: str
    forbidden: bool = False  # listing its schemas answers 403
    schemas: list[Schema] = field(default_factory=list)

    def to_api(self) -> dict:
        return {"name": self.name, "full_name": self.name, "owner": self.owner,
                "catalog_type": "MANAGED_CATALOG"}


class UnityCatalog:
    """A metastore: catalogs in order, and one tree with the files of every volume."""

    def __init__(self) -> None:
        self.catalogs: list[Catalog] = []
        self.files = DbfsTree()
        self.page = UC_PAGE
        self.files_page = FILES_PAGE_MAX  # tests may lower it to make many pages
        self._ids = 0

    def catalog(self, name: str) -> Catalog | None:
        return next((c for c in self.catalogs if c.name == name), None)

    def schema(self, catalog: str, name: str) -> Schema | None:
        found = self.catalog(catalog)
        return next((s for s in found.schemas if s.name == name), None) if found else None

    def add_catalog(self, name: str, owner: str, *, forbidden: bool = False) -> Catalog:
        catalog = Catalog(name, owner, forbidden)
        self.catalogs.append(catalog)
        # Every catalog has these two schemas (information_schema holds no volumes).
        self.add_schema(name, "default", owner)
        self.add_schema(name, "information_schema", "System user")
        return catalog

    def add_schema(self, catalog: str, name: str, owner: str, *,
                   forbidden: bool = False) -> Schema:
        schema = Schema(catalog, name, owner, forbidden)
        found = self.catalog(catalog)
        assert found is not None, catalog
        found.schemas.append(schema)
        return schema

    def add_volume(self, catalog: str, schema: str, name: str, owner: str, *,
                   external: str = "", forbidden: bool = False) -> Volume:
        """A volume (EXTERNAL when given its storage location); its folder exists, empty.
        `forbidden`: the Files API answers 403 for it."""
        self._ids += 1
        vid = str(uuid.UUID(int=self._ids, version=4))
        location = external or f"s3://fake-metastore-root/metastore/volumes/{vid}"
        volume = Volume(catalog, schema, name, owner, EXTERNAL if external else MANAGED,
                        location, vid)
        found = self.schema(catalog, schema)
        assert found is not None, (catalog, schema)
        found.volumes.append(volume)
        if forbidden:
            self.files.forbid(volume.path)
        else:
            self.files.mkdir(volume.path)
        return volume

    def volumes(self) -> list[Volume]:
        return [v for c in self.catalogs for s in c.schemas for v in s.volumes]


# Names a client must carry through URLs intact (a Files API path is in the URL's path).
ODD_FILES = ("read me #1.txt", "100% %20 literal.csv", "a+b=c.json", "naïve 数据 🚀.parquet",
             "it's & why?.txt", "semi;colon,comma.csv")


def add_unity_catalog(ws: Workspace, seed: int = 0, *, big_volume_files: int = 2400
                      ) -> UnityCatalog:
    """A metastore with managed and external volumes owned by a user, a group and a
    service principal; a catalog with no volumes; a catalog and a schema the token
    cannot read; a volume the Files API refuses (403); an empty volume; one volume of
    `big_volume_files` files (several pages); odd characters in names. ws.unity."""
    rng = random.Random(f"{seed}/unity")
    users = [u.user_name for u in ws.users] or ["uc.owner@example.com"]
    if not ws.service_principals:
        ws.add_service_principal(str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                 "volumes-etl")
    sp = ws.service_principals[0].application_id
    group = "data-engineers"
    uc = ws.unity = UnityCatalog()
    tree = uc.files

    def fill(volume: Volume, n: int, dirs: tuple[str, ...], lo: int = 100,
             hi: int = 50 * 2**20) -> None:
        for k in range(n):
            folder = join(volume.path, rng.choice(dirs)) if dirs else volume.path
            tree.add_file(f"{folder}/part-{k:05d}.parquet", size=rng.randint(lo, hi),
                          mtime_ms=rng.randrange(MTIME_LO, MTIME_HI))

    uc.add_catalog("main", group)
    landing = uc.add_volume("main", "default", "landing", users[0])
    fill(landing, 12, ("incoming/2025-05-01", "incoming/2025-05-02", "reference"))
    tree.mkdir(join(landing.path, "archive/empty"))
    odd = uc.add_volume("main", "default", "données-brutes", group)
    for name in ODD_FILES:
        tree.add_file(join(odd.path, name), size=rng.randint(0, 100_000),
                      mtime_ms=rng.randrange(MTIME_LO, MTIME_HI))
    tree.add_file(join(odd.path, "sub #2 + é/deep 数据.csv"), size=rng.randint(1, 9999),
                  mtime_ms=rng.randrange(MTIME_LO, MTIME_HI))
    uc.add_volume("main", "default", "empty_volume", users[-1])
    uc.add_schema("main", "finance", group)
    payroll = uc.add_volume("main", "finance", "payroll", sp, forbidden=True)
    fill(payroll, 5, ("2025",))
    reports = uc.add_volume("main", "finance", "reports", users[min(1, len(users) - 1)],
                            external="s3://acme-finance/reports")
    fill(reports, 8, ("q1", "q2"), lo=10**6, hi=10**9)
    uc.add_schema("main", "hr", group, forbidden=True)

    uc.add_catalog("ml", sp)
    uc.add_schema("ml", "features", sp)
    images = uc.add_volume("ml", "features", "training_images", sp)
    # Most in one folder: more than a page of the Files API.
    fill(images, big_volume_files, ("cats",) * 4 + ("dogs", "cats/kittens", "unlabelled"),
         lo=1_000, hi=400_000)
    models = uc.add_volume("ml", "default", "models", group,
                           external="abfss://models@acmelake.dfs.core.windows.net/prod")
    fill(models, 4, ("v1", "v2"), lo=10**6, hi=10**8)
    uc.add_schema("ml", "empty_schema", sp)

    uc.add_catalog("analytics", users[0])  # no volumes at all
    uc.add_catalog("restricted", group, forbidden=True)
    uc.add_volume("restricted", "default", "secrets", group)
    return uc
