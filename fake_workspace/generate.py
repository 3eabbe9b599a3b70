"""Deterministic workspace generators: a realistic varied mix, or a uniform benchmark shape."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from .model import (DBFS_DIR, DEFAULT_MTIME_MS, FILE, LANGUAGES, NOTEBOOK, REPO, DbfsTree, Dir,
                    Tree, Workspace, WorkspaceTree, home_path, join)
from .reserved import MLFLOW_PLACES, VOLUME_ALIASES, add_reserved_dbfs_places

# Usernames that exercise URL encoding and unicode; the first users always take these.
ODD_USER_STYLES = (
    "{first}+{tag}{i}@example.com",
    "{first}.o'{last}{i}@example.com",
    "josé.núñez{i}@example.com",
    "李雷{i}@example.cn",
    "dev🙂{i}@example.com",
    "r&d.team{i}@example.com",
    "100%.sure{i}@example.com",
    "who?{i}@example.com",
    "hash#{i}@example.com",
    "{first}={last}{i}@example.com",  # '=' needs encoding in a query (no spaces:
                                      # a user name with whitespace is refused)
    "Zoë.Ångström{i}@example.com",
)
PLAIN_USER_STYLE = "{first}.{last}{i}@example.com"
FIRST = ("ana", "ben", "chloe", "dev", "emma", "farid", "gita", "hugo", "ines", "jon", "kai",
         "lea", "mo", "nia", "omar", "pia", "quinn", "raj", "sara", "tom", "uma", "vic")
LAST = ("smith", "garcia", "kim", "nguyen", "muller", "rossi", "silva", "khan", "sato", "brown")
TAGS = ("test", "dev", "ops", "ml")

FILE_BASES = ("report 2024", "data#1", "a+b", "o'neil notes", "100% done", "R&D plan", "what?",
              "café", "naïve résumé", "数据", "データ", "🚀 launch", "notes", "train", "etl_job",
              "part-00000", "model v2", "Ωmega", "x", "summary")
FILE_EXTS = (".csv", ".parquet", ".json", ".txt", ".py", ".md", ".whl", "")
DIR_BASES = ("data", "raw", "2024", "my folder", "proj#7", "a+b", "tmp", "résultats", "实验",
             "📁 stuff", "it's here", "50%", "Q&A", "why?", "src", "exports")
# Workspace object types with weights; MLFLOW_EXPERIMENT stands for any type a client
# does not know and must count as an ordinary object.
WS_TYPES = ((NOTEBOOK, 45), (FILE, 40), ("LIBRARY", 5), ("DASHBOARD", 5),
            ("MLFLOW_EXPERIMENT", 5))

MTIME_LO = 1_546_300_800_000  # 2019-01-01
MTIME_HI = 1_748_736_000_000  # 2025-06-01


def generate_workspace(n_users: int, seed: int = 0, *,
                       files_per_user: tuple[int, int] = (0, 40),
                       missing_dbfs: float = 0.08, missing_workspace: float = 0.05,
                       missing_both: float = 0.03, empty_homes: float = 0.08,
                       deep_trees: float = 0.06, max_depth: int = 18,
                       forbidden_subtrees: float = 0.04, repos: float = 0.3,
                       inactive: float = 0.02, large_dirs: int = 1,
                       large_dir_size: int = 2500,
                       removed_users: float = 0.05, service_principals: int = 1,
                       cluster_id: str | None = "0101-000000-fakeclus",
                       whole_workspace: bool = False) -> Workspace:
    """A realistic, varied workspace, identical for the same arguments.

    Each fraction gives at least one user when it is > 0 and there are enough users;
    users keep their odd names first, so even a 12-user workspace shows every case.
    Removed users (homes left under /Users, absent from SCIM) and service principals
    (homes named by application id) come last, from their own random stream, so the
    SCIM users' trees do not depend on them. whole_workspace=True then adds the places
    beyond homes (add_whole_workspace; what it made is ws.whole), also from a stream of
    its own, so every home is the same with it or without.
    """
    rng = random.Random(seed)
    ws = Workspace()
    if cluster_id:
        ws.add_cluster(cluster_id, state="RUNNING", num_workers=2)
    names = [_user_name(i, rng) for i in range(n_users)]
    ids: set[str] = set()
    for name in names:
        uid = str(rng.randrange(10**14, 10**15))
        while uid in ids:
            uid = str(rng.randrange(10**14, 10**15))
        ids.add(uid)
        ws.add_user(name, user_id=uid)

    order = rng.sample(range(n_users), n_users)
    homes = {i: "both" for i in range(n_users)}
    pos = 0
    for kind, frac in (("none", missing_both), ("workspace_only", missing_dbfs),
                       ("dbfs_only", missing_workspace), ("empty", empty_homes)):
        for i in order[pos:pos + _quota(n_users, frac)]:
            homes[i] = kind
        pos += _quota(n_users, frac)
    full = order[pos:] or [i for i in order if homes[i] == "both"]
    deep = set(rng.sample(full, min(len(full), _quota(n_users, deep_trees))))
    forbidden = set(rng.sample(full, min(len(full), _quota(n_users, forbidden_subtrees))))
    large = set(rng.sample(full, min(len(full), large_dirs)))
    for i in rng.sample(range(n_users), min(n_users, _quota(n_users, inactive))):
        ws.users[i].active = False

    for i, name in enumerate(names):
        kind = homes[i]
        home = home_path(name)
        urng = random.Random(f"{seed}/{i}")
        counter = _Counter()
        has_dbfs = kind in ("both", "dbfs_only", "empty")
        has_ws = kind in ("both", "workspace_only", "empty")
        dbfs_home = ws.dbfs.mkdir(home) if has_dbfs else None
        ws_home = ws.workspace.mkdir(home) if has_ws else None
        if kind == "empty":
            continue
        n_files = urng.randint(*files_per_user)
        n_dbfs = urng.randint(0, n_files) if dbfs_home and ws_home else n_files
        if dbfs_home is not None:
            _fill(ws.dbfs, dbfs_home, n_dbfs, urng, counter, _dbfs_file)
        if ws_home is not None:
            _fill(ws.workspace, ws_home, n_files - n_dbfs if dbfs_home else n_files, urng,
                  counter, _ws_object)
            if urng.random() < repos:
                _add_repo(ws, ws_home, urng, counter)
        targets = [(t, d) for t, d in ((ws.dbfs, dbfs_home), (ws.workspace, ws_home)) if d]
        if i in deep and targets:
            tree, top = urng.choice(targets)
            _add_deep(tree, top, urng, counter, max_depth)
        if i in forbidden and targets:
            tree, top = urng.choice(targets)
            _add_forbidden(tree, top, urng, counter)
        if i in large and targets:
            tree, top = targets[0]
            _add_large(tree, top, urng, large_dir_size)
    _add_left_behind(ws, seed, _quota(n_users, removed_users), service_principals)
    if whole_workspace:
        add_whole_workspace(ws, seed)
    return ws


def generate_uniform(n_users: int, dirs_per_user: int, files_per_dir: int, seed: int = 0, *,
                     dbfs: bool = True, workspace: bool = True, file_size: int = 1024,
                     cluster_id: str | None = "0101-000000-fakeclus") -> Workspace:
    """A predictable shape: every user has a home in each enabled tree holding dirs_per_user
    flat subdirectories of files_per_dir files each (workspace objects alternate FILE and
    NOTEBOOK). Listings per user = (1 + dirs_per_user) * trees; cheap enough for 1M files.
    """
    ws = Workspace()
    if cluster_id:
        ws.add_cluster(cluster_id, state="RUNNING", num_workers=2)
    # Shared name objects keep a million entries at a few dozen bytes each.
    dir_names = [f"dir_{d:03d}" for d in range(dirs_per_user)]
    file_names = [f"file_{k:05d}.csv" for k in range(files_per_dir)]
    nb_names = [f"notebook_{k:05d}" for k in range(files_per_dir)]
    trees = ([ws.dbfs] if dbfs else []) + ([ws.workspace] if workspace else [])
    file_code = ws.workspace.kind_code(FILE)
    nb_code = ws.workspace.kind_code(NOTEBOOK)
    for i in range(n_users):
        name = f"user{i:05d}@example.com"
        ws.add_user(name, user_id=str(10**14 + seed * 10**6 + i))
        base = DEFAULT_MTIME_MS - ((i * 7919 + seed * 104729) % 31_536_000) * 1000
        for tree in trees:
            home = tree.mkdir(home_path(name))
            is_ws = tree is ws.workspace
            for d, dname in enumerate(dir_names):
                sub = tree._child_dir(home, dname, tree.dir_kind)
                for k in range(files_per_dir):
                    mtime = base + (d * files_per_dir + k) * 1000
                    if is_ws and k % 2:
                        tree._append(sub, nb_names[k], nb_code, 0, mtime, mtime, 1)
                    else:
                        tree._append(sub, file_names[k], file_code, file_size, mtime, mtime)
    return ws


# -- helpers ---------------------------------------------------------------------------

class _Counter:
    """Per-user suffix source so generated names never collide within a directory."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n


