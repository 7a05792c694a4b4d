"""Rate and size limits: per-IP connect attempts, streams per user, subscriptions per stream."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.servers import start_server
from tests.sse import StreamReader, stream_url
from tests.support import World
from threadcast.config import Settings
from threadcast.errors import HTTPError
from threadcast.ratelimit import Limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_connect_attempts_refill_over_time() -> None:
    clock = FakeClock()
    limiter = Limiter(Settings(connect_attempts_per_ip_per_minute=3), clock=clock)
    for _ in range(3):
        limiter.check_connect_attempt("10.0.0.1")
    with pytest.raises(HTTPError) as refused:
        limiter.check_connect_attempt("10.0.0.1")
    assert refused.value.status == 429
    assert refused.value.headers["Retry-After"] == "20"  # one token per 20 s
    limiter.check_connect_attempt("10.0.0.2")  # other addresses are unaffected
    clock.now += 20
    limiter.check_connect_attempt("10.0.0.1")


def test_streams_per_user_are_counted_and_released() -> None:
    limiter = Limiter(Settings(max_connections_per_user=2))
    user = uuid.uuid4()
    limiter.acquire_connection(user)
    limiter.acquire_connection(user)
    with pytest.raises(HTTPError) as refused:
        limiter.acquire_connection(user)
    assert refused.value.status == 429
    limiter.release_connection(user)
    limiter.acquire_connection(user)
    limiter.release_connection(user)
    limiter.release_connection(user)
    assert limiter.open_connections(user) == 0


def test_limits_over_http(database_url: str, world: World) -> None:
    server = start_server(
        database_url,
        max_connections_per_user=1,
        connect_attempts_per_ip_per_minute=5,
        max_subscriptions_per_connection=2,
    )
    try:
        url = stream_url(server.url, world.topic)
        first = StreamReader(url, server.token(world.agent)).start()
        first.wait_subscribed()
        headers = {"Authorization": f"Bearer {server.token(world.agent)}"}
        second = httpx.get(url, headers=headers)
        assert second.status_code == 429
        assert second.headers["Retry-After"].isdigit()
        assert "open streams" in second.json()["message"]

        specs = ["INSERT:public.ticket_notes", "UPDATE:public.ticket_notes", "ai_status"]
        too_many = httpx.get(
            url,
            params={"on": specs},
            headers={"Authorization": f"Bearer {server.token(world.customer)}"},
        )
        assert too_many.status_code == 400
        assert "too many subscriptions" in too_many.json()["message"]

        attempts = [httpx.get(url).status_code for _ in range(5)]
        assert attempts[-1] == 429, attempts  # 5 per minute: 3 above and these exhaust it
        first.close()
    finally:
        server.stop()
