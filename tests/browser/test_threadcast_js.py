"""threadcast.js itself, in a real Chromium against a real server and PostgreSQL: parsing,
routing, resume across a restart, pausing while hidden, token renewal, fatal errors,
throttling."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, Route
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import RunningServer, free_port, start_server
from tests.support import World, add_note

pytestmark = pytest.mark.browser

# Subscribes in the page and records everything the client reports into window.tc.
# `bindings`: [type, filter-or-null, label]; a callback pushes [label, payload, time].
HARNESS = """async ([token, topic, bindings, options]) => {
    const { createClient } = await import("/static/threadcast.js");
    const tc = (window.tc = { events: [], statuses: [], states: [], fetches: 0 });
    tc.token = token;
    tc.client = createClient(location.origin, {
        pauseWhenHiddenMs: null,
        ...options,
        token: options.tokenFunction ? () => tc.token : token,
        fetch: (...args) => { tc.fetches += 1; return fetch(...args); },
        onConnectionState: (state) => tc.states.push(state),
    });
    const channel = tc.client.channel(topic);
    for (const [type, filter, label] of bindings) {
        const record = (payload) => tc.events.push([label, payload, performance.now()]);
        if (filter) channel.on(type, filter, record);
        else channel.on(type, record);
    }
    tc.channel = channel.subscribe((status, error) => tc.statuses.push(
        [status, error ? { status: error.status, message: error.message } : null]));
}"""

NOTE_INSERTS = [["postgres_changes", {"event": "INSERT", "table": "ticket_notes"}, "insert"]]


def blank_page(browser: Browser, server: RunningServer) -> Page:
    """A page on the server's origin, so it may import /static/threadcast.js."""
    page = browser.new_page()
    page.goto(f"{server.url}/healthz")
    return page


def subscribe(
    page: Page,
    token: str,
    topic: str,
    bindings: list | None = None,
    **options: object,
) -> None:
    page.evaluate(HARNESS, [token, topic, bindings or NOTE_INSERTS, options])


def wait_subscribed(page: Page, times: int = 1) -> None:
    page.wait_for_function(
        f"tc.statuses.filter(([s]) => s === 'SUBSCRIBED').length >= {times}", timeout=15_000
    )


def bodies(page: Page, label: str = "insert") -> list[str]:
    return page.evaluate(
        "(label) => tc.events.filter(([l]) => l === label).map(([, p]) => p.new.body)", label
    )


def wait_for_body(page: Page, body: str, timeout: float = 15_000) -> None:
    page.wait_for_function(
        "(body) => tc.events.some(([, p]) => p.new && p.new.body === body)",
        arg=body,
        timeout=timeout,
    )


def open_connections(server: RunningServer) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "threadcast_connections":
            return family.samples[0].value
    raise AssertionError("threadcast_connections missing from /metrics")


