"""Presence (issue 20): track and untrack on any replica, `sync`/`join`/`leave` on the streams
bound to `presence`, lifetimes (DELETE, the stream closing, the replica dying), who may track
and who sees what (decided in SQL by the channel's rules), and the limits."""

from __future__ import annotations

import json
import signal
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
