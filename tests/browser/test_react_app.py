"""examples/react-query, built (npm ci + npm run build: strict tsc, then Vite) and served from
its own origin, in a real Chromium against a real server and PostgreSQL: the list and the
detail view follow another user's changes within a second, an optimistic edit rolls back to
the winner on 412, a note written offline survives a reload and arrives once, the AI progress
bar moves."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.servers import RunningServer, free_port, start_server
from tests.support import World, add_note

pytestmark = pytest.mark.browser

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "react-query"


def run(*command: str) -> None:
    done = subprocess.run(command, cwd=EXAMPLE, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def app_origin() -> Iterator[str]:
    """The built example on http://localhost:<port>: another origin than the API's."""
    # npm ci installs the package as it is now (a packed copy of clients/js, see .npmrc).
    run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
    run("npm", "run", "build")
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(EXAMPLE / "dist")
    )
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture
def api(database_url: str, world: World, app_origin: str) -> Iterator[RunningServer]:
    server = start_server(database_url, cors_origins=app_origin)
    try:
        yield server
    finally:
        server.stop()


def open_app(browser: Browser, app_origin: str, api: RunningServer, world: World) -> Page:
    page = browser.new_context().new_page()
    page.goto(f"{app_origin}/?api={api.url}&token={api.token(world.agent)}&ticket={world.ticket}")
    expect(page.get_by_test_id("connection-state")).to_have_text("live", timeout=10_000)
    expect(page.get_by_test_id("note").first).to_be_visible()
    return page


def list_notes(page: Page, text: str):
    return page.locator("[data-testid=list] .snippet", has_text=text)


def detail_notes(page: Page, text: str):
    return page.locator("[data-testid=detail] [data-testid=note] .body", has_text=text)


def within_a_second(since: float, *locators, count: int = 1) -> None:
    for locator in locators:
        left = max(1.0 - (time.monotonic() - since), 0.05)
        expect(locator).to_have_count(count, timeout=left * 1000)


def note_version(conn: psycopg.Connection, note_id: object) -> int:
    row = conn.execute("select version from ticket_notes where id = %s", [note_id]).fetchone()
    assert row
    return row[0]


