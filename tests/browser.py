"""Headless Chromium for tests and the bench: render a local page as a person would.

Two runs per page: --dump-dom (the DOM after scripts ran, and every console message
Chromium logs on stderr as `INFO:CONSOLE`) and, when asked, --screenshot. Each run has
its own fresh profile and no network besides the file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]
_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]\s*(.*)")


@dataclass
class Page:
    dom: str               # the document after its scripts ran
    console: list[str]     # every console message (errors included), in order
    wall_s: float          # chromium run time for the DOM dump, start-up included


def available() -> bool:
    return Path(CHROMIUM).exists()


def render(path: Path, *, screenshot: Path | None = None, size=(1400, 2600),
           settle: bool = True, timeout: float = 180) -> Page:
    """Load the file, let its scripts finish, and return what the page became.

    `settle` lets pending timers and promises run out in virtual time before the DOM is
    taken (for tests); without it the page's own clock is real time (for the bench).
    """
    url = Path(path).resolve().as_uri()
    started = time.monotonic()
    proc = _run((["--virtual-time-budget=10000"] if settle else []) + ["--dump-dom", url],
                timeout)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {proc.stderr[-500:]}")
    console = [m.group(1) for m in map(_CONSOLE.search, proc.stderr.splitlines()) if m]
    if screenshot is not None:
        shot = _run([f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=10000",
                     f"--screenshot={Path(screenshot).resolve()}", url], timeout)
        if shot.returncode != 0 or not Path(screenshot).exists():
            raise RuntimeError(f"chromium took no screenshot: {shot.stderr[-500:]}")
    return Page(dom=proc.stdout, console=console, wall_s=wall)


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
