"""Reading log payloads as users, so that RLS decides what each of them sees.

A batch usually needs reads for many identities. Each read must run as its user (role and
`request.jwt.claims` set), but they need not each cost a statement: `read_many` hands a whole
chunk of identities to `realtime.read_batch()`, which switches role and claims for each inside
the database and returns every payload once. If anything in a chunk fails, its identities are
read again one transaction each, so one identity's error never costs the others their events.
Each is read with its token's lasting claims (realtime.reader_claims()) and its role.
"""

from __future__ import annotations

import asyncio
import json

import psycopg
from psycopg_pool import AsyncConnectionPool

from threadcast.db import Identity, as_identity
from threadcast.sqlfiles import queries

Visible = dict[int, str]  # message id -> payload JSON text


async def read_as(pool: AsyncConnectionPool, identity: Identity, ids: list[int]) -> Visible:
    """The payloads among `ids` that `identity` may read, in one transaction as that user."""
    async with as_identity(pool, identity) as conn:
        cursor = await conn.execute(queries("relay")["read_as_user"], {"ids": ids})
        return {row["id"]: row["payload"] for row in await cursor.fetchall()}


async def _read_chunk(
    pool: AsyncConnectionPool, chunk: list[tuple[Identity, list[int]]]
) -> list[Visible]:
    requests = json.dumps(
        [
            {
                "role": identity.role,
                "sub": identity.sub,
                "claims": json.loads(identity.claims_json),
                "ids": ids,
            }
            for identity, ids in chunk
        ]
    )
    async with pool.connection() as conn:
        cursor = await conn.execute(queries("relay")["read_batch"], {"requests": requests})
        rows = await cursor.fetchall()
    # Each payload comes once, on the first row of its id.
    payloads = {row["id"]: row["payload"] for row in rows if row["payload"] is not None}
    results: list[Visible] = [{} for _ in chunk]
    for row in rows:
        results[row["request"]][row["id"]] = payloads[row["id"]]
    return results


async def _read_isolated(
    pool: AsyncConnectionPool, identity: Identity, ids: list[int]
) -> Visible | BaseException:
    try:
        return await read_as(pool, identity, ids)
    except psycopg.Error as exc:
        return exc


async def read_many(
    pool: AsyncConnectionPool, requests: list[tuple[Identity, list[int]]], connections: int
) -> list[Visible | BaseException]:
    """One result per request, in order: what that identity may read, or the error it got."""
    if not requests:
        return []
    n = max(1, min(connections, len(requests)))
    chunks = [requests[i::n] for i in range(n)]
    outcomes = await asyncio.gather(*(_read_chunk(pool, c) for c in chunks), return_exceptions=True)
    results: list[Visible | BaseException | None] = [None] * len(requests)
    for index, (chunk, outcome) in enumerate(zip(chunks, outcomes, strict=True)):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, psycopg.Error):
                raise outcome
            # Someone's read failed: redo this chunk one identity per transaction.
            retried = await asyncio.gather(*(_read_isolated(pool, i, ids) for i, ids in chunk))
            outcome = retried  # type: ignore[assignment]
        for position, result in enumerate(outcome):  # type: ignore[arg-type]
            results[index + position * n] = result
    return results  # type: ignore[return-value]


async def read_one(pool: AsyncConnectionPool, identity: Identity, ids: list[int]) -> Visible:
    """What one identity may read among `ids`: one statement (read_batch), not a transaction
    of four; raises the read's error."""
    (result,) = await read_many(pool, [(identity, ids)], connections=1)
    if isinstance(result, BaseException):
        raise result
    return result
