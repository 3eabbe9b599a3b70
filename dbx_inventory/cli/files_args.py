"""The files tool's flags: the parser, their limits, and what they settle for a run
(the file systems scanned, the scope a resume must match)."""

from __future__ import annotations

from dbx_inventory.cli.common import Parser, add_connection_args
from dbx_inventory.errors import ConfigError
from dbx_inventory.outputs.checkpoint import DEFAULT_PATH
from dbx_inventory.outputs.table import check_table_name
from dbx_inventory.scan.filesystems import DBFS, VOLUMES, WALKERS, WORKSPACE

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
    parser.add_argument("--dirs-depth", type=int, default=None, metavar="N",
                        help=f"depth of --dirs-output (default {DEFAULT_DIRS_DEPTH})")
    parser.add_argument("--include-external", "--include-mounts", dest="include_mounts",
                        action="store_true",
                        help="with --whole-workspace, walk external Unity Catalog volumes "
                             "and /mnt mount points too (external storage: can take "
                             "days); --include-mounts is the same flag")
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
    side.add_argument("--file-systems", metavar="LIST",
                      help="the file systems to scan, comma-separated, from "
                           f"{', '.join(WALKERS)} (default: dbfs,workspace, and volumes "
                           "with --whole-workspace)")
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


def settle_args(args) -> None:
    """Refuse impossible values before anything else happens (exit 2), and settle what
    one flag implies for another."""
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
    if args.dirs_depth is not None and args.dirs_output is None:
        raise ConfigError("--dirs-depth goes with --dirs-output (the depth of the "
                          "directory breakdown)")
    if not 1 <= dirs_depth_of(args) <= 100:
        raise ConfigError("--dirs-depth must be between 1 and 100")
    if args.whole_workspace:
        args.all_homes = True
    elif args.areas_output is not None or args.include_mounts:
        raise ConfigError("--areas-output and --include-external (--include-mounts) go "
                          "with --whole-workspace")
    walkers_of(args)  # a wrong --file-systems is refused here, with the other flags


def walkers_of(args) -> tuple:
    """The file systems this run scans, as their walkers (in WALKERS' order)."""
    chosen = getattr(args, "file_systems", None)
    if chosen is not None:
        names = [name.strip().lower() for name in chosen.split(",") if name.strip()]
        unknown = [name for name in names if name not in WALKERS]
        if unknown or not names:
            raise ConfigError(f"--file-systems {chosen!r}: give one or more of "
                              f"{', '.join(WALKERS)}, comma-separated")
        if VOLUMES.name in names and not args.whole_workspace:
            raise ConfigError("--file-systems: volumes hold no homes; each volume is an "
                              "area of --whole-workspace")
        return tuple(walker for name, walker in WALKERS.items() if name in names)
    if args.dbfs_only:
        return (DBFS,)
    if args.workspace_only:
        return (WORKSPACE,)
    return (DBFS, WORKSPACE, VOLUMES) if args.whole_workspace else (DBFS, WORKSPACE)


def scope_of(args, walkers) -> dict:
    """What changes a row: the checkpoint records it, and a resume with another is refused."""
    scope: dict = {"sources": [walker.name for walker in walkers]}
    if args.all_homes:
        scope["all_homes"] = True
    if args.whole_workspace:
        scope["whole_workspace"] = True
        if args.include_mounts:
            scope["include_mounts"] = True
    if args.dirs_output:  # the breakdown is part of each row
        scope["dirs_depth"] = dirs_depth_of(args)
    return scope


def dirs_depth_of(args) -> int:
    """--dirs-depth, or its default (left unset in args: the resume command stays as typed)."""
    return DEFAULT_DIRS_DEPTH if args.dirs_depth is None else args.dirs_depth
