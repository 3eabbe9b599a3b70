"""--report: one self-contained HTML page of a run's results, made to be looked at.

jinja2 renders the page (templates/report.html.j2); plotly builds the charts and its
JavaScript is inlined, so the file opens from disk with no network. Everything shown
is computed from the rows and the RunInfo: a report rewritten from a checkpoint is the
same report.

Users' figures (tables, charts, counts) come from user rows only; the areas of a
--whole-workspace run (rows of kind AREA) have their own section. When the rows carry a
directory breakdown (--dirs-output), "Where the bytes are" shows it for users and areas
alike: a treemap and a table of the largest directories.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from dbx_inventory.outputs.atomic import atomic_text_writer
from dbx_inventory.humanize import format_duration, format_size
from dbx_inventory.scan.dirs import owner_of
from dbx_inventory.scan.discover import LEFT, REMOVED, SERVICE_PRINCIPAL, USER_STATUSES
from dbx_inventory.errors import ConfigError
from dbx_inventory.outputs.output import RunInfo, areas_of, users_of
from dbx_inventory.outputs.csv_files import iso_utc
from dbx_inventory.scan.results import EMPTY, ERROR, SKIPPED, SUCCESS, UserResult
from dbx_inventory.scan.roots import USER, split_key
from dbx_inventory.scrub import scrub

TOP_USERS = 20
TOP_AREAS = 30    # bars of the areas chart; the rest are one "other areas" bar
NOT_IN_SCIM = (REMOVED, SERVICE_PRINCIPAL)  # user rows found without a SCIM user
STALE_DAYS = 365
DAY_MS = 86_400_000
# Bins of the bytes-per-user histogram: 1 B, 32 B, 1 KB, 32 KB, ... (log scale, 32x)
_BIN_EDGES = [32 ** k for k in range(0, 10)]
_AGE_BUCKETS = [(30, "< 30 days"), (90, "30–90 days"), (365, "90 days–1 year"),
                (730, "1–2 years"), (1825, "2–5 years"), (None, "> 5 years")]
# The tables' columns: label -> (index of the sort value in a row record, index of the
# text shown or None for the value itself, numeric?). Records are built by _record.
_COLUMNS = {"user": (0, None, False), "user status": (1, None, False),
            "status": (2, None, False), "files": (3, None, True), "size": (4, 5, True),
            "DBFS": (6, 7, True), "Workspace": (8, 9, True), "source": (10, None, False),
            "last modified": (11, None, False), "error": (12, None, False)}
# The areas table's columns, over records built by _area_record.
_AREA_COLUMNS = {"file system": (0, None, False), "path": (1, None, False),
                 "files": (2, None, True), "size": (3, 4, True), "bytes": (3, None, True),
                 "status": (5, None, False), "last modified": (6, None, False),
                 "error / reason": (7, None, False)}
# The largest-directories table's columns, over records built by _dir_record.
_DIR_COLUMNS = {"path": (0, None, False), "file system": (1, None, False),
                "owner": (2, None, False), "depth": (3, None, True),
                "files": (4, None, True), "size": (5, 6, True), "bytes": (5, None, True),
                "last modified": (7, None, False), "error": (8, None, False)}
TREEMAP_OWNERS = 40     # owners drawn in the treemap; the rest are one "other owners" box
TREEMAP_NODES = 2000    # boxes of the treemap at most, largest first
TOP_DIRS = 5000         # rows of the largest-directories table
PAGE_ROWS = 100  # rows drawn at a time: 20,000 users stay quick to open
_COLORS = {"DBFS": "#1f77b4", "Workspace": "#ff7f0e", "active": "#2ca02c",
           "inactive": "#9467bd", "service_principal": "#7f7f7f", "removed": "#d62728",
           "DBFS area": "#1f77b4", "Workspace area": "#ff7f0e", "other areas": "#bcbd22",
           "users' places": "#2ca02c"}


def require() -> None:
    """Fail before scanning when the report's libraries are missing (exit 2)."""
    try:
        import jinja2  # noqa: F401
        import plotly  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"--report needs {exc.name}: pip install -r "
                          "requirements-report.txt") from None


