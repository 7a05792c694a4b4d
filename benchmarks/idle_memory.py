"""Memory (and idle CPU) of many idle SSE connections: threadcast vs the bare broadcaster.

    .venv/bin/python benchmarks/idle_memory.py --connections 10000 --rounds 3
    .venv/bin/python benchmarks/idle_memory.py --quick

Per round and server (a fresh server process each time): server RSS (psutil) once ready, then
--connections idle SSE streams are opened from --processes client processes (raw asyncio
sockets over loopback, at most --concurrency connects in flight per process); once every one
has its `subscribed` frame (threadcast; each connection a distinct user, over --tickets
tickets) or its `200` status line (bare), and after --settle s, RSS again and the server's CPU
use while everyone idles (--idle s), and PostgreSQL's (all its processes). Target (issue 5):
10,000 idle connections in <= 1 GiB RSS.

--with-polling adds a third server: threadcast that never stops polling the log at its batch
window (THREADCAST_ACTIVE_POLL_SECONDS=1e9), what a relay would cost idle if writers never
woke it (benchmarks/README.md, write overhead).

File descriptors: every process raises RLIMIT_NOFILE to its hard limit (the servers inherit
it); 10,000 connections need that limit above ~10,100 in the server and the clients' share in
each client process. Loopback ephemeral ports (net.ipv4.ip_local_port_range) bound the
connections per server port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from pathlib import Path

import psutil

from common import (
    DEFAULT_SERVER_URL,
    RESULTS,
    Profiler,
    create_database,
    distinct_user_jobs,
    drop_database,
    free_port,
    freeze_code,
    logger,
    machine,
    migrate,
    open_stream,
    print_profile,
    raise_nofile,
    recorded_parameters,
    scrape_metrics,
    seed,
    start_bare,
    start_threadcast,
    stop_servers,
    token,
    wait_ready,
)

log = logger("idle_memory")
RETRIES = 20


async def hold(port: int, job: dict, gate: asyncio.Semaphore, state: dict, stop_event) -> None:
    async with gate:
        for attempt in range(RETRIES + 1):
            try:
                reader, writer, status = await open_stream(port, job["path"], job.get("token"))
            except OSError as exc:
                state["errors"].append(type(exc).__name__)
                return
            if b" 200 " in status:
                break
            writer.close()
            if (b" 503 " in status or b" 429 " in status) and attempt < RETRIES:
                # What an EventSource does: come back after a while (the server's Retry-After
                # is 1 s; jittered here so the retries do not arrive together).
                state["retries"] += 1
                await asyncio.sleep(1.0 + random.random())
                continue
            state["errors"].append(status.decode(errors="replace").strip())
            return
        try:
            if job.get("token"):  # threadcast: wait for `subscribed`
                while True:
                    line = await asyncio.wait_for(reader.readline(), 60)
                    if not line:
                        raise ConnectionError("closed before subscribed")
                    if line.startswith(b"data: ") and b'"subscribed"' in line:
                        break
        except (TimeoutError, ConnectionError) as exc:
            state["errors"].append(type(exc).__name__)
            writer.close()
            return
    state["open"] += 1
    try:
        while not stop_event.is_set():  # idle: drain heartbeats, if any
            try:
                if not await asyncio.wait_for(reader.read(65536), 1.0):
                    state["dropped"] += 1
                    return
            except TimeoutError:
                pass
    except ConnectionError:
        state["dropped"] += 1
    finally:
        writer.close()


def client_process(port: int, jobs: list[dict], concurrency: int, stop_event, out) -> None:
    raise_nofile()
    state: dict = {"open": 0, "errors": [], "dropped": 0, "retries": 0}

    async def main() -> None:
        gate = asyncio.Semaphore(concurrency)
        tasks = [asyncio.create_task(hold(port, j, gate, state, stop_event)) for j in jobs]
        reported = False
        while not all(t.done() for t in tasks):
            settled = state["open"] + len(state["errors"]) == len(jobs)
            if settled and not reported:
                out.put(
                    ("connected", state["open"], [*state["errors"], *["retry"] * state["retries"]])
                )
                reported = True
            await asyncio.sleep(0.2)
        if not reported:
            out.put(("connected", state["open"], [*state["errors"], *["retry"] * state["retries"]]))

    asyncio.run(main())
    out.put(("done", state["dropped"], []))


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (the bench database's server)."""
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"] == "postgres":
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def measure(name: str, port: int, pid: int, jobs: list[dict], args) -> dict:
    server = psutil.Process(pid)
    time.sleep(1.0)
    rss_before = server.memory_info().rss
    ctx = mp.get_context("spawn")
    stop_event, out = ctx.Event(), ctx.Queue()
    shards = [jobs[i :: args.processes] for i in range(args.processes)]
    procs = [
        ctx.Process(
            target=client_process, args=(port, s, args.concurrency, stop_event, out), daemon=True
        )
        for s in shards
    ]
    started = time.time()
    for p in procs:
        p.start()
    connected, errors, retries = 0, [], 0
    for _ in procs:
        _, n, errs = out.get(timeout=args.timeout)
        connected += n
        errors += [e for e in errs if e != "retry"]
        retries += errs.count("retry")
    connect_s = time.time() - started
    log(
        f"{name}: {connected} open in {connect_s:.1f}s ({len(errors)} failed,"
        f" {retries} 503/429 answers retried); settling"
    )
    time.sleep(args.settle)
    rss_after = server.memory_info().rss
    fds = server.num_fds()
    metrics = scrape_metrics(port) if name != "bare" else {}
    cpu0, pg0, t0 = server.cpu_times(), postgres_cpu_seconds(), time.time()
    profile = args.profile if (args.profile and name == "threadcast") else None
    with Profiler(pid, profile):
        time.sleep(args.idle)
    cpu1, pg1, elapsed = server.cpu_times(), postgres_cpu_seconds(), time.time() - t0
    idle_cpu = max(0.0, cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsed
    idle_postgres_cpu = max(0.0, pg1 - pg0) / elapsed
    rss_idle = server.memory_info().rss
    stop_event.set()
    dropped = 0
    for _ in procs:
        kind, n, _ = out.get(timeout=60)
        dropped += n if kind == "done" else 0
    for p in procs:
        p.join(30)
    return {
        "connections": len(jobs),
        "open": connected,
        "failed": len(errors),
        "retried_503_429": retries,
        "errors": sorted(set(errors))[:5],
        "dropped_while_idle": dropped,
        "connect_s": connect_s,
        "rss_before_mib": rss_before / 2**20,
        "rss_after_mib": rss_after / 2**20,
        "rss_after_idle_mib": rss_idle / 2**20,
        "kib_per_connection": (rss_after - rss_before) / 1024 / max(1, connected),
        "server_fds": fds,
        "idle_cpu_cores": idle_cpu,
        "idle_postgres_cpu_cores": idle_postgres_cpu,
        "server_connections_gauge": metrics.get("threadcast_connections"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL)
    )
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--concurrency", type=int, default=25, help="connects in flight/process")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measured")
    parser.add_argument("--timeout", type=float, default=300.0, help="to connect everyone")
    parser.add_argument("--profile", type=Path, help="py-spy the idle threadcast server here")
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument(
        "--with-polling", action="store_true", help="also a threadcast that never stops polling"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "idle_memory.json")
    args = parser.parse_args()
    if args.quick:
        args.connections, args.tickets, args.rounds, args.processes = 300, 10, 1, 2
        args.settle, args.idle = 1.0, 2.0
    limit = raise_nofile()
    if limit < args.connections + 200:
        raise SystemExit(f"RLIMIT_NOFILE is {limit}: too low for {args.connections} connections")

    at_start = freeze_code()  # servers run this copy: the checkout may change meanwhile
    url = create_database(args.database_url)
    names = ["bare", "threadcast"] + (["threadcast_polling"] if args.with_polling else [])
    raw: dict[str, list[dict]] = {name: [] for name in names}
    try:
        migrate(url)
        data = seed(url, args.tickets, max(0, args.connections - args.tickets))
        tc_jobs = distinct_user_jobs(data, args.connections)
        for j in tc_jobs:
            j["token"] = token(j["user"])
        bare_jobs = [{"path": f"/stream/{i % args.tickets}"} for i in range(args.connections)]
        for round_no in range(args.rounds):
            order = names if round_no % 2 == 0 else names[::-1]
            for name in order:
                port = free_port()
                if name == "bare":
                    server = start_bare(port)
                else:
                    polling = {"THREADCAST_ACTIVE_POLL_SECONDS": "1e9"}
                    server = start_threadcast(
                        url, port, polling if name == "threadcast_polling" else None
                    )
                try:
                    wait_ready(port, "/healthz" if name == "bare" else "/readyz")
                    r = measure(
                        name, port, server.pid, bare_jobs if name == "bare" else tc_jobs, args
                    )
                finally:
                    stop_servers([server])
                raw[name].append(r)
                log(
                    f"round {round_no + 1}/{args.rounds} {name}: {r['open']} open,"
                    f" RSS {r['rss_before_mib']:.0f} -> {r['rss_after_mib']:.0f} MiB"
                    f" ({r['kib_per_connection']:.1f} KiB/conn), idle CPU"
                    f" {r['idle_cpu_cores']:.3f} cores"
                    f" (PostgreSQL {r['idle_postgres_cpu_cores']:.3f}),"
                    f" connect {r['connect_s']:.1f}s"
                )
        info = machine(url) | {"measured": at_start}
    finally:
        drop_database(args.database_url, url)

    keys = (
        "rss_before_mib", "rss_after_mib", "kib_per_connection", "idle_cpu_cores",
        "idle_postgres_cpu_cores", "connect_s",
    )  # fmt: skip
    medians = {n: {k: statistics.median(r[k] for r in rs) for k in keys} for n, rs in raw.items()}
    ratio = statistics.median(
        t["rss_after_mib"] / b["rss_after_mib"]
        for t, b in zip(raw["threadcast"], raw["bare"], strict=True)
    )
    result = {
        "benchmark": "idle_memory",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": info,
        "parameters": recorded_parameters(args),
        "runs": raw,
        "medians": medians,
        "ratio_rss_threadcast_to_bare": ratio,
        "target": {"rss_mib": 1024},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))

    print(f"{args.connections} idle SSE connections; medians of {args.rounds} rounds")
    print(
        f"{'server':20}{'RSS before':>11}{'RSS after':>11}{'KiB/conn':>10}"
        f"{'idle CPU':>10}{'PG CPU':>8}{'connect s':>11}{'failed':>8}"
    )
    for name, m in medians.items():
        failed = sum(r["failed"] + r["dropped_while_idle"] for r in raw[name])
        print(
            f"{name:20}{m['rss_before_mib']:>11.0f}{m['rss_after_mib']:>11.0f}"
            f"{m['kib_per_connection']:>10.1f}{m['idle_cpu_cores']:>10.3f}"
            f"{m['idle_postgres_cpu_cores']:>8.3f}{m['connect_s']:>11.1f}{failed:>8}"
        )
    print(f"ratio RSS threadcast/bare with the connections open: {ratio:.2f}")
    print_profile(args.profile, "profile of the idle threadcast server")
    return 0


if __name__ == "__main__":
    sys.exit(main())
