#!/usr/bin/env python3
"""Report bench: size and render time of the HTML report at 20,000 users (not a test).

Builds 20,000 result rows shaped like a large workspace (log-normal sizes, 3% inactive,
5% removed, a few service principals, ages spread over eight years), writes the report
as `--report` does, then loads it in headless Chromium (the same runner the tests use)
and prints: file size, time to write, the page's own clock from navigation start until
every chart and table was drawn (the render time; the limit applies to it), and
Chromium's wall time for the page and for an empty page. The machine's load average is
printed with them: on a shared machine every figure grows with it.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

import browser  # noqa: E402  (tests/browser.py: headless Chromium runner)
from dbx_inventory.outputs.output import RunInfo  # noqa: E402
from dbx_inventory.outputs.html.report import HtmlReport  # noqa: E402
from dbx_inventory.scan.results import UserResult  # noqa: E402

LIMIT_MB, LIMIT_S = 15.0, 5.0


def rows(count: int, seed: int = 1) -> list[UserResult]:
    rng = random.Random(seed)
    now = time.time()
    kinds = ["active"] * 91 + ["inactive"] * 3 + ["removed"] * 5 + ["service_principal"]
    made = []
    for i in range(count):
        dbfs = int(rng.lognormvariate(16, 4)) if rng.random() < 0.8 else 0
        workspace = int(rng.lognormvariate(12, 3))
        status = "error" if rng.random() < 0.01 else "success"
        made.append(UserResult(
            username=f"{rng.choice(['ana', 'ben', 'chloe', 'dev'])}.user{i}@example.com",
            status=status, file_count=rng.randint(1, 5000), total_size=dbfs + workspace,
            file_source="both" if dbfs else "workspace",
            error="DBFS: 403 PERMISSION_DENIED: no access (dbfs:/Users/x/private)"
            if status == "error" else "",
            dbfs_files=rng.randint(0, 2000), dbfs_bytes=dbfs,
            workspace_files=rng.randint(0, 3000), workspace_bytes=workspace,
            last_modified_ms=int((now - rng.uniform(0, 8 * 365) * 86400) * 1000),
            started_at=now - 2, ended_at=now, user_status=rng.choice(kinds)))
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--keep", help="also copy the report here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-report-"))
    path = folder / "report.html"
    data = rows(args.users)
    now = time.time()
    info = RunInfo(host="https://adb-1234567890.12.azuredatabricks.net", started_at=now - 3600,
                   ended_at=now, mode="LOCAL", command="python databricks_user_files_simple.py "
                   "--all-homes --report report.html", sources=("dbfs", "workspace"),
                   run_id="bench", all_homes=True, statuses_known=True)
    started = time.perf_counter()
    HtmlReport(str(path)).write(info, data)
    write_s = time.perf_counter() - started
    size_mb = path.stat().st_size / 1e6
    empty = folder / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body>empty</body></html>", encoding="utf-8")
    baseline = min(browser.render(empty, settle=False).wall_s for _ in range(2))
    page = browser.render(path, settle=False)
    marker = page.dom.split('data-rendered-ms="', 1)
    drawn_ms = int(marker[1].split('"', 1)[0]) if len(marker) == 2 else None
    render_s = drawn_ms / 1000 if drawn_ms is not None else float("inf")
    if args.keep:
        Path(args.keep).write_bytes(path.read_bytes())
    print(f"HTML report at {args.users:,} users")
    print(f"  file size:            {size_mb:.1f} MB   (limit {LIMIT_MB:.0f} MB)")
    print(f"  written in:           {write_s:.2f} s")
    print(f"  render time:          {render_s:.2f} s   (limit {LIMIT_S:.0f} s; the page's own "
          "clock, navigation start to every chart and table drawn)")
    print(f"  Chromium wall time:   {page.wall_s:.2f} s for this page, {baseline:.2f} s for an "
          "empty one (start-up included)")
    print(f"  console messages:     {len(page.console)}")
    print("  load average:         " + " ".join(f"{v:.1f}" for v in os.getloadavg())
          + f" on {os.cpu_count()} cores")
    ok = size_mb < LIMIT_MB and render_s < LIMIT_S and not page.console
    print("  within limits" if ok else "  OVER A LIMIT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
