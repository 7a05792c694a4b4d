"""Hostile input at every trust boundary, generated with hypothesis, against ONE real server.

Every string a client controls is attacked: channel names, `on` binding specs and filter
values, Last-Event-ID (header and query), the query string itself, JSON bodies, If-Match,
path uuids, token claims and raw token bytes, raw header bytes (CRLF, NUL, non-ASCII).
After every example:

1. nothing answered 5xx or crashed (the server's error log stays empty, /healthz and a normal
   subscribe still work at the end);
2. every rejection is a 4xx JSON body with `error` and `message` (the only exception: a request
   uvicorn's HTTP parser refuses before the app sees it, a plain-text 400);
3. no event of a ticket the caller cannot see reaches them, and customers never see internal
   notes, whatever channel, filter or Last-Event-ID they send (replays included), and three
   long-lived watcher streams see nothing they should not during all the writes;
4. the database fingerprint (every public table's rows, the log, the catalogs, roles,
   policies and functions) is unchanged, except the one row a legitimate write made;
5. every bad token is a 401, every oversized input a 4xx, each within a few seconds.

Profiles: `THREADCAST_HYPOTHESIS_PROFILE=thorough` runs over 10,000 cases; the default profile
keeps the module around a minute. The totals are printed at the end of the module.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import socket
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import httpx
import jwt
import psycopg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tests.conftest import _janitor, database_url_for
from tests.servers import TEST_SECRET, RunningServer, start_server
from tests.support import World, fixed_uuid, seed_world
from threadcast import auth
from threadcast.api import IF_MATCH_RE
from threadcast.stream import CURSOR_RE

pytestmark = pytest.mark.hostile

# Profiles ----------------------------------------------------------------------------------

_COMMON: dict[str, Any] = {
    "deadline": None,  # network round trips vary; the timing bounds below are explicit
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
    "database": None,  # no .hypothesis/ directory in the work tree
    "print_blob": True,  # a failure prints @reproduce_failure
}
settings.register_profile("threadcast-default", max_examples=10, **_COMMON)
settings.register_profile("threadcast-thorough", max_examples=120, **_COMMON)
PROFILE = os.environ.get("THREADCAST_HYPOTHESIS_PROFILE", "default")
BASE = settings.get_profile(f"threadcast-{PROFILE}")


def examples(weight: int) -> settings:
    """The profile's example count times `weight` (cheap tests get more examples)."""
    return settings(BASE, max_examples=BASE.max_examples * weight)


CASES: Counter[str] = Counter()
# What uvicorn's HTTP parser (h11) answers to a request it cannot parse, before the app sees
# it: header bytes that are not allowed, or headers over h11's 16 KiB buffer when they arrive
# in pieces. Plain text, not JSON; the app cannot change it.
UVICORN_PROTOCOL_400 = b"Invalid HTTP request received."
TIME_BOUND = 5.0  # seconds: generous; says "answered", not "fast"
STREAM_DEADLINE = 3.0  # read a 200 stream this long at most, for `subscribed`

# The world, plus a second thread on the other ticket --------------------------------------

W = World()
OTHER_THREAD = fixed_uuid(0x7102)
UNKNOWN = fixed_uuid(0xDEAD)
OTHER_TOPIC = f"ticket-threads:{W.other_ticket}"
USERS = {
    "agent": W.agent,
    "customer": W.customer,
    "stranger": W.stranger,
    "other_agent": W.other_agent,
}
# What each user may see: tickets, and whether internal notes too.
VISIBLE = {
    W.agent: ({W.ticket}, True),
    W.customer: ({W.ticket}, False),
    W.stranger: ({W.other_ticket}, False),  # the requester of the other ticket
    W.other_agent: ({W.other_ticket}, True),
}
THREAD_TICKET = {W.thread: W.ticket, OTHER_THREAD: W.other_ticket}
# Bodies seeded into the log, and who must never see them.
SECRETS = {
    "SECRET-A-INTERNAL": {W.customer, W.stranger, W.other_agent},
    "Customer is VIP": {W.customer, W.stranger, W.other_agent},
    "SECRET-A-PUBLIC": {W.stranger, W.other_agent},
    "SECRET-B-INTERNAL": {W.customer, W.stranger, W.agent},
    "SECRET-B-PUBLIC": {W.customer, W.agent},
}

# Classic attacks, mixed into every generated string ----------------------------------------

CLASSIC = [
    "'; drop table ticket_notes; --",
    '") or 1=1 --',
    "' or '1'='1",
    "1' or 1=1; --",
    "'; select pg_sleep(30); --",
    "1; select pg_sleep(30)",
    "' union select null, current_user, null --",
    "$$; drop table tickets; $$",
    "\\'; truncate realtime.messages; --",
    "'; update ticket_notes set internal = false; --",
    "'; grant authenticated to anon; --",
    "'; set role postgres; --",
    "1)); delete from realtime.messages where ((1=1",
    "%00",
    "\x00",
    "a\x00b",
    "%0d%0aSet-Cookie: pwned=1",
    "\r\nX-Injected: 1",
    "\r\n\r\nHTTP/1.1 200 OK\r\n",
    "\n",
    "\r",
    "\t",
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f",
    "..\\..\\windows\\win.ini",
    "/v1/channels/ticket-threads:00000000-0000-0000-0000-000000007001/stream",
    "ticket-threads:00000000-0000-0000-0000-000000007001",
    "ticket-threads:00000000-0000-0000-0000-000000007002",
    "ticket-threads:*",
    "ticket-threads:%",
    "ticket-threads:",
    "*",
    "%",
    "_",
    "☃",
    "\U0001d54f\U0001d550\u2124",  # double-struck XYZ
    "\u202egnp.exe",
    "\ufeff",
    "\u2028\u2029",
    "Ω≈ç√∫",
    "🔥" * 10,
    "٠١٢٣-٤٥",  # Arabic-Indic digits: \d matches them
    "A" * 5000,
    "${jndi:ldap://evil/x}",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "null",
    "true",
    "[]",
    "{}",
    "-1",
    "0",
    "1e309",
    "NaN",
    "Infinity",
    "9" * 30,
    "1-1",
    "0-0",
    "999999999999999999-999999999999999999",
    "-1--1",
    " 1-1 ",
    "1-1\n",
    str(W.agent),
    str(W.ticket),
    "{" + str(W.ticket) + "}",
    "urn:uuid:" + str(W.ticket),
    str(W.ticket).upper(),
    str(W.ticket).replace("-", ""),
    str(W.ticket) + "' or '1'='1",
]

classic = st.sampled_from(CLASSIC)
short_text = st.text(max_size=40)
hostile_text = st.one_of(
    classic,
    short_text,
    st.builds(lambda a, b: a + b, classic, short_text),
    st.builds(lambda a, b: a + b, short_text, classic),
    st.text(alphabet=st.characters(codec="ascii"), max_size=80),
    # Control characters, NUL included, around ordinary text.
    st.builds(
        lambda a, b: a + b,
        st.text(alphabet=st.characters(max_codepoint=0x1F), min_size=1, max_size=4),
        short_text,
    ),
)
# Header values: what a raw client can put on the wire (anything but CR, LF and NUL, which
# the header-injection test sends raw).
header_text = hostile_text.map(lambda s: s.replace("\r", "").replace("\n", "").replace("\x00", ""))

uuid_like = st.one_of(
    st.uuids().map(str),
    st.sampled_from(
        [str(W.ticket), str(W.other_ticket), str(W.thread), str(OTHER_THREAD), str(UNKNOWN)]
    ),
)

# Fixtures: one database, one server, three watchers for the whole module ------------------


