"""The package's Zod schemas (clients/js/src/schemas.ts, as JSON Schema by zod's
z.toJSONSchema) against the server's pydantic models (`python -m threadcast.json_schemas`):
per model, recursively, the same properties, the same required ones, the same JSON types and
nullability, the same enums. A field added, dropped or retyped on one side alone fails here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clients" / "js"


def server_schemas() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "threadcast.json_schemas"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "server",
    ).stdout
    return json.loads(out)


def zod_schemas() -> dict[str, Any]:
    assert (PACKAGE / "node_modules").is_dir(), "run `npm ci` in clients/js (scripts/test does)"
    subprocess.run(["npm", "run", "build"], cwd=PACKAGE, check=True, capture_output=True)
    out = subprocess.run(
        ["node", "scripts/json-schemas.mjs"],
        cwd=PACKAGE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


SERVER = server_schemas()
ZOD = zod_schemas()


def branches(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives a schema allows, with $refs resolved and unions flattened."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return branches(root.get("$defs", root.get("definitions", {}))[name], root)
    for key in ("anyOf", "oneOf"):
        # Beside properties, an anyOf constrains the object (EditNote: body or internal).
        if key in schema and "properties" not in schema:
            return [b for sub in schema[key] for b in branches(sub, root)]
    return [schema]


def shape(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """What the comparison looks at: types, nullability, enums, and for objects (a union's
    objects merged: properties of any, required by all) each property's shape in turn."""
    alternatives = branches(schema, root)
    types: set[str] = set()
    enums: set[Any] = set()
    for b in alternatives:
        kind = b.get("type", [])
        types |= set(kind if isinstance(kind, list) else [kind])
        enums |= set(b.get("enum", []))
        if "const" in b:
            enums.add(b["const"])
    objects = [b for b in alternatives if b.get("properties")]
    result: dict[str, Any] = {
        "types": sorted(types - {"null"}),
        "nullable": "null" in types,
        "enum": sorted(enums, key=str),
    }
    if objects:
        names = sorted({p for b in objects for p in b["properties"]})
        result["required"] = sorted(
            p for p in names if all(p in b.get("required", []) for b in objects)
        )
        result["properties"] = {
            p: shape({"anyOf": [b["properties"][p] for b in objects if p in b["properties"]]}, root)
            for p in names
        }
    items = [b["items"] for b in alternatives if isinstance(b.get("items"), dict)]
    if items:
        result["items"] = shape({"anyOf": items}, root)
    return result


def test_zod_covers_every_server_model() -> None:
    assert set(SERVER) <= set(ZOD), f"no Zod schema for {sorted(set(SERVER) - set(ZOD))}"


@pytest.mark.parametrize("name", sorted(SERVER))
def test_zod_schema_matches_the_pydantic_model(name: str) -> None:
    assert shape(ZOD[name], ZOD[name]) == shape(SERVER[name], SERVER[name])


def test_the_comparison_sees_a_difference() -> None:
    """The check itself can fail: a required field dropped from a copy of a schema is seen."""
    edited = json.loads(json.dumps(SERVER["ThreadNote"]))
    edited["required"].remove("body")
    assert shape(edited, edited) != shape(SERVER["ThreadNote"], SERVER["ThreadNote"])
