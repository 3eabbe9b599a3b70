"""databricks_user_files_simple.py: count each user's files and bytes; write the CSV."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from dbx_inventory.outputs.atomic import check_writable
from dbx_inventory.outputs.checkpoint import (DEFAULT_PATH, CheckpointLock, CheckpointWriter,
                                              JournalBreakdowns, check_resumable, read_journal,
                                              set_aside)
from dbx_inventory.cli.common import (EXIT_FAILED, EXIT_OK, Parser, add_connection_args,
                                      client_config, command_line, explain_api_error,
                                      resolve_settings, run, setup_logging)
from dbx_inventory.transport.client import ApiClient
from dbx_inventory.cli.console import RULE, banner, emit, fail, footer, now_text, out
from dbx_inventory.humanize import format_duration, format_size, plural
from dbx_inventory.scan.discover import (ACTIVE, INACTIVE, REMOVED, SERVICE_PRINCIPAL, discover,
                                         left_behind_line, read_directory, statuses_for)
from dbx_inventory.errors import (ConfigError, InventoryError, JournalWriteError, NotAWorkspace,
                                  Unauthenticated, WorkspaceOutage)
from dbx_inventory.cli.progress import Progress, print_summary, whole_lines
from dbx_inventory.runners.modes import Mode, choose_mode
from dbx_inventory.outputs.output import (AreasCsv, CsvOutput, DirsCsv, Output, RunInfo,
                                          WithBreakdowns, users_of, write_outputs)
from dbx_inventory.transport.politeness import politeness_lines, sum_stats
from dbx_inventory.outputs.csv_files import iso_utc
from dbx_inventory.outputs.html.report import HtmlReport
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import Root, rebuild, recorded
from dbx_inventory.runners.dispatch import scan_rows
from dbx_inventory.scan.scim import check_access
from dbx_inventory.transport.retry import RetryPolicy
from dbx_inventory.cli.spark_console import SparkConsole, print_distribution
from dbx_inventory.outputs.table import SparkTable, check_table_name, table_mode
from dbx_inventory.scan.userlist import case_twins, parse_users, read_users_file
from dbx_inventory.scan.filesystems import DBFS, WORKSPACE
from dbx_inventory.cli.worker_names import WorkerNames

DEFAULT_CONCURRENCY = 20  # the workspace admits about 20 requests in flight
MAX_CONCURRENCY = 256     # one thread per request in flight: beyond this, threads run out
DEFAULT_DIRS_DEPTH = 3
DEFAULT_OUTAGE_S = 600.0  # how long a silent workspace is waited for before the run stops
PROG = "databricks_user_files_simple.py"


def build_parser() -> Parser:
    parser = Parser(prog=PROG,
                    description="Count each user's files and bytes in DBFS and the "
                                "Workspace and write a results CSV.")
    parser.add_argument("users", nargs="*", help="user names (emails) to scan")
    parser.add_argument("--users-file", help="file with one user per line")
    parser.add_argument("--all-homes", action="store_true",
                        help="scan every SCIM user and every home folder under /Users "
                             "(removed users' too); adds user_status")
    parser.add_argument("--whole-workspace", action="store_true",
                        help="everything in both file systems (implies --all-homes): "
                             "users' Git folders and uploads join their rows, every other "
                             "top-level place is an area (--areas-output)")
    parser.add_argument("--areas-output", metavar="FILE",
                        help="areas CSV of --whole-workspace (default: beside the "
                             "results, <stem>_areas.csv)")
    parser.add_argument("--dirs-output", metavar="FILE",
                        help="also write a breakdown by directory: one row per directory "
                             "at depth 1..--dirs-depth below every scanned root")
    parser.add_argument("--dirs-depth", type=int, default=DEFAULT_DIRS_DEPTH, metavar="N",
                        help=f"depth of --dirs-output (default {DEFAULT_DIRS_DEPTH})")
    parser.add_argument("--include-mounts", action="store_true",
                        help="with --whole-workspace, walk /mnt mount points too "
                             "(external storage: can take days)")
    add_connection_args(parser)
    parser.add_argument("--cluster-id", help="Databricks cluster to spread the scan over")
    parser.add_argument("--spark-remote", help="any Spark Connect server, e.g. "
                                               "sc://localhost:15002 (default: SPARK_REMOTE)")
    parser.add_argument("--spark-tasks", type=int, default=None,
                        help="Spark tasks that run at once (default: from the cluster's "
                             "spark.default.parallelism or master, else 8)")
    parser.add_argument("--spark-only", action="store_true",
                        help="scan on the cluster only (by default this machine scans "
                             "the first users while the executors start, then hands "
                             "every other user to Spark)")
    parser.add_argument("-o", "--output", default="results.csv", help="results CSV")
    parser.add_argument("--no-parallel", action="store_true",
                        help="scan from this machine even if a cluster is configured")
    parser.add_argument("--no-fallback", action="store_true",
                        help="exit 1 instead of scanning locally when Spark fails")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run recorded in the checkpoint")
    parser.add_argument("--checkpoint", default=DEFAULT_PATH, help="checkpoint file")
    side = parser.add_mutually_exclusive_group()
    side.add_argument("--dbfs-only", action="store_true", help="scan DBFS only")
    side.add_argument("--workspace-only", action="store_true", help="scan the Workspace only")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="requests in flight at most, across all workers "
                             f"(default {DEFAULT_CONCURRENCY}, at most {MAX_CONCURRENCY})")
    parser.add_argument("--outage-timeout", type=float, default=DEFAULT_OUTAGE_S,
                        metavar="SECONDS",
                        help="how long to wait for a workspace that stopped answering "
                             f"before stopping the run (default {DEFAULT_OUTAGE_S:g})")
    parser.add_argument("--max-rps", type=float, default=None, metavar="N",
                        help="requests per second at most over the whole run, to leave "
                             "the workspace's rate to others (default: what it admits)")
    parser.add_argument("--extended", action="store_true",
                        help="add per-side counts, last_modified and duration_s columns "
                             "(and user_status, from one paged SCIM read)")
    parser.add_argument("--report", metavar="PATH",
                        help="also write a self-contained HTML report (with --resume on a "
                             "finished run: rewrite it from the checkpoint, no scan)")
    parser.add_argument("--output-table", metavar="NAME",
                        help="append the results to this Spark table (catalog.schema.table "
                             "on Databricks) through --cluster-id or --spark-remote")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The resume command names the interpreter and script really used.
    program = [sys.executable, sys.argv[0]] if argv is None else None
    code = run(lambda: Run(args, parser, program).execute())
    if "pyspark" in sys.modules and argv is None:
        # pyspark leaves non-daemon gRPC threads retrying a dead server, and Python
        # would wait for them at exit. Everything we write is closed and fsynced by now;
        # the Spark session's release (its artifacts) gets a few seconds at most.
        from dbx_inventory.runners.spark.session import settle

        settle()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class Run:
    """One invocation: inputs checked, scan run, checkpoint and outputs kept in step.

    execute() reads as the run does: prepare (inputs, settings, checkpoint policy),
    scan (rows made durable as they arrive), finish (outputs and console). The
    checkpoint is locked for the whole run.
    """

    def __init__(self, args, parser: argparse.ArgumentParser,
                 program: list[str] | None = None):
        self.args = args
        self.parser = parser
        self.program = program or ["python", PROG]
        self.spark_failed = False  # then the resume hint also says how to finish locally
        self.spark_stats: dict = {}   # request counters summed over the Spark jobs
        self.started = time.monotonic()
        self.started_at = time.time()
        self.workers = WorkerNames()  # Executor-N names, shared by every console part
        self.fell_back = False        # Spark failed and this machine took over
        self.lock = CheckpointLock(args.checkpoint)

    def execute(self) -> int:
        try:
            with _terminate_as_interrupt():
                plan = self._prepare()
                fresh = self._scan(plan)
                if fresh is None:
                    return EXIT_FAILED
                return self._finish(plan, fresh)
        finally:
            self.lock.release()

    def _prepare(self) -> "_Plan":
        """Inputs checked, banner shown, access proved, users known, checkpoint opened."""
        args = self.args
        setup_logging(args.debug)
        if not 1 <= args.concurrency <= MAX_CONCURRENCY:
            raise ConfigError(f"--concurrency must be between 1 and {MAX_CONCURRENCY} "
                              f"(a workspace admits about {DEFAULT_CONCURRENCY})")
        if args.spark_tasks is not None and args.spark_tasks < 1:
            raise ConfigError("--spark-tasks must be at least 1")
        if not args.outage_timeout > 0:
            raise ConfigError("--outage-timeout must be more than 0 seconds")
        if args.max_rps is not None and not args.max_rps > 0:
            raise ConfigError("--max-rps must be above 0")
        if args.output_table:
            check_table_name(args.output_table)
        if not 1 <= args.dirs_depth <= 100:
            raise ConfigError("--dirs-depth must be between 1 and 100")
        if args.whole_workspace:
            args.all_homes = True
        elif args.areas_output or args.include_mounts:
            raise ConfigError("--areas-output and --include-mounts go with "
                              "--whole-workspace")
        names = self._users()  # empty under --all-homes: discovered below
        settings = resolve_settings(args)
        mode = choose_mode(args, settings.cluster_id, source=settings.cluster_source)
        walkers = (DBFS,) if args.dbfs_only else (WORKSPACE,) if args.workspace_only \
            else (DBFS, WORKSPACE)
        # What changes a row: a resume with another scope is refused.
        scope: dict = {"sources": [walker.name for walker in walkers]}
        if args.all_homes:
            scope["all_homes"] = True
        if args.whole_workspace:
            scope["whole_workspace"] = True
            if args.include_mounts:
                scope["include_mounts"] = True
        if args.dirs_output:  # the breakdown is part of each row
            scope["dirs_depth"] = args.dirs_depth
        file_systems = [walker.name for walker in walkers]
        retry = RetryPolicy(outage_limit_s=args.outage_timeout)
        config = replace(client_config(settings, args.concurrency, retry), max_rps=args.max_rps)
        outputs = self._outputs(settings, config)
        for path in self._output_paths() + [args.checkpoint]:
            check_writable(path)  # fail now, not after hours of scanning
        self.lock.acquire()  # before the journal is read: one run decides at a time
        journal = read_journal(args.checkpoint)
        resumed = journal if args.resume else None  # the journal this run continues
        if args.all_homes and resumed is not None:
            names = list(resumed.users)  # continue the recorded list: no rediscovery
        done = self._resume_state(journal, settings.host, names, scope) if names else {}
        kept = (resumed.meta.get("roots") if resumed is not None else None) or {}
        todo = _todo(names, done, kept, file_systems)
        if mode.spark and names and not todo:  # (--all-homes: names come later)
            mode = Mode(False, "LOCAL (nothing left to scan: Spark not used)")

        banner("DATABRICKS USER FILES LISTING",
               [f"Start time: {now_text()}", f"Workspace: {settings.host}",
                f"Users to process: {len(names)}" if names else
                "Users to process: every SCIM user and home folder (--all-homes)"
                + (", and every area of both file systems (--whole-workspace)"
                   if args.whole_workspace else ""),
                f"Mode: {mode.describe}",
                f"Scanning: {', '.join(w.label for w in walkers)}"])
        out(RULE)
        if mode.hint:
            out(f"Note: {mode.hint}")
        for group in case_twins(names):
            out(f"Note: {' and '.join(group)} differ only in letter case; home folders "
                "are case-sensitive, so each is scanned")
        # A journal from before run facts were recorded gets them now.
        meta = self._new_meta(mode, walkers) | (resumed.meta if resumed is not None else {})
        if resumed is not None:
            out()
            out("RESUMING FROM CHECKPOINT")
            out(f"Already completed: {len(done)}")
            out(f"Remaining to process: {len(todo)}")
        if resumed is not None and resumed.complete and names and not todo:
            out(f"Nothing to scan: the run in {args.checkpoint} already finished "
                f"({len(resumed.results)} users); writing the outputs from it. "
                "Run without --resume to scan again.")
            return _Plan(names=names, todo=[], done=done, host=settings.host, mode=mode,
                         walkers=walkers, client=None, writer=None, outputs=outputs,
                         meta=meta)
        client = ApiClient(config)  # one pooled session for the check and the scan
        client.outage.notify = self._outage_notice
        check_access(client)  # wrong host or token: one line, before anything else
        if not names:
            names = self._discover(client, walkers, meta)
            done = self._resume_state(journal, settings.host, names, scope)
            todo = _todo(names, done, meta.get("roots") or {}, file_systems)
        elif args.extended and not set(names) <= set(meta.get("statuses") or {}):
            out("Reading user statuses from SCIM (--extended)")
            meta["statuses"] = statuses_for(read_directory(client), names)
        if journal is not None and not journal.complete and not args.resume:
            # Only now that the run can start: a failed start must not cost the journal.
            aside = set_aside(args.checkpoint)
            out(f"Note: an unfinished checkpoint was moved to {aside} "
                "(use --resume to continue a run)")
        writer = CheckpointWriter(args.checkpoint, host=settings.host, users=names,
                                  scope=scope, append=resumed is not None,
                                  grown=resumed is not None and resumed.users != names,
                                  meta=meta)
        return _Plan(names=names, todo=todo, done=done, host=settings.host, mode=mode,
                     walkers=walkers, client=client, writer=writer, outputs=outputs,
                     meta=meta)

    def _new_meta(self, mode: Mode, walkers) -> dict:
        """What the checkpoint keeps about a new run, for its resumes and reports."""
        return {"run_id": uuid.uuid4().hex, "started_at": self.started_at,
                "mode": mode.describe, "command": self._command_line(),
                "sources": [walker.name for walker in walkers]}

    def _discover(self, client: ApiClient, walkers, meta: dict) -> list[str]:
        """--all-homes: every SCIM user, then every other home folder; recorded in meta."""
        out()
        out("DISCOVERY (--whole-workspace)" if self.args.whole_workspace
            else "DISCOVERY (--all-homes)")
        found = discover(client, walkers, warn=out, whole=self.args.whole_workspace,
                         include_mounts=self.args.include_mounts)
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
        file_systems = [walker.name for walker in walkers]
        meta.update(all_homes=True, statuses=found.statuses, incomplete=found.incomplete,
                    roots=recorded(found.roots, file_systems))
        if found.layout is not None:
            meta["whole_workspace"] = True
        return [root.name for root in found.roots]

    def _scan(self, plan: "_Plan") -> dict[str, UserResult] | None:
        """Scan what is left; every row durable before it is shown. None if it stopped."""
        args = self.args
        fresh: dict[str, UserResult] = {}
        client, writer = plan.client, plan.writer
        if not plan.todo or client is None or writer is None:
            return fresh
        progress = Progress(len(plan.names), done_before=len(plan.done), debug=args.debug,
                            names=self.workers)
        events = SparkConsole(len(plan.todo), self.workers, debug=args.debug) \
            if plan.mode.spark else None
        rows = scan_rows(plan.mode, client, plan.todo, plan.walkers, debug=args.debug,
                         on_spark_failure=self._report_spark_failure, events=events,
                         notice=self._notice, stats=self.spark_stats,
                         dirs_depth=args.dirs_depth if args.dirs_output else 0)
        then = ""
        try:
            for row in rows:
                row = plan.stamp(row)
                writer.record(row)  # durable before it is reported
                # Its breakdown stays in the journal only (JournalBreakdowns).
                fresh[row.username] = replace(row, dirs=()) if row.dirs else row
                progress.report(row)
        except KeyboardInterrupt:
            reason = "interrupted"
        except JournalWriteError as exc:
            reason, then = str(exc), "make room, then "
        except Unauthenticated as exc:
            reason, then = explain_api_error(exc), "fix the token, then "
        except (WorkspaceOutage, NotAWorkspace) as exc:
            reason = str(exc)
        else:
            progress.close()
            return fresh
        progress.close()
        writer.close()
        # Users in flight are not recorded; what the journal holds is what is saved.
        saved = len(plan.done) + writer.recorded
        fail(f"{reason}. {saved} of {len(plan.names)} {plan.noun} are saved in "
             f"{args.checkpoint}; {then}resume with: {self._resume_hint()}")
        return None

    def _finish(self, plan: "_Plan", fresh: dict[str, UserResult]) -> int:
        """Outputs from the journal's view of every user, then the console summary."""
        rows = [plan.stamp(fresh.get(name) or plan.done[name]) for name in plan.names]
        scanned = plan.client is not None
        # Outputs rewritten from a finished journal describe the recorded run.
        ended = time.time() if scanned else max((row.ended_at for row in rows),
                                                default=time.time())
        info = _run_info(plan.host, plan.meta, ended_at=ended,
                         command=self._command_line() if scanned else "",
                         mode=(plan.mode.describe + (", then LOCAL (fallback)"
                                                     if self.fell_back else ""))
                         if scanned else "")
        try:
            written = write_outputs(plan.outputs, info, rows)
            if plan.writer is not None:
                plan.writer.mark_complete()
        except (OSError, JournalWriteError, KeyboardInterrupt) as exc:
            # Every row is in the journal: the outputs can be written again from it.
            reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else \
                str(exc) if isinstance(exc, JournalWriteError) else \
                f"cannot write {exc.filename or 'an output'}: {exc.strerror or exc}"
            fail(f"{reason}. All {len(plan.names)} {plan.noun} are saved in "
                 f"{self.args.checkpoint}; resume with: {self._resume_hint()}")
            return EXIT_FAILED
        finally:
            if plan.writer is not None:
                plan.writer.close()
        if len(plan.names) == 1:
            _single_user_report(rows[0], plan.walkers)
        if self.args.debug and plan.mode.spark:
            print_distribution(Counter(self.workers.label(row.worker)
                                       for row in fresh.values()
                                       if not self.workers.is_local(row.worker)))
        where = self._where(plan, fresh)
        if plan.client is not None:  # how polite: this machine's requests and every job's
            polite = politeness_lines(sum_stats([plan.client.stats.as_dict(),
                                                 self.spark_stats]))
            where = where + ([""] if where else []) + polite
        print_summary(users_of(rows), where,
                      notes=_summary_notes(rows, plan.meta) + whole_lines(rows))
        out()
        for line in written:
            out(line)
        footer("COMPLETED SUCCESSFULLY", time.monotonic() - self.started,
               [f"Users processed: {len(users_of(rows))}",
                *([f"Areas: {len(rows) - len(users_of(rows))}"] if plan.meta.get(
                    "whole_workspace") else []),
                f"Output file: {self.args.output}",
                *(where if self.fell_back else [])])
        return EXIT_OK

    def _where(self, plan: "_Plan", fresh: dict[str, UserResult]) -> list[str]:
        """Which users were scanned where: Spark, this machine, earlier runs."""
        if not plan.mode.spark and not plan.done:
            return []  # the banner's Mode line already says it all
        on_spark = [row for row in fresh.values() if not self.workers.is_local(row.worker)]
        here = len(fresh) - len(on_spark)
        lines = []
        if plan.mode.spark:
            executors = len({row.worker for row in on_spark})
            lines.append(f"Scanned on Spark: {plural(len(on_spark), 'user')}"
                         + (f" ({plural(executors, 'executor')})" if executors else ""))
        if here:
            how = " (fallback)" if self.fell_back else \
                " (alongside Spark)" if plan.mode.spark else ""
            lines.append(f"Scanned on this machine{how}: {plural(here, 'user')}")
        if plan.done:
            lines.append(f"Taken from the checkpoint: {plural(len(plan.done), 'user')}")
        return lines

    def _outputs(self, settings, config) -> list[Output]:
        """What this run writes at the end, in order; the CSV first: it is the record."""
        args = self.args
        outputs: list[Output] = [CsvOutput(args.output, extended=args.extended)]
        if args.whole_workspace:
            outputs.append(AreasCsv(self._areas_path()))
        breakdowns = JournalBreakdowns(args.checkpoint)
        if args.dirs_output:
            outputs.append(DirsCsv(self._dirs_path(), breakdowns))
        if args.report:
            outputs.append(HtmlReport(args.report))
        if args.output_table:
            outputs.append(SparkTable(args.output_table, table_mode(args, settings.cluster_id),
                                      config, dirs=bool(args.dirs_output)))
        if not args.dirs_output:
            return outputs
        # The rows are kept without their breakdowns: these outputs read them back.
        return [output if isinstance(output, (CsvOutput, AreasCsv, DirsCsv))
                else WithBreakdowns(output, breakdowns) for output in outputs]

    def _output_paths(self) -> list[str]:
        return [self.args.output] \
            + ([self._areas_path()] if self.args.whole_workspace else []) \
            + ([self._dirs_path()] if self.args.dirs_output else []) \
            + ([self.args.report] if self.args.report else [])

    def _dirs_path(self) -> str:
        """--dirs-output: a file of its own, not one of the other outputs."""
        path = self.args.dirs_output
        if Path(path).is_dir():
            raise ConfigError(f"--dirs-output {path} is a directory: name a file")
        others = [self.args.output] + ([self._areas_path()] if self.args.whole_workspace
                                       else [])
        if any(Path(path).resolve() == Path(other).resolve() for other in others):
            raise ConfigError(f"--dirs-output {path} is another output of this run: give "
                              "the breakdown a file of its own")
        return path

    def _areas_path(self) -> str:
        """--areas-output, or <stem>_areas.csv beside the results; never the results."""
        output = Path(self.args.output)
        path = self.args.areas_output or str(output.with_name(f"{output.stem}_areas.csv"))
        if Path(path).is_dir():
            raise ConfigError(f"--areas-output {path} is a directory: name a file")
        if Path(path).resolve() == output.resolve():
            raise ConfigError(f"--areas-output {path} is the results file: give the areas "
                              "a file of their own")
        return path

    def _users(self) -> list[str]:
        if self.args.all_homes:
            if self.args.users or self.args.users_file:
                raise ConfigError("--all-homes finds the users itself: do not also name "
                                  "users or pass --users-file")
            return []
        names = parse_users(self.args.users, where="user argument")
        if self.args.users_file:
            names = parse_users(names + read_users_file(self.args.users_file))
        if not names:
            raise ConfigError("no users to scan: name them, or pass --users-file")
        return names

    def _resume_state(self, journal, host: str, names: list[str], scope: dict
                      ) -> dict[str, UserResult]:
        """Users already done: none when starting fresh.

        One rule: the same users in any order, or a list that only grew, resume; the
        new users and every row that needs it (see Journal.done) are scanned.
        """
        path = self.args.checkpoint
        if not self.args.resume:
            return {}
        if journal is None:
            out(f"No checkpoint at {path}: starting a fresh run")
            return {}
        check_resumable(journal, path, host, names, scope)
        wanted = set(names)
        return {name: row for name, row in journal.done().items() if name in wanted}

    def _outage_notice(self, event: str, down_for: float, detail: str) -> None:
        if event == "down":
            out(f"⚠ The workspace stopped answering ({detail}): no new users are started; "
                "waiting for it")
        elif event == "waiting":
            out(f"⚠ Still no answer after {format_duration(down_for)} ({detail})")
        else:
            out(f"✓ The workspace answers again after {format_duration(down_for)}; "
                "continuing")

    def _notice(self, line: str) -> None:
        out(f"⚠ {line}")

    def _report_spark_failure(self, exc, received: list[str], total: int) -> None:
        """Say what Spark did before failing; stop here under --no-fallback."""
        if received:
            out()
            out("⚠ PARALLEL PROCESSING INTERRUPTED")
            out(f"Processed: {len(received)}/{total} users before interruption "
                "(saved in the checkpoint)")
            out(f"Last completed: {received[-1]}")
        self.spark_failed = True
        if self.args.no_fallback:  # the error line says it: once
            raise SparkGaveUp(f"{exc}; resume with: {self._resume_hint()}")
        out(f"⚠ Spark: {exc}")
        self.fell_back = True
        # A mode change, announced like the banner announced the first mode.
        emit(["", RULE, "Mode: LOCAL (fallback: Spark failed; this machine, up to "
                        f"{plural(self.args.concurrency, 'request')} in flight)", RULE,
              f"Scanning the remaining {plural(total - len(received), 'user')} "
              "from this machine"])

    def _command_line(self) -> str:
        """This command as typed, without secrets (for reports)."""
        return command_line(self.parser, self.args, self.program)

    def _resume_hint(self) -> str:
        """The resume command; after Spark failed, also how to finish without Spark."""
        if not self.spark_failed:
            return self._resume_command()
        return (f"{self._resume_command()} (or finish locally: "
                f"{self._resume_command(local=True)})")

    def _resume_command(self, local: bool = False) -> str:
        """This command again with --resume (and --no-parallel if local); never a secret."""
        extra = ("--resume",) + (("--no-parallel",) if local else ())
        return command_line(self.parser, self.args, self.program, extra=extra)


