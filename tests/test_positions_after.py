"""realtime.positions_after() pages through ticks of any size: every cursor, page size and topic
filter gives exactly what one ordered statement over the whole log gives (the definition the
paged function replaced, kept here as the reference), and walking page by page from any
cursor yields the log once, in order. Tick sizes and page sizes sit just under, at and just
over each other."""

from __future__ import annotations

import psycopg
import pytest

from tests.support import World

# The baseline's positions_after(), one statement: the order and the rows it returns define the
# function's contract. Since realtime_0007 each row also carries its change's schema, table and
# eventType, as its payload has them (null for events that are not changes).
REFERENCE = """
select t.tick_id, m.id, m.topic, m.event,
       case when m.event = 'postgres_changes' then m.payload ->> 'schema' end,
       case when m.event = 'postgres_changes' then m.payload ->> 'table' end,
       case when m.event = 'postgres_changes' then m.payload ->> 'eventType' end
  from realtime.ticks t
 cross join lateral unnest(t.message_ids) as u(id)
  join realtime.messages m on m.id = u.id
 where t.tick_id >= %(after_tick)s
   and t.tick_id <= %(upto_tick)s
   and (t.tick_id > %(after_tick)s or u.id > %(after_id)s)
   and (%(topics)s::text[] is null or m.topic = any (%(topics)s::text[]))
 order by t.tick_id, u.id
 limit %(limit)s
"""

# The paging itself is change_positions_after()'s (positions_after() returns its first four
# columns), so the reference is compared with it, change columns included.
PAGED = """
select * from realtime.change_positions_after(
    %(after_tick)s, %(after_id)s, %(upto_tick)s, %(topics)s::text[], %(limit)s)
"""

# Notes per tick, alternating between the two tickets' topics in the larger ticks; the empty
# tick and the tick of one are the edges, 999/1000/1001 straddle a 1,000-event page.
TICK_SIZES = (0, 1, 999, 1000, 1001, 2500, 3)
PAGE_SIZES = (1, 999, 1000, 1001, 5000)


