"""The REST API the client side of the seed needs. Every query runs as the caller, under RLS:
what they cannot see does not exist for them (404); what they can see but not change is 403.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from threadcast import auth, payloads
from threadcast.db import as_identity, as_identity_at_head, privilege_message
from threadcast.errors import HTTPError
from threadcast.sqlfiles import queries

STALE_VERSION = "TC409"  # SQLSTATE raised by public.bump_version()
NOT_AN_AGENT = "TC403"  # SQLSTATE raised by public.set_thread_ai_status() for a customer
IF_MATCH_RE = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')

Handler = Callable[[Request, AsyncConnection], Awaitable[Response]]
ReadHandler = Callable[[Request, AsyncConnection], Awaitable[dict[str, Any]]]
M = TypeVar("M", bound=BaseModel)


def q(name: str) -> str:
    return queries("api")[name]


def path_uuid(request: Request, name: str) -> uuid.UUID:
    raw = request.path_params[name]
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise HTTPError(400, "bad_id", f"{name} must be a uuid, got {raw[:60]!r}") from exc


async def parse_body(request: Request, model: type[M]) -> M:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPError(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.body()
    try:
        data = json.loads(raw)
        # "\ud800" is valid JSON but not text PostgreSQL (or UTF-8) can hold.
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise HTTPError(400, "bad_json", "body holds a lone UTF-16 surrogate") from exc
    except RecursionError as exc:
        raise HTTPError(400, "bad_json", "body is nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an int over 4300 digits
        raise HTTPError(400, "bad_json", f"body is not valid JSON: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise HTTPError(422, "invalid_body", summary, extra={"problems": problems}) from exc


def _json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()  # the same form the realtime payloads carry
    return value


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _json_value(v) for k, v in row.items()}


def ok(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def check_write_origin(request: Request) -> None:
    """A write from a browser must come from this server's own origin or an allowed one.

    Bearer tokens already keep other sites' forms out (they cannot set the header); this
    refuses the rest of a cross-site write, e.g. from a page that got hold of a token."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser (curl, a service): nothing to check
        return
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    allowed = request.app.state.cors_origins
    if origin == own or "*" in allowed or origin in allowed:
        return
    raise HTTPError(
        403,
        "origin_not_allowed",
        f"writes from origin {origin[:200]!r} are not allowed; add it to THREADCAST_CORS_ORIGINS",
    )


POSITION_HEADER = "Threadcast-Position"


async def authenticated(request: Request) -> auth.Principal:
    """The caller (Authorization header only), a user of the ticket application; a write's
    origin checked."""
    try:
        verifier = request.app.state.verifier
        principal = await auth.authenticate(request, verifier, header_only=True)
    except auth.AuthError as exc:
        raise HTTPError(401, "unauthorized", exc.message) from exc
    if principal.identity.user_id is None:
        # The ticket application's users are uuids (realtime.uid() is null for this sub).
        raise HTTPError(
            403,
            "sub_not_uuid",
            f"the ticket API identifies users by uuid; this token's sub"
            f" {principal.identity.sub[:64]!r} is not one (streams of channels whose rules"
            " read request.jwt.claims still work)",
        )
    if request.method not in ("GET", "HEAD"):
        check_write_origin(request)
    return principal


@contextlib.contextmanager
def sql_errors(role: str) -> Iterator[None]:
    """Translate the SQL errors a request as `role` can cause into JSON 4xx answers."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        raise HTTPError(403, "forbidden", privilege_message(exc, role)) from exc
    except psycopg.errors.InvalidParameterValue as exc:  # 22023: e.g. a bad AI status
        raise HTTPError(400, "bad_request", exc.diag.message_primary or "invalid") from exc
    except (psycopg.errors.CheckViolation, psycopg.errors.StringDataRightTruncation) as exc:
        raise HTTPError(400, "bad_request", exc.diag.message_primary or "invalid") from exc
    except psycopg.DataError as exc:  # e.g. a NUL in text, which PostgreSQL cannot store
        message = exc.diag.message_primary or str(exc) or "invalid value"
        raise HTTPError(400, "bad_request", message) from exc


def as_caller(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate (Authorization header only), check a write's origin, run `handler` in a
    transaction as the caller, translate SQL errors."""

    @functools.wraps(handler)  # keeps the docstring: its operation in /openapi.json
    async def endpoint(request: Request) -> Response:
        principal = await authenticated(request)
        with sql_errors(principal.identity.role):
            async with as_identity(request.app.state.pool, principal.identity) as conn:
                return await handler(request, conn)

    return endpoint


