"""Fan-out and end-to-end latency: N SSE clients over M tickets, every delivery RLS-checked,
against a bare sse-starlette broadcaster (no database, no auth) in the same run.

    .venv/bin/python benchmarks/fanout.py --clients 1000 --tickets 100 --rate 500 --duration 20
    .venv/bin/python benchmarks/fanout.py --quick

The server and the bare broadcaster run as separate processes; clients run in their own
processes (raw asyncio sockets, so the load generator is cheap) and a writer process inserts
notes at a fixed rate, each body carrying its write time. Reported: deliveries/s, latency from
the writer's commit to receipt (p50/p95/p99), server RSS with the clients connected, the
server's CPU, and its dispatch cycle by stage (from its own /metrics).

Client processes run at nice 10 by default (`--client-nice`): clients would be on other
machines, and on 2 shared cores a load generator at equal priority delays the very server and
database it measures. The bare broadcaster's clients get the same treatment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import psycopg

from common import (  # noqa: F401  (re-exported: other scripts and old imports use these)
    RESULTS,
    ROOT,
    SECRET,
    Profiler,
    create_database,
    drop_database,
    free_port,
    logger,
    recorded_parameters,
    scrape_metrics,
    seed,
    start_bare,
    start_threadcast,
    stop_servers,
    wait_ready,
)
from threadcast import auth, migrations
from threadcast.config import Settings

log = logger("fanout")


# Clients -----------------------------------------------------------------------------------


async def one_client(
    port: int, path: str, token: str | None, stats: dict, stop_at, connected
) -> None:
    """One stream until `stop_at` (a shared value the parent sets once every client is
    connected, which `connected` counts)."""
    auth_header = f"Authorization: Bearer {token}\r\n" if token else ""
    while True:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{auth_header}\r\n".encode())
        await writer.drain()
        status = await reader.readline()
        if b" 200 " in status:
            break
        writer.close()
        if (b" 503 " not in status and b" 429 " not in status) or time.time() > stop_at.value:
            stats["errors"] += 1
            return
        # Overloaded during a connect storm: come back, as an EventSource would.
        stats["retries"] += 1
        await asyncio.sleep(1 + random.random())
    stats["connected"] += 1
    with connected.get_lock():
        connected.value += 1
    # Reads whatever arrived and splits it into lines itself: a coroutine per line (readline)
    # cost the load generator more CPU than some servers under test, on the same 2 cores.
    partial = b""
    try:
        while time.time() < stop_at.value:
            chunk = await asyncio.wait_for(
                reader.read(1 << 16), timeout=max(0.1, min(1.0, stop_at.value - time.time()))
            )
            if not chunk:
                break
            now = time.time()
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            for line in lines:
                # Chunked framing lines are not SSE lines; only data lines with a marker count.
                if line.startswith(b"data: ") and b"bench@" in line:
                    at = line.index(b"bench@") + 6
                    sent = float(line[at : line.index(b"@", at)])
                    stats["received"] += 1
                    stats["latencies"].append(now - sent)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


def client_process(
    port: int, jobs: list[tuple[str, str | None]], stop_at, connected, out, nice: int
) -> None:
    # Clients yield the CPU to the server and PostgreSQL, as clients on other machines would:
    # on 2 shared cores the load generator otherwise competes with what it measures.
    os.nice(nice)
    stats = {"connected": 0, "errors": 0, "retries": 0, "received": 0, "latencies": []}

    async def main() -> None:
        tasks = []
        for path, token in jobs:
            tasks.append(
                asyncio.create_task(one_client(port, path, token, stats, stop_at, connected))
            )
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
            time.sleep(max(0.0, target - time.time()))
            client.post(
                f"http://127.0.0.1:{port}/publish/{n % topics}", content=f"{time.time():.6f}@{n}"
            )
            n += 1


# Runs --------------------------------------------------------------------------------------


def run_load(port, jobs, processes, writer, duration, server_pid, nice=0, during=None) -> dict:
    """Connect `jobs` (path, token) from client processes, write for `duration`, and report;
    `during`, if given, is called halfway through the writing (to count connections)."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    # Every client connects before the writing starts: this measures steady state, not a
    # connect storm, and a client that connects late (a loaded machine) misses nothing.
    stop_at = ctx.Value("d", time.time() + 3600)
    connected = ctx.Value("i", 0)
    shards = [jobs[i::processes] for i in range(processes)]
    procs = [
        ctx.Process(target=client_process, args=(port, s, stop_at, connected, out, nice))
        for s in shards
    ]
    for p in procs:
        p.start()
    deadline = time.time() + 60 + len(jobs) / 50
    while connected.value < len(jobs) and time.time() < deadline:
        if not any(p.is_alive() for p in procs):
            break
        time.sleep(0.1)
    if connected.value < len(jobs):
        log(f"only {connected.value} of {len(jobs)} clients connected; writing anyway")
    start_at = time.time() + 0.5
    stop = start_at + duration
    stop_at.value = stop + 2
    wproc = ctx.Process(target=writer[0], args=(*writer[1], start_at, stop))
    wproc.start()
    time.sleep(max(0.0, start_at - time.time()))
    server = psutil.Process(server_pid)
    rss = server.memory_info().rss
    cpu_before = sum(server.cpu_times()[:2])
    log(f"clients connecting/connected; server RSS {rss / 2**20:.0f} MiB; writing for {duration}s")
    counter = threading.Timer(duration / 2, during) if during is not None else None
    if counter is not None:
        counter.start()
    wproc.join()
    if counter is not None:
        counter.join()
    # Server CPU while writing: cores busy, out of the machine's os.cpu_count().
    server_cores = (sum(server.cpu_times()[:2]) - cpu_before) / duration
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
        "retries": sum(r["retries"] for r in results),
        "deliveries": received,
        "deliveries_per_s": received / duration,
        "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99)},
        "server_rss_mib": rss / 2**20,
        "server_cores": round(server_cores, 2),
    }


