"""The HTTP/1.1 protocol `threadcast serve` runs: uvicorn's h11 protocol, with requests the
parser refuses answered in JSON like every other client error.

An ASGI middleware never sees a request whose head the parser rejected, so this is where an
oversized request line or header block (a 100 KB token in Authorization or the cookie) is
refused in JSON instead of uvicorn's `400 text/plain`: 414 `uri_too_long` when the request line
alone is over settings.max_header_bytes (as the app answers a long query string), else 431
`headers_too_large`. h11 enforces the limit on a head still arriving, and this module on a
head that arrived whole in one read (h11 lets those pass). The default, 1 MiB like the body
limit, lets a 100 KB token through to auth and its 401.

After the answer the connection lingers, reading and discarding what the client still sends:
closing a socket with unread input makes the kernel send RST, and the client loses the answer
(the REST API's symptom: a connection reset instead of a status).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

LINGER_SECONDS = 2.0  # how long a refused connection keeps draining before it closes
LINGER_BYTES = 1 << 20  # ...or how much it drains at most


class HeadLimitConnection(h11.Connection):
    """h11's server side, also refusing a complete head over the limit, and remembering why
    it refused a request (uvicorn's handler only says "invalid")."""

    def __init__(self, max_head_bytes: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_head_bytes)
        self.max_head_bytes = max_head_bytes
        self.refusal: h11.RemoteProtocolError | None = None
        self.long_line: bool | None = None  # the refused head's request line alone too long

    def next_event(self) -> Any:
        try:
            event = super().next_event()
            if isinstance(event, h11.Request) and head_size(event) > self.max_head_bytes:
                self.long_line = line_size(event) > self.max_head_bytes
                raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
        except h11.RemoteProtocolError as exc:
            self.refusal = exc
            if self.long_line is None:
                self.long_line = self._pending_line() > self.max_head_bytes
            raise
        return event

    def _pending_line(self) -> int:
        """The length of the first line h11 has not parsed yet (0 if it cannot tell)."""
        # h11 keeps it in a private bytearray; without one, the answer is 431, not 414.
        pending = getattr(self._receive_buffer, "_data", b"")
        end = pending.find(b"\n")
        return end if end >= 0 else len(pending)


def line_size(request: h11.Request) -> int:
    return len(request.method) + len(request.target) + len(b"  HTTP/1.1\r\n")


def head_size(request: h11.Request) -> int:
    """The request line and headers, as sent (give or take optional whitespace)."""
    headers = sum(len(name) + len(value) + 4 for name, value in request.headers.raw_items())
    return line_size(request) + headers


class JSONErrorsH11Protocol(H11Protocol):
    """uvicorn's H11Protocol with JSON refusals and a lingering close (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = HeadLimitConnection(self.config.h11_max_incomplete_event_size or 16384)
        self._drained = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._drained += len(data)
            if self._drained > LINGER_BYTES:
                self.transport.close()
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        refusal = self.conn.refusal
        limit = self.conn.max_head_bytes
        if refusal is not None and refusal.error_status_hint == 431:
            if self.conn.long_line:
                status, reason, message = 414, "uri_too_long", f"request line over {limit} bytes"
            else:
                status, reason = 431, "headers_too_large"
                message = f"request line and headers over {limit} bytes"
        else:
            status, reason, message = 400, "bad_request", "invalid HTTP request"
        log.warning("refused a request: %s (%s)", message, refusal)
        self._count(reason)
        body = json.dumps({"error": reason, "message": message}).encode()
        phrase = _PHRASES[status].encode()
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, phrase, len(body))
        )
        self.transport.write(head + body)
        self._refused = True
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _count(self, reason: str) -> None:
        app = getattr(self.config, "app", None)
        metrics = getattr(getattr(app, "state", None), "metrics", None)
        if metrics is not None:
            metrics.rejected.labels(reason=reason).inc()


_PHRASES = {400: "Bad Request", 414: "URI Too Long", 431: "Request Header Fields Too Large"}


def uvicorn_options(max_header_bytes: int) -> dict[str, Any]:
    """What `uvicorn.run` needs to use this protocol."""
    return {"http": JSONErrorsH11Protocol, "h11_max_incomplete_event_size": max_header_bytes}
