"""realtime.authorize(): a subscription checked as the user in one statement, agreeing with the
channel's own function called as that user."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.support import World, as_user, caller_after

PREFIX = "ticket-threads:"


def authorize(conn: psycopg.Connection, role: str, sub: object, argument: str) -> bool:
    with conn.transaction():
        conn.execute("set local role threadcast")
        row = conn.execute(
            "select realtime.authorize(%s, %s, %s, %s)", (role, str(sub), PREFIX, argument)
        ).fetchone()
    assert row is not None
    return row[0]


def test_authorize_agrees_with_the_channel_function_as_each_user(
    conn: psycopg.Connection, world: World
) -> None:
    users = [world.agent, world.customer, world.other_agent, world.stranger]
    for ticket in (world.ticket, world.other_ticket, uuid.uuid4()):
        for user in users:
            with as_user(conn, user) as cur:
                cur.execute("select public.can_read_ticket(%s) as allowed", (ticket,))
                expected = cur.fetchone()["allowed"] is True
            assert authorize(conn, "authenticated", user, str(ticket)) is expected, (user, ticket)
    # The matrix has teeth: both answers occur.
    assert authorize(conn, "authenticated", world.customer, str(world.ticket)) is True
    assert authorize(conn, "authenticated", world.customer, str(world.other_ticket)) is False


def test_authorize_gives_the_caller_its_role_and_claims_back(
    conn: psycopg.Connection, world: World
) -> None:
    after = caller_after(
        conn,
        "select realtime.authorize('authenticated', %s, %s, %s)",
        (str(world.agent), PREFIX, str(world.ticket)),
    )
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
def test_authorize_refuses_roles_that_are_not_for_users(
    conn: psycopg.Connection, world: World, role: str, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        authorize(conn, role, world.agent, str(world.ticket))


def test_authorize_rejects_unknown_prefixes_and_malformed_arguments(
    conn: psycopg.Connection, world: World
) -> None:
    with (
        pytest.raises(psycopg.errors.InvalidParameterValue, match="no channel prefix"),
        conn.transaction(),
    ):
        conn.execute("set local role threadcast")
        conn.execute(
            "select realtime.authorize('authenticated', %s, 'nope:', 'x')", (str(world.agent),)
        )
    # The server answers a DataError with 400 bad_channel.
    with pytest.raises(psycopg.errors.DataError):
        authorize(conn, "authenticated", world.agent, "not-a-uuid")


def test_users_cannot_call_authorize(conn: psycopg.Connection, world: World) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_user(conn, world.agent) as cur:
        cur.execute(
            "select realtime.authorize('authenticated', %s, %s, %s)",
            (str(world.agent), PREFIX, str(world.ticket)),
        )
