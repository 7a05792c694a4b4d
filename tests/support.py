"""Deterministic fixtures and helpers shared by the tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row


def fixed_uuid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


class World:
    """Org A with an agent; a customer with ticket T in org A; org B with its own agent and
    ticket; a stranger. Ticket T has one thread with a public and an internal note."""

    org_a = fixed_uuid(0xA)
    org_b = fixed_uuid(0xB)
    customer = fixed_uuid(0xC1)
    agent = fixed_uuid(0xA1)
    other_agent = fixed_uuid(0xB1)
    stranger = fixed_uuid(0x51)
    ticket = fixed_uuid(0x7001)
    other_ticket = fixed_uuid(0x7002)
    thread = fixed_uuid(0x7101)
    public_note = fixed_uuid(0x7201)
    internal_note = fixed_uuid(0x7202)
    ticket_subject = "Printer on fire"

    @property
    def topic(self) -> str:
        return f"ticket-threads:{self.ticket}"


def seed_world(conn: psycopg.Connection) -> World:
    w = World()
    with conn.transaction():
        conn.execute(
            "insert into organizations (id, name) values (%s, 'Org A'), (%s, 'Org B')",
            (w.org_a, w.org_b),
        )
        conn.execute(
            "insert into users (id, display_name) values"
            " (%s, 'Customer'), (%s, 'Agent A'), (%s, 'Agent B'), (%s, 'Stranger')",
            (w.customer, w.agent, w.other_agent, w.stranger),
        )
        conn.execute(
            "insert into org_members (org_id, user_id) values (%s, %s), (%s, %s)",
            (w.org_a, w.agent, w.org_b, w.other_agent),
        )
        conn.execute(
            "insert into tickets (id, org_id, requester_id, subject) values"
            " (%s, %s, %s, %s), (%s, %s, %s, 'Other org ticket')",
            (w.ticket, w.org_a, w.customer, w.ticket_subject, w.other_ticket, w.org_b, w.stranger),
        )
        conn.execute(
            "insert into ticket_threads (id, ticket_id, subject, created_by)"
            " values (%s, %s, 'Diagnosis', %s)",
            (w.thread, w.ticket, w.agent),
        )
        conn.execute(
            "insert into ticket_notes (id, thread_id, ticket_id, author_id, body, internal) values"
            " (%s, %s, %s, %s, 'We are on it', false), (%s, %s, %s, %s, 'Customer is VIP', true)",
            (
                w.public_note,
                w.thread,
                w.ticket,
                w.agent,
                w.internal_note,
                w.thread,
                w.ticket,
                w.agent,
            ),
        )
    return w


@contextmanager
def as_user(conn: psycopg.Connection, user_id: uuid.UUID | None) -> Iterator[psycopg.Cursor]:
    """A transaction running as `authenticated` with the user's claims, rolled back after."""
    claims = {"role": "authenticated"} | ({"sub": str(user_id)} if user_id else {})
    with conn.transaction(force_rollback=True), conn.cursor(row_factory=dict_row) as cur:
        cur.execute("set local role authenticated")
        cur.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        yield cur


def tick(conn: psycopg.Connection) -> int:
    return conn.execute("select realtime.tick()").fetchone()[0]


def head(conn: psycopg.Connection) -> tuple[int, int]:
    """The newest position, after ticking: everything committed so far is before it."""
    tick(conn)
    row = conn.execute("select tick_id, id from realtime.head()").fetchone()
    assert row is not None
    return row[0], row[1]


def read_log(conn: psycopg.Connection, after: tuple[int, int] = (0, 0)) -> list[dict]:
    """Every event after a position, as the superuser (no RLS), in log order, as a reader who
    sees every row gets them: without the UPDATE variants for readers who see only the old or
    only the new row (migration 0004)."""
    with conn.cursor(row_factory=dict_row) as cur:
        head = tick(conn)
        cur.execute(
            "select p.tick_id, p.id, p.topic, p.event, m.payload"
            " from realtime.positions_after(%s, %s, %s) p join realtime.messages m using (id)"
            " where m.counterpart is null order by p.tick_id, p.id",
            (after[0], after[1], head),
        )
        return cur.fetchall()


def add_note(
    conn: psycopg.Connection,
    world: World,
    body: str,
    *,
    internal: bool = False,
    author: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert a note on the world's thread (as the superuser: triggers fire all the same)."""
    row = conn.execute(
        "insert into ticket_notes (thread_id, ticket_id, author_id, body, internal)"
        " values (%s, %s, %s, %s, %s) returning id",
        (world.thread, world.ticket, author or world.agent, body, internal),
    ).fetchone()
    assert row is not None
    return row[0]


def read_as(conn: psycopg.Connection, user: uuid.UUID, after: tuple[int, int]) -> list[dict]:
    """What `user` reads of the log after a position, in log order, the server's way:
    positions as the server, then payloads as the user, under RLS."""
    upto = head(conn)
    ids = [
        r[0]
        for r in conn.execute(
            "select id from realtime.positions_after(%s, %s, %s)", (*after, upto[0])
        ).fetchall()
    ]
    with as_user(conn, user) as cur:
        cur.execute("select id, event, payload from realtime.messages where id = any(%s)", (ids,))
        visible = {r["id"]: r for r in cur.fetchall()}
    return [visible[i] for i in ids if i in visible]


def caller_after(conn: psycopg.Connection, statement: str, params: tuple) -> tuple[str, str]:
    """Run `statement` as the server role with claims {"sub": "x"}, in one transaction; return
    (current_user, request.jwt.claims) after it: functions that switch to a user's role and
    claims must hand the caller's back."""
    with conn.transaction():
        conn.execute("set local role threadcast")
        conn.execute("select set_config('request.jwt.claims', '{\"sub\": \"x\"}', true)")
        conn.execute(statement, params).fetchall()
        row = conn.execute("select current_user, current_setting('request.jwt.claims')").fetchone()
    assert row is not None
    return row[0], row[1]


def seed_tickets(conn: psycopg.Connection, world: World, count: int) -> list[uuid.UUID]:
    """`count` more tickets of the world's customer in org A, which its agent may follow."""
    ids = [uuid.UUID(int=0x8000_0000 + n) for n in range(count)]
    with conn.cursor() as cur:
        cur.executemany(
            "insert into tickets (id, org_id, requester_id, subject) values (%s, %s, %s, %s)",
            [(t, world.org_a, world.customer, f"more tickets {n}") for n, t in enumerate(ids)],
        )
    return ids
