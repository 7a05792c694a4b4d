"""Who may do what: the tables' RLS, and the same rules on the realtime log (live reads,
replays, DELETE events, AI status)."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from tests.support import World, as_user, head, read_as

USERS = ("customer", "agent", "other_agent", "stranger")

# (object, operation) -> the users allowed, checked for every user.
TABLE_MATRIX: dict[tuple[str, str], set[str]] = {
    ("ticket", "select"): {"customer", "agent"},
    ("ticket", "insert"): {"customer", "agent"},  # a ticket in org A requested by the customer
    ("ticket", "update"): {"customer", "agent"},
    ("ticket", "delete"): {"agent"},
    ("thread", "select"): {"customer", "agent"},
    ("thread", "insert"): {"customer", "agent"},
    ("thread", "update"): {"customer", "agent"},
    ("thread", "delete"): {"agent"},
    ("note", "select"): {"customer", "agent"},
    ("note", "insert"): {"customer", "agent"},
    ("note", "update"): {"agent"},  # the agent wrote it; customers edit only their own
    ("note", "delete"): {"agent"},
    ("internal note", "select"): {"agent"},
    ("internal note", "insert"): {"agent"},
    ("internal note", "update"): {"agent"},
    ("internal note", "delete"): {"agent"},
}


def attempt(cur: psycopg.Cursor, w: World, me, obj: str, op: str) -> bool:
    """Try the operation as the current user; True if it took effect."""
    table, row_id, internal = {
        "ticket": ("tickets", w.ticket, None),
        "thread": ("ticket_threads", w.thread, None),
        "note": ("ticket_notes", w.public_note, False),
        "internal note": ("ticket_notes", w.internal_note, True),
    }[obj]
    try:
        with cur.connection.transaction():
            if op == "select":
                cur.execute(f"select 1 from {table} where id = %s", (row_id,))
                return cur.fetchone() is not None
            if op == "update":
                column = "body" if table == "ticket_notes" else "subject"
                cur.execute(f"update {table} set {column} = 'changed' where id = %s", (row_id,))
                return cur.rowcount == 1
            if op == "delete":
                cur.execute(f"delete from {table} where id = %s", (row_id,))
                return cur.rowcount == 1
            if table == "tickets":
                cur.execute(
                    "insert into tickets (org_id, requester_id, subject) values (%s, %s, 'new')",
                    (w.org_a, w.customer),
                )
            elif table == "ticket_threads":
                cur.execute(
                    "insert into ticket_threads (ticket_id, subject, created_by)"
                    " values (%s, 'new', %s)",
                    (w.ticket, me),
                )
            else:
                cur.execute(
                    "insert into ticket_notes (thread_id, ticket_id, author_id, body, internal)"
                    " values (%s, %s, %s, 'new', %s)",
                    (w.thread, w.ticket, me, internal),
                )
            return True
    except psycopg.errors.InsufficientPrivilege:
        return False


@pytest.mark.parametrize(("obj", "op"), list(TABLE_MATRIX))
def test_table_rls_matrix(conn: psycopg.Connection, world: World, obj: str, op: str) -> None:
    allowed = set()
    for name in USERS:
        me = getattr(world, name)
        with as_user(conn, me) as cur:
            if attempt(cur, world, me, obj, op):
                allowed.add(name)
    assert allowed == TABLE_MATRIX[(obj, op)]


# The log: which events each user reads, live and on replay.
EVENTS = (
    "thread insert",
    "note insert",
    "internal note insert",
    "note delete",
    "internal note delete",
    "ai_status",
)
LOG_MATRIX = {
    "customer": {"thread insert", "note insert", "note delete", "ai_status"},
    "agent": set(EVENTS),
    "other_agent": set(),
    "stranger": set(),
}


def write_events(conn: psycopg.Connection, w: World) -> None:
    conn.execute(
        "insert into ticket_threads (id, ticket_id, subject, created_by)"
        " values ('00000000-0000-0000-0000-00000000e001', %s, 'thread insert', %s)",
        (w.ticket, w.agent),
    )
    for body, internal in (("note insert", False), ("internal note insert", True)):
        conn.execute(
            "insert into ticket_notes (thread_id, ticket_id, author_id, body, internal)"
            " values (%s, %s, %s, %s, %s)",
            (w.thread, w.ticket, w.agent, body, internal),
        )
    conn.execute("update ticket_notes set body = 'note delete' where id = %s", (w.public_note,))
    conn.execute(
        "update ticket_notes set body = 'internal note delete' where id = %s", (w.internal_note,)
    )
    start = head(conn)  # the two updates above are not part of the matrix
    conn.execute("delete from ticket_notes where id in (%s, %s)", (w.public_note, w.internal_note))
    conn.execute(
        "select set_config('request.jwt.claims', %s, false)", (json.dumps({"sub": str(w.agent)}),)
    )
    conn.execute("select set_thread_ai_status(%s, 'started')", (w.thread,))
    return start


def label(event: str, payload: dict) -> str:
    if event == "ai_status":
        return "ai_status"
    row = payload["old"] if payload["eventType"] == "DELETE" else payload["new"]
    return row.get("body") or row.get("subject")


def visible_as(conn: psycopg.Connection, user, after: tuple[int, int]) -> set[str]:
    return {label(r["event"], r["payload"]) for r in read_as(conn, user, after)}


@pytest.mark.parametrize("name", USERS)
def test_log_matrix_live_and_replay(conn: psycopg.Connection, world: World, name: str) -> None:
    before = head(conn)
    deletes_from = write_events(conn, world)
    expected = LOG_MATRIX[name]
    user = getattr(world, name)
    # Replay: everything since a cursor taken before the writes.
    assert visible_as(conn, user, before) == expected
    # Live: only the newest batch (the deletes and the AI event).
    live_expected = expected & {"note delete", "internal note delete", "ai_status"}
    assert visible_as(conn, user, deletes_from) == live_expected


def test_table_and_log_agree_on_every_note(conn: psycopg.Connection, world: World) -> None:
    before = head(conn)
    for i in range(6):
        conn.execute(
            "insert into ticket_notes (thread_id, ticket_id, author_id, body, internal)"
            " values (%s, %s, %s, %s, %s)",
            (world.thread, world.ticket, world.agent, f"n{i}", i % 2 == 0),
        )
    for name in USERS:
        user = getattr(world, name)
        with as_user(conn, user) as cur:
            cur.execute("select body from ticket_notes where body like 'n_'")
            in_table = {r["body"] for r in cur.fetchall()}
        in_log = visible_as(conn, user, before)
        assert in_table == in_log, name


# Presence: who may track on the ticket's channel, and who sees which presence (the channel's
# authorize function and presence rule, as realtime.track() and read_presence() apply them).
PRESENCE_STATES = {
    "viewing": {"name": "x"},
    "typing a reply": {"typing": True, "internal": False},
    "composing internal": {"typing": True, "internal": True},
    "internal, malformed": {"typing": True, "internal": "yes"},
    "internal null": {"typing": True, "internal": None},
}
PRESENCE_MATRIX = {
    "customer": {"viewing", "typing a reply", "internal null"},
    "agent": set(PRESENCE_STATES),
    "other_agent": set(),
    "stranger": set(),
}
TRACKERS = {"customer", "agent"}  # who may track on the ticket's channel (who may read it)


def track_as(conn: psycopg.Connection, w: World, name: str, state: dict) -> str:
    return conn.execute(
        "select realtime.track('authenticated', %s, null, 'ticket-threads:', %s, %s, %s,"
        " %s::jsonb, interval '1 minute', 100)",
        (str(getattr(w, name)), str(w.ticket), uuid.uuid4(), uuid.uuid4(), json.dumps(state)),
    ).fetchone()[0]


def test_presence_matrix(conn: psycopg.Connection, world: World) -> None:
    """Every user tracks each state; each user reads the channel's presences as itself."""
    outcomes = {name: track_as(conn, world, name, {"probe": name}) for name in USERS}
    assert {n for n, o in outcomes.items() if o == "ok"} == TRACKERS
    assert {o for n, o in outcomes.items() if n not in TRACKERS} == {"forbidden"}
    conn.execute("delete from realtime.presences")
    for label, state in PRESENCE_STATES.items():
        assert track_as(conn, world, "agent", state | {"label": label}) == "ok"
    requests = [
        {"role": "authenticated", "sub": str(getattr(world, name)), "topics": [world.topic]}
        for name in USERS
    ]
    rows = conn.execute(
        "select request, state from realtime.read_presence(%s::jsonb)", (json.dumps(requests),)
    ).fetchall()
    seen = {name: set() for name in USERS}
    for request, state in rows:
        seen[USERS[request]].add(json.loads(state)["label"])
    assert seen == PRESENCE_MATRIX
