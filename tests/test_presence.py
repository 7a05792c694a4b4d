"""Presence (issue 20): track and untrack on any replica, `sync`/`join`/`leave` on the streams
bound to `presence`, lifetimes (DELETE, the stream closing, the replica dying), who may track
and who sees what (decided in SQL by the channel's rules), and the limits."""

from __future__ import annotations

import json
import logging
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.processes import ServerProcess
from tests.servers import RunningServer, start_server
from tests.sse import StreamReader, stream_url, system_type
from tests.support import World
from threadcast import presence

# How long a presence change may take to reach another stream: the second; the
# delivery itself is a NOTIFY and one read (~20 ms cycles).
SECOND = 1.0


def presence_frames(reader: StreamReader, kind: str | None = None) -> list[dict[str, Any]]:
    frames = [json.loads(e.data) for e in reader.events if e.event == "presence"]
    return [f for f in frames if kind is None or f["type"] == kind]


def connection_of(reader: StreamReader) -> str:
    for event in reader.events:
        if system_type(event) == "subscribed":
            return json.loads(event.data)["connection"]
    raise AssertionError("no subscribed frame")


def watch(server: Any, user: uuid.UUID, channel: str, *more: str) -> StreamReader:
    reader = StreamReader(
        stream_url(server.url, channel),
        server.token(user),
        params={"on": ["presence", *more]},
    ).start()
    reader.wait_for(lambda evs: any(e.event == "presence" for e in evs))  # its sync
    return reader


def track(
    server: Any,
    user: uuid.UUID,
    channel: str,
    state: dict[str, Any],
    connection: str,
    ref: uuid.UUID | None = None,
    **headers: str,
) -> httpx.Response:
    ref = ref or uuid.uuid4()
    return httpx.put(
        f"{server.url}/v1/channels/{channel}/presence/{ref}",
        json={"connection": connection, "state": state},
        headers={"Authorization": f"Bearer {server.token(user)}", **headers},
    )


def untrack(server: Any, user: uuid.UUID, channel: str, ref: uuid.UUID) -> httpx.Response:
    return httpx.delete(
        f"{server.url}/v1/channels/{channel}/presence/{ref}",
        headers={"Authorization": f"Bearer {server.token(user)}"},
    )


def states(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p["state"] for f in frames for p in f["presences"]]


@pytest.fixture
def replicas(database_url: str, world: World) -> Iterator[tuple[RunningServer, RunningServer]]:
    one, two = start_server(database_url), start_server(database_url)
    one.wait_listening()
    two.wait_listening()
    yield one, two
    one.stop()
    two.stop()


def test_track_on_one_replica_joins_on_the_other_and_a_closed_stream_leaves(
    replicas: tuple[RunningServer, RunningServer], world: World
) -> None:
    one, two = replicas
    ada = watch(one, world.agent, world.topic)
    carl = watch(two, world.customer, world.topic)
    assert presence_frames(carl) == [{"channel": world.topic, "type": "sync", "presences": []}]
    ref = uuid.uuid4()
    answer = track(one, world.agent, world.topic, {"name": "Ada"}, connection_of(ada), ref)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "channel": world.topic,
        "key": str(world.agent),
        "ref": str(ref),
        "state": {"name": "Ada"},
    }
    started = time.monotonic()
    carl.wait_for(lambda evs: presence_frames(carl, "join") != [], timeout=SECOND)
    joined = time.monotonic() - started
    assert presence_frames(carl, "join") == [
        {
            "channel": world.topic,
            "type": "join",
            "presences": [{"key": str(world.agent), "ref": str(ref), "state": {"name": "Ada"}}],
        }
    ], joined
    ada.close()  # Ada closes her tab
    carl.wait_for(lambda evs: presence_frames(carl, "leave") != [], timeout=SECOND)
    assert states(presence_frames(carl, "leave")) == [{"name": "Ada"}]
    carl.close()


