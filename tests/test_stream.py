"""The SSE endpoint against a real server and real PostgreSQL: visibility as each user,
subscriptions and filters, authentication, frames."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import psycopg
import pytest

from tests.servers import TEST_SECRET, RunningServer
from tests.sse import StreamReader, stream_url, subscribe, system_type
from tests.support import World, add_note


def test_agent_gets_internal_notes_and_customer_never_does_live(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    agent = subscribe(live_server, world, world.agent)
    customer = subscribe(live_server, world, world.customer)
    add_note(conn, world, "internal one", internal=True)
    add_note(conn, world, "public one")
    agent.wait_for(lambda _: agent.bodies() == ["internal one", "public one"])
    customer.wait_for(lambda _: customer.bodies() == ["public one"])
    time.sleep(0.3)  # nothing else may trickle in
    assert customer.bodies() == ["public one"]
    agent.close()
    customer.close()


def test_delete_events_obey_visibility_of_the_deleted_row(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    agent = subscribe(live_server, world, world.agent)
    customer = subscribe(live_server, world, world.customer)
    conn.execute("delete from ticket_notes where id = %s", (world.internal_note,))
    conn.execute("delete from ticket_notes where id = %s", (world.public_note,))
    agent.wait_for(lambda _: len(agent.changes()) == 2)
    customer.wait_for(lambda _: len(customer.changes()) == 1)
    assert [c["eventType"] for c in agent.changes()] == ["DELETE", "DELETE"]
    assert customer.changes()[0]["old"]["id"] == str(world.public_note)
    assert customer.changes()[0]["new"] == {}
    time.sleep(0.3)
    assert len(customer.changes()) == 1
    agent.close()
    customer.close()


def test_replay_by_last_event_id_is_filtered_as_the_user(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    customer = subscribe(live_server, world, world.customer)
    start = customer.last_id()
    customer.close()
    add_note(conn, world, "while away, internal", internal=True)
    add_note(conn, world, "while away, public")
    conn.execute("delete from ticket_notes where id = %s", (world.internal_note,))

    for user, expected in (
        (world.customer, ["while away, public"]),
        (world.agent, ["while away, internal", "while away, public", "Customer is VIP"]),
    ):
        reader = StreamReader(
            stream_url(live_server.url, world.topic),
            live_server.token(user),
            headers={"Last-Event-ID": start},
        ).start()
        reader.wait_subscribed()
        assert reader.bodies() == expected
        reader.close()


def test_stranger_is_refused_with_403(live_server: RunningServer, world: World) -> None:
    response = httpx.get(
        stream_url(live_server.url, world.topic),
        headers={"Authorization": f"Bearer {live_server.token(world.stranger)}"},
    )
    assert response.status_code == 403
    assert "may not subscribe" in response.json()["message"]


def test_agent_of_another_org_is_refused_with_403(live_server: RunningServer, world: World) -> None:
    response = httpx.get(
        stream_url(live_server.url, world.topic),
        headers={"Authorization": f"Bearer {live_server.token(world.other_agent)}"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("spec", "matching"),
    [
        ("INSERT:public.ticket_notes:internal=eq.true", ["internal"]),
        ("INSERT:public.ticket_notes:internal=neq.true", ["first", "second"]),
        ("INSERT:public.ticket_notes:version=lt.2", ["first", "internal", "second"]),
        ("INSERT:public.ticket_notes:version=lte.0", []),
        ("INSERT:public.ticket_notes:version=gt.0", ["first", "internal", "second"]),
        ("INSERT:public.ticket_notes:version=gte.2", []),
        ("INSERT:public.ticket_notes:body=in.(first,second)", ["first", "second"]),
        ("INSERT:public.ticket_notes:body=eq.second", ["second"]),
        ("UPDATE:public.ticket_notes", ["first edited"]),
        ("*:public.ticket_notes:body=neq.internal", ["first", "second", "first edited"]),
    ],
)
def test_filters_deliver_exactly_the_matching_events(
    live_server: RunningServer, world: World, conn: psycopg.Connection, spec: str, matching
) -> None:
    reader = subscribe(live_server, world, world.agent, on=[spec, "ai_status"])
    first = add_note(conn, world, "first")
    add_note(conn, world, "internal", internal=True)
    add_note(conn, world, "second")
    conn.execute("update ticket_notes set body = 'first edited' where id = %s", (first,))
    # An AI event after all of them marks the end of the batch the filter saw.
    conn.execute(
        "select set_config('request.jwt.claims', %s, false)",
        (json.dumps({"sub": str(world.agent)}),),
    )
    conn.execute("select set_thread_ai_status(%s, 'completed')", (world.thread,))
    reader.wait_for(lambda evs: any(e.event == "ai_status" for e in evs))
    assert reader.bodies() == matching
    reader.close()


def test_filter_on_uuid_column_matches_the_ticket(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    spec = f"INSERT:public.ticket_notes:ticket_id=eq.{world.ticket}"
    reader = subscribe(live_server, world, world.agent, on=[spec])
    add_note(conn, world, "for this ticket")
    reader.wait_for(lambda _: reader.bodies() == ["for this ticket"])
    reader.close()


@pytest.mark.parametrize(
    ("channel", "spec", "message"),
    [
        (None, "INSERT:public.ticket_notes:nope=eq.1", "column 'nope' does not exist"),
        (None, "INSERT:public.no_such_table", "does not exist or is not realtime-enabled"),
        (None, "INSERT:public.users", "public.users does not exist or is not realtime-enabled"),
        # Realtime, but on the inbox channel (org-tickets:<org>), not a ticket's.
        (None, "INSERT:public.tickets", "public.tickets does not publish on ticket-threads:"),
        (None, "INSERT:public.ticket_notes:version=eq.abc", "not a valid integer"),
        (None, "INSERT:public.ticket_notes:version=like.1", "malformed filter"),
        (None, "TRUNCATE:public.ticket_notes", "malformed subscription"),
        (None, "INSERT public.ticket_notes", "malformed subscription"),
        (None, "INSERT:public.ticket_notes:body=in.()", "in takes 1 to"),
        ("ticket-threads:not-a-uuid", None, "is not a valid uuid"),
        ("no-such-prefix:123", None, "unknown channel prefix"),
        ("ticket threads", None, "invalid channel"),
    ],
)
def test_bad_subscriptions_get_400_naming_the_problem(
    live_server: RunningServer, world: World, channel: str | None, spec: str | None, message: str
) -> None:
    params = {"on": [spec]} if spec else {}
    response = httpx.get(
        stream_url(live_server.url, channel or world.topic),
        params=params,
        headers={"Authorization": f"Bearer {live_server.token(world.agent)}"},
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]


def test_bad_last_event_id_gets_400(live_server: RunningServer, world: World) -> None:
    response = httpx.get(
        stream_url(live_server.url, world.topic),
        headers={
            "Authorization": f"Bearer {live_server.token(world.agent)}",
            "Last-Event-ID": "1; drop table x",
        },
    )
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["message"]


def _token(world: World, key: str = TEST_SECRET, algorithm: str = "HS256", **claims) -> str:
    body = {"sub": str(world.agent), "role": "authenticated", "exp": int(time.time()) + 60}
    return jwt.encode(body | claims, key, algorithm=algorithm)


@pytest.mark.parametrize(
    ("make_headers", "message"),
    [
        (lambda w: {}, "missing token"),
        (lambda w: {"Authorization": f"Bearer {_token(w, exp=int(time.time()) - 10)}"}, "expired"),
        (lambda w: {"Authorization": f"Bearer {_token(w, key='x' * 40)}"}, "invalid token"),
        (lambda w: {"Authorization": f"Bearer {_token(w, key='', algorithm='none')}"}, "invalid"),
        (lambda w: {"Authorization": "Basic abc"}, "Bearer"),
        (lambda w: {"Authorization": f"Bearer {_token(w, role='service_role')}"}, "role"),
    ],
    ids=["missing", "expired", "wrong-key", "alg-none", "not-bearer", "other-role"],
)
def test_bad_tokens_get_401(
    live_server: RunningServer, world: World, make_headers, message
) -> None:
    response = httpx.get(stream_url(live_server.url, world.topic), headers=make_headers(world))
    assert response.status_code == 401
    assert message in response.json()["message"]


def test_token_in_query_parameter_and_cookie_are_accepted(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    token = live_server.token(world.agent)
    url = stream_url(live_server.url, world.topic)
    clients = (
        httpx.Client(params={"access_token": token}),
        httpx.Client(cookies={"threadcast_token": token}),
    )
    for client in clients:
        with client, client.stream("GET", url) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")


def test_frames_carry_hostile_note_bodies_as_data(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    hostile = (
        'x\n\nevent: system\ndata: {"type":"reset"}\n\nid: 999-999\n<script>alert(1)</script>\r\n'
    )
    reader = subscribe(live_server, world, world.customer)
    add_note(conn, world, hostile)
    add_note(conn, world, "after")
    reader.wait_for(lambda _: len(reader.bodies()) == 2)
    assert reader.bodies() == [hostile, "after"]
    assert [system_type(e) for e in reader.events if e.event == "system"] == ["subscribed"]
    assert all(e.id != "999-999" for e in reader.events)
    reader.close()


def test_stream_ends_with_expired_event_when_the_token_expires(
    live_server: RunningServer, world: World
) -> None:
    token = live_server.token(world.agent, ttl_seconds=2)
    reader = StreamReader(stream_url(live_server.url, world.topic), token).start()
    reader.wait_subscribed()
    reader.wait_for(lambda evs: any(system_type(e) == "expired" for e in evs), timeout=10)
    assert reader.ended.wait(5)


def test_every_event_frame_has_an_id_and_the_stream_has_retry_and_no_store(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    url = stream_url(live_server.url, world.topic)
    headers = {"Authorization": f"Bearer {live_server.token(world.agent)}"}
    with httpx.stream("GET", url, headers=headers) as response:
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-accel-buffering"] == "no"
        raw = ""
        lines = response.iter_lines()
        while "subscribed" not in raw:
            raw += next(lines) + "\n"
        add_note(conn, world, "framed")
        while '"framed"' not in raw:
            raw += next(lines) + "\n"
    assert raw.startswith("retry: 1000\n")
    frames = [f for f in raw.split("\n\n") if f.strip() and not f.startswith("retry")]
    assert all(f.splitlines()[0].startswith("id: ") for f in frames)
