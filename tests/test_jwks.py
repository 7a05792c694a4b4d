"""Identity providers: tokens verified against a JWKS URL (a real key server on loopback), the
issuer and audience, the roles a token may select, and subs that are not uuids, through a real
server on real PostgreSQL (the ticket application's database, and an engine-only one)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from psycopg import sql

from tests.servers import TEST_SECRET, RunningServer, free_port, start_server
from tests.sse import StreamReader, stream_url
from tests.support import World, add_note
from threadcast import auth, jwks, migrations
from threadcast.app import create_app
from threadcast.config import Settings
from threadcast.roles import RoleProblem

ISSUER = "https://abcdefghijklmnop.supabase.co/auth/v1"
AUDIENCE = "authenticated"
INTERVAL = 1.0  # jwks_refetch_interval_seconds of the servers here


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        to_jwk = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}
        public = to_jwk[self.algorithm].to_jwk(self.private.public_key(), as_dict=True)
        return public | {"kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private, self.algorithm, headers={"kid": self.kid})


def new_key(algorithm: str = "ES256", kid: str | None = None) -> SigningKey:
    private = {
        "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "EdDSA": ed25519.Ed25519PrivateKey.generate,
    }[algorithm]()
    return SigningKey(kid or f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}", algorithm, private)


@dataclass
class Provider:
    """A JWKS endpoint on loopback (http.server in a thread) whose keys a test changes; counts
    every request, and answers 503 while `down`."""

    keys: list[SigningKey] = field(default_factory=list)
    down: bool = False
    hits: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/auth/v1/.well-known/jwks.json"

    def start(self) -> Provider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.hits += 1
                if provider.down:
                    self.send_error(503, "provider down")
                    return
                body = json.dumps({"keys": [k.jwk() for k in provider.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def provider() -> Iterator[Provider]:
    running = Provider(keys=[new_key("ES256", "key-1")]).start()
    try:
        yield running
    finally:
        running.stop()


def supabase_claims(sub: uuid.UUID | str, **extra: Any) -> dict[str, Any]:
    """An access token's claims as Supabase Auth issues them."""
    now = int(time.time())
    return {
        "iss": ISSUER,
        "sub": str(sub),
        "aud": AUDIENCE,
        "exp": now + 3600,
        "iat": now,
        "email": "customer@example.com",
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {"email_verified": True},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    } | extra