def _quota(n_users: int, frac: float) -> int:
    if frac <= 0 or n_users < 2:
        return 0
    return max(1, round(n_users * frac))


def _user_name(i: int, rng: random.Random) -> str:
    if i < len(ODD_USER_STYLES):
        style = ODD_USER_STYLES[i]
    elif rng.random() < 0.7:
        style = PLAIN_USER_STYLE
    else:
        style = rng.choice(ODD_USER_STYLES)
    return style.format(first=rng.choice(FIRST), last=rng.choice(LAST), tag=rng.choice(TAGS),
                        i=i)


def _mtime(rng: random.Random) -> int:
    return rng.randrange(MTIME_LO, MTIME_HI)


def _file_name(rng: random.Random, counter: _Counter) -> str:
    return f"{rng.choice(FILE_BASES)}_{counter()}{rng.choice(FILE_EXTS)}"


def _dir_name(rng: random.Random, counter: _Counter) -> str:
    return f"{rng.choice(DIR_BASES)} {counter()}"


def _dbfs_file(tree: Tree, d: Dir, rng: random.Random, counter: _Counter) -> None:
    size = 0 if rng.random() < 0.05 else min(int(rng.lognormvariate(9, 3)), 50 * 2**30)
    mtime = _mtime(rng)
    tree._append(d, _file_name(rng, counter), 0, size, mtime, mtime)


