"""The package's types (clients/js/src/types.ts, bundled into /static/threadcast.d.ts) and the
server's pydantic models name the same fields, so the declarations cannot drift from what the
server sends; the served module exports exactly what its declarations declare."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from threadcast import payloads

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "server" / "threadcast" / "static"
DECLARATIONS = (ROOT / "clients" / "js" / "src" / "types.ts").read_text()


def interface_fields(name: str) -> dict[str, bool]:
    """Field -> optional, for `export interface <name> ... { ... }` (own fields only)."""
    match = re.search(rf"export interface {name}\b[^{{]*\{{(.*?)\n\}}", DECLARATIONS, re.DOTALL)
    assert match, f"interface {name} missing from types.ts"
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


@pytest.mark.parametrize("variant", ["InsertPayload", "UpdatePayload", "DeletePayload"])
def test_changes_payload_matches_model(variant: str) -> None:
    fields = interface_fields("ChangeBase") | interface_fields(variant)
    assert fields == model_fields(payloads.PostgresChangesPayload)


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
    assert match, f"type {alias} missing from types.ts"
    assert string_union(match[1]) == set(typing.get_args(literal))


def test_system_event_types_match_the_model() -> None:
    body = re.search(r"export interface SystemEvent \{(.*?)\n\}", DECLARATIONS, re.DOTALL)
    assert body
    declared = re.search(r"^\s+type: ([^;]+);", body[1], re.MULTILINE)
    assert declared
    model = payloads.SystemEvent.model_fields["type"].annotation
    assert string_union(declared[1]) == set(typing.get_args(model))


def export_list(source: str, kind: str = "") -> set[str]:
    """The names of `export {kind}{ a, b }` statements, as rollup writes them."""
    names: set[str] = set()
    for group in re.findall(rf"^export {kind}\{{([^}}]*)\}};", source, re.MULTILINE):
        names |= {n.strip() for n in group.split(",") if n.strip()}
    return names


def test_every_export_of_the_served_client_is_declared_and_nothing_else() -> None:
    exported = export_list((STATIC / "threadcast.js").read_text())
    declared = export_list((STATIC / "threadcast.d.ts").read_text())
    assert exported == declared
    assert {"createClient", "ConflictError", "NotFoundError", "RateLimitedError"} <= exported