@dataclass(frozen=True)
class HtmlReport:
    """The HTML report, written whole or not at all."""

    path: str

    def __post_init__(self) -> None:
        require()

    def write(self, info: RunInfo, rows: Sequence[UserResult]) -> None:
        html = render(info, rows)
        with atomic_text_writer(self.path) as handle:
            handle.write(html)

    def describe(self) -> str:
        return f"Report saved to: {self.path}"


def render(info: RunInfo, rows: Sequence[UserResult]) -> str:
    """The whole page as text."""
    import jinja2
    from plotly.offline import get_plotlyjs

    env = jinja2.Environment(loader=jinja2.PackageLoader("dbx_inventory.outputs.html", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["size"] = format_size
    env.filters["when"] = iso_utc
    ctx = context(info, rows)
    return env.get_template("report.html.j2").render(
        plotly_js=get_plotlyjs(), table_data=table_data(ctx), **ctx)


def context(info: RunInfo, rows: Sequence[UserResult]) -> dict:
    """Everything the template shows, computed from the run's rows: users' figures from
    user rows only, the areas (if any) in `whole`."""
    end_ms = int(info.ended_at * 1000)
    dirs = _dirs(rows) if any(row.dirs for row in rows) else None
    areas = areas_of(rows)
    rows = users_of(rows)
    holding = [row for row in rows if row.file_count or row.total_size]
    left = sorted((row for row in holding if row.user_status in LEFT),
                  key=lambda row: -row.total_size)
    stale = sorted((row for row in holding if row.last_modified_ms
                    and end_ms - row.last_modified_ms > STALE_DAYS * DAY_MS),
                   key=lambda row: row.last_modified_ms or 0)
    statuses = Counter(row.status for row in rows)
    user_statuses = Counter(row.user_status for row in rows if row.user_status)
    return {
        "info": info,
        "started": _utc(info.started_at),
        "ended": _utc(info.ended_at),
        "duration": format_duration(info.ended_at - info.started_at),
        "sources": ", ".join(info.sources) or "dbfs, workspace",
        "users": len(rows),
        "by_status": [(name, statuses[name]) for name in (SUCCESS, EMPTY, ERROR)],
        "by_user_status": [(name, user_statuses[name]) for name in USER_STATUSES]
        if info.statuses_known else [],
        "files": sum(row.file_count for row in rows),
        "bytes": sum(row.total_size for row in rows),
        "per_fs": [("DBFS", sum(row.dbfs_files for row in rows),
                    sum(row.dbfs_bytes for row in rows)),
                   ("Workspace", sum(row.workspace_files for row in rows),
                    sum(row.workspace_bytes for row in rows))],
        "left": left,
        "left_bytes": sum(row.total_size for row in left),
        "stale": stale,
        "stale_days": STALE_DAYS,
        "errors": [row for row in rows if row.status == ERROR],
        "rows": rows,
        "charts": _charts(info, rows, end_ms),
        "whole": _whole(rows, areas) if areas or info.whole_workspace else None,
        "dirs": dirs,
    }


def _whole(users: Sequence[UserResult], areas: Sequence[UserResult]) -> dict:
    """The whole-workspace section: the split totals (as progress.whole_lines has them),
    the areas largest first, the places skipped and the users SCIM does not know."""
    areas = sorted(areas, key=lambda row: (-row.total_size, row.username))
    walked = [row for row in areas if row.status != SKIPPED]
    outside = sorted((row for row in users if row.user_status in NOT_IN_SCIM),
                     key=lambda row: (-row.total_size, row.username))
    everything = [*users, *areas]
    return {
        "areas": areas,
        "walked": len(walked),
        "area_errors": sum(1 for row in areas if row.status == ERROR),
        "skipped": [(_area_name(row), scrub(row.error)) for row in areas
                    if row.status == SKIPPED],
        "user_files": sum(row.file_count for row in users),
        "user_bytes": sum(row.total_size for row in users),
        "area_files": sum(row.file_count for row in walked),
        "area_bytes": sum(row.total_size for row in walked),
        "files": sum(row.file_count for row in everything),
        "bytes": sum(row.total_size for row in everything),
        "outside": outside,
        "outside_bytes": sum(row.total_size for row in outside),
        "chart": {"id": "areas", "title": "Bytes by area, and all users' places",
                  "figure": json.loads(_by_area(users, walked).to_json())},
    }


def _area_name(row: UserResult) -> str:
    """An area as people read it: its path with its file system (dbfs:/FileStore)."""
    file_system, path = split_key(row.username)
    return f"{file_system}:{path}"


def _dirs(rows: Sequence[UserResult]) -> dict:
    """Where the bytes are: the directory breakdown of users and areas together, as a
    treemap and as the largest directories (every directory row, largest first)."""
    everything = [(owner_of(row.username, row.kind), dir_row)
                  for row in rows for dir_row in row.dirs]
    largest = sorted(everything, key=lambda item: (-item[1][5], item[1][0], item[1][2]))
    return {"count": len(everything), "shown": min(len(everything), TOP_DIRS),
            "largest": largest[:TOP_DIRS],
            "chart": {"id": "dirs", "title": "Bytes by owner and directory",
                      "figure": json.loads(_treemap(rows).to_json())}}


def _owner_label(row: UserResult) -> str:
    return row.username if row.kind == USER else _area_name(row)


def _treemap(rows: Sequence[UserResult]):
    """Owners (users and areas walked) at the top, then their directories by depth.

    Drawn with branchvalues="total": each box's value is its whole size and must be at
    least the sum of its children's. A directory's figures are cumulative, so that holds
    among directories. An owner with several roots (a user's /Users home in dbfs and in
    workspace, their /Repos folder, their uploads) gets a box per root between it and
    its directories; the rows have no root's own total, so a root box is the sum of its
    depth-1 directories, and files straight in a root (or in a root without
    subdirectories) are the owner's remainder. The owner's value is its row's total,
    but never less than the sum of its boxes: every value is lifted to the sum of its
    children bottom-up, so a row that is short (an error) still draws. An owner with a
    single root has its directories straight under it.

    Bounded whatever the run's size: the TREEMAP_OWNERS largest owners (the rest are one
    box) and TREEMAP_NODES boxes in all, largest first; dropping a box only lowers its
    parent's sum of children, so the values stay consistent.
    """
    import plotly.graph_objects as go

    # id -> [parent id, label, own value, files, hover path, error?]
    nodes: dict[str, list] = {}
    for row in rows:
        if row.status == SKIPPED:
            continue
        owner = f"{row.kind}:{row.username}"
        nodes[owner] = ["", _owner_label(row), row.total_size, row.file_count,
                        _owner_label(row), row.status == ERROR]
        roots = sorted({(d[0], d[1]) for d in row.dirs})
        for file_system, root in roots if len(roots) > 1 else ():
            nodes[f"{owner}|{file_system}:{root}"] = [owner, f"{file_system}:{root}", 0, 0,
                                                     f"{file_system}:{root}", False]
        # parents before their children
        for file_system, root, path, depth, files, size, _, error in sorted(
                row.dirs, key=lambda d: d[3]):
            if depth == 1:
                parent = f"{owner}|{file_system}:{root}" if len(roots) > 1 else owner
            else:
                parent = f"{owner}|{file_system}:{path.rsplit('/', 1)[0]}"
            if parent not in nodes:  # its parent's row is gone: nowhere to draw it
                continue
            nodes[f"{owner}|{file_system}:{path}"] = [parent, path.rsplit("/", 1)[-1] or path,
                                                     size, files, f"{file_system}:{path}",
                                                     bool(error)]
    value = {key: node[2] for key, node in nodes.items()}
    files = {key: node[3] for key, node in nodes.items()}
    kids: dict[str, list[str]] = {}
    for key, node in nodes.items():
        kids.setdefault(node[0], []).append(key)
    for key in reversed(list(nodes)):  # children were added after their parents
        if key in kids:
            value[key] = max(value[key], sum(value[kid] for kid in kids[key]))
            if not nodes[key][3]:  # a root box: its directories' files
                files[key] = sum(files[kid] for kid in kids[key])
    owners = sorted((key for key in kids.get("", []) if value[key] > 0),
                    key=lambda key: (-value[key], key))
    chosen = owners[:TREEMAP_OWNERS]
    rest = owners[TREEMAP_OWNERS:]
    keep = set(chosen)
    below = sorted((key for key, node in nodes.items() if node[0] and value[key] > 0),
                   key=lambda key: (-value[key], key.count("|") + key.count("/"), key))
    budget = TREEMAP_NODES - len(chosen) - (1 if rest else 0)
    for key in below:
        if budget <= 0:
            break
        if nodes[key][0] in keep:
            keep.add(key)
            chosen.append(key)
            budget -= 1
    top = "everything"
    ids, parents, labels, values, custom = [top], [""], ["everything scanned"], [0], []
    for key in chosen:
        parent, label, _, _, where, error = nodes[key]
        ids.append(key)
        parents.append(parent or top)
        labels.append(label)
        values.append(value[key])
        custom.append([where, format_size(value[key]), f"{files[key]:,} files"
                       + (" · listing errors below" if error else "")])
    if rest:
        ids.append("other owners")
        parents.append(top)
        labels.append(f"{len(rest):,} other owners")
        values.append(sum(value[key] for key in rest))
        custom.append([labels[-1], format_size(values[-1]),
                       f"{sum(files[key] for key in rest):,} files"])
    values[0] = sum(value for value, parent in zip(values, parents, strict=True)
                    if parent == top)
    custom.insert(0, ["everything scanned", format_size(values[0]),
                      f"{sum(files[key] for key in owners):,} files"])
    trace = go.Treemap(ids=ids, parents=parents, labels=labels, values=values,
                       branchvalues="total", customdata=custom, maxdepth=4,
                       texttemplate="%{label}<br>%{customdata[1]}",
                       hovertemplate="%{customdata[0]}<br>%{customdata[1]} · "
                                     "%{customdata[2]}<extra></extra>",
                       marker={"line": {"width": 1}}, pathbar={"visible": True},
                       tiling={"pad": 2})
    return _figure([trace], height=640)


def table_data(ctx: dict) -> dict:
    """Rows once, as compact records, and each table as columns plus row numbers; the
    page draws the tables from this (a page at a time), sorts and filters them."""
    rows = ctx["rows"]
    number = {row.username: i for i, row in enumerate(rows)}

    def table(key: str, columns: list[str], chosen) -> dict:
        return {"id": key, "columns": [[label, *_COLUMNS[label]] for label in columns],
                "rows": None if chosen is None else [number[row.username] for row in chosen]}

    tables = [
        table("left-table", ["user", "user status", "files", "size", "DBFS", "Workspace",
                             "last modified"], ctx["left"]),
        table("stale-table", ["user", "user status", "last modified", "files", "size"],
              ctx["stale"]),
        table("error-table", ["user", "error", "files", "size"], ctx["errors"]),
        table("results-table", list(_COLUMNS), None)]
    whole = ctx.get("whole")
    if whole:
        # The areas have records of their own (a table may bring its own), in bytes order.
        tables.append({"id": "areas-table", "rows": None,
                       "columns": [[label, *spec] for label, spec in _AREA_COLUMNS.items()],
                       "records": [_area_record(row) for row in whole["areas"]]})
        tables.append(table("outside-table", ["user", "user status", "files", "size",
                                              "DBFS", "Workspace", "last modified"],
                            whole["outside"]))
    dirs = ctx.get("dirs")
    if dirs:
        tables.append({"id": "dirs-table", "rows": None,
                       "columns": [[label, *spec] for label, spec in _DIR_COLUMNS.items()],
                       "records": [_dir_record(owner, dir_row)
                                   for owner, dir_row in dirs["largest"]]})
    return {"page": PAGE_ROWS, "records": [_record(row) for row in rows], "tables": tables}


def _record(row: UserResult) -> list:
    return [row.username, row.user_status, row.status, row.file_count, row.total_size,
            format_size(row.total_size), row.dbfs_bytes, format_size(row.dbfs_bytes),
            row.workspace_bytes, format_size(row.workspace_bytes), row.file_source,
            iso_utc(row.last_modified_ms), scrub(row.error)]


def _area_record(row: UserResult) -> list:
    file_system, path = split_key(row.username)
    return [file_system, path, row.file_count, row.total_size, format_size(row.total_size),
            row.status, iso_utc(row.last_modified_ms), scrub(row.error)]


def _dir_record(owner: str, dir_row: tuple) -> list:
    file_system, _, path, depth, files, size, newest_ms, error = dir_row
    return [path, file_system, owner, depth, files, size, format_size(size),
            iso_utc(newest_ms), scrub(error)]


def _charts(info: RunInfo, rows: Sequence[UserResult], end_ms: int) -> list[dict]:
    """(id, title, plotly figure as plain JSON data) for each chart, in page order."""
    charts = [("top-users", f"Top {TOP_USERS} users by bytes", _top_users(rows)),
              ("bytes-per-user", "Bytes per user (log scale)", _distribution(rows))]
    if info.statuses_known:
        charts.append(("left-behind", "Data by user status: who has left",
                       _by_user_status(rows)))
    charts.append(("home-age", "Homes by age of their newest file", _ages(rows, end_ms)))
    return [{"id": key, "title": title, "figure": json.loads(figure.to_json())}
            for key, title, figure in charts]


def _figure(traces, **layout):
    import plotly.graph_objects as go

    figure = go.Figure(traces)
    figure.update_layout(template="plotly_white", margin={"l": 10, "r": 10, "t": 10,
                                                          "b": 10},
                         legend={"orientation": "h", "y": -0.15}, **layout)
    return figure


def _top_users(rows: Sequence[UserResult]):
    import plotly.graph_objects as go

    top = sorted(rows, key=lambda row: -row.total_size)[:TOP_USERS][::-1]  # largest on top
    names = [row.username for row in top]
    traces = [go.Bar(name=label, y=names, x=[getattr(row, attr) for row in top],
                     orientation="h", marker_color=_COLORS[label],
                     customdata=[format_size(getattr(row, attr)) for row in top],
                     hovertemplate="%{y}<br>" + label + ": %{customdata}<extra></extra>")
              for label, attr in (("DBFS", "dbfs_bytes"), ("Workspace", "workspace_bytes"))]
    return _figure(traces, barmode="stack", height=max(300, 26 * len(top) + 80),
                   xaxis={"title": "bytes"}, yaxis={"automargin": True})


def _by_area(users: Sequence[UserResult], areas: Sequence[UserResult]):
    """One bar per area walked (coloured by file system; past TOP_AREAS, one bar for the
    rest) and one for every user's places together, largest on top."""
    import plotly.graph_objects as go

    group = {"dbfs": "DBFS area", "workspace": "Workspace area"}
    bars = [(_area_name(row), row.total_size,
             group.get(split_key(row.username)[0], "other areas"),
             f"{row.file_count:,} files" + (", with errors" if row.status == ERROR else ""))
            for row in areas[:TOP_AREAS]]
    rest = areas[TOP_AREAS:]
    if rest:
        bars.append((f"{len(rest)} other areas", sum(row.total_size for row in rest),
                     "other areas", f"{sum(row.file_count for row in rest):,} files"))
    bars.append(("users' places", sum(row.total_size for row in users), "users' places",
                 f"{len(users):,} users: homes, Git folders, uploads"))
    bars.sort(key=lambda bar: (bar[1], bar[0]))  # ascending: plotly draws the last on top
    traces = []
    for name in ("DBFS area", "Workspace area", "other areas", "users' places"):
        mine = [bar for bar in bars if bar[2] == name]
        if mine:
            traces.append(go.Bar(
                name=name, y=[bar[0] for bar in mine], x=[bar[1] for bar in mine],
                orientation="h", marker_color=_COLORS[name],
                text=[format_size(bar[1]) for bar in mine], textposition="outside",
                cliponaxis=False,
                customdata=[[format_size(bar[1]), bar[3]] for bar in mine],
                hovertemplate="%{y}<br>%{customdata[0]} (%{customdata[1]})<extra></extra>"))
    figure = _figure(traces, barmode="stack", height=max(300, 26 * len(bars) + 80),
                     xaxis={"title": "bytes"},
                     yaxis={"automargin": True, "categoryorder": "array",
                            "categoryarray": [bar[0] for bar in bars]})
    figure.update_layout(legend_traceorder="normal")
    return figure


def _distribution(rows: Sequence[UserResult]):
    import plotly.graph_objects as go

    labels = ["0 B"] + [f"{format_size(low)} – {format_size(high)}"
                        for low, high in zip(_BIN_EDGES, _BIN_EDGES[1:], strict=False)]
    labels.append(f"≥ {format_size(_BIN_EDGES[-1])}")
    counts = [0] * len(labels)
    for row in rows:
        if row.total_size <= 0:
            counts[0] += 1
        else:
            counts[1 + min(len(_BIN_EDGES) - 1, int(math.log(row.total_size, 32)))] += 1
    return _figure([go.Bar(x=labels, y=counts, marker_color="#1f77b4",
                           hovertemplate="%{x}: %{y} users<extra></extra>")],
                   height=320, xaxis={"title": "bytes held (each bin 32× the last)"},
                   yaxis={"title": "users"})


def _by_user_status(rows: Sequence[UserResult]):
    import plotly.graph_objects as go

    names = [name for name in USER_STATUSES]
    size = {name: sum(row.total_size for row in rows if row.user_status == name)
            for name in names}
    users = {name: sum(1 for row in rows if row.user_status == name and row.file_count)
             for name in names}
    return _figure([go.Bar(x=names, y=[size[name] for name in names],
                           marker_color=[_COLORS[name] for name in names],
                           customdata=[[format_size(size[name]), users[name]]
                                       for name in names],
                           hovertemplate="%{x}: %{customdata[0]} held by "
                                         "%{customdata[1]} users<extra></extra>")],
                   height=320, yaxis={"title": "bytes"})


def _ages(rows: Sequence[UserResult], end_ms: int):
    import plotly.graph_objects as go

    labels = [label for _, label in _AGE_BUCKETS] + ["no dated files"]
    homes: Counter[str] = Counter()
    for row in rows:
        if not row.file_count:
            continue
        if not row.last_modified_ms:
            homes[labels[-1]] += 1
            continue
        days = (end_ms - row.last_modified_ms) / DAY_MS
        homes[next(label for limit, label in _AGE_BUCKETS
                   if limit is None or days < limit)] += 1
    return _figure([go.Bar(x=labels, y=[homes[label] for label in labels],
                           marker_color="#8c564b",
                           hovertemplate="%{x}: %{y} homes<extra></extra>")],
                   height=320, yaxis={"title": "homes with files"})


def _utc(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
