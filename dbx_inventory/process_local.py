"""State that belongs to one process and must never travel with the package.

Spark ships this package to executors pickled by value, module globals included. A
lock or a thread-local cannot be pickled, and remembered secrets must not be: the
server logs the pickled plan. Each holder here pickles as a new, empty one, so an
executor starts with its own state.
"""

from __future__ import annotations

import threading
from typing import Any


class ProcessLocal:
    """Attributes set at run time; pickled as a fresh, empty holder."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __reduce__(self):
        return (type(self), ())

    # Attributes are set at run time; these two say so to type checkers.
    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)


class ThreadLocal(threading.local):
    """threading.local that pickles as a fresh one."""

    def __reduce__(self):
        return (type(self), ())
