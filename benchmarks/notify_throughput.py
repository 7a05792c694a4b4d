"""Event throughput from commit to SSE clients, per batching window, against a bare
LISTEN loop in the same run.

    .venv/bin/python benchmarks/notify_throughput.py --rounds 3 --duration 10
    .venv/bin/python benchmarks/notify_throughput.py --quick

Baseline: one psycopg LISTEN loop receiving pg_notify notifications sent as fast as possible
by sender processes (1,000 distinct notifications per transaction): the ceiling of the
notification pipe itself, no log, no reads, no HTTP.

threadcast: for each THREADCAST_BATCH_WINDOW_MS in --windows, a fresh server; a few SSE clients
(distinct users: per ticket its customer and one agent) subscribe, then writer processes insert
notes at full speed for --duration seconds, each body carrying its write time. Reported: write
rate, the rate at which events reached the clients (all written events, until the last one
arrived), end-to-end lag (writer's clock before its INSERT to receipt), and what the server did
for it from /metrics: identity reads per second and per identity, batches per second, events
per batch, plus ticks created (realtime.ticks) per second.

Before each threadcast variant the log is VACUUM ANALYZEd (--no-vacuum to skip), so every
window starts from the same state: realtime.tick() costs grow with the rows written since the
BRIN index on realtime.messages.txid was last summarized (see benchmarks/README.md). A `select
1` probe every 20 ms from the coordinator shows what any query waits for on the machine.

Rounds interleave the variants (order rotated per round); medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import psutil
import psycopg

from common import (
    DEFAULT_SERVER_URL,
    RESULTS,
    Profiler,
    create_database,
    drop_database,
    free_port,
    freeze_code,
    logger,
    machine,
    migrate,
    open_stream,
    percentile,
    print_profile,
    recorded_parameters,
    scrape_metrics,
    seed,
    start_threadcast,
    stop_servers,
    stream_path,
    token,
    wait_ready,
)

log = logger("notify_throughput")
BARE_CHANNEL = "bench_listen"


# Baseline: bare LISTEN -------------------------------------------------------------------


def listen_process(url: str, ready, times, out) -> None:
    """Counts notifications received in [start_at, stop]; samples lag from the payload."""
    received, lags = 0, []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"listen {BARE_CHANNEL}")
        ready.put(1)
        start_at, stop = times.get()
        while time.time() < stop:
            for n in conn.notifies(timeout=max(0.01, stop - time.time())):
                now = time.time()
                if now >= stop:
                    break
                if now >= start_at:
                    received += 1
                    if received % 97 == 0:
                        lags.append(now - float(n.payload.split("@", 1)[1]))
    out.put({"received": received, "lags": lags})


def notify_sender(url: str, per_transaction: int, ready, times, out) -> None:
    sent = 0
    query = (
        "select pg_notify(%s, g::text || '@' || extract(epoch from clock_timestamp())::text)"
        " from generate_series(1, %s) as g"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select 1")
        ready.put(1)
        start_at, stop = times.get()  # sends from now: start_at leaves a warm-up
        while time.time() < stop:
            conn.execute(query, (BARE_CHANNEL, per_transaction))
            if time.time() >= start_at:
                sent += per_transaction
    out.put(sent)


def run_bare(url: str, senders: int, per_transaction: int, duration: float) -> dict:
    ctx = mp.get_context("spawn")
    ready, times, out, sent_q = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Queue()
    listener = ctx.Process(target=listen_process, args=(url, ready, times, out))
    procs = [
        ctx.Process(target=notify_sender, args=(url, per_transaction, ready, times, sent_q))
        for _ in range(senders)
    ]
    schedule([listener, *procs], ready, times, duration, warmup=1.0)
    result = out.get(timeout=duration + 60)
    sent = sum(sent_q.get(timeout=60) for _ in procs)
    for p in [*procs, listener]:
        p.join()
    lags = sorted(result["lags"])
    return {
        "notifications_per_s": result["received"] / duration,
        "sent_per_s": sent / duration,
        "lag_ms": {k: _ms(percentile(lags, q)) for k, q in (("p50", 0.5), ("p99", 0.99))},
    }


def schedule(procs, ready, times, duration: float, warmup: float = 0.2) -> tuple[float, float]:
    """Start the processes; once all are connected, tell them when to measure."""
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    start_at = time.time() + warmup
    for _ in procs:
        times.put((start_at, start_at + duration))
    return start_at, start_at + duration


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


# threadcast -------------------------------------------------------------------------------


async def _client(port: int, job: dict, stats: dict, stop_event, ready) -> None:
    reader, writer, status = await open_stream(port, job["path"], job["token"])
    if b" 200 " not in status:
        stats["errors"] += 1
        writer.close()
        return
    try:
        while True:
            line = await reader.readline()
            if not line:
                stats["errors"] += 1
                return
            if line.startswith(b"data: ") and b'"subscribed"' in line:
                break
        ready.put(1)
        quiet = 0.0  # after stop_event: read until 1.5 s without data (the backlog is in)
        while quiet < 1.5:
            try:
                line = await asyncio.wait_for(reader.readline(), 0.1)
            except TimeoutError:
                quiet = quiet + 0.1 if stop_event.is_set() else 0.0
                continue
            quiet = 0.0
            if not line:
                stats["closed_by_server"] += 1
                break
            if line.startswith(b"data: ") and b"tp@" in line:
                now = time.time()
                at = line.index(b"tp@") + 3
                end = line.index(b'"', at)
                sent_s, marker = line[at:end].split(b"@", 1)
                stats["markers"].add(marker.decode())
                stats["received"] += 1
                stats["last"] = max(stats["last"], now)
                stats["latencies"].append(now - float(sent_s))
    except ConnectionError:
        stats["errors"] += 1
    finally:
        writer.close()


def client_process(port: int, jobs: list[dict], stop_event, ready, out) -> None:
    per_client = []

    async def main() -> None:
        tasks = []
        for job in jobs:
            stats = {"received": 0, "errors": 0, "markers": set(), "latencies": [], "last": 0.0}
            stats["closed_by_server"] = 0
            stats["ticket"] = job["ticket"]
            per_client.append(stats)
            tasks.append(asyncio.create_task(_client(port, job, stats, stop_event, ready)))
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    for stats in per_client:
        stats["markers"] = sorted(stats["markers"])
    out.put(per_client)


def writer_process(url: str, index: int, tickets: list[dict], rows: int, ready, times, out) -> None:
    """Inserts notes as fast as it can, round-robin over tickets, `rows` per statement."""
    written: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select 1")
        ready.put(1)
        start_at, stop = times.get()
        while time.time() < start_at:
            time.sleep(0.001)
        n = 0
        while time.time() < stop:
            t = tickets[(n + index) % len(tickets)]
            if rows == 1:
                conn.execute(
                    "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
                    " values (%s, %s, %s, %s)",
                    (t["thread"], t["id"], t["customer"], f"tp@{time.time():.6f}@{index}.{n}"),
                )
            else:
                conn.execute(
                    "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
                    " select %s, %s, %s, %s || g from generate_series(1, %s) as g",
                    (
                        t["thread"],
                        t["id"],
                        t["customer"],
                        f"tp@{time.time():.6f}@{index}.{n}.",
                        rows,
                    ),
                )
            written[t["id"]] = written.get(t["id"], 0) + rows
            n += 1
    out.put(written)


ACTIVITY = r"""
select left(regexp_replace(query, '\s+', ' ', 'g'), 70) as query,
       coalesce(wait_event_type || ':' || wait_event, 'CPU') as wait
  from pg_stat_activity
 where datname = current_database() and pid <> pg_backend_pid() and state = 'active'
   and query not ilike 'insert into ticket_notes%'
