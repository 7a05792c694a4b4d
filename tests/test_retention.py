"""Retention: realtime.prune() drops old ticks and their events; cursors into them expire."""

from __future__ import annotations

import psycopg

from tests.support import World, add_note, head


def age_ticks(conn: psycopg.Connection, upto_tick: int, days: int) -> None:
    conn.execute(
        "update realtime.ticks set created_at = now() - make_interval(days => %s)"
        " where tick_id <= %s",
        (days, upto_tick),
    )


def test_prune_drops_old_ticks_and_their_events_only(
    conn: psycopg.Connection, world: World
) -> None:
    add_note(conn, world, "old")
    old = head(conn)
    add_note(conn, world, "new")
    new = head(conn)
    age_ticks(conn, old[0], days=3)
    deleted = conn.execute("select realtime.prune(interval '1 day')").fetchone()[0]
    assert deleted >= 1
    bodies = [
        r[0]
        for r in conn.execute(
            "select payload -> 'new' ->> 'body' from realtime.messages order by id"
        ).fetchall()
    ]
    assert "old" not in bodies
    assert "new" in bodies
    state = lambda t: conn.execute("select realtime.cursor_state(%s)", (t,)).fetchone()[0]  # noqa: E731
    assert state(old[0] - 1) == "expired"
    assert state(new[0]) == "ok"
    assert state(new[0] + 100) == "unknown"


def test_prune_always_keeps_the_newest_tick(conn: psycopg.Connection, world: World) -> None:
    add_note(conn, world, "only")
    newest = head(conn)
    age_ticks(conn, newest[0], days=30)
    conn.execute("select realtime.prune(interval '0')")
    ticks = conn.execute("select tick_id from realtime.ticks").fetchall()
    assert ticks == [(newest[0],)]
    assert conn.execute("select realtime.cursor_state(%s)", (newest[0],)).fetchone()[0] == "ok"


def test_an_event_committed_late_survives_pruning_of_older_ticks(
    database_url: str, conn: psycopg.Connection, world: World
) -> None:
    with psycopg.connect(database_url) as long_running:
        add_note(long_running, world, "late")  # written early, committed late
        add_note(conn, world, "early")
        early = head(conn)
        long_running.commit()
    late = head(conn)
    assert late[0] > early[0]
    age_ticks(conn, early[0], days=3)
    conn.execute("select realtime.prune(interval '1 day')")
    rows = conn.execute(
        "select m.payload -> 'new' ->> 'body' from realtime.positions_after(%s, 0, %s) p"
        " join realtime.messages m using (id)",
        (early[0], late[0]),
    ).fetchall()
    assert rows == [("late",)]
