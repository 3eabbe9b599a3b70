"""databricks_user_files_simple.py: count each user's files and bytes; write the CSV."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from typing import Iterator

from .atomic import check_writable
from .checkpoint import (DEFAULT_PATH, CheckpointWriter, check_resumable, read_journal)
from .cli_common import (EXIT_FAILED, EXIT_OK, Parser, add_connection_args, client_config,
                         resolve_settings, run, setup_logging)
from .client import ApiClient
from .console import RULE, banner, fail, footer, format_size, now_text, out
from .errors import ConfigError, InventoryError
from .progress import Progress, print_distribution, print_summary
from .report import iso_utc, write_results
from .results import UserResult
from .scan import Scanner
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
    code = run(lambda: Run(args, argv if argv is not None else sys.argv[1:]).execute())
    if "pyspark" in sys.modules and argv is None:
        # pyspark leaves non-daemon gRPC threads retrying a dead server, and Python
        # would wait for them at exit. Everything we write is closed and fsynced by now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


@dataclass(frozen=True)
class Mode:
    """Where the scan runs; `describe` is what the banner says."""

    spark: bool
    describe: str
    cluster_id: str | None = None
    remote: str | None = None
    tasks: int | None = None  # Spark tasks that run at once, when the user knows better


def choose_mode(args, cluster_id: str | None, env=os.environ) -> Mode:
    remote = args.spark_remote or env.get("SPARK_REMOTE")
    local = f"LOCAL (this machine, up to {args.concurrency} requests in flight"
    if args.no_parallel:
        return Mode(False, local + ", --no-parallel)")
    if remote:
        return Mode(True, f"PARALLEL (Spark Connect at {_safe_remote(remote)})", remote=remote,
                    tasks=args.spark_tasks)
    if cluster_id:
        return Mode(True, f"PARALLEL (using cluster {cluster_id})", cluster_id=cluster_id,
                    tasks=args.spark_tasks)
    return Mode(False, local + ")")


def _safe_remote(remote: str) -> str:
    """A Spark Connect URL without its parameters: they may carry a token."""
    return remote.split(";", 1)[0].rstrip("/")


class Run:
    """One invocation: inputs checked, scan run, checkpoint and CSV kept in step."""

    def __init__(self, args, argv: list[str]):
        self.args = args
        self.argv = argv
        self.started = time.monotonic()

    def execute(self) -> int:
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
        check_writable(args.output)  # fail now, not after hours of scanning
        journal = read_journal(args.checkpoint)
        done = self._resume_state(journal, settings.host, names)
        if done is None:
            return EXIT_OK
        todo = [name for name in names if name not in done]

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
        fresh: dict[str, UserResult] = {}
        progress = Progress(len(names), done_before=len(done), debug=args.debug)
        try:
            with _terminate_as_interrupt():
                for row in self._results(mode, client, todo, walkers):
                    writer.record(row)  # durable before it is reported
                    fresh[row.username] = row
                    progress.report(row)
        except KeyboardInterrupt:
            progress.close()
            writer.close()
            saved = len(done) + writer.recorded  # the journal, not what was printed
            fail(f"interrupted: {saved} of {len(names)} users are saved in "
                 f"{args.checkpoint}; resume with: {self._resume_command()}")
            return EXIT_FAILED
        progress.close()
        rows = [fresh.get(name) or done[name] for name in names]
        write_results(args.output, rows, extended=args.extended)
        writer.mark_complete()
        writer.close()
        if len(names) == 1:
            _single_user_report(rows[0], walkers)
        if args.debug and mode.spark:
            print_distribution(list(fresh.values()))
        print_summary(rows)
        out()
        out(f"Results saved to: {args.output}")
        footer("COMPLETED SUCCESSFULLY", time.monotonic() - self.started,
               [f"Users processed: {len(names)}", f"Output file: {args.output}"])
        return EXIT_OK

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

    def _results(self, mode: Mode, client: ApiClient, todo: list[str],
                 walkers) -> Iterator[UserResult]:
        """Results from Spark, or from this machine; Spark failures fall back here."""
        received: list[str] = []
        if mode.spark and todo:
            from .spark_runner import SparkFailure, run_on_spark

            try:
                for row in run_on_spark(mode, client.config, todo, walkers,
                                        debug=self.args.debug):
                    received.append(row.username)
                    yield row
                return
            except SparkFailure as exc:
                self._report_spark_failure(exc, received, len(todo))
        done = set(received)
        rest = [name for name in todo if name not in done]
        yield from Scanner(client, walkers=walkers).scan(rest)

    def _report_spark_failure(self, exc, received: list[str], total: int) -> None:
        """Say what Spark did before failing; stop here under --no-fallback."""
        if received:
            out()
            out("⚠ PARALLEL PROCESSING INTERRUPTED")
            out(f"Processed: {len(received)}/{total} users before interruption "
                "(saved in the checkpoint)")
            out(f"Last completed: {received[-1]}")
        out(f"⚠ Spark: {exc}")
        if self.args.no_fallback:
            raise SparkGaveUp(f"{exc}; resume with: {self._resume_command()}")
        out(f"Scanning the remaining {total - len(received)} users from this machine")
        out()

    def _resume_command(self) -> str:
        """This command again with --resume; never with the token."""
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
        if "--resume" not in words:
            words.append("--resume")
        return " ".join(shlex.quote(w) for w in ["python", "databricks_user_files_simple.py"]
                        + words)


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
