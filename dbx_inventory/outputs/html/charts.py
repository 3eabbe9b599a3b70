"""The report's plotly charts: users by bytes, by size bin, by status, by age; areas.

Each function returns a plotly Figure; report.py turns them into plain JSON for the page.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Sequence

from dbx_inventory.humanize import format_size
from dbx_inventory.outputs.html.labels import area_name, plotly_text
from dbx_inventory.outputs.output import RunInfo
from dbx_inventory.scan.discover import USER_STATUSES
from dbx_inventory.scan.results import ERROR, UserResult
from dbx_inventory.scan.roots import split_key

TOP_USERS = 20
TOP_AREAS = 30    # bars of the areas chart; the rest are one "other areas" bar
DAY_MS = 86_400_000
# Bins of the bytes-per-user histogram: 1 B, 32 B, 1 KB, 32 KB, ... (log scale, 32x)
_BIN_EDGES = [32 ** k for k in range(0, 10)]
_AGE_BUCKETS = [(30, "< 30 days"), (90, "30–90 days"), (365, "90 days–1 year"),
                (730, "1–2 years"), (1825, "2–5 years"), (None, "> 5 years")]
_COLORS = {"DBFS": "#1f77b4", "Workspace": "#ff7f0e", "active": "#2ca02c",
           "inactive": "#9467bd", "service_principal": "#7f7f7f", "removed": "#d62728",
           "DBFS area": "#1f77b4", "Workspace area": "#ff7f0e", "other areas": "#bcbd22",
           "volume": "#17becf",
           "users' places": "#2ca02c"}


def user_charts(info: RunInfo, rows: Sequence[UserResult], end_ms: int) -> list[dict]:
    """(id, title, plotly figure as plain JSON data) for each chart, in page order."""
    charts = [("top-users", f"Top {TOP_USERS} users by bytes", _top_users(rows)),
              ("bytes-per-user", "Bytes per user (log scale)", _distribution(rows))]
    if info.statuses_known:
        charts.append(("left-behind", "Data by user status: who has left",
                       _by_user_status(rows)))
    charts.append(("home-age", "Homes by age of their newest file", _ages(rows, end_ms)))
    return [{"id": key, "title": title, "figure": json.loads(figure.to_json())}
            for key, title, figure in charts]


def new_fig(traces, **layout):
    import plotly.graph_objects as go

    figure = go.Figure(traces)
    figure.update_layout(template="plotly_white", margin={"l": 10, "r": 10, "t": 10,
                                                          "b": 10},
                         legend={"orientation": "h", "y": -0.15}, **layout)
    return figure


def _top_users(rows: Sequence[UserResult]):
    import plotly.graph_objects as go

    top = sorted(rows, key=lambda row: -row.total_size)[:TOP_USERS][::-1]  # largest on top
    names = [plotly_text(row.username) for row in top]  # names: text, never markup
    traces = [go.Bar(name=label, y=names, x=[getattr(row, attr) for row in top],
                     orientation="h", marker_color=_COLORS[label],
                     customdata=[format_size(getattr(row, attr)) for row in top],
                     hovertemplate="%{y}<br>" + label + ": %{customdata}<extra></extra>")
              for label, attr in (("DBFS", "dbfs_bytes"), ("Workspace", "workspace_bytes"))]
    return new_fig(traces, barmode="stack", height=max(300, 26 * len(top) + 80),
                   xaxis={"title": "bytes"}, yaxis={"automargin": True})


def by_area(users: Sequence[UserResult], areas: Sequence[UserResult]):
    """One bar per area walked (coloured by file system; past TOP_AREAS, one bar for the
    rest) and one for every user's places together, largest on top."""
    import plotly.graph_objects as go

    group = {"dbfs": "DBFS area", "workspace": "Workspace area", "volumes": "volume"}
    bars = [(plotly_text(area_name(row)), row.total_size,
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
    for name in ("DBFS area", "Workspace area", "volume", "other areas", "users' places"):
        mine = [bar for bar in bars if bar[2] == name]
        if mine:
            traces.append(go.Bar(
                name=name, y=[bar[0] for bar in mine], x=[bar[1] for bar in mine],
                orientation="h", marker_color=_COLORS[name],
                text=[format_size(bar[1]) for bar in mine], textposition="outside",
                cliponaxis=False,
                customdata=[[format_size(bar[1]), bar[3]] for bar in mine],
                hovertemplate="%{y}<br>%{customdata[0]} (%{customdata[1]})<extra></extra>"))
    figure = new_fig(traces, barmode="stack", height=max(300, 26 * len(bars) + 80),
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
    return new_fig([go.Bar(x=labels, y=counts, marker_color="#1f77b4",
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
    return new_fig([go.Bar(x=names, y=[size[name] for name in names],
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
    return new_fig([go.Bar(x=labels, y=[homes[label] for label in labels],
                           marker_color="#8c564b",
                           hovertemplate="%{x}: %{y} homes<extra></extra>")],
                   height=320, yaxis={"title": "homes with files"})
