"""GET /v1/channels/{channel}/stream: an SSE stream of one channel, as the caller.

Order of checks: connect rate (429), token (401), subscription (400), channel access as the
user (403), Last-Event-ID (400), connections per user (429). Then: catch up from the cursor,
say `subscribed`, and relay frames the hub queues until the client leaves, the token expires,
the connection is reset, or the server shuts down.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator

import psycopg
from sse_starlette import EventSourceResponse
from starlette.requests import Request

from threadcast import auth, subscriptions
from threadcast.db import Identity
from threadcast.errors import HTTPError
from threadcast.hub import Connection, Hub, Position, format_position
from threadcast.sqlfiles import queries

log = logging.getLogger(__name__)

CURSOR_RE = re.compile(r"^([0-9]{1,18})-([0-9]{1,18})$")  # ASCII digits: \d takes any script
SHUTDOWN_GRACE_SECONDS = 1.0
WRITE_BYTES = 16384  # frames joined into one write, at most (a bigger frame goes alone)


def parse_cursor(raw: str | None) -> Position | None:
    if raw is None or raw == "":
        return None
    match = CURSOR_RE.match(raw.strip())
    if not match:
        raise HTTPError(
            400, "bad_last_event_id", f"invalid Last-Event-ID {raw[:60]!r}: expected <tick>-<id>"
        )
    return int(match[1]), int(match[2])


async def authorize_channel(
    request: Request, identity: Identity, subscription: subscriptions.Subscription
) -> None:
    """The channel's authorize function, as the user, in one round trip (realtime.authorize)."""
    params = {
        "role": identity.role,
        "sub": str(identity.sub),
        "prefix": subscription.channel_info.prefix,
        "argument": subscription.key,
    }
    try:
        async with request.app.state.pool.connection() as conn:
            row = await (await conn.execute(queries("relay")["authorize"], params)).fetchone()
    except psycopg.errors.DataError as exc:
        raise HTTPError(400, "bad_channel", f"invalid channel {subscription.channel!r}") from exc
    if not row or row["allowed"] is not True:
        raise HTTPError(403, "forbidden", f"you may not subscribe to {subscription.channel!r}")


async def endpoint(request: Request) -> EventSourceResponse:
    """---
    summary: The channel's events as Server-Sent Events, as the caller (RLS)
    description: >-
      Frames: `id:` on every durable event (resume with Last-Event-ID), `event:` one of
      postgres_changes, ai_status, system, and `data:` one JSON document (x-events).
    security: [{bearerAuth: []}, {accessToken: []}, {cookieAuth: []}]
    parameters:
      - name: channel
        in: path
        required: true
        schema: {type: string, pattern: '^[a-z][a-z0-9_-]{0,62}:[A-Za-z0-9._-]{1,200}$'}
        example: ticket-threads:00000000-0000-0000-0000-000000007001
      - name: "on"
        in: query
        description: >-
          bindings, EVENT:SCHEMA.TABLE[:COLUMN=OP.VALUE] or ai_status; none means every
          realtime table of the channel and AI status
        schema: {type: array, items: {type: string}}
        style: form
        explode: true
      - name: last_event_id
        in: query
        description: resume after this event id (for clients that cannot send the header)
        schema: {type: string, pattern: '^[0-9]{1,18}-[0-9]{1,18}$'}
      - name: Last-Event-ID
        in: header
        schema: {type: string, pattern: '^[0-9]{1,18}-[0-9]{1,18}$'}
    responses:
      200:
        description: the stream
        content:
          text/event-stream:
            schema: {type: string}
            x-events:
              postgres_changes:
                oneOf:
                  - $ref: '#/components/schemas/ThreadRealtimePayload'
                  - $ref: '#/components/schemas/NoteRealtimePayload'
              ai_status: {$ref: '#/components/schemas/AIProcessingPayload'}
              system: {$ref: '#/components/schemas/SystemEvent'}
      400: the channel, a binding or Last-Event-ID is invalid
      403: you may not subscribe to this channel
      429: too many connection attempts or open streams
      503: the server is shutting down
    """
    app = request.app
    settings = app.state.settings
    hub: Hub = app.state.hub
    if hub.closing:
        raise HTTPError(
            503, "shutting_down", "server is shutting down", headers={"Retry-After": "1"}
        )
    client_ip = request.client.host if request.client else "unknown"
    app.state.limiter.check_connect_attempt(client_ip)
    try:
        principal = auth.authenticate(request, settings)
    except auth.AuthError as exc:
        raise HTTPError(401, "unauthorized", exc.message) from exc

    catalog = await hub.catalog()
    specs = request.query_params.getlist("on")
    subscription = subscriptions.parse(
        request.path_params["channel"], specs, catalog, settings.max_subscriptions_per_connection
    )
    await authorize_channel(request, principal.identity, subscription)
    cursor = parse_cursor(
        request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    )

    app.state.limiter.acquire_connection(principal.identity.sub)
    try:
        conn = hub.register(principal.identity, subscription)
    except BaseException:
        app.state.limiter.release_connection(principal.identity.sub)
        raise
    return EventSourceResponse(
        relay(request, hub, conn, cursor, principal.expires_at),
        ping=settings.heartbeat_seconds,
        send_timeout=settings.send_timeout_seconds,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        shutdown_event=EndOnShutdown(conn),  # type: ignore[arg-type]
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
    )


