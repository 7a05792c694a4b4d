"""The wake-up throttle: writes wake listeners, but the database notifies about once per 50 ms
however many statements commit (realtime.wake(), sql/001_realtime_engine.sql)."""

from __future__ import annotations

import time

import psycopg

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
