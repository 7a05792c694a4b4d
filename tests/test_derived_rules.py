"""realtime.enable(table, topic) without a visibility function: the log follows the table's own
SELECT policies, on a schema unlike the ticket application (tests/data/chat_app.sql, a team
chat with Supabase-style policies) installed on the engine alone.

The property: for every event and every user, the user may read the event exactly when the
table's own select, as that user, shows (INSERT, new side of an UPDATE) or showed just before
(DELETE, old side of an UPDATE) that row version. Random rows are written by random users
(under RLS) and by the workspace's administration (the owner): inserts, updates that move rows
in and out of users' sight (membership, roles, a channel going private or to another
workspace, a message moving channel or being hidden), deletes. Each change is its own
transaction, and events are read right after it: a policy's subqueries read the other tables
as they are when the event is read (docs/adopting.md)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chat import KEYS, install_chat, may_read, read_events, user, visible_keys

USERS = [user(n) for n in range(4)]
# A token whose sub is no uuid (Auth0's) reads as nobody in particular, without an error.
READERS = [*USERS, "auth0|5f1c0ffee"]
WORKSPACES = [1, 2]
CHANNELS = [1, 2, 3, 4]

SEED = f"""
insert into chat.workspaces values (1, 'acme'), (2, 'globex');
insert into chat.members values (1, '{USERS[0]}', 'admin'), (1, '{USERS[1]}', 'member'),
                                (2, '{USERS[2]}', 'member'), (2, '{USERS[0]}', 'member');
insert into chat.channels values (1, 1, 'general', false), (2, 1, 'admins', true),
                                 (3, 2, 'general', false), (4, 2, 'secret', true);
insert into chat.messages (channel_id, user_id, body, hidden) values
    (1, '{USERS[0]}', 'hello', false), (2, '{USERS[0]}', 'psst', false),
    (3, '{USERS[2]}', 'hi', false), (1, '{USERS[1]}', 'draft', true);
