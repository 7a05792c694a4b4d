"""Oversized request heads (issue 15): a 100 KB token in Authorization or the cookie gets a JSON
431 from `threadcast serve`, on the stream and the REST API alike, instead of the HTTP parser's
`400 text/plain` (stream) or a connection reset (REST API). Run against `threadcast serve` in
its own process, as users run it."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.processes import ServerProcess
from tests.support import World
from threadcast.config import Settings

LIMIT = Settings().max_header_bytes


@pytest.fixture(scope="module")
def server_process(server_url: str, template_dbname: str) -> Iterator[ServerProcess]:
    # One process for the module: the head checks never touch the database's contents.
    from tests.conftest import _janitor, database_url_for

    name = f"threadcast_test_heads_{uuid.uuid4().hex[:8]}"
    with _janitor(server_url, name, template_dbname=template_dbname):
        process = ServerProcess(database_url_for(server_url, name)).start()
        try:
            yield process
        finally:
            process.stop()


def token_of(size: int) -> str:
    return "x" * size


def assert_json_refusal(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text[:200]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == error


def stream_path(world: World) -> str:
    return f"/v1/channels/{world.topic}/stream"


@pytest.mark.parametrize("size", [LIMIT + 100, 100_000, 1_000_000])
@pytest.mark.parametrize("where", ["authorization", "cookie"])
def test_an_oversized_token_on_the_stream_gets_json_431(
    server_process: ServerProcess, size: int, where: str
) -> None:
    headers = (
        {"Authorization": f"Bearer {token_of(size)}"}
        if where == "authorization"
        else {"Cookie": f"threadcast_token={token_of(size)}"}
    )
    response = httpx.get(f"{server_process.url}{stream_path(World())}", headers=headers, timeout=10)
    assert_json_refusal(response, 431, "headers_too_large")


@pytest.mark.parametrize("size", [LIMIT + 100, 100_000])
def test_an_oversized_token_on_the_rest_api_gets_json_431_not_a_reset(
    server_process: ServerProcess, size: int
) -> None:
    # A POST with a body: the body is still on its way when the head is refused.
    response = httpx.post(
        f"{server_process.url}/v1/threads/{World.thread}/notes",
        headers={"Authorization": f"Bearer {token_of(size)}"},
        json={"body": "y" * 200_000},
        timeout=10,
    )
    assert_json_refusal(response, 431, "headers_too_large")
    response = httpx.get(
        f"{server_process.url}/v1/threads/{World.thread}",
        headers={"Authorization": f"Bearer {token_of(size)}"},
        timeout=10,
    )
    assert_json_refusal(response, 431, "headers_too_large")


def test_a_token_under_the_limit_still_reaches_auth(server_process: ServerProcess) -> None:
    headers = {"Authorization": f"Bearer {token_of(LIMIT - 1000)}"}
    for url in (
        f"{server_process.url}{stream_path(World())}",
        f"{server_process.url}/v1/threads/x",
    ):
        assert_json_refusal(httpx.get(url, headers=headers, timeout=10), 401, "unauthorized")


def raw_exchange(port: int, head: bytes, piece: int) -> bytes:
    """Send `head` in pieces of `piece` bytes, then read the answer to the end."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for start in range(0, len(head), piece):
            try:
                sock.sendall(head[start : start + piece])
            except (BrokenPipeError, ConnectionResetError):
                break  # refused before the whole head was sent; the answer is waiting
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize("piece", [1024, 1 << 20])
def test_a_head_over_the_limit_gets_431_whether_it_arrives_in_pieces_or_whole(
    server_process: ServerProcess, piece: int
) -> None:
    head = (
        f"GET {stream_path(World())} HTTP/1.1\r\nHost: x\r\nX-Padding: {'p' * (2 * LIMIT)}\r\n\r\n"
    ).encode()
    answer = raw_exchange(server_process.port, head, piece)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert b"content-type: application/json" in rest.lower()
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"] == "headers_too_large"


def test_a_long_request_line_gets_json_431(server_process: ServerProcess) -> None:
    response = httpx.get(f"{server_process.url}/v1/threads/{'a' * (LIMIT + 10)}", timeout=10)
    assert_json_refusal(response, 431, "headers_too_large")


def test_a_malformed_request_gets_json_400(server_process: ServerProcess) -> None:
    answer = raw_exchange(server_process.port, b"GET / HTTP/1.1\r\nbad header\r\n\r\n", 1 << 20)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "bad_request"


def test_the_limit_is_configurable(database_url: str) -> None:
    process = ServerProcess(database_url, max_header_bytes=200_000).start()
    try:
        headers = {"Authorization": f"Bearer {token_of(100_000)}"}
        response = httpx.get(f"{process.url}{stream_path(World())}", headers=headers, timeout=10)
        assert_json_refusal(response, 401, "unauthorized")  # through the parser, to auth
    finally:
        process.stop()
