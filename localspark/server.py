"""Start and stop a Spark Connect server (pyspark >= 4 ships it) bound to 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PRELOAD_PATH = Path(__file__).resolve().parent / "preload"


class LocalSparkConnect:
    """`with LocalSparkConnect(master="local[4]") as server: server.url` → sc://127.0.0.1:PORT."""

    def __init__(self, master: str = "local[4]", port: int | None = None,
                 python: str | None = None, ready_timeout_s: float = 120.0,
                 extra_conf: dict[str, str] | None = None, env: dict[str, str] | None = None,
                 preload: bool = False):
        self.master = master
        self.preload = preload  # the workers' modules loaded once per session (tests)
        self.port = port or free_port()
        self.python = python or sys.executable
        self.ready_timeout_s = ready_timeout_s
        self.extra_conf = extra_conf or {}
        self.env = env or {}  # for the server and its executors' Python workers
        self.process: subprocess.Popen | None = None
        self._tmp: str | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def start(self) -> "LocalSparkConnect":
        import pyspark

        spark_home = Path(pyspark.__file__).parent
        jars = list((spark_home / "jars").glob("spark-connect_*.jar"))
        if not jars:
            raise RuntimeError(f"pyspark at {spark_home} ships no Spark Connect server "
                               "(pyspark >= 4 is needed)")
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise RuntimeError("java is not installed (Spark needs Java 17: "
                               "apt-get install openjdk-17-jre-headless)")
        self._tmp = tempfile.mkdtemp(prefix="localspark-")
        conf = {
            "spark.master": self.master,
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.local.dir": self._tmp,
            # A test server runs small jobs: the client compiler alone (C1) and one GC
            # thread start it faster and leave the CPU to the runs (2 cores here).
            "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={self._tmp} "
                                             "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
            "spark.executor.extraJavaOptions": f"-Djava.io.tmpdir={self._tmp}",
            **self.extra_conf,
        }
        if self.preload:
            conf.setdefault("spark.python.daemon.module", "localspark_daemon")
        command = [str(spark_home / "bin" / "spark-submit"),
                   "--class", "org.apache.spark.sql.connect.service.SparkConnectServer"]
        for key, value in conf.items():
            command += ["--conf", f"{key}={value}"]
        command.append("spark-internal")
        env = dict(os.environ, SPARK_HOME=str(spark_home), SPARK_LOCAL_IP="127.0.0.1",
                   PYSPARK_PYTHON=self.python, PYSPARK_DRIVER_PYTHON=self.python)
        if self.preload:
            # The daemon forks the workers: no BLAS threads may be running in it then.
            env.update(PYTHONPATH=os.pathsep.join(filter(None, [
                str(PRELOAD_PATH), env.get("PYTHONPATH")])), OPENBLAS_NUM_THREADS="1")
        env.update(self.env)
        env.pop("SPARK_REMOTE", None)
        self.log_path = Path(self._tmp) / "server.log"
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                        env=env, start_new_session=True)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Spark Connect server exited: {self.tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"Spark Connect server not ready after {self.ready_timeout_s}s")

    def tail(self, lines: int = 20) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """Kill the whole server process group at once (simulates a crash)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "LocalSparkConnect":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
