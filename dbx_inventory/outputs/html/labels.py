"""How the report names what it shows: an area by its path and file system, an owner;
and any name as Plotly text (`plotly_text`).

Plotly reads the text of labels, ticks and hover boxes as a small HTML: `<a href>`
becomes a link, `<span style>` restyles it, `<b>`, `<br>` and friends apply. Any DBFS
user can name a folder `<span style="font-size:90px">`, so every name a chart shows
goes through `plotly_text()`: its markup characters become the entities Plotly turns
back into plain characters, and its control characters visible escapes.
"""

from __future__ import annotations

from dbx_inventory.humanize import printable
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import USER, split_key


def area_name(row: UserResult) -> str:
    """An area as people read it: its path with its file system (dbfs:/FileStore)."""
    file_system, path = split_key(row.username)
    return f"{file_system}:{path}"


def owner_label(row: UserResult) -> str:
    return row.username if row.kind == USER else area_name(row)


# Plotly decodes these entities in text between tags (svg_text_utils: convertEntities).
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def plotly_text(name: str) -> str:
    """A name (user, area, directory, path) as Plotly text that shows it literally."""
    text = printable(name)
    if not any(char in text for char in _ENTITIES):
        return text
    return "".join(_ENTITIES.get(char, char) for char in text)
