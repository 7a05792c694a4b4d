"""One stream for many channels (/v1/stream) against one stream per channel, in one run.

    .venv/bin/python benchmarks/multi_channel.py              # 1,000 clients x 10 tickets
    .venv/bin/python benchmarks/multi_channel.py --quick

CLIENTS agents each watch WATCH tickets (of TICKETS, consecutive, wrapping): once as CLIENTS
streams of WATCH channels each (`multi`), then as CLIENTS x WATCH single-channel streams
(`single`, the baseline: what a client without multiplexing opens), each against a fresh
server on the same database, with a writer inserting notes at --rate round-robin over the
tickets. Both deliver the same events to the same users. Reported per layout: connections
(the server's /metrics and its sockets), server RSS with everyone connected, server CPU
while writing, deliveries/s, latency from the writer's commit to receipt (p50/p95/p99), and
the ratios multi/single.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import psutil

from common import (
    RESULTS,
    SECRET,
    create_database,
    drop_database,
    free_port,
    logger,
    recorded_parameters,
    scrape_metrics,
    seed,
    start_threadcast,
    stop_servers,
    wait_ready,
)
from fanout import run_load, writer_process
from threadcast import auth, migrations
from threadcast.config import Settings

log = logger("multi_channel")
BINDING = "INSERT:public.ticket_notes"


def watched(data: dict, client: int, watch: int) -> list[str]:
    tickets = data["tickets"]
    return [tickets[(client * watch + k) % len(tickets)]["id"] for k in range(watch)]


def jobs_for(data: dict, clients: int, watch: int, layout: str) -> list[tuple[str, str]]:
    """(path, token) per connection: one agent per client, who may see every ticket."""
    settings = Settings(jwt_secret=SECRET)
    jobs = []
    for client in range(clients):
        user = uuid.UUID(data["agents"][client % len(data["agents"])])
        token = auth.issue(settings, user, ttl_seconds=3600)
        channels = [f"ticket-threads:{t}" for t in watched(data, client, watch)]
        if layout == "multi":
            query = "&".join(f"channel={quote(c)}&on.{quote(c)}={quote(BINDING)}" for c in channels)
            jobs.append((f"/v1/stream?{query}", token))
        else:
            jobs += [(f"/v1/channels/{c}/stream?on={quote(BINDING)}", token) for c in channels]
    return jobs


def sockets(pid: int, port: int) -> int:
    """Established TCP connections the server holds on its port."""
    return sum(
        1
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
    )


def run_layout(args: argparse.Namespace, url: str, data: dict, layout: str) -> dict:
    port = free_port()
    # Every client is one user with WATCH single streams: lift the per-user cap for both.
    env = {"THREADCAST_MAX_CONNECTIONS_PER_USER": str(args.watch + 5)}
    env["THREADCAST_CONNECT_ATTEMPTS_PER_IP_PER_MINUTE"] = str(10 * args.clients * args.watch)
    server = start_threadcast(url, port, env)
    try:
        wait_ready(port, "/readyz")
        jobs = jobs_for(data, args.clients, args.watch, layout)
        log(f"{layout}: {len(jobs)} connections for {args.clients} clients")
        counted: dict[str, float] = {}

        def count_connections() -> None:
            counted["metrics"] = scrape_metrics(port).get("threadcast_connections", 0)
            counted["sockets"] = sockets(server.pid, port)

        run = run_load(
            port,
            jobs,
            args.processes,
            (writer_process, (url, data["tickets"], args.rate)),
            args.duration,
            server.pid,
            args.client_nice,
            during=count_connections,
        )
        run |= {"connections_metric": counted.get("metrics"), "sockets": counted.get("sockets")}
        return run
    finally:
        stop_servers([server])


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
    parser.add_argument("--watch", type=int, default=10, help="tickets each client watches")
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="notes written per second")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--client-nice", type=int, default=10)
    parser.add_argument("--layouts", default="multi,single", help="which, in this order")
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS / "multi_channel.json")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.watch, args.tickets, args.rate = 20, 3, 20, 50
        args.duration, args.processes = 3, 2

    url = create_database(args.database_url)
    try:
        migrations.upgrade(url)
        data = seed(url, args.tickets, args.clients)
        order = args.layouts.split(",")
        layouts = {layout: run_layout(args, url, data, layout) for layout in order}
    finally:
        drop_database(args.database_url, url)

    multi, single = layouts.get("multi", {}), layouts.get("single", {})

    def ratio(key: str) -> float | None:
        return multi[key] / single[key] if multi and single.get(key) else None

    result = {
        "benchmark": "multi_channel",
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "parameters": recorded_parameters(args),
        "layouts": layouts,
        "ratio_multi_to_single": {
            key: ratio(key)
            for key in ("sockets", "server_rss_mib", "server_cores", "deliveries_per_s")
        },
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(
        f"{'':8}{'streams':>9}{'sockets':>9}{'RSS MiB':>9}{'cores':>7}{'deliv/s':>9}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}"
    )
    for name, r in layouts.items():
        lat = r["latency_ms"]
        fmt = lambda v: f"{v:8.1f}" if v is not None else f"{'-':>8}"  # noqa: E731
        print(
            f"{name:8}{r['connections_metric'] or 0:9.0f}{r['sockets'] or 0:9d}"
            f"{r['server_rss_mib']:9.0f}{r['server_cores']:7.2f}{r['deliveries_per_s']:9.0f}"
            f"{fmt(lat['p50'])}{fmt(lat['p99'])}{r['errors']:8d}"
        )
    return 0 if all(r["errors"] == 0 for r in layouts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