"""

PROFILE = os.environ.get("THREADCAST_HYPOTHESIS_PROFILE", "default")
EXAMPLES = {"default": 12, "thorough": 120}[PROFILE]


@dataclass(frozen=True)
class Change:
    """One write: SQL and parameters, run as `actor` (a user, under RLS) or as the owner."""

    sql: str
    params: tuple
    actor: str | None = None

    @property
    def table(self) -> str:
        """The one table it writes (the chat has no cascades, nor triggers of its own)."""
        return re.search(r"(?:into|update|from) chat\.(\w+)", self.sql).group(1)

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        who = f"as {USERS.index(self.actor)}" if self.actor else "as owner"
        return f"Change({self.sql!r}, {self.params!r}, {who})"


users = st.sampled_from(USERS)
actors = st.one_of(st.none(), users)
workspaces = st.sampled_from(WORKSPACES)
channels = st.sampled_from(CHANNELS)
roles = st.sampled_from(["member", "admin"])
# A message by its position among the messages there are (the nth smallest id, wrapped).
PICK = "(select id from chat.messages order by id offset %s %% greatest((select count(*) from chat.messages), 1) limit 1)"  # noqa: E501
picks = st.integers(0, 20)
bodies = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)

changes = st.one_of(
    st.builds(lambda w, u, r: Change("insert into chat.members values (%s, %s, %s)", (w, u, r)),
              workspaces, users, roles),
    st.builds(lambda r, w, u: Change(
        "update chat.members set role = %s where workspace_id = %s and user_id = %s", (r, w, u)),
        roles, workspaces, users),
    st.builds(lambda w, u, to: Change(
        "update chat.members set workspace_id = %s where workspace_id = %s and user_id = %s",
        (to, w, u)), workspaces, users, workspaces),
    st.builds(lambda w, u: Change(
        "delete from chat.members where workspace_id = %s and user_id = %s", (w, u)),
        workspaces, users),
    st.builds(lambda c, w, p: Change(
        "insert into chat.channels values (%s, %s, 'new', %s)", (c + 4, w, p)),
        channels, workspaces, st.booleans()),
    st.builds(lambda c, w, p: Change(
        "update chat.channels set workspace_id = %s, private = %s where id = %s", (w, p, c)),
        channels, workspaces, st.booleans()),
    st.builds(lambda c: Change("delete from chat.channels where id = %s", (c + 4,)), channels),
    st.builds(lambda a, c, h, body: Change(
        "insert into chat.messages (channel_id, user_id, body, hidden) values (%s, %s, %s, %s)",
        (c, a, body, h), actor=a), users, channels, st.booleans(), bodies),
    st.builds(lambda u, c, h: Change(
        "insert into chat.messages (channel_id, user_id, body, hidden) values (%s, %s, 'x', %s)",
        (c, u, h)), users, channels, st.booleans()),
    st.builds(lambda a, n, c: Change(
        f"update chat.messages set channel_id = %s where id = {PICK}", (c, n), actor=a),
        actors, picks, channels),
    st.builds(lambda a, n, h: Change(
        f"update chat.messages set hidden = %s where id = {PICK}", (h, n), actor=a),
        actors, picks, st.booleans()),
    st.builds(lambda a, n, body: Change(
        f"update chat.messages set body = %s where id = {PICK}", (body, n), actor=a),
        actors, picks, bodies),
    st.builds(lambda a, n: Change(f"delete from chat.messages where id = {PICK}", (n,), actor=a),
              actors, picks),
    st.builds(lambda w: Change("update chat.workspaces set name = name || '!' where id = %s", (w,)),
              workspaces),
)  # fmt: skip


def run(conn: psycopg.Connection, change: Change) -> None:
    """Applies one change in its own transaction; a write the schema or RLS refuses (a key
    taken, a row still referenced, a policy's WITH CHECK) changes nothing."""
    try:
        with conn.transaction():
            if change.actor:
                conn.execute("set local role authenticated")
                conn.execute(
                    "select set_config('request.jwt.claims', %s, true)",
                    (f'{{"role": "authenticated", "sub": "{change.actor}"}}',),
                )
            conn.execute(change.sql, change.params)
    except (psycopg.errors.IntegrityError, psycopg.errors.InsufficientPrivilege):
        pass


def sights(conn: psycopg.Connection, table: str) -> dict[str, set]:
    """What the table's own SELECT shows each reader now."""
    return {reader: visible_keys(conn, reader, table) for reader in READERS}


@pytest.fixture
def chat(empty_database_url: str) -> str:
    install_chat(empty_database_url)
    return empty_database_url


def seed(conn: psycopg.Connection) -> int:
    """The chat back to its seed; returns the last log id, after which this example's events
    come."""
    conn.execute("truncate chat.messages, chat.channels, chat.members, chat.workspaces")
    conn.execute(SEED)
    return conn.execute("select coalesce(max(id), 0) from realtime.messages").fetchone()[0]


def test_each_event_reaches_exactly_who_the_table_shows_that_row(chat: str) -> None:
    with psycopg.connect(chat, autocommit=True) as conn:
        checked = {"events": 0, "readable": 0, "hidden": 0}

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(st.lists(changes, min_size=1, max_size=25))
        def writes(history: list[Change]) -> None:  # fmt: skip
            last = seed(conn)
            for change in history:
                before = sights(conn, change.table)
                run(conn, change)
                after = sights(conn, change.table)
                events = conn.execute(
                    "select id, table_name, payload, counterpart from realtime.messages"
                    " where id > %s order by id",
                    (last,),
                ).fetchall()
                if not events:
                    continue
                last = events[-1][0]
                ids = [e[0] for e in events]
                received = read_events(conn, READERS, ids)
                for reader in READERS:
                    expected = set()
                    for message_id, table, payload, counterpart in events:
                        assert table == change.table
                        event = {
                            "table_name": table,
                            "payload": payload,
                            "counterpart": counterpart,
                        }
                        saw: Callable = before[reader].__contains__
                        sees: Callable = after[reader].__contains__
                        if may_read(event, saw, sees):
                            expected.add(message_id)
                    assert received[reader] == expected, (change, reader, events)
                    checked["readable"] += len(expected)
                    checked["hidden"] += len(ids) - len(expected)
                checked["events"] += len(ids)

        writes()
        # The property was exercised both ways, not vacuously.
        assert checked["events"] > 0 and checked["readable"] > 0 and checked["hidden"] > 0


def test_the_derived_rule_follows_moves_in_and_out_of_sight(chat: str) -> None:
    """The cases the property test covers at random, spelled out: a message moving to a channel
    the reader cannot see reaches them as a DELETE; moving back, as an UPDATE without its old
    row; hidden, only its author; a member promoted to admin sees the private channel's
    messages from then on; removed, sees no more of the workspace's messages."""
    alice, bob = USERS[0], USERS[1]
    with psycopg.connect(chat, autocommit=True) as conn:
        last = seed(conn)

        def step(sql: str, *params: object) -> dict[str, list[tuple[str, str]]]:
            nonlocal last
            conn.execute(sql, params)
            rows = conn.execute(
                "select id, payload from realtime.messages where id > %s order by id", (last,)
            ).fetchall()
            last = rows[-1][0]
            seen = read_events(conn, [alice, bob], [r[0] for r in rows])
            return {
                name: [
                    (p["eventType"], "old" if p["old"] else "-") for i, p in rows if i in seen[sub]
                ]
                for name, sub in (("alice", alice), ("bob", bob))
            }

        message = conn.execute(
            "insert into chat.messages (channel_id, user_id, body) values (1, %s, 'm')"
            " returning id",
            (alice,),
        ).fetchone()[0]
        last = conn.execute("select max(id) from realtime.messages").fetchone()[0]
        # Into the private channel: alice (admin) sees an UPDATE, bob (member) its DELETE.
        moved = step("update chat.messages set channel_id = 2 where id = %s", message)
        assert moved["alice"] == [("UPDATE", "old"), ("DELETE", "old")]  # and off channel 1
        assert moved["bob"] == [("DELETE", "old")]
        # Back: bob sees it arrive as an UPDATE without the old row he never saw.
        back = step("update chat.messages set channel_id = 1 where id = %s", message)
        assert back["bob"] == [("UPDATE", "-")]
        hidden = step("update chat.messages set hidden = true where id = %s", message)
        assert hidden["alice"] == [("UPDATE", "old")] and hidden["bob"] == [("DELETE", "old")]
        # bob becomes an admin: a message in the private channel reaches him.
        step("update chat.members set role = 'admin' where workspace_id = 1 and user_id = %s", bob)
        private = step(
            "insert into chat.messages (channel_id, user_id, body) values (2, %s, 'p')", alice
        )
        assert private["bob"] == [("INSERT", "-")]
        # bob leaves: his own membership's DELETE reaches him (he saw the row), then nothing.
        left = step("delete from chat.members where workspace_id = 1 and user_id = %s", bob)
        assert left["bob"] == [("DELETE", "old")]
        after = step("insert into chat.messages (channel_id, user_id, body) values (1, %s, 'q')",
                     alice)  # fmt: skip
        assert after["bob"] == [] and after["alice"] == [("INSERT", "-")]


def test_which_policies_the_derived_rule_takes(chat: str) -> None:
    """SELECT and ALL policies for public, authenticated and roles authenticated inherits;
    permissive ones OR'ed, restrictive ones AND'ed; never another role's, nor a write-only
    policy's, nor a FOR ALL policy's WITH CHECK."""
    with psycopg.connect(chat, autocommit=True) as conn:
        # Roles are the cluster's: whatever an interrupted run left goes first.
        conn.execute("drop role if exists chat_auditors")
        conn.execute("drop role if exists chat_readers")
        conn.execute("create role chat_readers nologin")
        try:
            conn.execute("grant chat_readers to authenticated")
            conn.execute("create role chat_auditors nologin")
            conn.execute(
                "create table chat.notes (id int primary key, owner uuid, topic text, flag int);"
                " alter table chat.notes enable row level security;"
                " grant select on chat.notes to authenticated;"
                " create policy a_own on chat.notes for select using (owner = auth.uid());"
                " create policy b_readers on chat.notes for all to chat_readers using (flag = 1)"
                "  with check (flag = 99);"
                " create policy c_auditors on chat.notes for select to chat_auditors using (true);"
                " create policy d_anon on chat.notes for select to anon using (true);"
                " create policy e_insert on chat.notes for insert to authenticated"
                "  with check (true);"
                " create policy f_update on chat.notes for update using (true);"
                " create policy g_restrict on chat.notes as restrictive for select"
                "  using (topic <> 'secret');"
                " create policy h_restrict_all on chat.notes as restrictive for all"
                "  to authenticated using (flag < 10);"
                " create policy i_no_using on chat.notes for all with check (flag = 7);"
            )
            conn.execute("select realtime.enable('chat.notes', 'notes:{topic}')")
            rule = conn.execute(
                "select derived_rule from realtime.tables where table_name = 'notes'"
            ).fetchone()[0]
            assert rule == (
                "(((owner = auth.uid())) or ((flag = 1)))"
                " and ((topic <> 'secret'::text)) and ((flag < 10))"
            )
            owner = USERS[0]
            conn.execute(
                "insert into chat.notes values (1, %s, 't', 0), (2, %s, 't', 1), (3, %s, 't', 2),"
                " (4, %s, 'secret', 1), (5, %s, 't', 11)",
                (owner, USERS[1], USERS[1], owner, owner),
            )
            ids = [r[0] for r in conn.execute(
                "select id from realtime.messages where table_name = 'notes'")]  # fmt: skip
            seen = read_events(conn, [owner, USERS[1]], ids)
            shown = {u: visible_keys(conn, u, "notes") for u in (owner, USERS[1])}
            # Own notes, flag 1 (chat_readers' FOR ALL), never secret ones nor flags over 9.
            assert shown == {owner: {("1",), ("2",)}, USERS[1]: {("2",), ("3",)}}
            assert [len(seen[owner]), len(seen[USERS[1]])] == [2, 2]
        finally:
            # Their policies go first (and, with the table, its log policy).
            conn.execute("drop table if exists chat.notes cascade")
            conn.execute("drop role if exists chat_auditors")
            conn.execute("revoke chat_readers from authenticated")
            conn.execute("drop role chat_readers")


def test_check_agrees_until_a_policy_changes_and_again_after_enabling_again(chat: str) -> None:
    with psycopg.connect(chat, autocommit=True) as conn:

        def check() -> dict[str, tuple]:
            rows = conn.execute(
                "select table_name::text, rule, policies, log_rule, agrees, problem"
                " from realtime.check()"
            ).fetchall()
            return {r[0]: r[1:] for r in rows}

        report = check()
        assert sorted(report) == [f"chat.{t}" for t in sorted(KEYS)]
        assert all(r[0] == "derived" and r[3] is True and r[4] is None for r in report.values())
        policies, log_rule = report["chat.messages"][1:3]
        assert policies == [
            '"hidden for everyone but the author" restrictive for all to authenticated'
            " using (((NOT hidden) OR (auth.uid() = user_id)))",
            '"messages of my channels" permissive for select to public'
            " using ((channel_id IN ( SELECT c.id\n   FROM chat.channels c)))",
            '"my messages" permissive for all to authenticated'
            " using ((( SELECT auth.uid() AS uid) = user_id))",
        ]
        assert log_rule.endswith("and (((NOT hidden) OR (auth.uid() = user_id)))")

        # Authors no longer see their hidden messages: the policy changes, the log's rule not.
        conn.execute(
            'alter policy "hidden for everyone but the author" on chat.messages using (not hidden)'
        )
        stale = check()["chat.messages"]
        assert stale[3] is False
        assert stale[4] == (
            "its policies changed since the rule was derived: run"
            " realtime.enable('chat.messages', 'channel:{channel_id}') again"
        )
        assert all(r[3] for t, r in check().items() if t != "chat.messages")
        # Until then, events follow the rule as it was derived.
        conn.execute("insert into chat.workspaces values (1, 'w')")
        conn.execute("insert into chat.channels values (1, 1, 'c', false)")
        author = USERS[0]
        conn.execute(
            "insert into chat.messages (channel_id, user_id, body, hidden)"
            " values (1, %s, 'h', true)",
            (author,),
        )
        hidden_insert = conn.execute("select max(id) from realtime.messages").fetchone()[0]
        assert read_events(conn, [author], [hidden_insert])[author] == {hidden_insert}

        conn.execute("select realtime.enable('chat.messages', 'channel:{channel_id}')")
        fresh = check()["chat.messages"]
        assert fresh[3] is True and fresh[4] is None
        assert fresh[2].endswith("and ((NOT hidden))")
        # Regenerated: the same event is now judged by the new policy.
        assert read_events(conn, [author], [hidden_insert])[author] == set()
        assert visible_keys(conn, author, "messages") == set()

        # A change to a shape that cannot be derived: check() says why, in enable()'s words.
        conn.execute("create policy volatile on chat.messages for select using (random() < 2)")
        broken = check()["chat.messages"]
        assert broken[3] is False
        assert broken[4] == (
            "realtime.enable: policy volatile on chat.messages calls volatile function random(),"
            " whose answer for an event's row may differ from the table's"
        )
        # Readers must be able to select the table.
        conn.execute("drop policy volatile on chat.messages")
        conn.execute("revoke select on chat.workspaces from authenticated")
        revoked = check()["chat.workspaces"]
        assert revoked[3] is False and "may not select from the table" in revoked[4]


def test_check_reports_explicit_and_all_rows_rules(chat: str) -> None:
    with psycopg.connect(chat, autocommit=True) as conn:
        conn.execute(
            "create table public.plain (id int primary key, t text);"
            " grant select on public.plain to authenticated;"
            " create table public.ruled (id int primary key, owner uuid);"
            " alter table public.ruled enable row level security;"
            " grant select on public.ruled to authenticated;"
            " create function public.ruled_visible(r public.ruled) returns boolean"
            "  language sql stable as $$ select r.owner = auth.uid() $$;"
            " create policy ruled_read on public.ruled for select to authenticated"
            "  using (public.ruled_visible(ruled));"
        )
        conn.execute(
            "select realtime.enable('public.plain', 'plain:{t}', all_rows_visible => true)"
        )
        conn.execute(
            "select realtime.enable('public.ruled', 'ruled:{id}',"
            " 'public.ruled_visible(public.ruled)')"
        )
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "select table_name::text, rule, log_rule, agrees, problem from realtime.check()"
                " where table_name::text in ('plain', 'ruled')"
            )
        }
        assert rows["plain"] == ("all rows", "every row to every reader", True, None)
        assert rows["ruled"] == ("explicit", "public.ruled_visible(public.ruled)", True, None)
        conn.execute(
            "create policy ruled_more on public.ruled for select to authenticated using (id < 5)"
        )
        conn.execute("alter table public.plain enable row level security")
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "select table_name::text, agrees, problem from realtime.check()"
                " where table_name::text in ('plain', 'ruled')"
            )
        }
        assert rows["ruled"][0] is None and "explicit rule" in rows["ruled"][1]
        assert rows["plain"] == (False, "row level security was enabled since: enable the table"
                                 " again without all_rows_visible")  # fmt: skip
        # Every reader saw the plain table's events while it had no RLS.
        conn.execute("alter table public.plain disable row level security")
        conn.execute("insert into public.plain values (1, 'a')")
        plain = conn.execute("select max(id) from realtime.messages").fetchone()[0]
        assert read_events(conn, READERS, [plain]) == {r: {plain} for r in READERS}
        # A policy that hands the whole row to a function (the ticket application's style)
        # derives too: the row it is given has the table's type.
        conn.execute("drop policy ruled_more on public.ruled")
        conn.execute("select realtime.enable('public.ruled', 'ruled:{id}')")
        assert conn.execute(
            "select rule, derived_rule from realtime.tables where table_name = 'ruled'"
        ).fetchone() == ("derived", "((public.ruled_visible(ruled.*)))")
        conn.execute("insert into public.ruled values (1, %s), (2, %s)", (USERS[0], USERS[1]))
        ids = [r[0] for r in conn.execute(
            "select id from realtime.messages where table_name = 'ruled' order by id")]  # fmt: skip
        assert read_events(conn, USERS[:3], ids) == {
            USERS[0]: {ids[0]}, USERS[1]: {ids[1]}, USERS[2]: set()
        }  # fmt: skip


