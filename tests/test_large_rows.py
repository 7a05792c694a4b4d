"""Rows of any size: the log carries them whole, and NOTIFY carries only empty wake-ups."""

from __future__ import annotations

import psycopg

from tests.support import World, add_note, head, read_as


def test_a_200_kb_note_goes_through_the_log_intact(conn: psycopg.Connection, world: World) -> None:
    body = "".join(chr(0x20 + (i * 7919) % 0x5F) for i in range(200_000)) + "\n\t\"'\\ end ✓"
    start = head(conn)
    add_note(conn, world, body)
    [row] = read_as(conn, world.customer, start)
    assert row["payload"]["new"]["body"] == body


def test_notify_carries_empty_wake_ups_whatever_the_row_size(
    database_url: str, conn: psycopg.Connection, world: World
) -> None:
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("listen threadcast_v1")
        for size in (10, 200_000, 1_000_000):
            conn.execute("select pg_sleep(0.06)")  # past the 50 ms wake-up throttle
            add_note(conn, world, "x" * size)
        payloads = [n.payload for n in listener.notifies(timeout=2, stop_after=3)]
    assert payloads == ["", "", ""]
