"""Everything a finished run writes, fed from one place.

The run loop hands the final rows to `write_outputs` once; each output (the CSV, the
HTML report, the Spark table) is an object with a `write(info, rows)` method and a
`describe()` for the console. Adding a format means adding an Output, not a branch in
the run loop. Outputs are written in order; the CSV goes first because it is the record
of the run, so a later output failing never costs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

from dbx_inventory import __version__
from dbx_inventory.scan.dirs import owner_of
from dbx_inventory.outputs.csv_files import write_areas, write_dirs, write_results
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import AREA, USER


@dataclass(frozen=True)
class RunInfo:
    """What is known about the run itself, for outputs that describe it."""

    host: str
    started_at: float            # epoch seconds
    ended_at: float
    mode: str                    # the banner's Mode line
    command: str                 # the command line, secrets removed
    sources: tuple[str, ...] = field(default=())   # walker names scanned
    run_id: str = ""             # one per run, the same across its resumes
    version: str = __version__
    all_homes: bool = False
    whole_workspace: bool = False
    statuses_known: bool = False  # rows carry user_status
    # file system label -> why its /Users could not be listed (discovery incomplete)
    incomplete: Mapping[str, str] = field(default_factory=dict)
    # file system label -> why it was not scanned at all (DBFS off on this workspace)
    not_scanned: Mapping[str, str] = field(default_factory=dict)


class Output(Protocol):
    def write(self, info: RunInfo, rows: Sequence[UserResult]) -> None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class CsvOutput:
    """The results CSV: the record of the run."""

    path: str
    extended: bool = False

    def write(self, info: RunInfo, rows: Sequence[UserResult]) -> None:
        write_results(self.path, users_of(rows), extended=self.extended,
                      user_status=info.statuses_known)

    def describe(self) -> str:
        return f"Results saved to: {self.path}"


@dataclass(frozen=True)
class AreasCsv:
    """--whole-workspace's areas: every place that is no user's, walked or skipped."""

    path: str

    def write(self, info: RunInfo, rows: Sequence[UserResult]) -> None:
        write_areas(self.path, areas_of(rows))

    def describe(self) -> str:
        return f"Areas saved to: {self.path}"


class Breakdowns(Protocol):
    """Where the rows' directory breakdowns are kept (the journal: checkpoint.py)."""

    def of(self, name: str) -> tuple: ...

    def attach(self, rows: Sequence[UserResult]) -> list[UserResult]: ...


@dataclass(frozen=True)
class DirsCsv:
    """--dirs-output: every root's directories at depth 1..N, users' then areas', read
    row by row from where they are kept (never all in memory)."""

    path: str
    breakdowns: Breakdowns

    def write(self, info: RunInfo, rows: Sequence[UserResult]) -> None:
        write_dirs(self.path, ((owner_of(row.username, row.kind), item) for row in rows
                               for item in self.breakdowns.of(row.username)))

    def describe(self) -> str:
        return f"Directory breakdown saved to: {self.path}"


@dataclass(frozen=True)
class WithBreakdowns:
    """An output that needs every row's breakdown at once (the report, the table)."""

    output: Output
    breakdowns: Breakdowns

    def write(self, info: RunInfo, rows: Sequence[UserResult]) -> None:
        self.output.write(info, self.breakdowns.attach(rows))

    def describe(self) -> str:
        return self.output.describe()


def users_of(rows: Sequence[UserResult]) -> list[UserResult]:
    return [row for row in rows if row.kind == USER]


def areas_of(rows: Sequence[UserResult]) -> list[UserResult]:
    return [row for row in rows if row.kind == AREA]


def write_outputs(outputs: Sequence[Output], info: RunInfo,
                  rows: Sequence[UserResult]) -> list[str]:
    """Write every output in order; returns the console line of each one written."""
    written = []
    for output in outputs:
        output.write(info, rows)
        written.append(output.describe())
    return written