@dataclass
class _Plan:
    """What _prepare settled and the rest of the run works from."""

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


def _todo(names: list[str], done: dict, kept: dict, file_systems: list[str]) -> list[Root]:
    """The roots still to scan, in run order (a user's homes unless the run kept more)."""
    try:
        return [root for root in rebuild(names, kept, file_systems)
                if root.name not in done]
    except ValueError:
        raise ConfigError("the checkpoint's scan roots are damaged; delete it to start "
                          "fresh") from None


def _print_layout(found) -> None:
    """What --whole-workspace found beyond /Users, in the DISCOVERY block."""
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


def _run_info(host: str, meta: dict, *, ended_at: float, command: str, mode: str) -> RunInfo:
    """RunInfo from what the checkpoint recorded (the first run's start, its run id);
    an empty command or mode stands for the recorded one."""
    return RunInfo(host=host, started_at=float(meta.get("started_at") or ended_at),
                   ended_at=ended_at, mode=mode or meta.get("mode", ""),
                   command=command or meta.get("command", ""),
                   sources=tuple(meta.get("sources") or ()), run_id=meta.get("run_id", ""),
                   all_homes=bool(meta.get("all_homes")),
                   whole_workspace=bool(meta.get("whole_workspace")),
                   statuses_known=bool(meta.get("statuses")),
                   incomplete=dict(meta.get("incomplete") or {}))


def _summary_notes(rows, meta: dict) -> list[str]:
    """SUMMARY lines beyond the counts: data left behind, discovery that was incomplete."""
    notes = [line for line in [left_behind_line(rows)] if line]
    for label, reason in (meta.get("incomplete") or {}).items():
        notes.append(f"⚠ {label} discovery incomplete ({reason}): removed users' homes "
                     f"there may be missing")
    return notes


class SparkGaveUp(InventoryError):  # exit 1 with one line
    """Spark failed and --no-fallback forbids scanning locally."""


class _terminate_as_interrupt:
    """SIGTERM behaves like Ctrl-C: stop, keep the checkpoint, say how to resume."""

    def __enter__(self):
        self._old = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _raise_interrupt)

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self._old)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _single_user_report(row: UserResult, walkers) -> None:
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
