"""Bad input to the SQL API fails with a clear message and changes nothing."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from tests.support import World, as_user


def counts(conn: psycopg.Connection) -> tuple:
    return conn.execute(
        "select (select count(*) from realtime.messages),"
        " (select count(*) from thread_ai_status),"
        " (select coalesce(string_agg(status || ':' || coalesce(progress, -1), ','), '')"
        "  from thread_ai_status)"
    ).fetchone()


@pytest.mark.parametrize(
    ("status", "progress", "error", "message"),
    [
        ("dreaming", None, None, "invalid AI status 'dreaming'"),
        (None, None, None, "invalid AI status null"),
        ("processing", -1, None, "invalid AI progress -1"),
        ("processing", 101, None, "invalid AI progress 101"),
        ("completed", None, "boom", "only allowed with status failed"),
    ],
)
def test_invalid_ai_status_is_rejected_and_changes_nothing(
    conn: psycopg.Connection, world: World, status, progress, error, message
) -> None:
    conn.execute(
        "select set_config('request.jwt.claims', %s, false)",
        (json.dumps({"sub": str(world.agent)}),),
    )
    conn.execute("select set_thread_ai_status(%s, 'started')", (world.thread,))
    before = counts(conn)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
        conn.execute(
            "select set_thread_ai_status(%s, %s, %s, %s)", (world.thread, status, progress, error)
        )
    assert counts(conn) == before


@pytest.mark.parametrize("who", ["stranger", "other_agent", "nonexistent thread"])
def test_ai_status_for_a_thread_the_caller_cannot_see_is_refused(
    conn: psycopg.Connection, world: World, who: str
) -> None:
    user = world.agent if who == "nonexistent thread" else getattr(world, who)
    thread = uuid.uuid4() if who == "nonexistent thread" else world.thread
    before = counts(conn)
    refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="not visible to you")
    with as_user(conn, user) as cur, refused:
        cur.execute("select set_thread_ai_status(%s, 'started')", (thread,))
    assert counts(conn) == before


def test_a_stale_version_fails_with_tc409_and_changes_nothing(
    conn: psycopg.Connection, world: World
) -> None:
    conn.execute(
        "update ticket_notes set body = 'v2', version = 1 where id = %s", (world.public_note,)
    )
    before = conn.execute(
        "select body, version from ticket_notes where id = %s", (world.public_note,)
    ).fetchone()
    assert before == ("v2", 2)
    log_before = counts(conn)
    with pytest.raises(psycopg.Error, match="stale version") as stale:
        conn.execute(
            "update ticket_notes set body = 'lost', version = 1 where id = %s", (world.public_note,)
        )
    assert stale.value.sqlstate == "TC409"
    assert (
        conn.execute(
            "select body, version from ticket_notes where id = %s", (world.public_note,)
        ).fetchone()
        == before
    )
    assert counts(conn) == log_before


@pytest.mark.parametrize(
    ("setup", "call", "message"),
    [
        (
            "create table public.no_pk (a int)",
            "select realtime.enable('public.no_pk', 'x:{a}',"
            " 'public.note_visible(public.ticket_notes)')",
            "has no primary key",
        ),
        (
            None,
            "select realtime.enable('public.ticket_notes', 'x:{nope}',"
            " 'public.note_visible(public.ticket_notes)')",
            "names column nope",
        ),
        (
            None,
            "select realtime.enable('public.ticket_notes', 'x:{ticket_id',"
            " 'public.note_visible(public.ticket_notes)')",
            "malformed topic template",
        ),
        (
            None,
            "select realtime.enable('public.ticket_notes', 'x:{ticket_id}',"
            " 'public.thread_visible(public.ticket_threads)')",
            "must take one public.ticket_notes row and return boolean",
        ),
        (
            "create view public.v as select * from public.ticket_notes",
            "select realtime.enable('public.v', 'x:{ticket_id}',"
            " 'public.note_visible(public.ticket_notes)')",
            "is not a table",
        ),
        (None, "select realtime.send('t', 'system', '{}')", "invalid event name"),
        (None, "select realtime.send('t', 'Bad Name', '{}')", "invalid event name"),
        (None, "select realtime.send('t', 'custom', '[1]')", "payload must be a JSON object"),
        (None, "select realtime.send('', 'custom', '{}')", "topic must not be empty"),
        (None, "select realtime.prune(interval '-1 day')", "keep must be a non-negative"),
    ],
)
def test_engine_functions_reject_bad_input_clearly(
    conn: psycopg.Connection, setup: str | None, call: str, message: str
) -> None:
    if setup:
        conn.execute(setup)
    enabled_before = conn.execute("select count(*) from realtime.tables").fetchone()
    with pytest.raises(psycopg.Error, match=message):
        conn.execute(call)
    assert conn.execute("select count(*) from realtime.tables").fetchone() == enabled_before


def test_users_cannot_forge_events(conn: psycopg.Connection, world: World) -> None:
    with as_user(conn, world.agent) as cur, pytest.raises(psycopg.errors.InsufficientPrivilege):
        cur.execute("select realtime.send('ticket-threads:x', 'custom', '{}')")
    with as_user(conn, world.agent) as cur, pytest.raises(psycopg.errors.InsufficientPrivilege):
        cur.execute("insert into realtime.messages (topic, event, payload) values ('t', 'x', '{}')")


def test_users_cannot_generate_capture_functions(conn: psycopg.Connection, world: World) -> None:
    for call in (
        "select realtime.create_capture_function('public.ticket_notes', '{x}', 'INSERT')",
        "select realtime.topic_sql('public.ticket_notes', '{x}', 'r')",
    ):
        with as_user(conn, world.agent) as cur, pytest.raises(psycopg.errors.InsufficientPrivilege):
            cur.execute(call)


def test_capture_functions_are_made_for_insert_delete_and_update_only(
    conn: psycopg.Connection,
) -> None:
    for operation in ("TRUNCATE", "insert", None):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="INSERT, DELETE or UPDATE"):
            conn.execute(
                "select realtime.create_capture_function('public.ticket_notes', '{x}', %s)",
                (operation,),
            )
