"""Snapshot -> live with no gap: a REST read raced against concurrent writers, then a stream
started from the read's `position` (Last-Event-ID), merged the way the client merges (by
version, never rolling back), always ends at what the database holds: no change is in neither.

Each round writers insert and edit notes and rename the thread (threads) or insert and edit
tickets (inbox) while the read runs; the stream opens while they still write."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from tests.servers import RunningServer
from tests.sse import StreamReader, stream_url
from tests.support import World, head

ROUNDS = 50
WRITERS = 3
OPS_PER_WRITER = 8

State = dict[tuple[str, str], tuple[int, str]]  # (table, id) -> (version, content), as held


@dataclass
class Round:
    read: State
    position: str
    stream: StreamReader
    final: Callable[[], State]


def merged(read: State, changes: list[dict[str, Any]], contents: dict[str, str]) -> State:
    """The client's rule (clients/js src/react-query/cache.ts): a row's change applies only if
    its version is newer than the one held; DELETE removes. `contents`: table -> the column
    compared besides the version."""
    state = dict(read)
    for change in changes:
        table = change["table"]
        if change["eventType"] == "DELETE":
            state.pop((table, change["old"]["id"]), None)
            continue
        row = change["new"]
        held = state.get((table, row["id"]))
        if held is None or row["version"] > held[0]:
            state[(table, row["id"])] = (row["version"], row[contents[table]])
    return state


def overlap(read: State, changes: list[dict[str, Any]]) -> dict[str, int]:
    """Stream changes already in the read (dropped by version) and ones it lacked."""
    stats = {"already_read": 0, "new_to_read": 0}
    for change in changes:
        if change["eventType"] == "DELETE":
            continue
        held = read.get((change["table"], change["new"]["id"]))
        key = "already_read" if held and held[0] >= change["new"]["version"] else "new_to_read"
        stats[key] += 1
    return stats


def write_concurrently(database_url: str, jobs: list[Callable[[psycopg.Connection], None]]):
    """Run each job in a thread on its own autocommit connection; return once all are
    connected (so the caller's read lands inside the burst), with a join()."""
    errors: list[BaseException] = []
    connected = threading.Barrier(len(jobs) + 1, timeout=30)

    def run(job: Callable[[psycopg.Connection], None]) -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                connected.wait()
                job(conn)
        except BaseException as exc:  # reported by join()
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    connected.wait()

    def join() -> None:
        for t in threads:
            t.join(30)
        assert not errors, errors

    return join


def pause(rng: random.Random) -> None:
    time.sleep(rng.uniform(0, 0.01))


def converge(run: Round, contents: dict[str, str], timeout: float = 15) -> tuple[State, State]:
    """Wait until read + stream equals the database, or the timeout; (merged, database)."""
    final = run.final()
    deadline = time.monotonic() + timeout
    while True:
        state = merged(run.read, run.stream.changes(), contents)
        if state == final or time.monotonic() > deadline:
            return state, final
        time.sleep(0.02)


def report(state: State, final: State) -> str:
    missing = {k: v for k, v in final.items() if state.get(k) != v}
    extra = {k: v for k, v in state.items() if k not in final}
    return f"behind or missing: {missing}; not in the database: {extra}"


# Threads: GET /v1/tickets/{id}/threads + ticket-threads:<id> -----------------------------


def thread_round(
    server: RunningServer,
    http: httpx.Client,
    database_url: str,
    conn: psycopg.Connection,
    world: World,
    n: int,
) -> Round:
    ticket = uuid.uuid4()
    thread = uuid.uuid4()
    conn.execute(
        "insert into tickets (id, org_id, requester_id, subject) values (%s, %s, %s, %s)",
        (ticket, world.org_a, world.customer, f"round {n}"),
    )
    conn.execute(
        "insert into ticket_threads (id, ticket_id, subject, created_by) values (%s, %s, 's0', %s)",
        (thread, ticket, world.agent),
    )
    first_note = conn.execute(
        "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
        " values (%s, %s, %s, 'seed') returning id",
        (thread, ticket, world.agent),
    ).fetchone()[0]

    def writer(k: int) -> Callable[[psycopg.Connection], None]:
        rng = random.Random(n * 100 + k)

        def job(c: psycopg.Connection) -> None:
            mine: list[uuid.UUID] = [first_note]
            for i in range(OPS_PER_WRITER):
                pause(rng)
                if k == 0 and i % 2:
                    c.execute(
                        "update ticket_threads set subject = %s where id = %s",
                        (f"s{k}.{i}", thread),
                    )
                elif rng.random() < 0.5:
                    row = c.execute(
                        "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
                        " values (%s, %s, %s, %s) returning id",
                        (thread, ticket, world.agent, f"w{k}.{i}"),
                    ).fetchone()
                    mine.append(row[0])
                else:
                    c.execute(
                        "update ticket_notes set body = %s where id = %s",
                        (f"w{k}.{i} edit", rng.choice(mine)),
                    )

        return job

    join = write_concurrently(database_url, [writer(k) for k in range(WRITERS)])
    time.sleep(random.Random(n).uniform(0, 0.03))  # the read lands anywhere in the burst
    body = http.get(f"/v1/tickets/{ticket}/threads")
    assert body.status_code == 200, body.text
    data = body.json()
    stream = StreamReader(
        stream_url(server.url, f"ticket-threads:{ticket}"),
        server.token(world.agent),
        headers={"Last-Event-ID": data["position"]},
    ).start()
    join()
    read: State = {}
    for t in data["threads"]:
        read[("ticket_threads", t["id"])] = (t["version"], t["subject"])
        for note in t["notes"]:
            read[("ticket_notes", note["id"])] = (note["version"], note["body"])

    def final() -> State:
        rows = conn.execute(
            "select 'ticket_notes', id::text, version, body from ticket_notes"
            "  where ticket_id = %s"
            " union all select 'ticket_threads', id::text, version, subject from ticket_threads"
            "  where id = %s",
            (ticket, thread),
        ).fetchall()
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}

    return Round(read, data["position"], stream, final)


