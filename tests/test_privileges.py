"""No path from a database login to the owner's rights (migration 0010).

A hostile login shadows every type and relation a function could name unqualified in its
pg_temp (PostgreSQL searches pg_temp first for those unless the path names it last), and every
operator and plain function of pg_catalog in a schema of its own put before pg_catalog on its
search_path. Each shadow raises a NOTICE carrying SHADOW_MARK and the user it runs as. Then it
calls every SECURITY DEFINER function of both schemas, and fires every capture trigger, as
itself and as `authenticated`: no shadow may run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support import World

SHADOW_MARK = "SHADOW RAN"

# Plain type names (not grammar keywords such as integer or boolean, which always mean
# pg_catalog's) that a function might write unqualified.
SHADOWED_TYPES = [
    "text", "uuid", "jsonb", "json", "int2", "int4", "int8", "bool", "float8", "timestamptz",
    "xid8", "xid", "oid", "regclass", "regprocedure", "regtype", "regproc", "name", "bytea",
    "date", "inet", "pg_snapshot", "tsvector",
]  # fmt: skip

# Unqualified relation names the schemas' tables have.
SHADOWED_RELATIONS = [
    "messages", "ticks", "wakeup", "channels", "tables", "tickets", "ticket_threads",
    "ticket_notes", "org_members", "organizations", "users", "thread_ai_status",
]  # fmt: skip

# Operators and functions of pg_catalog shadowed in the attacker's schema.
SHADOWED_OPERATORS = [
    "=", "<>", "<", ">", "<=", ">=", "||", "~", "~*", "!~", "@>", "<@", "->", "->>", "#>>",
    "#>", "-", "+", "*", "?",
]  # fmt: skip
SHADOWED_FUNCTIONS = [
    "now", "statement_timestamp", "clock_timestamp", "to_jsonb", "quote_literal", "quote_ident",
    "lower", "upper", "left", "md5", "set_config", "current_setting", "pg_notify",
    "jsonb_strip_nulls", "jsonb_typeof", "array_upper", "array_length", "pg_current_snapshot",
    "pg_snapshot_xmin", "pg_snapshot_xmax", "pg_visible_in_snapshot", "pg_has_role",
    "date_part", "brin_summarize_new_values", "length", "octet_length", "concat",
    "pg_backend_pid", "txid_current", "pg_current_xact_id", "gen_random_uuid", "nullif",
    "jsonb_object_keys", "to_json", "row_to_json", "string_agg", "encode", "decode",
]  # fmt: skip

SHADOWS = r"""
do $shadows$
declare
    me text := current_user;
    t text;
    r record;
    n integer := 0;
begin
    -- Types: a domain over the real type whose CHECK reports where it ran.
    foreach t in array %(types)s loop
        execute format($f$
            create function pg_temp.%%1$I(v pg_catalog.%%2$I) returns pg_catalog.bool
            language plpgsql as $b$ begin
                raise notice '%(mark)s: type %%2$s as %%%%', current_user; return true;
            end $b$$f$, 'shadow_' || t, t);
        execute format(
            'create domain pg_temp.%%1$I as pg_catalog.%%1$I check (pg_temp.%%2$I(value))',
            t, 'shadow_' || t);
    end loop;
    -- Relations: a view that reports whoever reads it.
    foreach t in array %(relations)s loop
        execute format($f$create temp view %%1$I as select * from pg_catalog.pg_class
                          where pg_temp.shadow_text(%%1$L::pg_catalog.text)$f$, t);
    end loop;
    -- Operators and functions: same signature as pg_catalog's, first on the search path.
    for r in
        select o.oprname, o.oprleft::pg_catalog.regtype::pg_catalog.text as l,
               o.oprright::pg_catalog.regtype::pg_catalog.text as rt,
               o.oprresult::pg_catalog.regtype::pg_catalog.text as res
          from pg_catalog.pg_operator o
          join pg_catalog.pg_type lt on lt.oid = o.oprleft
          join pg_catalog.pg_type rtt on rtt.oid = o.oprright
         where o.oprnamespace = 'pg_catalog'::pg_catalog.regnamespace
           and o.oprname = any (%(operators)s) and o.oprkind = 'b'
           and lt.typtype not in ('p') and rtt.typtype not in ('p')
    loop
        n := n + 1;
        execute format($f$
            create function attacker.%%1$I(a %%2$s, b %%3$s) returns %%4$s language plpgsql as $b$
            begin
                raise notice '%(mark)s: operator %%5$s as %%%%', current_user;
                return a operator(pg_catalog.%%5$s) b;
            end $b$$f$, 'op_' || n, r.l, r.rt, r.res, r.oprname);
        execute format(
            'create operator attacker.%%s (leftarg = %%s, rightarg = %%s, function = attacker.%%I)',
            r.oprname, r.l, r.rt, 'op_' || n);
    end loop;
    for r in
        select p.proname,
               pg_catalog.pg_get_function_identity_arguments(p.oid) as args,
               p.prorettype::pg_catalog.regtype::pg_catalog.text as res,
               (select pg_catalog.string_agg(pg_catalog.format('$%%s', i), ', ')
                  from pg_catalog.generate_series(1, p.pronargs) as i) as params
          from pg_catalog.pg_proc p
         where p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace
           and p.proname = any (%(functions)s) and p.prokind = 'f' and not p.proretset
           and p.provariadic = 0
           and not exists (select from pg_catalog.pg_type ty
                            where ty.oid = any (p.proargtypes::pg_catalog.oid[] || p.prorettype)
                              and ty.typtype = 'p')
    loop
        execute format($f$
            create function attacker.%%1$I(%%2$s) returns %%3$s language plpgsql as $b$
            begin
                raise notice '%(mark)s: function %%1$s as %%%%', current_user;
                return pg_catalog.%%1$I(%%4$s);
            end $b$$f$, r.proname, r.args, r.res, coalesce(r.params, ''));
    end loop;
