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
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from dbx_inventory.errors import ConfigError
from dbx_inventory.humanize import format_duration, format_size
from dbx_inventory.outputs.atomic import atomic_text_writer
from dbx_inventory.outputs.csv_files import iso_utc
from dbx_inventory.outputs.html.charts import DAY_MS, by_area, user_charts
from dbx_inventory.outputs.html.labels import area_name
from dbx_inventory.outputs.html.tables import table_data
from dbx_inventory.outputs.html.treemap import treemap
from dbx_inventory.outputs.html.volumes import volumes_section
from dbx_inventory.outputs.output import RunInfo, areas_of, users_of
from dbx_inventory.scan.dirs import owner_of
from dbx_inventory.scan.discover import LEFT, REMOVED, SERVICE_PRINCIPAL, USER_STATUSES
from dbx_inventory.scan.results import EMPTY, ERROR, SKIPPED, SUCCESS, UserResult
from dbx_inventory.scrub import scrub

NOT_IN_SCIM = (REMOVED, SERVICE_PRINCIPAL)  # user rows found without a SCIM user
STALE_DAYS = 365
TOP_DIRS = 5000         # rows of the largest-directories table


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

    env = jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"),
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
        "charts": user_charts(info, rows, end_ms),
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
        "skipped": [(area_name(row), scrub(row.error)) for row in areas
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
                  "figure": json.loads(by_area(users, walked).to_json())},
        "volumes": volumes_section(users, areas),  # Unity Catalog volumes, if any
    }


def _dirs(rows: Sequence[UserResult]) -> dict:
    """Where the bytes are: the directory breakdown of users and areas together, as a
    treemap and as the largest directories (every directory row, largest first)."""
    everything = [(owner_of(row.username, row.kind), dir_row)
                  for row in rows for dir_row in row.dirs]
    largest = sorted(everything, key=lambda item: (-item[1][5], item[1][0], item[1][2]))
    return {"count": len(everything), "shown": min(len(everything), TOP_DIRS),
            "largest": largest[:TOP_DIRS],
            "chart": {"id": "dirs", "title": "Bytes by owner and directory",
                      "figure": json.loads(treemap(rows).to_json())}}


def _utc(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
