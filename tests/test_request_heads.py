"""Oversized request heads (issue 15): a 100 KB token in Authorization or the cookie used to get
the HTTP parser's `400 text/plain` (stream) or a connection reset (REST API). Now it reaches
auth (401 JSON), and a head over THREADCAST_MAX_HEADER_BYTES gets 431 JSON (414 for a request
line alone), on the stream and the API alike. Run against `threadcast serve` in its own
process, as users run it."""

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
SMALL = 16384  # uvicorn's own limit before; a server configured with it refuses 100 KB


@pytest.fixture(scope="module")
def servers(server_url: str, template_dbname: str) -> Iterator[dict[str, ServerProcess]]:
    """`threadcast serve` with the default limit and with a small one, for the module: the
    head checks never touch the database's contents."""
    from tests.conftest import _janitor, database_url_for

    name = f"threadcast_test_heads_{uuid.uuid4().hex[:8]}"
    with _janitor(server_url, name, template_dbname=template_dbname):
        url = database_url_for(server_url, name)
        running = {
            "default": ServerProcess(url).start(),
            "small": ServerProcess(url, max_header_bytes=SMALL).start(),
        }
        try:
            yield running
        finally:
            for process in running.values():
                process.stop()


def token_of(size: int) -> str:
    return "x" * size


def assert_json_refusal(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text[:200]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == error


def stream_path(world: World) -> str:
    return f"/v1/channels/{world.topic}/stream"


def token_headers(where: str, size: int) -> dict[str, str]:
    if where == "authorization":
        return {"Authorization": f"Bearer {token_of(size)}"}
    return {"Cookie": f"threadcast_token={token_of(size)}"}


def rest_answers(server: ServerProcess, headers: dict[str, str]) -> list[httpx.Response]:
    """A GET, and a POST whose 200 KB body is still on its way when the head is judged."""
    return [
        httpx.get(f"{server.url}/v1/threads/{World.thread}", headers=headers, timeout=10),
        httpx.post(
            f"{server.url}/v1/threads/{World.thread}/notes",
            headers=headers,
            json={"body": "y" * 200_000},
            timeout=10,
        ),
    ]


@pytest.mark.parametrize("where", ["authorization", "cookie"])
def test_a_100_kb_token_gets_json_401_from_the_stream_and_the_api(
    servers: dict[str, ServerProcess], where: str
) -> None:
    server = servers["default"]
    headers = token_headers(where, 100_000)
    response = httpx.get(f"{server.url}{stream_path(World())}", headers=headers, timeout=10)
    assert_json_refusal(response, 401, "unauthorized")
    if where == "authorization":  # the REST API reads Authorization only
        for answer in rest_answers(server, headers):
            assert_json_refusal(answer, 401, "unauthorized")


@pytest.mark.parametrize(
    ("limit", "size"),
    [(SMALL, SMALL + 100), (SMALL, 100_000), (LIMIT, LIMIT + 100), (LIMIT, 3 * LIMIT)],
)
@pytest.mark.parametrize("where", ["authorization", "cookie"])
def test_a_token_over_the_limit_gets_json_431_from_the_stream_and_the_api(
    servers: dict[str, ServerProcess], limit: int, size: int, where: str
) -> None:
    server = servers["small" if limit == SMALL else "default"]
    headers = token_headers(where, size)
    response = httpx.get(f"{server.url}{stream_path(World())}", headers=headers, timeout=10)
    assert_json_refusal(response, 431, "headers_too_large")
    for answer in rest_answers(server, headers):
        assert_json_refusal(answer, 431, "headers_too_large")


def test_a_head_just_under_the_limit_reaches_the_app(servers: dict[str, ServerProcess]) -> None:
    server = servers["small"]
    headers = {"Authorization": f"Bearer {token_of(SMALL - 1000)}"}
    for url in (f"{server.url}{stream_path(World())}", f"{server.url}/v1/threads/x"):
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
    servers: dict[str, ServerProcess], piece: int
) -> None:
    head = (
        f"GET {stream_path(World())} HTTP/1.1\r\nHost: x\r\nX-Padding: {'p' * (2 * SMALL)}\r\n\r\n"
    ).encode()
    answer = raw_exchange(servers["small"].port, head, piece)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert b"content-type: application/json" in rest.lower()
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"] == "headers_too_large"


@pytest.mark.parametrize("piece", [1024, 1 << 20])
@pytest.mark.parametrize("which", ["default", "small"])
def test_a_request_line_over_the_limit_gets_json_414(
    servers: dict[str, ServerProcess], piece: int, which: str
) -> None:
    limit = LIMIT if which == "default" else SMALL
    head = f"GET /v1/threads/{'a' * (limit + 10)} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    answer = raw_exchange(servers[which].port, head, piece)
    assert answer.startswith(b"HTTP/1.1 414 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "uri_too_long"


def test_a_malformed_request_gets_json_400(servers: dict[str, ServerProcess]) -> None:
    answer = raw_exchange(servers["default"].port, b"GET / HTTP/1.1\r\nbad\r\n\r\n", 1 << 20)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "bad_request"
