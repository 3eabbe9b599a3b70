"""Numbers as people read them: counts with their noun, durations, binary sizes."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 user', '2 users', '0 requests'."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def format_size(num_bytes: int) -> str:
    """Binary units, one decimal: 52.7 MB means 52.7 MiB."""
    size = float(num_bytes)
    if size < 1024:
        return f"{int(size)} B"
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} PB"  # the largest unit: beyond it, more PB


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """Text with its control and other invisible characters shown as escapes (\\n,
    \\x1b, \\u202e): a name with a newline cannot forge a line of its own."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _ESCAPES.get(char) or
                   (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
                   for char in text)