@pytest.fixture
def idp_server(
    database_url: str, world: World, provider: Provider
) -> Iterator[Callable[..., RunningServer]]:
    """Starts servers on the ticket database that trust `provider` (issuer and audience as
    Supabase's); stops them after the test."""
    started: list[RunningServer] = []

    def start(**overrides: Any) -> RunningServer:
        settings: dict[str, Any] = {
            "jwks_url": provider.url,
            "jwt_issuer": ISSUER,
            "jwt_audience": AUDIENCE,
            "jwks_refetch_interval_seconds": INTERVAL,
        } | overrides
        server = start_server(database_url, **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def threads(server: RunningServer, token: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1/tickets/{World.ticket}/threads",
        headers={"Authorization": f"Bearer {token}"},
    )


def wait_for_hits(provider: Provider, hits: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while provider.hits < hits:
        assert time.monotonic() < deadline, f"{provider.hits} requests, not {hits}"
        time.sleep(0.02)


def assert_refused(response: httpx.Response, says: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "unauthorized"
    assert says in body["message"], body


# Keys, rotation, the refetch interval, outages ---------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_tokens_of_each_algorithm_verify_against_the_key_set(
    idp_server: Callable[..., RunningServer], provider: Provider, algorithm: str
) -> None:
    key = new_key(algorithm)
    provider.keys = [key]
    server = idp_server()
    response = threads(server, key.sign(supabase_claims(World.customer)))
    assert response.status_code == 200, response.text
    assert [t["id"] for t in response.json()["threads"]] == [str(World.thread)]
    # The same claims under a key the set does not hold (same kid, other key material): 401.
    forged = new_key(algorithm, key.kid).sign(supabase_claims(World.customer))
    assert_refused(threads(server, forged), "invalid token")


def test_a_supabase_access_token_streams_as_issued(
    idp_server: Callable[..., RunningServer], provider: Provider, conn: psycopg.Connection
) -> None:
    (key,) = provider.keys
    server = idp_server()
    token = key.sign(supabase_claims(World.customer))
    reader = StreamReader(stream_url(server.url, World().topic), token).start()
    try:
        reader.wait_subscribed()
        add_note(conn, World(), "streamed to a Supabase session")
        reader.wait_for(lambda _: "streamed to a Supabase session" in reader.bodies())
        internal = add_note(conn, World(), "agents only", internal=True)
        add_note(conn, World(), "after the internal one")
        reader.wait_for(lambda _: "after the internal one" in reader.bodies())
        assert "agents only" not in reader.bodies()  # RLS read as the customer
        assert str(internal) not in json.dumps(reader.changes())
    finally:
        reader.close()


def test_a_new_kid_is_accepted_after_rotation_without_a_restart(
    idp_server: Callable[..., RunningServer], provider: Provider
) -> None:
    (old,) = provider.keys
    server = idp_server(jwks_max_age_seconds=3600)
    assert threads(server, old.sign(supabase_claims(World.customer))).status_code == 200
    assert provider.hits == 1  # fetched once, at startup

    new = new_key("ES256", "key-2")
    provider.keys = [old, new]  # the provider publishes the next key...
    time.sleep(INTERVAL)  # ...and after the interval an unknown kid may refetch
    response = threads(server, new.sign(supabase_claims(World.customer)))
    assert response.status_code == 200, response.text
    assert provider.hits == 2
    assert threads(server, old.sign(supabase_claims(World.customer))).status_code == 200
    assert provider.hits == 2  # both cached now


def test_a_removed_key_is_refused_after_the_next_refetch(
    idp_server: Callable[..., RunningServer], provider: Provider
) -> None:
    (old,) = provider.keys
    new = new_key("ES256", "key-2")
    provider.keys = [old, new]
    server = idp_server(jwks_max_age_seconds=2 * INTERVAL)
    token = old.sign(supabase_claims(World.customer))
    assert threads(server, token).status_code == 200

    provider.keys = [new]  # old retired
    assert threads(server, token).status_code == 200  # still cached: no refetch yet
    assert provider.hits == 1
    time.sleep(2 * INTERVAL + 0.1)  # past the cache's max age: the next use refetches...
    assert threads(server, token).status_code == 200  # ...behind it, not holding it up
    wait_for_hits(provider, 2)
    assert_refused(threads(server, token), "no key 'key-1' in the identity provider's key set")
    assert threads(server, new.sign(supabase_claims(World.customer))).status_code == 200


def test_unknown_kids_refetch_at_most_once_per_interval(
    idp_server: Callable[..., RunningServer], provider: Provider
) -> None:
    (key,) = provider.keys
    interval = 3 * INTERVAL  # long enough that the first request surely falls within it
    server = idp_server(jwks_max_age_seconds=3600, jwks_refetch_interval_seconds=interval)
    assert provider.hits == 1
    # Within the interval of the startup fetch: refused without asking the provider.
    stranger = new_key("ES256", "never-published")
    assert_refused(threads(server, stranger.sign(supabase_claims(World.customer))), "no key")
    assert provider.hits == 1

    time.sleep(interval)
    began = time.monotonic()
    for n in range(30):
        unknown = new_key("ES256", f"unknown-{n}").sign(supabase_claims(World.customer))
        assert_refused(threads(server, unknown), f"no key 'unknown-{n}'")
    elapsed = time.monotonic() - began
    refetches = provider.hits - 1
    assert 1 <= refetches <= 1 + int(elapsed / interval), (refetches, elapsed)
    # The known key never waited on any of it.
    assert threads(server, key.sign(supabase_claims(World.customer))).status_code == 200


def test_cached_keys_verify_while_the_provider_is_down(
    idp_server: Callable[..., RunningServer], provider: Provider
) -> None:
    (key,) = provider.keys
    server = idp_server(jwks_max_age_seconds=INTERVAL / 2)
    token = key.sign(supabase_claims(World.customer))
    assert threads(server, token).status_code == 200

    provider.down = True
    time.sleep(INTERVAL)  # the keys are past their max age, and the interval has passed
    began = time.monotonic()
    assert threads(server, token).status_code == 200
    wait_for_hits(provider, 2)
    time.sleep(0.1)  # the failed refetch has been handled
    assert threads(server, token).status_code == 200  # it failed: cached keys kept
    for _ in range(5):  # failed attempts count too: one request per interval, at most
        assert threads(server, token).status_code == 200
    elapsed = time.monotonic() - began
    assert 2 <= provider.hits <= 2 + int(elapsed / INTERVAL), (provider.hits, elapsed)
    hits = provider.hits

    provider.stop()  # now nothing listens at all
    time.sleep(INTERVAL)
    verifier = server.server.config.app.state.verifier
    attempts = verifier.jwks.fetches
    assert threads(server, token).status_code == 200
    deadline = time.monotonic() + 10
    while verifier.jwks.fetches == attempts and time.monotonic() < deadline:
        time.sleep(0.02)
    assert verifier.jwks.fetches == attempts + 1  # it tried, found no server...
    time.sleep(0.1)
    assert threads(server, token).status_code == 200  # ...and kept the keys
    assert provider.hits == hits


def test_a_provider_down_at_startup_is_retried_by_the_first_token(
    idp_server: Callable[..., RunningServer], provider: Provider
) -> None:
    (key,) = provider.keys
    provider.down = True
    server = idp_server()
    token = key.sign(supabase_claims(World.customer))
    assert_refused(threads(server, token), "no key 'key-1'")  # nothing cached, none fetched
    provider.down = False
    time.sleep(INTERVAL)
    assert threads(server, token).status_code == 200


# Claims: issuer, audience, kid, roles -----------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"iss": "https://evil.example/auth/v1"}, f"its iss is not {ISSUER!r}"),
        ({"iss": ISSUER + "/"}, "its iss is not"),
        ({"aud": "anon"}, f"its aud is not {AUDIENCE!r}"),
        ({"aud": ["other", "service"]}, "its aud is not"),
        ({"role": "service_role"}, "role claim 'service_role' is not one this server lets"),
        ({"role": "postgres"}, "role claim 'postgres'"),
        ({"role": "anon"}, "role claim 'anon'"),
        ({"role": ["authenticated"]}, "role claim ['authenticated']"),
        ({"sub": ""}, "the sub claim must be text of 1 to 255 characters"),
        ({"sub": "x" * 256}, "the sub claim must be text of 1 to 255 characters"),
        ({"nickname": "a\x00b"}, "a claim holds a NUL character"),
    ],
    ids=[
        "other_iss",
        "iss_trailing_slash",
        "other_aud",
        "aud_list_without_ours",
        "service_role",
        "postgres",
        "anon",
        "role_list",
        "empty_sub",
        "sub_256",
        "nul",
    ],
)
def test_tokens_with_wrong_claims_are_refused(
    idp_server: Callable[..., RunningServer],
    provider: Provider,
    claims: dict[str, Any],
    says: str,
) -> None:
    (key,) = provider.keys
    server = idp_server()
    token = key.sign(supabase_claims(World.customer) | claims)
    assert_refused(threads(server, token), says)
    reader = StreamReader(stream_url(server.url, World().topic), token).start()
    reader.ended.wait(10)
    assert reader.status_code == 401 and says in json.loads(reader.error_body or "{}")["message"]


