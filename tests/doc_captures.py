"""The real runs DEBUG_OUTPUT.md shows, and how their output is compared with the doc.

    python tests/doc_captures.py [NAME ...]    # print the captures, to paste into the doc

tests/e2e/test_console_docs.py runs the same scenarios and checks that each block of the doc
marked `<!-- capture: NAME -->` still matches what the tools print, once times, durations,
pids, host names and ports are normalised and users that finish in a different order
are put back in one order (completion order varies from run to run).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from fake_workspace import FakeWorkspaceServer, generate_workspace  # noqa: E402

TOKEN = "dapi-doc-capture-0000000000000"
FILES = "databricks_user_files_simple.py"
USERS = "databricks_user_list.py"
SEED = 2            # 6 users: success, empty, error (no home, 403) all present
SPARK_USERS = 4     # on local[4]: one task per user, each on its own Python worker
# Each user's job lasts long enough that the four run side by side, not one worker
# reused for two short jobs (josé's 2,537 files make one job of seconds at 0.1 s).
SPARK_FAULTS = {"latency_s": 0.1}


@dataclass(frozen=True)
class Scenario:
    """One documented run: which tool, which flags, which workspace behaviour."""

    script: str
    args: tuple[str, ...]
    spark: bool = False          # needs a Spark Connect server (its URL is {spark})
    users: int = 6               # how many of the workspace's users go in users.txt
    profile: bool = False        # settings from a config profile instead of the env
    faults: dict = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {
    "user-list": Scenario(USERS, ("-o", "users.csv")),
    "user-list-profile": Scenario(USERS, ("--profile", "PROD", "-o", "users.csv"),
                                  profile=True),
    "local": Scenario(FILES, ("--users-file", "users.txt", "-o", "results.csv")),
    "local-debug": Scenario(FILES, ("--users-file", "users.txt", "--debug", "-o", "r.csv"),
                            faults={"fail_first_n_requests_for_path":
                                    {"dbfs:/Users/r&d.team5@example.com": 1}}),
    "single-user": Scenario(FILES, ("josé.núñez2@example.com", "-o", "one.csv")),
    # --spark-only: a plain run's order (this machine's first user against the lines
    # that hand work out, the slower-executors line) varies with timing; its console is
    # tested in test_spark_mode (test_a_plain_spark_run_scans_on_the_executors).
    "spark": Scenario(FILES, ("--users-file", "users.txt", "--spark-only",
                              "--spark-remote", "{spark}",
                              "-o", "results.csv"), spark=True, users=SPARK_USERS,
                      faults=SPARK_FAULTS),
    "spark-debug": Scenario(FILES, ("--users-file", "users.txt", "--spark-only",
                                    "--spark-remote", "{spark}",
                                    "--debug", "-o", "results.csv"),
                            spark=True, users=SPARK_USERS, faults=SPARK_FAULTS),
    "fallback": Scenario(FILES, ("--users-file", "users.txt", "--spark-only", "--spark-remote",
                                 "sc://127.0.0.1:{closed}", "-o", "results.csv"),
                         users=SPARK_USERS),
}


def capture(name: str, spark_url: str | None = None, folder: Path | None = None) -> str:
    """Run one scenario against a fresh fake workspace; stdout then stderr."""
    scenario = SCENARIOS[name]
    with tempfile.TemporaryDirectory(prefix="doc-capture-") as temp:
        cwd = Path(folder or temp)
        workspace = generate_workspace(6, seed=SEED)
        with FakeWorkspaceServer(workspace, token=TOKEN) as server:
            server.faults.latency_s = 0.02
            for key, value in scenario.faults.items():
                setattr(server.faults, key, value)
            names = [user.user_name for user in workspace.users][:scenario.users]
            (cwd / "users.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
            env = {key: value for key, value in os.environ.items()
                   if not key.startswith(("DATABRICKS_", "SPARK_REMOTE"))}
            env.update(PYTHONIOENCODING="utf-8",
                       DATABRICKS_CONFIG_FILE=str(cwd / "databrickscfg"))
            if scenario.profile:
                (cwd / "databrickscfg").write_text(
                    f"[PROD]\nhost = {server.url}\ntoken = {TOKEN}\n", encoding="utf-8")
            else:
                env.update(DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
            args = [arg.format(spark=spark_url, closed=_closed_port()) for arg in scenario.args]
            proc = subprocess.run([sys.executable, str(ROOT / scenario.script), *args],
                                  cwd=cwd, env=env, capture_output=True, text=True,
                                  encoding="utf-8", timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def _closed_port() -> int:
    from localspark import free_port
    return free_port()


# -- comparison -------------------------------------------------------------------------

_VARYING: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "<TIME>"),
    (re.compile(r"\b(Duration: |completed in |stopped after )[\dhms ]+$"), r"\1<DURATION>"),
    (re.compile(r"\(\d+\.\ds\)"), "(<SECONDS>)"),
    (re.compile(r"(duration|time): \d+\.\ds"), r"\1: <SECONDS>"),
    (re.compile(r"retrying in [\d.]+s"), "retrying in <WAIT>s"),
    (re.compile(r"[^\s/\[]+/pid\d+"), "<HOST>/pid<PID>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<PORT>"),
    (re.compile(r"\[\d+/(\d+)\]"), r"[n/\1]"),
    # Which Python worker gets which user (so how many take part), and what each
    # deleted, varies by run.
    (re.compile(r"Executor-\d+"), "Executor-<N>"),
    (re.compile(r"(Scanned on Spark: \d+ users? \()\d+ (executors?\))"), r"\1<N> \2"),
    (re.compile(r"(Spark lane )\d+( is up \(its warm-up took )[\d.]+ s\)"),
     r"\1<N>\2<SECONDS>)"),
    (re.compile(r"(credential files deleted on executors: ).*"), r"\1<LIST>"),
    (re.compile(r"(executors' token )[0-9a-f]+"), r"\1<ID>"),
    # Request counters: a retry on a busy machine adds one.
    (re.compile(r"^(API requests: |  \w+: )\d+( requests?)( at [\d.]+/s)?(, 429: )\d+"),
     r"\1<N>\2\4<N>"),
    (re.compile(r"(answered 429: )\d+ \([\d.]+%\)(, retries: )\d+"), r"\1<N>\2<N>"),
    (re.compile(r"(, retries: )\d+$"), r"\1<N>"),
]
_HEAD = re.compile(r"^(\[n/\d+\] |  \[n/\d+\] |\[WORKER COMPLETE\] )")
_MORE = re.compile(r"^(  [✓⊘✗] |      ↳ )")
# Printed by scan threads, or per Spark batch as batches come back: order varies.
_LOOSE = re.compile(r"^(  \[debug\] |\[EXECUTOR\] |\[WORKER BATCH\] |\[DBFS\] )")


def normalise(lines: list[str]) -> list[str]:
    """Varying values replaced; each run of user blocks put in one (sorted) order."""
    fixed = []
    lines = list(lines)
    while lines and not lines[-1].strip():  # how a capture ends is no part of it
        lines.pop()
    for line in lines:
        for pattern, replacement in _VARYING:
            line = pattern.sub(replacement, line)
        fixed.append(line)
    items: list[tuple[str, ...]] = []
    index = 0
    while index < len(fixed):
        start = index
        if fixed[index] == "" and index + 1 < len(fixed) and _HEAD.match(fixed[index + 1]):
            index += 1  # the blank line before a user belongs to that user
        if _HEAD.match(fixed[index]):
            worker_line = fixed[index].startswith("[WORKER COMPLETE]")
            index += 1
            if worker_line and index < len(fixed) and _HEAD.match(fixed[index]):
                index += 1
            while index < len(fixed) and _MORE.match(fixed[index]):
                index += 1
            items.append(("user",) + tuple(fixed[start:index]))
        elif fixed[index] == "" and index + 1 < len(fixed) and _LOOSE.match(fixed[index + 1]):
            items.append(("loose", "", fixed[index + 1]))  # a batch's blank line is its own
            index += 2
        else:
            kind = "loose" if _LOOSE.match(fixed[index]) else "line"
            items.append((kind, fixed[index]))
            index += 1
    result: list[str] = []
    run: list[tuple[str, ...]] = []
    for item in items + [("line", None)]:
        if item[0] in ("user", "loose"):
            run.append(item)
            continue
        for block in sorted(run):
            result.extend(block[1:])
        run = []
        if item[1] is not None:
            result.append(item[1])
    return result


def mismatch(doc_block: str, output: str) -> str | None:
    """None when the doc's block (split at '...' lines) appears in the output, in order."""
    have = normalise(output.splitlines())
    position = 0
    chunk: list[str] = []
    chunks = []
    for line in doc_block.splitlines():
        if line.strip() == "...":
            chunks.append(chunk)
            chunk = []
        else:
            chunk.append(line)
    chunks.append(chunk)
    for part in chunks:
        want = normalise(part)
        if not want:
            continue
        found = next((i for i in range(position, len(have) - len(want) + 1)
                      if have[i:i + len(want)] == want), None)
        if found is None:
            return "\n".join(["the doc shows:", *want, "", "the tool printed now:", *have])
        position = found + len(want)
    return None


def doc_blocks(text: str) -> list[tuple[str, str]]:
    """(marker, block) for every fenced block of the doc; marker 'capture: NAME' or
    'template', '' when the block has none."""
    found = []
    for match in re.finditer(r"(?:<!-- (capture: [\w-]+|template) -->\n)?```[^\n]*\n(.*?)```",
                             text, re.S):
        found.append((match.group(1) or "", match.group(2)))
    return found


def main(names: list[str]) -> int:
    wanted = names or list(SCENARIOS)
    spark = None
    if any(SCENARIOS[name].spark for name in wanted):
        from localspark import LocalSparkConnect
        spark = LocalSparkConnect("local[4]", preload=True).start()
    try:
        for name in wanted:
            print(f"<!-- capture: {name} -->\n```")
            print(capture(name, spark.url if spark else None), end="")
            print("```\n", flush=True)
    finally:
        if spark is not None:
            spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

