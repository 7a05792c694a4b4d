"""Resume storm: N SSE clients (each a distinct user who may see its ticket) reconnect at once
with Last-Event-ID after events were written while they were away.

    .venv/bin/python benchmarks/resume_storm.py                     # the three scenarios below
    .venv/bin/python benchmarks/resume_storm.py --scenarios 1000x100,1x100000 --rounds 3
    .venv/bin/python benchmarks/resume_storm.py --quick

A scenario CLIENTSxMISSED is CLIENTS clients over CLIENTS/10 tickets (at least 1), each client
missing MISSED events of its ticket. Defaults: 1000x100, 100x10000 and 1x100000: many clients a
little behind, some far behind (ten times the 1,000-frame queue), one very far behind. Each
round of a scenario, against one threadcast server (clients in --processes processes, raw
asyncio sockets, all over loopback):

1. bare: the same N connections opened at once against bare_broadcaster.py (no database, no
   auth): time until every one has its `200` status line — the HTTP/asyncio ceiling.
2. fresh (the baseline): the N clients connect at once without Last-Event-ID; time until every
   one has its `subscribed` frame, whose id is its cursor. Then all disconnect.
3. MISSED notes per ticket are written (each body carries a marker), and the server's
   dispatcher is let past them.
4. resume: the N clients reconnect at once with Last-Event-ID; time until every client has
   every event of its ticket (exact sets of markers, in order: none lost, none duplicated, none
   foreign, none out of order; each client lingers --linger s after completing to catch
   duplicates). The server's RSS is sampled throughout: growth = peak - RSS before the storm.

Medians over --rounds are reported per scenario, with the ratio resume/fresh and the replay rate
(events a client received per second of the storm). Targets (issues 5 and 15): 0 lost, 0
duplicated; 1,000 clients caught up in <= 10 s; one client replays 100,000 events at >= 20,000
events/s; the server's RSS grows by <= 64 MiB during a storm.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import sys
import threading
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
    last_index = -1
    r.update(received=0, duplicates=0, foreign=0, out_of_order=0, subscribed=None, t=None)
    try:
        if b" 200 " not in status:
            r["error"] = status.decode(errors="replace").strip()
            return
        if not expected:
            r["t"] = time.time()
        # Reads whatever has arrived (up to 64 KiB) and splits it into lines: a wait_for() per
        # line costs about 11 us in isolation, four lines an event (the server spends ~8 us).
        loop = asyncio.get_running_loop()
        buffer = b""
        lingering = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(loop.time() + deadline - time.time()) as timer:
                while True:
                    chunk = await reader.read(1 << 16)
                    if not chunk:
                        r["error"] = "closed"
                        break
                    lines = (buffer + chunk).split(b"\n")
                    buffer = lines.pop()
                    for line in lines:
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
                            index = int(marker.split("@")[3])  # rs@round@ticket@index@
                            r["out_of_order"] += index <= last_index  # in order per ticket
                            last_index = index
                            if r["t"] is None and expected <= got:
                                r["t"] = time.time()
                    if r["t"] is not None and r["subscribed"] is not None and not lingering:
                        lingering = True  # linger to catch duplicates
                        timer.reschedule(min(timer.when(), loop.time() + linger))
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

        cpu = time.process_time()
        asyncio.run(storm())
        cpu = time.process_time() - cpu
        if cmd["phase"] == "fresh":
            cursors = [r.get("cursor") for r in results]
        out.put((results, cpu))


def run_phase(procs, commands, out, phase: str, timeout: float, **extra) -> dict:
    start_at = time.time() + 0.5
    for q in commands:
        q.put({"phase": phase, "start_at": start_at, "timeout": timeout} | extra)
    shards = [out.get(timeout=timeout + 60) for _ in procs]
    results = [r for shard, _cpu in shards for r in shard]
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
        # CPU the client processes spent on this phase (lingering included).
        "client_cpu_s": sum(cpu for _, cpu in shards),
    }
    if phase == "resume":
        subs = sorted(r["subscribed"] - start_at for r in results if r.get("subscribed"))
        summary |= {
            "lost": sum(r.get("lost", 0) for r in results),
            "duplicates": sum(r.get("duplicates", 0) for r in results),
            "foreign": sum(r.get("foreign", 0) for r in results),
            "out_of_order": sum(r.get("out_of_order", 0) for r in results),
            "received": sum(r.get("received", 0) for r in results),
            "all_subscribed_s": subs[-1] if len(subs) == len(results) else None,
        }
    return summary


def database_cpu(conn) -> dict[int, float]:
    """CPU seconds so far of each backend of this benchmark's database (the server's pool;
    PostgreSQL on this machine), by pid: what the database spent on a storm, without other
    databases' work."""
    pids = conn.execute(
        "select pid from pg_stat_activity where datname = current_database()"
        " and pid <> pg_backend_pid()"
    ).fetchall()
    spent = {}
    for (pid,) in pids:
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            spent[pid] = t.user + t.system
    return spent


