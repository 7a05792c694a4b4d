"""threadcast.d.ts and the server's pydantic models name the same fields, so the declarations
cannot drift from what the server sends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from threadcast import payloads

DECLARATIONS = (
    Path(__file__).resolve().parents[1] / "server" / "threadcast" / "static" / "threadcast.d.ts"
).read_text()


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
