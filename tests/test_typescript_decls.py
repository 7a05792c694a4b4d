"""threadcast.d.ts and the server's pydantic models name the same fields, so the declarations
cannot drift from what the server sends."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from threadcast import payloads

STATIC = Path(__file__).resolve().parents[1] / "server" / "threadcast" / "static"
DECLARATIONS = (STATIC / "threadcast.d.ts").read_text()
CLIENT = (STATIC / "threadcast.js").read_text()


def interface_fields(name: str) -> dict[str, bool]:
    """Field -> optional, for `export interface <name> ... { ... }` (own fields only)."""
    match = re.search(rf"export interface {name}\b[^{{]*\{{(.*?)\n\}}", DECLARATIONS, re.DOTALL)
    assert match, f"interface {name} missing from threadcast.d.ts"
    return {
        field: bool(optional)
        for field, optional in re.findall(r"^\s{2}(\w+)(\?)?:", match[1], re.MULTILINE)
    }


def model_fields(model: type[BaseModel]) -> dict[str, bool]:
    return {
        (info.alias or name): not info.is_required() for name, info in model.model_fields.items()
    }


@pytest.mark.parametrize(
    ("interface", "model"),
    [
        ("Ticket", payloads.Ticket),
        ("ThreadList", payloads.ThreadList),
        ("Thread", payloads.Thread),
        ("ThreadNote", payloads.ThreadNote),
        ("AIProcessingPayload", payloads.AIProcessingPayload),
        ("SystemEvent", payloads.SystemEvent),
        ("AIState", payloads.AIState),
        ("CreateThread", payloads.CreateThread),
        ("CreateNote", payloads.CreateNote),
        ("EditNote", payloads.EditNote),
        ("SetAIStatus", payloads.SetAIStatus),
    ],
)
def test_interface_matches_model(interface: str, model: type[BaseModel]) -> None:
    assert interface_fields(interface) == model_fields(model)


def test_changes_payload_matches_model() -> None:
    fields = interface_fields("PostgresChangesPayload")
    assert set(fields) == set(model_fields(payloads.PostgresChangesPayload))


def test_thread_with_notes_adds_exactly_the_models_extra_fields() -> None:
    extra = set(model_fields(payloads.ThreadWithNotes)) - set(model_fields(payloads.Thread))
    assert set(interface_fields("ThreadWithNotes")) == extra


def string_union(source: str) -> set[str]:
    """The members of a union of string literals, `"a" | "b"`."""
    members = [part.strip() for part in source.split("|")]
    assert all(re.fullmatch(r'"[^"]*"', m) for m in members), source
    return {m.strip('"') for m in members}


@pytest.mark.parametrize(
    ("alias", "literal"), [("EventType", payloads.EventType), ("AIStatus", payloads.AIStatus)]
)
def test_string_unions_match_the_models_literals(alias: str, literal: object) -> None:
    match = re.search(rf"^export type {alias} = ([^;]+);", DECLARATIONS, re.MULTILINE)
    assert match, f"type {alias} missing from threadcast.d.ts"
    assert string_union(match[1]) == set(typing.get_args(literal))


def test_system_event_types_match_the_model() -> None:
    body = re.search(r"export interface SystemEvent \{(.*?)\n\}", DECLARATIONS, re.DOTALL)
    assert body
    declared = re.search(r"^\s+type: ([^;]+);", body[1], re.MULTILINE)
    assert declared
    model = payloads.SystemEvent.model_fields["type"].annotation
    assert string_union(declared[1]) == set(typing.get_args(model))


def test_every_export_of_the_client_is_declared_and_nothing_else() -> None:
    exported = set(re.findall(r"^export (?:async )?(?:class|function\*?) (\w+)", CLIENT, re.M))
    declared = set(re.findall(r"^export declare (?:class|function) (\w+)", DECLARATIONS, re.M))
    assert exported == declared
    assert {"createClient", "ConflictError", "HTTPError"} <= exported
