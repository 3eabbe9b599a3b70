"""Request counters per API family, their sum over Spark tasks, the SUMMARY lines, and
--max-rps end to end."""

from __future__ import annotations

import pickle
import time

from conftest import TOKEN
from dbx_inventory.transport.politeness import RequestStats, politeness_lines, sum_stats
from fake_workspace import generate_uniform

SCRIPT = "databricks_user_files_simple.py"


def ticking(start: float = 100.0, step: float = 1.0):
    now = [start - step]

    def wall() -> float:
        now[0] += step
        return now[0]
    return wall


def test_counts_per_family_and_totals():
    stats = RequestStats(wall=ticking())
    for _ in range(3):
        stats.add("dbfs", requests=1)
    stats.add("dbfs", throttled=1, retries=1)
    stats.add("workspace", requests=1)
    assert (stats.requests, stats.throttled, stats.retries) == (4, 1, 1)
    as_dict = stats.as_dict()
    assert as_dict == {
        "dbfs": {"requests": 3, "throttled": 1, "retries": 1, "first_at": 100.0,
                 "last_at": 102.0},
        "workspace": {"requests": 1, "throttled": 0, "retries": 0, "first_at": 103.0,
                      "last_at": 103.0}}
    assert pickle.loads(pickle.dumps(as_dict)) == as_dict   # what a Spark task sends back


def test_sum_adds_counts_and_spans_the_times():
    a = {"dbfs": {"requests": 10, "throttled": 1, "retries": 2, "first_at": 5.0,
                  "last_at": 9.0}}
    b = {"dbfs": {"requests": 5, "throttled": 0, "retries": 1, "first_at": 3.0,
                  "last_at": 7.0},
         "scim": {"requests": 1, "throttled": 0, "retries": 0, "first_at": 4.0,
                  "last_at": 4.0}}
    assert sum_stats([a, b, {}]) == {
        "dbfs": {"requests": 15, "throttled": 1, "retries": 3, "first_at": 3.0,
                 "last_at": 9.0},
        "scim": {"requests": 1, "throttled": 0, "retries": 0, "first_at": 4.0,
                 "last_at": 4.0}}
    assert sum_stats([]) == {}


def test_lines_tell_requests_429s_retries_and_rate_per_family():
    stats = {"workspace": {"requests": 101, "throttled": 2, "retries": 2, "first_at": 0.0,
                           "last_at": 4.0},
             "dbfs": {"requests": 301, "throttled": 3, "retries": 4, "first_at": 0.0,
                      "last_at": 10.0},
             "scim": {"requests": 1, "throttled": 0, "retries": 0, "first_at": 1.0,
                      "last_at": 1.0}}
    assert politeness_lines(stats) == [
        "API requests: 403, answered 429: 5 (1.2%), retries: 6",
        "  dbfs: 301 requests at 30.0/s, 429: 3, retries: 4",
        "  workspace: 101 requests at 25.0/s, 429: 2, retries: 2",
        "  scim: 1 request, 429: 0, retries: 0"]
    assert politeness_lines({}) == ["API requests: 0, answered 429: 0, retries: 0"]


def test_summary_has_the_politeness_lines(cli, serve):
    ws = generate_uniform(3, 1, 2)
    server = serve(ws)
    result = cli(SCRIPT, *[u.user_name for u in ws.users], server=server)
    assert result.code == 0, result.output
    listings = server.stats.by_endpoint["dbfs/list"] + server.stats.by_endpoint[
        "workspace/list"]
    # Every listing, the access check and the one get-status asking whether DBFS is on.
    assert f"API requests: {listings + 2}, answered 429: 0 (0.0%), retries: 0" \
        in result.stdout
    assert "  scim: 1 request, 429: 0, retries: 0" in result.stdout


def test_max_rps_holds_the_whole_run(cli, serve):
    ws = generate_uniform(6, 2, 1)           # 6 users x 3 listings x 2 trees = 36
    server = serve(ws)
    started = time.monotonic()
    result = cli(SCRIPT, "--max-rps", "12", *[u.user_name for u in ws.users], server=server)
    elapsed = time.monotonic() - started
    assert result.code == 0, result.output
    requests = server.stats.total_requests
    assert requests == 38      # the access check, the DBFS check, every listing once
    # Paced at 12/s the requests alone span (38 - 1) / 12 = 3 s; unpaced they take far
    # less. Only a broken pace can fail this: a slow machine makes the run longer.
    assert elapsed >= (requests - 1) / 12
    assert TOKEN not in result.output


def test_max_rps_must_be_above_zero(cli, serve, tmp_path):
    server = serve(generate_uniform(1, 1, 1))
    for bad in ("0", "-3", "nan"):
        result = cli(SCRIPT, "--max-rps", bad, "user00000@example.com", server=server)
        assert result.code == 2
        assert len(result.stderr.strip().splitlines()) == 1
        assert "--max-rps must be above 0" in result.stderr
    assert server.stats.total_requests == 0
    assert list(tmp_path.iterdir()) == []     # no CSV, no checkpoint
