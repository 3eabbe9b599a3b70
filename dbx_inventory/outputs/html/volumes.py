"""The report's Unity Catalog volumes: bytes by catalog, schema and volume, and by owner
(each owner's places as a user beside the volumes they own), and the volumes table.

A volume is an area of file system `volumes` whose path is /Volumes/<c>/<s>/<v>; its
owner is what Unity Catalog names (a user, a group or a service principal's
application id). A user's places and the volumes they own meet on the name.
"""

from __future__ import annotations

import json
from typing import Sequence

from dbx_inventory.humanize import format_size
from dbx_inventory.outputs.csv_files import iso_utc
from dbx_inventory.outputs.html.charts import new_fig
from dbx_inventory.outputs.html.labels import plotly_text
from dbx_inventory.scan.results import ERROR, SKIPPED, UserResult
from dbx_inventory.scan.roots import AREA, split_key
from dbx_inventory.scrub import scrub

FILE_SYSTEM = "volumes"
TOP_OWNERS = 25  # bars of the by-owner chart
# The volumes table's columns (label -> sort index, shown index, numeric), as tables.py.
_COLUMNS = {"catalog": (0, None, False), "schema": (1, None, False),
            "volume": (2, None, False), "owner": (3, None, False),
            "status": (4, None, False), "files": (5, None, True), "size": (6, 7, True),
            "bytes": (6, None, True), "last modified": (8, None, False),
            "error / reason": (9, None, False)}
_USERS, _VOLUMES = "as a user: homes, Git folders, uploads", "volumes they own"


def parts(row: UserResult) -> tuple[str, str, str] | None:
    """(catalog, schema, volume) of a volume's row; None for any other row."""
    file_system, path = split_key(row.username)
    if row.kind != AREA or file_system != FILE_SYSTEM:
        return None
    names = path.split("/")  # "", "Volumes", c, s, v
    return (names[2], names[3], "/".join(names[4:])) if len(names) >= 5 else None


def volume_groups(row: UserResult) -> list[tuple[str, str]]:
    """(id, label) of the boxes a volume sits in on the treemap: its catalog, its schema."""
    found = parts(row)
    if found is None:
        return []
    catalog, schema, _ = found
    return [(f"uc:{catalog}", f"catalog {catalog}"),
            (f"uc:{catalog}.{schema}", f"schema {catalog}.{schema}")]


def volume_label(row: UserResult) -> str:
    """A volume's box on the treemap: its name and owner ("" for any other row)."""
    found = parts(row)
    if found is None:
        return ""
    return f"{found[2]} · {row.owner}" if row.owner else found[2]


def volumes_section(users: Sequence[UserResult], areas: Sequence[UserResult]) -> dict | None:
    """The volumes part of the whole-workspace section, or None with no volume."""
    volumes = [row for row in areas if parts(row) is not None]
    if not volumes:
        return None
    walked = [row for row in volumes if row.status != SKIPPED]
    volumes = sorted(volumes, key=lambda row: (-row.total_size, row.username))
    return {
        "count": len(volumes), "walked": len(walked),
        "errors": sum(1 for row in volumes if row.status == ERROR),
        "skipped": len(volumes) - len(walked),
        "files": sum(row.file_count for row in walked),
        "bytes": sum(row.total_size for row in walked),
        "owners": len({row.owner for row in volumes if row.owner}),
        "charts": [
            {"id": "volumes-catalogs", "title": "Volumes by catalog, schema and volume",
             "figure": json.loads(_by_catalog(walked).to_json())},
            {"id": "volumes-owners", "title": "Bytes by owner: their places as a user "
                                              "and the volumes they own",
             "figure": json.loads(_by_owner(users, walked).to_json())}],
        "table": {"id": "volumes-table", "rows": None,
                  "columns": [[label, *spec] for label, spec in _COLUMNS.items()],
                  "records": [_record(row) for row in volumes]},
    }


def _record(row: UserResult) -> list:
    catalog, schema, volume = parts(row) or ("", "", "")
    return [catalog, schema, volume, row.owner, row.status, row.file_count, row.total_size,
            format_size(row.total_size), iso_utc(row.last_modified_ms), scrub(row.error)]


def _by_catalog(walked: Sequence[UserResult]):
    """A sunburst: catalogs inside, their schemas, their volumes outside."""
    import plotly.graph_objects as go

    nodes: dict[str, list] = {}  # id -> [parent, label, bytes, files]
    for row in walked:
        catalog, schema, volume = parts(row) or ("", "", "")
        chain = [(catalog, "", catalog), (f"{catalog}.{schema}", catalog, schema),
                 (f"{catalog}.{schema}.{volume}", f"{catalog}.{schema}", volume)]
        for key, parent, label in chain:
            node = nodes.setdefault(key, [parent, label, 0, 0])
            node[2] += row.total_size
            node[3] += row.file_count
    ids = list(nodes)
    trace = go.Sunburst(
        ids=ids, parents=[nodes[key][0] for key in ids],
        labels=[plotly_text(nodes[key][1]) for key in ids],  # names: never markup
        values=[nodes[key][2] for key in ids], branchvalues="total",
        customdata=[[plotly_text(key), format_size(nodes[key][2]),
                     f"{nodes[key][3]:,} files"] for key in ids],
        hovertemplate="%{customdata[0]}<br>%{customdata[1]} · %{customdata[2]}"
                      "<extra></extra>")
    return new_fig([trace], height=480)


def _by_owner(users: Sequence[UserResult], walked: Sequence[UserResult]):
    """Per owner (the TOP_OWNERS largest): bytes of their places as a user and of the
    volumes they own, stacked; the owner names groups and principals too."""
    import plotly.graph_objects as go

    as_user = {row.username.lower(): row.total_size for row in users}
    owned: dict[str, int] = {}
    names: dict[str, str] = {}
    for row in walked:
        if row.owner:
            owned[row.owner.lower()] = owned.get(row.owner.lower(), 0) + row.total_size
            names.setdefault(row.owner.lower(), row.owner)
    names.update({row.username.lower(): row.username for row in users
                  if row.username.lower() in owned})
    top = sorted(owned, key=lambda key: (-(owned[key] + as_user.get(key, 0)), key))
    top = top[:TOP_OWNERS][::-1]  # largest on top
    labels = [plotly_text(names[key]) for key in top]  # names: never markup
    traces = [go.Bar(name=name, y=labels, x=values, orientation="h", marker_color=color,
                     customdata=[format_size(value) for value in values],
                     hovertemplate="%{y}<br>" + name + ": %{customdata}<extra></extra>")
              for name, color, values in (
                  (_VOLUMES, "#17becf", [owned[key] for key in top]),
                  (_USERS, "#2ca02c", [as_user.get(key, 0) for key in top]))]
    return new_fig(traces, barmode="stack", height=max(300, 26 * len(top) + 80),
                   xaxis={"title": "bytes"}, yaxis={"automargin": True})
