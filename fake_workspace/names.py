"""The fake workspace's names, times and name sources: odd characters on purpose, as
real workspaces have them (shared by the homes and the places beyond them)."""

from __future__ import annotations

import random

from .tree import FILE, NOTEBOOK

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


class NameCounter:
    """Per-user suffix source so generated names never collide within a directory."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n


def random_mtime(rng: random.Random) -> int:
    return rng.randrange(MTIME_LO, MTIME_HI)
