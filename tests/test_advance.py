"""realtime.advance(): one statement that ticks and returns the new positions, as the dispatcher
uses it, and the dispatcher reading past a full chunk."""

from __future__ import annotations

import psycopg
import pytest

from tests.servers import start_server
from tests.sse import subscribe
from tests.support import World, add_note, as_user, head, read_log


def advance(conn: psycopg.Connection, after: tuple[int, int], limit: int = 10000) -> list[tuple]:
    return conn.execute(
        "select head_tick, tick_id, id from realtime.advance(%s, %s, %s)", (*after, limit)
    ).fetchall()


def test_advance_returns_exactly_what_is_new_with_the_head_tick(
    conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    assert advance(conn, start) == []  # nothing committed since: no rows, and no new tick
    assert head(conn) == start
    for i in range(3):
        add_note(conn, world, f"n{i}")
    rows = advance(conn, start)
    expected = [(e["tick_id"], e["id"]) for e in read_log(conn, start)]
    # read_log hides UPDATE variants; these are inserts, so the log is the same either way.
    assert [(t, i) for _, t, i in rows] == expected
    assert len(expected) == 3
    assert {h for h, _, _ in rows} == {head(conn)[0]}
    # From the last position on, nothing more.
    assert advance(conn, (rows[-1][1], rows[-1][2])) == []


def test_advance_in_chunks_then_positions_after_cover_the_log_exactly_once(
    conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    for i in range(7):
        add_note(conn, world, f"c{i}")  # seven transactions
    first = advance(conn, start, limit=3)
    assert len(first) == 3
    head_tick = first[0][0]
    seen = [(t, i) for _, t, i in first]
    while True:
        rows = conn.execute(
            "select tick_id, id from realtime.positions_after(%s, %s, %s, null, 3)",
            (*seen[-1], head_tick),
        ).fetchall()
        if not rows:
            break
        seen.extend(rows)
    assert seen == [(e["tick_id"], e["id"]) for e in read_log(conn, start)]
    assert len(seen) == 7


def test_advance_is_for_the_server_only(conn: psycopg.Connection, world: World) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_user(conn, world.agent) as cur:
        cur.execute("select * from realtime.advance(0, 0, 10)")


def test_a_batch_larger_than_a_chunk_reaches_subscribers_whole_and_in_order(
    database_url: str, world: World, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("threadcast.hub.CHUNK", 3)
    server = start_server(database_url)
    try:
        agent = subscribe(server, world, world.agent)
        with conn.transaction():  # one transaction, one tick of 10 events: four chunks
            for i in range(10):
                add_note(conn, world, f"chunked {i}")
        agent.wait_for(lambda _: len(agent.bodies()) >= 10)
        assert agent.bodies() == [f"chunked {i}" for i in range(10)]
        metrics = server.server.config.app.state.metrics
        chunks = metrics.dispatch_seconds.labels(stage="positions")._sum.get()
        assert chunks > 0  # it read past the first chunk
        agent.close()
    finally:
        server.stop()
