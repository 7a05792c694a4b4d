"""Helpers shared by the benchmark scripts: bench databases and seed data, starting the
threadcast server and the bare broadcaster as separate processes, tokens, raw SSE client
connections, /metrics scraping, percentiles and machine facts.

Scripts import it as `common` (they run as `python benchmarks/<script>.py`, so this directory
is on sys.path).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "server") not in sys.path:
    sys.path.insert(0, str(ROOT / "server"))

from threadcast import auth  # noqa: E402
from threadcast.config import Settings  # noqa: E402

SECRET = "threadcast-bench-secret-0123456789abcdef"
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def logger(name: str) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"[{name} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    return log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine(database_url: str | None = None) -> dict:
    info: dict = {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    if database_url:
        with psycopg.connect(database_url) as conn:
            info["postgresql"] = conn.execute("show server_version").fetchone()[0]
    return info


def revision(checkout: Path = ROOT) -> dict:
    """The commit measured, and which server/SQL files differed from it (read-only git)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=checkout, capture_output=True, text=True, timeout=10
            ).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = git("status", "--porcelain", "--", "server", "sql", "alembic").splitlines()
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_server_sql": changed,
        "checkout": str(checkout),
    }


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# Data --------------------------------------------------------------------------------------


def create_database(server_url: str) -> str:
    name = f"threadcast_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    params = psycopg.conninfo.conninfo_to_dict(server_url)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**params)


def drop_database(server_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def seed(url: str, tickets: int, agents: int) -> dict:
    """One org; `agents` agents; per ticket a customer (its requester) and one thread."""
    org = uuid.uuid4()
    agent_ids = [uuid.uuid4() for _ in range(agents)]
    ticket_rows = [(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()) for _ in range(tickets)]
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("insert into organizations (id, name) values (%s, 'Bench')", (org,))
        with conn.cursor() as cur:
            users = [(a, "agent") for a in agent_ids] + [(c, "customer") for _, c, _ in ticket_rows]
            cur.executemany("insert into users (id, display_name) values (%s, %s)", users)
            cur.executemany(
                "insert into org_members (org_id, user_id) values (%s, %s)",
                [(org, a) for a in agent_ids],
            )
            cur.executemany(
                "insert into tickets (id, org_id, requester_id, subject) values (%s, %s, %s, 'b')",
                [(t, org, c) for t, c, _ in ticket_rows],
            )
            cur.executemany(
                "insert into ticket_threads (id, ticket_id, subject, created_by)"
                " values (%s, %s, 'b', %s)",
                [(th, t, c) for t, c, th in ticket_rows],
            )
    return {
        "agents": [str(a) for a in agent_ids],
        "tickets": [
            {"id": str(t), "customer": str(c), "thread": str(th)} for t, c, th in ticket_rows
        ],
    }


def token(user: str) -> str:
    return auth.issue(Settings(jwt_secret=SECRET), uuid.UUID(user), ttl_seconds=3600)


def stream_path(ticket_id: str) -> str:
    return f"/v1/channels/ticket-threads:{ticket_id}/stream?on=INSERT:public.ticket_notes"


def distinct_user_jobs(data: dict, clients: int) -> list[dict]:
    """`clients` connections, each a distinct user who may see its ticket: per ticket its
    customer first, then agents (org members, who see every ticket) one each. Needs
    `agents >= clients - tickets`."""
    tickets, agents = data["tickets"], data["agents"]
    if clients - len(tickets) > len(agents):
        raise ValueError(f"{clients} distinct users need {clients - len(tickets)} agents")
    jobs = []
    for i in range(clients):
        t = tickets[i % len(tickets)]
        user = t["customer"] if i < len(tickets) else agents[i - len(tickets)]
        jobs.append({"ticket": t["id"], "user": user, "path": stream_path(t["id"])})
    return jobs


# Servers -----------------------------------------------------------------------------------

# A frozen copy of server/, sql/ and alembic/ that servers and migrations run from, so that a
# run measures one version of the code even when the checkout changes under it.
FROZEN: dict = {}


def freeze_code() -> dict:
    """Copy the code once per run; returns its revision() as of the copy."""
    import atexit
    import shutil
    import tempfile

    if not FROZEN:
        # BENCH_CODE: another checkout's server to measure with this checkout's clients (a
        # baseline of the same benchmark, e.g. `git worktree add /tmp/wt-base main`).
        source = Path(os.environ.get("BENCH_CODE") or ROOT).resolve()
        rev = revision(source)
        root = Path(tempfile.mkdtemp(prefix="threadcast-bench-code-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        for name in ("server", "sql", "alembic"):
            shutil.copytree(
                source / name, root / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        FROZEN.update(root=root, revision=rev)
    return FROZEN["revision"]


def _code_env() -> dict[str, str]:
    if not FROZEN:
        return {}
    path = str(FROZEN["root"] / "server")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [path, os.environ.get("PYTHONPATH")]))}


def migrate(url: str) -> None:
    """Migrate to head with the frozen code (or the checkout when nothing was frozen)."""
    subprocess.run(
        [sys.executable, "-m", "threadcast.cli", "migrate", "--database-url", url],
        env=os.environ | _code_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start_threadcast(url: str, port: int, extra_env: dict[str, str] | None = None):
    env = os.environ | {
        "DATABASE_URL": url,
        "THREADCAST_JWT_SECRET": SECRET,
        "THREADCAST_PORT": str(port),
        "THREADCAST_MAX_CONNECTIONS_PER_USER": "100000",
        "THREADCAST_CONNECT_ATTEMPTS_PER_IP_PER_MINUTE": "10000000",
        "THREADCAST_HEARTBEAT_SECONDS": "30",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "threadcast.cli", "serve", "--log-level", "warning"],
        env=env | _code_env() | (extra_env or {}),
        stdout=subprocess.DEVNULL,
    )


def start_bare(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "bare_broadcaster.py"), str(port)],
        stdout=subprocess.DEVNULL,
    )


