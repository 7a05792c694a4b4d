"""Resume storm: N SSE clients (each a distinct user who may see its ticket) reconnect at once
with Last-Event-ID after events were written while they were away.

    .venv/bin/python benchmarks/resume_storm.py --clients 1000 --tickets 100 --events 100
    .venv/bin/python benchmarks/resume_storm.py --quick

Each round, against one threadcast server (clients in --processes processes, raw asyncio
sockets, all over loopback):

1. bare: the same N connections opened at once against bare_broadcaster.py (no database, no
   auth): time until every one has its `200` status line — the HTTP/asyncio ceiling.
2. fresh (the baseline): the N clients connect at once without Last-Event-ID; time until every
   one has its `subscribed` frame, whose id is its cursor. Then all disconnect.
3. --events notes are written round-robin over the tickets (each body carries a marker), and
   the server's dispatcher is let past them.
4. resume: the N clients reconnect at once with Last-Event-ID; time until every client has
   every event of its ticket (exact sets of markers: none lost, none duplicated, none foreign;
   each client lingers --linger s after completing to catch duplicates).

Medians over --rounds are reported, with the ratio resume/fresh. Target (issue 5): 1,000 clients
all caught up in <= 10 s, zero lost.
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
    distinct_user_jobs,
    drop_database,
    free_port,
    freeze_code,
    logger,
    machine,
    migrate,
    open_stream,
    percentile,
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

log = logger("resume_storm")


# Clients ----------------------------------------------------------------------------------


async def bare_client(port: int, path: str, r: dict) -> None:
    _reader, writer, status = await open_stream(port, path)
    r["ok"] = b" 200 " in status
    r["t"] = time.time()
    writer.close()


async def fresh_client(port: int, job: dict, r: dict, deadline: float) -> None:
    reader, writer, status = await open_stream(port, job["path"], job["token"])
    try:
        if b" 200 " not in status:
            r["error"] = status.decode(errors="replace").strip()
            return
        last_id = None
        while time.time() < deadline:
            line = await asyncio.wait_for(reader.readline(), deadline - time.time())
            if not line:
                r["error"] = "closed before subscribed"
                return
            if line.startswith(b"id: "):
                last_id = line[4:].strip().decode()
            elif line.startswith(b"data: ") and b'"subscribed"' in line:
                r["t"], r["cursor"], r["ok"] = time.time(), last_id, True
                return
    except (TimeoutError, ConnectionError) as exc:
        r["error"] = type(exc).__name__
    finally:
        writer.close()


async def resume_client(
    port: int, job: dict, cursor: str, expected: set[str], r: dict, deadline: float, linger: float
) -> None:
    reader, writer, status = await open_stream(port, job["path"], job["token"], cursor)
    got: set[str] = set()
    r.update(received=0, duplicates=0, foreign=0, subscribed=None, t=None)
    try:
        if b" 200 " not in status:
            r["error"] = status.decode(errors="replace").strip()
            return
        stop = deadline
        if not expected:
            r["t"] = time.time()
        while time.time() < stop:
            try:
                line = await asyncio.wait_for(reader.readline(), stop - time.time())
            except TimeoutError:
                break
            if not line:
                r["error"] = "closed"
                break
            if not line.startswith(b"data: "):
                continue
            if b'"subscribed"' in line:
                r["subscribed"] = time.time()
            at = line.find(b"rs@")
            if at >= 0:
                marker = line[at : line.index(b'"', at)].decode()
                r["received"] += 1
                if marker in got:
                    r["duplicates"] += 1
                elif marker not in expected:
                    r["foreign"] += 1
                got.add(marker)
                if r["t"] is None and expected <= got:
                    r["t"] = time.time()
            if r["t"] is not None and r["subscribed"] is not None and stop == deadline:
                stop = min(deadline, time.time() + linger)  # linger to catch duplicates
    except ConnectionError as exc:
        r["error"] = type(exc).__name__
    finally:
        writer.close()
        r["lost"] = len(expected - got)
        r["ok"] = r["lost"] == 0 and "error" not in r


def worker(port_tc: int, port_bare: int, jobs: list[dict], commands, out) -> None:
    """A client process: runs one storm per command, over its shard of clients."""
    raise_nofile()
    cursors: list[str | None] = [None] * len(jobs)
    while True:
        cmd = commands.get()
        if cmd is None:
            return
        results: list[dict] = [{} for _ in jobs]
        start_at, deadline = cmd["start_at"], cmd["start_at"] + cmd["timeout"]

        async def storm(
            cmd=cmd, results=results, start_at=start_at, deadline=deadline, cursors=cursors
        ) -> None:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            if cmd["phase"] == "bare":
                coros = [
                    bare_client(port_bare, f"/stream/{i % cmd['topics']}", r)
                    for i, r in enumerate(results)
                ]
            elif cmd["phase"] == "fresh":
                coros = [
                    fresh_client(port_tc, j, r, deadline)
                    for j, r in zip(jobs, results, strict=True)
                ]
            else:
                coros = [
                    resume_client(
                        port_tc, j, c, set(cmd["expected"].get(j["ticket"], ())), r, deadline,
                        cmd["linger"],
                    )
                    for j, c, r in zip(jobs, cursors, results, strict=True)
                ]  # fmt: skip
            outcomes = await asyncio.gather(*coros, return_exceptions=True)
            for r, o in zip(results, outcomes, strict=True):
                if isinstance(o, BaseException):
                    r.setdefault("error", repr(o))
                    r["ok"] = False

        asyncio.run(storm())
        if cmd["phase"] == "fresh":
            cursors = [r.get("cursor") for r in results]
        out.put(results)


def run_phase(procs, commands, out, phase: str, timeout: float, **extra) -> dict:
    start_at = time.time() + 0.5
    for q in commands:
        q.put({"phase": phase, "start_at": start_at, "timeout": timeout} | extra)
    results = [r for _ in procs for r in out.get(timeout=timeout + 60)]
    times = sorted(r["t"] - start_at for r in results if r.get("ok") and r.get("t"))
    errors = [r.get("error") for r in results if not r.get("ok")]
    summary = {
        "clients": len(results),
        "ok": len(times),
        "all_s": times[-1] if len(times) == len(results) and times else None,
        "p50_s": percentile(times, 0.5),
        "p99_s": percentile(times, 0.99),
        "failed": len(errors),
        "errors": sorted({str(e) for e in errors})[:5],
    }
    if phase == "resume":
        subs = sorted(r["subscribed"] - start_at for r in results if r.get("subscribed"))
        summary |= {
            "lost": sum(r.get("lost", 0) for r in results),
            "duplicates": sum(r.get("duplicates", 0) for r in results),
            "foreign": sum(r.get("foreign", 0) for r in results),
            "received": sum(r.get("received", 0) for r in results),
            "all_subscribed_s": subs[-1] if len(subs) == len(results) else None,
        }
    return summary


def wait_metric(port: int, name: str, done, timeout: float = 60) -> float:
    deadline = time.time() + timeout
    while True:
        value = scrape_metrics(port).get(name, 0.0)
        if done(value) or time.time() > deadline:
            return value
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL)
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--events", type=int, default=100, help="written while away, in all")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--timeout", type=float, default=60.0, help="per storm")
    parser.add_argument("--linger", type=float, default=1.0)
    parser.add_argument("--profile", type=Path, help="py-spy the server's resume storms here")
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS / "resume_storm.json")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.tickets, args.events, args.rounds, args.processes = 100, 10, 20, 2, 2
    raise_nofile()

    at_start = freeze_code()  # servers run this copy: the checkout may change meanwhile
    url = create_database(args.database_url)
    servers = []
    rounds: list[dict] = []
    try:
        migrate(url)
        data = seed(url, args.tickets, max(0, args.clients - args.tickets))
        jobs = distinct_user_jobs(data, args.clients)
        for j in jobs:
            j["token"] = token(j["user"])
        port_tc, port_bare = free_port(), free_port()
        servers = [start_threadcast(url, port_tc), start_bare(port_bare)]
        wait_ready(port_tc, "/readyz")
        wait_ready(port_bare, "/healthz")
        server = psutil.Process(servers[0].pid)

        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        commands = [ctx.Queue() for _ in range(args.processes)]
        procs = [
            ctx.Process(target=worker, args=(port_tc, port_bare, jobs[i :: args.processes], q, out))
            for i, q in enumerate(commands)
        ]
        for p in procs:
            p.start()
        seq = 0
        with psycopg.connect(url, autocommit=True) as conn:
            for round_no in range(args.rounds):
                bare = run_phase(procs, commands, out, "bare", args.timeout, topics=args.tickets)
                fresh = run_phase(procs, commands, out, "fresh", args.timeout)
                wait_metric(port_tc, "threadcast_connections", lambda v: v == 0)
                # Write while everyone is away; let the dispatcher pass the writes.
                batch0 = scrape_metrics(port_tc).get("threadcast_batch_size_sum", 0.0)
                expected: dict[str, list[str]] = {}
                for n in range(args.events):
                    t = data["tickets"][n % len(data["tickets"])]
                    marker = f"rs@{round_no}@{seq}@"
                    seq += 1
                    conn.execute(
                        "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
                        " values (%s, %s, %s, %s)",
                        (t["thread"], t["id"], t["customer"], marker),
                    )
                    expected.setdefault(t["id"], []).append(marker)
                wait_metric(
                    port_tc, "threadcast_batch_size_sum", lambda v, b=batch0: v - b >= args.events
                )
                cpu0 = server.cpu_times()
                profile = args.profile if args.profile and round_no == 0 else None
                with Profiler(server.pid, profile):
                    resume = run_phase(
                        procs, commands, out, "resume", args.timeout,
                        expected=expected, linger=args.linger,
                    )  # fmt: skip
                cpu1 = server.cpu_times()
                resume["server_cpu_s"] = cpu1.user + cpu1.system - cpu0.user - cpu0.system
                wait_metric(port_tc, "threadcast_connections", lambda v: v == 0)
                r = {
                    "bare": bare,
                    "fresh": fresh,
                    "resume": resume,
                    "server_rss_mib": server.memory_info().rss / 2**20,
                }
                rounds.append(r)

                def s(v):
                    return f"{v:.2f}s" if v is not None else "INCOMPLETE"

                log(
                    f"round {round_no + 1}/{args.rounds}: bare {s(bare['all_s'])},"
                    f" fresh {s(fresh['all_s'])}, resume {s(resume['all_s'])}"
                    f" (subscribed {s(resume['all_subscribed_s'])}); lost {resume['lost']},"
                    f" dup {resume['duplicates']}, foreign {resume['foreign']},"
                    f" failed {resume['failed'] + fresh['failed']} {resume['errors']}"
                )
        for q in commands:
            q.put(None)
        for p in procs:
            p.join(30)
        metrics = scrape_metrics(port_tc)
        info = machine(url) | {"measured": at_start}
    finally:
        stop_servers(servers)
        drop_database(args.database_url, url)

    def med(phase: str, key: str) -> float | None:
        values = [r[phase][key] for r in rounds if r[phase][key] is not None]
        return statistics.median(values) if len(values) == len(rounds) else None

    ratios = [
        r["resume"]["all_s"] / r["fresh"]["all_s"]
        for r in rounds
        if r["resume"]["all_s"] and r["fresh"]["all_s"]
    ]
    medians = {
        phase: {k: med(phase, k) for k in ("all_s", "p50_s", "p99_s")}
        for phase in ("bare", "fresh", "resume")
    }
    medians["resume"]["all_subscribed_s"] = med("resume", "all_subscribed_s")
    medians["resume"]["server_cpu_s"] = med("resume", "server_cpu_s")
    totals = {
        k: sum(r["resume"][k] for r in rounds) for k in ("lost", "duplicates", "foreign", "failed")
    }
    totals["fresh_failed"] = sum(r["fresh"]["failed"] for r in rounds)
    result = {
        "benchmark": "resume_storm",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": info,
        "parameters": recorded_parameters(args),
        "rounds": rounds,
        "medians": medians,
        "ratio_resume_to_fresh": statistics.median(ratios) if ratios else None,
        "totals": totals,
        "target": {"all_caught_up_s": 10.0, "lost": 0},
        "server_metrics_resets": {k: v for k, v in metrics.items() if "resets" in k},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))

    def fmt(v: float | None) -> str:
        return f"{v:8.2f}" if v is not None else f"{'-':>8}"

    print(
        f"{args.clients} clients (distinct users) over {args.tickets} tickets, {args.events}"
        f" events while away; medians of {args.rounds} rounds, seconds from the storm's start"
    )
    print(f"{'storm':28}{'all':>8}{'p50':>8}{'p99':>8}")
    for phase, label in (
        ("bare", "bare broadcaster (200 OK)"),
        ("fresh", "fresh connect (subscribed)"),
        ("resume", "resume (every event)"),
    ):
        m = medians[phase]
        print(f"{label:28}{fmt(m['all_s'])}{fmt(m['p50_s'])}{fmt(m['p99_s'])}")
    ratio = result["ratio_resume_to_fresh"]
    print(f"ratio resume/fresh (all caught up): {ratio:.2f}" if ratio else "ratio: n/a")
    print(
        f"totals over rounds: lost {totals['lost']}, duplicates {totals['duplicates']},"
        f" foreign {totals['foreign']}, failed connections {totals['failed']}"
        f" (fresh {totals['fresh_failed']})"
    )
    print_profile(args.profile, "profile of the server during round 1's resume storm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
