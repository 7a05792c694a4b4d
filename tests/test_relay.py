"""The relay's own promises: batching, AI progress coalescing, isolation of a failing identity,
health and metrics, and the CLI's refusal of an unmigrated database."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time

import httpx
import jwt
import psycopg

from tests.servers import TEST_SECRET, RunningServer, start_server
from tests.sse import stream_url, subscribe
from tests.support import World, add_note


def as_agent(conn: psycopg.Connection, world: World) -> None:
    conn.execute(
        "select set_config('request.jwt.claims', %s, false)",
        (json.dumps({"sub": str(world.agent)}),),
    )


def test_processing_events_coalesce_to_the_latest_but_milestones_are_never_dropped(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    reader = subscribe(live_server, world, world.agent, on=["ai_status"])
    as_agent(conn, world)
    with conn.transaction():  # one transaction: one batch
        conn.execute("select set_thread_ai_status(%s, 'started')", (world.thread,))
        for progress in (10, 20, 30):
            conn.execute(
                "select set_thread_ai_status(%s, 'processing', %s)", (world.thread, progress)
            )
    # Delivered before the next transaction commits, so that it is a batch of its own.
    reader.wait_for(lambda evs: any('"progress": 30' in e.data for e in evs))
    with conn.transaction():
        for progress in (60, 90):
            conn.execute(
                "select set_thread_ai_status(%s, 'processing', %s)", (world.thread, progress)
            )
        conn.execute("select set_thread_ai_status(%s, 'completed', 100)", (world.thread,))
    reader.wait_for(lambda evs: any('"completed"' in e.data for e in evs))
    statuses = [
        (d["status"], d.get("progress"))
        for d in (json.loads(e.data) for e in reader.events if e.event == "ai_status")
    ]
    assert statuses == [("started", None), ("processing", 30), ("completed", 100)]
    reader.close()


def test_wake_ups_within_the_window_share_one_read_per_identity(
    database_url: str, world: World, conn: psycopg.Connection
) -> None:
    server = start_server(database_url, batch_window_ms=300.0)
    try:
        metrics = server.server.config.app.state.metrics
        agent_tabs = [subscribe(server, world, world.agent) for _ in range(3)]
        reads_before = metrics.reads._value.get()
        for i in range(10):
            add_note(conn, world, f"burst {i}")
        for tab in agent_tabs:
            tab.wait_for(lambda _, t=tab: len(t.bodies()) == 10)
        reads = metrics.reads._value.get() - reads_before
        # Ten commits, three connections of one identity: one read per batch, not per event
        # or per connection.
        assert 1 <= reads <= 3, reads
        for tab in agent_tabs:
            tab.close()
    finally:
        server.stop()


def test_a_failing_read_for_one_identity_does_not_stop_the_others(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    customer = subscribe(live_server, world, world.customer)
    agent = subscribe(live_server, world, world.agent)
    # Sabotage reads for the customer only: a restrictive policy (ANDed with the rest, so it
    # runs on every row they could see) that divides by zero for them, by a column so that it
    # fails when run, not when planned.
    conn.execute(
        "create policy sabotage on realtime.messages as restrictive for select to authenticated"
        f" using (case when realtime.uid() = '{world.customer}' then 1 / (id - id) = 1"
        " else true end)"
    )
    add_note(conn, world, "still delivered")
    agent.wait_for(lambda _: agent.bodies() == ["still delivered"])
    customer.wait_for(lambda evs: any("read_failed" in e.data for e in evs))
    assert customer.bodies() == []
    conn.execute("drop policy sabotage on realtime.messages")
    add_note(conn, world, "and more")
    agent.wait_for(lambda _: agent.bodies() == ["still delivered", "and more"])
    agent.close()
    customer.close()


def test_health_readiness_and_metrics(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    assert httpx.get(f"{live_server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live_server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["listener"]["connected"] is True

    reader = subscribe(live_server, world, world.agent)
    add_note(conn, world, "counted")
    reader.wait_for(lambda _: reader.bodies() == ["counted"])
    text = httpx.get(f"{live_server.url}/metrics").text
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values["threadcast_connections"] == 1
    assert values["threadcast_events_delivered_total"] >= 1
    assert values["threadcast_identity_reads_total"] >= 1
    assert values["threadcast_delivery_lag_seconds_count"] >= 1
    httpx.get(stream_url(live_server.url, world.topic))  # no token: rejected
    text = httpx.get(f"{live_server.url}/metrics").text
    assert 'threadcast_rejected_requests_total{reason="unauthorized"} 1.0' in text
    reader.close()


def test_readyz_reports_a_listener_that_cannot_connect(database_url: str) -> None:
    server = start_server(database_url)
    try:
        server.wait_listening()
        listener = server.server.config.app.state.listener
        listener.database_url = "postgresql://nobody@127.0.0.1:1/none"  # the next reconnect fails
        listener_conn_pid = listener.backend_pid
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("select pg_terminate_backend(%s)", (listener_conn_pid,))
        deadline = time.monotonic() + 10
        while (response := httpx.get(f"{server.url}/readyz")).status_code != 503:
            assert time.monotonic() < deadline, response.text
            time.sleep(0.05)
        assert response.json()["listener"]["connected"] is False
    finally:
        server.stop()


def _threadcast(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threadcast.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | env,
    )


def test_serve_refuses_an_unmigrated_database_naming_the_command(empty_database_url: str) -> None:
    env = {"DATABASE_URL": empty_database_url, "THREADCAST_JWT_SECRET": TEST_SECRET}
    result = _threadcast("serve", "--port", "1", env=env)
    assert result.returncode == 2
    assert "threadcast migrate" in result.stderr


def test_token_command_signs_with_the_configured_secret(world: World) -> None:
    issued_after = time.time()
    result = _threadcast(
        "token",
        "--sub",
        str(world.agent),
        "--ttl",
        "60",
        env={"THREADCAST_JWT_SECRET": TEST_SECRET},
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(world.agent)
    # The token lives at least the 60 s asked for, and at most a second more (`exp` is whole).
    assert issued_after + 60 <= claims["exp"] <= time.time() + 61


def test_migrate_command_brings_an_empty_database_to_head(empty_database_url: str) -> None:
    from threadcast import migrations

    result = _threadcast("migrate", "--database-url", empty_database_url, env={})
    assert result.returncode == 0, result.stderr
    assert migrations.is_current(empty_database_url)


def test_json_logs_carry_the_extra_fields() -> None:
    import logging

    from threadcast.logs import JsonFormatter

    record = logging.LogRecord(
        "threadcast.stream", logging.INFO, "", 0, "stream opened", None, None
    )
    record.channel = "ticket-threads:x"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "stream opened"
    assert entry["level"] == "info"
    assert entry["channel"] == "ticket-threads:x"
    assert entry["ts"].endswith("Z")


def test_the_server_runs_as_its_own_unprivileged_login_role(
    database_url: str, world: World, conn: psycopg.Connection
) -> None:
    """Everything it needs is granted to `threadcast` by the migrations; no superuser."""
    assert "postgres@" in database_url
    server = start_server(database_url.replace("postgres@", "threadcast@", 1))
    try:
        reader = subscribe(server, world, world.customer)
        add_note(conn, world, "relayed by the threadcast role")
        reader.wait_for(lambda _: reader.bodies() == ["relayed by the threadcast role"])
        role = conn.execute(
            "select distinct usename from pg_stat_activity"
            " where application_name = 'threadcast-listener' and datname = current_database()"
        ).fetchall()
        assert role == [("threadcast",)]
        reader.close()
    finally:
        server.stop()


def test_metrics_time_the_garbage_collectors_full_passes(live_server: RunningServer) -> None:
    def full_passes() -> float:
        text = httpx.get(f"{live_server.url}/metrics").text
        line = next(
            x for x in text.splitlines()
            if x.startswith('threadcast_gc_pause_seconds_count{generation="2"}')
        )  # fmt: skip
        return float(line.split(" ")[1])

    before = full_passes()
    gc.collect()  # the server runs in this process: its collector is this one
    gc.collect()
    assert full_passes() >= before + 2
