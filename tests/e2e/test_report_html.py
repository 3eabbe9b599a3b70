"""The HTML report: what it computes, that it is self-contained, and how it looks in a
real headless Chromium (no console errors, charts drawn, the users that matter shown)."""

from __future__ import annotations

import csv
import html
import json
import re

import pytest

import browser
from conftest import TOKEN
from dbx_inventory.outputs.output import RunInfo
from dbx_inventory.outputs.html.report import HtmlReport, context
from dbx_inventory.scan.results import UserResult
from fake_workspace import generate_workspace

SCRIPT = "databricks_user_files_simple.py"
DAY_MS = 86_400_000
END = 1_780_000_000.0  # epoch seconds


def row(name, size, *, user_status="active", status="success", last_days=10, dbfs=None,
        error=""):
    dbfs = size if dbfs is None else dbfs
    return UserResult(username=name, status=status, file_count=1 if size else 0,
                      total_size=size, file_source="dbfs", error=error, dbfs_bytes=dbfs,
                      workspace_bytes=size - dbfs,
                      last_modified_ms=int(END * 1000) - last_days * DAY_MS if last_days
                      else None, ended_at=END, user_status=user_status)


def info(**extra) -> RunInfo:
    fields = dict(host="https://adb-1.azuredatabricks.net", started_at=END - 90,
                  ended_at=END, mode="LOCAL", command="python x --all-homes",
                  sources=("dbfs", "workspace"), run_id="run-1", all_homes=True,
                  statuses_known=True)
    return RunInfo(**{**fields, **extra})


def test_context_tables_are_the_ones_an_admin_acts_on():
    rows = [row("big.active@x.com", 9000), row("gone.small@x.com", 10, user_status="removed"),
            row("gone.big@x.com", 5000, user_status="removed", last_days=400),
            row("left@x.com", 700, user_status="inactive"),
            row("gone.empty@x.com", 0, user_status="removed", status="empty"),
            row("old@x.com", 300, last_days=366),
            row("broken@x.com", 0, status="error", error="DBFS: 403 PERMISSION_DENIED")]
    ctx = context(info(), rows)
    assert [r.username for r in ctx["left"]] == ["gone.big@x.com", "left@x.com",
                                                 "gone.small@x.com"]
    assert [r.username for r in ctx["stale"]] == ["gone.big@x.com", "old@x.com"]
    assert [r.username for r in ctx["errors"]] == ["broken@x.com"]
    assert dict(ctx["by_user_status"]) == {"active": 3, "inactive": 1,
                                           "service_principal": 0, "removed": 3}
    assert dict(ctx["by_status"]) == {"success": 5, "empty": 1, "error": 1}
    assert [c["id"] for c in ctx["charts"]] == ["top-users", "bytes-per-user",
                                                "left-behind", "home-age"]
    top = ctx["charts"][0]["figure"]["data"]
    assert top[0]["y"][-1] == "big.active@x.com"  # largest drawn on top
    unknown = context(info(statuses_known=False), [row("a@x.com", 1, user_status="")])
    assert "left-behind" not in [c["id"] for c in unknown["charts"]]


def test_report_is_self_contained(tmp_path):
    path = tmp_path / "r.html"
    HtmlReport(str(path)).write(info(), [row("a@x.com", 5), row("<b>&co@x.com", 7)])
    text = path.read_text(encoding="utf-8")
    # Nothing fetched: no script, style sheet or image comes from elsewhere.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)
    assert "<b>&co@x.com" not in text  # a name never becomes markup
    assert "\\u003cb\\u003e\\u0026co@x.com" in text  # it travels as JSON text


# -- in a real browser ------------------------------------------------------------------

def require_chromium():
    if not browser.available():
        pytest.fail(f"{browser.CHROMIUM} is missing: run make install (Debian package chromium)")