def as_reader(handler: ReadHandler) -> Callable[[Request], Awaitable[Response]]:
    """As as_caller, for a read: `handler` returns the body, which gets the log position the
    read is consistent with as `position`, also in the Threadcast-Position header. A stream
    resumed from it (Last-Event-ID) delivers every change committed after the read, and maybe
    a few already in it, which the client drops by version: never a gap (the argument is at
    db.as_identity_at_head, which reads the position first, then the data)."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        principal = await authenticated(request)
        with sql_errors(principal.identity.role):
            async with as_identity_at_head(request.app.state.pool, principal.identity) as (
                conn,
                at,
            ):
                body = await handler(request, conn)
        position = format_position(at)
        response = ok(body | {"position": position})
        response.headers[POSITION_HEADER] = position
        return response

    return endpoint


def format_position(position: tuple[int, int]) -> str:
    """A position as SSE ids spell it: "<tick>-<id>"."""
    return f"{position[0]}-{position[1]}"


async def fetch_one(conn: AsyncConnection, name: str, **params: Any) -> dict[str, Any] | None:
    return await (await conn.execute(q(name), params)).fetchone()  # type: ignore[return-value]


async def fetch_all(conn: AsyncConnection, name: str, **params: Any) -> list[dict[str, Any]]:
    return await (await conn.execute(q(name), params)).fetchall()  # type: ignore[return-value]


def not_found(what: str, ident: uuid.UUID) -> HTTPError:
    return HTTPError(404, "not_found", f"{what} {ident} does not exist or is not visible to you")


def id_taken(what: str, ident: uuid.UUID) -> HTTPError:
    return HTTPError(
        409, "id_taken", f"id {ident} is taken by another {what}; choose a new random id"
    )


def replayed(body: Any) -> JSONResponse:
    """The answer to a create retried with the same id: what it made, as it is now. 200, not
    201, and marked, as Stripe and the IETF idempotency-key draft do."""
    response = ok(body)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def with_notes(
    thread: dict[str, Any], notes: list[dict[str, Any]], ai: dict[str, Any] | None
) -> dict[str, Any]:
    return jsonable(thread) | {"notes": [jsonable(n) for n in notes], "ai_status": ai}


# Handlers ------------------------------------------------------------------------------------


MAX_TICKETS = 500
DEFAULT_TICKETS = 100


def once(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise HTTPError(400, f"bad_{name}", f"give {name} at most once")
    return values[0] if values else None


def limit_param(request: Request) -> int:
    raw = once(request, "limit")
    if raw is None:
        return DEFAULT_TICKETS
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw[:6]) <= MAX_TICKETS:
        raise HTTPError(
            400, "bad_limit", f"limit must be an integer from 1 to {MAX_TICKETS}, got {raw[:40]!r}"
        )
    return int(raw)


def org_param(request: Request) -> uuid.UUID | None:
    raw = once(request, "org_id")
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise HTTPError(400, "bad_org_id", f"org_id must be a uuid, got {raw[:60]!r}") from exc


async def list_tickets(request: Request, conn: AsyncConnection) -> dict[str, Any]:
    """---
    summary: The tickets you may see, most recently updated first, with their AI states
    parameters:
      - name: org_id
        in: query
        required: false
        description: only this organisation's tickets (its inbox, channel org-tickets:<org_id>)
        schema: {type: string, format: uuid}
      - name: limit
        in: query
        required: false
        description: at most this many tickets (default 100)
        schema: {type: integer, minimum: 1, maximum: 500}
    responses:
      200:
        description: TicketList
        headers:
          Threadcast-Position:
            description: the log position the answer is consistent with, as its `position`
            schema: {type: string, pattern: '^[0-9]+-[0-9]+$'}
        content: {application/json: {schema: {$ref: '#/components/schemas/TicketList'}}}
      400: limit is not an integer from 1 to 500, org_id not a uuid, or a parameter is unknown
    """
    unknown = sorted(set(request.query_params) - {"limit", "org_id"})
    if unknown:
        raise HTTPError(
            400,
            "bad_query",
            f"unknown query parameter {unknown[0][:40]!r}; this takes org_id, limit",
        )
    tickets = await fetch_all(
        conn, "tickets", limit=limit_param(request), org_id=org_param(request)
    )
    return {"tickets": [jsonable(t) for t in tickets]}


async def list_threads(request: Request, conn: AsyncConnection) -> dict[str, Any]:
    """---
    summary: A ticket and its threads with their notes and AI state, oldest first
    responses:
      200:
        description: ThreadList
        headers:
          Threadcast-Position:
            description: the log position the answer is consistent with, as its `position`
            schema: {type: string, pattern: '^[0-9]+-[0-9]+$'}
        content: {application/json: {schema: {$ref: '#/components/schemas/ThreadList'}}}
      404: the ticket does not exist or is not visible to you
    """
    ticket_id = path_uuid(request, "ticket_id")
    ticket = await fetch_one(conn, "ticket", ticket_id=ticket_id)
    if ticket is None:
        raise not_found("ticket", ticket_id)
    threads = await fetch_all(conn, "threads_of_ticket", ticket_id=ticket_id)
    notes = await fetch_all(conn, "notes_of_ticket", ticket_id=ticket_id)
    states = {
        s["thread_id"]: s for s in await fetch_all(conn, "ai_states_of_ticket", ticket_id=ticket_id)
    }
    by_thread: dict[uuid.UUID, list[dict[str, Any]]] = {t["id"]: [] for t in threads}
    for note in notes:
        by_thread.setdefault(note["thread_id"], []).append(note)
    body = [
        with_notes(t, by_thread[t["id"]], jsonable(states[t["id"]]) if t["id"] in states else None)
        for t in threads
    ]
    return {"ticket_id": str(ticket_id), "ticket": jsonable(ticket), "threads": body}


async def thread_detail(conn: AsyncConnection, thread: dict[str, Any]) -> dict[str, Any]:
    """A thread with its notes and AI state, as GET /v1/threads/{id} answers."""
    notes = await fetch_all(conn, "notes_of_thread", thread_id=thread["id"])
    ai = await fetch_one(conn, "ai_state_of_thread", thread_id=thread["id"])
    return with_notes(thread, notes, jsonable(ai) if ai else None)


async def get_thread(request: Request, conn: AsyncConnection) -> dict[str, Any]:
    """---
    summary: A thread with its notes and AI state
    responses:
      200:
        description: ThreadDetail
        headers:
          Threadcast-Position:
            description: the log position the answer is consistent with, as its `position`
            schema: {type: string, pattern: '^[0-9]+-[0-9]+$'}
        content: {application/json: {schema: {$ref: '#/components/schemas/ThreadDetail'}}}
      404: the thread does not exist or is not visible to you
    """
    thread_id = path_uuid(request, "thread_id")
    thread = await fetch_one(conn, "thread", thread_id=thread_id)
    if thread is None:
        raise not_found("thread", thread_id)
    return await thread_detail(conn, thread)


async def create_thread(request: Request, conn: AsyncConnection) -> Response:
    """---
    summary: Create a thread on a ticket (idempotent with a client-chosen id)
    requestBody: CreateThread
    responses:
      200:
        description: a retry with the same id; the thread it made, as it is now
        headers: {Idempotent-Replayed: {schema: {const: "true"}}}
        content: {application/json: {schema: {$ref: '#/components/schemas/ThreadWithNotes'}}}
      201: ThreadWithNotes
      403: you may not write here
      404: the ticket does not exist or is not visible to you
      409: the id is taken by another thread
    """
    ticket_id = path_uuid(request, "ticket_id")
    body = await parse_body(request, payloads.CreateThread)
    if await fetch_one(conn, "ticket", ticket_id=ticket_id) is None:
        raise not_found("ticket", ticket_id)
    thread = await fetch_one(
        conn, "create_thread", id=body.id, ticket_id=ticket_id, subject=body.subject
    )
    if thread is None:  # the id the client chose is taken
        assert body.id is not None
        thread = await fetch_one(conn, "own_thread", thread_id=body.id, ticket_id=ticket_id)
        if thread is None:
            raise id_taken("thread", body.id)
        return replayed(await thread_detail(conn, thread))
    return ok(with_notes(thread, [], None), status=201)


async def create_note(request: Request, conn: AsyncConnection) -> Response:
    """---
    summary: Add a note to a thread (idempotent with a client-chosen id)
    requestBody: CreateNote
    responses:
      200:
        description: a retry with the same id; the note it made, as it is now
        headers: {Idempotent-Replayed: {schema: {const: "true"}}}
        content: {application/json: {schema: {$ref: '#/components/schemas/ThreadNote'}}}
      201: ThreadNote
      403: you may not write this note here (customers write no internal notes)
      404: the thread does not exist or is not visible to you
      409: the id is taken by another note
    """
    thread_id = path_uuid(request, "thread_id")
    body = await parse_body(request, payloads.CreateNote)
    thread = await fetch_one(conn, "thread", thread_id=thread_id)
    if thread is None:
        raise not_found("thread", thread_id)
    try:
        async with conn.transaction():
            note = await fetch_one(
                conn,
                "create_note",
                id=body.id,
                thread_id=thread_id,
                ticket_id=thread["ticket_id"],
                body=body.body,
                internal=body.internal,
            )
    except psycopg.errors.InsufficientPrivilege as exc:
        what = "an internal note" if body.internal else "a note here"
        raise HTTPError(403, "forbidden", f"you may not write {what}") from exc
    if note is None:  # the id the client chose is taken
        assert body.id is not None
        note = await fetch_one(conn, "own_note", note_id=body.id, thread_id=thread_id)
        if note is None:
            raise id_taken("note", body.id)
        return replayed(jsonable(note))
    return ok(jsonable(note), status=201)


def if_match(request: Request, *, required: bool) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        if required:
            raise HTTPError(
                428, "precondition_required", "send If-Match: <version> of the note you edit"
            )
        return None
    match = IF_MATCH_RE.match(raw.strip())
    if not match:
        raise HTTPError(400, "bad_if_match", f"If-Match must be a version number, got {raw[:40]!r}")
    return int(match[1])


async def conflict(conn: AsyncConnection, note_id: uuid.UUID, version: int) -> HTTPError:
    current = await fetch_one(conn, "note", note_id=note_id)
    return HTTPError(
        412,
        "version_conflict",
        f"note {note_id} is at version {current['version'] if current else '?'}, not {version}",
        extra={"current": jsonable(current) if current else None},
    )


async def edit_note(request: Request, conn: AsyncConnection) -> Response:
    """---
    summary: Edit a note at the version given in If-Match
    parameters:
      - name: If-Match
        in: header
        required: true
        description: the note's version, e.g. "3"
        schema: {type: string, pattern: '^(W/)?"?[0-9]{1,9}"?$'}
    requestBody: EditNote
    responses:
      200: ThreadNote
      400: If-Match is not a version number
      403: you may not edit this note
      404: the note does not exist or is not visible to you
      412: the note is at another version; `current` is the note as it is now
      428: If-Match is missing
    """
    note_id = path_uuid(request, "note_id")
    version = if_match(request, required=True)
    assert version is not None
    body = await parse_body(request, payloads.EditNote)
    try:
        async with conn.transaction():
            note = await fetch_one(
                conn,
                "edit_note",
                note_id=note_id,
                body=body.body,
                internal=body.internal,
                version=version,
            )
    except psycopg.Error as exc:
        if exc.sqlstate == STALE_VERSION:
            raise await conflict(conn, note_id, version) from exc
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            raise HTTPError(403, "forbidden", "you may not make this note internal") from exc
        raise
    if note is None:
        if await fetch_one(conn, "note", note_id=note_id) is not None:
            raise HTTPError(403, "forbidden", f"you may not edit note {note_id}")
        raise not_found("note", note_id)
    return ok(jsonable(note))


async def delete_note(request: Request, conn: AsyncConnection) -> Response:
    """---
    summary: Delete a note, at the version given in If-Match if there is one
    parameters:
      - name: If-Match
        in: header
        required: false
        description: the note's version, e.g. "3"
        schema: {type: string, pattern: '^(W/)?"?[0-9]{1,9}"?$'}
    responses:
      204: {description: deleted}
      400: If-Match is not a version number
      403: you may not delete this note
      404: the note does not exist or is not visible to you
      412: the note is at another version; `current` is the note as it is now
    """
    note_id = path_uuid(request, "note_id")
    version = if_match(request, required=False)
    deleted = await fetch_one(conn, "delete_note", note_id=note_id, version=version)
    if deleted is None:
        current = await fetch_one(conn, "note", note_id=note_id)
        if current is None:
            raise not_found("note", note_id)
        if version is not None and current["version"] != version:
            raise await conflict(conn, note_id, version)
        raise HTTPError(403, "forbidden", f"you may not delete note {note_id}")
    return Response(status_code=204)


async def set_ai_status(request: Request, conn: AsyncConnection) -> Response:
    """---
    summary: Record a thread's AI processing status (agents of the ticket only)
    requestBody: SetAIStatus
    responses:
      200: AIState
      400: the status is inconsistent (e.g. an error without status failed)
      403: only the ticket's agents may set its AI status
      404: the thread does not exist or is not visible to you
    """
    thread_id = path_uuid(request, "thread_id")
    body = await parse_body(request, payloads.SetAIStatus)
    try:
        async with conn.transaction():
            state = await fetch_one(
                conn,
                "set_ai_status",
                thread_id=thread_id,
                status=body.status,
                progress=body.progress,
                error=body.error,
            )
    except psycopg.errors.InsufficientPrivilege as exc:  # 42501: not visible to the caller
        raise not_found("thread", thread_id) from exc
    except psycopg.Error as exc:
        if exc.sqlstate != NOT_AN_AGENT:
            raise
        raise HTTPError(403, "forbidden", "only the ticket's agents may set its AI status") from exc
    assert state is not None
    return ok(jsonable(state))


routes = [
    Route("/v1/tickets", as_reader(list_tickets), methods=["GET"]),
    Route("/v1/tickets/{ticket_id}/threads", as_reader(list_threads), methods=["GET"]),
    Route("/v1/tickets/{ticket_id}/threads", as_caller(create_thread), methods=["POST"]),
    Route("/v1/threads/{thread_id}", as_reader(get_thread), methods=["GET"]),
    Route("/v1/threads/{thread_id}/notes", as_caller(create_note), methods=["POST"]),
    Route("/v1/threads/{thread_id}/ai-status", as_caller(set_ai_status), methods=["POST"]),
    Route("/v1/notes/{note_id}", as_caller(edit_note), methods=["PATCH"]),
    Route("/v1/notes/{note_id}", as_caller(delete_note), methods=["DELETE"]),
]
