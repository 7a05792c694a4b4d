"""PUT and DELETE /v1/channels/{channel}/presence/{ref}: track and untrack, on any replica.

Order of checks: token (401), write origin (403), channel (404 for an unregistered prefix,
else 400 if invalid) and ref (400), body (415/400/422),
state size (400), updates per connection (429); then the database decides (realtime.track()):
who may track (403), whose ref it is (409), how many a channel holds (429). Presence frames go
out through the streams (presence.py).
"""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from threadcast import auth, payloads, subscriptions
from threadcast.api import check_write_origin, parse_body
from threadcast.db import as_server
from threadcast.errors import HTTPError
from threadcast.sqlfiles import queries

CHANNEL_PARAM = """
      - name: channel
        in: path
        required: true
        schema: {type: string, pattern: '^[a-z][a-z0-9_-]{0,62}:[A-Za-z0-9._-]{1,200}$'}
      - name: ref
        in: path
        required: true
        description: the presence's own id, chosen by the client (one per tab and channel)
        schema: {type: string, format: uuid}
"""


async def caller(request: Request) -> auth.Principal:
    """The caller, by the Authorization header; a browser write's origin checked."""
    try:
        principal = await auth.authenticate(request, request.app.state.verifier, header_only=True)
    except auth.AuthError as exc:
        raise HTTPError(401, "unauthorized", exc.message) from exc
    check_write_origin(request)
    return principal


async def target(request: Request) -> tuple[subscriptions.Subscription, uuid.UUID]:
    """The channel (as the catalog knows it) and the presence ref of the path; 400 if bad."""
    catalog = await request.app.state.hub.catalog()
    name = request.path_params["channel"]
    match = subscriptions.CHANNEL_RE.match(name)
    if match and match["prefix"] not in catalog.channels:
        raise HTTPError(
            404, "not_found", f"no channel {name[:100]!r}: its prefix is not registered"
        )
    info, key = subscriptions.parse_channel(name, catalog)
    raw = request.path_params["ref"]
    try:
        ref = uuid.UUID(raw)
    except ValueError as exc:
        raise HTTPError(400, "bad_id", f"ref must be a uuid, got {raw[:60]!r}") from exc
    return subscriptions.Subscription(info.prefix + key, info, key, ()), ref


async def track(request: Request) -> Response:
    """---
    summary: Track (or update) your presence on a channel, living with one of your streams
    description: >-
      Viewers bound to `presence` on the channel get it as a `join` (x-events of the stream);
      it ends on DELETE, when the stream named by `connection` closes, or within
      THREADCAST_PRESENCE_TTL_SECONDS when that stream's replica dies.
    parameters:
    {params}
    requestBody: TrackPresence
    responses:
      200: PresenceTracked
      400: the channel or ref is invalid, or the state is over THREADCAST_MAX_PRESENCE_BYTES
      403: you may not read this channel, or the write's origin is not allowed
      404: no channel has this prefix
      409: the ref is another user's presence
      429: too many updates on this connection, or too many presences on the channel
    """
    principal = await caller(request)
    channel, ref = await target(request)
    body = await parse_body(request, payloads.TrackPresence)
    settings = request.app.state.settings
    state = json.dumps(body.state, separators=(",", ":"), ensure_ascii=False)
    if len(state.encode()) > settings.max_presence_bytes:
        raise HTTPError(
            400,
            "presence_too_large",
            f"a presence's state is at most {settings.max_presence_bytes} bytes of JSON,"
            f" this one is {len(state.encode())}",
        )
    request.app.state.limiter.check_presence_update(str(body.connection))
    identity = principal.identity
    async with as_server(request.app.state.pool) as conn:
        cursor = await conn.execute(
            queries("presence")["track"],
            {
                "role": identity.role,
                "sub": identity.sub,
                "claims": identity.claims_json,
                "prefix": channel.channel_info.prefix,
                "argument": channel.key,
                "ref": ref,
                "connection": body.connection,
                "state": state,
                "ttl": settings.presence_ttl_seconds,
                "max_presences": settings.max_presences_per_channel,
            },
        )
        row = await cursor.fetchone()
    outcome = row["outcome"] if row else None
    if outcome == "forbidden":
        raise HTTPError(403, "forbidden", f"you may not track presence on {channel.channel!r}")
    if outcome == "ref_taken":
        raise HTTPError(409, "ref_taken", f"presence {ref} on {channel.channel!r} is not yours")
    if outcome == "full":
        raise HTTPError(
            429,
            "too_many_presences",
            f"{channel.channel!r} already holds {settings.max_presences_per_channel} presences",
            headers={"Retry-After": "5"},
        )
    tracked = {"channel": channel.channel, "key": identity.sub, "ref": str(ref)}
    return JSONResponse(tracked | {"state": body.state})


async def untrack(request: Request) -> Response:
    """---
    summary: End your presence on a channel
    parameters:
    {params}
    responses:
      204: {description: ended (or there was none)}
      400: the channel or ref is invalid
      403: the write's origin is not allowed
      404: no channel has this prefix
    """
    principal = await caller(request)
    channel, ref = await target(request)
    async with as_server(request.app.state.pool) as conn:
        await conn.execute(
            queries("presence")["untrack"],
            {"sub": principal.identity.sub, "topic": channel.channel, "ref": ref},
        )
    return Response(status_code=204)


for _handler in (track, untrack):
    assert _handler.__doc__ is not None
    _handler.__doc__ = _handler.__doc__.replace("    {params}\n", CHANNEL_PARAM.lstrip("\n"))

__all__ = ["track", "untrack"]