def test_a_channel_of_the_chat_is_authorized_by_its_own_rule(chat: str) -> None:
    """realtime.register_channel() with the chat's own function: subscribing is allowed exactly
    where the channel's row is visible, as the server asks (realtime.authorize)."""
    with psycopg.connect(chat, autocommit=True) as conn:
        seed(conn)
        allowed = {}
        for reader in READERS:
            for channel in CHANNELS:
                with conn.transaction():
                    conn.execute("set local role threadcast")
                    allowed[(reader, channel)] = conn.execute(
                        "select realtime.authorize('authenticated', %s, 'channel:', %s)",
                        (reader, str(channel)),
                    ).fetchone()[0]
        for reader in READERS:
            shown = {int(k[0]) for k in visible_keys(conn, reader, "channels")}
            assert {c for c in CHANNELS if allowed[(reader, c)]} == shown
        assert allowed[(USERS[0], 2)] and not allowed[(USERS[1], 2)]
        assert not any(allowed[(READERS[-1], c)] for c in CHANNELS)


def test_long_table_names_get_their_own_functions(chat: str) -> None:
    """Generated names stay within 63 bytes and differ for tables that share a long prefix."""
    with psycopg.connect(chat, autocommit=True) as conn:
        names = ["n" * 63, "n" * 62 + "m", "n" * 41]
        for name in names:
            conn.execute(
                f'create table chat."{name}" (id int primary key, owner uuid);'
                f' alter table chat."{name}" enable row level security;'
                f' grant select on chat."{name}" to authenticated;'
                f' create policy own on chat."{name}" for select using (owner = auth.uid())'
            )
            conn.execute("select realtime.enable(%s, 'long:{id}')", (f'chat."{name}"',))
            conn.execute(f'insert into chat."{name}" values (1, %s)', (USERS[0],))
        functions = [r[0] for r in conn.execute(
            "select visible_function from realtime.tables where length(table_name) > 40"
            " order by table_name")]  # fmt: skip
        assert len(set(functions)) == 3
        assert all(len(f.split("(")[0].removeprefix("realtime.")) <= 63 for f in functions)
        ids = [r[0] for r in conn.execute(
            "select id from realtime.messages where length(table_name) > 40")]  # fmt: skip
        assert read_events(conn, [USERS[0], USERS[1]], ids) == {USERS[0]: set(ids), USERS[1]: set()}


