"""What realtime.enable(table, topic) cannot carry over faithfully from a table's policies it
refuses, with a message naming the policy and a hint pointing to the explicit form; a refusal
changes nothing (a table enabled before keeps its rule and its events)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.chat import install_chat, read_events, user
from tests.conftest import _janitor, database_url_for

EXPLICIT_HINT = (
    "write a function of one chat.t row returning boolean that says who may see it, and pass"
    " it: realtime.enable('chat.t', topic_template, 'schema.function(chat.t)')"
)
TABLE = """
create table chat.t (id int primary key, owner uuid, topic text);
alter table chat.t enable row level security;
grant select on chat.t to authenticated;
"""


@pytest.fixture(scope="module")
def chat_url(server_url: str) -> Iterator[str]:
    """One chat database for the module: each case builds chat.t in a transaction it rolls
    back, so the cases cannot see each other."""
    name = f"threadcast_refusals_{uuid.uuid4().hex[:10]}"
    janitor = _janitor(server_url, name)
    janitor.init()
    try:
        url = database_url_for(server_url, name)
        install_chat(url)
        yield url
    finally:
        janitor.drop()


@pytest.fixture
def conn(chat_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(chat_url) as connection:
        yield connection
        connection.rollback()


def refusal(conn: psycopg.Connection, setup: str, call: str) -> psycopg.errors.Error:
    conn.execute(TABLE + setup)
    conn.execute("savepoint before")
    with pytest.raises(psycopg.errors.Error) as raised:
        conn.execute(call)
    conn.execute("rollback to savepoint before")
    # Nothing was made: no configuration, triggers, log policy or generated function.
    assert conn.execute(
        "select (select count(*) from realtime.tables where table_name = 't'),"
        " (select count(*) from pg_trigger where tgrelid = 'chat.t'::regclass),"
        " (select count(*) from pg_policy where polname like '%chat.t'),"
        " (select count(*) from pg_proc where proname like 'visible_t_%')"
    ).fetchone() == (0, 0, 0, 0)
    return raised.value


DERIVED = "select realtime.enable('chat.t', 't:{topic}')"

CASES = {
    "reads its own table": (
        "create policy mine on chat.t for select to authenticated"
        " using (exists (select from chat.t t2 where t2.id = t.id and t2.owner = auth.uid()))",
        "0A000",
        "realtime.enable: policy mine on chat.t reads chat.t itself, so its answer for an"
        " event's row would depend on the table as it is when the event is read",
    ),
    "reads its own table in an IN list, in a policy named with spaces": (
        'create policy "sibling rows" on chat.t for select'
        " using (id in (select t2.id from chat.t t2 where t2.owner = auth.uid()))",
        "0A000",
        'realtime.enable: policy "sibling rows" on chat.t reads chat.t itself, so its answer'
        " for an event's row would depend on the table as it is when the event is read",
    ),
    "a volatile function": (
        "create policy lucky on chat.t for select using (random() < 0.5)",
        "0A000",
        "realtime.enable: policy lucky on chat.t calls volatile function random(), whose answer"
        " for an event's row may differ from the table's",
    ),
    "a volatile function of the application's, in a restrictive policy": (
        "create function chat.audit(uuid) returns boolean language sql volatile"
        " as $$ select true $$;"
        " create policy own on chat.t for select using (owner = auth.uid());"
        " create policy audited on chat.t as restrictive for select using (chat.audit(owner))",
        "0A000",
        "realtime.enable: policy audited on chat.t calls volatile function chat.audit(uuid),"
        " whose answer for an event's row may differ from the table's",
    ),
    "a volatile operator": (
        "create function chat.roll(int, int) returns boolean language sql volatile"
        " as $$ select $1 < $2 $$;"
        " create operator chat.<?> (function = chat.roll, leftarg = int, rightarg = int);"
        " create policy dice on chat.t for select using (id operator(chat.<?>) 3)",
        "0A000",
        "realtime.enable: policy dice on chat.t calls volatile function chat.roll(integer,"
        "integer), whose answer for an event's row may differ from the table's",
    ),
    "a system column": (
        "create policy by_oid on chat.t for select using (tableoid = 'chat.t'::regclass)",
        "0A000",
        "realtime.enable: policy by_oid on chat.t cannot be judged on an event's row:"
        ' column "tableoid" does not exist',
    ),
    "no policy at all": (
        "",
        "0A000",
        "realtime.enable: no permissive SELECT policy of chat.t applies to role authenticated,"
        " so its select shows that role no row",
    ),
    "only a restrictive policy": (
        "create policy only_some on chat.t as restrictive for select using (id > 0)",
        "0A000",
        "realtime.enable: no permissive SELECT policy of chat.t applies to role authenticated,"
        " so its select shows that role no row",
    ),
    "permissive policies for other roles and commands only": (
        "create policy visitors on chat.t for select to anon using (true);"
        " create policy writers on chat.t for insert to authenticated with check (true);"
        " create policy editors on chat.t for update to authenticated using (true);"
        " create policy checks on chat.t for all to authenticated with check (true)",
        "0A000",
        "realtime.enable: no permissive SELECT policy of chat.t applies to role authenticated,"
        " so its select shows that role no row",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_policy_that_cannot_be_carried_over_is_refused(
    conn: psycopg.Connection, case: str
) -> None:
    setup, sqlstate, message = CASES[case]
    error = refusal(conn, setup, DERIVED)
    assert error.diag.message_primary == message
    assert error.sqlstate == sqlstate
    hint = error.diag.message_hint or ""
    assert hint.endswith(EXPLICIT_HINT)
    if "token's claims" in message:
        assert hint.startswith("use auth.uid() or auth.role() in the policy; or ")
    if "no permissive" in message:
        assert hint.startswith(
            "create one (create policy ... on chat.t for select to authenticated using (...)); or "
        )


def test_the_explicit_form_carries_what_cannot_be_derived(conn: psycopg.Connection) -> None:
    """A policy reading its own table: refused derived, enabled with a function of its own."""
    setup, _, _ = CASES["reads its own table"]
    refusal(conn, setup, DERIVED)
    owner = user(0)
    conn.execute(
        "create function chat.t_visible(r chat.t) returns boolean language sql stable"
        " as $$ select r.owner = auth.uid() $$;"
        " select realtime.enable('chat.t', 't:{topic}', 'chat.t_visible(chat.t)');"
    )
    conn.execute("insert into chat.t values (1, %s, 'a'), (2, %s, 'a')", (owner, user(1)))
    ids = [r[0] for r in conn.execute("select id from realtime.messages where table_name = 't'")]
    assert [len(s) for s in read_events(conn, [owner, user(1), user(2)], ids).values()] == [1, 1, 0]


def test_a_table_without_row_level_security_is_refused_unless_all_rows_are_visible(
    conn: psycopg.Connection,
) -> None:
    error = refusal(conn, "alter table chat.t disable row level security", DERIVED)
    assert error.diag.message_primary == (
        "realtime.enable: table chat.t does not have row level security enabled, so nothing"
        " says who may see its rows"
    )
    assert error.sqlstate == "55000"
    assert error.diag.message_hint == (
        "enable row level security and add SELECT policies; or, if every reader may see every"
        " row, realtime.enable(table, topic_template, all_rows_visible => true)"
    )
    # Told so, every reader (whatever their sub) reads every event.
    conn.execute("select realtime.enable('chat.t', 't:{topic}', all_rows_visible => true)")
    conn.execute("insert into chat.t values (1, null, 'a')")
    last = conn.execute("select max(id) from realtime.messages").fetchone()[0]
    readers = [user(0), "auth0|abc", ""]
    assert read_events(conn, readers, [last]) == {r: {last} for r in readers}
    # all_rows_visible => false is the derived form, and refused the same way.
    conn.execute("select realtime.disable('chat.t')")
    conn.execute("savepoint s")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        conn.execute("select realtime.enable('chat.t', 't:{topic}', all_rows_visible => false)")
    conn.execute("rollback to savepoint s")


@pytest.mark.parametrize(
    ("setup", "call", "sqlstate", "message", "hint"),
    [
        (
            "create policy p on chat.t for select using (true)",
            "select realtime.enable('chat.t', 't:{topic}', all_rows_visible => true)",
            "55000",
            "realtime.enable: table chat.t has row level security enabled, so all_rows_visible"
            " => true would show readers rows its policies hide",
            "leave all_rows_visible out: realtime.enable(table, topic_template) follows the"
            " table's policies",
        ),
        (
            "create function chat.t_visible(r chat.t) returns boolean language sql"
            " as $$ select true $$",
            "select realtime.enable('chat.t', 't:{topic}', 'chat.t_visible(chat.t)',"
            " all_rows_visible => true)",
            "22023",
            "realtime.enable: give a visibility function or all_rows_visible => true, not both",
            None,
        ),
        (
            "alter table chat.t disable row level security",
            "select realtime.enable('chat.t', 't:{topic}', all_rows_visible => null)",
            "22004",
            "realtime.enable: all_rows_visible must be true or false, not null",
            None,
        ),
        (
            "create policy p on chat.t for select using (true);"
            " revoke select on chat.t from authenticated;"
            " grant select (id, topic) on chat.t to authenticated",
            DERIVED,
            "42501",
            "realtime.enable: role authenticated may not select from chat.t, but its events"
            " would show it every column",
            "grant usage on schema chat to authenticated; grant select on chat.t to authenticated",
        ),
        (
            "create policy p on chat.t for select using (true);"
            " revoke usage on schema chat from authenticated",
            DERIVED,
            "42501",
            "realtime.enable: role authenticated may not select from chat.t, but its events"
            " would show it every column",
            "grant usage on schema chat to authenticated; grant select on chat.t to authenticated",
        ),
    ],
    ids=["all rows but RLS", "function and all rows", "all rows null", "columns only",
         "no schema usage"],
)  # fmt: skip
def test_contradictory_or_unreadable_enables_are_refused(
    conn: psycopg.Connection, setup: str, call: str, sqlstate: str, message: str, hint: str | None
) -> None:
    error = refusal(conn, setup, call)
    assert (error.sqlstate, error.diag.message_primary, error.diag.message_hint) == (
        sqlstate,
        message,
        hint,
    )


def test_a_refused_enable_again_keeps_the_rule_it_had(conn: psycopg.Connection) -> None:
    """Enabling again after a policy change to a shape that cannot be derived is refused, and
    the table keeps its previous rule and its events until it is fixed."""
    owner = user(0)
    conn.execute(TABLE + " create policy own on chat.t for select using (owner = auth.uid());")
    conn.execute(DERIVED)
    before = conn.execute("select * from realtime.tables where table_name = 't'").fetchone()
    conn.execute("create policy lucky on chat.t for select using (random() < 0.5)")
    conn.execute("savepoint s")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match=r"policy lucky on chat\.t"):
        conn.execute(DERIVED)
    conn.execute("rollback to savepoint s")
    assert conn.execute("select * from realtime.tables where table_name = 't'").fetchone() == before
    conn.execute("insert into chat.t values (1, %s, 'a')", (owner,))
    last = conn.execute("select max(id) from realtime.messages").fetchone()[0]
    assert read_events(conn, [owner, user(1)], [last]) == {owner: {last}, user(1): set()}
