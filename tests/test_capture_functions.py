"""Each realtime table's own capture functions (migration 0007; without SET search_path
since migration 0008, and safe from the caller's search path; one for inserts
and one for deletes since migration 0009): made by enable(), replaced by
enabling again, dropped by disable(), and rendering topics and payloads exactly as the generic
rules (render_topic over to_jsonb(row), change_payload) say, for any table."""

from __future__ import annotations

import psycopg
import pytest

from tests.support import head, read_log

# A table built to trip a generator: a schema and table name that need quoting, a column
# named like the function's row alias (r), a topic of three columns, one of them nullable.
ODD_TABLE = """
create schema "Odd Schema";
create table "Odd Schema"."r" (
    id bigint generated always as identity primary key,
    r text not null,
    tenant_id integer not null,
    kind text,
    "Mixed Case" jsonb
);
create function "Odd Schema".r_visible(row_ "Odd Schema"."r") returns boolean
language sql stable as 'select true';
"""
ODD_TEMPLATE = "things:{tenant_id}/{kind}:{r}"


def enable_odd_table(conn: psycopg.Connection, template: str = ODD_TEMPLATE) -> None:
    conn.execute(
        "select realtime.enable('\"Odd Schema\".r', %s,"
        ' \'"Odd Schema".r_visible("Odd Schema".r)\')',
        (template,),
    )


def capture_function(conn: psycopg.Connection, schema: str, table: str) -> str | None:
    """The table's insert capture function."""
    return capture_functions(conn, schema, table)[0]


def capture_functions(
    conn: psycopg.Connection, schema: str, table: str
) -> tuple[str | None, str | None, str | None]:
    """The table's insert, delete and update capture functions."""
    row = conn.execute(
        "select capture_function, capture_delete_function, capture_update_function"
        " from realtime.tables where schema_name = %s and table_name = %s",
        (schema, table),
    ).fetchone()
    return (row[0], row[1], row[2]) if row else (None, None, None)


def trigger_functions(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "select tgname, tgfoid::regprocedure::text from pg_trigger"
        " where tgrelid = %s::regclass and not tgisinternal",
        (table,),
    ).fetchall()
    return dict(rows)


def expected_topic(conn: psycopg.Connection, parts: list[str], row: dict) -> str:
    """The topic as the generic rule renders it."""
    return conn.execute(
        "select realtime.render_topic(%s, %s::jsonb)", (parts, psycopg.types.json.Jsonb(row))
    ).fetchone()[0]


