"""Settings, read once from the environment (DATABASE_URL and THREADCAST_*)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from threadcast.keys import public_key

# Signs the demo's tokens only (`threadcast serve` on the embedded database); it is public, so
# a server on a configured database refuses it.
DEV_SECRET = "threadcast-dev-secret-change-me-0123456789"
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class Settings:
    """Every knob, with its environment variable THREADCAST_<NAME> (upper case)."""

    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000

    # Auth: an HS256 shared secret (at least 32 bytes), a PEM public key (RS256, ES256 or
    # EdDSA), or an identity provider's JWKS URL. One is needed on a configured database; the
    # demo signs with DEV_SECRET.
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None  # when set, every token's `iss` must equal it
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = 0
    # A token of a kid the cached keys lack refetches the key set at most this often.
    jwks_refetch_interval_seconds: float = 30.0
    # Cached keys older than this are refetched on their next use (kept if the fetch fails).
    jwks_max_age_seconds: float = 300.0
    jwks_timeout_seconds: float = 5.0
    # Database roles a token's `role` claim may select (comma-separated); the server's login
    # must be a member of each (GRANT <role> TO <login>), so that it can SET ROLE to it.
    allowed_roles: str = "authenticated"

    # Delivery.
    batch_window_ms: float = 5.0  # wake-ups within this window share one read per identity
    active_poll_seconds: float = (
        0.25  # keep polling this long after a wake-up (> the 50 ms throttle)
    )
    idle_poll_seconds: float = 1.0  # fallback poll when no NOTIFY arrives
    read_connections: int = 2  # connections a batch's per-user reads are spread over
    queue_size: int = 1000  # frames a connection may have pending before it is reset
    # Bytes of replayed frames a catching-up connection holds (its queue, and half as much
    # again for the read in hand): the replay runs at the client's reading speed, so this
    # bounds its memory at any distance.
    catch_up_bytes: int = 1_048_576
    # ...and every connection together: past it catch-up reads wait for clients to drain.
    catch_up_total_bytes: int = 33_554_432
    heartbeat_seconds: float = 15.0
    retry_ms: int = 1000  # EventSource reconnection hint
    send_timeout_seconds: float = 10.0
    retention_seconds: int = 7 * 86400
    prune_interval_seconds: float = 60.0
    summarize_interval_seconds: float = 1.0  # keeps realtime.tick() from slowing as the log grows

    # Limits.
    max_connections_per_user: int = 20
    max_subscriptions_per_connection: int = 20  # bindings per channel of a stream
    max_channels_per_stream: int = 100  # /v1/stream: past it 400 too_many_channels
    connect_attempts_per_ip_per_minute: int = 120
    max_request_bytes: int = 1_048_576
    max_query_bytes: int = 8192
    # Request line and headers: past it 414 (line) or 431 (headers) JSON (protocol.py); a
    # 100 KB token still reaches auth and gets its 401.
    max_header_bytes: int = 1_048_576

    # Presence (PUT /v1/channels/{channel}/presence/{ref}): a state's JSON at most this big
    # (400 presence_too_large), so many updates a second per stream connection (429 past the
    # burst), so many presences on one channel (429 too_many_presences). A presence outlives
    # its replica by at most its TTL: the replica holding its connection renews it every
    # TTL / 3, and one that has expired is ended by whichever replica sweeps first.
    max_presence_bytes: int = 1024
    presence_updates_per_second: float = 5.0
    presence_update_burst: int = 10
    max_presences_per_channel: int = 200
    presence_ttl_seconds: float = 15.0

    # Demo mode (`threadcast serve` on the embedded database): /demo/users hands out tokens
    # for the seeded demo users so the page can offer a picker. Never on a real database.
    demo: bool = False

    # Allocations between young garbage collections in `threadcast serve` (CPython's default
    # is 700, which let full passes stall every stream; 0 keeps the defaults).
    gc_young_threshold: int = 10_000

    # Origins of browser apps on other sites that may call this server (CORS), comma-separated
    # ("https://app.example.com,https://admin.example.com"), or "*". Empty: same origin only.
    cors_origins: str = ""

    # Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed
    # (comma-separated IPs or CIDRs, or "*"). Empty: forwarded headers are ignored and the
    # per-IP limit counts the connecting address.
    trusted_proxies: str = ""

    pool_min_size: int = 2
    pool_max_size: int = 10
    pool_timeout_seconds: float = 5.0  # wait for a connection before answering 503

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = "DATABASE_URL" if f.name == "database_url" else f"THREADCAST_{f.name.upper()}"
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            kind = type(f.default) if f.default is not None else str
            try:
                values[f.name] = kind(raw)
            except ValueError as exc:
                raise ValueError(f"{name} must be a {kind.__name__}, got {raw!r}") from exc
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


ORIGIN_RE = re.compile(
    r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$"
)


def cors_origins(settings: Settings) -> list[str]:
    """THREADCAST_CORS_ORIGINS as a list, each an origin exactly as browsers send it."""
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    for origin in origins:
        if origin != "*" and not ORIGIN_RE.match(origin):
            raise ValueError(
                f"THREADCAST_CORS_ORIGINS: {origin!r} is not an origin; write scheme://host[:port]"
                " with no path or trailing slash (e.g. https://app.example.com), or *"
            )
    if "*" in origins and len(origins) > 1:
        raise ValueError("THREADCAST_CORS_ORIGINS: * allows every origin; list no others with it")
    return origins


ROLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def allowed_roles(settings: Settings) -> tuple[str, ...]:
    """THREADCAST_ALLOWED_ROLES as a tuple of role names."""
    roles = tuple(r.strip() for r in settings.allowed_roles.split(",") if r.strip())
    if not roles:
        raise ValueError("THREADCAST_ALLOWED_ROLES is empty: name at least one database role")
    for role in roles:
        if not ROLE_RE.match(role):
            raise ValueError(f"THREADCAST_ALLOWED_ROLES: {role[:80]!r} is not a role name")
    return roles


def jwks_url_problem(url: str) -> str | None:
    """Why THREADCAST_JWKS_URL will not do, or None. Keys fetched over plain http could be
    swapped on the way, so http is for loopback providers only (tests, a sidecar)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None
    return (
        f"THREADCAST_JWKS_URL {url[:200]!r} must be an https:// URL (http:// only on loopback),"
        " e.g. https://<project>.supabase.co/auth/v1/.well-known/jwks.json"
    )