class CapturedLog(logging.Handler):
    """Errors the server logs: an exception in the app or a failed read is a crash."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        serious = record.levelno >= logging.ERROR
        failed_read = record.name.startswith("threadcast.hub") and "failed" in record.msg
        if serious or failed_read:
            self.records.append(record)

    def lines(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records]


class Env:
    """Everything the tests share. Not a dataclass: hypothesis pretty-prints dataclasses
    field by field in every failure report."""

    def __init__(
        self,
        database_url: str,
        conn: psycopg.Connection,
        server: RunningServer,
        client: httpx.Client,
        tokens: dict[uuid.UUID, str],
        log: CapturedLog,
    ) -> None:
        self.database_url = database_url
        self.conn = conn
        self.server = server
        self.client = client
        self.tokens = tokens
        self.log = log
        self.watchers: dict[str, Any] = {}
        self.note_ids: dict[str, uuid.UUID] = {}

    def auth(self, user: uuid.UUID) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"Env({self.server.url})"


@pytest.fixture(scope="module")
def hostile_database_url(server_url: str, template_dbname: str) -> Iterator[str]:
    """One migrated database for the whole module (conftest's per-test one, module-scoped)."""
    name = f"threadcast_hostile_{uuid.uuid4().hex[:10]}"
    with _janitor(server_url, name, template_dbname=template_dbname):
        yield database_url_for(server_url, name)


def _seed_log(conn: psycopg.Connection) -> dict[str, uuid.UUID]:
    """More for the log to replay: notes of both tickets, public and internal, edited and
    deleted, and AI status events of both threads."""
    conn.execute(
        "insert into ticket_threads (id, ticket_id, subject, created_by) values (%s, %s, %s, %s)",
        (OTHER_THREAD, W.other_ticket, "SECRET-B-PUBLIC thread", W.stranger),
    )
    ids: dict[str, uuid.UUID] = {}
    for key, thread, ticket, author, body, internal in (
        ("a_internal", W.thread, W.ticket, W.agent, "SECRET-A-INTERNAL 1", True),
        ("a_public", W.thread, W.ticket, W.agent, "SECRET-A-PUBLIC 1", False),
        ("b_internal", OTHER_THREAD, W.other_ticket, W.other_agent, "SECRET-B-INTERNAL 1", True),
        ("b_public", OTHER_THREAD, W.other_ticket, W.stranger, "SECRET-B-PUBLIC 1", False),
        ("patch_me", W.thread, W.ticket, W.agent, "SECRET-A-PUBLIC patch target", False),
        ("customer_own", W.thread, W.ticket, W.customer, "SECRET-A-PUBLIC customer", False),
    ):
        row = conn.execute(
            "insert into ticket_notes (thread_id, ticket_id, author_id, body, internal)"
            " values (%s, %s, %s, %s, %s) returning id",
            (thread, ticket, author, body, internal),
        ).fetchone()
        assert row is not None
        ids[key] = row[0]
    # Edits that stay on the same side of `internal`, and deletes of both kinds.
    conn.execute(
        "update ticket_notes set body = 'SECRET-A-INTERNAL 2' where id = %s", (ids["a_internal"],)
    )
    conn.execute(
        "update ticket_notes set body = 'SECRET-B-INTERNAL 2' where id = %s", (ids["b_internal"],)
    )
    for _key, thread, ticket, author, body, internal in (
        ("a_internal_gone", W.thread, W.ticket, W.agent, "SECRET-A-INTERNAL 3", True),
        ("b_public_gone", OTHER_THREAD, W.other_ticket, W.stranger, "SECRET-B-PUBLIC 3", False),
    ):
        conn.execute(
            "insert into ticket_notes (thread_id, ticket_id, author_id, body, internal)"
            " values (%s, %s, %s, %s, %s)",
            (thread, ticket, author, body, internal),
        )
        conn.execute("delete from ticket_notes where body = %s", (body,))
    for thread, sub in ((W.thread, W.agent), (OTHER_THREAD, W.other_agent)):
        conn.execute(
            "select set_config('request.jwt.claims', %s, false)", (json.dumps({"sub": str(sub)}),)
        )
        conn.execute("select set_thread_ai_status(%s, 'processing', 10)", (thread,))
    conn.execute("select set_config('request.jwt.claims', '', false)")
    return ids


@pytest.fixture(scope="module")
def env(hostile_database_url: str) -> Iterator[Env]:
    captured = CapturedLog()
    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "threadcast", "starlette")]
    for lg in loggers:
        lg.addHandler(captured)
    with psycopg.connect(hostile_database_url, autocommit=True) as conn:
        seed_world(conn)
        ids = _seed_log(conn)
        server = start_server(
            hostile_database_url,
            # Thousands of connects from 127.0.0.1: the per-IP limit is tested in test_limits.
            connect_attempts_per_ip_per_minute=10**9,
            max_connections_per_user=10_000,
        )
        try:
            server.wait_listening()
            tokens = {u: server.token(u, ttl_seconds=4 * 3600) for u in USERS.values()}
            with httpx.Client(base_url=server.url, timeout=httpx.Timeout(10)) as client:
                e = Env(hostile_database_url, conn, server, client, tokens, captured)
                e.note_ids = ids
                e.watchers = _start_watchers(e)
                yield e
                for watcher in e.watchers.values():
                    watcher.close()
        finally:
            server.stop()
            for lg in loggers:
                lg.removeHandler(captured)


def _start_watchers(e: Env) -> dict[str, Any]:
    from tests.sse import StreamReader, stream_url

    watchers = {
        "customer": (W.customer, W.topic),
        "stranger": (W.stranger, OTHER_TOPIC),
        "other_agent": (W.other_agent, OTHER_TOPIC),
    }
    started = {}
    for name, (user, topic) in watchers.items():
        reader = StreamReader(stream_url(e.server.url, topic), e.tokens[user]).start()
        reader.wait_subscribed()
        started[name] = reader
    return started


