"""The console against its two documents, by running the tools.

1. DEBUG_OUTPUT.md: every block marked `capture: NAME` still matches a fresh run of that
   scenario (tests/doc_captures.py), so the page cannot drift from the tools.
2. The seed README's console examples: each one run in local and Spark mode, with and
   without --debug, checking the lines the seed shows, in the seed's order.
"""

from __future__ import annotations

import re

import pytest

from conftest import ROOT
from doc_captures import SCENARIOS, capture, doc_blocks, mismatch
from fake_workspace import Workspace

DOC = (ROOT / "DEBUG_OUTPUT.md").read_text(encoding="utf-8")
CAPTURED = [(marker.split(": ", 1)[1], block) for marker, block in doc_blocks(DOC)
            if marker.startswith("capture: ")]
_runs: dict[str, str] = {}
T = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"   # a time as the tools print it
RULE = "=" * 80


@pytest.fixture
def run(request):
    """run(NAME) -> output of that scenario, run once per test session."""
    def get(name: str) -> str:
        if name not in _runs:
            url = request.getfixturevalue("spark_remote").url \
                if SCENARIOS[name].spark else None
            _runs[name] = capture(name, url)
        return _runs[name]
    return get


def in_order(output: str, patterns: list[str]) -> None:
    """Each pattern matches a whole line of the output, after the previous one's line."""
    lines = output.splitlines()
    at = 0
    for pattern in patterns:
        found = next((i for i in range(at, len(lines)) if re.fullmatch(pattern, lines[i])),
                     None)
        assert found is not None, f"no line matching {pattern!r} after line {at}:\n{output}"
        at = found + 1


# -- 1. DEBUG_OUTPUT.md -----------------------------------------------------------------

def test_every_block_of_the_doc_is_a_capture_or_a_template():
    blocks = doc_blocks(DOC)
    assert blocks and all(marker for marker, _ in blocks), \
        [block[:80] for marker, block in blocks if not marker]
    assert {name for name, _ in CAPTURED} == set(SCENARIOS)


@pytest.mark.parametrize("name, block", CAPTURED, ids=[name for name, _ in CAPTURED])
def test_doc_block_matches_what_the_tool_prints_now(run, name, block):
    problem = mismatch(block, run(name))
    assert problem is None, problem


def test_a_drifted_doc_block_is_caught(run):
    name, block = next((n, b) for n, b in CAPTURED if n == "local")
    assert mismatch(block, run(name)) is None
    assert mismatch(block.replace("Total users processed", "Users processed total"),
                    run(name)) is not None
    assert mismatch(block.replace("  ⊘ Empty (no files)", "  ⊘ Empty"), run(name)) is not None


# -- 2. the seed's examples -------------------------------------------------------------

def seed_user_lines(total: int) -> list[str]:
    """The seed's per-user layout: a blank line, `[n/N] user`, the result line."""
    return ["", rf"\[\d+/{total}\] \S.*", r"  (✓ Files: [\d,]+, Size: [\d.]+ [KMGT]?B"
                                          r"|⊘ Empty \(no files\)|✗ Error: .+)"]


def seed_tail(total: int, output: str) -> list[str]:
    return [RULE, "SUMMARY", RULE, f"Total users processed: {total}",
            r"  ✓ Successful \(with files\): \d+", r"  ⊘ Empty directories: \d+",
            r"  ✗ Errors: \d+", "", r"Total files across all users: [\d,]+",
            r"Total size across all users: [\d.]+ [KMGT]?B \([\d,]+ bytes\)", RULE, "",
            f"Results saved to: {output}", "", RULE, "COMPLETED SUCCESSFULLY", RULE,
            f"End time: {T}", r"Duration: (\d+m )?\d+s", f"Users processed: {total}",
            f"Output file: {output}", RULE]


def test_seed_user_list_example(run):
    in_order(run("user-list-profile"), [
        RULE, "DATABRICKS USER LISTING", RULE, f"Start time: {T}", "",
        re.escape("Using Databricks CLI configuration (profile: PROD)"),
        r"Workspace: http://127\.0\.0\.1:\d+", "Fetching users...", "", "Found 6 users", "",
        "✓ Saved 6 email addresses to: users.csv", "  Format: One email per line", "",
        RULE, "COMPLETED SUCCESSFULLY", RULE, f"End time: {T}", r"Duration: \d+s",
        "Users processed: 6", "Output file: users.csv", RULE])
    plain = run("user-list")
    assert "Using environment variables" in plain.splitlines()
    assert "Databricks CLI configuration" not in plain


def test_seed_user_list_singular(serve, cli):
    ws = Workspace()
    ws.add_user("solo@x.com")
    result = cli("databricks_user_list.py", "-o", "one.csv", server=serve(ws))
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Found 1 user" in lines
    assert "✓ Saved 1 email address to: one.csv" in lines