end
$shadows$;
set search_path = pg_temp, attacker, pg_catalog, public, realtime;
"""


def shadows_sql() -> str:
    def array(items: list[str]) -> str:
        return "array[" + ", ".join("'" + i.replace("'", "''") + "'" for i in items) + "]"

    return SHADOWS % {
        "types": array(SHADOWED_TYPES),
        "relations": array(SHADOWED_RELATIONS),
        "operators": array(SHADOWED_OPERATORS),
        "functions": array(SHADOWED_FUNCTIONS),
        "mark": SHADOW_MARK,
    }


def definer_calls(w: World) -> dict[str, str]:
    """A call of each SECURITY DEFINER function that is not a trigger, reaching its body."""
    return {
        "realtime.wake()": "select realtime.wake()",
        "realtime.send(text,text,jsonb)": f"select realtime.send('{w.topic}', 'x', '{{}}')",
        "realtime.tick()": "select realtime.tick()",
        "realtime.positions_after(bigint,bigint,bigint,text[],integer)": (
            "select * from realtime.positions_after(0, 0, 100)"
        ),
        "realtime.change_positions_after(bigint,bigint,bigint,text[],integer)": (
            "select * from realtime.change_positions_after(0, 0, 100)"
        ),
        "realtime.head()": "select * from realtime.head()",
        "realtime.cursor_state(bigint)": "select * from realtime.cursor_state(1)",
        "realtime.prune(interval)": "select realtime.prune('0 seconds')",
        "realtime.summarize()": "select realtime.summarize()",
        "realtime.advance(bigint,bigint,integer)": "select * from realtime.advance(0, 0, 10)",
        "is_org_member(uuid)": f"select public.is_org_member('{w.org_a}')",
        "ticket_access(uuid)": f"select public.ticket_access('{w.ticket}')",
        "can_read_thread(uuid)": f"select public.can_read_thread('{w.thread}')",
        "set_thread_ai_status(uuid,text,integer,text)": (
            f"select public.set_thread_ai_status('{w.thread}', 'processing', 5)"
        ),
    }


@contextmanager
def login(database_url: str, role: str) -> Iterator[psycopg.Connection]:
    params = conninfo_to_dict(database_url)
    params["user"] = role
    with psycopg.connect(make_conninfo(**params), autocommit=True) as connection:
        yield connection


@pytest.fixture
def attacker(conn: psycopg.Connection, database_url: str) -> Iterator[str]:
    """A login with no grants but what PUBLIC has, and a schema of its own to shadow from."""
    role = f"attacker_{uuid.uuid4().hex[:10]}"
    conn.execute(f"create role {role} login")
    conn.execute(f"create schema attacker authorization {role}")
    try:
        yield role
    finally:
        conn.execute("drop schema attacker cascade")
        conn.execute(f"drop owned by {role}")
        conn.execute(f"drop role {role}")


def notices_of(connection: psycopg.Connection) -> list[str]:
    seen: list[str] = []
    connection.add_notice_handler(lambda d: seen.append(d.message_primary or ""))
    return seen


def as_user(connection: psycopg.Connection, sub: uuid.UUID) -> None:
    claims = json.dumps({"sub": str(sub), "role": "authenticated"})
    connection.execute("set role authenticated")
    connection.execute("select pg_catalog.set_config('request.jwt.claims', %s, false)", (claims,))
    connection.execute(
        "select pg_catalog.set_config('request.jwt.claim.sub', %s, false)", (str(sub),)
    )


def definer_functions(conn: psycopg.Connection) -> tuple[set[str], set[str]]:
    """(plain, trigger) SECURITY DEFINER functions of the realtime and public schemas."""
    rows = conn.execute(
        "select p.oid::regprocedure::text, p.prorettype = 'trigger'::regtype"
        "  from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname in ('realtime', 'public') and p.prosecdef"
    ).fetchall()
    plain = {name.replace(" ", "") for name, is_trigger in rows if not is_trigger}
    triggers = {name for name, is_trigger in rows if is_trigger}
    return plain, triggers


def owner_runs(messages: list[str], attacker: str) -> list[str]:
    """The shadows that ran with rights the attacker does not have (its own code as itself,
    e.g. in an invoker trigger, is no escalation)."""
    own = (f" as {attacker}", " as authenticated")
    return [m for m in messages if SHADOW_MARK in m and not m.endswith(own)]


def call_all(connection: psycopg.Connection, calls: dict[str, str]) -> list[str]:
    """Runs each call; returns every message (notice or error) that came back."""
    messages = notices_of(connection)
    for statement in calls.values():
        try:
            connection.execute(statement)
        except psycopg.Error as exc:
            messages.append(str(exc))
    return messages


def test_every_definer_function_has_a_call_in_this_test(conn: psycopg.Connection, world: World):
    plain, triggers = definer_functions(conn)
    assert plain == set(definer_calls(world)), "add the new definer function to definer_calls()"
    # Capture functions are the only definer triggers; the write test below fires them all.
    assert triggers and all(t.startswith("realtime.capture_") for t in triggers)


@pytest.mark.parametrize("as_authenticated", [False, True], ids=["bare_login", "authenticated"])
def test_no_definer_function_runs_the_callers_shadows(
    conn: psycopg.Connection, database_url: str, world: World, attacker: str, as_authenticated: bool
):
    if as_authenticated:
        conn.execute(f"grant authenticated to {attacker}")
    with login(database_url, attacker) as hostile:
        hostile.execute(shadows_sql())
        # The shadows are live: the attacker's own unqualified names reach them.
        own = notices_of(hostile)
        hostile.execute("select 'x'::text, 1::int8 = 1::int8")
        assert sum(SHADOW_MARK in m for m in own) >= 2, own
        own.clear()
        if as_authenticated:
            as_user(hostile, world.agent)
        messages = call_all(hostile, definer_calls(world))
    assert owner_runs(messages, attacker) == []
    if not as_authenticated:  # a bare login may call none of them
        assert all("permission denied" in m for m in messages), messages


def test_capture_triggers_fired_by_a_hostile_writer_run_no_shadows(
    conn: psycopg.Connection, database_url: str, world: World, attacker: str
):
    conn.execute(f"grant authenticated to {attacker}")
    before = conn.execute("select count(*) from realtime.messages").fetchone()
    with login(database_url, attacker) as hostile:
        hostile.execute(shadows_sql())
        as_user(hostile, world.agent)
        messages = notices_of(hostile)
        note = uuid.uuid4()
        hostile.execute(
            "insert into public.ticket_notes (id, thread_id, ticket_id, author_id, body)"
            " values (%s, %s, %s, %s, 'hostile')",
            (note, world.thread, world.ticket, world.agent),
        )
        hostile.execute("update public.ticket_notes set body = 'edited' where id = %s", (note,))
        hostile.execute("delete from public.ticket_notes where id = %s", (note,))
        hostile.execute(
            "insert into public.ticket_threads (id, ticket_id, created_by, subject)"
            " values (%s, %s, %s, 't')",
            (thread := uuid.uuid4(), world.ticket, world.agent),
        )
        hostile.execute("update public.ticket_threads set subject = 'u' where id = %s", (thread,))
        hostile.execute("delete from public.ticket_threads where id = %s", (thread,))
    assert owner_runs(messages, attacker) == []
    after = conn.execute("select count(*) from realtime.messages").fetchone()
    # The captures did run: per table an insert, an update's three variants, a delete.
    assert after[0] - before[0] == 2 * (1 + 3 + 1)


def forge(connection: psycopg.Connection, capture: str, world: World) -> None:
    connection.execute("create temp table forged (like public.ticket_notes including defaults)")
    connection.execute(
        "create trigger forge after insert on forged referencing new table as new_rows"
        f" for each statement execute function {capture}"
    )
    connection.execute(
        "insert into forged (id, thread_id, ticket_id, author_id, body, internal)"
        " values (gen_random_uuid(), %s, %s, %s, 'refund approved', false)",
        (world.thread, world.other_ticket, world.agent),
    )


def capture_of(conn: psycopg.Connection, table: str) -> str:
    row = conn.execute(
        "select capture_function from realtime.tables where table_name = %s", (table,)
    ).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("set_role", [True, False], ids=["as_authenticated", "granted_login"])
def test_a_capture_function_cannot_be_attached_to_a_forged_table(
    conn: psycopg.Connection, database_url: str, world: World, attacker: str, set_role: bool
):
    conn.execute(f"grant authenticated to {attacker}")
    capture = capture_of(conn, "ticket_notes")
    log_before = conn.execute("select count(*), max(id) from realtime.messages").fetchone()
    with login(database_url, attacker) as hostile:
        if set_role:
            as_user(hostile, world.agent)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            forge(hostile, capture, world)
    assert conn.execute("select count(*), max(id) from realtime.messages").fetchone() == log_before


def test_a_capture_function_refuses_a_table_that_is_not_its_own(
    conn: psycopg.Connection, world: World
):
    # Even attached by someone who may (the owner), it runs for its own table only.
    capture = capture_of(conn, "ticket_notes")
    log_before = conn.execute("select count(*), max(id) from realtime.messages").fetchone()
    with pytest.raises(
        psycopg.errors.InsufficientPrivilege, match=r"captures public\.ticket_notes only"
    ):
        forge(conn, capture, world)
    assert conn.execute("select count(*), max(id) from realtime.messages").fetchone() == log_before


@pytest.mark.parametrize(
    "request_json",
    ['[{"sub": "%s", "ids": [1]}]', '[{"role": null, "sub": "%s", "ids": [1]}]',
     '[{"role": "postgres", "sub": "%s", "ids": [1]}]', '[{"role": "", "sub": "%s", "ids": [1]}]'],
    ids=["missing", "null", "owner", "empty"],
)  # fmt: skip
def test_read_batch_refuses_a_request_without_a_known_role(
    conn: psycopg.Connection, world: World, request_json: str
):
    with pytest.raises(
        (psycopg.errors.InvalidParameterValue, psycopg.errors.InsufficientPrivilege),
        match=r"read_batch: request 0: (no such role|role postgres (would read|is the server))",
    ):
        conn.execute("select * from realtime.read_batch(%s)", (request_json % world.agent,))


def test_set_thread_ai_status_is_for_agents_and_ai_workers(
    conn: psycopg.Connection, database_url: str, world: World, attacker: str
):
    conn.execute(f"grant authenticated to {attacker}")
    with login(database_url, attacker) as user:
        as_user(user, world.customer)
        with pytest.raises(psycopg.Error, match="only an agent") as refused:
            user.execute(
                "select public.set_thread_ai_status(%s, 'failed', null, 'x')", (world.thread,)
            )
        assert refused.value.sqlstate == "TC403"
        as_user(user, world.agent)
        user.execute("select public.set_thread_ai_status(%s, 'started')", (world.thread,))
        as_user(user, world.other_agent)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not visible"):
            user.execute("select public.set_thread_ai_status(%s, 'started')", (world.thread,))
    worker = f"{attacker}_ai"
    conn.execute(f"create role {worker} login in role threadcast_ai, authenticated")
    try:
        with login(database_url, worker) as ai:
            state = ai.execute(
                "select status from public.set_thread_ai_status(%s, 'processing', 40)",
                (world.thread,),
            ).fetchone()
            assert state == ("processing",)
            # A worker that switches to authenticated is an end user again.
            as_user(ai, world.customer)
            with pytest.raises(psycopg.Error, match="only an agent"):
                ai.execute("select public.set_thread_ai_status(%s, 'completed')", (world.thread,))
    finally:
        conn.execute(f"drop role {worker}")


def test_threadcast_check_lists_what_to_tighten_until_it_is_tight(
    conn: psycopg.Connection, database_url: str
):
    from threadcast import privileges

    found = {f.finding: f.fix for f in privileges.findings(database_url)}
    assert "PUBLIC may create temporary tables and types in this database" in found
    assert "PUBLIC may connect to this database" in found
    # A definer function of the DBA's own, written the way the engine's were before 0010.
    conn.execute(
        "create function public.own_helper() returns int language sql security definer"
        " set search_path = '' as 'select 1'"
    )
    own = [f for f in privileges.findings(database_url) if "own_helper" in f.finding]
    assert {f.finding.split(": ", 1)[1] for f in own} == {
        "SECURITY DEFINER and executable by PUBLIC",
        "SECURITY DEFINER without search_path = pg_catalog, pg_temp",
    }
    # Every fix it prints, run as printed, clears its finding.
    dbname = conn.info.dbname
    for fix in [f.fix for f in privileges.findings(database_url)]:
        conn.execute(fix)
    try:
        assert privileges.findings(database_url) == []
    finally:
        conn.execute(f'grant temporary, connect on database "{dbname}" to public')
