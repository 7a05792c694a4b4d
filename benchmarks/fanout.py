"""Fan-out and end-to-end latency: N SSE clients over M tickets, every delivery RLS-checked,
against a bare sse-starlette broadcaster (no database, no auth) in the same run.

    .venv/bin/python benchmarks/fanout.py --clients 1000 --tickets 100 --rate 500 --duration 20
    .venv/bin/python benchmarks/fanout.py --quick

The server and the bare broadcaster run as separate processes; clients run in their own
processes (raw asyncio sockets, so the load generator is cheap) and a writer process inserts
notes at a fixed rate, each body carrying its write time. Reported: deliveries/s, latency from
the writer's commit to receipt (p50/p95/p99), server RSS with the clients connected.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from threadcast import auth, migrations  # noqa: E402
from threadcast.config import Settings  # noqa: E402

SECRET = "threadcast-bench-secret-0123456789abcdef"
RESULTS = ROOT / "benchmarks" / "results"


def log(message: str) -> None:
    print(f"[fanout {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


# Servers -----------------------------------------------------------------------------------


def start_threadcast(url: str, port: int) -> subprocess.Popen:
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
        env=env,
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


# Clients -----------------------------------------------------------------------------------


async def one_client(port: int, path: str, token: str | None, stats: dict, stop: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    auth_header = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{auth_header}\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        stats["errors"] += 1
        writer.close()
        return
    stats["connected"] += 1
    try:
        while time.time() < stop:
            line = await asyncio.wait_for(reader.readline(), timeout=max(0.1, stop - time.time()))
            if not line:
                break
            # Chunked framing lines are not SSE lines; only data lines with a marker count.
            if line.startswith(b"data: ") and b"bench@" in line:
                now = time.time()
                at = line.index(b"bench@") + 6
                sent = float(line[at : line.index(b"@", at)])
                stats["received"] += 1
                stats["latencies"].append(now - sent)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


def client_process(
    port: int, jobs: list[tuple[str, str | None]], start_at: float, stop: float, out
) -> None:
    stats = {"connected": 0, "errors": 0, "received": 0, "latencies": []}

    async def main() -> None:
        tasks = []
        for path, token in jobs:
            tasks.append(asyncio.create_task(one_client(port, path, token, stats, stop)))
            await asyncio.sleep(0)  # spread connects a little
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    out.put(stats)


# Writers -----------------------------------------------------------------------------------


def writer_process(
    url: str, tickets: list[dict], rate: float, start_at: float, stop: float
) -> None:
    """Inserts notes round-robin over tickets at `rate` per second; body carries the time."""
    with psycopg.connect(url, autocommit=True) as conn:
        while time.time() < start_at:
            time.sleep(0.01)
        n = 0
        while True:
            target = start_at + n / rate
            now = time.time()
            if target > stop:
                break
            if target > now:
                time.sleep(target - now)
            t = tickets[n % len(tickets)]
            conn.execute(
                "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
                " values (%s, %s, %s, %s)",
                (t["thread"], t["id"], t["customer"], f"bench@{time.time():.6f}@{n}"),
            )
            n += 1


def bare_writer(port: int, topics: int, rate: float, start_at: float, stop: float) -> None:
    import httpx

    with httpx.Client() as client:
        while time.time() < start_at:
            time.sleep(0.01)
        n = 0
        while True:
            target = start_at + n / rate
            if target > stop:
                break
            if target > time.time():
                time.sleep(target - time.time())
            client.post(
                f"http://127.0.0.1:{port}/publish/{n % topics}", content=f"{time.time():.6f}@{n}"
            )
            n += 1


# Runs --------------------------------------------------------------------------------------


def run_load(port, jobs, processes, writer, duration, server_pid) -> dict:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    # Let every client connect before writing: this measures steady state, not a connect storm.
    connect_time = 3 + len(jobs) / 150
    start_at = time.time() + connect_time
    stop = start_at + duration
    shards = [jobs[i::processes] for i in range(processes)]
    procs = [
        ctx.Process(target=client_process, args=(port, s, start_at, stop + 2, out)) for s in shards
    ]
    for p in procs:
        p.start()
    wproc = ctx.Process(target=writer[0], args=(*writer[1], start_at, stop))
    wproc.start()
    time.sleep(max(0.0, start_at - time.time()))
    rss = psutil.Process(server_pid).memory_info().rss
    log(f"clients connecting/connected; server RSS {rss / 2**20:.0f} MiB; writing for {duration}s")
    wproc.join()
    results = [out.get(timeout=duration + 60) for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for r in results for x in r["latencies"])
    received = sum(r["received"] for r in results)

    def pct(q: float) -> float | None:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
            if latencies
            else None
        )

    return {
        "clients": len(jobs),
        "connected": sum(r["connected"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "deliveries": received,
        "deliveries_per_s": received / duration,
        "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99)},
        "server_rss_mib": rss / 2**20,
    }


def threadcast_jobs(data: dict, clients: int) -> list[tuple[str, str | None]]:
    """Per ticket, its customer plus agents, round-robin, until `clients` connections."""
    settings = Settings(jwt_secret=SECRET)
    jobs = []
    tickets, agents = data["tickets"], data["agents"]
    for i in range(clients):
        t = tickets[i % len(tickets)]
        slot = i // len(tickets)
        user = t["customer"] if slot == 0 else agents[(slot - 1 + i) % len(agents)]
        token = auth.issue(settings, uuid.UUID(user), ttl_seconds=3600)
        path = f"/v1/channels/ticket-threads:{t['id']}/stream?on=INSERT:public.ticket_notes"
        jobs.append((path, token))
    return jobs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--rate", type=float, default=500.0, help="events written per second")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS / "fanout.json")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.tickets, args.rate, args.duration, args.processes = 100, 10, 100, 3, 2

    url = create_database(args.database_url)
    servers: list[subprocess.Popen] = []
    try:
        migrations.upgrade(url)
        data = seed(url, args.tickets, args.agents)
        port_tc, port_bare = free_port(), free_port()
        servers = [start_threadcast(url, port_tc), start_bare(port_bare)]
        wait_ready(port_tc, "/readyz")
        wait_ready(port_bare, "/healthz")

        log(f"bare broadcaster: {args.clients} clients over {args.tickets} topics")
        bare_jobs = [(f"/stream/{i % args.tickets}", None) for i in range(args.clients)]
        bare = run_load(
            port_bare,
            bare_jobs,
            args.processes,
            (bare_writer, (port_bare, args.tickets, args.rate)),
            args.duration,
            servers[1].pid,
        )
        log(f"threadcast: {args.clients} clients over {args.tickets} tickets, RLS on")
        tc = run_load(
            port_tc,
            threadcast_jobs(data, args.clients),
            args.processes,
            (writer_process, (url, data["tickets"], args.rate)),
            args.duration,
            servers[0].pid,
        )
    finally:
        for s in servers:
            s.send_signal(signal.SIGTERM)
        for s in servers:
            try:
                s.wait(15)
            except subprocess.TimeoutExpired:
                s.kill()
        drop_database(args.database_url, url)

    ratio = tc["deliveries_per_s"] / bare["deliveries_per_s"] if bare["deliveries_per_s"] else None
    result = {
        "benchmark": "fanout",
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "parameters": vars(args) | {"output": str(args.output), "database_url": "(redacted)"},
        "bare": bare,
        "threadcast": tc,
        "ratio_deliveries": ratio,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(
        f"{'':14}{'deliveries/s':>14}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'RSS MiB':>9}{'errors':>8}"
    )
    for name, r in (("bare", bare), ("threadcast", tc)):
        lat = r["latency_ms"]
        fmt = lambda v: f"{v:9.1f}" if v is not None else f"{'-':>9}"  # noqa: E731
        print(
            f"{name:14}{r['deliveries_per_s']:14.0f}{fmt(lat['p50'])}{fmt(lat['p95'])}{fmt(lat['p99'])}{r['server_rss_mib']:9.0f}{r['errors']:8d}"
        )
    print(f"ratio threadcast/bare deliveries: {ratio:.2f}" if ratio else "ratio: n/a")
    expected = args.rate * args.duration * args.clients / args.tickets
    print(
        f"expected deliveries ≈ {expected:.0f};"
        f" got bare {bare['deliveries']}, threadcast {tc['deliveries']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