def test_a_policy_over_the_tokens_claims_derives_and_reads_each_users_claims(
    chat: str,
) -> None:
    """Supabase-style `auth.jwt() ->> 'email'`: events are read with each user's own token
    claims (realtime.read_batch's `claims`), so the derived rule judges them as the table does."""
    with psycopg.connect(chat, autocommit=True) as conn:
        conn.execute(
            "create table chat.memos (id int primary key, body text);"
            " alter table chat.memos enable row level security;"
            " grant select on chat.memos to authenticated;"
            " create policy acme on chat.memos for select"
            " using ((auth.jwt() ->> 'email') like '%@acme.test')"
        )
        conn.execute("select realtime.enable('chat.memos', 'memos:{id}')")
        conn.execute("insert into chat.memos values (1, 'for acme')")
        ids = [r[0] for r in conn.execute(
            "select id from realtime.messages where table_name = 'memos'")]  # fmt: skip
        requests = [
            {"role": "authenticated", "sub": USERS[0], "claims": {"email": "ada@acme.test"},
             "ids": ids},
            {"role": "authenticated", "sub": USERS[1], "claims": {"email": "ben@other.test"},
             "ids": ids},
            {"role": "authenticated", "sub": USERS[2], "ids": ids},
        ]  # fmt: skip
        with conn.transaction(force_rollback=True):
            conn.execute("set local role threadcast")
            rows = conn.execute(
                "select request, id from realtime.read_batch(%s::jsonb)", (json.dumps(requests),)
            ).fetchall()
        assert ids and rows == [(0, ids[0])]
        agrees = dict(
            conn.execute("select table_name::text, agrees from realtime.check()").fetchall()
        )
        assert agrees["chat.memos"] is True


