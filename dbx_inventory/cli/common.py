"""Flags, logging and exit codes shared by both command-line tools."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from typing import Callable, Sequence

from dbx_inventory import __version__

from dbx_inventory import scrub
from dbx_inventory.transport import settings as settings_mod
from dbx_inventory.transport.client import ApiClient, ClientConfig
from dbx_inventory.cli.console import ConsoleHandler, fail
from dbx_inventory.errors import ApiError, ConfigError, InventoryError, OAuthFailed
from dbx_inventory.transport.retry import RetryPolicy

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


# Flags whose value is a secret: never echoed, never in a resume command.
SECRET_FLAGS = ("--token", "--client-secret")


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, not a usage dump, on a bad flag.

    Prefix matching is off: `--tok VALUE` must not silently be the token, and the
    secrets on the command line are remembered before any error can quote it.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_args(self, args=None, namespace=None):
        words = list(sys.argv[1:] if args is None else args)
        remember_secret_args(words)
        return super().parse_args(words, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        fail(f"{message} (see --help)")
        raise SystemExit(EXIT_USAGE)


def remember_secret_args(words: list[str]) -> None:
    """Remember the value of every flag that looks like a token flag (--tok, --token=)."""
    for number, word in enumerate(words):
        flag, eq, value = word.partition("=")
        if not (flag.startswith("--") and _looks_secret(flag)):
            continue
        if eq:
            scrub.remember(value)
        elif number + 1 < len(words):
            scrub.remember(words[number + 1])


def _looks_secret(flag: str) -> bool:
    """--t, --to, --tok... (a prefix of a secret flag) or --tokn, --token-x (a near miss)."""
    name = flag.lower()
    return any(name.startswith(secret[:5]) or (len(name) >= 3 and secret.startswith(name))
               for secret in SECRET_FLAGS)


def command_line(parser: argparse.ArgumentParser, args: argparse.Namespace,
                 program: str | Sequence[str], *, extra: tuple[str, ...] = ()) -> str:
    """The command rebuilt from parsed arguments: no secret flag, URL credentials masked.

    Built from what argparse understood, not by filtering argv, so no spelling of a
    flag can carry a secret through.
    """
    # The interpreter and script as given, or "python SCRIPT" for a script name alone.
    words = ["python", program] if isinstance(program, str) else list(program)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if any(flag in SECRET_FLAGS for flag in action.option_strings):
            continue
        value = getattr(args, action.dest, None)
        if not action.option_strings:  # positionals
            words.extend(str(item) for item in (value or ()))
            continue
        if value is None or value == action.default:
            continue
        flag = action.option_strings[-1]
        if value is True:
            words.append(flag)
        else:
            words += [flag, str(value)]
    words += [word for word in extra if word not in words]
    return scrub.scrub(" ".join(shlex.quote(word) for word in words))


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """Connection flags (documenting where settings come from), --debug and --version."""
    group = parser.add_argument_group(
        "connection",
        "Each setting comes from the first place that has it: these flags; the profile "
        "named by --profile or DATABRICKS_CONFIG_PROFILE; the environment (DATABRICKS_HOST, "
        "DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET, "
        "DATABRICKS_AUTH_TYPE); the [DEFAULT] profile. A token wins over OAuth client "
        "credentials unless the auth type (profile auth_type, DATABRICKS_AUTH_TYPE) is "
        "oauth-m2m.")
    group.add_argument("-p", "--profile", help="profile of ~/.databrickscfg to use")
    group.add_argument("--workspace-url", help="workspace URL (overrides the profile)")
    group.add_argument("--token", help="personal access token (prefer DATABRICKS_TOKEN or a "
                                       "profile: flags show in ps)")
    group.add_argument("--client-id", help="OAuth client id of a service principal (M2M)")
    group.add_argument("--client-secret", help="its OAuth secret (prefer "
                                               "DATABRICKS_CLIENT_SECRET or a profile: flags "
                                               "show in ps)")
    parser.add_argument("--debug", action="store_true",
                        help="print each request decision and per-user detail")
    parser.add_argument("--version", action="version",
                        version=f"dbx-workspace-inventory {__version__}")


def resolve_settings(args: argparse.Namespace) -> settings_mod.Settings:
    settings = settings_mod.resolve(workspace_url=args.workspace_url, token=args.token,
                                    client_id=args.client_id, client_secret=args.client_secret,
                                    cluster_id=getattr(args, "cluster_id", None),
                                    profile=args.profile)
    scrub.remember(settings.token)  # from here on, no output can carry them
    scrub.remember(settings.client_secret)
    for value, what in ((settings.token, "token"), (settings.client_secret, "client secret")):
        if value and not _sendable(value):
            raise ConfigError(f"the {what} has a character that cannot be sent in an HTTP "
                              "header (a space, a typographic quote, ...); copy it again")
    return settings


def _sendable(token: str) -> bool:
    """A token HTTP can carry: printable ASCII, no spaces."""
    return token.isascii() and token.isprintable() and " " not in token


def client_config(settings: settings_mod.Settings, max_in_flight: int = 20,
                  retry: RetryPolicy | None = None) -> ClientConfig:
    return ClientConfig(host=settings.host, credentials=settings.credentials(),
                        max_in_flight=max_in_flight, retry=retry or RetryPolicy())


def make_client(settings: settings_mod.Settings, max_in_flight: int = 20) -> ApiClient:
    return ApiClient(client_config(settings, max_in_flight))


def setup_logging(debug: bool) -> None:
    handler = ConsoleHandler()  # the console's one writer: whole lines, bar kept below
    handler.setFormatter(_ScrubbingFormatter("  [debug] %(message)s"))
    root = logging.getLogger("dbx_inventory")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.propagate = False


class _ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub.scrub(super().format(record))


def run(main: Callable[[], int]) -> int:
    """Run a tool's main, turning known failures into one line and an exit code."""
    for stream in (sys.stdout, sys.stderr):
        # A console that cannot show ✓ or a user's name must not crash the run.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    try:
        return main()
    except ConfigError as exc:
        fail(str(exc))
        return EXIT_USAGE
    except ApiError as exc:
        fail(explain_api_error(exc))
        return EXIT_FAILED
    except InventoryError as exc:
        fail(str(exc))
        return EXIT_FAILED
    except OSError as exc:  # a file we must read or write
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        fail("interrupted")
        return EXIT_FAILED


def explain_api_error(exc: ApiError) -> str:
    """A one-line reason with the likely fix for the errors people actually hit."""
    if isinstance(exc, OAuthFailed):
        return exc.message  # names the host and the client credentials already
    if exc.status == 401:
        return f"the workspace refused the token (401 {exc.error_code or ''}): " \
               "check that it is valid and not expired".replace("  ", " ")
    if exc.status == 403:
        return f"permission denied ({exc.describe()}): an admin token is needed"
    return exc.describe()
