"""One scrubber for every secret the run knows, applied wherever text leaves the process.

Secrets are remembered as they become known (a token from the settings, a client
secret, each OAuth access token minted); `scrub` blanks all of them, and any
credential-carrying URL parameter, from a piece of text.
"""

from __future__ import annotations

import re

from dbx_inventory.process_local import ProcessLocal

MASK = "****"
_MIN_LEN = 4  # shorter values would blank ordinary words
_URL_SECRET = re.compile(r"(?i)\b(token|access_token|client_secret|password)=[^;&/\s\"']+")

# Per process: an executor remembers what it learns itself (ApiClient does so).
_state = ProcessLocal()
_state.secrets = set()


def remember(value: str | None) -> None:
    """Blank this value from everything scrubbed from now on."""
    if value and len(value) >= _MIN_LEN:
        with _state.lock:
            _secrets().add(value)


def scrub(text: str) -> str:
    """The text with every remembered secret and URL credential blanked."""
    if not text:
        return text
    with _state.lock:
        known = sorted(_secrets(), key=len, reverse=True)  # longest first: no partial leaks
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    return _URL_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)


def forget_all() -> None:
    """For tests: start from no known secrets."""
    with _state.lock:
        _secrets().clear()


def _secrets() -> set[str]:
    # A holder unpickled on an executor comes without the set.
    if not hasattr(_state, "secrets"):
        _state.secrets = set()
    return _state.secrets
