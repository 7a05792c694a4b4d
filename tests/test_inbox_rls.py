"""The inbox channel org-tickets:<org>: who may subscribe, and which of its events each user
reads (RLS per event, live and on replay), beside the ticket channel's AI status it copies."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.support import World, as_user, head, read_as

USERS = ("customer", "agent", "other_agent", "stranger")
NEW_TICKET = "00000000-0000-0000-0000-00000000e101"


def inbox(world: World, org=None) -> str:
    return f"org-tickets:{org or world.org_a}"


def may_subscribe(conn: psycopg.Connection, user, channel: str) -> bool:
    prefix, key = channel.split(":", 1)
    row = conn.execute(
        "select realtime.authorize('authenticated', %s, %s, %s)", (str(user), prefix + ":", key)
    ).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("name", USERS)
def test_only_the_orgs_agents_may_subscribe_to_its_inbox(
    conn: psycopg.Connection, world: World, name: str
) -> None:
    user = getattr(world, name)
    assert may_subscribe(conn, user, inbox(world)) == (name == "agent")
    assert may_subscribe(conn, user, inbox(world, world.org_b)) == (name == "other_agent")


def inbox_events(conn: psycopg.Connection, world: World, user, after) -> list[tuple[str, str]]:
    """(label, topic) of every event `user` reads after `after`, in log order."""
    rows = read_as(conn, user, after)
    topics = dict(
        conn.execute(
            "select id, topic from realtime.messages where id = any(%s)", ([r["id"] for r in rows],)
        ).fetchall()
    )
    out = []
    for r in rows:
        p = r["payload"]
        if r["event"] == "ai_status":
            what = f"ai_status {p['status']}"
        else:
            row = p["old"] if p["eventType"] == "DELETE" else p["new"]
            what = f"{p['table']} {p['eventType']} {row.get('subject') or row.get('body')}"
        out.append((what, topics[r["id"]]))
    return out


def write_inbox_events(conn: psycopg.Connection, w: World) -> None:
    """A new ticket (the customer's), an update of the world's ticket, an AI status on its
    thread, and the new ticket deleted: as the superuser, whose writes fire the same triggers."""
    conn.execute(
        "insert into tickets (id, org_id, requester_id, subject) values (%s, %s, %s, 'new one')",
        (NEW_TICKET, w.org_a, w.customer),
    )
    conn.execute(
        "update tickets set status = 'pending', subject = 'renamed' where id = %s", (w.ticket,)
    )
    conn.execute(
        "select set_config('request.jwt.claims', %s, false)", (json.dumps({"sub": str(w.agent)}),)
    )
    conn.execute("select set_thread_ai_status(%s, 'processing', 40)", (w.thread,))
    conn.execute("delete from tickets where id = %s", (NEW_TICKET,))


INBOX_EVENTS = [
    ("tickets INSERT new one", "org-tickets"),
    ("tickets UPDATE renamed", "org-tickets"),
    ("ai_status processing", "org-tickets"),
    ("tickets DELETE new one", "org-tickets"),
]


@pytest.mark.parametrize("name", USERS)
def test_inbox_events_are_for_the_orgs_agents_only(
    conn: psycopg.Connection, world: World, name: str
) -> None:
    before = head(conn)
    write_inbox_events(conn, world)
    user = getattr(world, name)
    seen = [
        (what, topic.split(":")[0])
        for what, topic in inbox_events(conn, world, user, before)
        if topic.startswith("org-tickets:")
    ]
    assert seen == (INBOX_EVENTS if name == "agent" else [])
    # Every inbox event is on org A's channel, none on org B's.
    assert all(
        topic == inbox(world)
        for _, topic in inbox_events(conn, world, world.agent, before)
        if topic.startswith("org-tickets:")
    )
    # The ticket's own channel still carries its AI status, for whoever sees the thread.
    on_ticket = [w for w, t in inbox_events(conn, world, user, before) if t == world.topic]
    assert on_ticket == (["ai_status processing"] if name in ("customer", "agent") else [])


def test_the_inbox_ai_status_names_its_ticket_and_keeps_the_seed_shape(
    conn: psycopg.Connection, world: World
) -> None:
    before = head(conn)
    conn.execute(
        "select set_config('request.jwt.claims', %s, false)",
        (json.dumps({"sub": str(world.agent)}),),
    )
    conn.execute("select set_thread_ai_status(%s, 'failed', null, 'model down')", (world.thread,))
    payloads = {
        conn.execute("select topic from realtime.messages where id = %s", (r["id"],)).fetchone()[
            0
        ]: r["payload"]
        for r in read_as(conn, world.agent, before)
    }
    shape = {"threadId": str(world.thread), "status": "failed", "error": "model down"}
    assert payloads == {
        world.topic: shape,
        inbox(world): shape | {"ticketId": str(world.ticket)},
    }


def test_a_ticket_update_bumps_its_version_and_a_stale_one_changes_nothing(
    conn: psycopg.Connection, world: World
) -> None:
    row = conn.execute(
        "update tickets set status = 'solved' where id = %s returning version", (world.ticket,)
    ).fetchone()
    assert row == (2,)
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("update tickets set subject = 'x', version = 1 where id = %s", (world.ticket,))
    assert caught.value.sqlstate == "TC409"
    assert conn.execute(
        "select subject, status, version from tickets where id = %s", (world.ticket,)
    ).fetchone() == (world.ticket_subject, "solved", 2)


def test_an_agent_moved_out_of_the_org_reads_no_more_of_its_inbox(
    conn: psycopg.Connection, world: World
) -> None:
    """RLS decides per event, at read time: a replay after the removal shows nothing."""
    before = head(conn)
    write_inbox_events(conn, world)
    conn.execute("delete from org_members where user_id = %s", (world.agent,))
    assert [e for e in inbox_events(conn, world, world.agent, before) if e[1] == inbox(world)] == []
    with as_user(conn, world.agent) as cur:
        cur.execute("select count(*) as n from tickets where org_id = %s", (world.org_a,))
        assert cur.fetchone()["n"] == 0