def median_run(runs: list[dict]) -> dict:
    """Per-metric medians over rounds (each metric on its own, so not one round's figures)."""

    def med(values: list) -> float | None:
        present = sorted(v for v in values if v is not None)
        return statistics.median(present) if present else None

    return {
        "clients": runs[0]["clients"],
        "connected": med([r["connected"] for r in runs]),
        "errors": sum(r["errors"] for r in runs),
        "retries": sum(r["retries"] for r in runs),
        "deliveries": med([r["deliveries"] for r in runs]),
        "deliveries_per_s": med([r["deliveries_per_s"] for r in runs]),
        "latency_ms": {q: med([r["latency_ms"][q] for r in runs]) for q in ("p50", "p95", "p99")},
        "server_rss_mib": med([r["server_rss_mib"] for r in runs]),
        "server_cores": med([r["server_cores"] for r in runs]),
        **(
            {
                "dispatch_ms": {
                    k: med([r["dispatch_ms"][k] for r in runs]) for k in runs[0]["dispatch_ms"]
                }
            }
            if "dispatch_ms" in runs[0]
            else {}
        ),
    }


def dispatch_stages(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Mean milliseconds per dispatch cycle of each stage, over the run (the server's
    threadcast_dispatch_seconds histogram, differenced), and how many cycles there were."""
    out: dict[str, float] = {}
    for stage in ("advance", "positions", "read", "queue"):
        key = f'threadcast_dispatch_seconds_{{}}{{{{stage="{stage}"}}}}'
        count = after.get(key.format("count"), 0) - before.get(key.format("count"), 0)
        total = after.get(key.format("sum"), 0) - before.get(key.format("sum"), 0)
        out[stage] = round(total / count * 1000, 2) if count else 0.0
        if stage == "advance":
            out["cycles"] = count
    return out


def gc_passes(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """The server's garbage-collector passes over the round (threadcast_gc_pause_seconds,
    differenced): full passes and their total ms, and passes of any generation over 50 ms,
    each of which stalled every stream."""

    def delta(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    name = "threadcast_gc_pause_seconds"
    over_50ms = sum(
        delta(f'{name}_count{{generation="{g}"}}')
        - delta(f'{name}_bucket{{generation="{g}",le="0.05"}}')
        for g in range(3)
    )
    return {
        "full_passes": delta(f'{name}_count{{generation="2"}}'),
        "full_pass_ms": round(delta(f'{name}_sum{{generation="2"}}') * 1000, 1),
        "passes_over_50ms": over_50ms,
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
    parser.add_argument(
        "--rounds", type=int, default=1, help="repetitions (bare and threadcast interleaved)"
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=10,
        help="niceness of the SSE client processes (0: they compete with the server for the CPU)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment for the threadcast server, e.g. THREADCAST_GC_YOUNG_THRESHOLD=0",
    )
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS / "fanout.json")
    parser.add_argument(
        "--profile", type=Path, help="py-spy the threadcast server's first round into this file"
    )
    args = parser.parse_args()
    if args.quick:
        args.clients, args.tickets, args.rate, args.duration, args.processes = 100, 10, 100, 3, 2

    url = create_database(args.database_url)
    servers: list[subprocess.Popen] = []
    try:
        migrations.upgrade(url)
        data = seed(url, args.tickets, args.agents)
        port_tc, port_bare = free_port(), free_port()
        server_env = dict(item.split("=", 1) for item in args.server_env)
        servers = [start_threadcast(url, port_tc, server_env), start_bare(port_bare)]
        wait_ready(port_tc, "/readyz")
        wait_ready(port_bare, "/healthz")

        bare_runs, tc_runs = [], []
        for round_no in range(1, args.rounds + 1):
            log(f"round {round_no}/{args.rounds}: bare broadcaster, {args.clients} clients")
            bare_jobs = [(f"/stream/{i % args.tickets}", None) for i in range(args.clients)]
            bare_runs.append(
                run_load(
                    port_bare,
                    bare_jobs,
                    args.processes,
                    (bare_writer, (port_bare, args.tickets, args.rate)),
                    args.duration,
                    servers[1].pid,
                    args.client_nice,
                )
            )
            log(f"round {round_no}/{args.rounds}: threadcast, RLS on")
            before = scrape_metrics(port_tc)
            profile = args.profile if round_no == 1 else None
            with Profiler(servers[0].pid, profile):
                run = run_load(
                    port_tc,
                    threadcast_jobs(data, args.clients),
                    args.processes,
                    (writer_process, (url, data["tickets"], args.rate)),
                    args.duration,
                    servers[0].pid,
                    args.client_nice,
                )
            after = scrape_metrics(port_tc)
            run["dispatch_ms"] = dispatch_stages(before, after)
            run["server_gc"] = gc_passes(before, after)
            log(f"dispatch stages, mean ms per cycle: {run['dispatch_ms']}")
            log(f"server garbage collection during the round: {run['server_gc']}")
            tc_runs.append(run)
        bare, tc = median_run(bare_runs), median_run(tc_runs)
    finally:
        stop_servers(servers)
        drop_database(args.database_url, url)

    ratio = tc["deliveries_per_s"] / bare["deliveries_per_s"] if bare["deliveries_per_s"] else None
    result = {
        "benchmark": "fanout",
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "parameters": recorded_parameters(args),
        "bare": bare,
        "threadcast": tc,
        "rounds": {"bare": bare_runs, "threadcast": tc_runs},
        "ratio_deliveries": ratio,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(
        f"{'':14}{'deliveries/s':>14}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'RSS MiB':>9}{'cores':>7}{'errors':>8}"
    )
    for name, r in (("bare", bare), ("threadcast", tc)):
        lat = r["latency_ms"]
        fmt = lambda v: f"{v:9.1f}" if v is not None else f"{'-':>9}"  # noqa: E731
        print(
            f"{name:14}{r['deliveries_per_s']:14.0f}{fmt(lat['p50'])}{fmt(lat['p95'])}"
            f"{fmt(lat['p99'])}{r['server_rss_mib']:9.0f}{r['server_cores']:7.2f}{r['errors']:8d}"
        )
    print(f"ratio threadcast/bare deliveries: {ratio:.2f}" if ratio else "ratio: n/a")
    expected = args.rate * args.duration * args.clients / args.tickets
    print(
        f"expected deliveries per round ≈ {expected:.0f}; medians got bare {bare['deliveries']},"
        f" threadcast {tc['deliveries']} ({args.rounds} rounds)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