def test_seed_parallel_example_spark(run):
    output = run("spark")
    in_order(output, [
        RULE, "DATABRICKS USER FILES LISTING", RULE, f"Start time: {T}",
        "Users to process: 4", r"Mode: PARALLEL \(Spark Connect at sc://127\.0\.0\.1:\d+\)",
        RULE, "", RULE, "PARALLEL PROCESSING 4 USERS USING SPARK CLUSTER", RULE,
        f"Parallel start time: {T}", "", r"Connecting to cluster: sc://127\.0\.0\.1:\d+",
        r"Processing 4 users across Spark workers\.\.\.",
        r"Distributing work to cluster workers\.\.\.",
        r"Collecting results from workers\.\.\.",
        *seed_user_lines(4), *seed_user_lines(4), *seed_user_lines(4), *seed_user_lines(4),
        "", r"Parallel processing completed in (\d+m )?\d+s",
        *seed_tail(4, "results.csv")])
    assert "Scanned on Spark: 4 users (4 executors)" in output.splitlines()


def test_seed_parallel_example_layout_in_local_mode(run):
    """Sequential mode: the same layout, without the parallel block."""
    output = run("local")
    in_order(output, [
        RULE, "DATABRICKS USER FILES LISTING", RULE, f"Start time: {T}",
        "Users to process: 6", re.escape("Mode: LOCAL (this machine, up to 20 requests in "
                                         "flight)"), RULE,
        *[line for _ in range(6) for line in seed_user_lines(6)],
        *seed_tail(6, "results.csv")])
    assert "PARALLEL" not in output.split("Scanning:", 1)[1]


def seed_debug_user(total: int, who: str) -> list[str]:
    return [rf"  \[\d+/{total}\] [✓⊘✗] \[{who}\] \[(BOTH|DBFS|WORKSPACE|NONE|UNKNOWN)\] "
            r"\S.*: (.+ files \(.+\)|error: .+) \(\d+\.\ds\)",
            f"      ↳ start={T} end={T}"]


def test_seed_debug_example_spark(run):
    output = run("spark-debug")
    in_order(output, [
        "Users to be distributed:", r"  1\. \S+", r"  2\. \S+", r"  3\. \S+", r"  4\. \S+",
        "", r"Distributing work to cluster workers\.\.\.",
        r"Processing users across workers \(showing results as they complete\)\.\.\.",
        *[line for _ in range(4) for line in [
            "", r"\[EXECUTOR\] Executor-\d is the Spark Python worker \S+/pid\d+",
            r"\[WORKER BATCH\] Executor-\d received 1 user\(s\): \S+",
            rf"\[WORKER COMPLETE\] Executor-\d finished \S+ - {T} "
            r"\(duration: \d+\.\ds, files: \d+, size: \d+\)",
            *seed_debug_user(4, r"Executor-\d")]],
        RULE, "PARALLEL EXECUTION CONFIRMED", RULE,
        "✓ Work was distributed across 4 different executors:",
        *[rf"  • Executor-{n}: processed 1 user\(s\)" for n in range(4)], RULE])
    assert "[WORKER START]" not in output  # never printed: it could not be true when printed


def test_seed_debug_example_local(run):
    output = run("local-debug")
    in_order(output, [r"Mode: LOCAL .*", RULE,
                      *[line for _ in range(6) for line in seed_debug_user(6, "local")]])
    assert re.search(r"^  \[debug\] \[DBFS\] Server error 503 on /Users/r&d\.team5@example\.com,"
                     r" retrying in [\d.]+s \(attempt 1/8\)$", output, re.M), output
    assert "Executor-" not in output and "[WORKER" not in output


def test_seed_retry_lines_under_throttling(serve, cli, tmp_path):
    ws = Workspace()
    for number in range(6):
        ws.add_user(f"u{number}@x.com")
        for folder in range(4):
            ws.workspace.add_file(f"/Users/u{number}@x.com/d{folder}/f.py", size=5)
    server = serve(ws, max_in_flight=2, retry_after="0", latency_s=0.02)
    result = cli("databricks_user_files_simple.py", *[f"u{n}@x.com" for n in range(6)],
                 "--workspace-only", "--concurrency", "12", "--debug", server=server)
    assert result.code == 0, result.output
    assert re.search(r"^  \[debug\] \[WORKSPACE\] Rate limited \(429\) on /Users/u\d@x\.com\S*, "
                     r"retrying in [\d.]+s \(attempt \d/8\)$", result.stdout, re.M), \
        result.stdout


def test_seed_fallback_is_a_mode_change(run):
    output = run("fallback")
    in_order(output, [
        r"Mode: PARALLEL \(Spark Connect at sc://127\.0\.0\.1:\d+\)",
        r"Connecting to cluster: sc://127\.0\.0\.1:\d+",
        r"⚠ Spark: no Spark Connect server at .*", "", RULE,
        re.escape("Mode: LOCAL (fallback: Spark failed; this machine, up to 20 requests in "
                  "flight)"), RULE, "Scanning the remaining 4 users from this machine",
        *seed_user_lines(4), RULE, "SUMMARY",
        "Scanned on Spark: 0 users", r"Scanned on this machine \(fallback\): 4 users",
        "COMPLETED SUCCESSFULLY", "Output file: results.csv",
        r"Scanned on this machine \(fallback\): 4 users", RULE])
    assert "Parallel processing completed" not in output
