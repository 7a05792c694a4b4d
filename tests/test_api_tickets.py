"""GET /v1/tickets (the inbox's snapshot) and the log position every REST read answers with,
against a real server."""

from __future__ import annotations

import re

import httpx
import psycopg
import pytest

from tests.servers import RunningServer
from tests.sse import StreamReader, stream_url
from tests.support import World, head


def client(server: RunningServer, user) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.token(user)}"}, timeout=10
    )


def ids(body: dict) -> list[str]:
    return [t["id"] for t in body["tickets"]]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("agent", ["ticket"]),
        ("customer", ["ticket"]),
        ("other_agent", ["other_ticket"]),
        ("stranger", ["other_ticket"]),  # the stranger requested org B's ticket
    ],
)
def test_each_user_lists_the_tickets_they_may_see(
    live_server: RunningServer, world: World, name: str, expected: list[str]
) -> None:
    with client(live_server, getattr(world, name)) as c:
        response = c.get("/v1/tickets")
    assert response.status_code == 200
    assert ids(response.json()) == [str(getattr(world, e)) for e in expected]


def test_tickets_come_newest_update_first_with_version_and_ai_states(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    newer = conn.execute(
        "insert into tickets (org_id, requester_id, subject) values (%s, %s, 'Second')"
        " returning id::text",
        (world.org_a, world.customer),
    ).fetchone()[0]
    with client(live_server, world.agent) as c:
        c.post(
            f"/v1/threads/{world.thread}/ai-status", json={"status": "processing", "progress": 7}
        )
        assert ids(c.get("/v1/tickets").json()) == [newer, str(world.ticket)]
        conn.execute("update tickets set status = 'pending' where id = %s", (world.ticket,))
        body = c.get("/v1/tickets").json()
    assert ids(body) == [str(world.ticket), newer]
    first = body["tickets"][0]
    assert (first["status"], first["version"], first["subject"]) == (
        "pending",
        2,
        world.ticket_subject,
    )
    assert [(s["thread_id"], s["status"], s["progress"]) for s in first["ai_statuses"]] == [
        (str(world.thread), "processing", 7)
    ]
    assert body["tickets"][1]["ai_statuses"] == []


@pytest.mark.parametrize(("limit", "count"), [("1", 1), ("2", 2), ("3", 3), ("500", 3), (None, 3)])
def test_limit_bounds_the_list(
    live_server: RunningServer,
    world: World,
    conn: psycopg.Connection,
    limit: str | None,
    count: int,
) -> None:
    for n in range(2):
        conn.execute(
            "insert into tickets (org_id, requester_id, subject) values (%s, %s, %s)",
            (world.org_a, world.customer, f"t{n}"),
        )
    with client(live_server, world.agent) as c:
        params = {"limit": limit} if limit is not None else {}
        response = c.get("/v1/tickets", params=params)
    assert response.status_code == 200
    assert len(response.json()["tickets"]) == count


@pytest.mark.parametrize("limit", ["0", "501", "1000000000000", "-1", "1.5", "ten", "", "\u0661"])
def test_a_bad_limit_is_400(live_server: RunningServer, world: World, limit: str) -> None:
    with client(live_server, world.agent) as c:
        response = c.get("/v1/tickets", params={"limit": limit})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_limit"
    assert "1 to 500" in response.json()["message"]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("limit=1&limit=2", "bad_limit"),
        ("status=open", "bad_query"),
        ("limit=2&x=1", "bad_query"),
        ("org_id=nope", "bad_org_id"),
        (
            "org_id=00000000-0000-0000-0000-00000000000a&org_id=00000000-0000-0000-0000-00000000000b",
            "bad_org_id",
        ),
    ],
)
def test_an_unknown_or_repeated_parameter_is_400(
    live_server: RunningServer, world: World, query: str, error: str
) -> None:
    with client(live_server, world.agent) as c:
        response = c.get(f"/v1/tickets?{query}")
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_org_id_lists_one_organisations_tickets(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    conn.execute(
        "insert into org_members (org_id, user_id) values (%s, %s)", (world.org_b, world.agent)
    )
    with client(live_server, world.agent) as c:
        everything = ids(c.get("/v1/tickets").json())
        org_a = ids(c.get("/v1/tickets", params={"org_id": str(world.org_a)}).json())
        org_b = ids(c.get("/v1/tickets", params={"org_id": str(world.org_b)}).json())
        other = ids(c.get("/v1/tickets", params={"org_id": str(world.stranger)}).json())
    assert sorted(everything) == sorted([str(world.ticket), str(world.other_ticket)])
    assert (org_a, org_b, other) == ([str(world.ticket)], [str(world.other_ticket)], [])


def test_listing_tickets_needs_a_token(live_server: RunningServer) -> None:
    response = httpx.get(f"{live_server.url}/v1/tickets")
    assert response.status_code == 401


POSITION = re.compile(r"^[0-9]+-[0-9]+$")


def test_every_read_answers_with_the_head_position_in_body_and_header(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    tick, last = head(conn)  # ticks: the seed's events are now in a tick
    with client(live_server, world.agent) as c:
        answers = [
            c.get("/v1/tickets"),
            c.get(f"/v1/tickets/{world.ticket}/threads"),
            c.get(f"/v1/threads/{world.thread}"),
        ]
    for response in answers:
        assert response.status_code == 200
        position = response.json()["position"]
        assert POSITION.match(position)
        assert response.headers["Threadcast-Position"] == position
        # Nothing was written since: the head, or a later tick if the relay ticked meanwhile.
        at_tick, at_id = map(int, position.split("-"))
        assert (at_tick, at_id) >= (tick, last)
    # A write and a tick move it on.
    conn.execute("update tickets set status = 'solved' where id = %s", (world.ticket,))
    after = head(conn)
    with client(live_server, world.agent) as c:
        moved = c.get("/v1/tickets").json()["position"]
    assert tuple(map(int, moved.split("-"))) >= after > (tick, last)


def test_a_refused_read_has_no_position(live_server: RunningServer, world: World) -> None:
    with client(live_server, world.stranger) as c:
        response = c.get(f"/v1/threads/{world.thread}")
    assert response.status_code == 404
    assert "Threadcast-Position" not in response.headers
    assert "position" not in response.json()


def test_the_inbox_stream_is_refused_to_a_customer_and_live_for_an_agent(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    url = stream_url(live_server.url, f"org-tickets:{world.org_a}")
    refused = StreamReader(url, live_server.token(world.customer)).start()
    assert refused.ended.wait(10)
    assert refused.status_code == 403
    with client(live_server, world.agent) as c:
        start = c.get("/v1/tickets").json()["position"]
    agent = StreamReader(
        url, live_server.token(world.agent), headers={"Last-Event-ID": start}
    ).start()
    try:
        conn.execute("update tickets set subject = 'Smoke now' where id = %s", (world.ticket,))
        with client(live_server, world.agent) as c:
            c.post(f"/v1/threads/{world.thread}/ai-status", json={"status": "completed"})
        agent.wait_for(lambda evs: any(e.event == "ai_status" for e in evs))
        [change] = agent.changes()
        assert (change["table"], change["eventType"]) == ("tickets", "UPDATE")
        assert (change["new"]["subject"], change["new"]["version"]) == ("Smoke now", 2)
        [ai] = [e for e in agent.events if e.event == "ai_status"]
        assert ai.json() == {
            "threadId": str(world.thread),
            "ticketId": str(world.ticket),
            "status": "completed",
        }
    finally:
        agent.close()
