"""A Python client for services: typed events from a channel, resumed across disconnects.

    async with Client("http://127.0.0.1:8000", token) as client:
        async for event in client.stream("ticket-threads:<uuid>", on=["ai_status"]):
            print(event.id, event.event, event.data)

It reconnects by itself (full-jitter exponential backoff, honouring `retry:` and Retry-After)
and resumes with Last-Event-ID, so an event is never missed and never yielded twice. Errors the
server answers before streaming are raised with the server's message.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from threadcast import ThreadcastError, payloads

MAX_BACKOFF_SECONDS = 30.0


class ThreadcastHTTPError(ThreadcastError):
    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.body = body or {}


class BadRequest(ThreadcastHTTPError):
    """400: the channel or a subscription is malformed."""


class AuthenticationError(ThreadcastHTTPError):
    """401: missing, invalid or expired token."""


class PermissionDenied(ThreadcastHTTPError):
    """403: the caller may not subscribe to this channel."""


class TokenExpired(ThreadcastError):
    """The token expired while streaming; reconnecting needs a new one."""


ERRORS: dict[int, type[ThreadcastHTTPError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
}


@dataclass(frozen=True)
class Event:
    """One frame: `id` (None for non-durable frames), the SSE event name, the typed payload."""

    id: str | None
    event: str
    data: Any


def parse_event(event: str, data: str) -> Any:
    body = json.loads(data)
    if event == "postgres_changes":
        return payloads.parse_change(body)
    if event == "ai_status":
        return payloads.AIProcessingPayload.model_validate(body)
    if event == "system":
        return payloads.SystemEvent.model_validate(body)
    return body


def position(event_id: str) -> tuple[int, int]:
    tick, _, message = event_id.partition("-")
    return int(tick), int(message or 0)


class Client:
    def __init__(
        self, base_url: str, token: str, *, max_backoff: float = MAX_BACKOFF_SECONDS
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.max_backoff = max_backoff
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Client:
        # No read timeout: a stream is quiet between events (heartbeats keep it alive).
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def stream(
        self, channel: str, on: list[str] | None = None, last_event_id: str | None = None
    ) -> AsyncIterator[Event]:
        """Events of `channel`, forever: reconnects and resumes until the caller stops."""
        assert self._http is not None, "use `async with Client(...)`"
        url = f"{self.base_url}/v1/channels/{channel}/stream"
        last_id, seen = last_event_id, position(last_event_id) if last_event_id else None
        retry_seconds, attempt = 1.0, 0
        while True:
            wait: float | None = None
            headers = {"Authorization": f"Bearer {self.token}"}
            if last_id:
                headers["Last-Event-ID"] = last_id
            try:
                async with aconnect_sse(
                    self._http, "GET", url, params={"on": on or []}, headers=headers
                ) as source:
                    response = source.response
                    if response.status_code != 200:
                        wait = await self._refused(response)
                    else:
                        attempt = 0
                        async for sse in source.aiter_sse():
                            if sse.retry:
                                retry_seconds = sse.retry / 1000
                            if not sse.data:
                                continue
                            data = parse_event(sse.event, sse.data)
                            if sse.id:
                                here = position(sse.id)
                                if seen is not None and here <= seen and sse.event != "system":
                                    continue  # already yielded: never twice
                                last_id, seen = sse.id, here
                            if isinstance(data, payloads.SystemEvent) and data.type == "expired":
                                raise TokenExpired(data.message)
                            yield Event(sse.id or None, sse.event, data)
            except (httpx.TransportError, httpx.RemoteProtocolError):
                pass  # the connection broke: reconnect below
            attempt += 1
            if wait is None:
                cap = min(self.max_backoff, retry_seconds * 2 ** min(attempt, 10))
                wait = random.uniform(0, cap)  # full jitter
            await asyncio.sleep(wait)

    async def _refused(self, response: httpx.Response) -> float:
        """Raise for answers a retry cannot fix; otherwise how long to wait."""
        await response.aread()
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:200]}
        message = str(body.get("message", response.reason_phrase))
        error = ERRORS.get(response.status_code)
        if error is not None:
            raise error(response.status_code, message, body)
        retry_after = response.headers.get("retry-after", "")
        return float(retry_after) if retry_after.isdigit() else 1.0


def stream_sync(
    base_url: str,
    token: str,
    channel: str,
    on: list[str] | None = None,
    last_event_id: str | None = None,
) -> Iterator[Event]:
    """The same stream for scripts without asyncio."""
    loop = asyncio.new_event_loop()

    async def open_stream() -> AsyncIterator[Event]:
        async with Client(base_url, token) as client:
            async for event in client.stream(channel, on, last_event_id):
                yield event

    events = open_stream()
    try:
        while True:
            try:
                yield loop.run_until_complete(events.__anext__())
            except StopAsyncIteration:
                return
    finally:
        loop.run_until_complete(events.aclose())
        loop.close()
