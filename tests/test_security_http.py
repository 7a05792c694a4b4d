"""The server's side of the security review (issue 14): signing keys, who may write AI status,
writes by bearer token from allowed origins only, and what an anonymous caller can learn."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.servers import RunningServer, start_server
from tests.sse import StreamReader, stream_url
from tests.support import World, add_note
from threadcast import auth, logs
from threadcast.app import create_app
from threadcast.cli import without_password
from threadcast.config import DEV_SECRET, Settings

# Signing keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (None, "set THREADCAST_JWT_SECRET"),
        (DEV_SECRET, "public development secret"),
        ("x" * 31, "shorter than 32 bytes"),
    ],
    ids=["none", "development", "31_bytes"],
)
def test_a_configured_database_needs_a_real_signing_key(
    database_url: str, secret: str | None, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        create_app(Settings(database_url=database_url, jwt_secret=secret))
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    if secret is not None:
        env["THREADCAST_JWT_SECRET"] = secret
    served = subprocess.run(
        [sys.executable, "-m", "threadcast.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode == 2
    assert problem in served.stderr


def test_a_32_byte_secret_a_public_key_or_demo_mode_will_do(database_url: str) -> None:
    create_app(Settings(database_url=database_url, jwt_secret="x" * 32))
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    create_app(Settings(database_url=database_url, jwt_public_key=pem))
    with pytest.raises(ValueError, match="THREADCAST_JWT_PUBLIC_KEY is not a PEM public key"):
        create_app(Settings(database_url=database_url, jwt_public_key="-----BEGIN PUBLIC KEY-----"))
    demo = Settings(database_url=database_url, demo=True)
    create_app(demo)
    # The development secret signs the demo's tokens and nothing else.
    token = auth.issue(demo, uuid.uuid4())
    assert auth.decode(token, demo).identity.sub
    with pytest.raises(ValueError, match="THREADCAST_JWT_SECRET"):
        auth.issue(Settings(database_url=database_url), uuid.uuid4())


def test_a_token_signed_with_the_development_secret_is_refused(live_server: RunningServer) -> None:
    forged = auth.issue(Settings(demo=True), World.agent)
    answer = httpx.get(
        f"{live_server.url}/v1/tickets/{World.ticket}/threads",
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"


# AI status -------------------------------------------------------------------------------------


def test_only_agents_set_ai_status_over_the_api(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    url = f"{live_server.url}/v1/threads/{world.thread}/ai-status"
    body = {"status": "failed", "error": "refund $500 approved"}
    customer = httpx.post(url, json=body, headers=bearer(live_server, world.customer))
    assert customer.status_code == 403
    assert customer.json()["error"] == "forbidden"
    assert conn.execute("select count(*) from thread_ai_status").fetchone() == (0,)
    agent = httpx.post(url, json=body, headers=bearer(live_server, world.agent))
    assert agent.status_code == 200
    assert agent.json()["status"] == "failed"


# Writes: bearer token and origin ---------------------------------------------------------------


def bearer(server: RunningServer, user: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token(user)}"}


def writes(world: World) -> list[tuple[str, str, dict[str, object]]]:
    """One of each write the API has, each valid for the agent."""
    return [
        ("POST", f"/v1/threads/{world.thread}/notes", {"json": {"body": "from afar"}}),
        ("POST", f"/v1/tickets/{world.ticket}/threads", {"json": {"subject": "from afar"}}),
        (
            "PATCH",
            f"/v1/notes/{world.public_note}",
            {"json": {"body": "edited"}, "headers": {"If-Match": "1"}},
        ),
        ("POST", f"/v1/threads/{world.thread}/ai-status", {"json": {"status": "started"}}),
        ("DELETE", f"/v1/notes/{world.internal_note}", {}),
    ]


@pytest.fixture
def cors_server(database_url: str, world: World) -> Iterator[RunningServer]:
    server = start_server(database_url, cors_origins="https://app.example.com")
    try:
        yield server
    finally:
        server.stop()


def test_a_cookie_does_not_authenticate_the_rest_api(
    cors_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    log_before = conn.execute("select count(*) from realtime.messages").fetchone()
    cookies = {auth.COOKIE_NAME: cors_server.token(world.agent)}
    for method, path, kwargs in writes(world):
        extra = kwargs.get("headers", {})
        with httpx.Client(base_url=cors_server.url, cookies=cookies) as c:
            answer = c.request(method, path, **(kwargs | {"headers": extra}))
        assert answer.status_code == 401, (method, path, answer.text)
        assert "Authorization: Bearer" in answer.json()["message"]
    with httpx.Client(base_url=cors_server.url, cookies=cookies) as c:
        assert c.get(f"/v1/threads/{world.thread}").status_code == 401
        assert c.get(f"/v1/threads/{world.thread}?access_token=x").status_code == 401
    assert conn.execute("select count(*) from realtime.messages").fetchone() == log_before


def test_a_write_from_another_origin_gets_403_and_changes_nothing(
    cors_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    log_before = conn.execute("select count(*) from realtime.messages").fetchone()
    for method, path, kwargs in writes(world):
        headers = {**kwargs.get("headers", {}), **bearer(cors_server, world.agent)}
        headers["Origin"] = "https://evil.example"
        answer = httpx.request(method, cors_server.url + path, **(kwargs | {"headers": headers}))
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["error"] == "origin_not_allowed"
    assert conn.execute("select count(*) from realtime.messages").fetchone() == log_before
    # A read from another origin is CORS's business, not refused here.
    read = httpx.get(
        f"{cors_server.url}/v1/threads/{world.thread}",
        headers={**bearer(cors_server, world.agent), "Origin": "https://evil.example"},
    )
    assert read.status_code == 200


@pytest.mark.parametrize("origin", ["own", "https://app.example.com", None])
def test_writes_from_the_servers_own_origin_an_allowed_one_or_no_browser_succeed(
    cors_server: RunningServer, world: World, origin: str | None
) -> None:
    headers = bearer(cors_server, world.agent)
    if origin is not None:
        headers["Origin"] = cors_server.url if origin == "own" else origin
    for method, path, kwargs in writes(world):
        answer = httpx.request(
            method,
            cors_server.url + path,
            **(kwargs | {"headers": {**kwargs.get("headers", {}), **headers}}),
        )
        assert answer.status_code in (200, 201, 204), (method, path, answer.text)


def test_the_stream_still_takes_the_cookie(live_server: RunningServer, world: World) -> None:
    cookies = {auth.COOKIE_NAME: live_server.token(world.agent)}
    with (
        httpx.Client(cookies=cookies) as c,
        c.stream("GET", stream_url(live_server.url, world.topic)) as answer,
    ):
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")


# What an anonymous caller can learn ------------------------------------------------------------


def test_readyz_tells_only_whether_the_listener_is_up(live_server: RunningServer) -> None:
    answer = httpx.get(f"{live_server.url}/readyz")
    assert answer.json() == {"status": "ready", "listener": {"connected": True}}


def test_the_printed_database_url_hides_its_password() -> None:
    shown = without_password("postgresql://app:s3cr3t-pw@db.example.com:5432/tickets")
    assert "s3cr3t-pw" not in shown
    assert "db.example.com" in shown and "***" in shown
    assert without_password("postgresql://app@db/tickets") == "postgresql://app@db/tickets"


def test_the_access_log_masks_access_tokens() -> None:
    # The record exactly as uvicorn's access logger makes it.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5000",
            "GET",
            "/v1/x/stream?on=ai_status&access_token=eyJ.secret.sig",
            "1.1",
            200,
        ),
        None,
    )
    assert logs.RedactTokens().filter(record)
    line = record.getMessage()
    assert "eyJ.secret.sig" not in line
    assert "access_token=REDACTED" in line and "on=ai_status" in line


@pytest.mark.parametrize("trusted", [False, True], ids=["untrusted", "trusted_proxy"])
def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    database_url: str, world: World, trusted: bool
) -> None:
    server = start_server(
        database_url,
        connect_attempts_per_ip_per_minute=3,
        trusted_proxies="127.0.0.1" if trusted else "",
    )
    try:
        statuses = [
            httpx.get(
                stream_url(server.url, world.topic),
                headers={"X-Forwarded-For": f"203.0.113.{n}"},  # a new address each time
            ).status_code
            for n in range(5)
        ]
    finally:
        server.stop()
    # Unauthenticated, so 401 while the attempt is allowed; 429 once the bucket is empty.
    if trusted:
        assert statuses == [401] * 5  # five addresses, five buckets
    else:
        assert statuses == [401, 401, 401, 429, 429]  # one connecting address, one bucket


# Channel names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["hex", "upper", "braces"])
def test_a_ticket_uuid_spelled_another_way_names_the_same_channel(
    live_server: RunningServer, world: World, conn: psycopg.Connection, spelling: str
) -> None:
    key = {"hex": world.ticket.hex, "upper": str(world.ticket).upper(), "braces": None}[spelling]
    if key is None:  # the channel pattern allows no braces: a clear 400, not a silent stream
        answer = httpx.get(
            stream_url(live_server.url, f"ticket-threads:{{{world.ticket}}}"),
            headers=bearer(live_server, world.agent),
        )
        assert answer.status_code == 400
        return
    reader = StreamReader(
        stream_url(live_server.url, f"ticket-threads:{key}"), live_server.token(world.agent)
    )
    reader.start().wait_subscribed()
    add_note(conn, world, "spelled differently")
    reader.wait_for(lambda _: reader.bodies() == ["spelled differently"])
    reader.close()
