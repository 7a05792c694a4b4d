"""The npm package clients/js: its vitest suite (the client against this real server and
PostgreSQL, the cache rules, the schemas) and the freshness of the build the server serves at
/static/threadcast.js. `scripts/test` runs `npm ci` for it first."""

from __future__ import annotations

import contextlib
import filecmp
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.servers import RunningServer
from tests.support import World, seed_tickets

ROOT = Path(__file__).resolve().parents[1]
# CI may set FORCE_COLOR: vitest then paints its lines, whatever NO_COLOR says.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
PACKAGE = ROOT / "clients" / "js"
STATIC = ROOT / "server" / "threadcast" / "static"


def npm(*args: str, env: dict[str, str] | None = None, cwd: Path = PACKAGE) -> str:
    assert (cwd / "node_modules").is_dir(), f"run `npm ci` in {cwd} (scripts/test does)"
    done = subprocess.run(
        ["npm", *args],
        cwd=cwd,
        env={
            **{k: v for k, v in os.environ.items() if k != "FORCE_COLOR"},
            "NO_COLOR": "1",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"npm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return ANSI_ESCAPE.sub("", done.stdout)


def test_the_package_type_checks_under_strict() -> None:
    npm("run", "typecheck")


@contextlib.contextmanager
def inbox_writer(database_url: str, world: World) -> Iterator[None]:
    """Another user's writes for src/react-query/tickets.test.tsx, every 150 ms while vitest
    runs: a new ticket "inbox new <n>" in org A, and the seeded ticket renamed "inbox live <n>"."""
    stop = threading.Event()

    def write() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            n = 0
            while not stop.wait(0.15):
                n += 1
                conn.execute(
                    "insert into tickets (org_id, requester_id, subject) values (%s, %s, %s)",
                    (world.org_a, world.customer, f"inbox new {n}"),
                )
                conn.execute(
                    "update tickets set subject = %s where id = %s",
                    (f"inbox live {n}", world.ticket),
                )

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join(5)


# src/stream.test.ts puts many channels on one stream: up to one past the server's cap (100).
EXTRA_TICKETS = 101


def test_vitest_against_the_real_server(
    live_server: RunningServer, world: World, database_url: str, conn: psycopg.Connection
) -> None:
    tickets = seed_tickets(conn, world, EXTRA_TICKETS)
    with inbox_writer(database_url, world):
        out = npm(
            "test",
            "--",
            "--reporter=verbose",
            env={
                "THREADCAST_URL": live_server.url,
                "THREADCAST_AGENT_TOKEN": live_server.token(world.agent),
                "THREADCAST_CUSTOMER_TOKEN": live_server.token(world.customer),
                "THREADCAST_STRANGER_TOKEN": live_server.token(world.stranger),
                "THREADCAST_ORG": str(world.org_a),
                "THREADCAST_TICKET": str(world.ticket),
                "THREADCAST_THREAD": str(world.thread),
                "THREADCAST_TICKETS": ",".join(map(str, tickets)),
                "THREADCAST_OTHER_TICKET": str(world.other_ticket),
            },
        )
    for suite in (
        "client.test.ts",
        "stream.test.ts",
        "presence.test.ts",
        "presence.live.test.ts",
        "react-query/hooks.test.tsx",
        "react-query/presence.test.tsx",
        "react-query/tickets.test.tsx",
        "react-query/inbox.test.ts",
        "react-query/cache.test.ts",
        "react-query/persist.test.ts",
    ):
        assert f"✓ src/{suite}" in out, out
    # "Tests  N passed (N)": nothing skipped, nothing failed.
    assert re.search(r"^\s*Tests\s+(\d+) passed \(\1\)$", out, re.MULTILINE), out


def test_the_served_client_is_the_packages_current_build(tmp_path: Path) -> None:
    npm("run", "build")
    out = tmp_path / "static"
    npm("exec", "--", "rollup", "-c", "rollup.static.mjs", env={"THREADCAST_STATIC_OUT": str(out)})
    for name in ("threadcast.js", "threadcast.d.ts"):
        assert filecmp.cmp(out / name, STATIC / name, shallow=False), (
            f"server/threadcast/static/{name} is not the build of clients/js: "
            "run `npm run build:static` in clients/js and commit it"
        )


@pytest.mark.parametrize("name", ["threadcast.js", "threadcast.d.ts"])
def test_the_static_build_says_where_it_comes_from(name: str) -> None:
    assert "built from clients/js" in (STATIC / name).read_text().splitlines()[0]
