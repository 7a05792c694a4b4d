"""The soak: writers, many SSE clients churning (connect, drop, resume), for minutes; then
nothing lost or duplicated for any client, no 5xx, and server memory within a stated bound.

The full run (1,000 clients, 10 minutes) is outside the default suite:

    THREADCAST_SOAK_SECONDS=600 .venv/bin/pytest -m slow tests/test_soak.py -s

The default suite runs a 15-second version with 60 clients so the machinery never rots.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest

from tests.processes import ServerProcess

MiB = 1 << 20
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SoakShape:
    clients: int
    tickets: int
    seconds: float
    writes_per_second: float
    mean_lifetime: float  # seconds a client keeps a connection before dropping it
    peak_rss_bound: int  # bytes
    growth_bound: int  # bytes the RSS may grow from the end of warm-up to the end


QUICK = SoakShape(60, 10, 15, 20, 3, 256 * MiB, 48 * MiB)
FULL = SoakShape(
    1000, 100, float(os.environ.get("THREADCAST_SOAK_SECONDS", 600)), 50, 60, 512 * MiB, 64 * MiB
)


def seed(database_url: str, shape: SoakShape) -> tuple[list[dict], list[uuid.UUID]]:
    """One org with agents; per ticket its own customer and one thread."""
    org = uuid.uuid4()
    agents = [uuid.uuid4() for _ in range(max(1, shape.clients // 10))]
    tickets = [
        {"id": uuid.uuid4(), "customer": uuid.uuid4(), "thread": uuid.uuid4()}
        for _ in range(shape.tickets)
    ]
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute("insert into organizations (id, name) values (%s, 'Soak')", (org,))
        cur = conn.cursor()
        cur.executemany(
            "insert into users (id, display_name) values (%s, 'soak')",
            [(u,) for u in agents + [t["customer"] for t in tickets]],
        )
        cur.executemany(
            "insert into org_members (org_id, user_id) values (%s, %s)", [(org, a) for a in agents]
        )
        cur.executemany(
            "insert into tickets (id, org_id, requester_id, subject) values (%s, %s, %s, 's')",
            [(t["id"], org, t["customer"]) for t in tickets],
        )
        cur.executemany(
            "insert into ticket_threads (id, ticket_id, subject, created_by)"
            " values (%s, %s, 's', %s)",
            [(t["thread"], t["id"], t["customer"]) for t in tickets],
        )
    return tickets, agents


class RateWriter:
    """One connection inserting notes at a fixed rate, round-robin over tickets; every fifth
    note is internal (agents see it, customers must not)."""

    def __init__(self, database_url: str, tickets: list[dict], rate: float) -> None:
        self.database_url, self.tickets, self.rate = database_url, tickets, rate
        self.acknowledged: list[tuple[str, str, bool]] = []  # marker, ticket, internal
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            started, n = time.monotonic(), 0
            while not self._stop.is_set():
                time.sleep(max(0.0, started + n / self.rate - time.monotonic()))
                ticket = self.tickets[n % len(self.tickets)]
                marker, internal = f"soak-{n:07d}", n % 5 == 4
                try:
                    conn.execute(
                        "insert into ticket_notes (thread_id, ticket_id, author_id, body, internal)"
                        " values (%s, %s, %s, %s, %s)",
                        (ticket["thread"], ticket["id"], ticket["customer"], marker, internal),
                    )
                    self.acknowledged.append((marker, str(ticket["id"]), internal))
                except psycopg.Error:
                    self.errors += 1
                n += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def run_soak(database_url: str, shape: SoakShape, tmp_path: Path) -> dict:
    tickets, agents = seed(database_url, shape)
    server = ServerProcess(
        database_url,
        connect_attempts_per_ip_per_minute=1_000_000,  # every client shares one loopback IP
        max_connections_per_user=100,
    ).start()
    try:
        jobs = []
        for i in range(shape.clients):
            ticket = tickets[i % len(tickets)]
            role = "customer" if i < len(tickets) else "agent"
            user = ticket["customer"] if role == "customer" else agents[i % len(agents)]
            jobs.append(
                {
                    "ticket": str(ticket["id"]),
                    "role": role,
                    "token": server.token(user, ttl_seconds=int(shape.seconds) + 600),
                    "path": f"/v1/channels/ticket-threads:{ticket['id']}/stream",
                }
            )
        settle = min(10.0, shape.seconds / 3)  # churn stops; everyone catches up
        start = time.time() + 2 + shape.clients / 100  # connect, then churn
        spec = {
            "port": server.port,
            "jobs": jobs,
            "churn_until": start + shape.seconds,
            "end_at": start + shape.seconds + settle,
            "mean_lifetime": shape.mean_lifetime,
        }
        jobs_path, out_path = tmp_path / "jobs.json", tmp_path / "out.json"
        jobs_path.write_text(json.dumps(spec))
        clients = subprocess.Popen(
            [sys.executable, "-m", "tests.soak_clients", str(jobs_path), str(out_path)], cwd=ROOT
        )
        ready = Path(f"{out_path}.ready")
        deadline = time.monotonic() + 60 + shape.clients / 20
        while not ready.exists():
            assert clients.poll() is None, "soak clients exited early"
            assert time.monotonic() < deadline, "soak clients never all subscribed"
            time.sleep(0.1)
        writer = RateWriter(database_url, tickets, shape.writes_per_second)
        writer.start()
        process = psutil.Process(server.process.pid)  # type: ignore[union-attr]
        samples: list[tuple[float, int]] = []
        progress_at = time.monotonic()
        while time.time() < start + shape.seconds:
            samples.append((time.time() - start, process.memory_info().rss))
            if time.monotonic() - progress_at > 60:
                progress_at = time.monotonic()
                print(f"soak: {samples[-1][0]:.0f} s, {len(writer.acknowledged)} written,"
                      f" server RSS {samples[-1][1] / MiB:.0f} MiB", flush=True)  # fmt: skip
            time.sleep(1)
        writer.stop()
        assert clients.wait(timeout=settle + 120) == 0, "soak clients failed"
        reports = json.loads(out_path.read_text())
        log = server.log()
    finally:
        server.stop()
    return {"reports": reports, "written": writer.acknowledged, "samples": samples, "log": log,
            "write_errors": writer.errors}  # fmt: skip


def verify(result: dict, shape: SoakShape) -> dict:
    by_ticket: dict[str, list[tuple[str, bool]]] = {}
    for marker, ticket, internal in result["written"]:
        by_ticket.setdefault(ticket, []).append((marker, internal))
    lost = duplicated = out_of_order = leaked = deliveries = 0
    statuses: Counter[str] = Counter()
    connects = resets = 0
    for report in result["reports"]:
        expected = [
            m for m, internal in by_ticket.get(report["ticket"], [])
            if report["role"] == "agent" or not internal
        ]  # fmt: skip
        internal_markers = {m for m, i in by_ticket.get(report["ticket"], []) if i}
        received = report["received"]
        counts = Counter(received)
        deliveries += len(received)
        lost += len(set(expected) - set(received))
        duplicated += sum(n - 1 for n in counts.values() if n > 1)
        out_of_order += sum(1 for a, b in itertools.pairwise(received) if b <= a)
        if report["role"] == "customer":
            leaked += len(internal_markers & set(received))
        statuses.update(report["statuses"])
        connects += report["connects"]
        resets += report["resets"]
    rss = [r for _, r in result["samples"]]
    warm = [r for t, r in result["samples"] if t <= shape.seconds * 0.2] or rss[:1]
    return {
        "clients": len(result["reports"]),
        "written": len(result["written"]),
        "deliveries": deliveries,
        "lost": lost,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
        "leaked": leaked,
        "connects": connects,
        "resets": resets,
        "statuses": dict(statuses),
        "server_5xx": sum(n for code, n in statuses.items() if code.startswith("5")),
        "rss_after_warmup_mib": round(max(warm) / MiB, 1),
        "rss_end_mib": round(rss[-1] / MiB, 1),
        "rss_peak_mib": round(max(rss) / MiB, 1),
        "write_errors": result["write_errors"],
    }


def check_soak(database_url: str, shape: SoakShape, tmp_path: Path) -> dict:
    result = run_soak(database_url, shape, tmp_path)
    summary = verify(result, shape)
    print("soak:", json.dumps(summary), flush=True)
    Path("test-artifacts").mkdir(exist_ok=True)
    Path(f"test-artifacts/soak-{shape.clients}.json").write_text(json.dumps(summary, indent=1))
    assert summary["written"] >= shape.seconds * shape.writes_per_second * 0.8
    assert summary["connects"] > summary["clients"] * 2, "the clients did not churn"
    for key in ("lost", "duplicated", "out_of_order", "leaked", "server_5xx", "write_errors"):
        assert summary[key] == 0, (key, summary)
    assert summary["rss_peak_mib"] * MiB <= shape.peak_rss_bound, summary
    growth = (summary["rss_end_mib"] - summary["rss_after_warmup_mib"]) * MiB
    assert growth <= shape.growth_bound, summary
    assert "Traceback" not in result["log"], result["log"]
    return summary


def test_soak_quick(database_url: str, tmp_path: Path) -> None:
    check_soak(database_url, QUICK, tmp_path)


@pytest.mark.slow
def test_soak(database_url: str, tmp_path: Path) -> None:
    check_soak(database_url, FULL, tmp_path)
