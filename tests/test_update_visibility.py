"""An UPDATE reveals its old row and its new one; each reader gets the variant of the event that
matches what they may see, and never a row they may not (migration 0004)."""

from __future__ import annotations

import psycopg
import pytest

from tests.support import World, as_user, head, read_as


def changes(conn: psycopg.Connection, user, after: tuple[int, int]) -> list[tuple]:
    """(eventType, new body or None, old body or None) of each note event `user` reads."""
    out = []
    for row in read_as(conn, user, after):
        p = row["payload"]
        if p["table"] != "ticket_notes":
            continue
        out.append((p["eventType"], (p["new"] or {}).get("body"), (p["old"] or {}).get("body")))
    return out


def test_publishing_an_internal_note_shows_the_customer_the_new_row_only(
    conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    conn.execute(
        "update ticket_notes set body = 'Cleaned up', internal = false where id = %s",
        (world.internal_note,),
    )
    assert changes(conn, world.customer, start) == [("UPDATE", "Cleaned up", None)]
    assert changes(conn, world.agent, start) == [("UPDATE", "Cleaned up", "Customer is VIP")]
    assert changes(conn, world.stranger, start) == []


def test_making_a_note_internal_deletes_it_for_the_customer(
    conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    conn.execute(
        "update ticket_notes set body = 'Now secret', internal = true where id = %s",
        (world.public_note,),
    )
    assert changes(conn, world.customer, start) == [("DELETE", None, "We are on it")]
    assert changes(conn, world.agent, start) == [("UPDATE", "Now secret", "We are on it")]


def test_a_plain_edit_is_one_update_for_everyone_who_sees_the_note(
    conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    conn.execute("update ticket_notes set body = 'Edited' where id = %s", (world.public_note,))
    for user in (world.customer, world.agent):
        assert changes(conn, user, start) == [("UPDATE", "Edited", "We are on it")]
    for user in (world.other_agent, world.stranger):
        assert changes(conn, user, start) == []


def test_a_note_moved_to_another_ticket_leaves_one_topic_and_appears_on_the_other(
    conn: psycopg.Connection, world: World
) -> None:
    other_thread = conn.execute(
        "insert into ticket_threads (ticket_id, subject, created_by) values (%s, 'B', %s)"
        " returning id",
        (world.other_ticket, world.other_agent),
    ).fetchone()[0]
    start = head(conn)
    conn.execute(
        "update ticket_notes set ticket_id = %s, thread_id = %s where id = %s",
        (world.other_ticket, other_thread, world.public_note),
    )
    topics = {
        r[0]: r[1]
        for r in conn.execute(
            "select payload ->> 'eventType' || coalesce(counterpart::text, ''), topic"
            " from realtime.messages where table_name = 'ticket_notes' order by id desc limit 3"
        ).fetchall()
    }
    assert topics["DELETE"] == world.topic  # the plain DELETE on the old topic
    # Org A's agent and the customer saw it on ticket T: for them it left.
    assert changes(conn, world.agent, start) == [("DELETE", None, "We are on it")]
    assert changes(conn, world.customer, start) == [("DELETE", None, "We are on it")]
    # Org B's agent never saw it: for them it appears, without the old row.
    assert changes(conn, world.other_agent, start) == [("UPDATE", "We are on it", None)]


def test_users_cannot_read_the_hidden_counterpart_column(
    conn: psycopg.Connection, world: World
) -> None:
    conn.execute(
        "update ticket_notes set body = 'Cleaned', internal = false where id = %s",
        (world.internal_note,),
    )
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        as_user(conn, world.customer) as cur,
    ):
        cur.execute("select counterpart from realtime.messages")
    with as_user(conn, world.customer) as cur:
        cur.execute("select payload from realtime.messages")
        assert "Customer is VIP" not in str(cur.fetchall())