@pytest.fixture
def odd(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute(ODD_TABLE)
    enable_odd_table(conn)
    return conn


def test_inserts_and_deletes_render_topics_and_payloads_as_the_generic_rules(
    odd: psycopg.Connection,
) -> None:
    conn = odd
    parts = conn.execute(
        "select topic_parts from realtime.tables where table_name = 'r'"
    ).fetchone()[0]
    start = head(conn)
    # One statement, three rows: one log insert per statement, one event per row.
    conn.execute(
        """insert into "Odd Schema".r (r, tenant_id, kind, "Mixed Case")
           values ('alpha', 7, 'bug', '{"a": [1, 2]}'), ('beta', 7, null, null),
                  ('gamma', 42, 'q"uote', '"text"')"""
    )
    conn.execute("""delete from "Odd Schema".r where r = 'beta'""")
    events = read_log(conn, start)
    assert [e["payload"]["eventType"] for e in events] == ["INSERT"] * 3 + ["DELETE"]

    inserted = [e["payload"]["new"] for e in events[:3]]
    rows = conn.execute("""select to_jsonb(t) from "Odd Schema".r t order by id""").fetchall()
    # The whole row, not the column that happens to be called r.
    assert inserted[0] == rows[0][0]
    assert inserted[2] == rows[1][0]
    assert inserted[1]["r"] == "beta" and inserted[1]["kind"] is None
    assert [e["topic"] for e in events[:3]] == [
        "things:7/bug:alpha",
        "things:7/:beta",  # a NULL column renders as ''
        'things:42/q"uote:gamma',
    ]
    for event in events:
        row = event["payload"]["new"] or event["payload"]["old"]
        assert event["topic"] == expected_topic(conn, parts, row)

    deleted = events[3]["payload"]
    assert deleted["new"] == {} and deleted["old"] == inserted[1]
    assert events[3]["topic"] == "things:7/:beta"
    for event in events:
        payload = event["payload"]
        assert set(payload) == {
            "schema", "table", "commit_timestamp", "eventType", "new", "old", "errors"
        }  # fmt: skip
        assert (payload["schema"], payload["table"]) == ("Odd Schema", "r")
        assert payload["errors"] is None

    # Identical to change_payload(), the document every other event uses, but for the time.
    generic = conn.execute(
        "select realtime.change_payload('Odd Schema', 'r', 'INSERT', %s::jsonb, null)",
        (psycopg.types.json.Jsonb(inserted[0]),),
    ).fetchone()[0]
    assert {k: v for k, v in events[0]["payload"].items() if k != "commit_timestamp"} == {
        k: v for k, v in generic.items() if k != "commit_timestamp"
    }


def test_enable_makes_a_function_per_table_and_operation_used_by_its_triggers(
    odd: psycopg.Connection,
) -> None:
    conn = odd
    odd_insert, odd_delete, odd_update = capture_functions(conn, "Odd Schema", "r")
    functions = [
        *capture_functions(conn, "Odd Schema", "r"),
        *capture_functions(conn, "public", "ticket_notes"),
        *capture_functions(conn, "public", "ticket_threads"),
    ]
    assert all(functions) and len(set(functions)) == 9
    assert trigger_functions(conn, '"Odd Schema".r') == {
        "realtime_capture_insert": odd_insert,
        "realtime_capture_delete": odd_delete,
        "realtime_capture_update": odd_update,
    }
    for function in (odd_insert, odd_delete, odd_update):
        definer, config, source = conn.execute(
            "select prosecdef, proconfig, prosrc from pg_proc where oid = %s::regprocedure",
            (function,),
        ).fetchone()
        # SECURITY DEFINER without SET search_path (migration 0008): see the hostile path test.
        assert definer and config is None
        # One operation each (migration 0009): no branching on TG_OP in every statement.
        assert "tg_op" not in source.lower()
    # The generic functions are gone; nothing else captures.
    assert conn.execute("select to_regproc('realtime.capture_statement')").fetchone()[0] is None
    assert conn.execute("select to_regproc('realtime.capture_update')").fetchone()[0] is None


def test_same_table_name_in_two_schemas_gets_two_functions(odd: psycopg.Connection) -> None:
    conn = odd
    conn.execute(
        "create table public.r (id int primary key, r text, tenant_id int, kind text);"
        " create function public.r_visible(x public.r) returns boolean"
        "  language sql stable as 'select true';"
        " select realtime.enable('public.r', 'plain:{r}', 'public.r_visible(public.r)')"
    )
    assert capture_function(conn, "public", "r") != capture_function(conn, "Odd Schema", "r")
    start = head(conn)
    conn.execute("insert into public.r values (1, 'x', 1, 'k')")
    conn.execute("""insert into "Odd Schema".r (r, tenant_id, kind) values ('y', 2, 'k')""")
    assert [(e["payload"]["schema"], e["topic"]) for e in read_log(conn, start)] == [
        ("public", "plain:x"),
        ("Odd Schema", "things:2/k:y"),
    ]


def test_enabling_again_replaces_the_functions_and_disable_drops_them(
    odd: psycopg.Connection,
) -> None:
    conn = odd
    before = capture_functions(conn, "Odd Schema", "r")
    enable_odd_table(conn, "kinds:{kind}")
    after = capture_functions(conn, "Odd Schema", "r")
    assert after == before  # same names, new bodies
    start = head(conn)
    conn.execute("""insert into "Odd Schema".r (r, tenant_id, kind) values ('x', 1, 'k')""")
    conn.execute("""update "Odd Schema".r set kind = 'l' where r = 'x'""")
    conn.execute("""delete from "Odd Schema".r where r = 'x'""")
    # As a reader who sees every row: the insert, the update (as an UPDATE on the new topic and
    # a DELETE on the old one, which it left), the delete.
    assert [e["topic"] for e in read_log(conn, start)] == [
        "kinds:k",
        "kinds:l",
        "kinds:k",
        "kinds:l",
    ]

    conn.execute("""select realtime.disable('"Odd Schema".r')""")
    for function in before:
        assert conn.execute("select to_regprocedure(%s)", (function,)).fetchone()[0] is None
    assert trigger_functions(conn, '"Odd Schema".r') == {}
    start = head(conn)
    conn.execute("""insert into "Odd Schema".r (r, tenant_id, kind) values ('y', 1, 'k')""")
    assert read_log(conn, start) == []


def test_a_table_name_of_the_maximum_length(conn: psycopg.Connection) -> None:
    name = "t" * 63
    conn.execute(
        f"create table public.{name} (id int primary key, topic_key text);"
        f" create function public.long_visible(x public.{name}) returns boolean"
        "  language sql stable as 'select true'"
    )
    conn.execute(
        f"select realtime.enable('public.{name}', 'long:{{topic_key}}',"
        f" 'public.long_visible(public.{name})')"
    )
    functions = capture_functions(conn, "public", name)
    assert all(f is not None and len(f.split(".")[1]) <= 63 + 2 for f in functions)
    assert len(set(functions)) == 3
    start = head(conn)
    conn.execute(f"insert into public.{name} values (1, 'k')")
    conn.execute(f"update public.{name} set topic_key = 'j'")
    conn.execute(f"delete from public.{name}")
    # The insert; the update (an UPDATE on the new topic, a DELETE on the old); the delete.
    expected = ["long:k", "long:j", "long:k", "long:j"]
    assert [e["topic"] for e in read_log(conn, start)] == expected


# Topic columns of every kind: the generated SQL casts some types to text (migration 0009), and must
# render exactly what render_topic() renders from to_jsonb(row) for all of them.
TYPED_TABLE = """
create domain public.label as text;
create table public.typed (
    id int primary key,
    a_text text, a_varchar varchar(12), a_uuid uuid, a_int2 int2, a_int4 int4, a_int8 int8,
    a_bool boolean, a_bpchar char(5), a_label public.label, a_numeric numeric,
    a_time timestamptz, a_float float8
);
create function public.typed_visible(x public.typed) returns boolean
language sql stable as 'select true';
"""
TYPED_COLUMNS = [
    "a_text", "a_varchar", "a_uuid", "a_int2", "a_int4", "a_int8", "a_bool", "a_bpchar",
    "a_label", "a_numeric", "a_time", "a_float",
]  # fmt: skip


def test_topics_of_every_column_type_render_as_their_json_text(conn: psycopg.Connection) -> None:
    conn.execute(TYPED_TABLE)
    template = "t:" + "/".join(f"{{{c}}}" for c in TYPED_COLUMNS)
    conn.execute(
        "select realtime.enable('public.typed', %s, 'public.typed_visible(public.typed)')",
        (template,),
    )
    start = head(conn)
    conn.execute(
        """insert into public.typed values
           (1, 'plain', 'v', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', -32768, -7,
            9223372036854775807, false, 'ab', 'dom', 1.50, '2026-11-26 12:00:00.5+00', 0.1),
           (2, 'q"uote\\ ünï', '', null, 0, 0, 0, true, '', '', 'NaN', '-infinity', 1e20),
           (3, null, null, null, null, null, null, null, null, null, null, null, null)"""
    )
    conn.execute("update public.typed set a_text = 'changed', a_bool = not a_bool where id = 1")
    conn.execute("delete from public.typed where id = 2")
    events = read_log(conn, start)
    assert len(events) == 3 + 2 + 1  # the update moved the row: UPDATE here, DELETE there
    # The generic rule over each event's own row, all in SQL (no float round trip).
    rendered = conn.execute(
        "select m.topic, realtime.render_topic(t.topic_parts,"
        "         case when m.payload ->> 'eventType' = 'DELETE' then m.payload -> 'old'"
        "              else m.payload -> 'new' end)"
        "  from realtime.messages m join realtime.tables t on t.table_name = 'typed'"
        " where m.id > %s order by m.id",
        (start[1],),
    ).fetchall()
    assert len(rendered) == 7
    for topic, expected in rendered:
        assert topic == expected
    assert events[0]["topic"].startswith("t:plain/v/a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11/-32768/")
    assert "/false/ab   /dom/1.50/2026-11-26T12:00:00.5+00:00/" in events[0]["topic"]
    assert events[2]["topic"] == "t:" + "/" * (len(TYPED_COLUMNS) - 1)
    assert events[3]["topic"].startswith("t:changed/") and "/true/ab   /" in events[3]["topic"]
    assert events[4]["payload"]["eventType"] == "DELETE"
    assert events[4]["topic"] == events[0]["topic"]  # the old row's topic
    # The cheap rendering is the one in use for the types that have it.
    insert, _, update = capture_functions(conn, "public", "typed")
    sources = [
        conn.execute("select prosrc from pg_proc where oid = %s::regprocedure", (f,)).fetchone()[0]
        for f in (insert, update)
    ]
    assert "r.a_uuid::pg_catalog.text" in sources[0]
    assert "r.a_bpchar::pg_catalog.text" not in sources[0]
    assert "new.a_uuid::pg_catalog.text" in sources[1]
    assert "old.a_uuid::pg_catalog.text" in sources[1]


# The generated functions run as their owner without SET search_path (migration 0008): a caller's
# search path must not be able to put its own code in them.
SHADOWS = """
create schema evil;
create function evil.hijacked() returns void language plpgsql
    as $$ begin raise exception 'hijacked through the search path'; end $$;
create function evil.text_op(a text, b text) returns text language plpgsql
    as $$ begin perform evil.hijacked(); return a; end $$;
create function evil.bool_op(a text, b text) returns boolean language plpgsql
    as $$ begin perform evil.hijacked(); return true; end $$;
create function evil.path_op(a jsonb, b text[]) returns text language plpgsql
    as $$ begin perform evil.hijacked(); return ''; end $$;
create function evil.mul_op(a float8, b float8) returns float8 language plpgsql
    as $$ begin perform evil.hijacked(); return 0; end $$;
create operator evil.|| (leftarg = text, rightarg = text, function = evil.text_op);
create operator evil.= (leftarg = text, rightarg = text, function = evil.bool_op);
create operator evil.<> (leftarg = text, rightarg = text, function = evil.bool_op);
create operator evil.#>> (leftarg = jsonb, rightarg = text[], function = evil.path_op);
create function evil.jsonb_op(a jsonb, b jsonb) returns jsonb language plpgsql
    as $$ begin perform evil.hijacked(); return a; end $$;
create operator evil.|| (leftarg = jsonb, rightarg = jsonb, function = evil.jsonb_op);
create operator evil.* (leftarg = float8, rightarg = float8, function = evil.mul_op);
create function evil.to_jsonb(anyelement) returns jsonb language plpgsql
    as $$ begin perform evil.hijacked(); return null; end $$;
create function evil.current_setting(text, boolean) returns text language plpgsql
    as $$ begin perform evil.hijacked(); return null; end $$;
create function evil.date_part(text, timestamptz) returns float8 language plpgsql
    as $$ begin perform evil.hijacked(); return 0; end $$;
create function evil.clock_timestamp() returns timestamptz language plpgsql
    as $$ begin perform evil.hijacked(); return null; end $$;
create function evil.statement_timestamp() returns timestamptz language plpgsql
    as $$ begin perform evil.hijacked(); return null; end $$;
create function evil.jsonb_build_object(variadic "any") returns jsonb
    language internal immutable as 'jsonb_build_object_noargs';
"""


def test_a_callers_search_path_cannot_reach_into_the_capture(
    database_url: str, conn: psycopg.Connection, world
) -> None:
    conn.execute(SHADOWS)
    with psycopg.connect(database_url, autocommit=True) as writer:
        # A fresh session, so the capture's statements are first parsed under this path.
        writer.execute("set search_path = evil, pg_catalog, public")
        writer.execute("create type pg_temp.jsonb as (hijacked integer)")  # types: pg_temp first
        # The shadows are live for anything unqualified in this session...
        with pytest.raises(psycopg.errors.RaiseException, match="hijacked"):
            writer.execute("select 'a' || 'b'")
        with pytest.raises(psycopg.errors.RaiseException, match="hijacked"):
            writer.execute("select 'a' = 'b'")
        with pytest.raises(psycopg.errors.RaiseException, match="hijacked"):
            writer.execute("select '{}'::pg_catalog.jsonb || '{}'::pg_catalog.jsonb")
        assert writer.execute("select jsonb_build_object('a', 1)").fetchone() == ({},)
        # ...and a due wake-up check and wake() run too (any other interval's hint is due).
        writer.execute("select pg_catalog.set_config('realtime.wake_bucket', 'stale', false)")
        before = head(conn)
        note = writer.execute(
            "insert into public.ticket_notes (thread_id, ticket_id, author_id, body)"
            " values (%s, %s, %s, 'through a hostile path') returning id",
            (world.thread, world.ticket, world.agent),
        ).fetchone()[0]
        writer.execute(
            "update public.ticket_notes set body = 'edited through it' where id = %s", (note,)
        )
        writer.execute("delete from public.ticket_notes where id = %s", (note,))
        hint = writer.execute("select pg_catalog.current_setting('realtime.wake_bucket')")
        assert hint.fetchone()[0] != "stale"  # wake() ran and recorded this interval
    events = [
        (e["topic"], e["payload"]["eventType"], e["payload"]["new"], e["payload"]["old"])
        for e in read_log(conn, after=before)
    ]
    assert [(t, kind) for t, kind, _, _ in events] == [
        (world.topic, "INSERT"),
        (world.topic, "UPDATE"),
        (world.topic, "DELETE"),
    ]
    assert events[0][2]["body"] == "through a hostile path"
    assert events[1][2]["body"] == "edited through it"
    assert events[1][3]["body"] == "through a hostile path"
    assert events[2][2] == {} and events[2][3]["id"] == str(note)
