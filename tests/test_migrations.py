"""Migrations: up, down, up again; offline DDL; and the canonical schema (sql/realtime.sql,
sql/ticket_app.sql) equals `alembic upgrade head` (procrastinate's schema-vs-migrations test):
an edit of a canonical file without a revision, or a revision without the canonical edit,
fails it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import psycopg

from threadcast import migrations, sqlfiles

# One line per object of ours, from the catalog; equal lines mean equal schemas.
DESCRIBE_SCHEMA = """
with ours as (select oid, nspname from pg_namespace where nspname in ('public', 'realtime'))
select 'schema ' || nspname || ' ' || coalesce(nspacl::text, '')
  from pg_namespace where nspname in ('public', 'realtime')
union all
select format('relation %s.%s kind=%s persistence=%s rls=%s options=%s acl=%s', o.nspname,
              c.relname, c.relkind, c.relpersistence, c.relrowsecurity, c.reloptions, c.relacl)
  from pg_class c join ours o on o.oid = c.relnamespace
 where c.relname <> 'alembic_version' and c.relname not like 'alembic_version%'
union all
select format('column %s.%s.%s %s notnull=%s identity=%s default=%s acl=%s', o.nspname,
              c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
              a.attidentity, pg_get_expr(d.adbin, d.adrelid), a.attacl)
  from pg_attribute a
  join pg_class c on c.oid = a.attrelid and c.relkind in ('r', 'v', 'p')
  join ours o on o.oid = c.relnamespace
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
 where a.attnum > 0 and not a.attisdropped and c.relname <> 'alembic_version'
union all
select format('constraint %s.%s %s %s', o.nspname, c.relname, k.conname,
              pg_get_constraintdef(k.oid))
  from pg_constraint k join pg_class c on c.oid = k.conrelid join ours o on o.oid = c.relnamespace
 where c.relname <> 'alembic_version'
union all
select 'index ' || pg_get_indexdef(i.indexrelid)
  from pg_index i join pg_class c on c.oid = i.indrelid join ours o on o.oid = c.relnamespace
 where c.relname <> 'alembic_version'
union all
select format('function %s acl=%s %s', p.oid::regprocedure, p.proacl, pg_get_functiondef(p.oid))
  from pg_proc p join ours o on o.oid = p.pronamespace
union all
select 'trigger ' || pg_get_triggerdef(t.oid)
  from pg_trigger t join pg_class c on c.oid = t.tgrelid join ours o on o.oid = c.relnamespace
 where not t.tgisinternal
union all
select format('policy %s.%s %s %s %s roles=%s using=%s check=%s', schemaname, tablename,
              policyname, permissive, cmd, roles, qual, with_check)
  from pg_policies where schemaname in ('public', 'realtime')
union all
select format('comment function %s %s', p.oid::regprocedure, d.description)
  from pg_description d join pg_proc p on p.oid = d.objoid and d.classoid = 'pg_proc'::regclass
  join ours o on o.oid = p.pronamespace
union all
select format('comment relation %s %s %s', c.oid::regclass, d.objsubid, d.description)
  from pg_description d join pg_class c on c.oid = d.objoid and d.classoid = 'pg_class'::regclass
  join ours o on o.oid = c.relnamespace
union all
select format('comment schema %s %s', n.nspname, d.description)
  from pg_description d join pg_namespace n on n.oid = d.objoid
   and d.classoid = 'pg_namespace'::regclass and n.nspname in ('public', 'realtime')
