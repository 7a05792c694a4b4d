"""JSON Schema of every payload that crosses the wire, derived from threadcast.payloads.

Answers (events, rows, REST responses, the error body) in pydantic's "serialization" mode, what
the server sends; request bodies in "validation" mode, what it accepts. Clients check their own
schemas (clients/js's Zod) against this, so the two cannot drift.

`python -m threadcast.json_schemas` prints {model name: schema} as one JSON object.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel

from threadcast import payloads

Mode = Literal["validation", "serialization"]

ANSWERS: tuple[type[BaseModel], ...] = (
    payloads.TicketRealtimePayload,
    payloads.ThreadRealtimePayload,
    payloads.NoteRealtimePayload,
    payloads.AIProcessingPayload,
    payloads.SystemEvent,
    payloads.PresencePayload,
    payloads.PresenceTracked,
    payloads.Ticket,
    payloads.Thread,
    payloads.ThreadNote,
    payloads.AIState,
    payloads.ThreadWithNotes,
    payloads.ThreadDetail,
    payloads.ThreadList,
    payloads.InboxTicket,
    payloads.TicketList,
    payloads.ErrorBody,
)
REQUESTS: tuple[type[BaseModel], ...] = (
    payloads.TrackPresence,
    payloads.CreateThread,
    payloads.CreateNote,
    payloads.EditNote,
    payloads.SetAIStatus,
)


def wire_models() -> dict[str, tuple[type[BaseModel], Mode]]:
    """Name -> (model, mode) of every model on the wire."""
    models: dict[str, tuple[type[BaseModel], Mode]] = {
        m.__name__: (m, "serialization") for m in ANSWERS
    }
    models.update({m.__name__: (m, "validation") for m in REQUESTS})
    return models


def json_schemas() -> dict[str, dict[str, Any]]:
    """{model name: a self-contained JSON Schema (draft 2020-12, its own `$defs`)}."""
    return {
        name: model.model_json_schema(mode=mode) for name, (model, mode) in wire_models().items()
    }


def main() -> None:
    print(json.dumps(json_schemas(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
