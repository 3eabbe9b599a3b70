"""databricks_user_files_simple.py: count each user's files and bytes; write the CSV."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import replace

from dbx_inventory.cli.common import (EXIT_FAILED, EXIT_OK, client_config, command_line,
                                      explain_api_error, resolve_settings, run, setup_logging)
from dbx_inventory.cli.console import RULE, emit, fail, footer, out
from dbx_inventory.cli.files_args import (PROG, build_parser, dirs_depth_of, scope_of,
                                          settle_args, walkers_of)
from dbx_inventory.cli.files_console import (outage_notice, print_banner, print_discovery,
                                            print_resuming, single_user_report,
                                            summary_notes, where_lines)
from dbx_inventory.cli.files_outputs import build_outputs, output_paths
from dbx_inventory.cli.files_plan import Plan, run_info, todo_of
from dbx_inventory.cli.progress import Progress, print_summary, whole_lines
from dbx_inventory.scan.availability import readable, within
from dbx_inventory.cli.spark_console import SparkConsole, print_distribution
from dbx_inventory.cli.worker_names import WorkerNames
from dbx_inventory.errors import (ConfigError, InventoryError, JournalWriteError, NotAWorkspace,
                                  ScanWorkerFailed, Unauthenticated, WorkspaceOutage)
from dbx_inventory.humanize import plural
from dbx_inventory.outputs.atomic import check_writable
from dbx_inventory.outputs.collisions import check_outputs
from dbx_inventory.outputs.checkpoint import (CheckpointLock, CheckpointWriter, check_resumable,
                                              read_journal, set_aside)
from dbx_inventory.outputs.output import users_of, write_outputs
from dbx_inventory.runners.dispatch import scan_rows
from dbx_inventory.runners.modes import Mode, choose_mode
from dbx_inventory.scan.discover import discover, read_directory, statuses_for
from dbx_inventory.scan.results import UserResult
from dbx_inventory.scan.roots import recorded
from dbx_inventory.scan.scim import check_access
from dbx_inventory.scan.userlist import parse_users, read_users_file
from dbx_inventory.transport.client import ApiClient
from dbx_inventory.transport.politeness import politeness_lines, sum_stats
from dbx_inventory.transport.retry import RetryPolicy

__all__ = ["build_parser", "main", "Run"]


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

    def _prepare(self) -> Plan:
        """Inputs checked, banner shown, access proved, users known, checkpoint opened."""
        args = self.args
        setup_logging(args.debug)
        settle_args(args)
        check_outputs(output_paths(args), args.checkpoint)  # no output destroys a file
        names = self._users()  # empty under --all-homes: discovered below
        settings = resolve_settings(args)
        mode = choose_mode(args, settings.cluster_id, source=settings.cluster_source)
        walkers = walkers_of(args)
        scope = scope_of(args, walkers)
        file_systems = [walker.name for walker in walkers]
        retry = RetryPolicy(outage_limit_s=args.outage_timeout)
        config = replace(client_config(settings, args.concurrency, retry), max_rps=args.max_rps)
        outputs = build_outputs(args, settings, config)
        for _, path in output_paths(args) + [("", args.checkpoint)]:
            check_writable(path)  # fail now, not after hours of scanning
        self.lock.acquire()  # before the journal is read: one run decides at a time
        journal = read_journal(args.checkpoint)
        resumed = journal if args.resume else None  # the journal this run continues
        if args.all_homes and resumed is not None:
            names = list(resumed.users)  # continue the recorded list: no rediscovery
        done = self._resume_state(journal, settings.host, names, scope) if names else {}
        kept = (resumed.meta.get("roots") if resumed is not None else None) or {}
        todo = todo_of(names, done, kept, file_systems)
        if mode.spark and names and not todo:  # (--all-homes: names come later)
            mode = Mode(False, "LOCAL (nothing left to scan: Spark not used)")

        print_banner(settings.host, names, mode, walkers, whole=args.whole_workspace)
        # A journal from before run facts were recorded gets them now.
        meta = self._new_meta(mode, walkers) | (resumed.meta if resumed is not None else {})
        if resumed is not None:
            print_resuming(len(done), len(todo))
        if resumed is not None and resumed.complete and names and not todo:
            noun = "users and areas" if meta.get("whole_workspace") else "users"
            out(f"Nothing to scan: the run in {args.checkpoint} already finished "
                f"({len(resumed.results)} {noun}); writing the outputs from it. "
                "Run without --resume to scan again.")
            return Plan(names=names, todo=[], done=done, host=settings.host, mode=mode,
                        walkers=walkers, client=None, writer=None, outputs=outputs,
                        meta=meta)
        client = ApiClient(config)  # one pooled session for the check and the scan
        client.outage.notify = outage_notice
        check_access(client)  # wrong host or token: one line, before anything else
        walkers, unscanned = readable(client, walkers)  # DBFS may be off (issue 27)
        meta.pop("unscanned", None)
        for why in unscanned.values():
            out(f"⚠ {why}: scanning {', '.join(w.label for w in walkers)} only")
            meta["unscanned"] = unscanned
        if not names:
            names = self._discover(client, walkers, meta)
            done = self._resume_state(journal, settings.host, names, scope)
            todo = todo_of(names, done, meta.get("roots") or {}, file_systems)
        elif args.extended and not set(names) <= set(meta.get("statuses") or {}):
            out("Reading user statuses from SCIM (--extended)")
            meta["statuses"] = statuses_for(read_directory(client), names)
        if journal is not None and not journal.complete and not args.resume:
            # Only now that the run can start: a failed start must not cost the journal.
            aside = set_aside(args.checkpoint)
            out(f"Note: an unfinished checkpoint was moved to {aside} "
                "(use --resume to continue a run)")
        todo = within(todo, walkers)  # no place in a file system that cannot be read
        writer = CheckpointWriter(args.checkpoint, host=settings.host, users=names,
                                  scope=scope, append=resumed is not None,
                                  grown=resumed is not None and resumed.users != names,
                                  meta=meta)
        return Plan(names=names, todo=todo, done=done, host=settings.host, mode=mode,
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
                         include_mounts=self.args.include_mounts,
                         include_external=self.args.include_mounts)
        print_discovery(found)
        file_systems = [walker.name for walker in walkers]
        meta.update(all_homes=True, statuses=found.statuses, incomplete=found.incomplete,
                    roots=recorded(found.roots, file_systems))
        if found.layout is not None:
            meta["whole_workspace"] = True
        return [root.name for root in found.roots]

    def _scan(self, plan: Plan) -> dict[str, UserResult] | None:
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
                         dirs_depth=dirs_depth_of(args) if args.dirs_output else 0)
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
        except (WorkspaceOutage, NotAWorkspace, ScanWorkerFailed) as exc:
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

    def _finish(self, plan: Plan, fresh: dict[str, UserResult]) -> int:
        """Outputs from the journal's view of every user, then the console summary."""
        rows = [plan.stamp(fresh.get(name) or plan.done[name]) for name in plan.names]
        scanned = plan.client is not None
        # Outputs rewritten from a finished journal describe the recorded run.
        ended = time.time() if scanned else max((row.ended_at for row in rows),
                                                default=time.time())
        info = run_info(plan.host, plan.meta, ended_at=ended,
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
            single_user_report(rows[0], plan.walkers)
        if self.args.debug and plan.mode.spark:
            print_distribution(Counter(self.workers.label(row.worker)
                                       for row in fresh.values()
                                       if not self.workers.is_local(row.worker)))
        where = where_lines(spark=plan.mode.spark, done=plan.done, fresh=fresh,
                            workers=self.workers, fell_back=self.fell_back)
        if plan.client is not None:  # how polite: this machine's requests and every job's
            polite = politeness_lines(sum_stats([plan.client.stats.as_dict(),
                                                 self.spark_stats]))
            where = where + ([""] if where else []) + polite
        print_summary(users_of(rows), where,
                      notes=summary_notes(rows, plan.meta) + whole_lines(rows))
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

    def _users(self) -> list[str]:
        if self.args.all_homes:
            if self.args.users or self.args.users_file:
                flag = "--whole-workspace" if self.args.whole_workspace else "--all-homes"
                raise ConfigError(f"{flag} finds the users itself: do not also name "
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
