"""databricks_user_files_simple.py: count each user's files and bytes; write the CSV."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass

from .atomic import check_writable
from .checkpoint import (DEFAULT_PATH, CheckpointWriter, check_resumable, read_journal)
from .cli_common import (EXIT_FAILED, EXIT_OK, Parser, add_connection_args, client_config,
                         resolve_settings, run, setup_logging)
from .client import ApiClient
from .console import RULE, banner, fail, footer, format_size, now_text, out
from .errors import ConfigError, InventoryError
from .progress import Progress, print_distribution, print_summary
from .modes import Mode, choose_mode
from .outputs import CsvOutput, Output, RunInfo, write_outputs
from .report import iso_utc
from .results import UserResult
from .runners import scan_rows
from .scim import check_access
from .userlist import parse_users, read_users_file
from .walkers import DBFS, WORKSPACE

DEFAULT_CONCURRENCY = 20  # the workspace admits about 20 requests in flight


def build_parser() -> Parser:
    parser = Parser(prog="databricks_user_files_simple.py",
                    description="Count each user's files and bytes in DBFS and the "
                                "Workspace and write a results CSV.")
    parser.add_argument("users", nargs="*", help="user names (emails) to scan")
    parser.add_argument("--users-file", help="file with one user per line")
    add_connection_args(parser)
    parser.add_argument("--cluster-id", help="Databricks cluster to spread the scan over")
    parser.add_argument("--spark-remote", help="any Spark Connect server, e.g. "
                                               "sc://localhost:15002 (default: SPARK_REMOTE)")
    parser.add_argument("--spark-tasks", type=int, default=None,
                        help="Spark tasks that run at once (default: from the cluster's "
                             "spark.default.parallelism or master, else 8)")
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
                             f"(default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--extended", action="store_true",
                        help="add per-side counts, last_modified and duration_s columns")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The resume command names the interpreter and script really used.
    program = [sys.executable, sys.argv[0]] if argv is None else None
    code = run(lambda: Run(args, argv if argv is not None else sys.argv[1:],
                           program).execute())
    if "pyspark" in sys.modules and argv is None:
        # pyspark leaves non-daemon gRPC threads retrying a dead server, and Python
        # would wait for them at exit. Everything we write is closed and fsynced by now;
        # the Spark session's release (its artifacts) gets a few seconds at most.
        from .spark_session import settle

        settle()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class Run:
    """One invocation: inputs checked, scan run, checkpoint and outputs kept in step.

    execute() reads as the run does: prepare (inputs, settings, checkpoint policy),
    scan (rows made durable as they arrive), finish (outputs and console).
    """

    def __init__(self, args, argv: list[str], program: list[str] | None = None):
        self.args = args
        self.argv = argv
        self.program = program or ["python", "databricks_user_files_simple.py"]
        self.spark_failed = False  # then the resume hint also says how to finish locally
        self.started = time.monotonic()
        self.started_at = time.time()

    def execute(self) -> int:
        plan = self._prepare()
        if plan is None:
            return EXIT_OK
        fresh = self._scan(plan)
        if fresh is None:
            return EXIT_FAILED
        return self._finish(plan, fresh)

    def _prepare(self) -> "_Plan | None":
        """Inputs checked, banner shown, access proved, checkpoint opened."""
        args = self.args
        setup_logging(args.debug)
        if args.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
        if args.spark_tasks is not None and args.spark_tasks < 1:
            raise ConfigError("--spark-tasks must be at least 1")
        names = self._users()
        settings = resolve_settings(args)
        mode = choose_mode(args, settings.cluster_id)
        walkers = (DBFS,) if args.dbfs_only else (WORKSPACE,) if args.workspace_only \
            else (DBFS, WORKSPACE)
        config = client_config(settings, args.concurrency)
        outputs = self._outputs()
        for path in self._output_paths():
            check_writable(path)  # fail now, not after hours of scanning
        journal = read_journal(args.checkpoint)
        done = self._resume_state(journal, settings.host, names)
        if done is None:
            return None
        todo = [name for name in names if name not in done]
        if mode.spark and not todo:
            mode = Mode(False, "LOCAL (nothing left to scan: Spark not used)")

        banner("DATABRICKS USER FILES LISTING",
               [f"Start time: {now_text()}", f"Workspace: {settings.host}",
                f"Users to process: {len(names)}", f"Mode: {mode.describe}",
                f"Scanning: {', '.join(w.label for w in walkers)}"])
        out(RULE)
        if args.resume:
            out()
            out("RESUMING FROM CHECKPOINT")
            out(f"Already completed: {len(done)}")
            out(f"Remaining to process: {len(todo)}")
        client = ApiClient(config)  # one pooled session for the check and the scan
        check_access(client)  # wrong host or token: one line, before anything else
        if journal is not None and not journal.complete and not args.resume:
            # Only now that the run can start: a failed start must not cost the journal.
            aside = f"{args.checkpoint}.prev"
            os.replace(args.checkpoint, aside)
            out(f"Note: an unfinished checkpoint was moved to {aside} "
                "(use --resume to continue a run)")
        writer = CheckpointWriter(args.checkpoint, host=settings.host, users=names,
                                  append=bool(args.resume and journal),
                                  grown=bool(journal and journal.users != names))
        return _Plan(names=names, todo=todo, done=done, host=settings.host, mode=mode,
                     walkers=walkers, client=client, writer=writer, outputs=outputs)

    def _scan(self, plan: "_Plan") -> dict[str, UserResult] | None:
        """Scan what is left; every row durable before it is shown. None if interrupted."""
        args = self.args
        fresh: dict[str, UserResult] = {}
        progress = Progress(len(plan.names), done_before=len(plan.done), debug=args.debug)
        rows = scan_rows(plan.mode, plan.client, plan.todo, plan.walkers, debug=args.debug,
                         on_spark_failure=self._report_spark_failure)
        try:
            with _terminate_as_interrupt():
                for row in rows:
                    plan.writer.record(row)  # durable before it is reported
                    fresh[row.username] = row
                    progress.report(row)
        except KeyboardInterrupt:
            progress.close()
            plan.writer.close()
            saved = len(plan.done) + plan.writer.recorded  # the journal, not the console
            fail(f"interrupted: {saved} of {len(plan.names)} users are saved in "
                 f"{args.checkpoint}; resume with: {self._resume_hint()}")
            return None
        progress.close()
        return fresh

    def _finish(self, plan: "_Plan", fresh: dict[str, UserResult]) -> int:
        """Outputs from the journal's view of every user, then the console summary."""
        rows = [fresh.get(name) or plan.done[name] for name in plan.names]
        info = RunInfo(host=plan.host, started_at=self.started_at, ended_at=time.time(),
                       mode=plan.mode.describe, command=self._command_line(),
                       sources=tuple(walker.name for walker in plan.walkers))
        written = write_outputs(plan.outputs, info, rows)
        plan.writer.mark_complete()
        plan.writer.close()
        if len(plan.names) == 1:
            _single_user_report(rows[0], plan.walkers)
        if self.args.debug and plan.mode.spark:
            print_distribution(list(fresh.values()))
        print_summary(rows)
        out()
        for line in written:
            out(line)
        footer("COMPLETED SUCCESSFULLY", time.monotonic() - self.started,
               [f"Users processed: {len(plan.names)}", f"Output file: {self.args.output}"])
        return EXIT_OK

    def _outputs(self) -> list[Output]:
        """What this run writes at the end, in order; the CSV first: it is the record."""
        return [CsvOutput(self.args.output, extended=self.args.extended)]

    def _output_paths(self) -> list[str]:
        return [self.args.output]

    def _users(self) -> list[str]:
        names = parse_users(self.args.users)
        if self.args.users_file:
            names = parse_users(names + read_users_file(self.args.users_file))
        if not names:
            raise ConfigError("no users to scan: name them, or pass --users-file")
        return names

    def _resume_state(self, journal, host: str, names: list[str]):
        """Users already done (empty when starting fresh); None when nothing is left."""
        path = self.args.checkpoint
        if not self.args.resume:
            return {}
        if journal is None:
            out(f"No checkpoint at {path}: starting a fresh run")
            return {}
        check_resumable(journal, path, host, names)
        if journal.complete:
            if journal.users == names:
                out(f"Nothing to do: the run in {path} already finished "
                    f"({len(journal.results)} users). Run without --resume to scan again.")
                return None
            raise ConfigError(f"checkpoint {path} records a finished run of another user "
                              "list; run without --resume to start fresh")
        wanted = set(names)
        return {name: row for name, row in journal.done().items() if name in wanted}

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
        out(f"Scanning the remaining {total - len(received)} users from this machine")
        out()

    def _command_line(self) -> str:
        """This command as typed, without the token (for reports)."""
        return " ".join(shlex.quote(w) for w in self.program + self._args_without_token())

    def _args_without_token(self) -> list[str]:
        words, skip = [], False
        for word in self.argv:
            if skip:
                skip = False
                continue
            if word == "--token":
                skip = True
                continue
            if word.startswith("--token="):
                continue
            words.append(word)
        return words

    def _resume_hint(self) -> str:
        """The resume command; after Spark failed, also how to finish without Spark."""
        if not self.spark_failed:
            return self._resume_command()
        return (f"{self._resume_command()} (or finish locally: "
                f"{self._resume_command(local=True)})")

    def _resume_command(self, local: bool = False) -> str:
        """This command again with --resume (and --no-parallel if local); never the token."""
        words = self._args_without_token()
        extra = ["--resume"] + (["--no-parallel"] if local else [])
        words += [word for word in extra if word not in words]
        return " ".join(shlex.quote(w) for w in self.program + words)


@dataclass
class _Plan:
    """What _prepare settled and the rest of the run works from."""

    names: list[str]
    todo: list[str]
    done: dict[str, UserResult]
    host: str
    mode: Mode
    walkers: tuple
    client: ApiClient
    writer: CheckpointWriter
    outputs: list[Output]


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
