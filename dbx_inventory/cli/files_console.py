"""What the files tool prints besides live progress: the discovery block, where users
were scanned, outage notices, the SUMMARY's extra lines and the one-user report."""

from __future__ import annotations

from dbx_inventory.cli.console import RULE, banner, now_text, out
from dbx_inventory.cli.worker_names import WorkerNames
from dbx_inventory.humanize import format_duration, format_size, plural
from dbx_inventory.outputs.csv_files import iso_utc
from dbx_inventory.scan.discover import (ACTIVE, INACTIVE, REMOVED, SERVICE_PRINCIPAL,
                                         left_behind_line)
from dbx_inventory.scan.filesystems import DBFS, WORKSPACE
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.userlist import case_twins


def print_banner(host: str, names: list[str], mode, walkers, *, whole: bool) -> None:
    """The run's opening block: when, where, what, how."""
    banner("DATABRICKS USER FILES LISTING",
           [f"Start time: {now_text()}", f"Workspace: {host}",
            f"Users to process: {len(names)}" if names else
            "Users to process: every SCIM user and home folder (--all-homes)"
            + (", and every area of the file systems scanned (--whole-workspace)" if whole else ""),
            f"Mode: {mode.describe}",
            f"Scanning: {', '.join(w.label for w in walkers)}"])
    out(RULE)
    if mode.hint:  # a cluster configured but not asked for
        out(f"Note: {mode.hint}")
    for group in case_twins(names):
        out(f"Note: {' and '.join(group)} differ only in letter case; home folders "
            "are case-sensitive, so each is scanned")


def print_resuming(done: int, todo: int) -> None:
    out()
    out("RESUMING FROM CHECKPOINT")
    out(f"Already completed: {done}")
    out(f"Remaining to process: {todo}")


def print_discovery(found) -> None:
    """What --all-homes and --whole-workspace found, in the DISCOVERY block."""
    out(f"  SCIM users: {found.count(ACTIVE) + found.count(INACTIVE)} "
        f"({found.count(ACTIVE)} active, {found.count(INACTIVE)} inactive)")
    out("  Home folders under /Users: "
        + (", ".join(f"{label} {count:,}" for label, count in found.homes.items())
           or "none could be listed"))
    out(f"  Service principals' homes: {found.count(SERVICE_PRINCIPAL)}")
    outside = sum(1 for name in found.outside if found.statuses[name] == REMOVED)
    out(f"  Removed users' homes (not in SCIM): {found.count(REMOVED) - outside}")
    for label, reason in found.incomplete.items():
        out(f"  ⚠ {label} discovery incomplete: {reason}")
    if found.layout is not None:
        _print_layout(found)
    out(f"Users to process: {len(found.users)}")


def _print_layout(found) -> None:
    """What --whole-workspace found beyond /Users."""
    layout = found.layout
    places = sum(len(places) for places in layout.owned.values())
    out(f"  Users' places outside /Users (Git folders, uploads): "
        f"{plural(places, 'place')} of {plural(len(layout.owned), 'user')}")
    if found.outside:
        out(f"  Found only outside /Users: {', '.join(found.outside)}")
    walked = [area for area in layout.areas + layout.home_files if not area.skipped]
    out(f"  Areas: {len(walked)}; skipped, named only: {len(layout.skipped)}")
    for area in layout.skipped:
        out(f"    skipped {area.name} ({area.skipped})")


def where_lines(*, spark: bool, done: dict, fresh: dict[str, UserResult],
                workers: WorkerNames, fell_back: bool) -> list[str]:
    """Which users were scanned where: Spark, this machine, earlier runs."""
    if not spark and not done:
        return []  # the banner's Mode line already says it all
    on_spark = [row for row in fresh.values() if not workers.is_local(row.worker)]
    here = len(fresh) - len(on_spark)
    lines = []
    if spark:
        executors = len({row.worker for row in on_spark})
        lines.append(f"Scanned on Spark: {plural(len(on_spark), 'user')}"
                     + (f" ({plural(executors, 'executor')})" if executors else ""))
    if here:
        how = " (fallback)" if fell_back else " (alongside Spark)" if spark else ""
        lines.append(f"Scanned on this machine{how}: {plural(here, 'user')}")
    if done:
        lines.append(f"Taken from the checkpoint: {plural(len(done), 'user')}")
    return lines


def outage_notice(event: str, down_for: float, detail: str) -> None:
    """The workspace stopped answering, is still silent, or answers again."""
    if event == "down":
        out(f"⚠ The workspace stopped answering ({detail}): no new users are started; "
            "waiting for it")
    elif event == "waiting":
        out(f"⚠ Still no answer after {format_duration(down_for)} ({detail})")
    else:
        out(f"✓ The workspace answers again after {format_duration(down_for)}; "
            "continuing")


def summary_notes(rows, meta: dict) -> list[str]:
    """SUMMARY lines beyond the counts: data left behind, discovery that was incomplete."""
    notes = [line for line in [left_behind_line(rows)] if line]
    notes += [f"⚠ {label} was not scanned: {why}" for label, why in
              (meta.get("unscanned") or {}).items()]
    for label, reason in (meta.get("incomplete") or {}).items():
        notes.append(f"⚠ {label} discovery incomplete ({reason}): removed users' homes "
                     f"there may be missing")
    return notes


def single_user_report(row: UserResult, walkers) -> None:
    """A run of one user ends with that user's figures per file system."""
    out()
    out(RULE)
    out(f"USER REPORT: {row.username}")
    out(RULE)
    if DBFS in walkers:
        out(f"  DBFS      dbfs:/Users/{row.username}: {row.dbfs_files:,} files, "
            f"{format_size(row.dbfs_bytes)} ({row.dbfs_bytes:,} bytes)")
    if WORKSPACE in walkers:
        out(f"  Workspace /Users/{row.username}: {row.workspace_files:,} files, "
            f"{format_size(row.workspace_bytes)} ({row.workspace_bytes:,} bytes)")
    out(f"  Total: {row.file_count:,} files, {format_size(row.total_size)}; "
        f"status {row.status}; source {row.file_source}")
    if row.last_modified_ms:
        out(f"  Last modified: {iso_utc(row.last_modified_ms)}")
    if row.error:
        out(f"  Error: {row.error}")
    out(f"  Listings: {row.listings}, time: {row.duration_s:.1f}s")
