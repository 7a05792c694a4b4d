"""Client errors as JSON: {"error": <reason>, "message": <what was wrong>}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from threadcast import ThreadcastError


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
