"""Resume from any distance (issue 15): a client that missed more events than its queue holds
replays them all, exactly and in order, paced by its own reading; never a `reset` loop.

Each case is run just under, at, just over and far over the connection's queue, on the replica
the client left and on another one."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from tests.servers import RunningServer, start_server
from tests.sse import StreamReader, stream_url, subscribe, system_type
from tests.support import World

QUEUE = 50  # frames a connection may hold: small, so 10x stays quick


def write_notes(conn: psycopg.Connection, world: World, count: int, prefix: str) -> list[str]:
    """`count` notes in one statement (one transaction, `count` events), bodies in order."""
    conn.execute(
        "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
        " select %s, %s, %s, %s || lpad(i::text, 6, '0') from generate_series(1, %s) as i",
        (world.thread, world.ticket, world.agent, prefix, count),
    )
    return [f"{prefix}{i:06d}" for i in range(1, count + 1)]


@pytest.fixture
def replicas(database_url: str, world: World) -> Iterator[tuple[RunningServer, RunningServer]]:
    first = start_server(database_url, queue_size=QUEUE)
    second = start_server(database_url, queue_size=QUEUE)
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.mark.parametrize("missed", [0, QUEUE - 1, QUEUE, QUEUE + 1, 10 * QUEUE])
@pytest.mark.parametrize("where", ["same", "other"])
def test_a_client_resumes_exactly_after_missing_any_number_of_events(
    replicas: tuple[RunningServer, RunningServer],
    world: World,
    conn: psycopg.Connection,
    missed: int,
    where: str,
) -> None:
    left, back = replicas if where == "other" else (replicas[0], replicas[0])
    first = subscribe(left, world, world.agent)
    resume_from = first.last_id()
    first.close()
    away = write_notes(conn, world, missed, "away ")

    second = subscribe(back, world, world.agent, resume_from)
    after = write_notes(conn, world, 1, "after ")
    second.wait_for(lambda _: second.bodies()[-1:] == after, timeout=30)
    assert second.bodies() == away + after
    assert [system_type(e) for e in second.events if e.event == "system"] == ["subscribed"]
    ids = [e.id for e in second.events if e.event == "postgres_changes"]
    assert len(ids) == len(set(ids)) == missed + 1
    second.close()


def test_the_default_queue_resumes_after_1500_missed(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    # The reported case: 1,000 frames of queue, 1,500 missed; it used to get `reset` forever.
    assert live_server.settings.queue_size == 1000
    first = subscribe(live_server, world, world.agent)
    resume_from = first.last_id()
    first.close()
    away = write_notes(conn, world, 1500, "away ")
    second = subscribe(live_server, world, world.agent, resume_from)
    second.wait_for(lambda _: len(second.bodies()) == 1500, timeout=60)
    assert second.bodies() == away
    assert not any(system_type(e) == "reset" for e in second.events)
    second.close()


def wait_until(done: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    received = bytearray()
    while marker not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {marker!r}"
        received += chunk
    return bytes(received)


def paused_stream(server: RunningServer, world: World, resume_from: str | None) -> socket.socket:
    """A raw stream with a tiny receive buffer, for a client that stops reading."""
    sock = socket.socket()
    # Before connecting, or the kernel has already offered the peer a big window.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    cursor = f"Last-Event-ID: {resume_from}\r\n" if resume_from else ""
    sock.sendall(
        f"GET /v1/channels/{world.topic}/stream HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {server.token(world.agent)}\r\n{cursor}\r\n".encode()
    )
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    received = bytearray()
    while chunk := sock.recv(65536):
        received += chunk
    return bytes(received)


def event_ids_and_bodies(raw: bytes) -> tuple[list[str], list[str]]:
    """The complete postgres_changes events of a raw SSE byte stream (chunked encoding
    stripped by hand: each SSE event is one chunk, so its lines arrive whole)."""
    ids: list[str] = []
    bodies: list[str] = []
    for block in raw.decode(errors="replace").split("\n\n"):
        lines = block.splitlines()
        if "event: postgres_changes" not in lines:
            continue
        data = next((line for line in lines if line.startswith("data: ")), None)
        event_id = next((line[4:] for line in lines if line.startswith("id: ")), None)
        if data is None or event_id is None or not data.endswith("}"):
            continue  # cut off mid-event
        ids.append(event_id)
        bodies.append(data.split('"body": "', 1)[1].split('"', 1)[0])
    return ids, bodies


def test_a_paused_client_closed_mid_backlog_by_the_send_timeout_resumes_exactly(
    database_url: str, world: World, conn: psycopg.Connection
) -> None:
    server = start_server(database_url, queue_size=QUEUE, send_timeout_seconds=1.0)
    try:
        first = subscribe(server, world, world.agent)
        resume_from = first.last_id()
        first.close()
        # Big rows, so the backlog is far more than the socket buffers hold.
        conn.execute(
            "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
            " select %s, %s, %s, 'big ' || lpad(i::text, 6, '0') || ' ' || repeat('x', 20000)"
            "  from generate_series(1, 600) as i",
            (world.thread, world.ticket, world.agent),
        )
        expected = [f"big {i:06d} " + "x" * 20000 for i in range(1, 601)]
        token = server.token(world.agent)
        # A client that reads the response head, then stops reading for good.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(
            (
                f"GET /v1/channels/{world.topic}/stream HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {token}\r\nLast-Event-ID: {resume_from}\r\n\r\n"
            ).encode()
        )
        sock.settimeout(10)
        raw = b""
        while len(event_ids_and_bodies(raw)[1]) < 5:  # read a little of the replay...
            raw += sock.recv(65536)
        time.sleep(4)  # ...then pause: the server's sends time out (1 s) and it closes
        raw += read_until_closed(sock)
        sock.close()
        ids, bodies = event_ids_and_bodies(raw)
        assert 0 < len(bodies) < 600, "the pause did not cut the backlog"
        assert bodies == expected[: len(bodies)]
        # Resume from the last event it got whole: the rest, exactly.
        second = StreamReader(
            stream_url(server.url, world.topic), token, headers={"Last-Event-ID": ids[-1]}
        ).start()
        second.wait_for(lambda _: len(second.bodies()) == 600 - len(bodies), timeout=60)
        assert second.bodies() == expected[len(bodies) :]
        second.close()
    finally:
        server.stop()


def system_frames(raw: bytes) -> list[dict[str, object]]:
    frames = []
    for block in raw.decode(errors="replace").split("\n\n"):
        lines = block.splitlines()
        if "event: system" in lines:
            data = next(line for line in lines if line.startswith("data: "))
            frames.append(json.loads(data[6:]))
    return frames


def big_notes(conn: psycopg.Connection, world: World, count: int, prefix: str) -> list[str]:
    conn.execute(
        "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
        " select %s, %s, %s, %s || lpad(i::text, 6, '0') || ' ' || repeat('x', 50000)"
        "  from generate_series(1, %s) as i",
        (world.thread, world.ticket, world.agent, prefix, count),
    )
    return [f"{prefix}{i:06d} " + "x" * 50000 for i in range(1, count + 1)]


def test_a_slow_live_consumer_is_reset_after_its_queue_and_its_next_connection_resumes(
    database_url: str, world: World, conn: psycopg.Connection
) -> None:
    # Each slow_consumer reset comes after every frame queued before it, each with its id, so
    # the client's Last-Event-ID moves a whole queue on: never the same cursor reset twice.
    server = start_server(database_url, queue_size=QUEUE, send_timeout_seconds=60.0)
    try:
        sock = paused_stream(server, world, None)
        read_until(sock, b'"subscribed"')
        expected = big_notes(conn, world, 10 * QUEUE, "live ")
        resets = server.server.config.app.state.metrics.resets.labels(reason="slow_consumer")
        wait_until(lambda: resets._value.get() >= 1)
        sock.settimeout(10)
        raw = read_until_closed(sock)
        sock.close()
        ids, bodies = event_ids_and_bodies(raw)
        assert system_frames(raw)[-1]["reason"] == "slow_consumer"
        assert QUEUE <= len(bodies) < len(expected)
        assert bodies == expected[: len(bodies)]
        # Reading at full speed from its last id: the rest, exactly, and no reset.
        second = subscribe(server, world, world.agent, ids[-1])
        second.wait_for(lambda _: len(second.bodies()) == len(expected) - len(bodies), timeout=60)
        assert second.bodies() == expected[len(bodies) :]
        assert [system_type(e) for e in second.events if e.event == "system"] == ["subscribed"]
        second.close()
    finally:
        server.stop()


def test_a_cursor_pruned_during_a_long_replay_gets_one_reset_never_a_gap(
    database_url: str, world: World, conn: psycopg.Connection
) -> None:
    server = start_server(database_url, queue_size=QUEUE, send_timeout_seconds=60.0)
    try:
        first = subscribe(server, world, world.agent)
        resume_from = first.last_id()
        first.close()
        expected = big_notes(conn, world, 300, "old ")
        hub = server.server.config.app.state.hub
        wait_until(lambda: hub.position > tuple(map(int, resume_from.split("-"))))
        # The client replays from far behind, then stops reading: its replay waits for room.
        sock = paused_stream(server, world, resume_from)
        # Until its replay is stuck: a queue this full means the socket takes no more.
        wait_until(
            lambda: any(c.queue.qsize() >= 15 for g in hub.groups.values() for c in g.connections)
        )
        # Meanwhile the log moves on and retention prunes it past the client's cursor.
        newer = write_notes(conn, world, 1, "newer ")
        wait_until(lambda: hub.position[0] > 2)
        conn.execute("update realtime.ticks set created_at = now() - interval '2 days'")
        conn.execute("select realtime.prune(interval '1 day')")
        assert newer
        sock.settimeout(10)
        raw = read_until(sock, b'"subscribed"')
        sock.close()
        _, bodies = event_ids_and_bodies(raw)
        assert bodies == expected[: len(bodies)]  # what it got before the reset, exactly
        assert len(bodies) < len(expected)
        assert [(f["type"], f.get("reason")) for f in system_frames(raw)] == [
            ("reset", "cursor_expired"),
            ("subscribed", None),
        ]
    finally:
        server.stop()
