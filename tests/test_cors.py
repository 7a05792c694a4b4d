"""CORS for browser apps on other origins: off unless configured; configured origins get
preflights and readable answers (errors included); others get nothing; bad configuration is
refused with a message."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import RunningServer, start_server
from tests.support import World
from threadcast.config import Settings, cors_origins

APP = "https://app.example.com"


@pytest.fixture
def cors_server(database_url: str, world: World) -> Iterator[RunningServer]:
    running = start_server(database_url, cors_origins=f"{APP}, http://localhost:5173")
    try:
        yield running
    finally:
        running.stop()


def preflight(server: RunningServer, origin: str, method: str, headers: str) -> httpx.Response:
    return httpx.options(
        f"{server.url}/v1/threads/00000000-0000-0000-0000-000000000001/notes",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_a_configured_origin_may_write_with_a_token_and_if_match(
    cors_server: RunningServer,
) -> None:
    response = preflight(cors_server, APP, "PATCH", "authorization, content-type, if-match")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    allowed = response.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "if-match", "last-event-id"} <= set(
        h.strip() for h in allowed.split(",")
    )
    assert "PATCH" in response.headers["access-control-allow-methods"]


def test_another_origin_gets_no_permission(cors_server: RunningServer, world: World) -> None:
    refused = preflight(cors_server, "https://evil.example", "POST", "authorization")
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    plain = httpx.get(
        f"{cors_server.url}/v1/tickets/{world.ticket}/threads",
        headers={
            "Origin": "https://evil.example",
            "Authorization": f"Bearer {cors_server.token(world.agent)}",
        },
    )
    assert "access-control-allow-origin" not in plain.headers


def test_answers_and_refusals_are_readable_by_the_origin(
    cors_server: RunningServer, world: World
) -> None:
    headers = {"Origin": APP, "Authorization": f"Bearer {cors_server.token(world.agent)}"}
    with httpx.Client(base_url=cors_server.url, headers=headers) as c:
        listing = c.get(f"/v1/tickets/{world.ticket}/threads")
        too_large = c.post(f"/v1/threads/{world.thread}/notes", json={"body": "x" * 1_100_000})
        unauthorized = c.get(f"/v1/tickets/{world.ticket}/threads", headers={"Authorization": ""})
    for response, status in ((listing, 200), (too_large, 413), (unauthorized, 401)):
        assert response.status_code == status
        assert response.headers["access-control-allow-origin"] == APP
    exposed = listing.headers["access-control-expose-headers"].lower()
    assert "idempotent-replayed" in exposed
    assert "threadcast-position" in exposed  # a REST read's log position


def test_the_stream_answers_the_origin(cors_server: RunningServer, world: World) -> None:
    url = f"{cors_server.url}/v1/channels/{world.topic}/stream"
    headers = {"Origin": APP, "Authorization": f"Bearer {cors_server.token(world.agent)}"}
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == APP


def test_without_configuration_nothing_is_allowed(live_server: RunningServer) -> None:
    response = preflight(live_server, APP, "POST", "authorization")
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "value",
    [
        "https://app.example.com/",
        "app.example.com",
        "https://app.example.com/path",
        "*, https://a.b",
    ],
)
def test_a_bad_origin_setting_is_refused_with_a_message(value: str) -> None:
    with pytest.raises(ValueError, match="THREADCAST_CORS_ORIGINS"):
        cors_origins(Settings(cors_origins=value))
    result = subprocess.run(
        [sys.executable, "-m", "threadcast.cli", "serve", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"THREADCAST_CORS_ORIGINS": value},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("threadcast: THREADCAST_CORS_ORIGINS")


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", []),
        ("*", ["*"]),
        (
            "http://localhost:5173,https://[::1]:8443",
            ["http://localhost:5173", "https://[::1]:8443"],
        ),
    ],
)
def test_good_origin_settings(value: str, origins: list[str]) -> None:
    assert cors_origins(Settings(cors_origins=value)) == origins
