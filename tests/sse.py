"""A real SSE client for tests: reads a stream in a background thread, records every event."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse


@dataclass
class StreamReader:
    """Runs an httpx-sse client on its own event loop in a thread, so a test can cut it off
    at any moment (close() cancels the read and drops the TCP connection)."""

    url: str
    token: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    events: list[ServerSentEvent] = field(default_factory=list)
    status_code: int | None = None
    error_body: str | None = None
    ended: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _task: asyncio.Task[None] | None = None

    def start(self) -> StreamReader:
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._task = self._loop.create_task(self._read())
            started.set()
            try:
                self._loop.run_until_complete(self._task)
            except (asyncio.CancelledError, httpx.HTTPError, RuntimeError):
                pass  # cut off by the test or the server
            finally:
                self.ended.set()
                self._loop.close()

        threading.Thread(target=run, daemon=True).start()
        started.wait(5)
        return self

    async def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", **self.headers}
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(30, read=60)) as client,
            aconnect_sse(client, "GET", self.url, params=self.params, headers=headers) as source,
        ):
            self.status_code = source.response.status_code
            if source.response.status_code != 200:
                self.error_body = (await source.response.aread()).decode()
                return
            async for event in source.aiter_sse():
                self.events.append(event)

    def close(self) -> None:
        if self._loop is not None and self._task is not None and not self.ended.is_set():
            self._loop.call_soon_threadsafe(self._task.cancel)
        assert self.ended.wait(5), "reader did not stop"

    def wait_for(
        self, predicate: Callable[[list[ServerSentEvent]], bool], timeout: float = 10
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.events):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out; got {[(e.event, e.data[:80]) for e in self.events]}"
                )
            if self.ended.is_set() and not predicate(self.events):
                raise AssertionError(
                    f"stream ended ({self.status_code} {self.error_body}); got"
                    f" {[(e.event, e.data[:80]) for e in self.events]}"
                )
            time.sleep(0.02)

    def wait_subscribed(self, timeout: float = 10) -> None:
        self.wait_for(lambda evs: any(system_type(e) == "subscribed" for e in evs), timeout)

    def changes(self) -> list[dict[str, Any]]:
        return [json.loads(e.data) for e in self.events if e.event == "postgres_changes"]

    def bodies(self) -> list[str]:
        """Note bodies of every ticket_notes change, in arrival order (old row for DELETE)."""
        return [
            (c["new"] or c["old"])["body"] for c in self.changes() if c["table"] == "ticket_notes"
        ]

    def last_id(self) -> str:
        ids = [e.id for e in self.events if e.id]
        return ids[-1]


def system_type(event: ServerSentEvent) -> str | None:
    if event.event != "system":
        return None
    return json.loads(event.data).get("type")


def stream_url(base: str, channel: str) -> str:
    return f"{base}/v1/channels/{channel}/stream"


def subscribe(
    server: Any, world: Any, user: Any, last_event_id: str | None = None, **params: Any
) -> StreamReader:
    """Stream the world's ticket channel as `user` on `server`, once it says `subscribed`."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    reader = StreamReader(
        stream_url(server.url, world.topic), server.token(user), params=params, headers=headers
    )
    reader.start().wait_subscribed()
    return reader