"""


def probe(conn: psycopg.Connection, stop: float) -> tuple[list[float], dict[str, int]]:
    """Every 20 ms until `stop`: a `select 1` round trip (what any query waits for on this
    machine while the writers run) and a sample of the server's active queries in
    pg_stat_activity (where its dispatcher spends its time, by query and wait event)."""
    rtts, activity = [], {}
    while time.time() < stop:
        t = time.perf_counter()
        conn.execute("select 1")
        rtts.append(time.perf_counter() - t)
        for query, wait in conn.execute(ACTIVITY).fetchall():
            key = f"{query} [{wait}]"
            activity[key] = activity.get(key, 0) + 1
        activity["(samples)"] = activity.get("(samples)", 0) + 1
        time.sleep(0.02)
    return sorted(rtts), activity


def metric(m: dict[str, float], name: str) -> float:
    return m.get(name, 0.0)


def run_threadcast(url: str, data: dict, jobs: list[dict], window: float, args) -> dict:
    ctx = mp.get_context("spawn")
    if args.vacuum:
        # Every variant starts from a summarized, analyzed log: realtime.tick() finds new rows
        # by a BRIN index on txid, whose pages written since the last summarization all match.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze realtime.messages")
    port = free_port()
    server = start_threadcast(url, port, {"THREADCAST_BATCH_WINDOW_MS": str(window)})
    try:
        wait_ready(port, "/readyz")
        stop_event, ready, out, wout = ctx.Event(), ctx.Queue(), ctx.Queue(), ctx.Queue()
        shards = [jobs[i :: args.processes] for i in range(args.processes)]
        clients = [
            ctx.Process(target=client_process, args=(port, s, stop_event, ready, out))
            for s in shards
            if s
        ]
        for p in clients:
            p.start()
        for _ in jobs:
            ready.get(timeout=60)
        tickets = [t for t in data["tickets"] if any(j["ticket"] == t["id"] for j in jobs)]
        wready, times = ctx.Queue(), ctx.Queue()
        writers = [
            ctx.Process(
                target=writer_process, args=(url, i, tickets, args.rows, wready, times, wout)
            )
            for i in range(args.writers)
        ]
        start_at, stop = schedule(writers, wready, times, args.duration)
        with psycopg.connect(url, autocommit=True) as conn:
            time.sleep(max(0.0, start_at - time.time()))
            m0 = scrape_metrics(port)
            tick0 = conn.execute("select max(tick_id) from realtime.ticks").fetchone()[0]
            cpu0 = psutil.Process(server.pid).cpu_times()
            profile = args.profile if window == args.profile_window else None
            if profile is not None and profile.exists():
                profile = None  # the first round's only
            with Profiler(server.pid, profile):
                rtts, activity = probe(conn, stop)
            m1 = scrape_metrics(port)
            tick1 = conn.execute("select max(tick_id) from realtime.ticks").fetchone()[0]
            cpu1 = psutil.Process(server.pid).cpu_times()
        written_by_ticket: dict[str, int] = {}
        for _ in writers:
            for ticket, count in wout.get(timeout=60).items():
                written_by_ticket[ticket] = written_by_ticket.get(ticket, 0) + count
        for p in writers:
            p.join()
        written = sum(written_by_ticket.values())
        expected = sum(written_by_ticket.get(j["ticket"], 0) for j in jobs)
        # Drain: wait until the server has queued every expected delivery (or give up).
        deadline = time.time() + args.drain
        delivered0 = metric(m0, "threadcast_events_delivered_total")
        while time.time() < deadline:
            done = metric(scrape_metrics(port), "threadcast_events_delivered_total") - delivered0
            if done >= expected:
                break
            time.sleep(0.1)
        drained = done >= expected
        stop_event.set()
        per_client = [c for _ in clients for c in out.get(timeout=60)]
        for p in clients:
            p.join()
        m2 = scrape_metrics(port)
    finally:
        stop_servers([server])

    lats = sorted(x for c in per_client for x in c["latencies"])
    received = sum(c["received"] for c in per_client)
    missing = sum(
        max(0, written_by_ticket.get(c["ticket"], 0) - len(c["markers"])) for c in per_client
    )
    duplicates = sum(c["received"] - len(c["markers"]) for c in per_client)
    last = max((c["last"] for c in per_client), default=0.0)
    span = max(args.duration, last - start_at)
    groups = metric(m1, "threadcast_identity_groups") or len(jobs)
    reads = metric(m1, "threadcast_identity_reads_total") - metric(
        m0, "threadcast_identity_reads_total"
    )
    batches = metric(m1, "threadcast_batch_size_count") - metric(m0, "threadcast_batch_size_count")
    batch_events = metric(m1, "threadcast_batch_size_sum") - metric(m0, "threadcast_batch_size_sum")
    resets = sum(v for k, v in m2.items() if k.startswith("threadcast_resets_total")) - sum(
        v for k, v in m0.items() if k.startswith("threadcast_resets_total")
    )
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / args.duration
    return {
        "window_ms": window,
        "written": written,
        "write_per_s": written / args.duration,
        "events_per_s": written / span,  # every written event reached its clients in `span`
        "delivery_span_s": span,
        "deliveries": received,
        "expected_deliveries": expected,
        "missing": missing,
        "duplicates": duplicates,
        "errors": sum(c["errors"] for c in per_client),
        "closed_by_server": sum(c["closed_by_server"] for c in per_client),
        "resets": resets,
        "server_queued_all": drained,
        "server_queries_active": dict(sorted(activity.items(), key=lambda kv: -kv[1])[:12]),
        "probe_rtt_ms": {"p50": _ms(percentile(rtts, 0.5)), "p95": _ms(percentile(rtts, 0.95))},
        "lag_ms": {
            k: _ms(percentile(lats, q)) for k, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        },
        "identity_reads_per_s": reads / args.duration,
        "reads_per_identity_per_s": reads / args.duration / groups,
        "batches_per_s": batches / args.duration,
        "events_per_batch": batch_events / batches if batches else None,
        "ticks_per_s": (tick1 - tick0) / args.duration,
        "server_cpu": cpu,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL)
    )
    parser.add_argument("--windows", default="0,1,5,20", help="batch windows, ms")
    parser.add_argument("--tickets", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8, help="SSE clients, distinct users")
    parser.add_argument("--writers", type=int, default=4, help="writer processes")
    parser.add_argument("--rows", type=int, default=1, help="notes per INSERT statement")
    parser.add_argument("--senders", type=int, default=2, help="baseline NOTIFY processes")
    parser.add_argument("--per-transaction", type=int, default=1000, help="baseline NOTIFYs/txn")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--drain", type=float, default=15.0, help="max wait for the backlog")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    parser.add_argument(
        "--no-vacuum", dest="vacuum", action="store_false",
        help="do not VACUUM ANALYZE realtime.messages before each threadcast variant",
    )  # fmt: skip
    parser.add_argument("--profile", type=Path, help="py-spy the server while writing, here")
    parser.add_argument("--profile-window", type=float, default=5.0, help="for this window")
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS / "notify_throughput.json")
    args = parser.parse_args()
    if args.quick:
        args.windows, args.duration, args.rounds, args.writers, args.drain = "0,5", 2.0, 1, 2, 5.0
    windows = [float(w) for w in args.windows.split(",")]
    if args.profile:
        args.profile.unlink(missing_ok=True)

    at_start = freeze_code()  # servers run this copy: the checkout may change meanwhile
    url = create_database(args.database_url)
    raw: dict[str, list[dict]] = {"bare": []} | {f"{w:g}": [] for w in windows}
    try:
        migrate(url)
        agents = max(0, args.clients - args.tickets)
        data = seed(url, args.tickets, agents)
        jobs = []
        for i in range(args.clients):  # per ticket its customer, then agents: distinct users
            t = data["tickets"][i % args.tickets]
            user = t["customer"] if i < args.tickets else data["agents"][i - args.tickets]
            jobs.append({"ticket": t["id"], "path": stream_path(t["id"]), "token": token(user)})
        variants = list(raw)
        total, done = args.rounds * len(variants), 0
        for round_no in range(args.rounds):
            shift = round_no % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                if variant == "bare":
                    r = run_bare(url, args.senders, args.per_transaction, args.duration)
                    summary = f"{r['notifications_per_s']:9.0f} notifications/s"
                else:
                    r = run_threadcast(url, data, jobs, float(variant), args)
                    summary = (
                        f"{r['events_per_s']:7.0f} events/s (written {r['write_per_s']:.0f}/s),"
                        f" lag p50 {r['lag_ms']['p50'] or 0:.0f} ms,"
                        f" {r['reads_per_identity_per_s']:.1f} reads/identity/s,"
                        f" missing {r['missing']}, dup {r['duplicates']}"
                    )
                raw[variant].append(r)
                done += 1
                log(f"{done}/{total} round {round_no + 1} {variant:>5}: {summary}")
        info = machine(url) | {"measured": at_start}
    finally:
        drop_database(args.database_url, url)

    def med(variant: str, *path: str) -> float | None:
        values = []
        for r in raw[variant]:
            for key in path:
                r = r[key] if r is not None else None
            if r is not None:
                values.append(r)
        return statistics.median(values) if values else None

    bare_rates = [r["notifications_per_s"] for r in raw["bare"]]
    medians = {"bare": {"notifications_per_s": med("bare", "notifications_per_s"),
                        "lag_p50_ms": med("bare", "lag_ms", "p50")}}  # fmt: skip
    for w in windows:
        v = f"{w:g}"
        medians[v] = {
            key: med(v, *key.split("."))
            for key in (
                "events_per_s", "write_per_s", "lag_ms.p50", "lag_ms.p95", "lag_ms.p99",
                "identity_reads_per_s", "reads_per_identity_per_s", "batches_per_s",
                "events_per_batch", "ticks_per_s", "server_cpu", "probe_rtt_ms.p50",
                "probe_rtt_ms.p95",
            )
        }  # fmt: skip
        # Ratio per round to the same round's baseline, then the median.
        medians[v]["ratio_to_bare"] = statistics.median(
            r["events_per_s"] / b for r, b in zip(raw[v], bare_rates, strict=True)
        )
        medians[v]["missing_total"] = sum(r["missing"] for r in raw[v])
        medians[v]["duplicates_total"] = sum(r["duplicates"] for r in raw[v])
        medians[v]["errors_total"] = sum(r["errors"] for r in raw[v])
        medians[v]["resets_total"] = sum(r["resets"] for r in raw[v])
        medians[v]["closed_by_server_total"] = sum(r["closed_by_server"] for r in raw[v])
    result = {
        "benchmark": "notify_throughput",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": info,
        "parameters": recorded_parameters(args),
        "runs": raw,
        "medians": medians,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))

    print(
        f"{args.rounds} rounds x {args.duration:g} s, {args.writers} writers x {args.rows} row(s),"
        f" {args.clients} clients over {args.tickets} tickets; medians"
    )
    b = medians["bare"]
    print(f"bare LISTEN loop: {b['notifications_per_s']:.0f} notifications/s")
    print(
        f"{'window ms':>9}{'events/s':>10}{'written/s':>10}{'x bare':>8}{'p50 ms':>8}"
        f"{'p95 ms':>8}{'p99 ms':>8}{'reads/id/s':>11}{'batches/s':>10}{'ev/batch':>9}"
        f"{'ticks/s':>8}{'cpu':>6}{'rtt ms':>7}{'lost':>6}{'dup':>5}{'reset':>6}"
    )
    for w in windows:
        m = medians[f"{w:g}"]
        print(
            f"{w:>9g}{m['events_per_s']:>10.0f}{m['write_per_s']:>10.0f}"
            f"{m['ratio_to_bare']:>8.3f}{m['lag_ms.p50'] or 0:>8.1f}{m['lag_ms.p95'] or 0:>8.1f}"
            f"{m['lag_ms.p99'] or 0:>8.1f}{m['reads_per_identity_per_s']:>11.1f}"
            f"{m['batches_per_s']:>10.1f}{m['events_per_batch'] or 0:>9.1f}"
            f"{m['ticks_per_s']:>8.1f}{m['server_cpu']:>6.2f}{m['probe_rtt_ms.p50']:>7.2f}"
            f"{m['missing_total']:>6}{m['duplicates_total']:>5}{m['resets_total']:>6.0f}"
        )
    print_profile(
        args.profile, f"profile of the server while writing, window {args.profile_window:g} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