def _ws_object(tree: Tree, d: Dir, rng: random.Random, counter: _Counter) -> None:
    kind = rng.choices([k for k, _ in WS_TYPES], [w for _, w in WS_TYPES])[0]
    code = tree.kind_code(kind)
    if kind == NOTEBOOK:
        mtime = _mtime(rng)
        name = f"{rng.choice(FILE_BASES)} {counter()}"
        tree._append(d, name, code, 0, mtime, mtime - rng.randrange(0, 10**10),
                     rng.randrange(1, len(LANGUAGES)))
    elif kind == FILE:
        mtime = _mtime(rng)
        size = min(int(rng.lognormvariate(7, 2)), 500 * 2**20)
        tree._append(d, _file_name(rng, counter), code, size, mtime,
                     mtime - rng.randrange(0, 10**10))
    else:
        tree._append(d, f"{rng.choice(FILE_BASES)} {kind.lower()} {counter()}", code, 0, 0, 0)


def _fill(tree: Tree, home: Dir, n_files: int, rng: random.Random, counter: _Counter,
          add_one) -> None:
    """Spread n_files over a random tree of subdirectories below home."""
    dirs = [home]
    for _ in range(n_files):
        if rng.random() < 0.2:
            parent = rng.choice(dirs)
            dirs.append(tree._child_dir(parent, _dir_name(rng, counter), tree.dir_kind))
        add_one(tree, rng.choice(dirs), rng, counter)
    if rng.random() < 0.15:  # an empty subdirectory now and then
        tree._child_dir(rng.choice(dirs), _dir_name(rng, counter), tree.dir_kind)