def signing_key_problem(settings: Settings) -> str | None:
    """Why the server must not start with these keys, or None when they will do."""
    try:
        allowed_roles(settings)
    except ValueError as exc:
        return str(exc)
    if settings.jwks_url and (problem := jwks_url_problem(settings.jwks_url)):
        return problem
    if settings.demo:
        return None
    if settings.jwt_public_key:
        try:
            public_key(settings.jwt_public_key)
        except ValueError as exc:
            return str(exc)
    if settings.jwt_public_key or settings.jwks_url:
        if settings.jwt_secret and (problem := secret_problem(settings.jwt_secret)):
            return problem  # a secret beside them still signs HS256 tokens: it must be good
        return None
    secret = settings.jwt_secret
    if not secret:
        return (
            "set THREADCAST_JWT_SECRET (a random string of at least 32 bytes, e.g. `openssl rand"
            " -hex 32`), THREADCAST_JWT_PUBLIC_KEY (a PEM public key) or THREADCAST_JWKS_URL"
            " (your identity provider's key set) to verify tokens with"
        )
    return secret_problem(secret)


def secret_problem(secret: str) -> str | None:
    if secret == DEV_SECRET:
        return "THREADCAST_JWT_SECRET is the public development secret; choose your own"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"THREADCAST_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes; use a longer one"
    return None


def hs256_secret(settings: Settings) -> str:
    """The shared secret tokens are signed and verified with."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.demo:
        return DEV_SECRET
    raise ValueError(signing_key_problem(settings) or "no THREADCAST_JWT_SECRET")
