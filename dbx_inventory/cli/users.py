"""databricks_user_list.py: export every workspace user, one userName per line."""

from __future__ import annotations

import time

from dbx_inventory.transport import settings as settings_mod
from dbx_inventory.outputs.atomic import atomic_text_writer, check_writable
from dbx_inventory.outputs.collisions import check_outputs
from dbx_inventory.cli.common import (EXIT_OK, EXIT_USAGE, Parser, add_connection_args, make_client,
                         resolve_settings, run, setup_logging)
from dbx_inventory.cli.console import banner, fail, footer, now_text, out
from dbx_inventory.humanize import plural
from dbx_inventory.scan.scim import iter_users


def build_parser() -> Parser:
    parser = Parser(prog="databricks_user_list.py",
                    description="Export every user of a Databricks workspace (SCIM), "
                                "one userName per line.")
    add_connection_args(parser)
    parser.add_argument("-o", "--output", help="file to write (default: print the list)")
    parser.add_argument("--max-users", type=int, default=0,
                        help="stop after N users (0: no limit)")
    parser.add_argument("--active-only", action="store_true",
                        help="leave out deactivated users")
    parser.add_argument("--list-profiles", action="store_true",
                        help="list the profiles of ~/.databrickscfg and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _main(args))


def _main(args) -> int:
    setup_logging(args.debug)
    if args.list_profiles:
        for line in settings_mod.describe_profiles():
            out(line)
        return EXIT_OK
    if args.max_users < 0:
        fail("--max-users must be 0 (no limit) or more")
        return EXIT_USAGE
    started = time.monotonic()
    settings = resolve_settings(args)
    if args.output is not None:
        check_outputs([("-o", args.output)], None)  # not a directory, not the console
        check_writable(args.output)
    banner("DATABRICKS USER LISTING", [f"Start time: {now_text()}", ""])
    out(source_line(settings))
    out(f"Workspace: {settings.host}")
    out("Fetching users...")
    with make_client(settings) as client:
        names = [user.user_name for user in iter_users(
            client, active_only=args.active_only, max_users=args.max_users)]
    out()
    out(f"Found {plural(len(names), 'user')}")
    out()
    if args.output:
        with atomic_text_writer(args.output) as handle:
            handle.writelines(name + "\n" for name in names)
        out(f"✓ Saved {plural(len(names), 'email address', 'email addresses')} to: "
            f"{args.output}")
        out("  Format: One email per line")
    else:
        for number, name in enumerate(names, 1):
            out(f"{number:>5}. {name}")
    footer("COMPLETED SUCCESSFULLY", time.monotonic() - started,
           [f"Users processed: {len(names)}",
            f"Output file: {args.output or '(printed above)'}"])
    return EXIT_OK


_ORIGINS = {"command line": "command-line flags", "environment": "environment variables"}


def source_line(settings: settings_mod.Settings) -> str:
    """Where the workspace URL and the token came from; the seed's words for a profile."""
    def words(origin: str) -> str:
        if origin.startswith("profile "):
            return f"Databricks CLI configuration (profile: {origin.removeprefix('profile ')})"
        return _ORIGINS.get(origin, origin)

    host, token = words(settings.source), words(settings.token_source)
    if host == token:
        return f"Using {host}"
    return f"Using {host} for the workspace URL and {token} for the token"