def test_a_later_subscriber_gets_the_presences_in_its_sync_and_updates_rejoin(
    replicas: tuple[RunningServer, RunningServer], world: World
) -> None:
    one, two = replicas
    ada = watch(one, world.agent, world.topic)
    ref = uuid.uuid4()
    assert track(
        one, world.agent, world.topic, {"typing": False}, connection_of(ada), ref
    ).is_success
    carl = watch(two, world.customer, world.topic)  # subscribes after Ada tracked
    assert presence_frames(carl) == [
        {
            "channel": world.topic,
            "type": "sync",
            "presences": [{"key": str(world.agent), "ref": str(ref), "state": {"typing": False}}],
        }
    ]
    # Same ref, new state: a join that replaces it (no leave).
    assert track(
        two, world.agent, world.topic, {"typing": True}, connection_of(ada), ref
    ).is_success
    carl.wait_for(lambda evs: presence_frames(carl, "join") != [], timeout=SECOND)
    assert states(presence_frames(carl, "join")) == [{"typing": True}]
    # The same state again changes nothing: no frame.
    assert track(
        one, world.agent, world.topic, {"typing": True}, connection_of(ada), ref
    ).is_success
    assert untrack(two, world.agent, world.topic, ref).status_code == 204
    carl.wait_for(lambda evs: presence_frames(carl, "leave") != [], timeout=SECOND)
    assert [f["type"] for f in presence_frames(carl)] == ["sync", "join", "leave"]
    assert untrack(two, world.agent, world.topic, ref).status_code == 204  # already gone
    ada.close()
    carl.close()


def test_internal_composition_is_for_agents_only_live_and_in_sync(
    replicas: tuple[RunningServer, RunningServer], world: World
) -> None:
    one, two = replicas
    ada = watch(one, world.agent, world.topic)
    watcher = watch(two, world.agent, world.topic)  # Ada's colleague view (same org)
    carl = watch(two, world.customer, world.topic)
    ref = uuid.uuid4()
    internal = {"name": "Ada", "typing": True, "internal": True}
    assert track(one, world.agent, world.topic, internal, connection_of(ada), ref).is_success
    watcher.wait_for(lambda evs: presence_frames(watcher, "join") != [], timeout=SECOND)
    late = watch(one, world.customer, world.topic)  # a customer subscribing now: not in sync
    assert presence_frames(late) == [{"channel": world.topic, "type": "sync", "presences": []}]
    # Back to a public reply: the customer sees Ada typing now.
    public = {"name": "Ada", "typing": True, "internal": False}
    assert track(one, world.agent, world.topic, public, connection_of(ada), ref).is_success
    carl.wait_for(lambda evs: presence_frames(carl, "join") != [], timeout=SECOND)
    assert states(presence_frames(carl, "join")) == [public]
    # And internal again: to the customer she leaves; the agent sees the change.
    assert track(one, world.agent, world.topic, internal, connection_of(ada), ref).is_success
    carl.wait_for(lambda evs: presence_frames(carl, "leave") != [], timeout=SECOND)
    watcher.wait_for(lambda evs: len(presence_frames(watcher, "join")) == 3, timeout=SECOND)
    for reader in (carl, late):
        assert all(s.get("internal") is not True for s in states(presence_frames(reader)))
    assert states(presence_frames(carl, "leave")) == [public]  # the last state it saw
    for reader in (ada, watcher, carl, late):
        reader.close()


def test_a_stranger_may_not_track_and_sees_nothing(
    live_server: RunningServer, world: World
) -> None:
    ada = watch(live_server, world.agent, world.topic)
    answer = track(live_server, world.stranger, world.topic, {"x": 1}, connection_of(ada))
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    # Nor may the other org's agent; and neither can subscribe to watch.
    assert (
        track(live_server, world.other_agent, world.topic, {}, connection_of(ada)).status_code
        == 403
    )
    spy = StreamReader(
        stream_url(live_server.url, world.topic),
        live_server.token(world.stranger),
        params={"on": "presence"},
    ).start()
    spy.ended.wait(5)
    assert spy.status_code == 403
    assert presence_frames(ada) == [{"channel": world.topic, "type": "sync", "presences": []}]
    ada.close()


def test_a_ref_is_one_users(live_server: RunningServer, world: World) -> None:
    ada = watch(live_server, world.agent, world.topic)
    ref = uuid.uuid4()
    assert track(live_server, world.agent, world.topic, {}, connection_of(ada), ref).is_success
    taken = track(live_server, world.customer, world.topic, {"me": 1}, connection_of(ada), ref)
    assert taken.status_code == 409
    assert taken.json()["error"] == "ref_taken"
    # Nor can another user end it.
    assert untrack(live_server, world.customer, world.topic, ref).status_code == 204
    carl = watch(live_server, world.customer, world.topic)
    assert states(presence_frames(carl, "sync")) == [{}]
    ada.close()
    carl.close()


