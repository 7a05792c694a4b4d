"""The log's order: out-of-order commits read exactly once, the same positions for every
reader, exact resume from any position, and no head-of-line blocking by long transactions."""

from __future__ import annotations

import threading

import psycopg
import pytest

from tests.support import World, add_note, head, read_log, tick


def positions(conn: psycopg.Connection, after=(0, 0)) -> list[tuple[int, int, str]]:
    return [(e["tick_id"], e["id"], e["payload"]["new"].get("body")) for e in read_log(conn, after)]


def test_out_of_order_commits_are_read_exactly_once(
    database_url: str, conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    with (
        psycopg.connect(database_url) as a,
        psycopg.connect(database_url) as b,
        psycopg.connect(database_url, autocommit=True) as replica,
    ):
        add_note(a, world, "A")  # A takes the smaller message id...
        add_note(b, world, "B")
        b.commit()  # ...but B commits first
        first = positions(conn, start)
        assert [body for *_, body in first] == ["B"]
        a.commit()
        everything = positions(conn, start)
        assert [body for *_, body in everything] == ["B", "A"]
        # A second reader (another server replica) sees the same positions.
        assert positions(replica, start) == everything

        # Resuming from any position gives exactly the rest.
        for index, (tick_id, message_id, _) in enumerate(everything):
            assert positions(conn, (tick_id, message_id)) == everything[index + 1 :]


def test_a_long_open_transaction_does_not_hold_back_other_events(
    database_url: str, conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    with psycopg.connect(database_url) as long_running:
        add_note(long_running, world, "slow batch job")
        for i in range(3):
            add_note(conn, world, f"quick {i}")
        assert [b for *_, b in positions(conn, start)] == ["quick 0", "quick 1", "quick 2"]
        long_running.commit()
    assert [b for *_, b in positions(conn, start)] == [
        "quick 0",
        "quick 1",
        "quick 2",
        "slow batch job",
    ]


def test_rolled_back_events_never_appear(
    database_url: str, conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    with psycopg.connect(database_url) as aborted:
        add_note(aborted, world, "never")
        aborted.rollback()
    add_note(conn, world, "kept")
    assert [b for *_, b in positions(conn, start)] == ["kept"]


def test_tick_refuses_repeatable_read(database_url: str) -> None:
    with psycopg.connect(database_url) as c:
        c.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with pytest.raises(psycopg.errors.ActiveSqlTransaction, match="read committed"):
            c.execute("select realtime.tick()")


def test_concurrent_ticks_never_duplicate_or_lose_events(
    database_url: str, conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    stop = threading.Event()

    def ticker() -> None:
        with psycopg.connect(database_url, autocommit=True) as c:
            while not stop.is_set():
                c.execute("select realtime.tick()")

    def writer(n: int) -> None:
        with psycopg.connect(database_url, autocommit=True) as c:
            for i in range(50):
                add_note(c, world, f"w{n}-{i}")

    tickers = [threading.Thread(target=ticker) for _ in range(3)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in tickers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in tickers:
        t.join()
    tick(conn)
    read = positions(conn, start)
    bodies = [b for *_, b in read]
    assert sorted(bodies) == sorted(f"w{n}-{i}" for n in range(4) for i in range(50))
    assert len({(t, m) for t, m, _ in read}) == len(read)
    assert [(t, m) for t, m, _ in read] == sorted((t, m) for t, m, _ in read)
    ticks = conn.execute("select tick_id from realtime.ticks order by tick_id").fetchall()
    assert [t for (t,) in ticks] == list(range(ticks[0][0], ticks[0][0] + len(ticks)))