def wait_ready(port: int, path: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"server on {port} not ready")


def stop_servers(servers: Iterable[subprocess.Popen]) -> None:
    servers = list(servers)
    for s in servers:
        if s.poll() is None:
            s.send_signal(signal.SIGTERM)
    for s in servers:
        try:
            s.wait(15)
        except subprocess.TimeoutExpired:
            s.kill()
            s.wait(5)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) ([-+0-9.eE]+|NaN|[+-]Inf)$")


def scrape_metrics(port: int) -> dict[str, float]:
    """The server's /metrics as {'name{labels}': value}."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            out[match[1]] = float(match[2])
    return out


# Raw SSE clients ---------------------------------------------------------------------------


async def open_stream(
    port: int, path: str, bearer: str | None = None, last_event_id: str | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A raw HTTP/1.1 GET over loopback; returns the reader, the writer and the status line.
    The caller reads lines (chunk-size lines are not SSE lines and are ignored by matching)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    headers = f"Authorization: Bearer {bearer}\r\n" if bearer else ""
    if last_event_id:
        headers += f"Last-Event-ID: {last_event_id}\r\n"
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{headers}\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    return reader, writer, status


# Profiling ---------------------------------------------------------------------------------


class Profiler:
    """`py-spy record` of a server process while the block runs, as collapsed stacks
    (`--format raw`; flamegraph.pl or speedscope read it). Does nothing when `path` is None."""

    def __init__(self, pid: int, path: Path | None, rate: int = 100) -> None:
        self.pid, self.path, self.rate = pid, path, rate
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Profiler:
        if self.path is not None:
            py_spy = Path(sys.executable).parent / "py-spy"
            self.proc = subprocess.Popen(
                [str(py_spy) if py_spy.exists() else "py-spy", "record", "--pid", str(self.pid),
                 "--rate", str(self.rate), "--nonblocking", "--format", "raw",
                 "-o", str(self.path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def summarize_profile(path: Path, top: int = 15) -> list[tuple[str, float, float]]:
    """(function, inclusive share, self share) of the busiest functions in a raw py-spy file."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
                  for f in stack.split(";") if f and not f.startswith("process ")]  # fmt: skip
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + count
    ranked = sorted(own, key=own.get, reverse=True)[:top]  # type: ignore[arg-type]
    return [(f, inclusive[f] / total, own[f] / total) for f in ranked] if total else []


def print_profile(path: Path | None, title: str) -> None:
    """The busiest functions of a py-spy file, if one was recorded."""
    if path is None or not path.exists():
        return
    print(f"{title} ({path}):")
    for name, incl, own in summarize_profile(path):
        print(f"  self {own:6.1%}  incl {incl:6.1%}  {name}")


def recorded_parameters(args: argparse.Namespace) -> dict:
    """A run's arguments for its results file: paths as text, the database URL left out."""
    values = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    return values | {"database_url": "(redacted)"}