def problems(page: browser.Page, must_show: dict[str, list[str]]) -> list[str]:
    """What a person would see wrong: a blank page, console errors, users missing from
    the part of the page that should show them (ids of sections or charts)."""
    found = []
    if page.console:
        found.append(f"console: {page.console[:3]}")
    if "data-rendered-ms" not in page.dom or page.dom.count('class="main-svg"') < 4:
        found.append("charts not drawn")
    for part, names in must_show.items():
        start = page.dom.find(f'id="{part}"')
        end = page.dom.find("</section>", start)
        text = page.dom[start:end] if start >= 0 else ""
        found += [f"{name} not in #{part}" for name in names if _html(name) not in text]
    return found


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """One --all-homes run with --report on the generated workspace."""
    from conftest import clean_env, run_script
    from fake_workspace import FakeWorkspaceServer

    tmp = tmp_path_factory.mktemp("report")
    ws = generate_workspace(40, seed=11)
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        env = clean_env(tmp, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
        result = run_script(SCRIPT, "--all-homes", "--report", "report.html", env=env, cwd=tmp)
        assert result.code == 0, result.output
        assert "Report saved to: report.html" in result.stdout
        yield ws, server, tmp, env


def test_report_renders_in_chromium_with_the_users_that_matter(reported):
    require_chromium()
    ws, _, tmp, _ = reported
    assert TOKEN not in (tmp / "report.html").read_text(encoding="utf-8")
    truths = {name: ws.truth(name) for name in ws.removed_homes()}
    removed = [name for name, t in truths.items() if t.dbfs_files + t.workspace_files]
    top = max([u.user_name for u in ws.users] + ws.removed_homes(),
              key=lambda n: ws.truth(n).dbfs_bytes + ws.truth(n).workspace_bytes)
    shot = tmp / "report.png"
    page = browser.render(tmp / "report.html", screenshot=shot)
    assert problems(page, {"chart-top-users": [top], "left-behind": removed,
                           "results": removed + [top]}) == []
    # The top user is a tick label that plotly drew, not only text the template wrote.
    chart = page.dom[page.dom.find('id="chart-top-users"'):]
    chart = chart[:chart.find("</section>")]
    ticks = [html.unescape(label) for label in
             re.findall(r'<g class="ytick"><text[^>]*?data-unformatted="([^"]*)"', chart)]
    assert top in ticks and len(ticks) == 20
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few KB


def test_the_browser_check_catches_a_broken_page(reported, tmp_path):
    """The check above can fail: a report whose script breaks is caught."""
    require_chromium()
    _, _, tmp, _ = reported
    text = (tmp / "report.html").read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"
    broken.write_text(text.replace("var charts =", "var charts = undefinedThing ||", 1),
                      encoding="utf-8")
    page = browser.render(broken)
    found = problems(page, {"left-behind": ["nobody.here@x.com"]})
    assert any(p.startswith("console:") for p in found)
    assert "charts not drawn" in found
    assert "nobody.here@x.com not in #left-behind" in found


def test_resume_report_on_a_finished_run_rewrites_it_without_listing(reported, tmp_path):
    from conftest import run_script

    _, server, tmp, env = reported
    server.reset_stats()
    result = run_script(SCRIPT, "--all-homes", "--resume", "--report", "again.html",
                        env=env, cwd=tmp)
    assert result.code == 0, result.output
    assert "Nothing to scan" in result.stdout
    assert "Report saved to: again.html" in result.stdout
    assert server.stats.total_requests == 0
    first = (tmp / "report.html").read_text(encoding="utf-8")
    again = (tmp / "again.html").read_text(encoding="utf-8")
    table = re.compile(r'<script type="application/json" id="table-data">.*?</script>',
                       re.DOTALL)
    assert table.search(first).group(0) == table.search(again).group(0)  # every row
    run_id = re.search(r"<dt>run id</dt><dd><code>(\w+)</code>", first).group(1)
    assert f"<code>{run_id}</code>" in again


def test_unwritable_report_path_fails_before_scanning(cli, serve, tmp_path):
    ws = generate_workspace(4, seed=1)
    server = serve(ws)
    result = cli(SCRIPT, "--all-homes", "--report", str(tmp_path / "no" / "such" / "r.html"),
                 server=server)
    assert result.code == 1
    assert result.stderr.count("\n") == 1 and "r.html" in result.stderr
    assert server.stats.total_requests == 0
    assert not (tmp_path / "results.csv").exists()
    assert not list(tmp_path.glob("**/*.html"))


def test_tables_filter_and_sort_in_the_page(reported, tmp_path):
    """Type in a table's filter and click a header, as a person would, in Chromium."""
    require_chromium()
    ws, _, tmp, _ = reported
    driver = """<script>
      var holder = document.querySelector('[data-table="results-table"]');
      var input = holder.querySelector("input");
      function names() {
        return Array.from(holder.querySelectorAll("tbody tr"), function (tr) {
          return tr.cells[0].textContent; });
      }
      input.value = "former."; input.dispatchEvent(new Event("input"));
      var filtered = names();
      input.value = ""; input.dispatchEvent(new Event("input"));
      holder.querySelectorAll("th")[4].click();   /* size: largest first */
      var bySize = names();
      holder.querySelector("button.next").click();
      var second = names();
      document.body.setAttribute("data-test", JSON.stringify(
        {filtered: filtered, bySize: bySize, second: second,
         count: holder.querySelector(".count").textContent}));
    </script></body>"""
    page_file = tmp_path / "driven.html"
    page_file.write_text((tmp / "report.html").read_text(encoding="utf-8")
                         .replace("</body>", driver, 1), encoding="utf-8")
    page = browser.render(page_file)
    assert page.console == []
    raw = re.search(r'data-test="([^"]*)"', page.dom).group(1)
    got = json.loads(html.unescape(raw))
    removed = ws.removed_homes()
    assert sorted(got["filtered"]) == removed and all(n.startswith("former.") for n in removed)
    everyone = [u.user_name for u in ws.users] + removed + \
        [sp.application_id for sp in ws.service_principals]
    size = {n: ws.truth(n).dbfs_bytes + ws.truth(n).workspace_bytes for n in everyone}
    assert [size[n] for n in got["bySize"]] == sorted(size.values(), reverse=True)[:100]
    # One page holds them all: "next" is disabled and the page stays.
    assert got["second"] == got["bySize"] and got["count"] == f"1–{len(everyone)} of " \
        f"{len(everyone)} rows"


@pytest.fixture(scope="module")
def reported_whole(tmp_path_factory):
    """One --whole-workspace run with --report on a generated workspace with areas."""
    from conftest import clean_env, run_script
    from fake_workspace import FakeWorkspaceServer

    tmp = tmp_path_factory.mktemp("report-whole")
    ws = generate_workspace(30, seed=5, whole_workspace=True)
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        env = clean_env(tmp, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
        result = run_script(SCRIPT, "--whole-workspace", "--report", "report.html",
                            env=env, cwd=tmp)
        assert result.code == 0, result.output
        assert "Report saved to: report.html" in result.stdout
    return ws, tmp


def test_whole_workspace_report_shows_areas_apart_from_users(reported_whole):
    require_chromium()
    ws, tmp = reported_whole
    with open(tmp / "results_areas.csv", encoding="utf-8", newline="") as handle:
        areas = list(csv.DictReader(handle))
    assert sum(1 for a in areas if a["status"] == "skipped") == len(ws.whole.skipped)
    warehouse = "dbfs:/user/hive/warehouse"
    skipped = [f"dbfs:{path}" for path in ws.whole.skipped]
    # The page, made visible for the check: the section's size once everything is drawn.
    driver = """<script>
      window.addEventListener("load", function () {
        var box = document.getElementById("whole-workspace").getBoundingClientRect();
        var chart = document.getElementById("chart-areas").getBoundingClientRect();
        document.body.setAttribute("data-test", JSON.stringify(
          {height: box.height, chart: chart.height, width: chart.width,
           rows: document.querySelectorAll("#areas-table tbody tr").length}));
      });
    </script></body>"""
    page_file = tmp / "driven.html"
    page_file.write_text((tmp / "report.html").read_text(encoding="utf-8")
                         .replace("</body>", driver, 1), encoding="utf-8")
    shot = tmp / "report-whole.png"
    page = browser.render(page_file, screenshot=shot, size=(1400, 3400))
    outside = [ws.whole.repo_only, ws.whole.upload_only]
    assert problems(page, {"whole-workspace": [warehouse, "/user/hive/warehouse",
                                               "users' places", *skipped, *outside],
                           "results": outside}) == []
    got = json.loads(html.unescape(re.search(r'data-test="([^"]*)"', page.dom).group(1)))
    assert got["rows"] == len(areas) and got["height"] > 800
    assert got["chart"] > 200 and got["width"] > 600
    # The areas chart drew a bar per area walked and one for the users' places; the
    # top-users chart and the results table hold users only.
    chart = page.dom[page.dom.find('id="chart-areas"'):]
    ticks = [html.unescape(label) for label in re.findall(
        r'<g class="ytick"><text[^>]*?data-unformatted="([^"]*)"', chart[:chart.find("</h3>")])]
    assert warehouse in ticks and "users' places" in ticks
    assert not set(skipped) & set(ticks)
    top = page.dom[page.dom.find('id="chart-top-users"'):]
    assert "dbfs:/" not in top[:top.find("</section>")]
    results = page.dom[page.dom.find('id="results"'):]
    assert "/user/hive/warehouse" not in results[:results.find("</section>")]
    assert shot.stat().st_size > 50_000


def test_dirs_report_draws_the_treemap_and_the_largest_directories(tmp_path):
    """A --whole-workspace --dirs-output run: the treemap is drawn in Chromium and the
    table starts with the largest directory of dirs.csv."""
    require_chromium()
    from conftest import clean_env, run_script
    from fake_workspace import FakeWorkspaceServer

    ws = generate_workspace(30, seed=5, whole_workspace=True)
    with FakeWorkspaceServer(ws, token=TOKEN) as server:
        env = clean_env(tmp_path, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
        result = run_script(SCRIPT, "--whole-workspace", "--dirs-output", "dirs.csv",
                            "--report", "report.html", env=env, cwd=tmp_path)
        assert result.code == 0, result.output
    with open(tmp_path / "dirs.csv", encoding="utf-8", newline="") as handle:
        dirs = list(csv.DictReader(handle))
    largest = max(dirs, key=lambda d: int(d["total_size"]))
    with open(tmp_path / "results_areas.csv", encoding="utf-8", newline="") as handle:
        owners = {f"{a['file_system']}:{a['path']}": int(a["total_size"])
                  for a in csv.DictReader(handle)}
    with open(tmp_path / "results.csv", encoding="utf-8", newline="") as handle:
        owners.update((u["username"], int(u["total_size"])) for u in csv.DictReader(handle))
    top_owner = max(owners, key=lambda name: owners[name])
    driver = """<script>
      window.addEventListener("load", function () {
        var svg = document.querySelector("#chart-dirs svg.main-svg");
        var box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
        var first = document.querySelector("#dirs-table tbody tr");
        document.body.setAttribute("data-test", JSON.stringify(
          {width: box.width, height: box.height,
           boxes: document.querySelectorAll("#chart-dirs g.slice").length,
           first: first ? first.cells[0].textContent : "",
           rows: document.querySelectorAll("#dirs-table tbody tr").length}));
      });
    </script></body>"""
    page_file = tmp_path / "driven.html"
    page_file.write_text((tmp_path / "report.html").read_text(encoding="utf-8")
                         .replace("</body>", driver, 1), encoding="utf-8")
    shot = tmp_path / "report-dirs.png"
    page = browser.render(page_file, screenshot=shot, size=(1400, 6000))
    assert problems(page, {"where-the-bytes-are": [largest["path"]]}) == []
    got = json.loads(html.unescape(re.search(r'data-test="([^"]*)"', page.dom).group(1)))
    assert got["width"] > 600 and got["height"] > 400, got
    assert got["boxes"] > 20, got  # plotly drew the owners' and directories' boxes
    chart = page.dom[page.dom.find('id="chart-dirs"'):]
    texts = [html.unescape(text).split("<br>")[0] for text in re.findall(
        r'data-unformatted="([^"]*)"', chart[:chart.find("</h3>")])]
    assert top_owner in texts and largest["path"].rsplit("/", 1)[1] in texts
    assert got["first"] == largest["path"]
    assert got["rows"] == min(100, len(dirs))
    assert shot.stat().st_size > 50_000
