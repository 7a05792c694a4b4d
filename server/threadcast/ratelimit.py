"""Limits: connection attempts per IP, open streams per user, presence updates per stream
connection, request and query sizes.

All in-process and O(1). They protect one replica; a fleet behind a load balancer enforces
the sum of its replicas' limits.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadcast.config import Settings
from threadcast.errors import HTTPError, json_error


@dataclass
class TokenBucket:
    """`rate` tokens per second, at most `capacity`; one per attempt."""

    capacity: float
    rate: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0 if a token was taken, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def too_many(message: str, retry_after: float) -> HTTPError:
    seconds = max(1, math.ceil(retry_after))
    return HTTPError(429, "rate_limited", message, headers={"Retry-After": str(seconds)})


class Limiter:
    MAX_TRACKED_IPS = 100_000

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._open: defaultdict[str, int] = defaultdict(int)
        self._presence_buckets: dict[str, TokenBucket] = {}

    def check_connect_attempt(self, ip: str) -> None:
        """Raise 429 when `ip` exceeds settings.connect_attempts_per_ip_per_minute."""
        per_minute = self.settings.connect_attempts_per_ip_per_minute
        now = self.clock()
        bucket = self._buckets.get(ip)
        if bucket is None:
            if len(self._buckets) >= self.MAX_TRACKED_IPS:
                self._forget_full_buckets(now)
            bucket = self._buckets[ip] = TokenBucket(per_minute, per_minute / 60, per_minute, now)
        wait = bucket.take(now)
        if wait:
            raise too_many(f"too many connection attempts from {ip}; slow down", wait)

    def check_presence_update(self, connection: str) -> None:
        """Raise 429 when a stream connection's presence updates pass
        settings.presence_updates_per_second (after a burst of presence_update_burst)."""
        rate = self.settings.presence_updates_per_second
        burst = self.settings.presence_update_burst
        now = self.clock()
        bucket = self._presence_buckets.get(connection)
        if bucket is None:
            if len(self._presence_buckets) >= self.MAX_TRACKED_IPS:
                self._forget_full_buckets(now, self._presence_buckets)
            bucket = self._presence_buckets[connection] = TokenBucket(burst, rate, burst, now)
        wait = bucket.take(now)
        if wait:
            raise too_many(
                f"more than {rate:g} presence updates a second on this connection; coalesce them",
                wait,
            )

    def _forget_full_buckets(
        self, now: float, buckets: dict[str, TokenBucket] | None = None
    ) -> None:
        # A bucket that has refilled holds no information; dropping it bounds memory.
        buckets = self._buckets if buckets is None else buckets
        for key, bucket in list(buckets.items()):
            if bucket.tokens + (now - bucket.updated) * bucket.rate >= bucket.capacity:
                del buckets[key]

    def acquire_connection(self, sub: str) -> None:
        """Count an open stream for `sub`; 429 past settings.max_connections_per_user."""
        limit = self.settings.max_connections_per_user
        if self._open[sub] >= limit:
            raise too_many(f"you already have {limit} open streams; close one first", 5)
        self._open[sub] += 1

    def release_connection(self, sub: str) -> None:
        self._open[sub] -= 1
        if self._open[sub] <= 0:
            del self._open[sub]

    def open_connections(self, sub: str) -> int:
        return self._open.get(sub, 0)


class RequestLimitsMiddleware:
    """Rejects oversized query strings (414) and bodies (413) before any route runs.

    Header count and size are bounded by uvicorn's h11 parser already (it answers 431/400).
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.settings.max_query_bytes:
            await self._reject(scope, send, 414, "uri_too_long", "query string too long")
            return
        limit = self.settings.max_request_bytes
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._reject(scope, send, 400, "bad_request", "invalid Content-Length")
                return
            if int(declared) > limit:
                await self._reject(scope, send, 413, "too_large", f"body over {limit} bytes")
                return
        await self.app(scope, self._bounded(receive, limit), send)

    def _bounded(self, receive: Receive, limit: int) -> Receive:
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPError(413, "too_large", f"body over {limit} bytes")
            return message

        return bounded_receive

    async def _reject(self, scope: Scope, send: Send, status: int, reason: str, text: str) -> None:
        app = scope.get("app")
        metrics = getattr(getattr(app, "state", None), "metrics", None)
        if metrics is not None:
            metrics.rejected.labels(reason=reason).inc()
        response = json_error(HTTPError(status, reason, text))

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)
