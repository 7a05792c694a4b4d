"""GET /openapi.json: a valid OpenAPI 3.1 document of every route, and a schemathesis run against
a real server finds no 5xx and no answer the document does not describe."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from starlette.routing import Mount, Route

from tests.servers import RunningServer
from tests.support import World
from threadcast.json_schemas import json_schemas

POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
MAX_EXAMPLES = 30  # per operation and mode: the run stays under a minute


@pytest.fixture
def document(live_server: RunningServer) -> dict[str, Any]:
    response = httpx.get(f"{live_server.url}/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_is_documented(live_server: RunningServer, document: dict[str, Any]) -> None:
    app = live_server.server.config.app
    routed: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount):
            assert route.path == "/static", f"a new mount {route.path}: document it"
            continue
        assert isinstance(route, Route)
        path = re.sub(r":\w+}", "}", route.path)  # {channel:str} -> {channel}
        routed |= {(path, m.lower()) for m in route.methods or ["GET"] if m != "HEAD"}
    documented = {(path, m) for path, ops in document["paths"].items() for m in ops}
    assert documented == routed


def test_stream_is_documented_as_sse_with_every_way_to_authenticate(
    document: dict[str, Any],
) -> None:
    operation = document["paths"]["/v1/channels/{channel}/stream"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"text/event-stream"}
    assert {next(iter(s)) for s in operation["security"]} == {
        "bearerAuth",
        "accessToken",
        "cookieAuth",
    }
    schemes = document["components"]["securitySchemes"]
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "threadcast_token"}
    rest = document["paths"]["/v1/threads/{thread_id}/notes"]["post"]
    assert rest["security"] == [{"bearerAuth": []}]  # the cookie is for the stream only
    assert rest["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateNote"
    }


def fuzz(
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    path_parameters: dict[str, str],
    base_url: str,
    headers: dict[str, str],
) -> str | None:
    """Run schemathesis' checks on `operation`; the failure, if any, as text."""

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, timeout=10)

    try:
        run()
    except Exception as exc:  # every operation runs; the test reports them all
        return f"{operation.label} [{mode.value}]: {exc}"
    return None


def test_schemathesis_finds_no_5xx_and_no_undocumented_answer(
    live_server: RunningServer, world: World, document: dict[str, Any], conn: psycopg.Connection
) -> None:
    # A schema-valid edit at a version the note is not at is refused with 412, by design.
    accepted = ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]
    config = schemathesis.Config.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": accepted}}}
    )
    schema = schemathesis.openapi.from_dict(document, config=config)
    # Real ids in one pass, so writes reach the database; generated ones (404) in another.
    known = {"ticket_id": str(world.ticket), "thread_id": str(world.thread)}
    failures: list[str | None] = []
    # An agent may do everything; the customer is refused internal notes and AI status (403).
    for user in (world.agent, world.customer):
        headers = {"Authorization": f"Bearer {live_server.token(user)}"}
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path.endswith("/stream"):
                continue  # an open stream never ends: tests/test_stream.py covers it
            fixed = {k: v for k, v in known.items() if f"{{{k}}}" in operation.path}
            spec = document["paths"][operation.path][operation.method.lower()]
            passes = [(POSITIVE, fixed)] + ([(POSITIVE, {})] if fixed else [])
            if spec["parameters"] or "requestBody" in spec:  # else nothing can be made invalid
                passes.append((NEGATIVE, fixed))
            for mode, params in passes:
                failures.append(fuzz(operation, mode, params, live_server.url, headers))
    assert not any(failures), "\n\n".join(f for f in failures if f)
    # The generated writes reached the database, not only the validation in front of it.
    notes = conn.execute("select count(*) from ticket_notes").fetchone()
    threads = conn.execute("select count(*) from ticket_threads").fetchone()
    assert notes is not None and notes[0] > 10
    assert threads is not None and threads[0] > 10


def test_components_are_the_json_schemas_clients_check_against(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    for name, schema in json_schemas().items():
        own = {k: v for k, v in schema.items() if k != "$defs"}
        rebased = json.loads(json.dumps(own).replace("#/$defs/", "#/components/schemas/"))
        assert components[name] == rebased, name
