"""The tool with databricks-connect as its Spark Connect client, against local Spark.

databricks-connect replaces `pyspark` in any venv it joins, so it lives in its own venv,
.venv-dbconnect (requirements-dbconnect.txt). When that venv is missing or out of date
this test builds it: slow (a few minutes cold), but real, never skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
import time

from conftest import ROOT, TOKEN, clean_env
from helpers import csv_rows, expected_rows
from dbx_inventory.scan.results import UserResult
from fake_workspace import generate_workspace

VENV = ROOT / ".venv-dbconnect"
REQUIREMENTS = ROOT / "requirements-dbconnect.txt"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".installed"


def _requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure_dbconnect_venv() -> float:
    """Build .venv-dbconnect unless it is there and current; seconds it took (0 if reused)."""
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == _requirements_hash():
        return 0.0
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True,
                   timeout=300)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS)], check=True, timeout=1200)
    STAMP.write_text(_requirements_hash() + "\n")
    return time.monotonic() - started






def test_databricks_connect_client_scans_on_local_spark(tmp_path, serve, spark_remote):
    took = ensure_dbconnect_venv()
    print(f"\n.venv-dbconnect: {'built in %.0f s' % took if took else 'reused'}")
    probe = subprocess.run([str(PYTHON), "-c", "import databricks.connect, pyspark; "
                            "print(pyspark.__version__)"],
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr

    ws = generate_workspace(24, seed=11)
    server = serve(ws, latency_s=0.01)
    names = [u.user_name for u in ws.users]
    (tmp_path / "users.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    env = clean_env(tmp_path, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=TOKEN)
    env.pop("VIRTUAL_ENV", None)
    command = [str(PYTHON), str(ROOT / "databricks_user_files_simple.py"), "--users-file",
               "users.txt", "--spark-only",
               "--spark-remote", spark_remote.url, "--no-fallback", "--debug",
               "-o", "out.csv"]
    try:
        proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True,
                              text=True, encoding="utf-8", timeout=90)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("the CLI under databricks-connect was still running after 90 s:"
                             f"\n{(exc.stdout or b'')[-2000:]!r}") from None
    output = proc.stdout + proc.stderr
    assert "Traceback (most recent call last)" not in output, output[-3000:]
    assert proc.returncode == 0, output[-3000:]
    assert f"PARALLEL (Spark Connect at {spark_remote.url})" in output
    assert "PARALLEL EXECUTION" in output
    assert csv_rows(tmp_path / "out.csv") == expected_rows(ws, names)
    assert TOKEN not in output
    assert TOKEN not in (tmp_path / "out.csv").read_text(encoding="utf-8")


def test_results_survive_pickling_by_value_with_the_dbconnect_cloudpickle():
    """The task function and dbx_inventory ship pickled by value with the *client's*
    cloudpickle (2.2.1 inside databricks-connect 16.1.7, 3.x in pyspark 4.3). A
    UserResult must still turn into a full row on the executor after that round trip."""
    ensure_dbconnect_venv()
    code = (
        "import dataclasses, pickle, dbx_inventory\n"
        "from pyspark import cloudpickle\n"
        "from dbx_inventory.scan.results import UserResult\n"
        "cloudpickle.register_pickle_by_value(dbx_inventory)\n"
        "cls = pickle.loads(cloudpickle.dumps(UserResult))\n"
        "row = cls('u@x.com', 'success', 3, 10, 'dbfs', '')\n"
        "print(sorted(row.to_dict()))\n"
    )
    proc = subprocess.run([str(PYTHON), "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    names = sorted(f.name for f in dataclasses.fields(UserResult))
    assert proc.stdout.strip() == repr(names)


def test_databricks_connect_sends_no_call_context_after_connect(spark_remote):
    """databricks-connect would parse the caller's source file (ast) for every request;
    from the lanes' threads at once that trips a CPython 3.11 bug. After connect() no
    request may look for that context: here looking for it fails the job."""
    ensure_dbconnect_venv()
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from pyspark.sql.connect.client import core
from dbx_inventory.transport.auth import StaticToken
from dbx_inventory.transport.client import ClientConfig
from dbx_inventory.runners.modes import Mode
from dbx_inventory.runners.spark.session import connect

mode = Mode(True, "test", remote={spark_remote.url!r})
spark = connect(mode, ClientConfig(host="http://127.0.0.1:1", credentials=StaticToken("t")))
def refuse(*args, **kwargs):
    raise AssertionError("a request looked for its client call context")
core.detect_client_context = refuse
print(spark.range(3).count())
"""
    run = subprocess.run([str(PYTHON), "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert run.returncode == 0 and run.stdout.strip().endswith("3"), run.stderr[-3000:]
