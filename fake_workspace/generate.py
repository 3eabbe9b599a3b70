"""Deterministic workspace generators: a realistic varied mix, or a uniform benchmark shape."""

from __future__ import annotations

import random
import uuid

from .model import Workspace, home_path
from .tree import DBFS_DIR, DEFAULT_MTIME_MS, FILE, LANGUAGES, NOTEBOOK, REPO, Dir, Tree
from .names import (DIR_BASES, FILE_BASES, FILE_EXTS, FIRST, LAST, MTIME_LO, ODD_USER_STYLES,
                    PLAIN_USER_STYLE, TAGS, WS_TYPES, NameCounter, random_mtime)
from .whole import add_whole_workspace


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
        counter = NameCounter()
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


def _file_name(rng: random.Random, counter: NameCounter) -> str:
    return f"{rng.choice(FILE_BASES)}_{counter()}{rng.choice(FILE_EXTS)}"


def _dir_name(rng: random.Random, counter: NameCounter) -> str:
    return f"{rng.choice(DIR_BASES)} {counter()}"


def _dbfs_file(tree: Tree, d: Dir, rng: random.Random, counter: NameCounter) -> None:
    size = 0 if rng.random() < 0.05 else min(int(rng.lognormvariate(9, 3)), 50 * 2**30)
    mtime = random_mtime(rng)
    tree._append(d, _file_name(rng, counter), 0, size, mtime, mtime)


def _ws_object(tree: Tree, d: Dir, rng: random.Random, counter: NameCounter) -> None:
    kind = rng.choices([k for k, _ in WS_TYPES], [w for _, w in WS_TYPES])[0]
    code = tree.kind_code(kind)
    if kind == NOTEBOOK:
        mtime = random_mtime(rng)
        name = f"{rng.choice(FILE_BASES)} {counter()}"
        tree._append(d, name, code, 0, mtime, mtime - rng.randrange(0, 10**10),
                     rng.randrange(1, len(LANGUAGES)))
    elif kind == FILE:
        mtime = random_mtime(rng)
        size = min(int(rng.lognormvariate(7, 2)), 500 * 2**20)
        tree._append(d, _file_name(rng, counter), code, size, mtime,
                     mtime - rng.randrange(0, 10**10))
    else:
        tree._append(d, f"{rng.choice(FILE_BASES)} {kind.lower()} {counter()}", code, 0, 0, 0)


def _fill(tree: Tree, home: Dir, n_files: int, rng: random.Random, counter: NameCounter,
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


def _add_repo(ws: Workspace, home: Dir, rng: random.Random, counter: NameCounter) -> None:
    tree = ws.workspace
    repo = tree._child_dir(home, f"repo {rng.choice(DIR_BASES)} {counter()}", REPO)
    inner = tree._child_dir(repo, f"src {counter()}", tree.dir_kind)
    for d in (repo, repo, inner, inner, inner):
        _ws_object(tree, d, rng, counter)


def _add_left_behind(ws: Workspace, seed: int, removed: int, principals: int) -> None:
    """Homes of removed users (one or both file systems, files last touched long ago)
    and service principals with a Workspace home named by their application id."""
    rng = random.Random(f"{seed}/left-behind")
    counter = NameCounter()
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
                mtime = (MTIME_LO + rng.randrange(0, 10**10)) if stale else random_mtime(rng)
                tree._append(home, _file_name(rng, counter), tree.kind_code(FILE), size,
                             mtime, mtime)
    for k in range(principals):
        app_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        ws.add_service_principal(app_id, f"etl-service-principal-{k}")
        home = ws.workspace.mkdir(home_path(app_id))
        for _ in range(rng.randint(2, 6)):
            _ws_object(ws.workspace, home, rng, counter)


def _add_deep(tree: Tree, top: Dir, rng: random.Random, counter: NameCounter,
              max_depth: int) -> None:
    add_one = _dbfs_file if tree.dir_kind == DBFS_DIR else _ws_object
    d = top
    for _ in range(rng.randint(min(15, max_depth), max_depth)):
        d = tree._child_dir(d, f"level {counter()}", tree.dir_kind)
        if rng.random() < 0.2:
            add_one(tree, d, rng, counter)
    add_one(tree, d, rng, counter)


def _add_forbidden(tree: Tree, top: Dir, rng: random.Random, counter: NameCounter) -> None:
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
    base = random_mtime(rng)
    for k in range(size):
        tree._append(big, f"part-{k:05d}.json", code if is_ws else 0,
                     1000 + k, base + k, base + k)
