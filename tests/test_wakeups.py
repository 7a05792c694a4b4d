"""The wake-up throttle: writes wake listeners, but the database notifies about once per 50 ms
however many statements commit (realtime.wake(), migration 0001; the per-session
hint, migration 0007, kept per 50 ms interval since migration 0008)."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.support import World, add_note

CHANNEL = "threadcast_v1"


def notifications(listener: psycopg.Connection, wait: float) -> int:
    return sum(1 for _ in listener.notifies(timeout=wait))


def test_a_write_after_a_quiet_spell_wakes_listeners(
    database_url: str, conn: psycopg.Connection, world: World
) -> None:
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(f"listen {CHANNEL}")
        time.sleep(0.06)  # longer than the throttle's 50 ms since the last write
        add_note(conn, world, "wake up")
        assert notifications(listener, 1.0) == 1
        time.sleep(0.06)
        conn.execute("select realtime.send(%s, 'ai_status', '{}')", (world.topic,))
        assert notifications(listener, 1.0) == 1


def test_a_burst_of_commits_sends_about_one_wake_up_per_50_ms(
    database_url: str, conn: psycopg.Connection, world: World
) -> None:
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(f"listen {CHANNEL}")
        time.sleep(0.06)
        started = time.monotonic()
        for i in range(60):  # 60 transactions, each captured and each checking the throttle
            add_note(conn, world, f"burst {i}")
        elapsed_ms = (time.monotonic() - started) * 1000
        received = notifications(listener, 0.5)
    assert 1 <= received <= elapsed_ms / 50 + 2, (received, elapsed_ms)
    assert received < 60


def wake_row_reads(conn: psycopg.Connection) -> int:
    """Scans of realtime.wakeup by this session in its current transaction."""
    row = conn.execute(
        "select coalesce(seq_scan, 0) + coalesce(idx_scan, 0) from pg_stat_xact_user_tables"
        " where relid = 'realtime.wakeup'::regclass"
    ).fetchone()
    return row[0] if row else 0


def test_writers_read_the_shared_wake_up_row_about_once_per_50_ms_not_per_statement(
    conn: psycopg.Connection, world: World
) -> None:
    """Each session remembers the 50 ms interval it last looked in (migration 0008): reading the one
    shared row on every statement was a large part of a write's cost (migration 0007)."""
    statements = 60
    with conn.transaction():
        started = time.monotonic()
        for i in range(statements):
            add_note(conn, world, f"statement {i}")
        elapsed_ms = (time.monotonic() - started) * 1000
        reads = wake_row_reads(conn)
    # wake() runs once per 50 ms interval the statements touch (elapsed / 50 + 2 at most, as
    # they can start just before an interval ends) and reads the row up to three times
    # (check, lock, update).
    assert 1 <= reads <= 3 * (elapsed_ms / 50 + 2), (reads, elapsed_ms)
    assert reads < statements


@pytest.mark.parametrize(
    "hint",
    ["not a time", "", "99999999999999", "-1", "1e400", "9" * 200],
)
def test_a_forged_session_hint_neither_fails_writes_nor_stops_wake_ups(
    database_url: str, conn: psycopg.Connection, world: World, hint: str
) -> None:
    """realtime.wake_bucket is only a hint: any value a session sets is harmless."""
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(f"listen {CHANNEL}")
        time.sleep(0.06)
        conn.execute("select set_config('realtime.wake_bucket', %s, false)", (hint,))
        add_note(conn, world, "still wakes")
        assert notifications(listener, 1.0) == 1


def test_a_session_without_a_hint_honours_the_shared_row(
    database_url: str, conn: psycopg.Connection, world: World
) -> None:
    """A session that has never written, so has no hint of its own, does not notify while the
    shared row says another writer just did (the row is set well ahead, so no timing races)."""
    conn.execute(
        "update realtime.wakeup set notified_at = clock_timestamp() + interval '10 seconds'"
    )
    with (
        psycopg.connect(database_url, autocommit=True) as listener,
        psycopg.connect(database_url, autocommit=True) as fresh_writer,
    ):
        listener.execute(f"listen {CHANNEL}")
        add_note(fresh_writer, world, "another writer just woke everyone")
        assert notifications(listener, 0.3) == 0
        # The row says so, not the session: once it is old, the same session wakes.
        conn.execute("update realtime.wakeup set notified_at = '-infinity'")
        add_note(fresh_writer, world, "now it is this writer's turn")
        assert notifications(listener, 1.0) == 1
