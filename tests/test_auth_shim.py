"""Supabase-style policies run unchanged: where a database has no auth schema the engine creates
auth.uid(), auth.jwt() and auth.role() over the same claims as realtime.uid(), claims() and
role(); an existing auth schema is left alone; uninstalling removes only what the engine made.
A `sub` that is no uuid (Auth0's `auth0|...`) gives a null uid, never an error."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.chat import install_chat, visible_keys
from threadcast import migrations

UID = "0e5a1d2c-3b4f-4a6e-9c8d-7f6e5d4c3b2a"


def functions(conn: psycopg.Connection, schema: str) -> dict[str, str]:
    return {
        r[0]: r[1]
        for r in conn.execute(
            "select p.oid::regprocedure::text, pg_get_functiondef(p.oid) from pg_proc p"
            " where p.pronamespace = to_regnamespace(%s)",
            (schema,),
        )
    }


def identity(conn: psycopg.Connection, claims: dict | None, claim_sub: str | None = None) -> tuple:
    """auth.uid(), realtime.uid(), auth.jwt(), auth.role(), realtime.role() as `authenticated`
    with these claims (and, as PostgREST sets it, request.jwt.claim.sub)."""
    with conn.transaction(force_rollback=True):
        conn.execute("set local role authenticated")
        if claims is not None:
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        if claim_sub is not None:
            conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (claim_sub,))
        return conn.execute(
            "select auth.uid()::text, realtime.uid()::text, auth.jwt(), auth.role(),"
            " realtime.role(), auth.jwt() = realtime.claims()"
        ).fetchone()


def test_the_engine_creates_the_auth_shim_where_none_exists(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url, migrations.ENGINE_ONLY)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert sorted(functions(conn, "auth")) == ["auth.jwt()", "auth.role()", "auth.uid()"]
        comment = conn.execute("select obj_description('auth'::regnamespace)").fetchone()[0]
        assert comment.startswith("threadcast: ")
        claims = {"sub": UID, "role": "authenticated", "aud": "authenticated", "email": "a@b.c"}
        assert identity(conn, claims) == (UID, UID, claims, "authenticated", "authenticated", True)
        assert identity(conn, None) == (None, None, {}, None, None, True)


@pytest.mark.parametrize(
    ("sub", "uid"),
    [
        (UID, UID),
        (UID.upper(), UID),
        ("auth0|5f1c0ffee0ddba11", None),  # Auth0
        ("user_2abcDEF", None),  # Clerk
        ("", None),
        (UID[:-1], None),  # one short of a uuid
        (UID + "a", None),  # one over
        (f" {UID}", None),
        ("x" * 10_000, None),  # far over
        ("'; drop table chat.messages; --", None),
    ],
    ids=["uuid", "upper", "auth0", "clerk", "empty", "short", "long", "space", "huge", "sql"],
)
def test_a_sub_that_is_no_uuid_gives_a_null_uid_not_an_error(
    empty_database_url: str, sub: str, uid: str | None
) -> None:
    install_chat(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("insert into chat.workspaces values (1, 'w')")
        conn.execute("insert into chat.members values (1, %s, 'member')", (UID,))
        claims = {"sub": sub, "role": "authenticated"}
        assert identity(conn, claims)[:2] == (uid, uid)
        # As the server sets it too (request.jwt.claim.sub), it wins over the document.
        assert identity(conn, {"sub": UID}, claim_sub=sub)[:2] == (
            (uid, uid) if sub else (UID, UID)
        )
        # The chat's `user_id = auth.uid()` policies run: the row shows exactly for its owner.
        assert visible_keys(conn, sub, "members") == ({("1", UID)} if uid else set())


def test_an_existing_auth_schema_is_left_alone(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute(
            "create schema auth;"
            " create function auth.uid() returns uuid language sql stable"
            f" as $$ select '{UID}'::uuid $$;"
            " create table auth.users (id uuid primary key);"
        )
        before = functions(conn, "auth")
    migrations.upgrade(empty_database_url, migrations.ENGINE_ONLY)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert functions(conn, "auth") == before
        assert conn.execute("select obj_description('auth'::regnamespace)").fetchone() == (None,)
        assert conn.execute("select to_regclass('auth.users')").fetchone()[0] is not None
    migrations.downgrade(empty_database_url, "base")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert functions(conn, "auth") == before
        assert conn.execute("select to_regclass('auth.users')").fetchone()[0] is not None
        assert conn.execute("select to_regnamespace('realtime')").fetchone() == (None,)


def test_uninstalling_removes_the_shim_unless_policies_still_use_it(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    migrations.upgrade(url, migrations.ENGINE_ONLY)
    # Down one revision (realtime_0003 created it), then up again: gone, then back.
    migrations.downgrade(url, "realtime_0002")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select to_regnamespace('auth')").fetchone() == (None,)
    migrations.upgrade(url, migrations.ENGINE_ONLY)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "create table public.notes (id int primary key, owner uuid);"
            " alter table public.notes enable row level security;"
            " create policy own on public.notes for select using (owner = auth.uid());"
            " grant select on public.notes to authenticated;"
            f" insert into public.notes values (1, '{UID}'), (2, null);"
        )
    # The engine goes; the policy's auth.uid() stays, and works without it.
    migrations.downgrade(url, "base")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select to_regnamespace('realtime')").fetchone() == (None,)
        assert sorted(functions(conn, "auth")) == ["auth.jwt()", "auth.role()", "auth.uid()"]
        with conn.transaction(force_rollback=True):
            conn.execute("set local role authenticated")
            conn.execute(
                "select set_config('request.jwt.claims', %s, true)", (json.dumps({"sub": UID}),)
            )
            assert conn.execute("select id from public.notes").fetchall() == [(1,)]
        conn.execute("drop table public.notes")
    # Installed again, the engine finds an auth schema and leaves it; uninstalled, with no
    # policy using it any more, the shim goes.
    migrations.upgrade(url, migrations.ENGINE_ONLY)
    migrations.downgrade(url, "base")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select to_regnamespace('auth')").fetchone() == (None,)
