"""The Python client against a real server: typed events, resume across a restart, errors."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import jwt
import psycopg
import pytest

from tests.servers import TEST_SECRET, RunningServer, start_server
from tests.support import World, add_note
from threadcast import payloads
from threadcast.client import (
    AuthenticationError,
    BadRequest,
    Client,
    Event,
    PermissionDenied,
    TokenExpired,
    stream_sync,
)


async def collect(
    server_url: str, token: str, channel: str, until: Callable[[list[Event]], bool], **kwargs
) -> list[Event]:
    events: list[Event] = []
    async with Client(server_url, token, max_backoff=0.5) as client:
        async for event in client.stream(channel, **kwargs):
            events.append(event)
            if until(events):
                return events
    return events


def notes(events: list[Event]) -> list[str]:
    return [
        e.data.new.body
        for e in events
        if isinstance(e.data, payloads.NoteRealtimePayload) and e.data.eventType == "INSERT"
    ]


def test_events_are_typed(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    def write() -> None:
        add_note(conn, world, "typed")
        conn.execute(
            "select set_config('request.jwt.claims', %s, false)",
            (json.dumps({"sub": str(world.agent)}),),
        )
        conn.execute("select set_thread_ai_status(%s, 'processing', 40)", (world.thread,))

    async def main() -> list[Event]:
        loop = asyncio.get_running_loop()
        writes: list[asyncio.Future[None]] = []

        def until(evs: list[Event]) -> bool:
            # Write once the stream is live (it has no cursor: what came before is not sent).
            if not writes and isinstance(evs[0].data, payloads.SystemEvent):
                writes.append(loop.run_in_executor(None, write))
            return any(isinstance(e.data, payloads.AIProcessingPayload) for e in evs)

        events = await asyncio.wait_for(
            collect(live_server.url, live_server.token(world.agent), world.topic, until), 60
        )
        await writes[0]
        return events

    events = asyncio.run(main())
    assert isinstance(events[0].data, payloads.SystemEvent)
    assert events[0].data.type == "subscribed"
    [note] = [e for e in events if e.event == "postgres_changes"]
    assert isinstance(note.data, payloads.NoteRealtimePayload)
    assert note.data.new.body == "typed" and note.id
    ai = events[-1].data
    assert isinstance(ai, payloads.AIProcessingPayload)
    assert (ai.status, ai.progress, ai.threadId) == ("processing", 40, world.thread)


def test_resume_across_a_server_restart_loses_and_repeats_nothing(
    database_url: str, world: World, conn: psycopg.Connection
) -> None:
    server = start_server(database_url)
    port, token = server.port, server.token(world.agent)
    expected = [f"n{i}" for i in range(12)]

    def choreography() -> None:
        time.sleep(0.5)
        for body in expected[:4]:
            add_note(conn, world, body)
        time.sleep(0.5)
        server.stop()  # clients get `shutdown` and reconnect, and fail until it is back
        for body in expected[4:8]:
            add_note(conn, world, body)
        time.sleep(0.5)
        restarted.append(start_server(database_url, port=port))
        for body in expected[8:]:
            add_note(conn, world, body)

    restarted: list[RunningServer] = []

    async def main() -> list[Event]:
        script = asyncio.get_running_loop().run_in_executor(None, choreography)
        events = await asyncio.wait_for(
            collect(server.url, token, world.topic, lambda evs: len(notes(evs)) >= 12), 30
        )
        await script
        return events

    try:
        events = asyncio.run(main())
    finally:
        for s in [server, *restarted]:
            s.stop()
    assert notes(events) == expected
    ids = [e.id for e in events if e.event == "postgres_changes"]
    assert len(ids) == len(set(ids))
    assert any(e.event == "system" and e.data.type == "shutdown" for e in events)


@pytest.mark.parametrize(
    ("who", "channel_suffix", "on", "error", "message"),
    [
        ("expired", "", None, AuthenticationError, "token has expired"),
        ("forged", "", None, AuthenticationError, "invalid token"),
        ("stranger", "", None, PermissionDenied, "may not subscribe"),
        ("agent", "", ["INSERT:public.nope"], BadRequest, "not realtime-enabled"),
    ],
)
def test_errors_are_raised_with_the_servers_message(
    live_server: RunningServer, world: World, who, channel_suffix, on, error, message
) -> None:
    if who == "expired":
        token = jwt.encode({"sub": str(world.agent), "exp": 1}, TEST_SECRET, algorithm="HS256")
    elif who == "forged":
        token = jwt.encode({"sub": str(world.agent), "exp": 2**31}, "x" * 40, algorithm="HS256")
    else:
        token = live_server.token(getattr(world, who))
    with pytest.raises(error, match=message):
        asyncio.run(collect(live_server.url, token, world.topic, lambda evs: True, on=on))


def test_an_expiring_token_raises_token_expired(live_server: RunningServer, world: World) -> None:
    token = live_server.token(world.agent, ttl_seconds=2)
    with pytest.raises(TokenExpired):
        asyncio.run(
            asyncio.wait_for(collect(live_server.url, token, world.topic, lambda _: False), 10)
        )


def test_sync_wrapper(live_server: RunningServer, world: World, conn: psycopg.Connection) -> None:
    stream = stream_sync(live_server.url, live_server.token(world.customer), world.topic)
    first = next(stream)
    assert first.event == "system" and first.data.type == "subscribed"
    add_note(conn, world, "for scripts")
    second = next(stream)
    assert second.data.new.body == "for scripts"
    stream.close()
