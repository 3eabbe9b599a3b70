"""The places of a fake workspace beyond /Users: Repos, shared uploads, the Hive
warehouse, mounts, an odd-named area, samples and volumes (add_whole_workspace)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from .model import Workspace
from .tree import LANGUAGES, DbfsTree, WorkspaceTree, join
from .names import DIR_BASES, FILE_BASES, MTIME_LO, NameCounter, random_mtime
from .reserved import MLFLOW_PLACES, VOLUME_ALIASES, add_reserved_dbfs_places

REPO_ONLY_NAME = "former.repo.owner@example.com"      # a removed user known by /Repos only
UPLOAD_ONLY_NAME = "former.uploader@example.com"      # ... and one known by its uploads only
HOMELESS_USER_NAME = "git.folder.only@example.com"    # added when no SCIM user lacks a home
ODD_AREA = "/odd area #1 %20 a+b é 实验"
MOUNTS = ("/mnt/datalake", "/mnt/archive")
WAREHOUSE = "/user/hive/warehouse"
REPO_NAMES = ("etl-pipelines", "ml models", "dbx inventory", "analytics#2", "données",
              "a+b tools", "infra-terraform", "实验 repo")
REPO_DIRS = ("src", "notebooks", "tests", "conf", "jobs")
DATABASES = ("sales", "ml_features", "raw_events", "finance")
TABLES = ("orders", "customers", "events", "daily_totals", "features_v2", "clicks",
          "invoices", "sessions")
DEFAULT_TABLES = ("tmp_scratch", "lookup_codes", "people10m")
ODD_AREA_FILES = ("read me #1.txt", "100% %20 literal.csv", "a+b=c.json",
                  "naïve 数据 🚀.parquet", "it's & why?.txt")
DATALAKE_DIRS = ("raw/sensors/2024", "raw/clickstream", "curated/sales",
                 "curated/customers", "exports")
ARCHIVE_DIRS = ("2019", "2020", "2021", "backups/erp db")


@dataclass
class WholeWorkspace:
    """What add_whole_workspace made: the names found beyond /Users and the paths a
    whole-workspace inventory must treat specially."""

    repo_owners: list[str]       # every name directly under /Repos: SCIM users, repo_only last
    upload_owners: list[str]     # every name under /FileStore/shared_uploads, upload_only last
    repo_only: str               # not SCIM, not a service principal, no home, only /Repos
    upload_only: str             # not SCIM, no home, no /Repos, only shared_uploads
    mounts: list[str]            # "/mnt/datalake", "/mnt/archive": most of the bytes
    skipped: list[str]           # DBFS paths never to list inside: mounts, samples, volumes
    warehouse_tables: list[str]  # every Delta table directory under /user/hive/warehouse
    odd_area: str                # the DBFS top-level directory with odd characters
    added_users: list[str] = field(default_factory=list)  # SCIM users added to fit the above


def add_whole_workspace(ws: Workspace, seed: int = 0, *,
                        mount_bytes: int = 50 * 2**40) -> WholeWorkspace:
    """Add every top-level place beyond /Users to both trees, identically for the same
    workspace and seed; record it in ws.whole and return it.

    /Repos folders go to about a third of the SCIM users (at least 2, one of them with no
    home anywhere: such a user is added to SCIM when there is none, and so is a second
    user when there are fewer than 2), UI uploads to a few. The mounts hold exactly
    mount_bytes in a few dozen files.
    """
    rng = random.Random(f"{seed}/whole")
    counter = NameCounter()
    added = _ensure_users(ws)
    users = [u.user_name for u in ws.users]
    order = {name: i for i, name in enumerate(users)}
    homes = {n.lower() for n in ws.home_names()}
    homeless = [n for n in users if n.lower() not in homes]
    repo_only = _free_name(ws, REPO_ONLY_NAME)
    upload_only = _free_name(ws, UPLOAD_ONLY_NAME, also=(repo_only,))

    first = rng.choice(homeless)
    n_repo = min(len(users), max(2, round(len(users) / 3)))
    chosen = [first] + rng.sample([n for n in users if n != first], n_repo - 1)
    repo_owners = sorted(chosen, key=order.__getitem__) + [repo_only]
    for name in repo_owners:
        stale = name == repo_only
        for _ in range(1 if stale else rng.choice((1, 1, 2))):
            _add_git_folder(ws.workspace, f"/Repos/{name}", rng, counter, stale)

    n_up = min(len(users), max(2, min(6, round(len(users) / 8))))
    upload_owners = sorted(rng.sample(users, n_up), key=order.__getitem__) + [upload_only]
    for name in upload_owners:
        _add_uploads(ws.dbfs, f"/FileStore/shared_uploads/{name}", rng, counter,
                     stale=name == upload_only)

    _add_shared_workspace(ws.workspace, rng, counter)
    _add_dbfs_shared(ws.dbfs, rng, counter, rng.choice(users))
    tables = _add_warehouse(ws.dbfs, rng)
    _add_odd_area(ws.dbfs, rng)
    ws.dbfs.add_file("/init_script.sh", size=rng.randint(200, 4000), mtime_ms=random_mtime(rng))
    _add_mounts(ws.dbfs, rng, mount_bytes)
    _add_samples_and_volume(ws.dbfs, rng)
    add_reserved_dbfs_places(ws)  # a real DBFS root shows them, its REST API refuses them

    whole = WholeWorkspace(
        repo_owners=repo_owners, upload_owners=upload_owners, repo_only=repo_only,
        upload_only=upload_only, mounts=list(MOUNTS),
        skipped=[*MOUNTS, "/databricks-datasets", *VOLUME_ALIASES, *MLFLOW_PLACES],
        warehouse_tables=tables, odd_area=ODD_AREA, added_users=added)
    ws.whole = whole
    return whole


def _taken_names(ws: Workspace) -> set[str]:
    """Every name (lower case) a new one must differ from: SCIM users, service principals'
    application ids, homes, /Repos owners and upload folders."""
    taken = {n.lower() for n in ws.users_by_name} | {n.lower() for n in ws.home_names()}
    taken |= {sp.application_id.lower() for sp in ws.service_principals}
    for tree, path in ((ws.workspace, "/Repos"), (ws.dbfs, "/FileStore/shared_uploads")):
        if path in tree.dirs:
            taken |= {n.lower() for n in tree.dirs[path].subdirs}
    return taken


def _free_name(ws: Workspace, name: str, also: tuple[str, ...] = ()) -> str:
    """name, or name with a number before the '@', unused by anyone in ws."""
    taken = _taken_names(ws) | {a.lower() for a in also}
    local, _, domain = name.partition("@")
    k, candidate = 1, name
    while candidate.lower() in taken:
        k += 1
        candidate = f"{local}{k}@{domain}"
    return candidate


def _ensure_users(ws: Workspace) -> list[str]:
    """Add SCIM users (no homes) until one has no home and there are at least 2."""
    added: list[str] = []
    homes = {n.lower() for n in ws.home_names()}
    if all(u.user_name.lower() in homes for u in ws.users):
        added.append(ws.add_user(_free_name(ws, HOMELESS_USER_NAME)).user_name)
    while len(ws.users) < 2:
        added.append(ws.add_user(_free_name(ws, "whole.user@example.com")).user_name)
    return added


def _ws_timed(tree: WorkspaceTree, path: str, rng: random.Random, stale: bool) -> None:
    """A notebook or a sized FILE at path (its name gets an extension when a FILE)."""
    mtime = (MTIME_LO + rng.randrange(0, 10**10)) if stale else random_mtime(rng)
    created = mtime - rng.randrange(0, 10**10)
    if rng.random() < 0.5:
        tree.add_notebook(path, rng.choice(LANGUAGES[1:]), mtime_ms=mtime, created_ms=created)
    else:
        tree.add_file(path + rng.choice((".py", ".sql", ".yml", ".md")),
                      size=min(int(rng.lognormvariate(8, 1.5)), 5 * 2**20),
                      mtime_ms=mtime, created_ms=created)


def _add_git_folder(tree: WorkspaceTree, owner: str, rng: random.Random, counter: NameCounter,
                    stale: bool) -> None:
    repo = tree.add_repo(join(owner, f"{rng.choice(REPO_NAMES)} {counter()}"))
    mtime = (MTIME_LO + rng.randrange(0, 10**10)) if stale else random_mtime(rng)
    tree.add_file(join(repo.path, "README.md"), size=rng.randint(200, 8000), mtime_ms=mtime)
    for _ in range(rng.randint(1, 2)):
        _ws_timed(tree, join(repo.path, f"{rng.choice(FILE_BASES)} {counter()}"), rng, stale)
    for sub in rng.sample(REPO_DIRS, rng.randint(1, 2)):
        d = tree.mkdir(join(repo.path, sub))
        for _ in range(rng.randint(1, 4)):
            _ws_timed(tree, join(d.path, f"{rng.choice(FILE_BASES)} {counter()}"), rng, stale)


def _add_uploads(tree: DbfsTree, base: str, rng: random.Random, counter: NameCounter,
                 stale: bool) -> None:
    """UI uploads: a few csv/parquet files, now and then in a subfolder."""
    d = tree.mkdir(base)
    dirs = [d] + ([tree.mkdir(join(base, f"{rng.choice(DIR_BASES)} {counter()}"))]
                  if rng.random() < 0.5 else [])
    for _ in range(rng.randint(2, 5)):
        ext = rng.choice((".csv", ".csv", ".parquet", ".json", ".xlsx"))
        mtime = (MTIME_LO + rng.randrange(0, 10**10)) if stale else random_mtime(rng)
        tree.add_file(join(rng.choice(dirs).path, f"{rng.choice(FILE_BASES)}_{counter()}{ext}"),
                      size=min(int(rng.lognormvariate(13, 2)), 2 * 2**30), mtime_ms=mtime)


def _add_shared_workspace(tree: WorkspaceTree, rng: random.Random, counter: NameCounter) -> None:
    """/Shared: notebooks, sized files, a subfolder, an untimed object, an empty folder."""
    shared = tree.mkdir("/Shared")
    tree.add_notebook("/Shared/README", "PYTHON", mtime_ms=random_mtime(rng))
    for sub in ("Onboarding", "team data #1", "Onboarding/advanced é"):
        d = tree.mkdir(join(shared.path, sub))
        for _ in range(rng.randint(2, 4)):
            _ws_timed(tree, join(d.path, f"{rng.choice(FILE_BASES)} {counter()}"), rng, False)
    tree.add_file("/Shared/team data #1/lookup.csv", size=rng.randint(10_000, 900_000),
                  mtime_ms=random_mtime(rng))
    tree.add_object("/Shared/Sales dashboard", "DASHBOARD")
    tree.mkdir("/Shared/empty folder")


def _add_dbfs_shared(tree: DbfsTree, rng: random.Random, counter: NameCounter,
                     someone: str) -> None:
    """/FileStore tables, jars and plots, /tmp, /user/<someone>, /databricks-results,
    /databricks/init."""
    def add(path: str, lo: int, hi: int) -> None:
        tree.add_file(path, size=rng.randint(lo, hi), mtime_ms=random_mtime(rng))

    for _ in range(rng.randint(3, 5)):
        add(f"/FileStore/tables/{rng.choice(FILE_BASES)}_{counter()}.csv", 1000, 50 * 2**20)
    for lib in ("delta-sharing-client_2.12-1.0.jar", "my_udfs-0.3.1-py3-none-any.whl"):
        add(f"/FileStore/jars/{_uuid(rng)}/{lib}", 50_000, 30 * 2**20)
    for _ in range(2):
        add(f"/FileStore/plots/{_uuid(rng)}.png", 5_000, 400_000)
    for _ in range(rng.randint(2, 4)):
        add(f"/tmp/{rng.choice(FILE_BASES)}_{counter()}.json", 0, 10 * 2**20)
    for k in range(3):
        add(f"/tmp/checkpoints/stream 1/offsets/{k}", 100, 600)
    tree.mkdir("/tmp/empty")
    for _ in range(rng.randint(2, 4)):
        add(f"/user/{someone}/scratch/{rng.choice(FILE_BASES)}_{counter()}.parquet",
            2**20, 200 * 2**20)
    for _ in range(2):
        add(f"/databricks-results/{_uuid(rng)}/part-00000.csv", 1000, 5 * 2**20)
    add("/databricks/init/global-setup.sh", 100, 3000)
    add("/databricks/init/fake-0101-cluster/install libs.sh", 100, 3000)


def _add_warehouse(tree: DbfsTree, rng: random.Random) -> list[str]:
    """2-3 databases of 1-3 Delta tables each, and 1-2 tables of `default` right below."""
    tables: list[str] = []
    for db in rng.sample(DATABASES, rng.randint(2, 3)):
        for name in rng.sample(TABLES, rng.randint(1, 3)):
            tables.append(f"{WAREHOUSE}/{db}.db/{name}")
    tables += [f"{WAREHOUSE}/{name}" for name in rng.sample(DEFAULT_TABLES, rng.randint(1, 2))]
    for k, path in enumerate(tables):
        _add_delta_table(tree, path, rng, partitioned=k == 0)
    return tables


def _add_delta_table(tree: DbfsTree, path: str, rng: random.Random, partitioned: bool) -> None:
    tree.mkdir(path)
    base = random_mtime(rng)
    for v in range(rng.randint(3, 4)):
        tree.add_file(f"{path}/_delta_log/{v:020d}.json", size=rng.randint(900, 24_000),
                      mtime_ms=base + v * 3_600_000)
    part_dirs = ([f"{path}/event_date=2024-05-0{d}" for d in range(1, rng.randint(3, 4))]
                 if partitioned else [path])
    for d in part_dirs:
        for n in range(rng.randint(2, 5)):
            size = min(max(int(rng.lognormvariate(18.7, 1.3)), 2**20), 4 * 2**30)
            tree.add_file(f"{d}/part-{n:05d}-{_uuid(rng)}.snappy.parquet", size=size,
                          mtime_ms=base + rng.randrange(0, 10_800_000))


def _add_odd_area(tree: DbfsTree, rng: random.Random) -> None:
    for name in ODD_AREA_FILES:
        tree.add_file(join(ODD_AREA, name), size=rng.randint(0, 100_000),
                      mtime_ms=random_mtime(rng))
    tree.add_file(join(ODD_AREA, "sub #2 + é/deep 数据.csv"), size=rng.randint(1, 9999),
                  mtime_ms=random_mtime(rng))


def _add_mounts(tree: DbfsTree, rng: random.Random, mount_bytes: int) -> None:
    """A few dozen files holding exactly mount_bytes between the two mounts."""
    paths: list[list[str]] = [[], []]
    for sub in DATALAKE_DIRS:
        ext = rng.choice((".parquet", ".avro", ".json.gz"))
        paths[0] += [f"{MOUNTS[0]}/{sub}/part-{k:05d}{ext}" for k in range(rng.randint(3, 5))]
    for sub in ARCHIVE_DIRS:
        paths[1] += [f"{MOUNTS[1]}/{sub}/backup-{k}.tar.gz" for k in range(rng.randint(2, 4))]
    lake = mount_bytes * rng.randint(55, 75) // 100
    for files, total in zip(paths, (lake, mount_bytes - lake), strict=True):
        for path, size in zip(files, _split(total, len(files), rng), strict=True):
            tree.add_file(path, size=size, mtime_ms=random_mtime(rng))


def _split(total: int, n: int, rng: random.Random) -> list[int]:
    """n random non-negative sizes adding up to exactly total."""
    weights = [rng.randint(200, 1000) for _ in range(n)]
    sizes = [total * w // sum(weights) for w in weights]
    sizes[-1] += total - sum(sizes)
    return sizes


def _add_samples_and_volume(tree: DbfsTree, rng: random.Random) -> None:
    """/databricks-datasets (read-only samples) and a Unity Catalog volume."""
    for path in ("/databricks-datasets/README.md",
                 "/databricks-datasets/airlines/part-00000",
                 "/databricks-datasets/airlines/part-00001",
                 "/databricks-datasets/nyctaxi/tripdata/yellow/yellow_tripdata_2019-01.csv.gz",
                 "/databricks-datasets/nyctaxi/tripdata/yellow/yellow_tripdata_2019-02.csv.gz",
                 "/databricks-datasets/samples/population-vs-price/data_geo.csv",
                 "/Volumes/main/default/landing/incoming/2025-05-01/orders_1.json",
                 "/Volumes/main/default/landing/incoming/2025-05-01/orders_2.json",
                 "/Volumes/main/default/landing/reference/countries.csv"):
        tree.add_file(path, size=rng.randint(1000, 500 * 2**20), mtime_ms=random_mtime(rng))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
