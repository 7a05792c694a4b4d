"""Presence: who is on a channel now, shared by every replica through PostgreSQL.

A client tracks with a REST call to any replica (presence_api.py): realtime.track() decides
in SQL whether the user may (the channel's authorize function), writes an unlogged row (no
WAL, never in the durable log) naming the stream connection the presence lives with, and
NOTIFYs threadcast_presence_v1 with the channel. Every replica's listener hands that channel
here. For each identity with a stream bound to `presence` on it, one statement
(realtime.read_presence()) reads what that identity may see, under the channel's presence
rule; the difference from what it saw last goes to its streams as `join` and `leave`. A stream
that goes live gets a `sync` of the whole state instead. Presence frames carry no id: they are
never replayed, and a reconnecting stream gets a fresh `sync`.

Lifetime: a stream that closes ends its presences (batched, within a cycle); every TTL / 3
each replica renews the presences of its open streams and ends the expired ones, so a
presence whose replica died ends within the TTL and a beat. Each beat also reads every watched
channel again: that repairs a missed notification and shows a member whose access was revoked
nothing more.

One task owns every view and runs the cycles, so a view's diff and its streams' syncs never
interleave: a stream that starts watching while a read is in flight is synced by the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from threadcast.config import Settings
from threadcast.db import Identity, as_server
from threadcast.sqlfiles import queries

if TYPE_CHECKING:
    from threadcast.hub import Connection

log = logging.getLogger(__name__)

CYCLE_SECONDS = 0.02  # notifications within this share one read
READ_CHUNK = 200  # identities per read_presence() statement

Seen = dict[str, tuple[str, str]]  # ref -> (key, state JSON text)


def presence_frame(topic: str, kind: str, presences: Iterable[tuple[str, str, str]]) -> bytes:
    """An `event: presence` frame, no id. Each presence is (key, ref, state JSON text): the
    state goes out as the database wrote it, never re-encoded."""
    items = ",".join(
        f'{{"key":{json.dumps(key)},"ref":"{ref}","state":{state}}}'
        for key, ref, state in presences
    )
    data = f'{{"channel":{json.dumps(topic)},"type":"{kind}","presences":[{items}]}}'
    return f"event: presence\ndata: {data}\n\n".encode()


@dataclass(eq=False)
class View:
    """What one identity sees of one channel's presence, and its streams watching it."""

    identity: Identity
    topic: str
    seen: Seen = field(default_factory=dict)
    synced: set[Connection] = field(default_factory=set)
    unsynced: set[Connection] = field(default_factory=set)


