"""The change payload the triggers build, field by field, for threads and notes."""

from __future__ import annotations

import datetime as dt

import psycopg

from tests.support import World, add_note, head, read_log


def newest(conn: psycopg.Connection, after: tuple[int, int]) -> list[dict]:
    return [e["payload"] | {"_topic": e["topic"]} for e in read_log(conn, after)]


def note_row(conn: psycopg.Connection, note_id) -> dict:
    row = conn.execute(
        "select to_jsonb(n) from ticket_notes n where id = %s", (note_id,)
    ).fetchone()
    assert row is not None
    return row[0]


def test_note_insert_payload(conn: psycopg.Connection, world: World) -> None:
    start = head(conn)
    note_id = add_note(conn, world, "hello")
    [event] = newest(conn, start)
    assert set(event) == {
        "schema",
        "table",
        "commit_timestamp",
        "eventType",
        "new",
        "old",
        "errors",
        "_topic",
    }
    assert event["schema"] == "public"
    assert event["table"] == "ticket_notes"
    assert event["eventType"] == "INSERT"
    assert event["new"] == note_row(conn, note_id)
    assert event["new"]["body"] == "hello"
    assert event["old"] is None
    assert event["errors"] is None
    assert event["_topic"] == f"ticket-threads:{world.ticket}"
    stamp = dt.datetime.fromisoformat(event["commit_timestamp"])
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 60


def test_note_update_payload_carries_the_full_old_row(
    conn: psycopg.Connection, world: World
) -> None:
    before = note_row(conn, world.public_note)
    start = head(conn)
    conn.execute("update ticket_notes set body = 'edited' where id = %s", (world.public_note,))
    [event] = newest(conn, start)
    assert event["eventType"] == "UPDATE"
    assert event["old"] == before
    assert event["new"] == note_row(conn, world.public_note)
    assert event["new"]["body"] == "edited"
    assert event["new"]["version"] == before["version"] + 1


def test_note_delete_payload_has_empty_new_and_the_old_row(
    conn: psycopg.Connection, world: World
) -> None:
    before = note_row(conn, world.internal_note)
    start = head(conn)
    conn.execute("delete from ticket_notes where id = %s", (world.internal_note,))
    [event] = newest(conn, start)
    assert event["eventType"] == "DELETE"
    assert event["new"] == {}
    assert event["old"] == before
    assert event["_topic"] == f"ticket-threads:{world.ticket}"


def test_thread_insert_update_delete_payloads(conn: psycopg.Connection, world: World) -> None:
    start = head(conn)
    thread_id = conn.execute(
        "insert into ticket_threads (ticket_id, subject, created_by) values (%s, 'New', %s)"
        " returning id",
        (world.ticket, world.agent),
    ).fetchone()[0]
    conn.execute("update ticket_threads set status = 'resolved' where id = %s", (thread_id,))
    conn.execute("delete from ticket_threads where id = %s", (thread_id,))
    events = newest(conn, start)
    assert [(e["table"], e["eventType"]) for e in events] == [
        ("ticket_threads", "INSERT"),
        ("ticket_threads", "UPDATE"),
        ("ticket_threads", "DELETE"),
    ]
    insert, update, delete = events
    assert insert["new"]["subject"] == "New" and insert["old"] is None
    assert update["old"]["status"] == "open" and update["new"]["status"] == "resolved"
    assert delete["new"] == {} and delete["old"]["id"] == str(thread_id)
    assert [set(e["new"]) for e in (insert, update)] == 2 * [
        {
            "id",
            "ticket_id",
            "subject",
            "status",
            "created_by",
            "created_at",
            "updated_at",
            "version",
        }
    ]


def test_a_100_row_statement_gives_100_events_in_order(
    conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    conn.execute(
        "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
        " select %s, %s, %s, 'bulk ' || i from generate_series(1, 100) as i",
        (world.thread, world.ticket, world.agent),
    )
    events = newest(conn, start)
    assert [e["new"]["body"] for e in events] == [f"bulk {i}" for i in range(1, 101)]


def test_deleting_a_thread_cascades_delete_events_for_its_notes(
    conn: psycopg.Connection, world: World
) -> None:
    start = head(conn)
    conn.execute("delete from ticket_threads where id = %s", (world.thread,))
    events = newest(conn, start)
    deleted = sorted((e["table"], e["old"]["id"]) for e in events if e["eventType"] == "DELETE")
    assert deleted == sorted(
        [
            ("ticket_notes", str(world.public_note)),
            ("ticket_notes", str(world.internal_note)),
            ("ticket_threads", str(world.thread)),
        ]
    )