def test_presence_on_a_multi_channel_stream(live_server: RunningServer, world: World) -> None:
    org = f"org-tickets:{world.org_a}"
    reader = StreamReader(
        f"{live_server.url}/v1/stream",
        live_server.token(world.agent),
        params={"channel": [world.topic, org], f"on.{world.topic}": "presence"},
    ).start()
    reader.wait_for(lambda evs: any(e.event == "presence" for e in evs))
    ref = uuid.uuid4()
    assert track(
        live_server, world.agent, world.topic, {"a": 1}, connection_of(reader), ref
    ).is_success
    assert track(live_server, world.agent, org, {"b": 2}, connection_of(reader)).is_success
    reader.wait_for(lambda evs: presence_frames(reader, "join") != [], timeout=SECOND)
    time.sleep(0.3)  # the org channel's track would arrive by now if it were sent
    assert [(f["channel"], f["type"]) for f in presence_frames(reader)] == [
        (world.topic, "sync"),
        (world.topic, "join"),
    ]
    reader.close()


def test_a_replica_killed_takes_its_presences_within_the_ttl(
    database_url: str, world: World
) -> None:
    ttl = 3.0
    doomed = ServerProcess(database_url, presence_ttl_seconds=ttl).start()
    survivor = start_server(database_url, presence_ttl_seconds=ttl)
    survivor.wait_listening()
    try:
        ada = StreamReader(
            doomed.stream_url(world.topic), doomed.token(world.agent), params={"on": "presence"}
        ).start()
        ada.wait_subscribed()
        assert track(survivor, world.agent, world.topic, {"n": 1}, connection_of(ada)).is_success
        carl = watch(survivor, world.customer, world.topic)
        assert states(presence_frames(carl, "sync")) == [{"n": 1}]
        time.sleep(ttl)  # past the first TTL: the doomed replica renewed it
        assert presence_frames(carl, "leave") == []
        doomed.kill(signal.SIGKILL)
        killed = time.monotonic()
        # Expired at most a TTL after its last renewal (every TTL / 3), swept within a beat.
        carl.wait_for(
            lambda evs: presence_frames(carl, "leave") != [], timeout=ttl + 2 * ttl / 3 + 1
        )
        assert time.monotonic() - killed <= 30  # the bound, with room to spare
        carl.close()
        ada.close()
    finally:
        doomed.stop()
        survivor.stop()


def test_a_presence_whose_connection_nobody_holds_expires(database_url: str, world: World) -> None:
    server = start_server(database_url, presence_ttl_seconds=1.5)
    server.wait_listening()
    try:
        carl = watch(server, world.customer, world.topic)
        ghost = str(uuid.uuid4())  # no stream has this id
        assert track(server, world.agent, world.topic, {"ghost": True}, ghost).is_success
        carl.wait_for(lambda evs: presence_frames(carl, "join") != [])
        carl.wait_for(lambda evs: presence_frames(carl, "leave") != [], timeout=5)
        carl.close()
    finally:
        server.stop()


def test_presence_is_ephemeral(
    conn: psycopg.Connection, live_server: RunningServer, world: World
) -> None:
    """Nothing of it in the durable log, and its table is unlogged (no WAL)."""
    ada = watch(live_server, world.agent, world.topic)
    before = conn.execute("select count(*) from realtime.messages").fetchone()[0]
    for n in range(5):
        assert track(live_server, world.agent, world.topic, {"n": n}, connection_of(ada)).is_success
    assert conn.execute("select count(*) from realtime.messages").fetchone()[0] == before
    persistence = conn.execute(
        "select relpersistence from pg_class where oid = 'realtime.presences'::regclass"
    ).fetchone()[0]
    assert persistence == "u"
    ada.close()
    # The stream closed: its presences end.
    deadline = time.monotonic() + 5
    while conn.execute("select count(*) from realtime.presences").fetchone()[0]:
        assert time.monotonic() < deadline, "presences outlived their stream"
        time.sleep(0.05)


@pytest.mark.parametrize("extra", [0, 1, 1000])
def test_state_size_limit(live_server: RunningServer, world: World, extra: int) -> None:
    """At the limit it is taken; a byte over, or far over, 400 presence_too_large."""
    ada = watch(live_server, world.agent, world.topic)
    limit = live_server.settings.max_presence_bytes
    padding = limit - len(json.dumps({"p": ""}, separators=(",", ":")))
    state = {"p": "x" * (padding + extra)}
    answer = track(live_server, world.agent, world.topic, state, connection_of(ada))
    if extra == 0:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 400
        assert answer.json()["error"] == "presence_too_large"
    ada.close()