def test_missing_issuer_or_audience_is_refused(
    idp_server: Callable[..., RunningServer], provider: Provider
) -> None:
    (key,) = provider.keys
    server = idp_server()
    for claim in ("iss", "aud"):
        claims = supabase_claims(World.customer)
        del claims[claim]
        assert_refused(threads(server, key.sign(claims)), f'"{claim}"')


def test_a_token_without_kid_is_refused(
    idp_server: Callable[..., RunningServer], provider: Provider
) -> None:
    (key,) = provider.keys
    server = idp_server()
    token = jwt.encode(supabase_claims(World.customer), key.private, "ES256")
    assert_refused(threads(server, token), "token has no kid header")


def test_a_sub_of_255_characters_is_taken(
    idp_server: Callable[..., RunningServer], provider: Provider
) -> None:
    """At the bound: taken (the ticket API then says it is no uuid)."""
    (key,) = provider.keys
    server = idp_server()
    response = threads(server, key.sign(supabase_claims("x" * 255)))
    assert response.status_code == 403 and response.json()["error"] == "sub_not_uuid"


def test_hs256_and_a_jwks_work_side_by_side(
    idp_server: Callable[..., RunningServer], provider: Provider
) -> None:
    """THREADCAST_JWT_SECRET beside THREADCAST_JWKS_URL: HS256 tokens take the secret (as a
    project moving from Supabase's legacy secret to its signing keys has both)."""
    server = idp_server(jwt_issuer=None, jwt_audience=None)
    assert threads(server, server.token(World.customer)).status_code == 200
    (key,) = provider.keys
    claims = supabase_claims(World.customer)
    assert threads(server, key.sign(claims)).status_code == 200
    # An HS256 token signed with the key set's public key as its secret: never.
    public_jwk = json.dumps(key.jwk())
    forged = jwt.encode(claims, public_jwk.encode() + b"x" * 32, "HS256")
    assert_refused(threads(server, forged), "invalid token")