def wait_metric(port: int, name: str, done, timeout: float = 60) -> float:
    deadline = time.time() + timeout
    while True:
        value = scrape_metrics(port).get(name, 0.0)
        if done(value) or time.time() > deadline:
            return value
        time.sleep(0.1)


class RSSSampler:
    """The server's peak RSS while the block runs, sampled every 20 ms from another thread."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.before = self.peak = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> RSSSampler:
        self.before = self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    def growth_mib(self) -> float:
        return (self.peak - self.before) / 2**20


def parse_scenarios(text: str) -> list[tuple[int, int]]:
    """'1000x100,1x100000' -> [(clients, missed per client), ...]."""
    out = []
    for item in text.split(","):
        clients, _, missed = item.strip().partition("x")
        out.append((int(clients), int(missed)))
    return out


def write_missed(conn, tickets: list[dict], per_ticket: int, round_no: int) -> dict:
    """`per_ticket` notes on each ticket, 1,000 rows a statement; returns the markers."""
    expected: dict[str, list[str]] = {}
    for t_no, t in enumerate(tickets):
        prefix = f"rs@{round_no}@{t_no}@"
        for first in range(1, per_ticket + 1, 1000):
            last = min(per_ticket, first + 999)
            conn.execute(
                "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
                " select %s, %s, %s, %s || i || '@' from generate_series(%s::int, %s::int) as i",
                (t["thread"], t["id"], t["customer"], prefix, first, last),
            )
        expected[t["id"]] = [f"{prefix}{i}@" for i in range(1, per_ticket + 1)]
    return expected


def run_scenario(args, url: str, data: dict, clients: int, missed: int) -> dict:
    """Every round of one scenario against a fresh server; its medians and totals."""
    tickets = data["tickets"][: max(1, clients // 10)]
    jobs = distinct_user_jobs({"tickets": tickets, "agents": data["agents"]}, clients)
    for j in jobs:
        j["token"] = token(j["user"])
    port_tc, port_bare = free_port(), free_port()
    servers = [start_threadcast(url, port_tc), start_bare(port_bare)]
    rounds: list[dict] = []
    name = f"{clients}x{missed}"
    try:
        wait_ready(port_tc, "/readyz")
        wait_ready(port_bare, "/healthz")
        server = psutil.Process(servers[0].pid)
        processes = max(1, min(args.processes, clients))
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        commands = [ctx.Queue() for _ in range(processes)]
        procs = [
            ctx.Process(target=worker, args=(port_tc, port_bare, jobs[i::processes], q, out))
            for i, q in enumerate(commands)
        ]
        for p in procs:
            p.start()
        events = missed * len(tickets)
        with psycopg.connect(url, autocommit=True) as conn:
            for round_no in range(args.rounds):
                bare = run_phase(procs, commands, out, "bare", args.timeout, topics=len(tickets))
                fresh = run_phase(procs, commands, out, "fresh", args.timeout)
                wait_metric(port_tc, "threadcast_connections", lambda v: v == 0)
                # Write while everyone is away; let the dispatcher pass the writes.
                batch0 = scrape_metrics(port_tc).get("threadcast_batch_size_sum", 0.0)
                expected = write_missed(conn, tickets, missed, round_no)
                wait_metric(
                    port_tc, "threadcast_batch_size_sum", lambda v, b=batch0: v - b >= events,
                    timeout=300,
                )  # fmt: skip
                cpu0 = server.cpu_times()
                db0 = database_cpu(conn)
                profile = args.profile if args.profile and round_no == 0 else None
                with Profiler(server.pid, profile), RSSSampler(server) as rss:
                    resume = run_phase(
                        procs, commands, out, "resume", args.timeout,
                        expected=expected, linger=args.linger,
                    )  # fmt: skip
                cpu1 = server.cpu_times()
                resume["server_cpu_s"] = cpu1.user + cpu1.system - cpu0.user - cpu0.system
                resume["database_cpu_s"] = sum(
                    cpu - db0[pid] for pid, cpu in database_cpu(conn).items() if pid in db0
                )
                resume["events_per_s"] = (
                    resume["received"] / resume["all_s"] / clients if resume["all_s"] else None
                )
                wait_metric(port_tc, "threadcast_connections", lambda v: v == 0)
                rounds.append(
                    {
                        "scenario": name,
                        "bare": bare,
                        "fresh": fresh,
                        "resume": resume,
                        "server_rss_mib": server.memory_info().rss / 2**20,
                        "server_rss_before_mib": rss.before / 2**20,
                        "server_rss_peak_mib": rss.peak / 2**20,
                        "server_rss_growth_mib": rss.growth_mib(),
                    }
                )
                log_round(name, round_no, args.rounds, rounds[-1])
        for q in commands:
            q.put(None)
        for p in procs:
            p.join(30)
        resets = {k: v for k, v in scrape_metrics(port_tc).items() if "resets" in k}
    finally:
        stop_servers(servers)
    return summarize(name, clients, len(tickets), missed, rounds) | {"server_resets": resets}


def log_round(name: str, round_no: int, rounds: int, r: dict) -> None:
    def s(v):
        return f"{v:.2f}s" if v is not None else "INCOMPLETE"

    bare, fresh, resume = r["bare"], r["fresh"], r["resume"]
    rate = resume["events_per_s"]
    log(
        f"{name} round {round_no + 1}/{rounds}: bare {s(bare['all_s'])},"
        f" fresh {s(fresh['all_s'])}, resume {s(resume['all_s'])}"
        f" (subscribed {s(resume['all_subscribed_s'])}, {rate or 0:,.0f} events/s a client);"
        f" lost {resume['lost']}, dup {resume['duplicates']}, foreign {resume['foreign']},"
        f" out of order {resume['out_of_order']}, failed {resume['failed'] + fresh['failed']}"
        f" {resume['errors']}; RSS +{r['server_rss_growth_mib']:.1f} MiB; CPU s: server"
        f" {resume['server_cpu_s']:.2f}, database {resume['database_cpu_s']:.2f},"
        f" clients {resume['client_cpu_s']:.2f}"
    )


def summarize(name: str, clients: int, tickets: int, missed: int, rounds: list[dict]) -> dict:
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
    for key in (
        "all_subscribed_s",
        "server_cpu_s",
        "database_cpu_s",
        "client_cpu_s",
        "events_per_s",
    ):
        medians["resume"][key] = med("resume", key)
    totals = {
        k: sum(r["resume"][k] for r in rounds)
        for k in ("lost", "duplicates", "foreign", "out_of_order", "failed")
    }
    totals["fresh_failed"] = sum(r["fresh"]["failed"] for r in rounds)
    return {
        "scenario": name,
        "clients": clients,
        "tickets": tickets,
        "missed_per_client": missed,
        "medians": medians,
        "ratio_resume_to_fresh": statistics.median(ratios) if ratios else None,
        "server_rss_growth_mib": {
            "median": statistics.median(r["server_rss_growth_mib"] for r in rounds),
            "max": max(r["server_rss_growth_mib"] for r in rounds),
        },
        "totals": totals,
        "rounds_detail": rounds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL)
    )
    parser.add_argument(
        "--scenarios",
        default="1000x100,100x10000,1x100000",
        help="CLIENTSxMISSED,... (MISSED: events each client missed)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--timeout", type=float, default=120.0, help="per storm")
    parser.add_argument("--linger", type=float, default=1.0)
    parser.add_argument("--profile", type=Path, help="py-spy the server's resume storms here")
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--output", type=Path, default=RESULTS / "resume_storm.json")
    args = parser.parse_args()
    if args.quick:
        args.scenarios, args.rounds, args.processes = "100x2", 2, 2
    scenarios = parse_scenarios(args.scenarios)
    # What tests/test_benchmarks_quick.py reads: each round's events in all.
    args.events = scenarios[0][1] * max(1, scenarios[0][0] // 10) if len(scenarios) == 1 else None
    raise_nofile()

    at_start = freeze_code()  # servers run this copy: the checkout may change meanwhile
    url = create_database(args.database_url)
    results = []
    try:
        migrate(url)
        most = max(c for c, _ in scenarios)
        tickets = max(1, most // 10)
        data = seed(url, tickets, max(0, most - tickets))
        for clients, missed in scenarios:
            results.append(run_scenario(args, url, data, clients, missed))
        info = machine(url) | {"measured": at_start}
    finally:
        drop_database(args.database_url, url)
    write_result(args, info, results)
    print_table(results)
    print_profile(args.profile, "profile of the server during round 1's resume storms")
    return 0


def write_result(args, info: dict, results: list[dict]) -> None:
    rounds = [r for s in results for r in s.pop("rounds_detail")]
    totals = {
        k: sum(s["totals"][k] for s in results)
        for k in ("lost", "duplicates", "foreign", "failed", "fresh_failed")
    }
    result = {
        "benchmark": "resume_storm",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": info,
        "parameters": recorded_parameters(args),
        "scenarios": {s["scenario"]: s for s in results},
        "rounds": rounds,
        "totals": totals,
        "out_of_order": sum(s["totals"]["out_of_order"] for s in results),
        "target": {
            "lost": 0,
            "duplicates": 0,
            "all_caught_up_s_1000_clients": 10.0,
            "events_per_s_one_client_100000": 20_000,
            "server_rss_growth_mib": 64,
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))


def print_table(results: list[dict]) -> None:
    def fmt(v: float | None, width: int = 8) -> str:
        return f"{v:{width}.2f}" if v is not None else f"{'-':>{width}}"

    print("medians, seconds from the storm's start; events/s: what one client received a second")
    print(
        f"{'scenario':14}{'bare':>8}{'fresh':>8}{'resume':>8}{'p50':>8}{'ratio':>8}"
        f"{'events/s':>10}{'RSS+MiB':>9}  lost/dup/foreign/order/failed"
    )
    for s in results:
        m = s["medians"]
        t = s["totals"]
        rate = m["resume"]["events_per_s"]
        print(
            f"{s['scenario']:14}{fmt(m['bare']['all_s'])}{fmt(m['fresh']['all_s'])}"
            f"{fmt(m['resume']['all_s'])}{fmt(m['resume']['p50_s'])}"
            f"{fmt(s['ratio_resume_to_fresh'])}{(rate or 0):10,.0f}"
            f"{s['server_rss_growth_mib']['max']:9.1f}  {t['lost']}/{t['duplicates']}/"
            f"{t['foreign']}/{t['out_of_order']}/{t['failed'] + t['fresh_failed']}"
        )


if __name__ == "__main__":
    sys.exit(main())
