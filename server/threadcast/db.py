"""Connection pool, and running SQL as a user so that row-level security decides."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from threadcast import ThreadcastError
from threadcast.sqlfiles import queries


class DatabaseError(ThreadcastError):
    """The database is unreachable or misconfigured."""


# Claims that differ between two tokens of one session: left out of an identity, so those
# tokens share one read per batch. RLS has no use for them (expiry is the server's job).
PER_TOKEN_CLAIMS = frozenset({"exp", "iat", "nbf", "jti"})
UUID_RE = re.compile(r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$", re.IGNORECASE)


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Identity:
    """What RLS reads about a caller: its role, its `sub` (any text: Auth0's `auth0|abc` as
    well as a uuid), and its token's other lasting claims as `request.jwt.claims`.

    Two tokens of one user (different iat/exp/jti) give equal identities, so their connections
    share one read per batch.
    """

    sub: str
    role: str = "authenticated"
    # The claims document RLS sees (canonical JSON: sorted keys); {sub, role} when left empty.
    claims_json: str = ""

    def __post_init__(self) -> None:
        if not self.claims_json:
            object.__setattr__(self, "claims_json", self._plain_claims())

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], role: str) -> Identity:
        """The identity of a verified token's claims, acting as `role`."""
        lasting = {k: v for k, v in claims.items() if k not in PER_TOKEN_CLAIMS}
        lasting["role"] = role
        return cls(sub=str(claims["sub"]), role=role, claims_json=canonical_json(lasting))

    def _plain_claims(self) -> str:
        return canonical_json({"role": self.role, "sub": self.sub})

    @property
    def user_id(self) -> uuid.UUID | None:
        """`sub` as a uuid when it is one (realtime.uid()'s rule), else None."""
        return uuid.UUID(self.sub) if UUID_RE.match(self.sub) else None


def privilege_message(exc: psycopg.Error, role: str) -> str:
    """The database's refusal, with what to grant when it refused SET ROLE."""
    message = exc.diag.message_primary or "permission denied"
    if "set role" in message.lower():
        message += (
            f": the server's database login must be a member of role {role!r} to act as it"
            f" (GRANT {role} TO <login>)"
        )
    return message


def create_pool(
    database_url: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    name: str = "threadcast",
    timeout: float = 30.0,
) -> AsyncConnectionPool:
    """A pool to open in the app's lifespan (`await pool.open(wait=True)`). `timeout` bounds
    the wait for a connection; past it the request gets 503 + Retry-After."""
    return AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        # No check on checkout: it cost a round trip per request (4 of the 14 of a resume). A
        # connection broken by a database restart fails its one request (503, or a retried
        # dispatch) and the pool replaces it.
        # Every pooled connection: autocommit, rows as dicts (transactions are explicit).
        kwargs={"autocommit": True, "row_factory": dict_row},
        name=name,
    )


async def become(conn: AsyncConnection, identity: Identity) -> None:
    """Inside a transaction: run the rest of it as the user (SET LOCAL ROLE + claims)."""
    await conn.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true),"
        " set_config('request.jwt.claim.sub', %s, true)",
        (identity.role, identity.claims_json, identity.sub),
    )


@asynccontextmanager
async def as_identity(
    pool: AsyncConnectionPool, identity: Identity
) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction running as the user; committed on success."""
    async with pool.connection() as conn, conn.transaction():
        await become(conn, identity)
        yield conn


Position = tuple[int, int]  # (tick_id, id) in the log, as threadcast.hub has it


@asynccontextmanager
async def as_identity_at_head(
    pool: AsyncConnectionPool, identity: Identity
) -> AsyncIterator[tuple[AsyncConnection, Position]]:
    """A connection in a transaction running as the user, and the log position every read in
    it is consistent with: the head, read first, as the server.

    Why no change can fall between the read and a stream started from that position:
    realtime.head() is the newest tick (T, its last id). Every event at or before it belongs
    to tick T or an earlier one, so it was visible in T's snapshot: its transaction had
    committed before tick() took that snapshot, hence before T's row committed, hence before
    the head statement's snapshot saw T, and every later statement of this transaction takes
    its snapshot later still (read committed; under repeatable read all share the first
    one, which saw T). So the reads see every event at or before the position. An event
    after it is in a later tick, which a stream with Last-Event-ID = position replays; it may
    be in the reads too (committed between the head and the reads), and the client drops it
    by `version`. Nothing is in neither. (Reading the data first and the head after would
    open the gap: a change committed in between would be in neither.)"""
    async with pool.connection() as conn, conn.transaction():
        cursor = await conn.execute(queries("relay")["head"])
        row: Any = await cursor.fetchone()
        await become(conn, identity)
        yield conn, (row["tick_id"], row["id"])


@asynccontextmanager
async def as_server(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection]:
    """A connection as the server's own role, for routing and bookkeeping (no user data)."""
    async with pool.connection() as conn:
        yield conn