def test_list_and_detail_follow_another_users_changes_within_a_second(
    browser: Browser, app_origin: str, api: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    page = open_app(browser, app_origin, api, world)

    start = time.monotonic()
    note = add_note(conn, world, "from the customer", author=world.customer)
    within_a_second(
        start, list_notes(page, "from the customer"), detail_notes(page, "from the customer")
    )

    start = time.monotonic()
    conn.execute(
        "update ticket_notes set body = 'edited by the customer', version = %s where id = %s",
        [note_version(conn, note), note],
    )
    within_a_second(start, list_notes(page, "edited by"), detail_notes(page, "edited by"))
    expect(list_notes(page, "from the customer")).to_have_count(0)

    start = time.monotonic()
    conn.execute("delete from ticket_notes where id = %s", [note])
    within_a_second(start, list_notes(page, "edited by"), detail_notes(page, "edited by"), count=0)

    start = time.monotonic()
    thread = uuid.uuid4()
    conn.execute(
        "insert into ticket_threads (id, ticket_id, subject, created_by) values (%s, %s, %s, %s)",
        [thread, world.ticket, "A brand new thread", world.customer],
    )
    new_thread = page.locator(f"[data-testid=list] [data-thread='{thread}']")
    within_a_second(start, new_thread)
    new_thread.locator(".subject").click()
    expect(page.locator("[data-testid=detail] h2")).to_have_text("A brand new thread")
    start = time.monotonic()
    conn.execute(
        "insert into ticket_notes (thread_id, ticket_id, author_id, body) values (%s, %s, %s, %s)",
        [thread, world.ticket, world.customer, "first note of the new thread"],
    )
    within_a_second(
        start,
        list_notes(page, "first note of the new"),
        detail_notes(page, "first note of the new"),
    )


def test_an_optimistic_edit_rolls_back_to_the_winner_on_412(
    browser: Browser, app_origin: str, api: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    page = open_app(browser, app_origin, api, world)
    held: list[Route] = []
    page.route(f"{api.url}/v1/notes/**", lambda route: held.append(route))
    note = page.locator(f"[data-testid=detail] [data-note='{world.public_note}']")
    note.get_by_role("button", name="edit").click()
    note.get_by_label("edit").fill("mine")
    note.get_by_role("button", name="save").click()
    expect(note.locator(".body")).to_have_text("mine")  # at once, before the server answers
    expect(list_notes(page, "mine")).to_have_count(1)
    page.wait_for_function("true")  # let the held PATCH reach the route handler
    deadline = time.monotonic() + 5
    while not held:
        assert time.monotonic() < deadline, "the edit was never sent"
        page.wait_for_timeout(20)
    # Someone else saves first; then the edit, based on version 1, reaches the server: 412.
    conn.execute(
        "update ticket_notes set body = 'theirs', version = 1 where id = %s", [world.public_note]
    )
    held[0].continue_()
    expect(note.locator(".body")).to_have_text("theirs", timeout=5000)
    expect(note.get_by_test_id("conflict")).to_be_visible()
    expect(list_notes(page, "theirs")).to_have_count(1)
    expect(list_notes(page, "mine")).to_have_count(0)
    row = conn.execute(
        "select body from ticket_notes where id = %s", [world.public_note]
    ).fetchone()
    assert row == ("theirs",)


def count(conn: psycopg.Connection, body: str) -> tuple[int, int]:
    rows = conn.execute("select count(*) from ticket_notes where body = %s", [body]).fetchone()
    events = conn.execute(
        "select count(*) from realtime.messages where table_name = 'ticket_notes'"
        " and payload ->> 'eventType' = 'INSERT' and payload -> 'new' ->> 'body' = %s",
        [body],
    ).fetchone()
    assert rows and events
    return rows[0], events[0]


PERSISTED = """(body) => {
    const saved = JSON.parse(localStorage.getItem("REACT_QUERY_OFFLINE_CACHE") || "null");
    return (saved?.clientState.mutations ?? []).some(
        (m) => m.state.status === 'pending' && m.state.variables.body === body);
}"""


def test_a_note_written_offline_survives_a_reload_and_arrives_once(
    browser: Browser,
    app_origin: str,
    api: RunningServer,
    database_url: str,
    world: World,
    conn: psycopg.Connection,
) -> None:
    page = open_app(browser, app_origin, api, world)
    page.context.set_offline(True)
    expect(page.get_by_test_id("connection-state")).to_have_text("offline")
    page.get_by_label("note").fill("written offline")
    page.get_by_role("button", name="Add note").click()
    expect(detail_notes(page, "written offline")).to_have_count(1)  # optimistic, pending
    # The write itself is persisted (localStorage, throttled by 100 ms), not only the
    # optimistic note in the queries' data.
    page.wait_for_function(PERSISTED, arg="written offline", timeout=5000)
    # Back on the network, but the server is gone too: the reload comes up without it.
    api.stop()
    page.context.set_offline(False)
    expect(page.get_by_test_id("connection-state")).to_have_text("reconnecting")
    page.reload()
    expect(detail_notes(page, "written offline")).to_have_count(1)  # restored, still pending
    expect(page.get_by_test_id("connection-state")).to_have_text("reconnecting")
    assert count(conn, "written offline") == (0, 0)
    restarted = start_server(database_url, port=api.port, cors_origins=app_origin)
    try:
        # The channel's backoff (full jitter, growing while the server was down) decides when.
        expect(page.get_by_test_id("connection-state")).to_have_text("live", timeout=35_000)
        deadline = time.monotonic() + 10
        while count(conn, "written offline") != (1, 1):
            assert time.monotonic() < deadline, count(conn, "written offline")
            time.sleep(0.05)
        confirmed = page.locator("[data-testid=note]:not(.pending) .body", has_text="written off")
        expect(confirmed).to_have_count(1, timeout=5000)
        page.wait_for_timeout(1500)  # nothing is sent a second time
        assert count(conn, "written offline") == (1, 1)
        expect(list_notes(page, "written offline")).to_have_count(1)
    finally:
        restarted.stop()


def test_the_ai_progress_bar_moves(
    browser: Browser, app_origin: str, api: RunningServer, world: World
) -> None:
    page = open_app(browser, app_origin, api, world)
    headers = {"Authorization": f"Bearer {api.token(world.agent)}"}
    url = f"{api.url}/v1/threads/{world.thread}/ai-status"
    bar = page.locator("[data-testid=ai-status] progress")
    for status, progress in [("started", None), ("processing", 30), ("processing", 70)]:
        body = {"status": status} | ({"progress": progress} if progress is not None else {})
        assert httpx.post(url, json=body, headers=headers).status_code == 200
        expect(page.get_by_test_id("ai-status")).to_contain_text(f"AI {status}")
        expect(bar).to_have_attribute("value", str(progress or 0))
    assert httpx.post(url, json={"status": "completed"}, headers=headers).status_code == 200
    expect(page.get_by_test_id("ai-status")).to_contain_text("AI completed")
    expect(bar).to_have_attribute("value", "100")