@pytest.fixture(scope="module", autouse=True)
def case_report(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.monotonic()
    yield
    seconds = time.monotonic() - started
    lines = [f"  {name}: {count}" for name, count in sorted(CASES.items())]
    report = (
        f"\n[hostile] profile={PROFILE}: {sum(CASES.values())} cases in {seconds:.1f} s\n"
        + "\n".join(lines)
    )
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
        print(report, flush=True)


def count(name: str) -> None:
    CASES[name] += 1


# The database fingerprint -------------------------------------------------------------------

WRITABLE = ("ticket_notes", "ticket_threads", "thread_ai_status")


def fingerprint(conn: psycopg.Connection, *, except_writable: bool = False) -> dict[str, Any]:
    """Rows of every public table, the log's size, and the catalog an injection could touch."""
    tables = [
        r[0]
        for r in conn.execute(
            "select tablename from pg_tables where schemaname = 'public' order by 1"
        ).fetchall()
    ]
    parts = [
        f"(select count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' order by"
        f" t::text)), '') from public.{sql.Identifier(name).as_string(conn)} t)"
        for name in tables
        if not (except_writable and name in WRITABLE)
    ]
    catalog = [
        "(select string_agg(schemaname || '.' || tablename, ',' order by schemaname, tablename)"
        " from pg_tables where schemaname in ('public', 'realtime'))",
        "(select md5(string_agg(rolname || rolsuper::text || rolinherit::text"
        " || rolcreaterole::text || rolcreatedb::text || rolcanlogin::text"
        " || rolbypassrls::text, ',' order by rolname)) from pg_roles)",
        "(select md5(string_agg(m, ',' order by m)) from (select roleid::regrole::text"
        " || '>' || member::regrole::text as m from pg_auth_members) a)",
        "(select md5(string_agg(p, ',' order by p)) from (select schemaname || tablename"
        " || policyname || coalesce(qual, '') || coalesce(with_check, '') || roles::text as p"
        " from pg_policies) ps)",
        "(select md5(string_agg(f, ',' order by f)) from (select p.oid::regprocedure::text"
        " || md5(p.prosrc) || p.prosecdef::text || coalesce(p.proconfig::text, '') as f"
        " from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname in ('public', 'realtime')) fs)",
        "(select md5(string_agg(t::text, ',' order by t::text)) from realtime.tables t)",
        "(select md5(string_agg(c::text, ',' order by c::text)) from realtime.channels c)",
        "(select string_agg(relname || relrowsecurity::text, ',' order by relname) from pg_class"
        " where relnamespace in ('public'::regnamespace, 'realtime'::regnamespace)"
        " and relkind = 'r')",
    ]
    if not except_writable:
        catalog.append("(select count(*)::text || '/' || max(id)::text from realtime.messages)")
    row = conn.execute("select " + ", ".join(parts + catalog)).fetchone()
    assert row is not None
    names = [t for t in tables if not (except_writable and t in WRITABLE)]
    catalog_names = [
        "tables",
        "roles",
        "memberships",
        "policies",
        "functions",
        "realtime.tables",
        "realtime.channels",
        "rls",
        "messages",
    ]
    return dict(zip(names + catalog_names, row, strict=False))


@contextlib.contextmanager
def unchanged(e: Env, *, except_writable: bool = False) -> Iterator[None]:
    before = fingerprint(e.conn, except_writable=except_writable)
    yield
    after = fingerprint(e.conn, except_writable=except_writable)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not changed, f"the database changed: {changed}"


# Checking answers ---------------------------------------------------------------------------


def assert_json_rejection(status: int, content_type: str, body: bytes, *, where: str) -> None:
    assert 400 <= status < 500, f"{where}: {status} {body[:300]!r}"
    assert content_type.startswith("application/json"), (
        f"{where}: {status} is {content_type!r}: {body[:200]!r}"
    )
    parsed = json.loads(body)
    assert isinstance(parsed, dict), parsed
    assert isinstance(parsed.get("error"), str) and parsed["error"], parsed
    assert isinstance(parsed.get("message"), str) and parsed["message"], parsed


def check(
    response: httpx.Response, allowed: set[int], where: str = "", *, huge: bool = False
) -> None:
    """Never 5xx; an allowed status; every 4xx a JSON error with a message. With `huge`
    headers, uvicorn's parser may refuse the request before the app sees it (plain 400)."""
    status = response.status_code
    if huge and status == 400 and response.content == UVICORN_PROTOCOL_400:
        return
    assert status < 500, f"{where}: {status} {response.text[:500]}"
    assert status in allowed, f"{where}: {status} not in {sorted(allowed)}: {response.text[:300]}"
    if status >= 400:
        assert_json_rejection(
            status, response.headers.get("content-type", ""), response.content, where=where
        )


@dataclass
class Event:
    event: str
    id: str | None
    data: str


@dataclass
class StreamAnswer:
    status: int
    content_type: str
    body: bytes  # the error body, when not 200
    events: list[Event]
    subscribed: bool
    seconds: float


def parse_sse(lines: Iterator[str], deadline: float) -> tuple[list[Event], bool]:
    """Events until the `subscribed` system event (True) or the deadline (False)."""
    events: list[Event] = []
    fields: dict[str, str] = {}
    data: list[str] = []
    with contextlib.suppress(httpx.ReadTimeout, httpx.RemoteProtocolError, StopIteration):
        for line in lines:
            if line == "":
                if fields or data:
                    ev = Event(fields.get("event", "message"), fields.get("id"), "\n".join(data))
                    events.append(ev)
                    if ev.event == "system" and json.loads(ev.data).get("type") == "subscribed":
                        return events, True
                fields, data = {}, []
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
            if time.monotonic() > deadline:
                break
    return events, False


def open_stream(
    e: Env,
    channel: str,
    *,
    headers: dict[str, str] | None = None,
    params: Any = None,
    quoted: bool = True,
) -> StreamAnswer:
    path = "/v1/channels/" + (quote(channel, safe="") if quoted else channel) + "/stream"
    started = time.monotonic()
    timeout = httpx.Timeout(TIME_BOUND, read=STREAM_DEADLINE)
    with e.client.stream("GET", path, headers=headers, params=params, timeout=timeout) as r:
        if r.status_code != 200:
            body = r.read()
            return StreamAnswer(
                r.status_code,
                r.headers.get("content-type", ""),
                body,
                [],
                False,
                time.monotonic() - started,
            )
        assert r.headers["content-type"].startswith("text/event-stream")
        events, subscribed = parse_sse(r.iter_lines(), started + STREAM_DEADLINE)
    return StreamAnswer(
        200, "text/event-stream", b"", events, subscribed, time.monotonic() - started
    )


def check_stream(answer: StreamAnswer, allowed: set[int], where: str) -> None:
    assert answer.status < 500, f"{where}: {answer.status} {answer.body[:300]!r}"
    assert answer.status in allowed, f"{where}: {answer.status} {answer.body[:300]!r}"
    assert answer.seconds < TIME_BOUND + STREAM_DEADLINE, f"{where}: took {answer.seconds:.1f} s"
    if answer.status >= 400:
        assert_json_rejection(answer.status, answer.content_type, answer.body, where=where)


def on_the_wire(value: str) -> str:
    """A header value as the server reads it: sent as UTF-8, decoded as latin-1."""
    return value.encode().decode("latin-1")


def head_tick(e: Env) -> int:
    row = e.conn.execute("select max(tick_id) from realtime.ticks").fetchone()
    assert row is not None
    return row[0]


def check_subscribed_or_waiting(e: Env, answer: StreamAnswer, cursor: str | None) -> None:
    """A 200 stream says `subscribed` quickly, unless the client claims a position past what
    the server has fanned out (then it waits for the log to get there, by design)."""
    if answer.status != 200 or answer.subscribed:
        return
    parsed = CURSOR_RE.match(cursor.strip()) if cursor else None
    assert parsed is not None and int(parsed[1]) >= head_tick(e), (
        f"200 stream did not say subscribed within {STREAM_DEADLINE} s (cursor {cursor!r})"
    )


def assert_no_leak(user: uuid.UUID, events: list[Event], where: str) -> None:
    tickets, sees_internal = VISIBLE[user]
    for ev in events:
        for marker, forbidden in SECRETS.items():
            assert not (user in forbidden and marker in ev.data), (
                f"{where}: {user} got {marker!r} in {ev.event} {ev.data[:300]}"
            )
        if ev.event == "postgres_changes":
            payload = json.loads(ev.data)
            for row in (payload.get("new"), payload.get("old")):
                if not row:
                    continue
                ticket = uuid.UUID(row.get("ticket_id") or str(UNKNOWN))
                assert ticket in tickets, f"{where}: {user} got an event of ticket {ticket}"
                if payload["table"] == "ticket_notes" and not sees_internal:
                    assert row["internal"] is False, f"{where}: {user} got an internal note {row}"
        elif ev.event == "ai_status":
            thread = uuid.UUID(json.loads(ev.data)["threadId"])
            assert THREAD_TICKET.get(thread) in tickets, f"{where}: {user} got AI of {thread}"


# Raw HTTP: for bytes httpx (rightly) refuses to send ---------------------------------------


@dataclass
class RawAnswer:
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes
    seconds: float

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k == name), "")


def raw_http(port: int, request: bytes, *, timeout: float = TIME_BOUND) -> RawAnswer:
    """Send bytes as they are; read one response (a 200 event stream: until `subscribed`)."""
    started = time.monotonic()
    buf = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(request)

        def more() -> bool:
            nonlocal buf
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                return False
            buf += chunk
            return bool(chunk)

        while b"\r\n\r\n" not in buf:
            if not more():
                return RawAnswer(None, [], buf, time.monotonic() - started)
        head, _, rest = buf.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        headers = []
        for line in header_lines:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        hdr = dict(headers)
        buf = rest
        if "content-length" in hdr:
            while len(buf) < int(hdr["content-length"]) and more():
                pass
            body = buf[: int(hdr["content-length"])]
        elif hdr.get("transfer-encoding") == "chunked":
            body = b""
            deadline = started + timeout
            while time.monotonic() < deadline:
                if b"\r\n" not in buf:
                    if not more():
                        break
                    continue
                size_line, _, after = buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    break
                while len(after) < size + 2 and more():
                    after = buf.partition(b"\r\n")[2]
                body += after[:size]
                buf = after[size + 2 :]
                if b'"subscribed"' in body:
                    break
        else:
            while more():
                pass
            body = buf
    return RawAnswer(status, headers, body, time.monotonic() - started)


def check_raw(answer: RawAnswer, allowed: set[int], where: str) -> None:
    assert answer.status is not None, f"{where}: no response at all ({answer.body[:100]!r})"
    assert answer.status < 500, f"{where}: {answer.status} {answer.body[:300]!r}"
    assert answer.seconds < TIME_BOUND + 1, f"{where}: took {answer.seconds:.1f} s"
    if answer.status == 400 and answer.body == UVICORN_PROTOCOL_400:
        return  # refused by uvicorn's HTTP parser before the app saw the request
    assert answer.status in allowed, f"{where}: {answer.status} {answer.body[:300]!r}"
    if answer.status >= 400:
        assert_json_rejection(
            answer.status, answer.header("content-type"), answer.body, where=where
        )
    # Nothing the client sent comes back as a header of its own.
    names = {k for k, _ in answer.headers}
    assert not names & {"x-injected", "set-cookie", "location"}, answer.headers


