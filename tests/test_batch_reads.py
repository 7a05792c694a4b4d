"""realtime.read_batch(): one statement reads a batch for many users, each under its own RLS,
and must agree exactly with reading as each user alone."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from tests.support import World, add_note, as_user, caller_after, read_as


def read_batch(conn: psycopg.Connection, requests: list[dict]) -> list[tuple[int, int, str]]:
    with conn.transaction():
        conn.execute("set local role threadcast")
        return conn.execute(
            "select request, id, payload from realtime.read_batch(%s)", (json.dumps(requests),)
        ).fetchall()


def test_read_batch_agrees_with_reading_as_each_user(
    conn: psycopg.Connection, world: World
) -> None:
    add_note(conn, world, "public")
    add_note(conn, world, "internal", internal=True)
    conn.execute("delete from ticket_notes where id = %s", (world.internal_note,))
    with conn.transaction():
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(world.agent)}),),
        )
        conn.execute("select public.set_thread_ai_status(%s, 'processing', 10)", (world.thread,))
    # The ticket's events (the seed's tickets are events of their orgs' inboxes too).
    ids = [
        r[0]
        for r in conn.execute(
            "select id from realtime.messages where topic = %s order by id", (world.topic,)
        ).fetchall()
    ]
    users = [world.agent, world.customer, world.other_agent, world.stranger, world.agent]
    rows = read_batch(conn, [{"role": "authenticated", "sub": str(u), "ids": ids} for u in users])

    payloads = {i: p for _, i, p in rows if p is not None}
    assert len(payloads) == len({i for _, i, _ in rows}), "every visible id carries its payload"
    assert len([p for _, _, p in rows if p is not None]) == len(payloads), "and only once"
    for n, user in enumerate(users):
        alone = [r for r in read_as(conn, user, (0, 0)) if r["id"] in ids]
        assert sorted(i for r, i, _ in rows if r == n) == sorted(r["id"] for r in alone)
        for row in alone:
            assert json.loads(payloads[row["id"]]) == row["payload"]
    # The matrix has teeth: the customer sees fewer events than the agent, the stranger none.
    seen = [sum(1 for r, _, _ in rows if r == n) for n in range(len(users))]
    assert seen[0] > seen[1] > 0 and seen[2] == seen[3] == 0


def test_read_batch_gives_the_caller_its_role_and_claims_back(
    conn: psycopg.Connection, world: World
) -> None:
    requests = [{"role": "authenticated", "sub": str(world.agent), "ids": [1]}]
    after = caller_after(conn, "select * from realtime.read_batch(%s)", (json.dumps(requests),))
    assert after == ("threadcast", '{"sub": "x"}')


@pytest.mark.parametrize(
    ("role", "error", "says"),
    [
        ("postgres", psycopg.errors.InsufficientPrivilege, "server.s own|without row-level"),
        ("threadcast", psycopg.errors.InsufficientPrivilege, "the server's own"),
        ("no_such_role", psycopg.errors.InvalidParameterValue, "no such role"),
        ("", psycopg.errors.InvalidParameterValue, "no such role"),
    ],
)
def test_read_batch_refuses_roles_that_are_not_for_users(
    conn: psycopg.Connection, world: World, role: str, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        read_batch(conn, [{"role": role, "sub": str(world.agent), "ids": [1]}])


def test_read_batch_reads_a_granted_role_with_the_whole_claims(
    conn: psycopg.Connection, world: World
) -> None:
    """A role the DBA made for users (THREADCAST_ALLOWED_ROLES) is read as itself, and RLS
    sees the token's claims: here a policy of its own over a claim only the token carries."""
    # Roles are the cluster's: made once, kept for the next run.
    conn.execute(
        "do $$ begin if not exists (select from pg_roles where rolname = 'support_desk')"
        " then create role support_desk nologin; end if; end $$"
    )
    conn.execute("grant usage on schema realtime to support_desk")
    conn.execute("grant select on realtime.messages to support_desk")
    conn.execute(
        "create policy desk on realtime.messages for select to support_desk"
        " using (realtime.claims() ->> 'desk' = 'blue')"
    )
    ids = [r[0] for r in conn.execute("select id from realtime.messages").fetchall()]
    base = {"role": "support_desk", "sub": str(world.agent), "ids": ids}
    blue = read_batch(conn, [base | {"claims": {"desk": "blue", "sub": "forged", "role": "x"}}])
    red = read_batch(conn, [base | {"claims": {"desk": "red"}}])
    plain = read_batch(conn, [base])
    assert {r[1] for r in blue} == set(ids) and ids
    assert red == [] and plain == []


def test_users_cannot_call_read_batch(conn: psycopg.Connection, world: World) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_user(conn, world.agent) as cur:
        cur.execute("select * from realtime.read_batch('[]')")


def test_a_sub_that_is_not_a_uuid_sees_nothing(conn: psycopg.Connection, world: World) -> None:
    ids = [r[0] for r in conn.execute("select id from realtime.messages").fetchall()]
    subs = ["not-a-uuid", "' or true --", str(uuid.uuid4())]
    rows = read_batch(conn, [{"role": "authenticated", "sub": s, "ids": ids} for s in subs])
    assert rows == []