@pytest.fixture
def log(conn: psycopg.Connection, world: World) -> dict[str, object]:
    """Ticks of TICK_SIZES over two topics; returns the topics and every tick's id range."""
    other_thread = conn.execute(
        "insert into ticket_threads (ticket_id, subject, created_by) values (%s, 'Other', %s)"
        " returning id",
        (world.other_ticket, world.stranger),
    ).fetchone()[0]
    conn.execute("select realtime.tick()")
    for size in TICK_SIZES:
        if size:
            conn.execute(
                "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
                " select %s, %s, %s, 'n' || i from generate_series(1, %s) as i",
                (world.thread, world.ticket, world.customer, size),
            )
            # Every third note of the larger ticks goes to the other ticket's topic.
            if size > 3:
                conn.execute(
                    "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
                    " select %s, %s, %s, 'o' || i from generate_series(1, %s) as i",
                    (other_thread, world.other_ticket, world.stranger, size // 3),
                )
        conn.execute("select realtime.tick()")
    topics = [f"ticket-threads:{world.ticket}", f"ticket-threads:{world.other_ticket}"]
    # Only these topics' events: the seed's tickets are events too, on org-tickets topics.
    ticks = conn.execute(
        "select t.tick_id, array(select m from unnest(t.message_ids) m"
        "  where m in (select id from realtime.messages where topic = any(%s)) order by m)"
        " from realtime.ticks t order by t.tick_id",
        (topics,),
    ).fetchall()
    return {"ticks": ticks, "topics": topics}


def cursors(ticks: list[tuple[int, list[int]]]) -> list[tuple[int, int]]:
    """Each tick's start, its ids' edges and middle (and a gap before its first: ids of the
    other topic, or of events not yet committed, fall between), and before the first tick."""
    out = [(ticks[0][0] - 1, 0)]
    for tick_id, ids in ticks:
        out.append((tick_id, 0))
        if ids:
            out.append((tick_id, ids[0] - 1))
        for index in sorted({0, len(ids) // 2, len(ids) - 2, len(ids) - 1}):
            if 0 <= index < len(ids):
                out.append((tick_id, ids[index]))
    return out


def test_every_cursor_page_and_filter_gives_the_reference(
    conn: psycopg.Connection, log: dict
) -> None:
    ticks, topics = log["ticks"], log["topics"]
    assert max(len(ids) for _, ids in ticks) > 3000  # the large tick is there
    upto = ticks[-1][0]
    compared = 0
    for after_tick, after_id in cursors(ticks):
        for limit in PAGE_SIZES:
            for filter_ in (None, topics[:1], topics, ["ticket-threads:nobody"]):
                params = {
                    "after_tick": after_tick,
                    "after_id": after_id,
                    "upto_tick": upto,
                    "topics": filter_,
                    "limit": limit,
                }
                expected = conn.execute(REFERENCE, params).fetchall()
                assert conn.execute(PAGED, params).fetchall() == expected, params
                compared += bool(expected)
    assert compared > 300


@pytest.mark.parametrize("limit", [1, 7, 999, 1000, 1001])
def test_walking_page_by_page_yields_the_log_once_in_order(
    conn: psycopg.Connection, log: dict, limit: int
) -> None:
    ticks, topics = log["ticks"], log["topics"]
    upto_tick = ticks[-1][0]
    everything = [(tick_id, id_) for tick_id, ids in ticks for id_ in ids]
    # A stop short of the end too: upto_tick bounds the walk.
    for upto in (upto_tick, ticks[-3][0]):
        expected = [(t, i) for t, i in everything if t <= upto]
        walked: list[tuple[int, int]] = []
        cursor = (ticks[0][0] - 1, 0)
        while True:
            page = conn.execute(
                PAGED,
                {
                    "after_tick": cursor[0],
                    "after_id": cursor[1],
                    "upto_tick": upto,
                    "topics": topics,
                    "limit": limit,
                },
            ).fetchall()
            assert len(page) <= limit
            if not page:
                break
            walked += [(t, i) for t, i, *_ in page]
            cursor = walked[-1]
            if limit == 1 and len(walked) > 50:
                break  # one event a page: the first 50 are enough to show the stepping
        assert walked == expected[: len(walked)]
        if limit > 1:
            assert walked == expected


def test_positions_carry_a_changes_kind_and_nothing_for_other_events(
    conn: psycopg.Connection, world: World
) -> None:
    """The hub matches bindings on these columns instead of parsing payloads: they must be the
    payload's own schema, table and eventType, and null for a custom event."""
    conn.execute("select realtime.tick()")
    start = conn.execute("select tick_id, id from realtime.head()").fetchone()
    conn.execute(
        "insert into ticket_notes (thread_id, ticket_id, author_id, body) values (%s, %s, %s, 'k')",
        (world.thread, world.ticket, world.customer),
    )
    conn.execute("update ticket_notes set body = 'k2' where body = 'k'")
    conn.execute("select realtime.send(%s, 'typing', '{\"schema\": \"public\"}')", (world.topic,))
    upto = conn.execute("select realtime.tick()").fetchone()[0]
    rows = conn.execute(
        "select p.event, p.change_schema, p.change_table, p.change_type, m.payload"
        "  from realtime.change_positions_after(%s, %s, %s) p join realtime.messages m using (id)"
        " order by p.tick_id, p.id",
        (start[0], start[1], upto),
    ).fetchall()
    changes = [r for r in rows if r[0] == "postgres_changes"]
    assert {r[3] for r in changes} >= {"INSERT", "UPDATE"}
    for _, schema, table, kind, payload in changes:
        assert (schema, table, kind) == (payload["schema"], payload["table"], payload["eventType"])
    assert [r[1:4] for r in rows if r[0] == "typing"] == [(None, None, None)]