def _add_repo(ws: Workspace, home: Dir, rng: random.Random, counter: _Counter) -> None:
    tree = ws.workspace
    repo = tree._child_dir(home, f"repo {rng.choice(DIR_BASES)} {counter()}", REPO)
    inner = tree._child_dir(repo, f"src {counter()}", tree.dir_kind)
    for d in (repo, repo, inner, inner, inner):
        _ws_object(tree, d, rng, counter)


def _add_left_behind(ws: Workspace, seed: int, removed: int, principals: int) -> None:
    """Homes of removed users (one or both file systems, files last touched long ago)
    and service principals with a Workspace home named by their application id."""
    rng = random.Random(f"{seed}/left-behind")
    counter = _Counter()
    for k in range(removed):
        name = f"former.{rng.choice(FIRST)}.{rng.choice(LAST)}{k}@example.com"
        where = ("both", "dbfs", "workspace")[k % 3]
        stale = k % 2 == 0  # half of them untouched for years: stale as well as orphaned
        for tree, kind in ((ws.dbfs, "dbfs"), (ws.workspace, "workspace")):
            if where not in (kind, "both"):
                continue
            home = tree.mkdir(home_path(name))
            for _ in range(rng.randint(3, 12)):
                size = min(int(rng.lognormvariate(14, 2)), 20 * 2**30)
                mtime = (MTIME_LO + rng.randrange(0, 10**10)) if stale else _mtime(rng)
                tree._append(home, _file_name(rng, counter), tree.kind_code(FILE), size,
                             mtime, mtime)
    for k in range(principals):
        app_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        ws.add_service_principal(app_id, f"etl-service-principal-{k}")
        home = ws.workspace.mkdir(home_path(app_id))
        for _ in range(rng.randint(2, 6)):
            _ws_object(ws.workspace, home, rng, counter)


def _add_deep(tree: Tree, top: Dir, rng: random.Random, counter: _Counter,
              max_depth: int) -> None:
    add_one = _dbfs_file if tree.dir_kind == DBFS_DIR else _ws_object
    d = top
    for _ in range(rng.randint(min(15, max_depth), max_depth)):
        d = tree._child_dir(d, f"level {counter()}", tree.dir_kind)
        if rng.random() < 0.2:
            add_one(tree, d, rng, counter)
    add_one(tree, d, rng, counter)


def _add_forbidden(tree: Tree, top: Dir, rng: random.Random, counter: _Counter) -> None:
    add_one = _dbfs_file if tree.dir_kind == DBFS_DIR else _ws_object
    secret = tree._child_dir(top, f"restricted {counter()}", tree.dir_kind)
    inner = tree._child_dir(secret, f"inner {counter()}", tree.dir_kind)
    for d in (secret, secret, inner):
        add_one(tree, d, rng, counter)
    tree.forbid(secret.path)


def _add_large(tree: Tree, top: Dir, rng: random.Random, size: int) -> None:
    big = tree._child_dir(top, "big dir", tree.dir_kind)
    is_ws = tree.dir_kind != DBFS_DIR
    code = tree.kind_code(FILE)
    base = _mtime(rng)
    for k in range(size):
        tree._append(big, f"part-{k:05d}.json", code if is_ws else 0,
                     1000 + k, base + k, base + k)


# -- beyond homes: the whole workspace -------------------------------------------------

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
    counter = _Counter()
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
    ws.dbfs.add_file("/init_script.sh", size=rng.randint(200, 4000), mtime_ms=_mtime(rng))
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
    mtime = (MTIME_LO + rng.randrange(0, 10**10)) if stale else _mtime(rng)
    created = mtime - rng.randrange(0, 10**10)
    if rng.random() < 0.5:
        tree.add_notebook(path, rng.choice(LANGUAGES[1:]), mtime_ms=mtime, created_ms=created)
    else:
        tree.add_file(path + rng.choice((".py", ".sql", ".yml", ".md")),
                      size=min(int(rng.lognormvariate(8, 1.5)), 5 * 2**20),
                      mtime_ms=mtime, created_ms=created)


