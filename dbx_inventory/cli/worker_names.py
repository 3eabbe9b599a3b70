"""The names the console gives the processes that scan users.

Spark's Python workers become Executor-0, Executor-1, ... in the order they first
report (as the seed names them); rows scanned by this process are "local". The
host/pid behind each executor name is kept, so --debug can show it once.
"""

from __future__ import annotations

from typing import Callable

from dbx_inventory.scan.scanner import worker_identity

LOCAL = "local"


class WorkerNames:
    """host/pid -> console name, numbered in order of first sight."""

    def __init__(self, local: str | None = None,
                 on_new: Callable[[str, str], None] | None = None):
        self.local = local or worker_identity()
        self.on_new = on_new          # (name, host/pid) when an executor is first seen
        self._names: dict[str, str] = {}

    def is_local(self, worker: str) -> bool:
        return worker == self.local

    def label(self, worker: str) -> str:
        """Executor-N for a Spark worker (numbered on first sight), "local" for us."""
        if self.is_local(worker):
            return LOCAL
        name = self._names.get(worker)
        if name is None:
            name = self._names[worker] = f"Executor-{len(self._names)}"
            if self.on_new is not None:
                self.on_new(name, worker)
        return name

    def executors(self) -> list[str]:
        """Executor names seen so far, in number order."""
        return list(self._names.values())
