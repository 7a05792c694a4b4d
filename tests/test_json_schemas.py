"""threadcast.json_schemas: the JSON Schemas accept what a real server sends (REST answers, error
bodies, stream events) and what it accepts, and reject what breaks the models' rules."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from tests.servers import RunningServer
from tests.sse import StreamReader, stream_url, subscribe
from tests.support import World
from threadcast.json_schemas import json_schemas, wire_models

SCHEMAS = json_schemas()


def problems(name: str, instance: Any) -> list[str]:
    validator = Draft202012Validator(SCHEMAS[name], format_checker=FormatChecker())
    return [e.message for e in validator.iter_errors(instance)]


def check(name: str, instance: Any) -> Any:
    assert problems(name, instance) == [], (name, instance)
    return instance


def answer(response: httpx.Response, status: int, name: str) -> Any:
    assert response.status_code == status, response.text
    return check(name, response.json())


def sent(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """A request body, checked against its schema before it is sent."""
    return check(name, body)


def test_every_schema_is_valid_draft_2020_12() -> None:
    for schema in SCHEMAS.values():
        Draft202012Validator.check_schema(schema)


def test_rest_answers_and_error_bodies_match(live_server: RunningServer, world: World) -> None:
    headers = {"Authorization": f"Bearer {live_server.token(world.agent)}"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=10) as c:
        answer(c.get(f"/v1/tickets/{world.ticket}/threads"), 200, "ThreadList")
        answer(c.get(f"/v1/threads/{world.thread}"), 200, "ThreadDetail")
        answer(c.get("/v1/tickets"), 200, "TicketList")
        answer(c.get("/v1/tickets?limit=0"), 400, "ErrorBody")
        thread_body = sent("CreateThread", {"id": str(uuid.uuid4()), "subject": "Toner"})
        made = c.post(f"/v1/tickets/{world.ticket}/threads", json=thread_body)
        thread = answer(made, 201, "ThreadWithNotes")
        replay = c.post(f"/v1/tickets/{world.ticket}/threads", json=thread_body)
        answer(replay, 200, "ThreadWithNotes")
        note_body = sent("CreateNote", {"body": "Ordered", "internal": True})
        note = answer(
            c.post(f"/v1/threads/{thread['id']}/notes", json=note_body), 201, "ThreadNote"
        )
        edit = sent("EditNote", {"body": "Ordered twice"})
        edited = c.patch(f"/v1/notes/{note['id']}", json=edit, headers={"If-Match": "1"})
        answer(edited, 200, "ThreadNote")
        ai = sent("SetAIStatus", {"status": "processing", "progress": 40})
        answer(c.post(f"/v1/threads/{thread['id']}/ai-status", json=ai), 200, "AIState")
        after_ai = answer(c.get(f"/v1/threads/{thread['id']}"), 200, "ThreadDetail")
        assert after_ai["ai_status"]["progress"] == 40
        inbox = answer(c.get("/v1/tickets"), 200, "TicketList")
        assert [s["progress"] for s in inbox["tickets"][0]["ai_statuses"]] == [40]

        stale = c.patch(f"/v1/notes/{note['id']}", json=edit, headers={"If-Match": "1"})
        assert answer(stale, 412, "ErrorBody")["current"]["version"] == 2
        invalid = c.post(f"/v1/threads/{thread['id']}/notes", json={"body": ""})
        assert answer(invalid, 422, "ErrorBody")["problems"]
        answer(c.get(f"/v1/threads/{uuid.uuid4()}"), 404, "ErrorBody")
        answer(c.get("/v1/threads/not-a-uuid"), 400, "ErrorBody")
        answer(c.patch(f"/v1/notes/{note['id']}", json=edit), 428, "ErrorBody")
    answer(httpx.get(f"{live_server.url}/v1/threads/{world.thread}"), 401, "ErrorBody")


def test_stream_events_match(live_server: RunningServer, world: World) -> None:
    reader = subscribe(live_server, world, world.agent)
    headers = {"Authorization": f"Bearer {live_server.token(world.agent)}"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=10) as c:
        made = c.post(f"/v1/tickets/{world.ticket}/threads", json={"subject": "Paper jam"})
        thread_id = made.json()["id"]
        note = c.post(f"/v1/threads/{thread_id}/notes", json={"body": "Looking"}).json()
        c.patch(f"/v1/notes/{note['id']}", json={"internal": True}, headers={"If-Match": "1"})
        c.delete(f"/v1/notes/{note['id']}")
        for status in ({"status": "started"}, {"status": "failed", "error": "model down"}):
            c.post(f"/v1/threads/{thread_id}/ai-status", json=status)
    reader.wait_for(lambda evs: sum(e.event == "ai_status" for e in evs) == 2)
    reader.close()

    by_table = {"ticket_threads": "ThreadRealtimePayload", "ticket_notes": "NoteRealtimePayload"}
    seen: set[tuple[str, str]] = set()
    for event in reader.events:
        if not event.data:  # a bare `retry:` hint
            continue
        data = json.loads(event.data)
        if event.event == "postgres_changes":
            check(by_table[data["table"]], data)
            seen.add((data["table"], data["eventType"]))
        elif event.event == "ai_status":
            check("AIProcessingPayload", data)
        else:
            assert event.event == "system"
            check("SystemEvent", data)
    assert seen == {
        ("ticket_threads", "INSERT"),
        ("ticket_notes", "INSERT"),
        ("ticket_notes", "UPDATE"),
        ("ticket_notes", "DELETE"),
    }


def test_inbox_events_match(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    reader = StreamReader(
        stream_url(live_server.url, f"org-tickets:{world.org_a}"), live_server.token(world.agent)
    )
    reader.start().wait_subscribed()
    headers = {"Authorization": f"Bearer {live_server.token(world.agent)}"}
    conn.execute(
        "insert into tickets (org_id, requester_id, subject) values (%s, %s, 'Fax')",
        (world.org_a, world.customer),
    )
    conn.execute("update tickets set status = 'solved' where id = %s", (world.ticket,))
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=10) as c:
        c.post(f"/v1/threads/{world.thread}/ai-status", json={"status": "started"})
    reader.wait_for(lambda evs: any(e.event == "ai_status" for e in evs))
    reader.close()
    kinds = []
    for event in reader.events:
        if event.event == "postgres_changes":
            data = json.loads(event.data)
            check("TicketRealtimePayload", data)
            kinds.append(data["eventType"])
        elif event.event == "ai_status":
            check("AIProcessingPayload", json.loads(event.data))
            kinds.append("ai_status")
    assert kinds == ["INSERT", "UPDATE", "ai_status"]


NOTE = {
    "id": str(uuid.UUID(int=1)),
    "thread_id": str(uuid.UUID(int=2)),
    "ticket_id": str(uuid.UUID(int=3)),
    "author_id": str(uuid.UUID(int=4)),
    "body": "hi",
    "internal": False,
    "created_at": "2026-01-01T00:00:00+00:00",
    "updated_at": "2026-01-01T00:00:00+00:00",
    "version": 1,
}
CHANGE = {
    "schema": "public",
    "table": "ticket_notes",
    "commit_timestamp": "2026-01-01T00:00:00.5+00:00",
    "eventType": "UPDATE",
    "new": NOTE,
    "old": NOTE,
    "errors": None,
}


def changed(base: dict[str, Any], **fields: Any) -> dict[str, Any]:
    result = copy.deepcopy(base)
    result.update(fields)
    return result


def without(base: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k != key}


BAD = [
    ("NoteRealtimePayload", changed(CHANGE, eventType="UPSERT")),
    ("NoteRealtimePayload", changed(CHANGE, eventType="DELETE")),  # a DELETE has new = {}
    ("NoteRealtimePayload", changed(CHANGE, eventType="INSERT")),  # an INSERT has old = null
    ("NoteRealtimePayload", changed(CHANGE, old=None)),  # an UPDATE carries the old row
    ("NoteRealtimePayload", changed(CHANGE, new={})),  # an UPDATE carries the new row
    ("NoteRealtimePayload", changed(CHANGE, new={"body": "a row without its columns"})),
    ("NoteRealtimePayload", changed(CHANGE, new=without(NOTE, "version"))),
    ("NoteRealtimePayload", changed(CHANGE, new=changed(NOTE, id="not-a-uuid"))),
    ("ThreadNote", changed(NOTE, created_at="yesterday")),
    ("ThreadNote", changed(NOTE, internal="maybe")),
    (
        "Thread",
        {**without(NOTE, "body"), "subject": "s", "status": "done", "created_by": NOTE["id"]},
    ),
    ("AIProcessingPayload", {"threadId": NOTE["id"], "status": "done"}),
    ("AIProcessingPayload", {"threadId": NOTE["id"], "status": "processing", "progress": 101}),
    ("SystemEvent", {"type": "hello", "message": "hi"}),
    ("ErrorBody", {"message": "no code"}),
    ("CreateThread", {"subject": "   "}),
    ("CreateThread", {"subject": "x" * 501}),
    ("CreateNote", {"body": "hi", "author_id": NOTE["id"]}),  # unknown fields are refused
    ("CreateNote", {"body": ""}),
    ("EditNote", {}),
    ("EditNote", {"body": None, "internal": None}),
    ("SetAIStatus", {"status": "started", "progress": -1}),
]


@pytest.mark.parametrize(("name", "instance"), BAD)
def test_schema_and_model_both_reject(name: str, instance: dict[str, Any]) -> None:
    assert problems(name, instance), f"{name} schema accepted {instance}"
    model, _ = wire_models()[name]
    with pytest.raises(ValueError):
        model.model_validate(instance)


def test_the_good_counterparts_pass_both() -> None:
    for name, instance in [
        ("NoteRealtimePayload", CHANGE),
        ("NoteRealtimePayload", changed(CHANGE, eventType="INSERT", old=None)),
        ("NoteRealtimePayload", changed(CHANGE, eventType="DELETE", new={})),
        ("ThreadNote", changed(NOTE, added_later="a column clients must tolerate")),
        ("EditNote", {"internal": True}),
        ("CreateThread", {"subject": " a "}),
    ]:
        check(name, instance)
        wire_models()[name][0].model_validate(instance)


def test_module_prints_every_schema_as_one_sorted_object() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "threadcast.json_schemas"], check=True, capture_output=True
    ).stdout
    printed = json.loads(out)
    assert printed == json.loads(json.dumps(SCHEMAS))
    assert list(printed) == sorted(printed)
    assert {"ThreadRealtimePayload", "SetAIStatus", "ErrorBody", "ThreadList"} <= set(printed)


@pytest.mark.parametrize(
    ("name", "path", "body"),
    [
        ("CreateNote", "/v1/threads/{thread}/notes", {"body": "a\u0000b"}),
        ("CreateThread", "/v1/tickets/{ticket}/threads", {"subject": "a\u0000b"}),
        ("SetAIStatus", "/v1/threads/{thread}/ai-status", {"status": "completed", "error": "x"}),
    ],
)
def test_schema_refuses_what_the_database_refuses(
    live_server: RunningServer, world: World, name: str, path: str, body: dict[str, Any]
) -> None:
    """Found by schemathesis: bodies the models accept but PostgreSQL refuses (400). The request
    schemas say so, so a client validating against them never sends one."""
    assert problems(name, body)
    url = live_server.url + path.format(thread=world.thread, ticket=world.ticket)
    headers = {"Authorization": f"Bearer {live_server.token(world.agent)}"}
    response = httpx.post(url, json=body, headers=headers)
    assert response.status_code == 400
    check("ErrorBody", response.json())
