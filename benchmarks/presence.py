"""Presence under typing indicators, through two replicas, against the same clients idle.

    .venv/bin/python benchmarks/presence.py            # 1,000 clients over 100 tickets
    .venv/bin/python benchmarks/presence.py --quick

CLIENTS agents, each a distinct user, watch one ticket each (TICKETS of them, so CLIENTS /
TICKETS viewers a ticket) on a stream bound to `presence`, half on each of two `threadcast
serve` replicas, and track once. Then two phases of DURATION seconds on the same connections:
`idle` (nobody updates) and `typing` (every client toggles `typing` every PERIOD seconds, at
a random phase, with a PUT to either replica at random). Per phase: presence frames delivered
per second, latency from the PUT to each viewer's `join` (p50/p99), PUTs answered and failed,
and the cost: PostgreSQL's CPU (the backends serving its database) and WAL bytes (the whole
cluster's: run it on a quiet server), and the two servers' CPU. `typing` is reported against
`idle` in the same run.

Before that, the storage choice, measured: the same presence upsert N times (one
transaction each) into the unlogged realtime.presences with NOTIFY (what threadcast does),
into a logged copy of the table with NOTIFY, and as an event in the durable log
(realtime.send()): WAL bytes and microseconds per update.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import platform
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import psycopg

from common import (
    RESULTS,
    create_database,
    drop_database,
    free_port,
    logger,
    open_stream,
    percentile,
    recorded_parameters,
    seed,
    start_threadcast,
    stop_servers,
    token,
    wait_ready,
)
from threadcast import migrations

log = logger("presence")


# Storage -------------------------------------------------------------------------------------

UPSERT = """
insert into {table} (topic, ref, key, connection, state, expires_at)
values (%(topic)s, %(ref)s, 'k', %(ref)s, %(state)s::jsonb, now() + interval '15 seconds')
on conflict (topic, ref) do update set state = excluded.state, updated_at = now(),
    expires_at = excluded.expires_at