def wait_connections(server: RunningServer, expected: float, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (seen := open_connections(server)) != expected:
        assert time.monotonic() < deadline, f"{seen} open connections, expected {expected}"
        time.sleep(0.05)


STREAM = (
    "\ufeffretry: 2500\r\n\r\n"
    ": heartbeat\r\n"
    'id: 1-1\r\nevent: postgres_changes\r\ndata: {"a":1}\r\n\r\n'
    "id: 1-2\nevent: system\ndata: line one\ndata: line two\n\n"
    "id: 1-3\revent: ai_status\rdata: é€😀\r\r"
    "data:no-space\r\r"
    "data\r\r"
    "id: bad\x00id\rdata: x\r\r"
    "retry: soon\rdata: y\r\r"
    "event: no-data\rfoo: bar\r\r"
    "data: never finished"
)
FRAMES = [
    {"event": "message", "data": None, "retry": 2500},
    {"event": "postgres_changes", "data": '{"a":1}', "id": "1-1"},
    {"event": "system", "data": "line one\nline two", "id": "1-2"},
    {"event": "ai_status", "data": "é€😀", "id": "1-3"},
    {"event": "message", "data": "no-space"},
    {"event": "message", "data": ""},
    {"event": "message", "data": "x"},
    {"event": "message", "data": "y"},
]


def test_the_sse_parser_gives_the_same_frames_however_the_bytes_are_split(
    browser: Browser, live_server: RunningServer
) -> None:
    page = blank_page(browser, live_server)
    result = page.evaluate(
        """async (stream) => {
            const { SSEParser } = await import("/static/threadcast.js");
            const bytes = new TextEncoder().encode(stream);
            // Decode and parse the way the client does, with the stream cut at `cuts`.
            const parse = (cuts) => {
                const parser = new SSEParser();
                const decoder = new TextDecoder();
                const out = [];
                let from = 0;
                for (const to of [...cuts, bytes.length]) {
                    const text = decoder.decode(bytes.slice(from, to), { stream: true });
                    out.push(...parser.feed(text));
                    from = to;
                }
                out.push(...parser.end());
                return JSON.stringify(out);
            };
            const whole = parse([]);
            const differs = [];
            for (let i = 1; i < bytes.length; i++) {
                if (parse([i]) !== whole) differs.push(i);
                if (parse([i, Math.min(i + 1, bytes.length)]) !== whole) differs.push(-i);
            }
            const byteByByte = parse([...Array(bytes.length).keys()].slice(1)) === whole;
            return { whole: JSON.parse(whole), differs, byteByByte };
        }""",
        STREAM,
    )
    assert result["whole"] == FRAMES
    assert result["differs"] == []
    assert result["byteByByte"]


def test_each_binding_gets_only_the_events_its_filter_matches(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    page = blank_page(browser, live_server)
    notes = {"event": "INSERT", "schema": "public", "table": "ticket_notes"}
    bindings = [
        ["postgres_changes", notes | {"filter": "internal=eq.true"}, "internal"],
        ["postgres_changes", notes | {"filter": "internal=eq.false"}, "public"],
        ["postgres_changes", notes | {"filter": f"ticket_id=eq.{world.ticket}"}, "ticket"],
        ["postgres_changes", {"event": "UPDATE", "table": "ticket_notes"}, "update"],
        ["ai_status", None, "ai"],
    ]
    subscribe(page, live_server.token(world.agent), world.topic, bindings)
    wait_subscribed(page)
    add_note(conn, world, "for agents", internal=True)
    add_note(conn, world, "for everyone")
    wait_for_body(page, "for everyone")
    assert bodies(page, "internal") == ["for agents"]
    assert bodies(page, "public") == ["for everyone"]
    assert bodies(page, "ticket") == ["for agents", "for everyone"]
    assert bodies(page, "update") == []
    assert page.evaluate("tc.events.filter(([l]) => l === 'ai').length") == 0


def test_a_restart_loses_and_repeats_nothing(
    browser: Browser, database_url: str, world: World, conn: psycopg.Connection
) -> None:
    server = start_server(database_url)
    page = blank_page(browser, server)
    subscribe(page, server.token(world.agent), world.topic)
    wait_subscribed(page)
    add_note(conn, world, "before")
    wait_for_body(page, "before")
    server.stop()
    page.wait_for_function("tc.states.at(-1) === 'reconnecting'", timeout=10_000)
    for i in range(3):
        add_note(conn, world, f"while down {i}")
    restarted = start_server(database_url, port=server.port)
    try:
        wait_subscribed(page, times=2)
        add_note(conn, world, "after")
        wait_for_body(page, "after")
        assert bodies(page) == ["before", "while down 0", "while down 1", "while down 2", "after"]
        assert page.evaluate("tc.states.at(-1)") == "live"
    finally:
        restarted.stop()


def test_a_hidden_page_closes_its_stream_and_catches_up_when_shown(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    page = blank_page(browser, live_server)
    subscribe(page, live_server.token(world.agent), world.topic, pauseWhenHiddenMs=200)
    wait_subscribed(page)
    wait_connections(live_server, 1)
    # Headless pages are always visible; the page is told otherwise the way a browser would.
    set_visibility = """(state) => {
        const define = (name, get) =>
            Object.defineProperty(document, name, { configurable: true, get });
        define("visibilityState", () => state);
        define("hidden", () => state === "hidden");
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    page.evaluate(set_visibility, "hidden")
    page.wait_for_function("tc.states.at(-1) === 'paused'", timeout=5000)
    wait_connections(live_server, 0)
    add_note(conn, world, "while hidden")
    page.evaluate(set_visibility, "visible")
    wait_for_body(page, "while hidden")
    assert bodies(page) == ["while hidden"]
    page.wait_for_function("tc.states.at(-1) === 'live'", timeout=5000)
    wait_connections(live_server, 1)


@pytest.mark.parametrize("renewal", ["setToken", "token function"])
def test_an_expired_token_is_renewed_and_the_stream_resumes_where_it_was(
    browser: Browser,
    live_server: RunningServer,
    world: World,
    conn: psycopg.Connection,
    renewal: str,
) -> None:
    page = blank_page(browser, live_server)
    short = live_server.token(world.agent, ttl_seconds=2)
    subscribe(page, short, world.topic, tokenFunction=renewal == "token function")
    wait_subscribed(page)
    # The server ends the stream at `exp` with `expired`; the client reports it and waits.
    page.wait_for_function("tc.statuses.some(([s]) => s === 'CHANNEL_ERROR')", timeout=10_000)
    add_note(conn, world, "written while the token was expired")
    fresh = live_server.token(world.agent)
    if renewal == "setToken":
        page.evaluate("(token) => tc.client.setToken(token)", fresh)
    else:
        page.evaluate("(token) => { tc.token = token; }", fresh)
    wait_subscribed(page, times=2)
    wait_for_body(page, "written while the token was expired")
    assert bodies(page) == ["written while the token was expired"]


def test_a_forbidden_channel_is_a_channel_error_and_not_retried(
    browser: Browser, live_server: RunningServer, world: World
) -> None:
    page = blank_page(browser, live_server)
    subscribe(page, live_server.token(world.stranger), world.topic)
    page.wait_for_function("tc.statuses.length > 0", timeout=10_000)
    assert page.evaluate("tc.statuses")[0] == [
        "CHANNEL_ERROR",
        {"status": 403, "message": f"you may not subscribe to {world.topic!r}"},
    ]
    # A first retry would come within retry (1000 ms) * jitter: give it 1.5 s to not happen.
    page.wait_for_timeout(1500)
    assert page.evaluate("tc.fetches") == 1


def test_throttled_callbacks_arrive_in_batches(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    page = blank_page(browser, live_server)
    subscribe(page, live_server.token(world.agent), world.topic, throttleMs=1500)
    wait_subscribed(page)
    for i in range(5):  # spread over ~150 ms, inside one 1.5 s throttle interval (on a loaded
        add_note(conn, world, f"burst {i}")  # machine too)
        time.sleep(0.03)
    page.wait_for_function("tc.events.length === 5", timeout=10_000)
    assert bodies(page) == [f"burst {i}" for i in range(5)]
    times = page.evaluate("tc.events.map(([, , t]) => t)")
    # Delivered together, not as they trickled in over the writes.
    assert times[-1] - times[0] < 50


def test_writes_whose_answers_are_lost_take_effect_once(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    """Each write reaches the server and commits, but its answer is lost (the network drops
    the response); the client retries, and the retry must come back as the first attempt's
    result, not as a duplicate note, a 412 or a 404."""
    page = blank_page(browser, live_server)
    sent: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        method = route.request.method
        sent.append(method)
        if sent.count(method) == 1:
            route.fetch()  # the server does the write...
            route.abort("connectionreset")  # ...and the page never hears of it
        else:
            route.continue_()

    page.route("**/v1/**", lose_the_first_answer)
    result = page.evaluate(
        """async ([token, threadId]) => {
            const { createClient } = await import("/static/threadcast.js");
            const client = createClient(location.origin, { token, pauseWhenHiddenMs: null });
            const note = await client.rest.addNote(threadId, "said once");
            const edited = await client.rest.editNote(note.id, note.version, { body: "edited" });
            const deleted = await client.rest.deleteNote(note.id, edited.version);
            return { note, edited, deleted };
        }""",
        [live_server.token(world.customer), str(world.thread)],
    )
    assert sent == ["POST", "POST", "PATCH", "PATCH", "DELETE", "DELETE"]
    note_id = result["note"]["id"]
    assert (result["note"]["body"], result["note"]["version"]) == ("said once", 1)
    assert (result["edited"]["body"], result["edited"]["version"]) == ("edited", 2)
    assert result["deleted"] is None
    inserts = conn.execute(
        "select count(*) from realtime.messages where table_name = 'ticket_notes'"
        " and payload ->> 'eventType' = 'INSERT' and payload -> 'new' ->> 'body' = 'said once'"
    ).fetchone()
    assert inserts == (1,)
    left = conn.execute(
        "select count(*) from ticket_notes where id = %s or body = 'said once'", [note_id]
    ).fetchone()
    assert left == (0,)


def test_a_real_conflict_is_still_a_conflict_after_a_lost_answer(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    """A retried edit resolves as its own only if the note holds exactly that edit: here
    someone else's edit lands between the lost answer and the retry."""
    page = blank_page(browser, live_server)
    sent: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        sent.append(route.request.method)
        if len(sent) == 1:
            route.abort("connectionreset")  # lost before it reached the server
            conn.execute(
                "update ticket_notes set body = 'theirs', version = 1 where id = %s",
                [world.public_note],
            )
        else:
            route.continue_()

    page.route("**/v1/notes/**", lose_the_first_answer)
    error = page.evaluate(
        """async ([token, noteId]) => {
            const { createClient } = await import("/static/threadcast.js");
            const client = createClient(location.origin, { token, pauseWhenHiddenMs: null });
            try {
                await client.rest.editNote(noteId, 1, { body: "mine" });
                return null;
            } catch (error) {
                return { name: error.name, current: error.current };
            }
        }""",
        [live_server.token(world.agent), str(world.public_note)],
    )
    assert sent == ["PATCH", "PATCH"]
    assert error["name"] == "ConflictError"
    assert (error["current"]["body"], error["current"]["version"]) == ("theirs", 2)


@pytest.mark.parametrize("allowed", [True, False], ids=["allowed origin", "other origin"])
def test_an_app_on_another_origin_streams_and_writes_when_allowed(
    browser: Browser, database_url: str, world: World, conn: psycopg.Connection, allowed: bool
) -> None:
    """The page is on http://localhost:<port>, the server it talks to http://127.0.0.1:<port>:
    another origin, as an app on its own site would be."""
    port = free_port()
    app_origin = f"http://localhost:{port}"
    server = start_server(
        database_url, port=port, cors_origins=app_origin if allowed else "https://elsewhere.test"
    )
    try:
        page = browser.new_page()
        page.goto(f"{app_origin}/healthz")
        page.evaluate(
            """async ([token, topic, api, threadId]) => {
                const { createClient } = await import("/static/threadcast.js");
                const tc = (window.tc = { events: [], statuses: [], written: null });
                const client = createClient(api, { token, pauseWhenHiddenMs: null });
                client.channel(topic)
                    .on("postgres_changes", { event: "INSERT", table: "ticket_notes" },
                        (payload) => tc.events.push(payload.new.body))
                    .subscribe((status) => {
                        tc.statuses.push(status);
                        // Written once the stream has answered: a note committed before the
                        // stream is live would not be on it (it starts live).
                        if (tc.statuses.length > 1) return;
                        tc.write = client.rest.addNote(threadId, "from another origin")
                            .then((note) => (tc.written = note.body), (e) => (tc.written = e.name));
                    });
            }""",
            [server.token(world.agent), world.topic, server.url, str(world.thread)],
        )
        if allowed:
            page.wait_for_function("tc.events.includes('from another origin')", timeout=15_000)
            assert page.evaluate("tc.statuses")[0] == "SUBSCRIBED"
            page.wait_for_function("tc.written === 'from another origin'", timeout=5_000)
        else:
            page.wait_for_function("tc.statuses.includes('CHANNEL_ERROR')", timeout=15_000)
            assert "SUBSCRIBED" not in page.evaluate("tc.statuses")
            # The browser refuses to send a write it may not read the answer of (preflight).
            page.wait_for_timeout(500)
            assert page.evaluate("tc.written") is None  # queued: it looks like a network failure
            notes = conn.execute(
                "select count(*) from ticket_notes where body = 'from another origin'"
            ).fetchone()
            assert notes == (0,)
    finally:
        server.stop()


def test_the_declarations_are_served_next_to_the_client(live_server: RunningServer) -> None:
    static = Path(__file__).resolve().parents[2] / "server" / "threadcast" / "static"
    for name in ("threadcast.js", "threadcast.d.ts"):
        response = httpx.get(f"{live_server.url}/static/{name}")
        assert response.status_code == 200
        assert response.text == (static / name).read_text()
    assert (
        "javascript" in httpx.get(f"{live_server.url}/static/threadcast.js").headers["content-type"]
    )
