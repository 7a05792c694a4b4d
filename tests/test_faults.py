"""Faults with writers running and clients connected; every scenario ends with the delivery
checker: zero lost, zero duplicated, nothing out of order or leaked — or an explicit `reset`.

Run alone with `pytest -m faults`. Each scenario records a row in
`test-artifacts/delivery-results.json` (the table in docs/testing.md comes from there).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from tests.delivery import (
    Client,
    Writers,
    Written,
    agent_sees,
    check,
    customer_sees,
    record,
    wait_delivered,
)
from tests.processes import PrivatePostgres, ServerProcess
from tests.support import World, seed_world
from threadcast import migrations

pytestmark = pytest.mark.faults


def run_scenario(
    name: str,
    database_url: str,
    world: World,
    urls: list[str],
    token: Callable[[object], str],
    fault: Callable[[Writers, dict[Client, Callable[[Written], bool]]], None],
    *,
    excused: Callable[[Client], set[str]] = lambda _: set(),
    body_size: int = 0,
    writer_interval: float = 0.01,
    database_down: bool = False,
) -> dict[Client, Callable[[Written], bool]]:
    """Two clients (the agent sees every note, the customer only public ones) subscribe;
    writers start; the fault happens with both running; then writers stop, and the checker
    compares once everything written has had time to arrive."""
    clients: dict[Client, Callable[[Written], bool]] = {
        Client("agent", urls, token(world.agent)): agent_sees,
        Client("customer", urls, token(world.customer)): customer_sees,
    }
    for client in clients:
        client.start().wait_subscribed()
    try:
        with Writers(
            database_url, world, run=name, body_size=body_size, interval=writer_interval
        ) as writers:
            writers.wait_for_writes(20)
            fault(writers, clients)
            writers.wait_for_writes(20, timeout=60)
        wait_delivered(writers, clients, timeout=45, excused=excused)
    finally:
        for client in clients:
            client.stop()
    record(name, writers, [check(writers, c, sees, excused(c)) for c, sees in clients.items()])
    return clients


@pytest.fixture
def server(database_url: str) -> Iterator[ServerProcess]:
    process = ServerProcess(database_url).start()
    yield process
    process.stop()


def urls_of(*servers: ServerProcess, world: World) -> list[str]:
    return [s.stream_url(world.topic) for s in servers]


def test_server_killed_with_sigkill_and_restarted(
    server: ServerProcess, database_url: str, world: World
) -> None:
    def fault(writers: Writers, clients: dict) -> None:
        server.kill(signal.SIGKILL)
        writers.wait_for_writes(30)  # written while no server runs
        server.start()

    run_scenario(
        "server SIGKILL + restart",
        database_url,
        world,
        urls_of(server, world=world),
        server.token,
        fault,
    )


def test_a_second_replica_takes_over_the_clients(
    server: ServerProcess, database_url: str, world: World
) -> None:
    replica = ServerProcess(database_url).start()
    try:

        def fault(writers: Writers, clients: dict) -> None:
            server.kill(signal.SIGKILL)
            writers.wait_for_writes(30)
            for client in clients:  # every client now streams from the replica
                deadline = time.monotonic() + 15
                while client.connects < 2:
                    assert time.monotonic() < deadline, client.statuses
                    time.sleep(0.05)

        run_scenario(
            "replica takeover (SIGKILL of the first)",
            database_url,
            world,
            urls_of(server, replica, world=world),
            server.token,
            fault,
        )
    finally:
        replica.stop()


@pytest.fixture(scope="module")
def private_postgres(server_url: str) -> Iterator[PrivatePostgres]:
    import os

    cluster = PrivatePostgres(os.environ.get("TEST_DATABASE_URL")).start()
    migrations.upgrade(cluster.url)
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        seed_world(conn)
    yield cluster
    cluster.stop()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgresql_restarted(private_postgres: PrivatePostgres, mode: str) -> None:
    world = World()
    server = ServerProcess(private_postgres.url).start()
    try:

        def fault(writers: Writers, clients: dict) -> None:
            private_postgres.restart(mode)
            writers.wait_for_writes(30, timeout=60)

        run_scenario(
            f"PostgreSQL restart ({mode})",
            private_postgres.url,
            world,
            urls_of(server, world=world),
            server.token,
            fault,
            database_down=True,
        )
        assert server.process is not None and server.process.poll() is None, server.log()
    finally:
        server.stop()


def test_listen_connection_terminated(
    server: ServerProcess, database_url: str, world: World, conn: psycopg.Connection
) -> None:
    def fault(writers: Writers, clients: dict) -> None:
        for _ in range(3):
            killed = conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where application_name = 'threadcast-listener'"
                " and datname = current_database()"
            ).fetchall()
            assert killed == [(True,)]
            writers.wait_for_writes(10)
            deadline = time.monotonic() + 10
            while not conn.execute(
                "select 1 from pg_stat_activity where application_name = 'threadcast-listener'"
                " and datname = current_database()"
            ).fetchone():
                assert time.monotonic() < deadline, "listener did not come back"
                time.sleep(0.05)

    run_scenario(
        "LISTEN connection terminated (3 times)",
        database_url,
        world,
        urls_of(server, world=world),
        server.token,
        fault,
    )


def test_connections_cut_mid_frame_from_the_client_side(
    server: ServerProcess, database_url: str, world: World
) -> None:
    def fault(writers: Writers, clients: dict) -> None:
        for client in clients:
            client.cut_mid_frame = True
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.05)
        for client in clients:
            client.cut_mid_frame = False
        assert all(c.mid_frame_cuts >= 5 for c in clients), [c.mid_frame_cuts for c in clients]

    run_scenario(
        "connections cut mid-frame (client side, 100 KB rows)",
        database_url,
        world,
        urls_of(server, world=world),
        server.token,
        fault,
        body_size=100_000,
        writer_interval=0.05,
    )


def test_a_long_transaction_holding_an_old_snapshot(
    server: ServerProcess, database_url: str, world: World
) -> None:
    def fault(writers: Writers, clients: dict[Client, Callable[[Written], bool]]) -> None:
        with (
            psycopg.connect(database_url) as long_writer,
            psycopg.connect(database_url) as old_snapshot,
        ):
            old_snapshot.execute("set transaction isolation level repeatable read")
            old_snapshot.execute("select count(*) from ticket_notes").fetchone()
            long = Written(f"{writers.run}-long", writer=99, seq=1, internal=False)
            long_writer.execute(
                "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
                " values (%s, %s, %s, %s)",
                (world.thread, world.ticket, world.agent, long.marker),
            )
            agent = next(iter(clients))
            before = len(agent.received)
            writers.wait_for_writes(40)
            # Others' events keep flowing while the transaction stays open.
            deadline = time.monotonic() + 10
            while len(agent.received) < before + 30:
                assert time.monotonic() < deadline, "delivery stalled behind an open transaction"
                time.sleep(0.05)
            long_writer.commit()
            writers.acknowledged.append(long)
            old_snapshot.rollback()

    run_scenario(
        "long transaction + old snapshot held open",
        database_url,
        world,
        urls_of(server, world=world),
        server.token,
        fault,
    )


def test_retention_prunes_while_a_client_is_away(
    server: ServerProcess, database_url: str, world: World, conn: psycopg.Connection
) -> None:
    gap: set[str] = set()  # what the customer may miss: all it had not received at its reset

    def fault(writers: Writers, clients: dict[Client, Callable[[Written], bool]]) -> None:
        agent, customer = list(clients)
        customer.paused.set()
        customer.cut()
        writers.wait_for_writes(30)
        # Age and prune only what the server has already fanned out (the agent has it): a
        # real retention window is days, far behind any server.
        newest = writers.acknowledged[-1].marker
        agent.wait_for_marker(newest)
        conn.execute(
            "update realtime.ticks set created_at = now() - interval '2 days'"
            " where tick_id <= (select t.tick_id from realtime.ticks t, realtime.messages m"
            "  where m.payload -> 'new' ->> 'body' = %s and m.id = any (t.message_ids))",
            (newest,),
        )
        assert conn.execute("select realtime.prune(interval '1 day')").fetchone()[0] > 0
        writers.wait_for_writes(10)
        customer.paused.clear()
        deadline = time.monotonic() + 15
        while not customer.resets:
            assert time.monotonic() < deadline, "no reset after the cursor was pruned"
            time.sleep(0.02)
        # A write acknowledged after the client saw the reset committed after the reset's
        # position, so it must come through; the ones before may fall in the announced gap.
        at_reset = len(writers.acknowledged)
        assert customer.resets[0]["reason"] == "cursor_expired"
        gap.update(w.marker for w in writers.acknowledged[:at_reset])
        gap.difference_update(customer.markers())

    clients = run_scenario(
        "retention pruned while a client was away",
        database_url,
        world,
        urls_of(server, world=world),
        server.token,
        fault,
        excused=lambda c: gap if c.name == "customer" else set(),
    )
    agent, customer = list(clients)
    assert len(customer.resets) == 1 and not agent.resets


def test_while_postgresql_is_down_requests_get_503_with_retry_after(
    private_postgres: PrivatePostgres,
) -> None:
    world = World()
    server = ServerProcess(private_postgres.url).start()
    try:
        private_postgres.stop_server()
        try:
            token = server.token(world.agent)
            stream = httpx.get(
                server.stream_url(world.topic),
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            api = httpx.get(
                f"{server.url}/v1/tickets/{world.ticket}/threads",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
        finally:
            private_postgres.start()
        for response in (stream, api):
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"
            assert response.json()["error"] == "database_unavailable"
        # And it recovers by itself once the database is back.
        with Client("agent", [server.stream_url(world.topic)], token) as client:
            client.wait_subscribed()
    finally:
        server.stop()


def test_sigterm_ends_every_stream_with_shutdown_and_the_process_exits(
    server: ServerProcess, world: World
) -> None:
    url = urls_of(server, world=world)
    clients = [Client(f"c{i}", url, server.token(world.agent)).start() for i in range(3)]
    for client in clients:
        client.wait_subscribed()
        client.paused.set()  # do not reconnect after the shutdown frame
    started = time.monotonic()
    server.kill(signal.SIGTERM)
    # uvicorn finishes its graceful shutdown, then exits by the signal it got (as is usual).
    assert server.process is not None and server.process.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log()
    assert time.monotonic() - started < 5, "streams must end promptly, not at a timeout"
    for client in clients:
        client.stop()
        assert client.shutdowns == 1, (client.name, client.errors)
