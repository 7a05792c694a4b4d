"""GET /v1/stream: any number of channels on one connection (issue 18).

Each channel is authorized by its own rule and keeps its own bindings; one Last-Event-ID
resumes them all; a channel is added or removed by reconnecting with the new set, the same
cursor and `from.<channel>`, without losing or repeating an event on the others, on one
replica or across two."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.servers import RunningServer, start_server
from tests.sse import StreamReader, system_type
from tests.support import World, fixed_uuid, read_log

Position = tuple[int, int]


def position(raw: str) -> Position:
    tick, _, message = raw.partition("-")
    return int(tick), int(message)


def open_stream(
    server: RunningServer,
    user: uuid.UUID,
    channels: list[str],
    last_event_id: str | None = None,
    starts: dict[str, str] | None = None,
    **extra: Any,
) -> StreamReader:
    params: dict[str, Any] = {"channel": channels, **extra}
    params |= {f"from.{c}": p for c, p in (starts or {}).items()}
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    reader = StreamReader(f"{server.url}/v1/stream", server.token(user), params, headers)
    reader.start().wait_subscribed()
    return reader


def received(reader: StreamReader) -> list[tuple[str, Position]]:
    """(channel, position) of every change the stream delivered, in arrival order."""
    return [
        (json.loads(e.data)["channel"], position(e.id))
        for e in reader.events
        if e.event == "postgres_changes"
    ]


def refuse(server: RunningServer, user: uuid.UUID, params: Any) -> httpx.Response:
    response = httpx.get(
        f"{server.url}/v1/stream",
        params=params,
        headers={"Authorization": f"Bearer {server.token(user)}"},
        timeout=10,
    )
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response


def add_tickets(conn: psycopg.Connection, world: World, count: int) -> list[uuid.UUID]:
    """`count` more tickets of org A (the agent's), each with one thread of the same id."""
    tickets = [fixed_uuid(0x9000 + i) for i in range(count)]
    with conn.transaction():
        for ticket in tickets:
            conn.execute(
                "insert into tickets (id, org_id, requester_id, subject) values (%s, %s, %s, 't')",
                (ticket, world.org_a, world.customer),
            )
            conn.execute(
                "insert into ticket_threads (id, ticket_id, subject, created_by)"
                " values (%s, %s, 'thread', %s)",
                (ticket, ticket, world.agent),
            )
    return tickets


def add_note(conn: psycopg.Connection, ticket: uuid.UUID, body: str) -> None:
    conn.execute(
        "insert into ticket_notes (thread_id, ticket_id, author_id, body) values (%s, %s, %s, %s)",
        (ticket, ticket, World.agent, body),
    )


def channel(ticket: uuid.UUID) -> str:
    return f"ticket-threads:{ticket}"


@pytest.fixture
def tickets(conn: psycopg.Connection, world: World) -> list[uuid.UUID]:
    return add_tickets(conn, world, 4)


def test_one_stream_carries_several_channels_each_event_tagged_once(
    live_server: RunningServer, conn: psycopg.Connection, tickets: list[uuid.UUID]
) -> None:
    names = [channel(t) for t in tickets[:3]]
    reader = open_stream(live_server, World.agent, names)
    subscribed = json.loads(reader.events[1].data)  # after the retry hint
    assert subscribed["channels"] == names
    assert subscribed["bindings"] == 3 * 3  # threads, notes and ai_status, per channel
    for round_ in range(3):
        for ticket in tickets:  # the fourth ticket is not on this stream
            add_note(conn, ticket, f"{ticket} {round_}")
    reader.wait_for(lambda _: len(received(reader)) == 9)
    time.sleep(0.3)  # nothing more arrives: not the fourth ticket, no repeat
    got = received(reader)
    assert [c for c, _ in got] == names * 3
    assert [p for _, p in got] == sorted({p for _, p in got})
    bodies = [
        json.loads(e.data)["new"]["body"] for e in reader.events if e.event == "postgres_changes"
    ]
    assert bodies == [f"{t} {r}" for r in range(3) for t in tickets[:3]]
    reader.close()


def test_each_channel_keeps_its_own_bindings(
    live_server: RunningServer, conn: psycopg.Connection, tickets: list[uuid.UUID]
) -> None:
    quiet, full = channel(tickets[0]), channel(tickets[1])
    reader = open_stream(
        live_server,
        World.agent,
        [quiet, full],
        **{f"on.{quiet}": "UPDATE:public.ticket_notes"},
    )
    assert json.loads(reader.events[-1].data)["bindings"] == 1 + 3
    add_note(conn, tickets[0], "not wanted")
    add_note(conn, tickets[1], "wanted")
    conn.execute("update ticket_notes set body = 'edited' where ticket_id = %s", (tickets[0],))
    reader.wait_for(lambda _: len(received(reader)) == 2)
    changes = [json.loads(e.data) for e in reader.events if e.event == "postgres_changes"]
    assert [(c["channel"], c["eventType"]) for c in changes] == [
        (full, "INSERT"),
        (quiet, "UPDATE"),
    ]
    reader.close()


def test_one_refused_channel_refuses_the_stream(
    live_server: RunningServer, world: World, tickets: list[uuid.UUID]
) -> None:
    names = [channel(tickets[0]), f"ticket-threads:{world.other_ticket}"]
    response = refuse(live_server, World.agent, {"channel": names})
    assert response.status_code == 403
    assert str(world.other_ticket) in response.json()["message"]


@pytest.fixture
def capped(database_url: str, world: World) -> Iterator[RunningServer]:
    server = start_server(database_url, max_channels_per_stream=5)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("count", [4, 5, 6, 50])
def test_the_channel_cap(
    capped: RunningServer, conn: psycopg.Connection, world: World, count: int
) -> None:
    names = [channel(t) for t in add_tickets(conn, world, count)]
    if count <= 5:
        reader = open_stream(capped, World.agent, names)
        assert json.loads(reader.events[-1].data)["channels"] == names
        reader.close()
    else:
        response = refuse(capped, World.agent, {"channel": names})
        assert response.status_code == 400
        assert response.json()["error"] == "too_many_channels"


A, B = "ticket-threads:{A}", "ticket-threads:{B}"  # two of the agent's channels, filled in


@pytest.mark.parametrize(
    ("params", "error", "says"),
    [
        ({}, "bad_subscription", "at least one channel"),
        ({"channel": [A, A]}, "bad_subscription", "twice"),
        ({"channel": ["nope"]}, "bad_subscription", "invalid channel"),
        ({"channel": [A], "on": "ai_status"}, "bad_subscription", "on.<channel>"),
        ({"channel": [A], f"on.{B}": "ai_status"}, "bad_subscription", "not in ?channel="),
        ({"channel": [A], f"from.{A}": "1-x"}, "bad_position", f"from.{A}"),
        ({"channel": [A], f"from.{A}": ""}, "bad_position", "expected <tick>-<id>"),
        ({"channel": [A], f"from.{A}": ["1-1", "1-2"]}, "bad_subscription", "twice"),
        ({"channel": [A], f"on.{A}": "INSERT:public.nope"}, "bad_subscription", "not realtime"),
        ({"channel": [A], "last_event_id": "\uff11-1"}, "bad_last_event_id", "Last-Event-ID"),
    ],
)
def test_bad_requests_are_400_json(
    live_server: RunningServer, tickets: list[uuid.UUID], params: Any, error: str, says: str
) -> None:
    def fill(value: Any) -> Any:
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value.replace("{A}", str(tickets[0])).replace("{B}", str(tickets[1]))

    response = refuse(live_server, World.agent, {fill(k): fill(v) for k, v in params.items()})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert fill(says) in response.json()["message"]


class Writers:
    """Notes on every ticket, round robin, until stopped."""

    def __init__(self, database_url: str, tickets: list[uuid.UUID]) -> None:
        self.database_url = database_url
        self.tickets = tickets
        self.stopped = threading.Event()
        self.written = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stopped.is_set():
                ticket = self.tickets[self.written % len(self.tickets)]
                add_note(conn, ticket, f"w{self.written}")
                self.written += 1
                time.sleep(0.002)

    def __enter__(self) -> Writers:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(10)


def wait_for_more(reader: StreamReader, count: int) -> None:
    have = len(received(reader))
    reader.wait_for(lambda _: len(received(reader)) >= have + count, timeout=30)


def expected(
    log: list[dict[str, Any]], topic: str, after: Position, upto: Position | None
) -> list[Position]:
    return [
        (e["tick_id"], e["id"])
        for e in log
        if e["topic"] == topic
        and (e["tick_id"], e["id"]) > after
        and (upto is None or (e["tick_id"], e["id"]) <= upto)
    ]


@pytest.mark.parametrize("where", ["one replica", "two replicas"])
def test_channels_added_and_removed_while_writers_write_are_exact(
    database_url: str, conn: psycopg.Connection, tickets: list[uuid.UUID], where: str
) -> None:
    first = start_server(database_url)
    second = start_server(database_url) if where == "two replicas" else first
    t1, t2, t3, t4 = (channel(t) for t in tickets)
    try:
        with Writers(database_url, tickets):
            a = open_stream(first, World.agent, [t1, t2])
            began = next(e.id for e in a.events if system_type(e) == "subscribed")  # live from
            wait_for_more(a, 20)
            a.close()
            after_a = a.last_id()
            # Add t3 from where the stream is (no snapshot: its events from now on).
            b = open_stream(second, World.agent, [t1, t2, t3], after_a, {t3: after_a})
            wait_for_more(b, 30)
            b.close()
            after_b = b.last_id()
            # Remove t1; add t4 from an older snapshot: its events since `began` are replayed,
            # the others' are not repeated.
            c = open_stream(first, World.agent, [t2, t3, t4], after_b, {t4: began})
            wait_for_more(c, 30)
        log = read_log(conn, position(began))
        final = max(p for topic in (t2, t3, t4) for p in expected(log, topic, (0, 0), None))
        c.wait_for(lambda _: any(p >= final for _, p in received(c)), timeout=30)
        c.close()
    finally:
        first.stop()
        if second is not first:
            second.stop()

    got: dict[str, list[Position]] = {t1: [], t2: [], t3: [], t4: []}
    for reader in (a, b, c):
        for topic, pos in received(reader):
            got[topic].append(pos)
    start, cut_a, cut_b = position(began), position(after_a), position(after_b)
    assert got[t1] == expected(log, t1, start, cut_b)  # removed after b
    assert got[t2] == expected(log, t2, start, None)
    assert got[t3] == expected(log, t3, cut_a, None)  # added after a
    assert got[t4] == expected(log, t4, start, None)  # added late, from the old snapshot
    assert all(got.values())
    for reader in (a, b, c):
        assert [system_type(e) for e in reader.events if e.event == "system"] == ["subscribed"]