union all
select format('data %s', row(t.*)) from realtime.tables t
union all
select format('data %s', row(c.*)) from realtime.channels c
order by 1
"""


def describe(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(DESCRIBE_SCHEMA).fetchall()]


def our_objects(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            r[0]
            for r in conn.execute(
                "select 'schema ' || nspname from pg_namespace where nspname = 'realtime'"
                " union all select 'relation ' || relname from pg_class"
                "  where relnamespace = 'public'::regnamespace and relname not like 'alembic%'"
                " union all select 'function ' || proname from pg_proc"
                "  where pronamespace = 'public'::regnamespace"
            ).fetchall()
        ]


# The canonical schema, one file per install track, engine first.
CANONICAL_FILES = ("realtime.sql", "ticket_app.sql")


def apply_canonical_sql(url: str) -> None:
    with psycopg.connect(url) as conn:
        for name in CANONICAL_FILES:
            with conn.transaction():
                conn.execute(sqlfiles.read(name))


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url)
    assert migrations.is_current(empty_database_url)
    first = describe(empty_database_url)
    assert any("relation realtime.messages" in line for line in first)

    migrations.downgrade(empty_database_url, "base")
    assert our_objects(empty_database_url) == []
    assert migrations.current_revision(empty_database_url) is None

    migrations.upgrade(empty_database_url)
    assert describe(empty_database_url) == first


def test_fresh_install_from_sql_equals_the_migrated_schema(
    make_empty_database: Callable[[], str],
) -> None:
    migrated, fresh = make_empty_database(), make_empty_database()
    migrations.upgrade(migrated)
    apply_canonical_sql(fresh)
    migrated_lines, fresh_lines = describe(migrated), describe(fresh)
    assert len(migrated_lines) > 100
    assert fresh_lines == migrated_lines


def test_offline_mode_prints_reviewable_ddl(empty_database_url: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        migrations.upgrade(empty_database_url, sql=True)
    ddl = out.getvalue()
    assert "create table realtime.messages" in ddl
    assert "create function realtime.tick()" in ddl
    assert "create table public.ticket_notes" in ddl
    assert "UPDATE alembic_version SET version_num='0002'" in ddl
    assert our_objects(empty_database_url) == []  # nothing was run


def test_downgrading_lean_capture_restores_the_generic_trigger(empty_database_url: str) -> None:
    """0007 gives every realtime table its own capture function; its downgrade moves the
    tables back to the generic function and leaves none of the generated ones behind."""

    def capture_state() -> list[tuple[str, str]]:
        with psycopg.connect(empty_database_url) as conn:
            return conn.execute(
                "select tgrelid::regclass::text || ' ' || tgname, tgfoid::regprocedure::text"
                "  from pg_trigger where tgname like 'realtime_capture_%'"
                " union all select 'function', oid::regprocedure::text from pg_proc"
                "  where pronamespace = 'realtime'::regnamespace and proname like 'capture%'"
                " order by 1, 2"
            ).fetchall()

    migrations.upgrade(empty_database_url)
    generated = capture_state()
    assert ("ticket_notes realtime_capture_insert", "realtime.capture_statement()") not in (
        generated
    )
    # 2 tables x (insert, delete, update) since 0009
    assert sum(1 for kind, name in generated if kind == "function") == 6

    migrations.downgrade(empty_database_url, "0006")
    generic = capture_state()
    assert ("ticket_notes realtime_capture_insert", "realtime.capture_statement()") in generic
    assert ("ticket_threads realtime_capture_delete", "realtime.capture_statement()") in (generic)
    assert [name for kind, name in generic if kind == "function"] == [
        "realtime.capture_statement()",
        "realtime.capture_update()",
    ]

    migrations.upgrade(empty_database_url)
    assert capture_state() == generated


def test_downgrading_capture_per_operation_restores_one_function_per_table(
    empty_database_url: str,
) -> None:
    """0009 gives each table a capture function per operation; its downgrade puts one function
    back on the insert and delete triggers and the generic capture_update() on the update
    trigger, and leaves none of the generated ones behind."""

    def triggers() -> list[tuple[str, str]]:
        with psycopg.connect(empty_database_url) as conn:
            return conn.execute(
                "select tgrelid::regclass::text || ' ' || tgname, tgfoid::regprocedure::text"
                "  from pg_trigger where tgname like 'realtime_capture_%' order by 1"
            ).fetchall()

    def functions() -> list[str]:
        with psycopg.connect(empty_database_url) as conn:
            rows = conn.execute(
                "select oid::regprocedure::text from pg_proc"
                " where pronamespace = 'realtime'::regnamespace and proname like 'capture%'"
                " order by 1"
            ).fetchall()
        return [name for (name,) in rows]

    migrations.upgrade(empty_database_url)
    split = triggers()
    assert len({function for _, function in split}) == 6
    migrations.downgrade(empty_database_url, "0008")
    joined = dict(triggers())
    for table in ("ticket_notes", "ticket_threads"):
        insert, delete = (joined[f"{table} realtime_capture_{op}"] for op in ("insert", "delete"))
        assert insert == delete  # one function for both again
        assert joined[f"{table} realtime_capture_update"] == "realtime.capture_update()"
    assert len(functions()) == 3  # 2 tables + the generic update: no generated one left
    with psycopg.connect(empty_database_url) as conn:
        columns = conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'realtime' and table_name = 'tables'"
        ).fetchall()
    assert ("capture_delete_function",) not in columns
    assert ("capture_update_function",) not in columns

    migrations.upgrade(empty_database_url)
    assert triggers() == split