class EndOnShutdown:
    """Handed to sse-starlette as the stream's `shutdown_event`: it calls set() when the server
    begins to exit, which queues a `shutdown` frame and ends the stream; the client resumes
    on another replica with Last-Event-ID."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def set(self) -> None:
        self.conn.reset("shutdown", "server shutting down; reconnect to resume", "shutdown")

    def is_set(self) -> bool:
        return self.conn.closed


async def relay(
    request: Request,
    hub: Hub,
    conn: Connection,
    cursor: Position | None,
    expires_at: float,
) -> AsyncIterator[bytes]:
    """The frames of one stream. Ends on disconnect (sse-starlette cancels it), expiry,
    reset or shutdown; always unregisters."""
    settings = request.app.state.settings
    opened = time.monotonic()
    frames = 0
    fields = {"sub": str(conn.identity.sub), "channel": conn.topic, "resume": cursor is not None}
    log.info("stream opened", extra=fields)
    try:
        yield f"retry: {settings.retry_ms}\n\n".encode()
        try:
            state = "ok" if cursor is None else await hub.cursor_state(cursor)
        except psycopg.OperationalError as exc:
            # The database is unreachable or the pool exhausted. The response has started, so
            # no 503 now: end the stream; the client reconnects with the same Last-Event-ID.
            log.warning("stream: cannot check a cursor (%s); ending the stream", exc)
            return
        if cursor is None:
            hub.go_live(conn)
        elif state == "ok":
            # Catch-up fills the queue as fast as this generator drains it (it waits for
            # room), so a replay of any length streams instead of overflowing.
            hub.start_catch_up(conn, cursor)
        else:
            hub.expire(conn, state)
        # Expiry and shutdown arrive as frames in the queue (see EndOnShutdown), so an idle
        # stream costs no wake-ups: 10,000 of them polling once a second took most of a core.
        expiry = asyncio.get_running_loop().call_later(
            max(0.0, expires_at - time.time()),
            conn.reset,
            "token_expired",
            "your token expired; reconnect with a new one",
            "expired",
        )
        try:
            while True:
                # Whatever is queued goes out as one write: a replay of 100,000 events
                # spent most of its time on per-frame sends.
                batch = await conn.get(WRITE_BYTES)
                yield batch[0] if len(batch) == 1 else b"".join(batch)
                frames += len(batch)
                if batch[-1] is conn.final:
                    return  # that was a reset, `expired` or `shutdown`
        finally:
            expiry.cancel()
    finally:
        hub.unregister(conn)
        request.app.state.limiter.release_connection(conn.identity.sub)
        duration = round(time.monotonic() - opened, 3)
        log.info("stream closed", extra=fields | {"frames": frames, "seconds": duration})


__all__ = ["endpoint", "format_position", "parse_cursor"]