def agent_client(server: RunningServer, world: World) -> httpx.Client:
    """One keep-alive client: a new one per request costs more than a round's writes."""
    headers = {"Authorization": f"Bearer {server.token(world.agent)}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


THREAD_CONTENTS = {"ticket_notes": "body", "ticket_threads": "subject"}


def test_a_thread_read_plus_its_stream_never_misses_a_change(
    live_server: RunningServer, world: World, conn: psycopg.Connection, database_url: str
) -> None:
    totals = {"already_read": 0, "new_to_read": 0}
    http = agent_client(live_server, world)
    for n in range(ROUNDS):
        run = thread_round(live_server, http, database_url, conn, world, n)
        try:
            state, final = converge(run, THREAD_CONTENTS)
            assert state == final, f"round {n} from {run.position}: {report(state, final)}"
            for k, v in overlap(run.read, run.stream.changes()).items():
                totals[k] += v
        finally:
            run.stream.close()
    # The race happened: some changes reached a round's read and its stream, some only the
    # stream (written after the read).
    assert totals["already_read"] > 0 and totals["new_to_read"] > 0, totals


# Inbox: GET /v1/tickets + org-tickets:<org> -------------------------------------------------


def test_the_inbox_read_plus_its_stream_never_misses_a_change(
    live_server: RunningServer, world: World, conn: psycopg.Connection, database_url: str
) -> None:
    totals = {"already_read": 0, "new_to_read": 0}
    org = uuid.uuid4()
    conn.execute("insert into organizations (id, name) values (%s, 'Race')", (org,))
    conn.execute("insert into org_members (org_id, user_id) values (%s, %s)", (org, world.agent))
    http = agent_client(live_server, world)

    def writer(n: int, k: int) -> Callable[[psycopg.Connection], None]:
        rng = random.Random(n * 100 + k)

        def job(c: psycopg.Connection) -> None:
            mine: list[uuid.UUID] = []
            for i in range(OPS_PER_WRITER):
                pause(rng)
                if not mine or rng.random() < 0.5:
                    row = c.execute(
                        "insert into tickets (org_id, requester_id, subject)"
                        " values (%s, %s, %s) returning id",
                        (org, world.customer, f"r{n}.w{k}.{i}"),
                    ).fetchone()
                    mine.append(row[0])
                else:
                    c.execute(
                        "update tickets set subject = %s where id = %s",
                        (f"r{n}.w{k}.{i} edit", rng.choice(mine)),
                    )

        return job

    def final() -> State:
        rows = conn.execute(
            "select id::text, version, subject from tickets where org_id = %s", (org,)
        ).fetchall()
        return {("tickets", r[0]): (r[1], r[2]) for r in rows}

    for n in range(ROUNDS):
        join = write_concurrently(database_url, [writer(n, k) for k in range(WRITERS)])
        time.sleep(random.Random(n).uniform(0, 0.03))
        body = http.get("/v1/tickets?limit=500")
        assert body.status_code == 200, body.text
        data = body.json()
        stream = StreamReader(
            stream_url(live_server.url, f"org-tickets:{org}"),
            live_server.token(world.agent),
            headers={"Last-Event-ID": data["position"]},
        ).start()
        try:
            join()
            read: State = {
                ("tickets", t["id"]): (t["version"], t["subject"])
                for t in data["tickets"]
                if t["org_id"] == str(org)
            }
            run = Round(read, data["position"], stream, final)
            state, expected = converge(run, {"tickets": "subject"})
            assert state == expected, f"round {n} from {run.position}: {report(state, expected)}"
            for k, v in overlap(read, stream.changes()).items():
                totals[k] += v
        finally:
            stream.close()
        if len(final()) > 400:  # stay under the list's limit: start the next round afresh
            conn.execute("delete from tickets where org_id = %s", (org,))
    assert totals["already_read"] > 0 and totals["new_to_read"] > 0, totals


def test_the_checker_sees_a_gap(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    """The merge above has teeth: a stream started from a position later than the read's (what
    reading the data first and the head after would give) misses the change in between."""
    headers = {"Authorization": f"Bearer {live_server.token(world.agent)}"}
    data = httpx.get(
        f"{live_server.url}/v1/tickets/{world.ticket}/threads", headers=headers, timeout=10
    ).json()
    read: State = {
        ("ticket_notes", n["id"]): (n["version"], n["body"]) for n in data["threads"][0]["notes"]
    }
    conn.execute("update ticket_notes set body = 'in the gap' where id = %s", (world.public_note,))
    late = "-".join(map(str, head(conn)))

    def final() -> State:
        rows = conn.execute("select id::text, version, body from ticket_notes").fetchall()
        return {("ticket_notes", r[0]): (r[1], r[2]) for r in rows}

    for start, converges in ((late, False), (data["position"], True)):
        stream = StreamReader(
            stream_url(live_server.url, world.topic),
            live_server.token(world.agent),
            headers={"Last-Event-ID": start},
        ).start()
        try:
            stream.wait_subscribed()
            state, expected = converge(
                Round(read, start, stream, final), {"ticket_notes": "body"}, 1
            )
        finally:
            stream.close()
        assert (state == expected) == converges, report(state, expected)
