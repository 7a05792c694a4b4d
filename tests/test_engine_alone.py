"""The engine's canonical file (sql/realtime.sql) installs alone into a database that has
tables of its own, leaves them untouched, and makes one of them realtime under its own rule:
nothing of the ticket application is needed or created."""

from __future__ import annotations

import psycopg
import pytest

from threadcast import sqlfiles

APP_SCHEMA = """
create table public.orders (id bigint primary key, owner uuid not null, total numeric not null);
insert into public.orders values (1, 'a0000000-0000-4000-8000-000000000001', 10),
                                 (2, 'a0000000-0000-4000-8000-000000000002', 20);
"""

# The application's own rules, written after the engine exists (they call realtime.uid()).
APP_RULES = """
create function public.order_visible(o public.orders) returns boolean
language sql stable as $$ select o.owner = realtime.uid() $$;
create function public.can_watch(owner uuid) returns boolean
language sql stable as $$ select owner = realtime.uid() $$;
"""

OWNER = "a0000000-0000-4000-8000-000000000001"
STRANGER = "a0000000-0000-4000-8000-000000000002"


def tables(conn: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select relnamespace::regnamespace || '.' || relname from pg_class"
            " where relkind = 'r' and relnamespace = 'public'::regnamespace order by 1"
        )
    ]


def visible_to(conn: psycopg.Connection, sub: str) -> list[dict]:
    with conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (sub,))
        rows = conn.execute(
            "select payload from realtime.messages where event = 'postgres_changes' order by id"
        ).fetchall()
    return [r[0] for r in rows]


def test_the_engine_installs_alone_beside_existing_tables(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute(APP_SCHEMA)
        before = conn.execute("select * from public.orders order by id").fetchall()

        conn.execute(sqlfiles.read("realtime.sql"))
        conn.execute(APP_RULES)

        # Untouched, and nothing of the ticket application arrived.
        assert tables(conn) == ["public.orders"]
        assert conn.execute("select * from public.orders order by id").fetchall() == before
        assert conn.execute("select to_regclass('public.tickets')").fetchone() == (None,)

        conn.execute(
            "select realtime.enable('public.orders', 'orders:{owner}',"
            " 'public.order_visible(public.orders)')"
        )
        conn.execute("select realtime.register_channel('orders:', 'public.can_watch(uuid)')")
        conn.execute("grant select on public.orders to authenticated")
        conn.execute("insert into public.orders values (3, %s, 30)", (OWNER,))
        conn.execute("update public.orders set total = 31 where id = 3")
        conn.execute("delete from public.orders where id = 3")

        mine = visible_to(conn, OWNER)
        assert [(p["eventType"], (p["new"] or p["old"])["id"]) for p in mine] == [
            ("INSERT", 3),
            ("UPDATE", 3),
            ("DELETE", 3),
        ]
        assert mine[0]["new"]["total"] == 30 and mine[1]["new"]["total"] == 31
        assert visible_to(conn, STRANGER) == []
        topics = {r[0] for r in conn.execute("select distinct topic from realtime.messages")}
        assert topics == {f"orders:{OWNER}"}


def test_the_ticket_application_needs_the_engine_first(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url) as conn:
        with pytest.raises(psycopg.errors.Error) as raised:
            conn.execute(sqlfiles.read("ticket_app.sql"))
        assert 'schema "realtime" does not exist' in str(raised.value)