class Presence:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        settings: Settings,
        connection_ids: Callable[[], list[uuid.UUID]],
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.connection_ids = connection_ids  # every open stream of this replica
        self.views: dict[tuple[Identity, str], View] = {}
        self.by_topic: dict[str, set[View]] = defaultdict(set)
        self.dirty: set[str] = set()
        self.closed: list[uuid.UUID] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.q = queries("presence")

    # Lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="presence"),
            asyncio.create_task(self._beat_forever(), name="presence-beat"),
        ]

    async def close(self) -> None:
        """Stop, and end the presences of every stream this replica still holds or closed
        since the last cycle: a replica that shuts down takes its presences with it."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        ending = self.closed + self.connection_ids()
        self.closed = []
        if ending:
            with contextlib.suppress(psycopg.Error, OSError):
                await self._execute("end_connections", connections=ending)

    # Called by the hub and the listener (synchronously) -------------------------------------

    def watch(self, conn: Connection, topics: Iterable[str]) -> None:
        """`conn` went live on these presence-bound channels: sync it, then send it diffs."""
        for topic in topics:
            key = (conn.identity, topic)
            view = self.views.get(key)
            if view is None:
                view = self.views[key] = View(conn.identity, topic)
                self.by_topic[topic].add(view)
            view.unsynced.add(conn)
        self._wake.set()

    def unwatch(self, conn: Connection, topics: Iterable[str]) -> None:
        """`conn` closed: it watches nothing more, and its presences end (next cycle)."""
        for topic in topics:
            view = self.views.get((conn.identity, topic))
            if view is None:
                continue
            view.synced.discard(conn)
            view.unsynced.discard(conn)
            if not view.synced and not view.unsynced:
                del self.views[(conn.identity, topic)]
                self.by_topic[topic].discard(view)
                if not self.by_topic[topic]:
                    del self.by_topic[topic]
        self.closed.append(conn.id)
        self._wake.set()

    def changed(self, topic: str) -> None:
        """A notification: the channel's presence changed somewhere."""
        if topic in self.by_topic:
            self.dirty.add(topic)
            self._wake.set()

    def resync(self) -> None:
        """Read every watched channel again (after the listener reconnected: notifications
        may have been missed)."""
        self.dirty.update(self.by_topic)
        self._wake.set()

    # The cycle ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(CYCLE_SECONDS)  # let a burst gather
            self._wake.clear()
            try:
                await self._cycle()
            except (psycopg.Error, OSError) as exc:
                log.warning("presence: a cycle failed (%s); retrying", exc)
                self._wake.set()
                await asyncio.sleep(1.0)

    async def _cycle(self) -> None:
        closed, self.closed = self.closed, []
        if closed:
            try:
                await self._execute("end_connections", connections=closed)
            except BaseException:
                self.closed[:0] = closed  # try them again next cycle
                raise
        dirty, self.dirty = self.dirty, set()
        views = [
            view
            for topic_views in self.by_topic.values()
            for view in topic_views
            if view.topic in dirty or view.unsynced
        ]
        if not views:
            return
        try:
            seen = await self._read(views)
        except BaseException:
            self.dirty |= dirty
            raise
        for view in views:
            now = seen.get((view.identity, view.topic))
            if now is not None and self.views.get((view.identity, view.topic)) is view:
                self._deliver(view, now)

    async def _read(self, views: list[View]) -> dict[tuple[Identity, str], Seen | None]:
        """What each view's identity may see of its channel now; None where that identity's
        read failed (its views keep what they saw, and the others are not held up)."""
        topics: dict[Identity, list[str]] = defaultdict(list)
        for view in views:
            topics[view.identity].append(view.topic)
        identities = list(topics)
        seen: dict[tuple[Identity, str], Seen | None] = {}
        for start in range(0, len(identities), READ_CHUNK):
            chunk = identities[start : start + READ_CHUNK]
            try:
                rows = await self._read_chunk(chunk, topics)
            except psycopg.Error as exc:
                if len(chunk) == 1:
                    log.warning("presence: reading as %s failed: %s", chunk[0].sub, exc)
                    seen.update({(chunk[0], topic): None for topic in topics[chunk[0]]})
                    continue
                # Someone's read failed: read this chunk one identity at a time.
                for identity in chunk:
                    seen.update(await self._read([v for v in views if v.identity == identity]))
                continue
            for identity in chunk:
                for topic in topics[identity]:
                    seen[(identity, topic)] = {}
            for row in rows:
                view_seen = seen[(chunk[row["request"]], row["topic"])]
                assert view_seen is not None
                view_seen[str(row["ref"])] = (row["key"], row["state"])
        return seen

    async def _read_chunk(
        self, chunk: list[Identity], topics: dict[Identity, list[str]]
    ) -> list[dict[str, Any]]:
        requests = json.dumps(
            [
                {
                    "role": identity.role,
                    "sub": identity.sub,
                    "claims": json.loads(identity.claims_json),
                    "topics": topics[identity],
                }
                for identity in chunk
            ]
        )
        async with self.pool.connection() as conn:
            cursor = await conn.execute(self.q["read_presence"], {"requests": requests})
            return await cursor.fetchall()

    def _deliver(self, view: View, now: Seen) -> None:
        """Queue the diff on the view's synced streams and a sync on the others. Synchronous."""
        joined = [
            (key, ref, state)
            for ref, (key, state) in now.items()
            if view.seen.get(ref) != (key, state)
        ]
        left = [(key, ref, state) for ref, (key, state) in view.seen.items() if ref not in now]
        frames = []
        if left:
            frames.append(presence_frame(view.topic, "leave", left))
        if joined:
            frames.append(presence_frame(view.topic, "join", joined))
        for conn in view.synced:
            for data in frames:
                conn.push(data)
        if view.unsynced:
            sync = presence_frame(
                view.topic, "sync", ((key, ref, state) for ref, (key, state) in now.items())
            )
            for conn in view.unsynced:
                conn.push(sync)
            view.synced |= view.unsynced
            view.unsynced = set()
        view.seen = now

    # Heartbeat -------------------------------------------------------------------------------

    async def _beat_forever(self) -> None:
        interval = self.settings.presence_ttl_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self._execute(
                    "heartbeat",
                    connections=self.connection_ids(),
                    ttl=self.settings.presence_ttl_seconds,
                )
            except (psycopg.Error, OSError) as exc:
                log.warning("presence: the heartbeat failed (%s)", exc)
            self.resync()

    async def _execute(self, name: str, **params: object) -> None:
        async with as_server(self.pool) as conn:
            await conn.execute(self.q[name], params)


__all__ = ["Presence", "View", "presence_frame"]
