"""SSE streams as the caller: GET /v1/channels/{channel}/stream (one channel) and
GET /v1/stream (any number of channels on one connection, so a browser needs one).

Order of checks: connect rate (429), token (401), subscription (400), channel access as the
user (403), Last-Event-ID (400), connections per user (429). Then: catch up from the cursor,
say `subscribed`, and relay frames the hub queues until the client leaves, the token expires,
the connection is reset, or the server shuts down.

/v1/stream takes `channel` (repeated), `on.<channel>` (that channel's bindings) and
`from.<channel>` (that channel starts after this position rather than after Last-Event-ID).
One Last-Event-ID resumes every channel, since the log's order is total. To add or remove a
channel a client reconnects with the new set, its Last-Event-ID, and `from.<new>`: nothing is
lost or repeated on the others, on any replica.
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
from threadcast.db import Identity, privilege_message
from threadcast.errors import HTTPError
from threadcast.hub import Connection, Hub, Position, format_position
from threadcast.sqlfiles import queries

log = logging.getLogger(__name__)

CURSOR_RE = re.compile(r"^([0-9]{1,18})-([0-9]{1,18})$")  # ASCII digits: \d takes any script
SHUTDOWN_GRACE_SECONDS = 1.0
WRITE_BYTES = 16384  # frames joined into one write, at most (a bigger frame goes alone)


def parse_cursor(raw: str | None, what: str = "Last-Event-ID") -> Position | None:
    if raw is None or raw == "":
        return None
    return parse_position(raw, what)


def parse_position(raw: str, what: str) -> Position:
    match = CURSOR_RE.match(raw.strip())
    if not match:
        code = "bad_last_event_id" if what == "Last-Event-ID" else "bad_position"
        raise HTTPError(400, code, f"invalid {what} {raw[:60]!r}: expected <tick>-<id>")
    return int(match[1]), int(match[2])


async def authorize_channels(
    request: Request, identity: Identity, channels: list[subscriptions.Subscription]
) -> None:
    """Each channel's authorize function, as the user with its role and claims
    (realtime.authorize), pipelined on one connection: 100 channels cost about one round
    trip. 403 names the first refused."""
    statement = queries("relay")["authorize"]
    try:
        async with request.app.state.pool.connection() as conn, conn.pipeline():
            cursors = [
                await conn.execute(
                    statement,
                    {
                        "role": identity.role,
                        "sub": identity.sub,
                        "claims": identity.claims_json,
                        "prefix": s.channel_info.prefix,
                        "argument": s.key,
                    },
                )
                for s in channels
            ]
            rows = [await cur.fetchone() for cur in cursors]
    except psycopg.errors.DataError as exc:
        raise HTTPError(400, "bad_channel", f"invalid channel: {exc.diag.message_primary}") from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise HTTPError(403, "forbidden", privilege_message(exc, identity.role)) from exc
    for subscription, row in zip(channels, rows, strict=True):
        if not (row and row["allowed"] is True):
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
    hub, principal = await admit(request)
    settings = request.app.state.settings
    catalog = await hub.catalog()
    specs = request.query_params.getlist("on")
    subscription = subscriptions.parse(
        request.path_params["channel"], specs, catalog, settings.max_subscriptions_per_connection
    )
    await authorize_channels(request, principal.identity, [subscription])
    cursor = request_cursor(request)
    return open_stream(request, principal, [subscription], cursor, {}, tagged=False)


async def admit(request: Request) -> tuple[Hub, auth.Principal]:
    """The checks before any work: shutting down (503), connect rate (429), token (401)."""
    app = request.app
    hub: Hub = app.state.hub
    if hub.closing:
        raise HTTPError(
            503, "shutting_down", "server is shutting down", headers={"Retry-After": "1"}
        )
    client_ip = request.client.host if request.client else "unknown"
    app.state.limiter.check_connect_attempt(client_ip)
    try:
        return hub, await auth.authenticate(request, app.state.verifier)
    except auth.AuthError as exc:
        raise HTTPError(401, "unauthorized", exc.message) from exc


def request_cursor(request: Request) -> Position | None:
    return parse_cursor(
        request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    )


def parse_channels(
    request: Request, catalog: subscriptions.Catalog, max_channels: int, max_bindings: int
) -> tuple[list[subscriptions.Subscription], dict[str, Position]]:
    """/v1/stream's channels, their bindings and their own starts; 400 names the problem."""
    names = request.query_params.getlist("channel")
    if not names:
        raise HTTPError(400, "bad_subscription", "name at least one channel: ?channel=<name>")
    if len(names) > max_channels:
        raise HTTPError(
            400,
            "too_many_channels",
            f"too many channels on one stream: {len(names)} > {max_channels}",
        )
    specs: dict[str, list[str]] = {name: [] for name in names}
    if len(specs) != len(names):
        raise HTTPError(400, "bad_subscription", "a channel is named twice in ?channel=")
    starts_raw: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        kind, dot, name = key.partition(".")
        if kind == "on" and not dot:
            raise HTTPError(
                400, "bad_subscription", "on /v1/stream bindings are on.<channel>=<binding>"
            )
        if not dot or kind not in ("on", "from"):
            continue
        if name not in specs:
            raise HTTPError(
                400, "bad_subscription", f"{key[:120]!r} names a channel not in ?channel="
            )
        if kind == "on":
            specs[name].append(value)
        elif name in starts_raw:
            raise HTTPError(400, "bad_subscription", f"{key[:120]!r} is given twice")
        else:
            starts_raw[name] = value
    parsed: list[subscriptions.Subscription] = []
    starts: dict[str, Position] = {}
    for name, channel_specs in specs.items():
        subscription = subscriptions.parse(name, channel_specs, catalog, max_bindings)
        if any(s.channel == subscription.channel for s in parsed):
            raise HTTPError(
                400, "bad_subscription", f"channel {subscription.channel!r} is named twice"
            )
        parsed.append(subscription)
        if name in starts_raw:
            starts[subscription.channel] = parse_position(starts_raw[name], f"from.{name}")
    return parsed, starts


