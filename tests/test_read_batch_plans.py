"""The plans realtime.read_batch() runs for a member of the team chat (tests/data/chat_app.sql:
its messages' policy reads `channel_id in (select id from chat.channels)` under the channels'
own policies), as auto_explain shows them, the statements inside its functions included.

read_batch() plans without sequential scans (enable_seqscan = off), so that its lookups in the
log stay on the primary key; that holds for the policies' subqueries too. Up to PostgreSQL 17
a sequential scan with no alternative still gets 1e10 added to its cost, far above
jit_above_cost: the rule's query, which is not inlined and runs afresh on each call, was
JIT-compiled (inlined, optimized) once per event, reader and query, about 0.12 s a call on
PostgreSQL 15, for the derived rule and a hand-written one alike. The caller here lowers every
JIT threshold to 0, so that any plan would be compiled, even where costs stay low (18 counts
disabled nodes instead of adding to the cost) or the server has no JIT (the embedded one):
nothing read_batch() runs may be."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.chat import install_chat, read_events, user

MEMBERS = [user(0), user(1)]

# A rule a team would write by hand for the messages, repeating their policies.
HAND_WRITTEN = """
create function chat.message_visible(m chat.messages) returns boolean
language sql stable as $$
    select (m.channel_id in (select c.id from chat.channels c)
            or (select auth.uid()) = m.user_id)
       and (not m.hidden or auth.uid() = m.user_id)
$$;
select realtime.enable('chat.messages', 'channel:{channel_id}',
                       'chat.message_visible(chat.messages)');
"""


def plans_of_read_batch(conn: psycopg.Connection, ids: list[int]) -> tuple[dict, list[str]]:
    """What each member reads of `ids`, and the plans of every statement run inside
    read_batch() (those planned with its settings), with JIT made as eager as it gets."""
    plans: list[str] = []
    conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
    conn.execute("load 'auto_explain'")
    for setting in (
        "jit = on",
        "jit_above_cost = 0",
        "jit_inline_above_cost = 0",
        "jit_optimize_above_cost = 0",
        "auto_explain.log_min_duration = 0",
        "auto_explain.log_nested_statements = on",
        "auto_explain.log_analyze = on",
        "auto_explain.log_verbose = on",
        "auto_explain.log_settings = on",
        "auto_explain.log_level = notice",
    ):
        conn.execute(f"set {setting}")
    seen = read_events(conn, MEMBERS, ids)
    conn.execute("reset auto_explain.log_min_duration")
    return seen, [p for p in plans if re.search(r"^Settings:.*enable_seqscan = 'off'", p, re.M)]


@pytest.mark.parametrize("rule", ["derived", "hand-written"])
def test_read_batch_jit_compiles_nothing_a_subquery_policy_runs(
    empty_database_url: str, rule: str
) -> None:
    install_chat(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        if rule == "hand-written":
            conn.execute(HAND_WRITTEN)
        conn.execute(
            "insert into chat.workspaces values (1, 'acme');"
            " insert into chat.channels values (1, 1, 'general', false);"
        )
        conn.execute(
            "insert into chat.members select 1, u::uuid from unnest(%s::text[]) u", (MEMBERS,)
        )
        conn.execute(
            "insert into chat.messages (channel_id, user_id, body)"
            " select 1, u::uuid, 'hi' from unnest(%s::text[]) u",
            (MEMBERS,),
        )
        ids = [
            r[0]
            for r in conn.execute(
                "select id from realtime.messages where table_name = 'messages' order by id"
            )
        ]
        seen, plans = plans_of_read_batch(conn, ids)

    # Both members read both messages: the policies were evaluated, subqueries and all.
    assert seen == {sub: set(ids) for sub in MEMBERS}
    text = "\n".join(plans)
    # The rule's query ran inside read_batch(), once per reader at least, and its subquery
    # read the channels: the plans that were JIT-compiled on PostgreSQL 15.
    rule_plans = [p for p in plans if "chat.channels" in p]
    assert len(rule_plans) >= len(MEMBERS), text
    # None was JIT-compiled (where the server has JIT), and every statement read_batch() ran
    # was planned with JIT off (wherever it runs).
    assert "JIT:" not in text
    assert all(re.search(r"^Settings:.*jit = 'off'", p, re.M) for p in plans), text
    # What enable_seqscan = off is for: the log is read by its primary key, never scanned.
    log_reads = [p for p in plans if "from realtime.messages m" in p]
    assert log_reads and all("messages_pkey" in p for p in log_reads), text
    assert "Seq Scan on realtime.messages" not in text
