"""The package's types (clients/js/src/types.ts, bundled into /static/threadcast.d.ts) and the
server's pydantic models name the same fields, so the declarations cannot drift from what the
server sends; the served module exports exactly what its declarations declare."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
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


# Every ```ts / ```tsx snippet of the README compiles under strict against the package, with
# the names a snippet leaves to its reader declared here.
README = (ROOT / "README.md").read_text()
PACKAGE = ROOT / "clients" / "js"
SNIPPET_GLOBALS = """\
declare const token: string;
declare const apiUrl: string;
declare const ticketId: string;
declare const noteId: string;
declare const signal: AbortSignal;
"""


def readme_snippets() -> list[tuple[str, str]]:
    """(language, code) for each ```ts and ```tsx block, list indentation removed."""
    blocks = re.findall(r"^( *)```(tsx?)\n(.*?)^\1```$", README, re.MULTILINE | re.DOTALL)
    return [(lang, textwrap.dedent(code)) for _, lang, code in blocks]


def test_the_readme_has_typescript_snippets() -> None:
    assert any("threadcast/react-query" in code for _, code in readme_snippets())


def test_every_readme_typescript_snippet_compiles_under_strict(tmp_path: Path) -> None:
    assert (PACKAGE / "node_modules").is_dir(), "run `npm ci` in clients/js (scripts/test does)"
    subprocess.run(["npm", "run", "build"], cwd=PACKAGE, check=True, capture_output=True)
    # Inside the package, so "threadcast" resolves to itself (by its exports) and React and
    # React Query to its devDependencies.
    where = PACKAGE / ".snippets"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir()
    try:
        (where / "globals.d.ts").write_text(SNIPPET_GLOBALS)
        for i, (lang, code) in enumerate(readme_snippets()):
            (where / f"snippet{i}.{lang}").write_text(code)
        config = {
            "compilerOptions": {
                "strict": True,
                "noEmit": True,
                "target": "es2022",
                "module": "esnext",
                "moduleResolution": "bundler",
                "lib": ["es2022", "dom", "dom.iterable"],
                "jsx": "react-jsx",
                "types": [],
                "skipLibCheck": True,
            },
            "include": ["*.ts", "*.tsx"],
        }
        (where / "tsconfig.json").write_text(json.dumps(config))
        done = subprocess.run(
            ["npx", "tsc", "-p", str(where)], cwd=PACKAGE, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        shutil.rmtree(where, ignore_errors=True)