async def multi_endpoint(request: Request) -> EventSourceResponse:
    """---
    summary: Many channels' events on one stream, as the caller (RLS)
    description: >-
      One SSE connection for any number of channels (a browser holds one for all its tabs).
      Each `postgres_changes` and `ai_status` frame's data names its channel first
      (`"channel"`). One Last-Event-ID resumes every channel; `from.<channel>` starts one
      channel after another position (a REST read's `position`). To add or remove a channel,
      reconnect with the new set, Last-Event-ID and `from.<new channel>`.
    security: [{bearerAuth: []}, {accessToken: []}, {cookieAuth: []}]
    parameters:
      - name: channel
        in: query
        required: true
        description: a channel (repeated, up to THREADCAST_MAX_CHANNELS_PER_STREAM)
        schema:
          type: array
          minItems: 1
          items: {type: string, pattern: '^[a-z][a-z0-9_-]{0,62}:[A-Za-z0-9._-]{1,200}$'}
        style: form
        explode: true
        example: [ticket-threads:00000000-0000-0000-0000-000000007001]
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
      400: a channel, a binding, a start or Last-Event-ID is invalid, or too many channels
      403: you may not subscribe to one of the channels
      429: too many connection attempts or open streams
      503: the server is shutting down
    """
    hub, principal = await admit(request)
    settings = request.app.state.settings
    catalog = await hub.catalog()
    channels, starts = parse_channels(
        request,
        catalog,
        settings.max_channels_per_stream,
        settings.max_subscriptions_per_connection,
    )
    await authorize_channels(request, principal.identity, channels)
    cursor = request_cursor(request)
    return open_stream(request, principal, channels, cursor, starts, tagged=True)


def open_stream(
    request: Request,
    principal: auth.Principal,
    channels: list[subscriptions.Subscription],
    cursor: Position | None,
    starts: dict[str, Position],
    *,
    tagged: bool,
) -> EventSourceResponse:
    """Register the connection (429 past the user's cap) and answer with its stream."""
    app = request.app
    settings = app.state.settings
    hub: Hub = app.state.hub
    app.state.limiter.acquire_connection(principal.identity.sub)
    try:
        conn = hub.register(principal.identity, channels, tagged=tagged)
        cursor = hub.set_starts(conn, cursor, starts)
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
    fields = {
        "sub": conn.identity.sub,
        "channel": ",".join(conn.channels),
        "resume": cursor is not None,
    }
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


__all__ = ["endpoint", "format_position", "multi_endpoint", "parse_cursor"]
