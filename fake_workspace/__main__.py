"""Serve a generated fake workspace until SIGTERM/SIGINT.

Prints one line, FAKE_WORKSPACE_URL=http://127.0.0.1:PORT, once the server listens.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .faults import Faults
from .generate import generate_uniform, generate_workspace
from .server import FakeWorkspaceServer


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fake_workspace", description=__doc__)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default="dapi-fake-token")
    p.add_argument("--client-id", help="register an OAuth M2M client (needs --client-secret)")
    p.add_argument("--client-secret")
    p.add_argument("--token-lifetime", type=float, default=3600.0,
                   help="seconds an OAuth access token lives")
    p.add_argument("--files-per-user", type=int, nargs=2, metavar=("LO", "HI"),
                   default=(0, 40))
    p.add_argument("--uniform", type=int, nargs=2, metavar=("DIRS_PER_USER", "FILES_PER_DIR"),
                   help="build generate_uniform(users, DIRS_PER_USER, FILES_PER_DIR) instead")
    p.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    p.add_argument("--latency-jitter", type=float, default=0.0)
    p.add_argument("--max-in-flight", type=int, default=None)
    p.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    p.add_argument("--retry-after", default="1")
    p.add_argument("--error-rate", type=float, default=0.0)
    p.add_argument("--reset-rate", type=float, default=0.0)
    p.add_argument("--scim-max-page", type=int, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.uniform:
        ws = generate_uniform(args.users, args.uniform[0], args.uniform[1], seed=args.seed)
    else:
        ws = generate_workspace(args.users, seed=args.seed,
                                files_per_user=tuple(args.files_per_user))
    faults = Faults(latency_s=args.latency, latency_jitter_s=args.latency_jitter,
                    max_in_flight=args.max_in_flight, rate_limit_per_s=args.rate_limit,
                    retry_after=args.retry_after, error_rate=args.error_rate,
                    reset_rate=args.reset_rate, scim_max_page=args.scim_max_page,
                    seed=args.seed)
    server = FakeWorkspaceServer(ws, token=args.token, faults=faults, host=args.host,
                                 port=args.port)
    server.oauth.lifetime_s = args.token_lifetime
    if args.client_id and args.client_secret:
        server.oauth.register(args.client_id, args.client_secret)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        print(f"FAKE_WORKSPACE_URL={server.url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
