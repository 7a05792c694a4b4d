"""Pydantic models of every payload: the rows, the realtime events (the seed's
ThreadRealtimePayload, NoteRealtimePayload, AIProcessingPayload), system events, and the REST
request and response bodies. threadcast.d.ts mirrors these."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EventType = Literal["INSERT", "UPDATE", "DELETE"]
AIStatus = Literal["started", "processing", "completed", "failed"]
# The check constraints of public.tickets and public.ticket_threads (sql/ticket_app.sql).
TicketStatus = Literal["open", "pending", "solved", "closed"]
ThreadStatus = Literal["open", "resolved", "archived"]


class Row(BaseModel):
    model_config = ConfigDict(extra="allow")  # a column added later must not break clients


class Ticket(Row):
    id: uuid.UUID
    org_id: uuid.UUID
    requester_id: uuid.UUID
    subject: str
    status: TicketStatus
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class Thread(Row):
    id: uuid.UUID
    ticket_id: uuid.UUID
    subject: str
    status: ThreadStatus
    created_by: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class ThreadNote(Row):
    id: uuid.UUID
    thread_id: uuid.UUID
    ticket_id: uuid.UUID
    author_id: uuid.UUID
    body: str
    internal: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


RowT = TypeVar("RowT", bound=Row)


class PostgresChangesPayload(BaseModel, Generic[RowT]):
    """Supabase's postgres_changes shape: `new` is {} on DELETE, `old` null on INSERT."""

    schema_: str = Field(alias="schema")
    table: str
    commit_timestamp: dt.datetime
    eventType: EventType  # the wire name
    # The row when there is one; {} on DELETE. Tried in this order, not by best match.
    new: Annotated[
        RowT | Annotated[dict[str, Any], Field(max_length=0)], Field(union_mode="left_to_right")
    ]
    old: RowT | None
    errors: list[str] | None = None

    # _shape's rules, for JSON Schema readers (clients' validators): {} exactly on DELETE,
    # null old exactly on INSERT.
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"eventType": {"const": "DELETE"}}},
                    "then": {"properties": {"new": {"maxProperties": 0}}},
                    "else": {"properties": {"new": {"minProperties": 1}}},
                },
                {
                    "if": {"properties": {"eventType": {"const": "INSERT"}}},
                    "then": {"properties": {"old": {"type": "null"}}},
                    "else": {"properties": {"old": {"type": "object"}}},
                },
            ]
        },
    )

    @model_validator(mode="after")
    def _shape(self) -> PostgresChangesPayload[RowT]:
        if self.eventType == "DELETE" and self.new != {}:
            raise ValueError("a DELETE has new = {}")
        if self.eventType != "DELETE" and not isinstance(self.new, Row):
            raise ValueError(f"an {self.eventType} carries the new row")
        if self.eventType == "INSERT" and self.old is not None:
            raise ValueError("an INSERT has old = null")
        if self.eventType != "INSERT" and self.old is None:
            raise ValueError(f"an {self.eventType} carries the old row")
        return self


class TicketRealtimePayload(PostgresChangesPayload[Ticket]):
    pass


class ThreadRealtimePayload(PostgresChangesPayload[Thread]):
    pass


class NoteRealtimePayload(PostgresChangesPayload[ThreadNote]):
    pass


class AIProcessingPayload(BaseModel):
    threadId: uuid.UUID
    status: AIStatus
    progress: Annotated[int, Field(ge=0, le=100)] | None = None
    error: str | None = None
    # On an org's inbox channel (org-tickets:<org>) only: the thread's ticket.
    ticketId: uuid.UUID | None = None


class SystemEvent(BaseModel):
    """`subscribed` (live from here), `reset` (reconnect; with reason cursor_* refetch first),
    `expired` (the token expired), `shutdown` (reconnect elsewhere)."""

    type: Literal["subscribed", "reset", "expired", "shutdown"]
    message: str
    reason: str | None = None
    channel: str | None = None
    channels: list[str] | None = None  # /v1/stream's `subscribed`: the channels now live
    bindings: int | None = None
    # `subscribed`: this stream's id, which a presence names to live and end with it.
    connection: uuid.UUID | None = None


class PresenceEntry(BaseModel):
    """One presence: the tracking user's `sub`, the presence's own ref (one per tab and
    channel) and its state."""

    key: str
    ref: uuid.UUID
    state: dict[str, Any]