def raw_request(
    method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [k + b": " + v for k, v in headers]
    lines += [b"Connection: close", b"Content-Length: " + str(len(body)).encode()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# Subscription input: channel names, `on` specs, filters -------------------------------------

EVENTS = ["INSERT", "UPDATE", "DELETE", "*", "insert", "TRUNCATE", "SELECT"]
TABLES = [
    "public.ticket_notes",
    "public.ticket_threads",
    "public.tickets",
    "realtime.messages",
    "pg_catalog.pg_authid",
    "public.users",
]
COLUMNS = [
    "body",
    "internal",
    "version",
    "ticket_id",
    "thread_id",
    "author_id",
    "id",
    "created_at",
    "updated_at",
    "subject",
    "status",
    "nope",
]
OPS = ["eq", "neq", "lt", "lte", "gt", "gte", "in", "like", "is", "cs"]
VALID_SPECS = [
    "INSERT:public.ticket_notes",
    "*:public.ticket_notes",
    "UPDATE:public.ticket_threads",
    "DELETE:public.ticket_notes:internal=eq.true",
    "ai_status",
    f"*:public.ticket_notes:ticket_id=eq.{W.ticket}",
    f"*:public.ticket_notes:ticket_id=in.({W.ticket},{W.other_ticket})",
    "*:public.ticket_notes:version=gte.1",
    "*:public.ticket_notes:created_at=gt.2000-01-01T00:00:00Z",
    "*:public.ticket_notes:body=in.(a,b)",
]

filter_value = st.one_of(
    hostile_text,
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.datetimes().map(lambda d: d.isoformat()),
    uuid_like,
    st.lists(hostile_text, max_size=5).map(lambda xs: "(" + ",".join(xs) + ")"),
    st.just("(" + ",".join(["x"] * 101) + ")"),
)
built_spec = st.builds(
    lambda ev, tbl, col, op, val, with_filter: (
        f"{ev}:{tbl}:{col}={op}.{val}" if with_filter else f"{ev}:{tbl}"
    ),
    st.sampled_from(EVENTS),
    st.sampled_from(TABLES),
    st.one_of(st.sampled_from(COLUMNS), hostile_text),
    st.one_of(st.sampled_from(OPS), hostile_text),
    filter_value,
    st.booleans(),
)
spec = st.one_of(st.sampled_from(VALID_SPECS), built_spec, hostile_text)
channel = st.one_of(
    st.sampled_from([W.topic, OTHER_TOPIC]),
    hostile_text,
    st.builds(
        lambda p, k: p + k, st.sampled_from(["ticket-threads:", "ticket-threads", ""]), hostile_text
    ),
    st.builds(lambda k: "ticket-threads:" + k, uuid_like),
    st.builds(lambda s: W.topic + s, hostile_text),
    st.text(alphabet="ticket-hreads:0123456789abcdefABCDEF._-", min_size=1, max_size=60),
)
cursor_text = st.one_of(
    st.sampled_from(["0-0", "0-1", "1-0", "1-1", "2-5"]),
    st.builds(lambda a, b: f"{a}-{b}", st.integers(0, 40), st.integers(0, 10**6)),
    st.builds(lambda a, b: f"{a}-{b}", st.integers(-(10**20), 10**20), st.integers()),
    header_text,
)


@examples(6)
@given(name=channel, agent_or_customer=st.sampled_from([W.agent, W.customer]))
def test_channel_names(env: Env, name: str, agent_or_customer: uuid.UUID) -> None:
    count("channel names")
    with unchanged(env):
        answer = open_stream(env, name, headers=env.auth(agent_or_customer))
    check_stream(answer, {200, 400, 403, 404}, f"channel {name!r}")
    check_subscribed_or_waiting(env, answer, None)
    assert_no_leak(agent_or_customer, answer.events, f"channel {name!r}")


@examples(6)
@given(
    specs=st.lists(spec, max_size=24),
    cursor=st.one_of(st.none(), st.just("0-0")),
    user=st.sampled_from([W.agent, W.customer]),
)
def test_on_specs_and_filters(
    env: Env, specs: list[str], cursor: str | None, user: uuid.UUID
) -> None:
    """Bindings and filter values, replayed over the whole log ("0-0") half of the time so
    the filters run against real rows."""
    count("on specs")
    headers = env.auth(user) | ({"Last-Event-ID": cursor} if cursor else {})
    with unchanged(env):
        answer = open_stream(env, W.topic, headers=headers, params={"on": specs})
    check_stream(answer, {200, 400, 414}, f"on={specs!r}")
    check_subscribed_or_waiting(env, answer, cursor)
    assert_no_leak(user, answer.events, f"on={specs!r}")
    if answer.status == 400:
        assert len(specs) > 0


@examples(6)
@given(
    cursor=cursor_text,
    how=st.sampled_from(["header", "query", "both"]),
    user=st.sampled_from([W.agent, W.customer]),
)
def test_last_event_id(env: Env, cursor: str, how: str, user: uuid.UUID) -> None:
    headers: dict[str, Any] = env.auth(user)
    params: dict[str, str] = {}
    if how in ("header", "both"):
        headers["Last-Event-ID"] = cursor.encode()
    if how in ("query", "both"):
        params["last_event_id"] = cursor
    try:
        with unchanged(env):
            answer = open_stream(env, W.topic, headers=headers, params=params)
    except httpx.LocalProtocolError:
        assume(False)  # control characters: the raw test sends such bytes
        return
    count("last-event-id")
    check_stream(answer, {200, 400}, f"Last-Event-ID {cursor!r} ({how})")
    if answer.status == 200:
        sent = (cursor if how == "query" else on_the_wire(cursor)).strip()
        assert sent == "" or CURSOR_RE.match(sent), f"accepted cursor {cursor!r} ({how})"
    check_subscribed_or_waiting(env, answer, cursor)
    assert_no_leak(user, answer.events, f"Last-Event-ID {cursor!r}")


AGENT_TOKEN = "<the agent's token>"


@examples(6)
@given(
    params=st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(["on", "last_event_id", "access_token", "channel", "sub"]),
                hostile_text,
            ),
            st.one_of(hostile_text, st.just(AGENT_TOKEN)),
        ),
        max_size=8,
    ),
    path=st.sampled_from(["stream", "threads", "thread", "healthz"]),
)
def test_arbitrary_query_strings(env: Env, params: list[tuple[str, str]], path: str) -> None:
    """Whatever the query string holds: access_token in it authenticates (or 401s)."""
    count("query strings")
    params = [(k, env.tokens[W.agent] if v == AGENT_TOKEN else v) for k, v in params]
    url = {
        "stream": f"/v1/channels/{W.topic}/stream",
        "threads": f"/v1/tickets/{W.ticket}/threads",
        "thread": f"/v1/threads/{W.thread}",
        "healthz": "/healthz",
    }[path]
    with unchanged(env):
        if path == "stream":
            answer = open_stream(env, W.topic, params=params)
            check_stream(answer, {200, 400, 401, 403, 414}, f"query {params!r}")
            assert_no_leak(W.agent, answer.events, "query")
            if answer.status == 200:
                assert any(v == env.tokens[W.agent] for k, v in params if k == "access_token")
        else:
            response = env.client.get(url, params=params)
            authed = any(k == "access_token" for k, _ in params)
            allowed = {200} if path == "healthz" or authed else {401}
            check(response, allowed | {401, 414}, f"query {params!r} on {url}")


# Who sees what: the leak oracle -------------------------------------------------------------


@examples(8)
@given(
    user=st.sampled_from([W.customer, W.stranger, W.other_agent]),
    name=st.one_of(
        st.sampled_from(
            [
                W.topic,
                OTHER_TOPIC,
                W.topic.upper(),
                "ticket-threads:" + str(W.ticket).upper(),
                "ticket-threads:" + str(W.ticket).replace("-", ""),
                W.topic + "\n",
                W.topic + "%00",
                W.topic + " ",
                " " + W.topic,
                OTHER_TOPIC + "/../" + W.topic,
            ]
        ),
        channel,
    ),
    specs=st.one_of(
        st.just([]), st.lists(st.one_of(st.sampled_from(VALID_SPECS), spec), max_size=4)
    ),
    cursor=st.one_of(st.none(), st.sampled_from(["0-0", "0-1", "1-0"]), cursor_text),
    how=st.sampled_from(["header", "query"]),
)
def test_no_event_of_an_invisible_ticket_or_internal_note_is_delivered(
    env: Env, user: uuid.UUID, name: str, specs: list[str], cursor: str | None, how: str
) -> None:
    headers: dict[str, Any] = env.auth(user)
    params: dict[str, Any] = {"on": specs}
    if cursor is not None:
        if how == "header":
            headers["Last-Event-ID"] = cursor.encode()
        else:
            params["last_event_id"] = cursor
    try:
        with unchanged(env):
            answer = open_stream(env, name, headers=headers, params=params)
    except httpx.LocalProtocolError:
        assume(False)
        return
    count("leaks")
    where = f"{user} on {name!r} on={specs!r} cursor={cursor!r}"
    check_stream(answer, {200, 400, 403, 404, 414}, where)
    assert_no_leak(user, answer.events, where)
    if answer.status == 200:
        # A 200 on the world ticket's channel can only be the customer's.
        key = name.split(":", 1)[-1].strip().lower().replace("-", "")
        if key == str(W.ticket).replace("-", ""):
            assert user == W.customer, where
    check_subscribed_or_waiting(env, answer, cursor if how == "header" else None)


# Tokens ---------------------------------------------------------------------------------------

NOW = int(time.time())