def test_a_rule_of_columns_only_is_inlined_like_a_hand_written_one(chat: str) -> None:
    """The log's policy for a table whose policies read only the row's columns calls no
    function: the derived rule is inlined (the same plan as `select r.owner = auth.uid()`);
    with a subquery it is a call, as a hand-written function with one would be."""
    with psycopg.connect(chat, autocommit=True) as conn:
        conn.execute(
            "create table chat.notes (id int primary key, owner uuid, shared boolean);"
            " alter table chat.notes enable row level security;"
            " grant select on chat.notes to authenticated;"
            " create policy own on chat.notes for select using (owner = auth.uid() or shared);"
            " select realtime.enable('chat.notes', 'notes:{id}');"
        )
        generated = {
            r[0]: r[1]
            for r in conn.execute(
                "select p.proname, pg_get_function_arguments(p.oid) from pg_proc p"
                " where p.pronamespace = 'realtime'::regnamespace and p.proname like 'visible_%'"
            )
        }
        notes = [n for n in generated if n.startswith("visible_notes_")]
        assert sorted(generated[n] for n in notes) == ["chat.notes", "owner uuid, shared boolean"]
        with conn.transaction(force_rollback=True):
            conn.execute("set local role authenticated")
            plan = "\n".join(
                r[0] for r in conn.execute("explain (verbose) select id from realtime.messages")
            )
        assert "visible_notes_" not in plan
        assert "jsonb_populate_record(NULL::chat.notes" in plan
        assert "realtime.visible_messages_" in plan
        # Disabled, both of its functions go.
        conn.execute("select realtime.disable('chat.notes')")
        assert conn.execute(
            "select count(*) from pg_proc where proname like 'visible_notes_%'"
        ).fetchone() == (0,)
