"""Reading log payloads as users, so that RLS decides what each of them sees.

A batch usually needs reads for many identities. Each read must run as its user (role and
`request.jwt.claims` set in the transaction), but they need not each cost a transaction and
four round trips: `read_many` sends all of a chunk's reads through one connection in pipeline
mode, inside one transaction, switching identity between them. If anything in a chunk fails,
its identities are read again one transaction each, so one identity's error never costs the
others their events.
"""

from __future__ import annotations

import asyncio

import psycopg
from psycopg_pool import AsyncConnectionPool

from threadcast.db import Identity, as_identity, become
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
    query = queries("relay")["read_as_user"]
    async with pool.connection() as conn, conn.transaction():
        cursors = []
        async with conn.pipeline():
            for identity, ids in chunk:
                await become(conn, identity)
                cursors.append(await conn.execute(query, {"ids": ids}))
        return [{r["id"]: r["payload"] for r in await c.fetchall()} for c in cursors]


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
