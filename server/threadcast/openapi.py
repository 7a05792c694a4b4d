"""GET /openapi.json: OpenAPI 3.1 of the app, generated from its routes and threadcast.payloads.

Every endpoint's docstring ends, after `---`, in the YAML of its operation, which Starlette's
SchemaGenerator collects by route. Two shorthands keep them short: `requestBody: <Model>` is a
required JSON body of that model, and a response written as a string is a JSON body — of the
model it names, else an ErrorBody it describes. What operations share is added here: path
parameters from the route's path, bearer auth and 401 under /v1/, the body parser's and the
request limits' errors. Components are the wire models' JSON Schemas (threadcast.json_schemas).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.schemas import SchemaGenerator

from threadcast import __version__, auth
from threadcast.json_schemas import wire_models

REF = "#/components/schemas/{model}"
PATH_PARAM_RE = re.compile(r"{(\w+)}")
JSON = "application/json"
METHODS_WITH_BODY = frozenset({"post", "put", "patch"})

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    # EventSource cannot set headers: the stream also takes these two (auth.token_from).
    "accessToken": {"type": "apiKey", "in": "query", "name": "access_token"},
    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": auth.COOKIE_NAME},
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}


def components() -> tuple[dict[str, str], dict[str, Any]]:
    """({model name: $ref}, components.schemas) of every wire model."""
    models = wire_models()
    key_map, top = models_json_schema(list(models.values()), ref_template=REF)
    refs = {name: key_map[pair]["$ref"] for name, pair in models.items()}
    return refs, top.get("$defs", {})


class Generator(SchemaGenerator):
    def __init__(self) -> None:
        super().__init__(
            {
                "openapi": "3.1.0",
                "info": {
                    "title": "threadcast",
                    "version": __version__,
                    "description": "REST API and SSE stream of threadcast; errors are ErrorBody.",
                },
            }
        )

    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        refs, schemas = components()
        document = super().get_schema(routes)
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                complete(operation, path, method, refs)
        document["components"] = {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES}
        return document


def json_body(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": ref}}}}


def response(value: Any, refs: dict[str, str]) -> dict[str, Any]:
    if not isinstance(value, str):
        return value
    if value in refs:
        return json_body(refs[value], value)
    return json_body(refs["ErrorBody"], value)


def add(responses: dict[str, Any], code: str, reason: str) -> None:
    """One more reason for an error answer: a status has one description, so they join."""
    current = responses.get(code)
    if current is None:
        responses[code] = reason
    elif isinstance(current, str) and reason not in current:
        responses[code] = f"{current}; {reason}"


def complete(operation: dict[str, Any], path: str, method: str, refs: dict[str, str]) -> None:
    """Expand the shorthands and add what `operation` shares with others, in place."""
    api = path.startswith("/v1/")
    responses = {str(code): value for code, value in operation.get("responses", {}).items()}
    if isinstance(body := operation.get("requestBody"), str):
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": {"$ref": refs[body]}}},
        }
    if "requestBody" in operation:
        add(responses, "400", "the body is not valid JSON")
        add(responses, "413", "the body is over the size limit")
        add(responses, "415", "the body is not application/json")
        add(responses, "422", "the body does not match its schema; see problems")
    declared = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
    path_params = [
        {"name": name, "in": "path", "required": True, "schema": param_schema(name)}
        for name in PATH_PARAM_RE.findall(path)
        if (name, "path") not in declared
    ]
    operation["parameters"] = path_params + operation.get("parameters", [])
    if any(p["in"] == "path" and name_is_id(p["name"]) for p in operation["parameters"]):
        add(responses, "400", "an id in the path is not a uuid")
    if api:
        operation.setdefault("security", [{"bearerAuth": []}])
        add(responses, "401", "missing, invalid or expired token")
        add(responses, "503", "the database is unavailable; retry shortly")
    add(responses, "414", "the query string is over the size limit")
    operation["responses"] = {code: response(v, refs) for code, v in sorted(responses.items())}
    for code in ("429", "503"):
        if code in operation["responses"]:
            operation["responses"][code].setdefault("headers", RETRY_AFTER)
    operation.setdefault("operationId", method + re.sub(r"\W+", "_", path).rstrip("_"))


def name_is_id(name: str) -> bool:
    return name.endswith("_id")


def param_schema(name: str) -> dict[str, str]:
    return {"type": "string", "format": "uuid"} if name_is_id(name) else {"type": "string"}


async def endpoint(request: Request) -> JSONResponse:
    """This document.
    ---
    summary: The OpenAPI 3.1 document of this server
    responses:
      200:
        description: OpenAPI 3.1
        content:
          application/json:
            schema: {type: object}
    """
    state = request.app.state
    if getattr(state, "openapi", None) is None:  # the routes are fixed: build it once
        state.openapi = Generator().get_schema(request.app.routes)
    return JSONResponse(state.openapi)
