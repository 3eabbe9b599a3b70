"""`pip install .` into a fresh venv gives both commands, with --version, run from
anywhere; the metadata carries requirements.txt and the extras; templates are packaged."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, clean_env
from dbx_inventory import __version__

pytestmark = pytest.mark.venv

_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.egg-info", "build",
                                     "dist", "bench-results", "demo-out", ".*_cache")


def _requirements(name: str) -> set[str]:
    lines = (ROOT / name).read_text("utf-8").splitlines()
    return {line.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower()
            for line in lines if line.strip() and not line.startswith(("#", "-"))}


def test_pip_install_gives_both_commands(tmp_path):
    source = tmp_path / "src"  # a copy: the in-tree build leaves build/ and egg-info
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    marker = source / "dbx_inventory" / "outputs" / "html" / "templates" / "packaged-check.txt"
    marker.parent.mkdir(exist_ok=True)
    marker.write_text("packaged\n", encoding="utf-8")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # Dependencies come from the package index (or pip's cache), as for a user.
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(source)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    env = clean_env(tmp_path)
    for command in ("databricks-user-list", "databricks-user-files"):
        run = subprocess.run([str(venv / "bin" / command), "--version"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == f"dbx-workspace-inventory {__version__}"
    probe = ("import importlib.metadata as m, importlib.resources as r, dbx_inventory; "
             "print(dbx_inventory.__file__); "
             "print(r.files('dbx_inventory.outputs.html').joinpath('templates/packaged-check.txt')"
             ".read_text().strip()); "
             "print('\\n'.join(m.requires('dbx-workspace-inventory')))")
    shown = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    where, packaged, *requires = shown.stdout.splitlines()
    assert where.startswith(str(venv))  # the installed copy, not the checkout
    assert packaged == "packaged"
    core = {r.split(">")[0].split("<")[0].split("=")[0].strip().lower()
            for r in requires if "extra ==" not in r}
    assert core == _requirements("requirements.txt")
    extras = {r.split('extra == "')[1].rstrip('"') for r in requires if "extra ==" in r}
    assert extras == {"spark", "report", "dev"}
