"""No lost events: resume by Last-Event-ID (also on another server process), a killed LISTEN
connection, retention, and back-pressure on a slow consumer."""

from __future__ import annotations

import socket
import time

import psycopg

from tests.servers import RunningServer, start_server
from tests.sse import subscribe, system_type
from tests.support import World, add_note


def test_events_written_while_away_arrive_once_in_order_after_reconnect(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    first = subscribe(live_server, world, world.agent)
    add_note(conn, world, "before")
    first.wait_for(lambda _: first.bodies() == ["before"])
    resume_from = first.last_id()
    first.close()

    away = [f"away {i}" for i in range(20)]
    for body in away:
        add_note(conn, world, body)

    second = subscribe(live_server, world, world.agent, resume_from)
    add_note(conn, world, "after")
    second.wait_for(lambda _: second.bodies()[-1:] == ["after"])
    assert second.bodies() == [*away, "after"]
    ids = [e.id for e in second.events if e.event == "postgres_changes"]
    assert len(ids) == len(set(ids))
    second.close()


def test_resume_on_a_second_server_process_is_exact(
    live_server: RunningServer, database_url: str, world: World, conn: psycopg.Connection
) -> None:
    other = start_server(database_url)
    try:
        first = subscribe(live_server, world, world.customer)
        add_note(conn, world, "seen on A")
        first.wait_for(lambda _: first.bodies() == ["seen on A"])
        resume_from = first.last_id()
        first.close()
        live_server.stop()  # replica A goes away

        for i in range(5):
            add_note(conn, world, f"written while moving {i}")
        add_note(conn, world, "internal while moving", internal=True)

        second = subscribe(other, world, world.customer, resume_from)
        add_note(conn, world, "seen on B")
        second.wait_for(lambda _: second.bodies()[-1:] == ["seen on B"])
        assert second.bodies() == [f"written while moving {i}" for i in range(5)] + ["seen on B"]
        second.close()
    finally:
        other.stop()


def test_both_replicas_give_events_the_same_ids(
    live_server: RunningServer, database_url: str, world: World, conn: psycopg.Connection
) -> None:
    other = start_server(database_url)
    try:
        a = subscribe(live_server, world, world.agent)
        b = subscribe(other, world, world.agent)
        for i in range(10):
            add_note(conn, world, f"n{i}")
        for reader in (a, b):
            reader.wait_for(lambda _, r=reader: len(r.bodies()) == 10)
        ids_a = [e.id for e in a.events if e.event == "postgres_changes"]
        ids_b = [e.id for e in b.events if e.event == "postgres_changes"]
        assert ids_a == ids_b
        a.close()
        b.close()
    finally:
        other.stop()


def test_killing_the_listen_connection_loses_nothing(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    live_server.wait_listening()
    reader = subscribe(live_server, world, world.agent)
    add_note(conn, world, "one")
    reader.wait_for(lambda _: reader.bodies() == ["one"])
    killed = conn.execute(
        "select pg_terminate_backend(pid) from pg_stat_activity"
        " where application_name = 'threadcast-listener' and datname = current_database()"
    ).fetchall()
    assert killed == [(True,)]
    add_note(conn, world, "two")  # written while the listener is down
    add_note(conn, world, "three")
    reader.wait_for(lambda _: reader.bodies() == ["one", "two", "three"], timeout=15)
    listener = live_server.server.config.app.state.listener
    deadline = time.monotonic() + 10
    while not (listener.connected and listener.reconnects >= 1):
        assert time.monotonic() < deadline, listener.status()
        time.sleep(0.05)
    reader.close()


def test_pruned_cursor_gets_reset_not_a_silent_gap(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    first = subscribe(live_server, world, world.agent)
    add_note(conn, world, "old")
    first.wait_for(lambda _: first.bodies() == ["old"])
    resume_from = first.last_id()
    first.close()
    add_note(conn, world, "newer")
    conn.execute("select realtime.tick()")
    conn.execute("update realtime.ticks set created_at = now() - interval '2 days'")
    conn.execute("select realtime.prune(interval '1 day')")

    second = subscribe(live_server, world, world.agent, resume_from)
    resets = [e for e in second.events if system_type(e) == "reset"]
    assert len(resets) == 1
    assert "cursor_expired" in resets[0].data
    assert resets[0].id  # the client continues from the reset's position
    second.close()


def test_slow_consumer_is_reset_while_a_fast_one_keeps_receiving(
    database_url: str, world: World, conn: psycopg.Connection
) -> None:
    server = start_server(database_url, queue_size=100, send_timeout_seconds=60.0)
    try:
        fast = subscribe(server, world, world.agent)
        # A client that subscribes and then stops reading.
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(
            f"GET /v1/channels/{world.topic}/stream HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {server.token(world.agent)}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        # 30 MB: more than loopback socket buffers and the 100-frame queue can hold.
        body, count = "x" * 50_000, 600
        for i in range(count):
            add_note(conn, world, f"{i} {body}")
        fast.wait_for(lambda _: len(fast.bodies()) == count, timeout=60)
        assert [b.split(" ")[0] for b in fast.bodies()] == [str(i) for i in range(count)]
        resets = server.server.config.app.state.metrics.resets.labels(reason="slow_consumer")
        deadline = time.monotonic() + 10
        while resets._value.get() < 1:
            assert time.monotonic() < deadline, "slow consumer was never reset"
            time.sleep(0.05)
        # Once it reads again, it finds a reset frame and the end of the stream.
        slow.setblocking(True)
        slow.settimeout(10)
        received = b""
        while True:
            chunk = slow.recv(1 << 20)
            if not chunk:
                break
            received += chunk
        assert b'"type":"reset"' in received
        assert b'"reason":"slow_consumer"' in received
        slow.close()
        fast.close()
    finally:
        server.stop()


def test_graceful_shutdown_ends_streams_with_a_shutdown_event(
    database_url: str, world: World
) -> None:
    server = start_server(database_url)
    reader = subscribe(server, world, world.agent)
    started = time.monotonic()
    server.stop()
    assert reader.ended.wait(10)
    assert time.monotonic() - started < 5, "streams must end promptly, not at the shutdown timeout"
    assert system_type(reader.events[-1]) == "shutdown"


def test_a_connection_that_goes_live_while_a_batch_is_being_read_still_gets_that_batch(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    agent = subscribe(live_server, world, world.agent)
    # Make the agent's reads slow (a restrictive policy sleeping per row for them only), so
    # the customer subscribes while the batch below is being read for the agent.
    conn.execute(
        "create policy slow_agent on realtime.messages as restrictive for select to authenticated"
        f" using (case when realtime.uid() = '{world.agent}' then pg_sleep(1) is not null"
        " else true end)"
    )
    add_note(conn, world, "during the slow read")
    time.sleep(0.3)
    customer = subscribe(live_server, world, world.customer)
    subscribed_at = customer.last_id()
    customer.wait_for(lambda _: customer.bodies() == ["during the slow read"], timeout=10)
    event_id = next(e.id for e in customer.events if e.event == "postgres_changes")
    assert tuple(map(int, event_id.split("-"))) > tuple(map(int, subscribed_at.split("-")))
    agent.wait_for(lambda _: agent.bodies() == ["during the slow read"], timeout=10)
    conn.execute("drop policy slow_agent on realtime.messages")
    agent.close()
    customer.close()
