"""The treemap of "Where the bytes are": owners, their roots, their directories."""

from __future__ import annotations

from typing import Sequence

from dbx_inventory.humanize import format_size
from dbx_inventory.outputs.html.charts import new_fig
from dbx_inventory.outputs.html.labels import owner_label, plotly_text
from dbx_inventory.outputs.html.volumes import volume_groups, volume_label
from dbx_inventory.scan.results import ERROR, SKIPPED, UserResult

TREEMAP_OWNERS = 40     # owners drawn in the treemap; the rest are one "other owners" box
TREEMAP_NODES = 2000    # boxes of the treemap at most, largest first


def treemap(rows: Sequence[UserResult]):
    """Owners (users and areas walked) at the top, then their directories by depth.
    Volumes are grouped by their catalog and schema (volumes.volume_groups) above them.

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
        parent = ""
        for key, label in volume_groups(row):  # a volume sits in its catalog and schema
            nodes.setdefault(key, [parent, label, 0, 0, label, False])
            parent = key
        nodes[owner] = [parent, volume_label(row) or owner_label(row), row.total_size,
                        row.file_count, owner_label(row), row.status == ERROR]
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
        labels.append(plotly_text(label))  # names: shown as written, never markup
        values.append(value[key])
        custom.append([plotly_text(where), format_size(value[key]), f"{files[key]:,} files"
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
    return new_fig([trace], height=640)