def test_the_ticket_api_answers_a_non_uuid_sub_with_a_clear_403(
    idp_server: Callable[..., RunningServer], provider: Provider
) -> None:
    (key,) = provider.keys
    server = idp_server()
    response = threads(server, key.sign(supabase_claims("auth0|5f7c8ec7c33c6c004bbafe82")))
    assert response.status_code == 403
    assert response.json() == {
        "error": "sub_not_uuid",
        "message": "the ticket API identifies users by uuid; this token's sub"
        " 'auth0|5f7c8ec7c33c6c004bbafe82' is not one (streams of channels whose rules read"
        " request.jwt.claims still work)",
    }


# The engine alone, with rules over request.jwt.claims ---------------------------------------

CHAT_SCHEMA = """
create table public.chat (id bigint primary key, room text not null, body text not null);
create function public.chat_visible(c public.chat) returns boolean
language sql stable as $$
    select realtime.claims() -> 'rooms' ? c.room
        or (c.room = 'staff' and current_user = {staff})
$$;
create function public.can_join(room text) returns boolean
language sql stable as $$
    select realtime.claims() -> 'rooms' ? room or (room = 'staff' and current_user = {staff})
$$;
select realtime.enable('public.chat', 'room:{{room}}', 'public.chat_visible(public.chat)');
select realtime.register_channel('room:', 'public.can_join(text)');
grant select on public.chat to authenticated;
"""