"""


def wal_lsn(conn: psycopg.Connection) -> int:
    return int(conn.execute("select pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0])


def storage(url: str, updates: int) -> dict:
    """WAL bytes and µs per presence update, by where it is kept."""
    refs = [uuid.uuid4() for _ in range(100)]
    notify = "select pg_notify('bench_presence', %(topic)s)"
    variants = {  # the statements of one update's transaction
        "unlogged table + NOTIFY": [UPSERT.format(table="realtime.presences"), notify],
        "logged table + NOTIFY": [UPSERT.format(table="bench_presences_logged"), notify],
        "durable log (realtime.send)": [
            "select realtime.send(%(topic)s, 'presence_bench',"
            " jsonb_build_object('ref', %(ref)s::text, 'state', %(state)s::jsonb))"
        ],
    }
    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table bench_presences_logged (like realtime.presences including all)")
        for name, statements in variants.items():
            before, started = wal_lsn(conn), time.perf_counter()
            for n in range(updates):
                with conn.transaction():
                    for statement in statements:
                        conn.execute(
                            statement,
                            {
                                "topic": f"ticket-threads:{n % 100}",
                                "ref": refs[n % 100],
                                "state": json.dumps({"typing": n % 2 == 0, "name": "Ada"}),
                            },
                        )
            elapsed = time.perf_counter() - started
            out[name] = {
                "wal_bytes_per_update": (wal_lsn(conn) - before) / updates,
                "us_per_update": elapsed / updates * 1e6,
            }
            log(f"storage: {name}: {out[name]}")
        conn.execute("drop table bench_presences_logged")
        conn.execute("delete from realtime.presences")
    return out


# Clients -------------------------------------------------------------------------------------


KEEP_ALIVE_SECONDS = 4.0  # reuse a connection idle for less (uvicorn closes after 5 s)


class Puts:
    """PUTs over a few keep-alive HTTP/1.1 connections per replica, written by hand: httpx
    cost the load generator more CPU than the servers it measures (on the same 2 cores)."""

    def __init__(self, per_port: int = 8) -> None:
        self.per_port = per_port
        self.idle: dict[int, list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]]] = {}
        self.open: dict[int, int] = {}
        self.freed = asyncio.Condition()

    async def _take(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with self.freed:
            while not self.idle.get(port) and self.open.get(port, 0) >= self.per_port:
                await self.freed.wait()
            while self.idle.get(port):
                reader, writer, used = self.idle[port].pop()
                if time.monotonic() - used < KEEP_ALIVE_SECONDS:
                    return reader, writer
                writer.close()  # the server may have closed it: uvicorn keeps 5 s
                self.open[port] -= 1
            self.open[port] = self.open.get(port, 0) + 1
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await self._drop(port)
            raise

    async def _give(self, port: int, conn: tuple) -> None:
        async with self.freed:
            self.idle.setdefault(port, []).append((*conn, time.monotonic()))
            self.freed.notify()

    async def _drop(self, port: int) -> None:
        async with self.freed:
            self.open[port] -= 1
            self.freed.notify()

    async def put(self, port: int, path: str, token: str, body: Callable[[], bytes]) -> int:
        """The status of one PUT (0 if it could not be sent); `body` is built once a
        connection is ready (it carries the time it is sent). A kept-alive connection the
        server has closed meanwhile (uvicorn's keep-alive timeout) is replaced once."""
        for _attempt in range(2):
            reader, writer = await self._take(port)
            try:
                data = body()
                writer.write(
                    f"PUT {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                    .encode() + data
                )  # fmt: skip
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                writer.close()
                await self._drop(port)
                continue
            await self._give(port, (reader, writer))
            return status
        return 0


async def one_client(
    puts: Puts,
    ports: list[int],
    job: dict,
    idle_at: float,
    typing_at: float,
    stop: float,
    period: float,
    stats: dict,
) -> None:
    port = ports[job["replica"]]
    reader, writer, status = await open_stream(port, job["path"], job["token"])
    if b" 200 " not in status:
        stats["errors"] += 1
        return
    connection = None
    event = None

    async def put(puts: Puts, typing: bool) -> None:
        def body() -> bytes:
            state = {"name": job["user"][:8], "typing": typing, "sent_at": time.time()}
            return json.dumps({"connection": connection, "state": state}).encode()

        path = f"/v1/channels/{job['channel']}/presence/{job['ref']}"
        status = await puts.put(random.choice(ports), path, job["token"], body)
        stats["puts"] += 1
        if status != 200:
            stats["put_errors"] += 1
            stats["put_statuses"][str(status)] = stats["put_statuses"].get(str(status), 0) + 1

    async def toggle(puts: Puts) -> None:
        await put(puts, False)  # tracked once, before the phases
        await asyncio.sleep(max(0.0, typing_at - time.time()) + random.uniform(0, period))
        typing = True
        while time.time() < stop:
            await put(puts, typing)
            typing = not typing
            await asyncio.sleep(period)

    toggler = None
    try:
        while time.time() < stop + 1:
            line = await asyncio.wait_for(
                reader.readline(), timeout=max(0.1, stop + 1 - time.time())
            )
            if not line:
                break
            if line.startswith(b"event: "):
                event = line[7:].strip()
            elif line.startswith(b"data: ") and event == b"system" and connection is None:
                data = json.loads(line[6:])
                if data.get("type") == "subscribed":
                    connection = data["connection"]
                    stats["connected"] += 1
                    toggler = asyncio.create_task(toggle(puts))
            elif line.startswith(b"data: ") and event == b"presence":
                frame = json.loads(line[6:])
                now = time.time()
                if now < idle_at:
                    continue  # connecting: the first tracks and syncs
                phase = "typing" if now >= typing_at else "idle"
                stats[f"frames_{phase}"] += 1
                if frame["type"] == "join":
                    for p in frame["presences"]:
                        stats[f"deliveries_{phase}"] += 1
                        if phase == "typing" and "sent_at" in p["state"]:
                            stats["latencies"].append(now - p["state"]["sent_at"])
    except TimeoutError:
        pass
    finally:
        if toggler is not None:
            toggler.cancel()
        writer.close()


def client_process(
    ports: list[int],
    jobs: list[dict],
    idle_at: float,
    typing_at: float,
    stop: float,
    period: float,
    out,
) -> None:
    stats = {
        "errors": 0,
        "connected": 0,
        "puts": 0,
        "put_errors": 0,
        "put_statuses": {},
        "frames_idle": 0,
        "frames_typing": 0,
        "deliveries_idle": 0,
        "deliveries_typing": 0,
        "latencies": [],
    }

    async def run() -> None:
        puts = Puts()  # one pool of connections per process
        await asyncio.gather(
            *(
                one_client(puts, ports, job, idle_at, typing_at, stop, period, stats)
                for job in jobs
            ),
            return_exceptions=True,
        )

    asyncio.run(run())
    out.put(stats)


def postgres_cpu(dbname: str) -> float:
    """CPU seconds of the backends serving the benchmark's database (their process title
    names it; the servers' pools hold them for the whole run)."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and dbname in " ".join(proc.info["cmdline"] or ()):
            with contextlib.suppress(psutil.Error):
                total += sum(proc.cpu_times()[:2])
    return total


def sample(conn: psycopg.Connection, dbname: str, servers: list) -> dict:
    return {
        "time": time.monotonic(),
        "pg_cpu": postgres_cpu(dbname),
        "wal": wal_lsn(conn),
        "server_cpu": sum(sum(psutil.Process(s.pid).cpu_times()[:2]) for s in servers),
    }


def cost(before: dict, after: dict) -> dict:
    seconds = after["time"] - before["time"]
    return {
        "seconds": round(seconds, 1),
        "postgres_cores": round((after["pg_cpu"] - before["pg_cpu"]) / seconds, 3),
        "wal_bytes_per_s": round((after["wal"] - before["wal"]) / seconds),
        "servers_cores": round((after["server_cpu"] - before["server_cpu"]) / seconds, 3),
    }


def run(args: argparse.Namespace, url: str, data: dict) -> dict:
    ports = [free_port(), free_port()]
    env = {"THREADCAST_PRESENCE_UPDATES_PER_SECOND": "20"}
    servers = [start_threadcast(url, port, env) for port in ports]
    try:
        for port in ports:
            wait_ready(port, "/readyz")
        tickets = data["tickets"][: args.tickets]
        jobs = []
        for i in range(args.clients):
            user = data["agents"][i]
            channel = f"ticket-threads:{tickets[i % len(tickets)]['id']}"
            jobs.append(
                {
                    "user": user,
                    "token": token(user),
                    "channel": channel,
                    "path": f"/v1/channels/{channel}/stream?on=presence",
                    "replica": i % 2,
                    "ref": str(uuid.uuid4()),
                }
            )
        connect = 5 + args.clients / 50  # every client connected and tracked once
        idle_at = time.time() + connect
        dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        probe = psycopg.connect(url, autocommit=True)
        typing_at = idle_at + args.duration
        stop = typing_at + args.duration
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        shards = [jobs[i :: args.processes] for i in range(args.processes)]
        procs = [
            ctx.Process(
                target=client_process,
                args=(ports, s, idle_at, typing_at, stop, args.period, out),
            )
            for s in shards
        ]
        for p in procs:
            p.start()
        time.sleep(max(0.0, idle_at - time.time()))
        log(f"{args.clients} clients connected and tracked; idle for {args.duration}s")
        idle_start = sample(probe, dbname, servers)
        time.sleep(max(0.0, typing_at - time.time()))
        idle_end = sample(probe, dbname, servers)
        log(f"typing every {args.period}s for {args.duration}s")
        time.sleep(max(0.0, stop - time.time()))
        typing_end = sample(probe, dbname, servers)
        probe.close()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join()
    finally:
        stop_servers(servers)
    total = {
        k: sum(r[k] for r in results) for k in results[0] if k not in ("latencies", "put_statuses")
    }
    statuses: dict[str, int] = {}
    for r in results:
        for status, count in r["put_statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    latencies = sorted(x for r in results for x in r["latencies"])

    def ms(q: float) -> float | None:
        value = percentile(latencies, q)
        return round(value * 1000, 1) if value is not None else None

    idle, typing = cost(idle_start, idle_end), cost(idle_end, typing_end)
    return {
        "connected": total["connected"],
        "stream_errors": total["errors"],
        "puts": total["puts"],
        "put_errors": total["put_errors"],
        "put_error_statuses": statuses,  # 0: the connection failed
        "idle": idle | {"deliveries_per_s": round(total["deliveries_idle"] / args.duration, 1)},
        "typing": typing
        | {
            "deliveries_per_s": round(total["deliveries_typing"] / args.duration, 1),
            "frames_per_s": round(total["frames_typing"] / args.duration, 1),
            "latency_ms": {"p50": ms(0.5), "p95": ms(0.95), "p99": ms(0.99)},
            "expected_deliveries_per_s": round(
                args.clients / args.period * (args.clients / args.tickets), 1
            ),
        },
    }


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
    parser.add_argument("--period", type=float, default=2.0, help="seconds between toggles")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--storage-updates", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS / "presence.json")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.tickets, args.duration, args.processes = 20, 4, 4, 1
        args.storage_updates = 200

    url = create_database(args.database_url)
    try:
        migrations.upgrade(url)
        data = seed(url, args.tickets, args.clients)
        kept = storage(url, args.storage_updates)
        load = run(args, url, data)
    finally:
        drop_database(args.database_url, url)
    typing, idle = load["typing"], load["idle"]
    result = {
        "benchmark": "presence",
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "parameters": recorded_parameters(args),
        "storage": kept,
        "load": load,
        "typing_over_idle": {
            key: (typing[key] / idle[key] if idle[key] else None)
            for key in ("postgres_cores", "wal_bytes_per_s", "servers_cores")
        },
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"{'storage':32}{'WAL B/update':>14}{'µs/update':>11}")
    for name, r in kept.items():
        print(f"{name:32}{r['wal_bytes_per_update']:14.0f}{r['us_per_update']:11.0f}")
    print(f"\n{'phase':8}{'deliv/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'PG cores':>10}{'WAL B/s':>10}"
          f"{'servers':>9}")  # fmt: skip
    for name in ("idle", "typing"):
        r = load[name]
        lat = r.get("latency_ms", {})
        fmt = lambda v: f"{v:8.1f}" if v is not None else f"{'-':>8}"  # noqa: E731
        print(
            f"{name:8}{r['deliveries_per_s']:9.0f}{fmt(lat.get('p50'))}{fmt(lat.get('p99'))}"
            f"{r['postgres_cores']:10.3f}{r['wal_bytes_per_s']:10.0f}{r['servers_cores']:9.3f}"
        )
    print(
        f"connected {load['connected']}/{args.clients}, stream errors {load['stream_errors']},"
        f" PUTs {load['puts']} ({load['put_errors']} failed)"
    )
    ok = load["connected"] == args.clients and load["stream_errors"] == 0
    return 0 if ok and load["put_errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