def sign(claims: dict[str, Any], key: str = TEST_SECRET, algorithm: str = "HS256", **kw) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, **kw)


def hs512(claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():  # the test secret is short for HS512: that is fine here
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return sign(claims, algorithm="HS512")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tampered(user: uuid.UUID, as_user: uuid.UUID) -> str:
    """A token of `user` whose payload was swapped for `as_user`'s after signing."""
    header, _, signature = sign({"sub": str(user), "exp": NOW + 3600}).split(".")
    payload = b64(json.dumps({"sub": str(as_user), "exp": NOW + 3600}).encode())
    return f"{header}.{payload}.{signature}"


def handmade_hs256(claims: dict[str, Any], key: bytes) -> str:
    """HS256 by hand, for keys pyjwt refuses to sign with."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(digest)}"


def unsigned(claims: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def resigned_header(header: dict[str, Any]) -> str:
    """The payload and signature of a valid token under another header."""
    _, payload, signature = sign({"sub": str(W.agent), "exp": NOW + 3600}).split(".")
    return f"{b64(json.dumps(header).encode())}.{payload}.{signature}"


AGENT = str(W.agent)
BAD_TOKENS = {
    "expired": sign({"sub": AGENT, "exp": NOW - 120}),
    "not-yet-valid-nbf": sign({"sub": AGENT, "exp": NOW + 7200, "nbf": NOW + 3600}),
    "not-yet-valid-iat": sign({"sub": AGENT, "exp": NOW + 7200, "iat": NOW + 3600}),
    "wrong-key": sign({"sub": AGENT, "exp": NOW + 3600}, key="x" * 40),
    "empty-key": handmade_hs256({"sub": AGENT, "exp": NOW + 3600}, b""),
    "hs512": hs512({"sub": AGENT, "exp": NOW + 3600}),
    "alg-none": sign({"sub": AGENT, "exp": NOW + 3600}, key="", algorithm="none"),
    "alg-none-handmade": unsigned({"sub": AGENT, "exp": NOW + 3600}),
    "alg-none-with-signature": resigned_header({"alg": "none", "typ": "JWT"}),
    "header-says-hs512": resigned_header({"alg": "HS512", "typ": "JWT"}),
    "header-says-rs256": resigned_header({"alg": "RS256", "typ": "JWT"}),
    "tampered-sub": tampered(W.stranger, W.agent),
    "signature-stripped": sign({"sub": AGENT, "exp": NOW + 3600}).rsplit(".", 1)[0] + ".",
    "missing-sub": sign({"exp": NOW + 3600}),
    "missing-exp": sign({"sub": AGENT}),
    "int-sub": sign({"sub": 161, "exp": NOW + 3600}),
    "null-sub": sign({"sub": None, "exp": NOW + 3600}),
    "list-sub": sign({"sub": [AGENT], "exp": NOW + 3600}),
    "string-exp": sign({"sub": AGENT, "exp": "tomorrow"}),
    "huge-exp": sign({"sub": AGENT, "exp": 10**400}),
    "negative-exp": sign({"sub": AGENT, "exp": -(10**400)}),
    "bool-exp": sign({"sub": AGENT, "exp": True}),
    "service-role": sign({"sub": AGENT, "exp": NOW + 3600, "role": "service_role"}),
    "postgres-role": sign({"sub": AGENT, "exp": NOW + 3600, "role": "postgres"}),
    "injection-role": sign({"sub": AGENT, "exp": NOW + 3600, "role": "authenticated'; --"}),
    "garbage": "not.a.jwt",
    "empty-segments": "..",
    "one-segment": "eyJhbGciOiJIUzI1NiJ9",
    "bad-base64": "e!.e!.e!",
    "json-array-header": b64(b"[]") + "." + b64(b"{}") + ".",
    "nested-json-header": b64(b"[" * 5000 + b"]" * 5000) + "." + b64(b"{}") + ".",
    "long-but-under-limit": sign({"sub": AGENT, "exp": NOW - 60, "pad": "p" * 6000}),
    "100kb": "a" * 100_000,
    "100kb-signed": sign({"sub": AGENT, "exp": NOW + 3600, "pad": "p" * 100_000}),
}


# Valid tokens whose sub is no uuid (an identity provider's `auth0|...` is one): they pass
# authentication, but are no user of the ticket application, whose users are uuids.
NON_UUID_SUBS = {
    "non-uuid-sub": sign({"sub": "admin", "exp": NOW + 3600}),
    "injection-sub": sign({"sub": "'; drop table ticket_notes; --", "exp": NOW + 3600}),
    "injection-uuid-sub": sign({"sub": AGENT + "' or '1'='1", "exp": NOW + 3600}),
}


@pytest.mark.parametrize("name", list(NON_UUID_SUBS))
def test_non_uuid_subs_are_no_ticket_users(env: Env, name: str) -> None:
    """The ticket API answers 403 sub_not_uuid, the stream 403 forbidden; nothing changes."""
    headers = {"Authorization": f"Bearer {NON_UUID_SUBS[name]}"}
    with unchanged(env):
        for response in (
            env.client.get(f"/v1/tickets/{W.ticket}/threads", headers=headers),
            env.client.post(f"/v1/threads/{W.thread}/notes", headers=headers, json={"body": "x"}),
            env.client.delete(f"/v1/notes/{env.note_ids['a_public']}", headers=headers),
        ):
            assert response.status_code == 403, (name, response.text)
            assert response.json()["error"] == "sub_not_uuid", (name, response.text)
        answer = open_stream(env, W.topic, headers=headers)
        assert answer.status == 403, (name, answer)


@pytest.mark.parametrize("carrier", ["header", "query", "cookie"])
@pytest.mark.parametrize("name", list(BAD_TOKENS))
def test_bad_tokens_are_401_json(env: Env, name: str, carrier: str) -> None:
    """Sent raw: httpx will not build a URL over 64 KiB. A token over the 8 KiB query limit
    is a 414; in a header uvicorn may refuse it first (plain 400); else 401 JSON."""
    token = BAD_TOKENS[name]
    count("bad tokens")
    headers: list[tuple[bytes, bytes]] = []
    query = b""
    if carrier == "header":
        headers.append((b"Authorization", b"Bearer " + token.encode()))
    elif carrier == "query":
        query = b"?access_token=" + quote(token, safe="").encode()
    else:
        headers.append((b"Cookie", f"{auth.COOKIE_NAME}={token}".encode()))
    huge = len(token) > auth.MAX_TOKEN_BYTES
    expected = {414} if huge and carrier == "query" else {401}
    json_headers = [*headers, (b"Content-Type", b"application/json")]
    requests = [
        ("GET", f"/v1/tickets/{W.ticket}/threads", headers, b""),
        ("GET", f"/v1/channels/{W.topic}/stream", headers, b""),
        ("POST", f"/v1/threads/{W.thread}/notes", json_headers, b'{"body": "as whom?"}'),
        ("DELETE", f"/v1/notes/{env.note_ids['a_public']}", headers, b""),
    ]
    with unchanged(env):
        for method, path, hdrs, body in requests:
            where = f"{name} in {carrier}: {method} {path}"
            answer = raw_http(
                env.server.port, raw_request(method, path.encode() + query, hdrs, body)
            )
            check_raw(answer, expected, where)
            if answer.status == 401:
                assert json.loads(answer.body)["error"] == "unauthorized", where


@st.composite
def claims(draw: st.DrawFn) -> dict[str, Any]:
    """Claims of every shape, around the edges pyjwt and auth.decode check. Times stay a
    minute clear of now, so the local oracle and the server agree."""
    time_value = st.one_of(
        st.integers(60, 10**9).map(lambda d: NOW + d),
        st.integers(60, 10**9).map(lambda d: NOW - d),
        st.sampled_from([0, -1, 10**400, -(10**400), 2**63, 2**64, True, False]),
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: abs(f - NOW) > 60),
        hostile_text,
        st.none(),
        st.lists(st.integers(), max_size=2),
    )
    out: dict[str, Any] = {}
    optional = {
        "sub": st.one_of(
            st.sampled_from([str(u) for u in USERS.values()]),
            uuid_like,
            hostile_text,
            st.integers(),
            st.none(),
            st.lists(uuid_like, max_size=2),
            st.sampled_from([AGENT.upper(), "{" + AGENT + "}", "urn:uuid:" + AGENT]),
        ),
        "exp": time_value,
        "nbf": time_value,
        "iat": time_value,
        "role": st.one_of(
            st.sampled_from(["authenticated", "service_role", "anon", "postgres", ""]),
            hostile_text,
        ),
        "aud": hostile_text,
        "jti": st.one_of(hostile_text, st.integers()),
        hostile_text.filter(lambda k: k not in ("sub", "exp", "nbf", "iat", "role")): hostile_text,
    }
    for key, strategy in optional.items():
        if isinstance(key, str):
            if draw(st.integers(0, 4)):  # usually present
                out[key] = draw(strategy)
        elif draw(st.booleans()):
            out[draw(key)] = draw(strategy)
    return out


@examples(10)
@given(
    body=claims(),
    path=st.sampled_from(["threads", "stream"]),
    kid=st.one_of(st.none(), hostile_text),
)
def test_generated_claims(env: Env, body: dict[str, Any], path: str, kid: str | None) -> None:
    """Correctly signed tokens with any claims: the server agrees with auth.decode run
    locally, answers 401 JSON for every refusal, and a valid token sees only its own."""
    try:
        token = sign(body, headers={"kid": kid} if kid is not None else None)
    except (TypeError, ValueError, OverflowError):
        assume(False)  # not encodable as JSON
        return
    count("generated claims")
    try:
        principal: auth.Principal | None = auth.decode(token, env.server.settings)
    except auth.AuthError:
        principal = None
    headers = {"Authorization": f"Bearer {token}"}
    with unchanged(env):
        if path == "threads":
            response = env.client.get(f"/v1/tickets/{W.ticket}/threads", headers=headers)
            status = response.status_code
            check(response, {200, 401, 403, 404}, f"claims {body!r}")
        else:
            answer = open_stream(env, W.topic, headers=headers)
            status = answer.status
            check_stream(answer, {200, 401, 403}, f"claims {body!r}")
    if principal is None:
        assert status == 401, f"claims {body!r} refused locally but {status} from the server"
    else:
        user = principal.identity.user_id  # realtime.uid(): the sub when it is a uuid
        may = user in (W.agent, W.customer)
        if path == "threads" and user is None:
            expected = 403  # sub_not_uuid: the ticket API's users are uuids
        else:
            expected = 200 if may else (404 if path == "threads" else 403)
        assert status == expected, f"claims {body!r}: {status}"


MUTATIONS = ["flip", "delete", "insert", "swap-payload", "swap-header", "truncate", "duplicate"]


@examples(10)
@given(
    how=st.sampled_from(MUTATIONS),
    index=st.integers(0, 10_000),
    text=hostile_text,
    json_value=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), hostile_text),
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(hostile_text, children, max_size=3)
        ),
        max_leaves=6,
    ),
)
def test_mangled_tokens(env: Env, how: str, index: int, text: str, json_value: Any) -> None:
    """A valid token of the customer, edited after signing: 401 unless the edit happened to
    leave a token the key still verifies (base64 padding bits, say)."""
    good = env.tokens[W.customer]
    i = index % len(good)
    header, payload, signature = good.split(".")
    match how:
        case "flip":
            token = good[:i] + (text[:1] or "A") + good[i + 1 :]
        case "delete":
            token = good[:i] + good[i + len(text) + 1 :]
        case "insert":
            token = good[:i] + text + good[i:]
        case "swap-payload":
            token = f"{header}.{b64(json.dumps(json_value).encode())}.{signature}"
        case "swap-header":
            token = f"{b64(json.dumps(json_value).encode())}.{payload}.{signature}"
        case "truncate":
            token = good[:i]
        case _:
            token = good + "." + good
    try:
        token.encode("ascii")
    except UnicodeEncodeError:
        token = quote(token, safe=".")
    try:
        # What the server decodes: auth.token_from strips the header value.
        auth.decode(token.strip(), env.server.settings)
        valid = True
    except auth.AuthError:
        valid = False
    headers = {"Authorization": f"Bearer {token}"}
    with unchanged(env):
        try:
            response = env.client.get(f"/v1/threads/{W.thread}", headers=headers)
        except httpx.LocalProtocolError:
            assume(False)
            return
    count("mangled tokens")
    check(response, {200, 401}, f"{how} -> {token!r}")
    assert (response.status_code == 200) == valid, f"{how} -> {token!r}: {response.status_code}"


# REST API: path ids, bodies, If-Match ---------------------------------------------------------

ROUTES = [
    ("GET", "/v1/tickets/{}/threads"),
    ("POST", "/v1/tickets/{}/threads"),
    ("GET", "/v1/threads/{}"),
    ("POST", "/v1/threads/{}/notes"),
    ("POST", "/v1/threads/{}/ai-status"),
    ("PATCH", "/v1/notes/{}"),
    ("DELETE", "/v1/notes/{}"),
]


@examples(8)
@given(
    route=st.sampled_from(ROUTES),
    ident=st.one_of(hostile_text, uuid_like),
    user=st.sampled_from(list(USERS.values())),
    quoting=st.sampled_from(["all", "keep-slashes"]),
)
def test_path_ids(
    env: Env, route: tuple[str, str], ident: str, user: uuid.UUID, quoting: str
) -> None:
    """Any string where a uuid goes. Bodies are invalid on purpose and DELETE names a
    version no note has, so a valid id never writes: the database must not change."""
    count("path ids")
    method, template = route
    path = template.format(quote(ident, safe="" if quoting == "all" else "/"))
    headers = env.auth(user)
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PATCH"):
        kwargs["json"] = {"no_such_field": ident}
        headers["If-Match"] = "1"
    if method == "DELETE":
        headers["If-Match"] = "999999999"
    with unchanged(env):
        response = env.client.request(method, path, **kwargs)
    if response.status_code == 307:
        # Starlette's redirect_slashes: ".../0%2F" decodes to ".../0/", which a route
        # matches without the slash. Same origin, the slash dropped; the next hop is a 400.
        assert unquote(path).endswith("/"), f"{method} {path}: 307"
        assert response.headers["location"].startswith(env.server.url + "/"), response.headers
        return
    check(response, {200, 400, 403, 404, 405, 412, 422}, f"{method} {path}")
    if response.status_code == 200:
        assert method == "GET"


# JSON may carry what no header or URL can: lone surrogates ("\ud800" is valid JSON).
json_text = st.one_of(
    hostile_text,
    st.sampled_from(["\ud800", "a\udfffb", "\udbff\udfff\ud800", "\x00\ud800", "a\x00"]),
)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**20),  # over bigint and int4
    st.floats(allow_nan=False, allow_infinity=False),
    json_text,
)
json_value = st.recursive(
    json_scalar,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=10,
)
note_body = st.one_of(
    st.fixed_dictionaries({"body": json_text}),
    st.fixed_dictionaries(
        {"body": json_text},
        optional={"internal": st.one_of(st.booleans(), json_scalar), "extra": json_value},
    ),
    st.dictionaries(
        st.one_of(st.sampled_from(["body", "internal", "subject", "status"]), hostile_text),
        json_value,
        max_size=4,
    ),
    json_value,
)
thread_body = st.one_of(
    st.fixed_dictionaries({"subject": json_text}),
    st.dictionaries(st.sampled_from(["subject", "id", "ticket_id"]), json_value, max_size=3),
    json_value,
)
ai_body = st.one_of(
    st.fixed_dictionaries(
        {"status": st.one_of(st.sampled_from(["started", "processing", "failed"]), hostile_text)},
        optional={
            "progress": st.one_of(st.integers(-5, 105), json_scalar),
            "error": st.one_of(st.none(), json_text),
        },
    ),
    json_value,
)


def raw_body(value: Any) -> bytes:
    # Lone surrogates are valid JSON (\ud800) though not valid text: send them escaped.
    return json.dumps(value).encode()


@dataclass
class Write:
    what: str  # note, thread, ai, patch
    user: uuid.UUID
    body: Any


writes = st.one_of(
    st.builds(Write, st.just("note"), st.sampled_from(list(USERS.values())), note_body),
    st.builds(Write, st.just("thread"), st.sampled_from(list(USERS.values())), thread_body),
    st.builds(Write, st.just("ai"), st.sampled_from(list(USERS.values())), ai_body),
    st.builds(
        Write,
        st.just("patch"),
        st.sampled_from([W.agent, W.customer, W.stranger]),
        st.one_of(st.fixed_dictionaries({"body": json_text}), json_value),
    ),
)


@examples(15)
@given(
    write=writes,
    content_type=st.sampled_from(["application/json"] * 3 + ["json-charset", "other"]),
)
def test_json_bodies(env: Env, write: Write, content_type: str) -> None:
    """Hostile JSON bodies. A write the caller may make stores exactly what was sent and
    nothing else; every other outcome changes nothing at all."""
    if write.what == "patch" and isinstance(write.body, dict) and "internal" in write.body:
        # Flipping internal -> public leaks the old row (test_unpublishing_... below).
        assume(False)
    count("json bodies")
    ctype = {
        "application/json": "application/json",
        "json-charset": "Application/JSON; charset=utf-8",
        "other": "text/plain",
    }[content_type]
    headers = env.auth(write.user) | {"Content-Type": ctype}
    patch_note = env.note_ids["patch_me"]
    if write.what == "patch":
        version = env.conn.execute(
            "select version from ticket_notes where id = %s", (patch_note,)
        ).fetchone()[0]
        headers["If-Match"] = f'"{version}"'
    method, path = {
        "note": ("POST", f"/v1/threads/{W.thread}/notes"),
        "thread": ("POST", f"/v1/tickets/{W.ticket}/threads"),
        "ai": ("POST", f"/v1/threads/{W.thread}/ai-status"),
        "patch": ("PATCH", f"/v1/notes/{patch_note}"),
    }[write.what]
    before = fingerprint(env.conn)
    with unchanged(env, except_writable=True):
        response = env.client.request(method, path, content=raw_body(write.body), headers=headers)
    where = f"{method} {path} as {write.user}: {write.body!r}"
    check(response, {200, 201, 400, 403, 404, 415, 422}, where)
    if response.status_code >= 300:
        assert fingerprint(env.conn) == before, where
        if content_type == "other":
            assert response.status_code == 415, where
        return
    sees = VISIBLE[write.user][0]
    assert W.ticket in sees, f"{where}: a write by someone who cannot see the ticket"
    stored = response.json()
    if write.what == "note":
        row = env.conn.execute(
            "select body, internal, author_id from ticket_notes where id = %s", (stored["id"],)
        ).fetchone()
        assert row == (write.body["body"], bool(write.body.get("internal", False)), write.user)
        assert not row[1] or write.user == W.agent, "a customer wrote an internal note"
    elif write.what == "thread":
        row = env.conn.execute(
            "select subject, created_by from ticket_threads where id = %s", (stored["id"],)
        ).fetchone()
        assert row == (write.body["subject"], write.user)
    elif write.what == "patch":
        row = env.conn.execute(
            "select body from ticket_notes where id = %s", (patch_note,)
        ).fetchone()
        assert row == (write.body["body"],), where
        assert write.user == W.agent, f"{where}: only the agent may edit the agent's note"
    else:
        assert stored["status"] == write.body["status"]


@examples(10)
@given(
    value=st.one_of(hostile_text, st.integers().map(str), st.sampled_from(['"1"', 'W/"1"', "*"])),
    method=st.sampled_from(["PATCH", "DELETE"]),
)
def test_if_match(env: Env, value: str, method: str) -> None:
    """If-Match as the customer on the agent's note (they may not change it) and as the agent
    with a body that fails validation: it parses to a version or is a 400, never more."""
    note = env.note_ids["patch_me"]
    user = W.customer if method == "DELETE" else W.agent
    headers: dict[str, Any] = env.auth(user) | {"If-Match": value.encode()}
    try:
        with unchanged(env):
            response = env.client.request(
                method, f"/v1/notes/{note}", headers=headers, json={"body": ""}
            )
    except httpx.LocalProtocolError:
        assume(False)  # control characters: the raw test sends such bytes
        return
    count("if-match")
    parses = IF_MATCH_RE.match(on_the_wire(value).strip()) is not None
    expected = ({403, 412} if method == "DELETE" else {422}) if parses else {400}
    check(response, expected, f"{method} If-Match {value!r}")


# Raw bytes: CRLF, NUL, non-ASCII, traversal -------------------------------------------------

raw_value = st.one_of(
    st.binary(max_size=60),
    hostile_text.map(lambda s: s.encode("utf-8")),
    st.sampled_from(
        [
            b"1-1\r\nX-Injected: 1",
            b"1-1\r\n\r\nGET /v1/notes HTTP/1.1",
            b"x\x00y",
            b"\xff\xfe",
            b"\xc3\xa9",
            b"\r\nSet-Cookie: pwned=1",
            b"\nLocation: http://evil/",
        ]
    ),
)
RAW_TARGETS = [
    b"/v1/channels/" + W.topic.encode() + b"/stream",
    b"/v1/tickets/" + str(W.ticket).encode() + b"/threads",
    b"/v1/notes/" + str(UNKNOWN).encode(),
]


@examples(8)
@given(
    where=st.sampled_from(["last-event-id", "if-match", "authorization", "cookie", "path", "x"]),
    value=raw_value,
    target=st.sampled_from(RAW_TARGETS),
)
def test_raw_header_and_path_bytes(env: Env, where: str, value: bytes, target: bytes) -> None:
    """Bytes no well-behaved client sends: header values with CRLF (header injection), NUL,
    invalid UTF-8, and the same in the request target (path traversal, %00)."""
    count("raw bytes")
    token = env.tokens[W.agent].encode()
    headers = [(b"Authorization", b"Bearer " + token)]
    method = "DELETE" if target.startswith(b"/v1/notes/") else "GET"
    if where == "path":
        target = b"/v1/channels/" + value.replace(b" ", b"%20") + b"/stream"
    elif where == "authorization":
        headers = [(b"Authorization", b"Bearer " + value)]
    elif where == "cookie":
        headers = [(b"Cookie", auth.COOKIE_NAME.encode() + b"=" + value)]
    else:
        name = {"last-event-id": b"Last-Event-ID", "if-match": b"If-Match", "x": b"X-Anything"}
        headers.append((name[where], value))
    with unchanged(env):
        answer = raw_http(env.server.port, raw_request(method, target, headers))
    check_raw(answer, {200, 400, 401, 403, 404, 405, 412, 414}, f"{where}={value!r} {target!r}")
    if answer.status == 200 and b"event-stream" in answer.header("content-type").encode():
        assert b'"subscribed"' in answer.body or where == "last-event-id"


@pytest.mark.parametrize(
    "target",
    [
        b"/v1/channels/../../../../etc/passwd/stream",
        b"/v1/channels/..%2f..%2f..%2fetc%2fpasswd/stream",
        b"/v1/channels/%2e%2e/%2e%2e/stream",
        b"/v1/channels/ticket-threads:%00/stream",
        b"/v1/channels/ticket-threads:" + str(W.ticket).encode() + b"%00/stream",
        b"/v1/channels/ticket-threads:" + str(W.ticket).encode() + b"%0d%0aX-Injected:%201/stream",
        b"/v1/channels/ticket-threads:\xc3\xa9/stream",
        b"/v1/tickets/..%2f..%2fhealthz/threads",
        b"/v1/notes/%27;drop%20table%20ticket_notes;--",
        b"/static/../../../../etc/passwd",
        b"/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        b"/static/%2e%2e/%2e%2e/pyproject.toml",
        b"//v1/notes/x",
        b"/v1/channels/" + b"a" * 100_000 + b"/stream",
        b"*",
        b"http://evil.example/v1/notes/x",
    ],
)
def test_raw_paths(env: Env, target: bytes) -> None:
    count("raw paths")
    headers = [(b"Authorization", b"Bearer " + env.tokens[W.agent].encode())]
    with unchanged(env):
        answer = raw_http(env.server.port, raw_request("GET", target, headers))
    check_raw(answer, {400, 401, 403, 404, 405, 414}, repr(target[:80]))
    assert b"root:" not in answer.body and b"[project]" not in answer.body


# Oversized input -----------------------------------------------------------------------------


def _oversized(e: Env) -> dict[str, tuple[str, str, dict[str, Any], set[int]]]:
    stream = f"/v1/channels/{W.topic}/stream"
    threads = f"/v1/tickets/{W.ticket}/threads"
    notes = f"/v1/threads/{W.thread}/notes"
    mb2 = "x" * 2_000_000

    def chunks() -> Iterator[bytes]:
        yield b'{"body": "'
        for _ in range(300):
            yield b"y" * 10_000
        yield b'"}'

    json_ct = {"Content-Type": "application/json"}
    return {
        "query 10 KB on the stream": ("GET", stream, {"params": {"x": "q" * 10_000}}, {414}),
        "query 1 MB on the API": (
            "GET",
            threads,
            {"raw_target": threads + "?x=" + "q" * 1_000_000},  # httpx stops at 64 KiB
            {414},
        ),
        "21 on specs": ("GET", stream, {"params": {"on": ["ai_status"] * 21}}, {400}),
        "3000 on specs": ("GET", stream, {"params": {"on": ["ai_status"] * 3000}}, {414}),
        "on spec of 8000 chars": ("GET", stream, {"params": {"on": ["x" * 8000]}}, {400}),
        "filter value of 5000 chars": (
            "GET",
            stream,
            {"params": {"on": ["*:public.ticket_notes:body=eq." + "v" * 5000]}},
            {400},
        ),
        "in list of 1000 values": (
            "GET",
            stream,
            {"params": {"on": ["*:public.ticket_notes:version=in.(" + "1," * 999 + "1)"]}},
            {400},
        ),
        "JSON body of 2 MB": ("POST", notes, {"json": {"body": mb2}}, {413}),
        "chunked body of 3 MB": ("POST", notes, {"content": chunks(), "headers": json_ct}, {413}),
        "JSON nested 100000 deep": (
            "POST",
            notes,
            {"content": b"[" * 100_000 + b"]" * 100_000, "headers": json_ct},
            {400},
        ),
        "JSON object nested 50000 deep": (
            "POST",
            notes,
            {"content": b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "headers": json_ct},
            {400},
        ),
        "JSON of 60000 keys": (
            "POST",
            notes,
            {
                "content": json.dumps({f"k{i}": i for i in range(60_000)}).encode(),
                "headers": json_ct,
            },
            {422},
        ),
        "JSON with a 1e6-digit number": (
            "POST",
            notes,
            {"content": b'{"body": "x", "internal": ' + b"9" * 900_000 + b"}", "headers": json_ct},
            {400, 422},
        ),
        "Last-Event-ID of 100 KB": (
            "GET",
            stream,
            {"headers": {"Last-Event-ID": "1" * 100_000}},
            {400},
        ),
        "If-Match of 100 KB": (
            "PATCH",
            f"/v1/notes/{UNKNOWN}",
            {"headers": {"If-Match": "9" * 100_000}, "json": {"body": "x"}},
            {400},
        ),
        "100 KB header": ("GET", threads, {"headers": {"X-Big": "b" * 100_000}}, {200}),
        "2000 headers": (
            "GET",
            threads,
            {"headers": {f"X-H{i}": "v" for i in range(2000)}},
            {200},
        ),
        "100 KB cookie": ("GET", threads, {"headers": {"Cookie": "c=" + "c" * 100_000}}, {200}),
    }


OVERSIZED_NAMES = [
    "query 10 KB on the stream",
    "query 1 MB on the API",
    "21 on specs",
    "3000 on specs",
    "on spec of 8000 chars",
    "filter value of 5000 chars",
    "in list of 1000 values",
    "JSON body of 2 MB",
    "chunked body of 3 MB",
    "JSON nested 100000 deep",
    "JSON object nested 50000 deep",
    "JSON of 60000 keys",
    "JSON with a 1e6-digit number",
    "Last-Event-ID of 100 KB",
    "If-Match of 100 KB",
    "100 KB header",
    "2000 headers",
    "100 KB cookie",
]


@pytest.mark.parametrize("name", OVERSIZED_NAMES)
def test_oversized_inputs_get_a_quick_4xx(env: Env, name: str) -> None:
    count("oversized")
    method, path, kwargs, expected = _oversized(env)[name]
    headers = env.auth(W.agent) | kwargs.pop("headers", {})
    huge_headers = sum(len(k) + len(v) for k, v in headers.items()) > 16_000
    started = time.monotonic()
    with unchanged(env):
        if "raw_target" in kwargs:
            request = raw_request(
                method,
                kwargs["raw_target"].encode(),
                [(k.encode(), v.encode()) for k, v in headers.items()],
            )
            check_raw(raw_http(env.server.port, request), expected, name)
            return
        try:
            response = env.client.request(method, path, headers=headers, **kwargs)
        except (httpx.WriteError, httpx.RemoteProtocolError) as exc:
            # The server may answer and close before a huge body is sent: the answer is
            # lost to httpx, but nothing hung and nothing was written.
            assert 413 in expected, f"{name}: {exc!r}"
            return
    seconds = time.monotonic() - started
    check(response, expected, name, huge=huge_headers)
    assert seconds < TIME_BOUND, f"{name}: {seconds:.1f} s"


@examples(3)
@given(
    size=st.integers(1, 400_000),
    where=st.sampled_from(["query", "on", "channel", "last-event-id", "token", "body"]),
    fill=st.sampled_from(["a", "'", "%", "é", "\x7f", "1-"]),
)
def test_generated_sizes(env: Env, size: int, where: str, fill: str) -> None:
    """Inputs from one byte to 400 KB in each place; sent raw, as httpx limits URLs."""
    count("sizes")
    text = (fill * size)[:size]
    encoded = quote(text, safe="").encode()
    headers = [(b"Authorization", b"Bearer " + env.tokens[W.agent].encode())]
    target = f"/v1/channels/{W.topic}/stream".encode()
    method, body = "GET", b""
    if where == "query":
        target += b"?x=" + encoded
    elif where == "on":
        target += b"?on=" + encoded
    elif where == "channel":
        target = b"/v1/channels/" + encoded + b"/stream"
    elif where == "last-event-id":
        headers.append((b"Last-Event-ID", text.encode()))
    elif where == "token":
        headers = [(b"Authorization", b"Bearer " + text.encode())]
    else:
        method, target = "POST", f"/v1/threads/{W.thread}/notes".encode()
        headers.append((b"Content-Type", b"application/json"))
        body = json.dumps({"body": text}).encode()
    with unchanged(env, except_writable=where == "body"):
        answer = raw_http(env.server.port, raw_request(method, target, headers, body))
    check_raw(answer, {200, 201, 400, 401, 404, 413, 414}, f"{where} x{size} of {fill!r}")
    if answer.status in (200, 201):
        assert size <= 1_048_576


# Publishing an internal note (once a leak: the UPDATE was judged on its new row only) -------------


def test_unpublishing_an_internal_note_does_not_show_the_customer_its_old_body(
    env: Env,
) -> None:
    count("unpublish leak")
    with httpx.Client(base_url=env.server.url, timeout=10) as c:
        created = c.post(
            f"/v1/threads/{W.thread}/notes",
            json={"body": "SECRET-A-INTERNAL draft", "internal": True},
            headers=env.auth(W.agent),
        )
        assert created.status_code == 201
        note = created.json()
        start = open_stream(env, W.topic, headers=env.auth(W.customer))
        assert start.subscribed
        cursor = next(ev.id for ev in reversed(start.events) if ev.id)
        published = c.patch(
            f"/v1/notes/{note['id']}",
            json={"body": "cleaned up for the customer", "internal": False},
            headers=env.auth(W.agent) | {"If-Match": str(note["version"])},
        )
        assert published.status_code == 200
    deadline = time.monotonic() + 5
    events: list[Event] = []
    while time.monotonic() < deadline:
        answer = open_stream(env, W.topic, headers=env.auth(W.customer) | {"Last-Event-ID": cursor})
        events = [ev for ev in answer.events if ev.event == "postgres_changes"]
        if events:
            break
        time.sleep(0.1)
    assert events, "the customer never got the published note"
    assert_no_leak(W.customer, events, "published note")


# After all of it ------------------------------------------------------------------------------


def test_zz_the_server_survived_and_nothing_leaked(env: Env) -> None:
    """Runs last: the server still answers, a normal subscribe still delivers, the watchers
    saw nothing they may not see, and the server logged no crash."""
    count("survival")
    health = env.client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert env.server.thread.is_alive()
    from tests.sse import StreamReader, stream_url

    reader = StreamReader(stream_url(env.server.url, W.topic), env.tokens[W.agent]).start()
    reader.wait_subscribed()
    marker = f"still alive {uuid.uuid4()}"
    response = env.client.post(
        f"/v1/threads/{W.thread}/notes", json={"body": marker}, headers=env.auth(W.agent)
    )
    assert response.status_code == 201
    reader.wait_for(lambda _: marker in reader.bodies())
    reader.close()
    for name, watcher in env.watchers.items():
        assert not watcher.ended.is_set(), f"watcher {name} was cut off"
        user = {"customer": W.customer, "stranger": W.stranger, "other_agent": W.other_agent}[name]
        events = [Event(ev.event, ev.id, ev.data) for ev in watcher.events]
        assert_no_leak(user, events, f"watcher {name}")
    # The customer's watcher got the agent's public note live, after everything above.
    env.watchers["customer"].wait_for(lambda evs: any(marker in ev.data for ev in evs))
    assert not env.log.lines(), "the server logged errors:\n" + "\n".join(env.log.lines()[:20])
    # The schema is whole: every table still there, RLS still on.
    rls = dict(
        env.conn.execute(
            "select relname, relrowsecurity from pg_class where relkind = 'r'"
            " and relnamespace = 'public'::regnamespace and relname <> 'alembic_version'"
        ).fetchall()
    )
    assert rls and all(rls.values()), rls
