"""realtime.summarize(): keeps the log's BRIN index summarized so tick() stays fast, and never
waits for a lock that VACUUM or another replica holds."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.support import World, add_note, as_user


def summarize(conn: psycopg.Connection) -> int | None:
    with conn.transaction():
        conn.execute("set local role threadcast")
        return conn.execute("select realtime.summarize()").fetchone()[0]


def test_summarize_summarizes_new_ranges_then_has_nothing_to_do(
    conn: psycopg.Connection, world: World
) -> None:
    # Enough incompressible 1.3 KB rows to fill more than one 128-page range.
    conn.execute(
        "insert into realtime.messages (topic, event, payload)"
        " select 'bulk', 'e', jsonb_build_object('pad', (select string_agg(md5(random()::text),"
        " '') from generate_series(1, 40) as r (i) where g.n > 0))"
        " from generate_series(1, 1000) as g (n)"
    )
    assert summarize(conn) >= 1
    assert summarize(conn) == 0


def test_summarize_gives_up_at_once_when_the_lock_is_taken(
    conn: psycopg.Connection, database_url: str, world: World
) -> None:
    add_note(conn, world, "x")
    with psycopg.connect(database_url) as vacuum_like:
        vacuum_like.execute("lock table realtime.messages in share update exclusive mode")
        assert summarize(conn) is None


def test_users_cannot_call_summarize(conn: psycopg.Connection, world: World) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_user(conn, world.agent) as cur:
        cur.execute("select realtime.summarize()")


def test_tick_finds_every_event_in_unsummarized_ranges(
    conn: psycopg.Connection, world: World
) -> None:
    # Autosummarize is off (migration 0006): between the relay's summarize() calls
    # new 8-page ranges are unsummarized, and tick() must still find every row in them.
    start = conn.execute("select realtime.tick()").fetchone()[0]
    for batch in range(20):  # 20 transactions x 50 rows of ~1.3 KB: well over 8 pages
        conn.execute(
            "insert into realtime.messages (topic, event, payload)"
            " select 'bulk', 'e', jsonb_build_object('pad', repeat(md5(%s || g::text), 40))"
            " from generate_series(1, 50) as g",
            (str(batch),),
        )
    head = conn.execute("select realtime.tick()").fetchone()[0]
    found = conn.execute(
        "select count(*) from realtime.positions_after(%s, 0, %s) p"
        " join realtime.messages m using (id) where m.topic = 'bulk'",
        (start, head),
    ).fetchone()[0]
    assert found == 1000
    pages = conn.execute("select pg_relation_size('realtime.messages') / 8192").fetchone()[0]
    assert pages > 16


def test_the_dispatch_functions_never_scan_the_whole_log_even_before_analyze(
    conn: psycopg.Connection, world: World
) -> None:
    """A plan made while the log is small and never analyzed (a new install) is cached for the
    session; it must still use the indexes, or every dispatch cycle costs a scan of the log
    (migration 0006 part 2). auto_explain shows the plans each call really ran."""
    for batch in range(30):  # 3,000 rows in 30 transactions, never analyzed
        conn.execute(
            "insert into realtime.messages (topic, event, payload)"
            " select 'bulk', 'e', jsonb_build_object('pad', repeat(md5(%s || g::text), 10))"
            " from generate_series(1, 100) as g",
            (str(batch),),
        )
    conn.execute("select realtime.summarize(), realtime.tick()")  # the bulk is history now
    plans: list[str] = []
    conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
    conn.execute("load 'auto_explain'")
    for setting in (
        "auto_explain.log_min_duration = 0",
        "auto_explain.log_nested_statements = on",
        "auto_explain.log_analyze = on",
        "auto_explain.log_level = notice",
    ):
        conn.execute(f"set {setting}")
    position = conn.execute("select tick_id, id from realtime.head()").fetchone()
    for _ in range(8):  # past PL/pgSQL's first five custom plans, onto the cached one
        add_note(conn, world, "n")
        rows = conn.execute(
            "select tick_id, id from realtime.advance(%s, %s, 100)", position
        ).fetchall()
        position = rows[-1]
        conn.execute(
            "select * from realtime.read_batch(%s)",
            (f'[{{"role": "authenticated", "sub": "{world.agent}", "ids": [{position[1]}]}}]',),
        )
    conn.execute("reset auto_explain.log_min_duration")
    text = "\n".join(plans)
    assert "Seq Scan on messages" not in text and "Seq Scan on ticks" not in text
    # tick()'s scans recheck a few recent pages, not the 3,000 rows behind them.
    lossy = [int(n) for n in re.findall(r"Heap Blocks: (?:exact=\d+ )?lossy=(\d+)", text)]
    assert lossy and max(lossy) <= 24, lossy