def _add_git_folder(tree: WorkspaceTree, owner: str, rng: random.Random, counter: _Counter,
                    stale: bool) -> None:
    repo = tree.add_repo(join(owner, f"{rng.choice(REPO_NAMES)} {counter()}"))
    mtime = (MTIME_LO + rng.randrange(0, 10**10)) if stale else _mtime(rng)
    tree.add_file(join(repo.path, "README.md"), size=rng.randint(200, 8000), mtime_ms=mtime)
    for _ in range(rng.randint(1, 2)):
        _ws_timed(tree, join(repo.path, f"{rng.choice(FILE_BASES)} {counter()}"), rng, stale)
    for sub in rng.sample(REPO_DIRS, rng.randint(1, 2)):
        d = tree.mkdir(join(repo.path, sub))
        for _ in range(rng.randint(1, 4)):
            _ws_timed(tree, join(d.path, f"{rng.choice(FILE_BASES)} {counter()}"), rng, stale)


def _add_uploads(tree: DbfsTree, base: str, rng: random.Random, counter: _Counter,
                 stale: bool) -> None:
    """UI uploads: a few csv/parquet files, now and then in a subfolder."""
    d = tree.mkdir(base)
    dirs = [d] + ([tree.mkdir(join(base, f"{rng.choice(DIR_BASES)} {counter()}"))]
                  if rng.random() < 0.5 else [])
    for _ in range(rng.randint(2, 5)):
        ext = rng.choice((".csv", ".csv", ".parquet", ".json", ".xlsx"))
        mtime = (MTIME_LO + rng.randrange(0, 10**10)) if stale else _mtime(rng)
        tree.add_file(join(rng.choice(dirs).path, f"{rng.choice(FILE_BASES)}_{counter()}{ext}"),
                      size=min(int(rng.lognormvariate(13, 2)), 2 * 2**30), mtime_ms=mtime)


def _add_shared_workspace(tree: WorkspaceTree, rng: random.Random, counter: _Counter) -> None:
    """/Shared: notebooks, sized files, a subfolder, an untimed object, an empty folder."""
    shared = tree.mkdir("/Shared")
    tree.add_notebook("/Shared/README", "PYTHON", mtime_ms=_mtime(rng))
    for sub in ("Onboarding", "team data #1", "Onboarding/advanced é"):
        d = tree.mkdir(join(shared.path, sub))
        for _ in range(rng.randint(2, 4)):
            _ws_timed(tree, join(d.path, f"{rng.choice(FILE_BASES)} {counter()}"), rng, False)
    tree.add_file("/Shared/team data #1/lookup.csv", size=rng.randint(10_000, 900_000),
                  mtime_ms=_mtime(rng))
    tree.add_object("/Shared/Sales dashboard", "DASHBOARD")
    tree.mkdir("/Shared/empty folder")


def _add_dbfs_shared(tree: DbfsTree, rng: random.Random, counter: _Counter, someone: str) -> None:
    """/FileStore tables, jars and plots, /tmp, /user/<someone>, /databricks-results,
    /databricks/init."""
    def add(path: str, lo: int, hi: int) -> None:
        tree.add_file(path, size=rng.randint(lo, hi), mtime_ms=_mtime(rng))

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
    base = _mtime(rng)
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
        tree.add_file(join(ODD_AREA, name), size=rng.randint(0, 100_000), mtime_ms=_mtime(rng))
    tree.add_file(join(ODD_AREA, "sub #2 + é/deep 数据.csv"), size=rng.randint(1, 9999),
                  mtime_ms=_mtime(rng))


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
            tree.add_file(path, size=size, mtime_ms=_mtime(rng))


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
        tree.add_file(path, size=rng.randint(1000, 500 * 2**20), mtime_ms=_mtime(rng))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