def test_updates_per_connection_are_rate_limited(database_url: str, world: World) -> None:
    server = start_server(database_url, presence_updates_per_second=0.5, presence_update_burst=3)
    try:
        ada = watch(server, world.agent, world.topic)
        ref = uuid.uuid4()
        codes = [
            track(server, world.agent, world.topic, {"n": n}, connection_of(ada), ref).status_code
            for n in range(5)
        ]
        assert codes == [200, 200, 200, 429, 429]
        limited = track(server, world.agent, world.topic, {"n": 9}, connection_of(ada), ref)
        assert limited.json()["error"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        # Another connection has its own budget.
        assert track(server, world.agent, world.topic, {}, str(uuid.uuid4())).status_code == 200
        ada.close()
    finally:
        server.stop()


def test_presences_per_channel_are_capped(database_url: str, world: World) -> None:
    server = start_server(database_url, max_presences_per_channel=3)
    try:
        ada = watch(server, world.agent, world.topic)
        refs = [uuid.uuid4() for _ in range(5)]
        codes = [
            track(server, world.agent, world.topic, {}, connection_of(ada), ref).status_code
            for ref in refs
        ]
        assert codes == [200, 200, 200, 429, 429]
        full = track(server, world.agent, world.topic, {}, connection_of(ada), refs[4])
        assert full.json()["error"] == "too_many_presences"
        # A presence already there may still update; one that ends makes room.
        assert track(
            server, world.agent, world.topic, {"u": 1}, connection_of(ada), refs[0]
        ).is_success
        assert untrack(server, world.agent, world.topic, refs[1]).status_code == 204
        assert track(server, world.agent, world.topic, {}, connection_of(ada), refs[4]).is_success
        ada.close()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "error"),
    [
        ("{topic}/presence/{ref}", {"state": {}}, {}, 422, "invalid_body"),  # no connection
        ("{topic}/presence/{ref}", {"connection": "nope", "state": {}}, {}, 422, "invalid_body"),
        ("{topic}/presence/{ref}", {"connection": "{conn}", "state": [1]}, {}, 422, "invalid_body"),
        (
            "{topic}/presence/{ref}",
            {"connection": "{conn}", "state": {}, "x": 1},
            {},
            422,
            "invalid_body",
        ),
        ("{topic}/presence/not-a-uuid", {"connection": "{conn}", "state": {}}, {}, 400, "bad_id"),
        (
            "nochannel/presence/{ref}",
            {"connection": "{conn}", "state": {}},
            {},
            400,
            "bad_subscription",
        ),
        (
            "ticket-threads:42/presence/{ref}",
            {"connection": "{conn}", "state": {}},
            {},
            400,
            "bad_subscription",
        ),
        (
            "{topic}/presence/{ref}",
            {"connection": "{conn}", "state": {}},
            {"Origin": "https://evil.example"},
            403,
            "origin_not_allowed",
        ),
        (
            "{topic}/presence/{ref}",
            {"connection": "{conn}", "state": {}},
            {"Authorization": "Bearer forged"},
            401,
            "unauthorized",
        ),
    ],
)
def test_bad_tracks_get_a_json_4xx_and_change_nothing(
    conn: psycopg.Connection,
    live_server: RunningServer,
    world: World,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    status: int,
    error: str,
) -> None:
    connection = str(uuid.uuid4())
    url = f"{live_server.url}/v1/channels/" + path.format(topic=world.topic, ref=uuid.uuid4())
    payload = json.loads(json.dumps(body).replace("{conn}", connection))
    answer = httpx.put(
        url,
        json=payload,
        headers={"Authorization": f"Bearer {live_server.token(world.agent)}", **headers},
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"] == error
    assert conn.execute("select count(*) from realtime.presences").fetchone()[0] == 0


def test_one_viewers_failing_read_holds_up_nobody_else(
    conn: psycopg.Connection, live_server: RunningServer, world: World
) -> None:
    """A channel rule that fails for one viewer (here: on purpose, once a flag is set) costs
    that viewer its presence frames, not the other viewers theirs."""
    conn.execute(
        """
        create table public.boom_flag (on_for uuid);
        create function public.boom_can_join(room text) returns boolean
        language plpgsql stable security definer set search_path = pg_catalog, pg_temp as $$
        begin
            if exists (select from public.boom_flag f where f.on_for = realtime.uid()) then
                raise exception 'boom';
            end if;
            return true;
        end
        $$;
        grant execute on function public.boom_can_join(text) to authenticated;
        select realtime.register_channel('boom:', 'public.boom_can_join(text)');
        """
    )
    room = "boom:lobby"
    ada = watch(live_server, world.agent, room)
    carl = watch(live_server, world.customer, room)
    conn.execute("insert into public.boom_flag values (%s)", (world.agent,))
    assert track(live_server, world.customer, room, {"c": 1}, connection_of(carl)).is_success
    carl.wait_for(lambda evs: presence_frames(carl, "join") != [], timeout=5)
    assert presence_frames(ada, "join") == []  # her read fails; Carl's did not wait for it
    conn.execute("delete from public.boom_flag")
    assert track(live_server, world.customer, room, {"c": 2}, connection_of(carl)).is_success
    ada.wait_for(lambda evs: presence_frames(ada, "join") != [], timeout=5)
    assert states(presence_frames(ada, "join"))[-1] == {"c": 2}
    ada.close()
    carl.close()


def test_a_client_leaving_mid_body_is_no_server_error(
    conn: psycopg.Connection,
    live_server: RunningServer,
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A PUT whose body never arrives (the client closed the socket): no traceback in the log,
    nothing tracked, and the server answers the next request."""
    body = json.dumps({"connection": str(uuid.uuid4()), "state": {"x": 1}}).encode()
    head = (
        f"PUT /v1/channels/{world.topic}/presence/{uuid.uuid4()} HTTP/1.1\r\n"
        f"Host: x\r\nAuthorization: Bearer {live_server.token(world.agent)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body) + 100}\r\n\r\n"
    ).encode()
    with (
        caplog.at_level(logging.INFO),
        socket.create_connection(("127.0.0.1", live_server.port)) as s,
    ):
        s.sendall(head + body[:10])
        time.sleep(0.3)
    time.sleep(0.5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records
    ]
    assert conn.execute("select count(*) from realtime.presences").fetchone()[0] == 0
    assert httpx.get(f"{live_server.url}/healthz").status_code == 200


@pytest.mark.parametrize("chunk", [2, 3, 4])
def test_viewers_read_in_chunks_each_get_their_own(
    conn: psycopg.Connection,
    live_server: RunningServer,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
) -> None:
    """Three viewer identities read in statements of `chunk` identities (over, at and under
    it): each gets what it may see, the customer without the internal composition."""
    monkeypatch.setattr(presence, "READ_CHUNK", chunk)
    colleague = uuid.uuid4()
    conn.execute("insert into users (id, display_name) values (%s, 'Colleague')", (colleague,))
    conn.execute(
        "insert into org_members (org_id, user_id) values (%s, %s)", (world.org_a, colleague)
    )
    viewers = {name: watch(live_server, user, world.topic) for name, user in (
        ("agent", world.agent), ("colleague", colleague), ("customer", world.customer)
    )}  # fmt: skip
    ada = viewers["agent"]
    assert track(
        live_server, world.agent, world.topic, {"internal": True}, connection_of(ada)
    ).is_success
    assert track(
        live_server, world.agent, world.topic, {"public": 1}, connection_of(ada)
    ).is_success
    for name in ("agent", "colleague"):
        reader = viewers[name]
        reader.wait_for(lambda evs, r=reader: len(states(presence_frames(r, "join"))) == 2)
    customer = viewers["customer"]
    customer.wait_for(lambda evs: presence_frames(customer, "join") != [])
    time.sleep(0.2)
    assert states(presence_frames(customer, "join")) == [{"public": 1}]
    for reader in viewers.values():
        reader.close()


def test_a_viewer_whose_access_is_revoked_sees_the_presences_leave(
    conn: psycopg.Connection, live_server: RunningServer, world: World
) -> None:
    """The channel's rule is judged again on every read: an agent removed from the
    organisation gets `leave` for what it saw, and no later join."""
    carl = watch(live_server, world.customer, world.topic)
    ada = watch(live_server, world.agent, world.topic)
    ref = uuid.uuid4()
    assert track(
        live_server, world.customer, world.topic, {"n": 1}, connection_of(carl), ref
    ).is_success
    ada.wait_for(lambda evs: presence_frames(ada, "join") != [])
    conn.execute("delete from org_members where user_id = %s", (world.agent,))
    assert track(
        live_server, world.customer, world.topic, {"n": 2}, connection_of(carl), ref
    ).is_success
    ada.wait_for(lambda evs: presence_frames(ada, "leave") != [])
    time.sleep(0.2)
    assert states(presence_frames(ada, "join")) == [{"n": 1}]
    assert states(presence_frames(ada, "leave")) == [{"n": 1}]
    carl.close()
    ada.close()
