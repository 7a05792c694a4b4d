"""Client errors as JSON: {"error": <reason>, "message": <what was wrong>}."""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from threadcast import ThreadcastError

log = logging.getLogger(__name__)


class HTTPError(ThreadcastError):
    """An error to answer with `status` and a JSON body; `reason` is a stable short code."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def json_error(error: HTTPError) -> JSONResponse:
    body = {"error": error.reason, "message": error.message, **error.extra}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPError)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.rejected.labels(reason=exc.reason).inc()
    return json_error(exc)


async def handle_routing_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404 (no such route or static file) and 405 (wrong method), as JSON like
    every other client error instead of plain text."""
    assert isinstance(exc, StarletteHTTPException)
    reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    error = HTTPError(exc.status_code, reason, exc.detail, headers=dict(exc.headers or {}))
    return await handle_http_error(request, error)


async def handle_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is down or restarting: a retry will succeed soon, so 503 + Retry-After,
    never a bare 500."""
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    return await handle_http_error(
        request,
        HTTPError(
            503,
            "database_unavailable",
            "the database is unavailable; retry shortly",
            headers={"Retry-After": "1"},
        ),
    )


async def handle_client_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away while sending its body: nobody is left to answer, and nothing was
    done (the body is read before any write). Not an error of the server's, so no traceback."""
    log.info("client left during %s %s before its body arrived", request.method, request.url.path)
    return Response(status_code=400)


DATABASE_UNAVAILABLE = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