@pytest.fixture
def staff_role(server_url: str) -> Iterator[str]:
    """A database role of this test's own, a member of authenticated (so the engine's policies
    apply to it); dropped after."""
    name = f"staff_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(name)))
        conn.execute(sql.SQL("grant authenticated to {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


@dataclass
class EngineOnly:
    url: str
    server: RunningServer
    provider: Provider
    staff: str

    def insert(self, id: int, room: str, body: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("insert into public.chat values (%s, %s, %s)", (id, room, body))

    def token(self, sub: str, **claims: Any) -> str:
        return self.provider.keys[0].sign(supabase_claims(sub) | claims)

    def stream(self, room: str, token: str) -> StreamReader:
        return StreamReader(stream_url(self.server.url, f"room:{room}"), token).start()


@pytest.fixture
def engine_only(
    empty_database_url: str, provider: Provider, staff_role: str
) -> Iterator[EngineOnly]:
    """A database installed with `threadcast migrate --engine-only` and a chat schema of its
    own, served by `threadcast serve`'s app, trusting `provider`."""
    migrations.upgrade(empty_database_url, migrations.ENGINE_ONLY)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute(CHAT_SCHEMA.format(staff=sql.Literal(staff_role).as_string(conn)))
    server = start_server(
        empty_database_url,
        jwks_url=provider.url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        allowed_roles=f"authenticated,{staff_role}",
    )
    try:
        yield EngineOnly(empty_database_url, server, provider, staff_role)
    finally:
        server.stop()


def test_a_non_uuid_sub_streams_a_channel_its_claims_allow(engine_only: EngineOnly) -> None:
    token = engine_only.token("auth0|5f7c8ec7c33c6c004bbafe82", rooms=["lobby"])
    reader = engine_only.stream("lobby", token)
    try:
        reader.wait_subscribed()
        engine_only.insert(1, "lobby", "hello")
        engine_only.insert(2, "elsewhere", "not for you")
        engine_only.insert(3, "lobby", "again")
        reader.wait_for(lambda _: len(reader.changes()) == 2)
        assert [c["new"]["body"] for c in reader.changes()] == ["hello", "again"]
    finally:
        reader.close()
    # The same user without the room in its claims: refused at the door.
    refused = engine_only.stream("lobby", engine_only.token("auth0|5f7c8ec7c33c6c004bbafe82"))
    refused.ended.wait(10)
    assert refused.status_code == 403


def test_a_non_uuid_sub_streams_many_channels_on_one_connection(engine_only: EngineOnly) -> None:
    """/v1/stream: every channel authorized under the token's claims, in one transaction."""
    token = engine_only.token("auth0|many", rooms=["lobby", "kitchen"])
    channels = {"channel": ["room:lobby", "room:kitchen"]}
    reader = StreamReader(f"{engine_only.server.url}/v1/stream", token, channels).start()
    try:
        reader.wait_subscribed()
        engine_only.insert(30, "kitchen", "soup")
        engine_only.insert(31, "attic", "dust")
        engine_only.insert(32, "lobby", "hi")
        reader.wait_for(lambda _: len(reader.changes()) == 2)
        assert sorted(c["new"]["body"] for c in reader.changes()) == ["hi", "soup"]
    finally:
        reader.close()
    response = httpx.get(
        f"{engine_only.server.url}/v1/stream",
        params={"channel": ["room:lobby", "room:attic"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert response.json()["message"] == "you may not subscribe to 'room:attic'"


def test_an_allowed_role_other_than_authenticated_reaches_rls_as_itself(
    engine_only: EngineOnly,
) -> None:
    staff = engine_only.stream("staff", engine_only.token("ops-bot", role=engine_only.staff))
    try:
        staff.wait_subscribed()
        engine_only.insert(10, "staff", "for staff")
        staff.wait_for(lambda _: len(staff.changes()) == 1)
        assert staff.changes()[0]["new"]["body"] == "for staff"
    finally:
        staff.close()
    # An authenticated token of the same sub: not staff.
    other = engine_only.stream("staff", engine_only.token("ops-bot"))
    other.ended.wait(10)
    assert other.status_code == 403


def test_an_engine_only_database_serves_streams_and_no_ticket_api(
    engine_only: EngineOnly,
) -> None:
    base = engine_only.server.url
    assert httpx.get(f"{base}/readyz").status_code == 200
    token = engine_only.token(str(World.customer), rooms=["lobby"])
    response = httpx.get(
        f"{base}/v1/tickets/{World.ticket}/threads", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert httpx.get(f"{base}/demo/users").status_code == 404
    paths = httpx.get(f"{base}/openapi.json").json()["paths"]
    assert "/v1/channels/{channel}/stream" in paths
    assert not [p for p in paths if p.startswith(("/v1/tickets", "/demo"))]
    # A uuid sub streams too, and sees only its rooms.
    reader = engine_only.stream("lobby", token)
    try:
        reader.wait_subscribed()
        engine_only.insert(20, "lobby", "uuid user")
        reader.wait_for(lambda _: len(reader.changes()) == 1)
    finally:
        reader.close()


def test_threadcast_serve_starts_on_an_engine_only_database(
    empty_database_url: str, provider: Provider
) -> None:
    """The command itself (not only the app): it starts, is ready, and routes no ticket API."""
    migrations.upgrade(empty_database_url, migrations.ENGINE_ONLY)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": empty_database_url,
        "THREADCAST_JWKS_URL": provider.url,
        "THREADCAST_JWT_ISSUER": ISSUER,
    }
    served = subprocess.Popen(
        [sys.executable, "-m", "threadcast.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert served.poll() is None, served.communicate()[0]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "threadcast serve did not become ready"
            time.sleep(0.1)
        paths = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["paths"]
        assert "/v1/stream" in paths and not [p for p in paths if p.startswith("/v1/tickets")]
        assert provider.hits == 1  # the key set, fetched at startup
    finally:
        served.terminate()
        served.wait(30)


# Startup refusals -----------------------------------------------------------------------------


def start_lifespan(settings: Settings) -> None:
    app = create_app(settings)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(run())


def test_an_allowed_role_the_database_lacks_stops_the_server(database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        jwt_secret="threadcast-test-secret-0123456789abcdef",
        allowed_roles="authenticated,no_such_role_here",
    )
    with pytest.raises(RoleProblem, match="names role 'no_such_role_here', which this database"):
        start_lifespan(settings)


def test_an_allowed_role_that_bypasses_rls_stops_the_server(
    database_url: str, server_url: str
) -> None:
    name = f"bypass_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} nologin bypassrls").format(sql.Identifier(name)))
    try:
        settings = Settings(
            database_url=database_url,
            jwt_secret="threadcast-test-secret-0123456789abcdef",
            allowed_roles=name,
        )
        with pytest.raises(RoleProblem, match="superuser or has BYPASSRLS"):
            start_lifespan(settings)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"jwks_url": "ftp://idp.example/jwks"}, "must be an https:// URL"),
        ({"jwks_url": "http://idp.example/jwks"}, "http:// only on loopback"),
        ({"jwks_url": "https:///jwks"}, "must be an https:// URL"),
        ({"allowed_roles": " , "}, "THREADCAST_ALLOWED_ROLES is empty"),
        ({"allowed_roles": "authenticated,bad role"}, "'bad role' is not a role name"),
    ],
    ids=["ftp", "plain_http", "no_host", "no_roles", "bad_role_name"],
)
def test_bad_identity_settings_are_refused(
    database_url: str, overrides: dict[str, Any], problem: str
) -> None:
    settings = {"jwks_url": "https://idp.example/.well-known/jwks.json"} | overrides
    with pytest.raises(ValueError, match=problem):
        create_app(Settings(database_url=database_url, **settings))


# The key cache alone --------------------------------------------------------------------------


def test_concurrent_unknown_kids_share_one_fetch(provider: Provider) -> None:
    keys = jwks.JwksKeys(provider.url, refetch_interval=60, max_age=60, timeout=5)

    async def run() -> list[BaseException | Any]:
        return await asyncio.gather(
            *(keys.key(f"unknown-{n}") for n in range(20)),
            keys.key("key-1"),
            return_exceptions=True,
        )

    results = asyncio.run(run())
    assert provider.hits == 1
    assert all(isinstance(r, jwks.KeyNotFound) for r in results[:-1])
    assert results[-1].key_id == "key-1"


def test_a_key_set_that_is_not_json_keeps_the_cache(provider: Provider) -> None:
    keys = jwks.JwksKeys(provider.url, refetch_interval=0, max_age=0, timeout=5)

    async def run() -> list[str]:
        first = await keys.key("key-1")
        provider.keys = []  # {"keys": []}: no usable keys
        second = await keys.key("key-1")  # stale: refetched in the background
        for _ in range(500):  # the refetch runs in a thread: let it finish (or time out)
            if provider.hits == 2:
                break
            await asyncio.sleep(0.01)
        return [first.key_id, second.key_id, (await keys.key("key-1")).key_id]

    assert asyncio.run(run()) == ["key-1", "key-1", "key-1"]  # the empty set changed nothing
    assert provider.hits >= 2


def test_verifier_decodes_hs256_without_the_key_set() -> None:
    """auth.decode (no JWKS) still verifies the shared secret's tokens."""
    settings = Settings(jwt_secret="threadcast-test-secret-0123456789abcdef")
    principal = auth.decode(auth.issue(settings, "auth0|abc"), settings)
    assert principal.identity.sub == "auth0|abc" and principal.identity.user_id is None
    assert json.loads(principal.identity.claims_json) == {
        "role": "authenticated",
        "sub": "auth0|abc",
    }


def test_an_allowed_role_the_login_cannot_set_stops_the_server(
    database_url: str, staff_role: str
) -> None:
    """The server logging in as threadcast (not a superuser), which was never granted the role."""
    as_threadcast = database_url.replace("postgresql://postgres@", "postgresql://threadcast@")
    assert as_threadcast != database_url
    settings = Settings(
        database_url=as_threadcast,
        jwt_secret="threadcast-test-secret-0123456789abcdef",
        allowed_roles=f"authenticated,{staff_role}",
    )
    with pytest.raises(
        RoleProblem,
        match=f"the server's login 'threadcast' cannot SET ROLE to it: run grant {staff_role}"
        " to threadcast",
    ):
        start_lifespan(settings)
    start_lifespan(dataclasses.replace(settings, allowed_roles="authenticated"))


def test_a_role_revoked_while_serving_gets_403_saying_what_to_grant(
    database_url: str, world: World, staff_role: str, server_url: str
) -> None:
    as_threadcast = database_url.replace("postgresql://postgres@", "postgresql://threadcast@")
    grant = sql.SQL("grant {} to threadcast").format(sql.Identifier(staff_role))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(grant)
    server = start_server(as_threadcast, allowed_roles=f"authenticated,{staff_role}")
    try:
        claims = {"sub": str(World.customer), "role": staff_role, "exp": int(time.time()) + 600}
        token = jwt.encode(claims, TEST_SECRET, "HS256")
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("revoke {} from threadcast").format(sql.Identifier(staff_role)))
        hint = f"must be a member of role {staff_role!r} to act as it (GRANT {staff_role} TO"
        response = threads(server, token)
        assert response.status_code == 403 and hint in response.json()["message"], response.text
        reader = StreamReader(stream_url(server.url, World().topic), token).start()
        reader.ended.wait(10)
        assert reader.status_code == 403 and hint in (reader.error_body or ""), reader.error_body
    finally:
        server.stop()


def test_two_tokens_of_one_session_are_one_identity(provider: Provider) -> None:
    """The claims RLS sees leave out exp/iat/nbf/jti, so tokens refreshed within a session share
    one identity (and one read per batch); another session of the user is another identity."""
    (key,) = provider.keys
    verifier = auth.Verifier(
        Settings(jwks_url=provider.url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    )
    first = supabase_claims(World.customer)
    later = first | {"iat": first["iat"] - 30, "exp": first["exp"] + 60, "jti": "x", "nbf": 0}

    async def run() -> list[auth.Principal]:
        return [await verifier.principal(key.sign(c)) for c in (first, later)]

    a, b = asyncio.run(run())
    assert a.identity == b.identity and hash(a.identity) == hash(b.identity)
    assert a.expires_at + 60 == b.expires_at
    claims = json.loads(a.identity.claims_json)
    assert claims == {k: v for k, v in first.items() if k not in ("exp", "iat")}
    assert a.identity.sub == str(World.customer) and a.identity.user_id == World.customer
    other_session = supabase_claims(World.customer)
    assert (
        auth.Verifier(Settings(jwt_secret=TEST_SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE))
        .decode_static(jwt.encode(other_session, TEST_SECRET, "HS256"))
        .identity
        != a.identity
    )
