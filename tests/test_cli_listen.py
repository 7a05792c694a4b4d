"""`threadcast listen` prints a channel's events: JSON lines, or a readable feed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psycopg

from tests.servers import RunningServer
from tests.support import World, add_note


def listen(server: RunningServer, token: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "threadcast.cli", "listen", *args, "--url", server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"THREADCAST_TOKEN": token},
    )


def read_lines(process: subprocess.Popen[str], count: int, timeout: float = 20) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while len(lines) < count and time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            lines.append(line.rstrip("\n"))
    return lines


def test_listen_json_lines(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    process = listen(live_server, live_server.token(world.customer), world.topic, "--json")
    try:
        [subscribed] = read_lines(process, 1)
        assert json.loads(subscribed)["data"]["type"] == "subscribed"
        add_note(conn, world, "secret", internal=True)
        add_note(conn, world, "hello terminal")
        [line] = read_lines(process, 1)
        event = json.loads(line)
        assert event["event"] == "postgres_changes"
        assert event["data"]["new"]["body"] == "hello terminal"
        assert event["id"]
    finally:
        process.terminate()
        process.wait(10)


def test_listen_human_readable(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    process = listen(live_server, live_server.token(world.agent), world.topic)
    try:
        read_lines(process, 1)
        add_note(conn, world, "readable")
        [line] = read_lines(process, 1)
        assert "INSERT" in line and "ticket_notes" in line and "'readable'" in line
    finally:
        process.terminate()
        process.wait(10)


def test_listen_with_a_bad_token_exits_1_with_the_message(
    live_server: RunningServer, world: World
) -> None:
    process = listen(live_server, "not-a-token", world.topic)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "invalid token" in stderr