class PresencePayload(BaseModel):
    """An `event: presence` frame (no id: presence is never replayed): `sync`, the whole
    state the viewer may see, once a channel is live; then `join` (new, or a changed state for
    the same ref) and `leave` (gone, or no longer visible to the viewer; the last state it saw)."""

    channel: str
    type: Literal["sync", "join", "leave"]
    presences: list[PresenceEntry]


def parse_change(data: dict[str, Any]) -> PostgresChangesPayload[Any]:
    """The typed payload of a postgres_changes event, by its table."""
    model: type[PostgresChangesPayload[Any]] = {
        "tickets": TicketRealtimePayload,
        "ticket_threads": ThreadRealtimePayload,
        "ticket_notes": NoteRealtimePayload,
    }.get(data.get("table", ""), PostgresChangesPayload[Row])
    return model.model_validate(data)


# REST bodies ---------------------------------------------------------------------------------

# The patterns are for schema readers: PostgreSQL text cannot hold NUL (the API answers 400),
# and CreateThread._not_blank refuses a blank subject with a clear message.
NO_NUL = r"^[^\u0000]*$"
Text = Annotated[str, Field(json_schema_extra={"pattern": NO_NUL})]
Subject = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        json_schema_extra={"pattern": r"^[^\u0000]*[^\s\u0000][^\u0000]*$"},
    ),
]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrackPresence(Request):
    """PUT /v1/channels/{channel}/presence/{ref}: the stream it lives with (the `connection`
    of its `subscribed` frame) and its state, a JSON object of at most
    THREADCAST_MAX_PRESENCE_BYTES."""

    connection: uuid.UUID
    state: dict[str, Any]


class PresenceTracked(PresenceEntry):
    """The answer to a track: the presence as viewers receive it, with its channel."""

    channel: str


class CreateThread(Request):
    # Chosen by the client to make the request idempotent (see api.create_thread).
    id: uuid.UUID | None = None
    subject: Subject

    @field_validator("subject")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class CreateNote(Request):
    # Chosen by the client to make the request idempotent (see api.create_note).
    id: uuid.UUID | None = None
    # Bounded by the request size limit, not here: rows of any size are the point.
    body: Annotated[Text, Field(min_length=1)]
    internal: bool = False


class EditNote(Request):
    body: Annotated[Text, Field(min_length=1)] | None = None
    internal: bool | None = None

    # _something's rule, for schema readers.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["body"], "properties": {"body": {"type": "string"}}},
                {"required": ["internal"], "properties": {"internal": {"type": "boolean"}}},
            ]
        }
    )

    @model_validator(mode="after")
    def _something(self) -> EditNote:
        if self.body is None and self.internal is None:
            raise ValueError("give body, internal, or both")
        return self


class SetAIStatus(Request):
    # public.set_thread_ai_status()'s rule (it answers 400), for schema readers.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["error"], "properties": {"error": {"type": "string"}}},
            "then": {"properties": {"status": {"const": "failed"}}},
        }
    )

    status: AIStatus
    progress: Annotated[int, Field(ge=0, le=100)] | None = None
    error: Annotated[Text, Field(max_length=2000)] | None = None


class AIState(Row):
    thread_id: uuid.UUID
    status: AIStatus
    progress: int | None = None
    error: str | None = None
    updated_at: dt.datetime


class ThreadWithNotes(Thread):
    notes: list[ThreadNote]
    ai_status: AIState | None = None


# The log position a REST read is consistent with, "<tick>-<id>" as in SSE ids: a stream
# started from it (Last-Event-ID) misses nothing committed after the read (api.as_reader).
Position = Annotated[str, Field(pattern=r"^[0-9]{1,19}-[0-9]{1,19}$")]


class ThreadDetail(ThreadWithNotes):
    """GET /v1/threads/{id}: the thread with its notes and AI state, and its log position."""

    position: Position


class ThreadList(BaseModel):
    """GET /v1/tickets/{id}/threads: the ticket and its threads, oldest first."""

    ticket_id: uuid.UUID
    ticket: Ticket
    threads: list[ThreadWithNotes]
    position: Position


class InboxTicket(Ticket):
    """A ticket as the inbox lists it: with the current AI state of each of its threads."""

    ai_statuses: list[AIState]


class TicketList(BaseModel):
    """GET /v1/tickets: the tickets the caller may see, most recently updated first."""

    tickets: list[InboxTicket]
    position: Position


class Problem(BaseModel):
    field: str  # dotted path into the body, or "(body)"
    problem: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer (threadcast.errors.json_error): `error` is a stable short code,
    `message` says what was wrong; 422 adds `problems`, 412 the note as it is now."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str
    problems: list[Problem] | None = None
    current: ThreadNote | None = None
