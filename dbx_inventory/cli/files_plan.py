"""What the files tool settles before it scans (the Plan), and what it derives from the
checkpoint's record: the roots still to scan, the RunInfo of the outputs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dbx_inventory.errors import ConfigError
from dbx_inventory.outputs.checkpoint import CheckpointWriter
from dbx_inventory.outputs.output import Output, RunInfo
from dbx_inventory.runners.modes import Mode
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import Root, rebuild
from dbx_inventory.transport.client import ApiClient


@dataclass
class Plan:
    """What the run's preparation settled and the rest of the run works from."""

    names: list[str]
    todo: list[Root]
    done: dict[str, UserResult]
    host: str
    mode: Mode
    walkers: tuple
    client: ApiClient | None       # None: nothing to scan, outputs from the journal
    writer: CheckpointWriter | None
    outputs: list[Output]
    meta: dict = field(default_factory=dict)

    @property
    def noun(self) -> str:
        """What the rows are, for the lines that count them."""
        return "users and areas" if self.meta.get("whole_workspace") else "users"

    def stamp(self, row: UserResult) -> UserResult:
        """The row with its user_status, when statuses are known for this run."""
        status = (self.meta.get("statuses") or {}).get(row.username)
        return replace(row, user_status=status) if status else row


def todo_of(names: list[str], done: dict, kept: dict, file_systems: list[str]) -> list[Root]:
    """The roots still to scan, in run order (a user's homes unless the run kept more)."""
    try:
        return [root for root in rebuild(names, kept, file_systems)
                if root.name not in done]
    except ValueError:
        raise ConfigError("the checkpoint's scan roots are damaged; delete it to start "
                          "fresh") from None


def run_info(host: str, meta: dict, *, ended_at: float, command: str, mode: str) -> RunInfo:
    """RunInfo from what the checkpoint recorded (the first run's start, its run id);
    an empty command or mode stands for the recorded one."""
    return RunInfo(host=host, started_at=float(meta.get("started_at") or ended_at),
                   ended_at=ended_at, mode=mode or meta.get("mode", ""),
                   command=command or meta.get("command", ""),
                   sources=tuple(meta.get("sources") or ()), run_id=meta.get("run_id", ""),
                   all_homes=bool(meta.get("all_homes")),
                   whole_workspace=bool(meta.get("whole_workspace")),
                   statuses_known=bool(meta.get("statuses")),
                   incomplete=dict(meta.get("incomplete") or {}),
                   not_scanned=dict(meta.get("unscanned") or {}))
