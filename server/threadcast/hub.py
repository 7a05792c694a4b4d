"""The hub: turns new log positions into SSE frames for every open connection.

Concurrency model (one event loop, so "synchronous" below means "no await in between"):

* One dispatcher task owns `position`, the last log position fanned out to live connections.
  Per batch it (1) asks the database for new positions, (2) reads the payloads once per
  identity group *as that user* — RLS filters — with awaits, then (3) synchronously queues
  each visible event's frame on every live connection of the group that wants it, and advances
  `position`. An event is parsed and framed once per batch, however many identities see it.
* A new connection with a cursor catches up on its own: it reads (cursor, position] as its user,
  then, synchronously, either goes live (cursor == position) or reads again. Because fan-out and
  the switch to live never interleave, each event reaches a connection exactly once: by catch-up
  if it is at or before the position where the connection went live, by fan-out if after.
* Catch-up waits for room in the connection's queue, so it runs at the client's reading speed:
  a client any distance behind resumes exactly, never overflowing, with one chunk of payloads
  and one queue in memory per connection. Only the connection's own task waits.
* A live connection's queue is bounded. When it is full the hub drops what was queued (never
  sent, so the client's Last-Event-ID is still right) and queues a `reset`; the stream sends it
  and ends, and the client resumes by Last-Event-ID — paced, so a reconnect is never reset for
  being slow before it is live again. A slow client never blocks the dispatcher.
* A failed read for one identity resets that identity's connections and nobody else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from threadcast import reader
from threadcast.config import Settings
from threadcast.db import Identity, as_server
from threadcast.metrics import Metrics
from threadcast.sqlfiles import queries
from threadcast.subscriptions import Catalog, Subscription

log = logging.getLogger(__name__)

Position = tuple[int, int]  # (tick_id, message id): the log's total order
CHUNK = 2000
LIVE_HEADROOM_POLL_SECONDS = 0.005
CATALOG_TTL_SECONDS = 10.0


def format_position(position: Position) -> str:
    return f"{position[0]}-{position[1]}"


def frame(event: str, data: str, position: Position | None = None) -> bytes:
    """One SSE frame. `data` is a single line of JSON: jsonb's text form never has newlines,
    so a note body cannot end the frame early or forge another one."""
    head = f"id: {format_position(position)}\n" if position is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


def system_frame(kind: str, message: str, position: Position | None = None, **extra: Any) -> bytes:
    body = {"type": kind, "message": message, **extra}
    return frame("system", json.dumps(body, separators=(",", ":")), position)


@dataclass(frozen=True)
class LogEntry:
    position: Position
    topic: str
    event: str


@dataclass(eq=False)
class Connection:
    identity: Identity
    subscription: Subscription
    queue: asyncio.Queue[bytes]
    live: bool = False
    closed: bool = False
    announced: bool = False  # the `subscribed` frame was sent
    catching_up: asyncio.Task[None] | None = None
    final: bytes | None = None  # the frame `reset` queued last; the stream ends with it

    @property
    def topic(self) -> str:
        return self.subscription.channel

    def push(self, data: bytes) -> bool:
        """Queue a frame; False if the queue overflowed (the connection is then reset)."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.reset("slow_consumer", "you fell behind; reconnect with Last-Event-ID to resume")
            return False
        return True

    async def put(self, data: bytes) -> bool:
        """Queue a frame once there is room (catch-up: the client's reading sets the pace, so
        a client any distance behind resumes without overflowing); False once closed."""
        if self.closed:
            return False
        await self.queue.put(data)
        return not self.closed

    def reset(self, reason: str, message: str, kind: str = "reset") -> None:
        """End the stream with a system frame (`reset`, or `shutdown`); unsent frames are
        dropped, so the client's Last-Event-ID still points at what it really received."""
        if self.closed:
            return
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        # The stream ends at this frame: a catch-up woken by the room made here may still
        # queue one more frame behind it, which is never sent.
        self.final = system_frame(kind, message, reason=reason)
        self.queue.put_nowait(self.final)


@dataclass
class Group:
    """Open connections of one identity: they share one read and one frame per event."""

    identity: Identity
    connections: set[Connection] = field(default_factory=set)


@dataclass
class DecodedEvent:
    """A visible event, parsed and framed once per batch: every identity that may see it
    shares the same parsed payload and the same frame bytes."""

    entry: LogEntry
    payload_text: str
    payload: dict[str, Any]
    frame: bytes


class Hub:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        settings: Settings,
        metrics: Metrics,
        dispatch_pool: AsyncConnectionPool | None = None,
    ) -> None:
        # Catch-ups and catalog reads share the app's pool with the API; the dispatcher has
        # connections of its own, so a storm of connects or requests never delays fan-out.
        self.pool = pool
        self.dispatch_pool = dispatch_pool or pool
        self.settings = settings
        self.metrics = metrics
        self.groups: dict[Identity, Group] = {}
        # Every open connection by topic, so a batch touches only its topics' subscribers.
        self.subscribers: dict[str, set[Connection]] = defaultdict(set)
        self.position: Position = (0, 0)
        self.advanced = asyncio.Condition()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._catalog: Catalog | None = None
        self._catalog_loaded_at = 0.0
        self._reads = asyncio.Semaphore(max(1, settings.pool_max_size - 2))
        self.q = queries("relay")

    # Lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        async with as_server(self.pool) as conn:
            # Tick first: what was committed before this server started is history, to be
            # replayed by cursor, not news for its first subscribers.
            await conn.execute(self.q["tick"])
            row = await (await conn.execute(self.q["head"])).fetchone()
            assert row is not None
            self.position = (row["tick_id"], row["id"])
        self._tasks = [
            asyncio.create_task(self._dispatch_forever(), name="hub-dispatch"),
            asyncio.create_task(self._prune_forever(), name="hub-prune"),
            asyncio.create_task(self._summarize_forever(), name="hub-summarize"),
        ]

    def begin_shutdown(self) -> None:
        """End every stream with a `shutdown` frame so clients resume on another replica."""
        self._closing = True
        for group in list(self.groups.values()):
            for conn in list(group.connections):
                conn.reset(
                    "shutdown", "server shutting down; reconnect with Last-Event-ID", "shutdown"
                )

    async def close(self) -> None:
        self.begin_shutdown()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def closing(self) -> bool:
        return self._closing

    def wake(self) -> None:
        """Called by the listener on NOTIFY, after reconnecting, and on its poll timer."""
        self._wake.set()

    async def catalog(self) -> Catalog:
        if (
            self._catalog is None
            or time.monotonic() - self._catalog_loaded_at > CATALOG_TTL_SECONDS
        ):
            async with as_server(self.pool) as conn:
                self._catalog = await Catalog.load(conn)
            self._catalog_loaded_at = time.monotonic()
        return self._catalog

    # Connections -----------------------------------------------------------------------------

    def register(self, identity: Identity, subscription: Subscription) -> Connection:
        conn = Connection(identity, subscription, asyncio.Queue(self.settings.queue_size))
        self.groups.setdefault(identity, Group(identity)).connections.add(conn)
        self.subscribers[conn.topic].add(conn)
        self._count(conn, +1)
        return conn

    def start_catch_up(self, conn: Connection, cursor: Position) -> None:
        """Catch `conn` up from `cursor` in the background, then make it live."""
        conn.live = False
        conn.catching_up = asyncio.create_task(self.catch_up(conn, cursor))

    def unregister(self, conn: Connection) -> None:
        conn.closed = True
        if conn.catching_up is not None:
            conn.catching_up.cancel()
        group = self.groups.get(conn.identity)
        if group is not None and conn in group.connections:
            group.connections.discard(conn)
            if not group.connections:
                del self.groups[conn.identity]
            topic_subscribers = self.subscribers[conn.topic]
            topic_subscribers.discard(conn)
            if not topic_subscribers:
                del self.subscribers[conn.topic]
            self._count(conn, -1)

    def _count(self, conn: Connection, sign: int) -> None:
        # O(1) per change: a churn of 10,000 connections must not rescan them all each time.
        self.metrics.connections.inc(sign)
        self.metrics.subscriptions.inc(sign * len(conn.subscription.bindings))
        self.metrics.identity_groups.set(len(self.groups))

    def go_live(self, conn: Connection) -> None:
        """From now on the dispatcher delivers to `conn`; tell the client, with the position it
        would resume from. Synchronous, so no batch can slip between the two."""
        conn.live = True
        if conn.announced:
            return
        conn.announced = True
        conn.push(
            system_frame(
                "subscribed",
                f"live on {conn.topic}",
                self.position,
                channel=conn.topic,
                bindings=len(conn.subscription.bindings),
            )
        )

    async def cursor_state(self, position: Position) -> str:
        async with as_server(self.pool) as conn:
            row = await (
                await conn.execute(self.q["cursor_state"], {"tick": position[0]})
            ).fetchone()
        return row["state"] if row else "unknown"

    async def catch_up(self, conn: Connection, cursor: Position) -> None:
        """Deliver everything after `cursor`, then make the connection live (see module doc)."""
        try:
            await self._catch_up(conn, cursor)
        except psycopg.Error as exc:
            log.warning("hub: catch-up for %s failed: %s", conn.identity.sub, exc)
            self.metrics.resets.labels(reason="read_failed").inc()
            conn.reset("read_failed", "could not read your missed events; reconnect to resume")

    async def _catch_up(self, conn: Connection, cursor: Position) -> None:
        while not conn.closed:
            target = self.position
            if cursor > target:
                # The client saw more than this replica has fanned out yet: wait for it.
                with contextlib.suppress(TimeoutError):
                    async with self.advanced:
                        await asyncio.wait_for(self.advanced.wait(), timeout=1.0)
                continue
            if cursor == target:
                if conn.queue.qsize() > conn.queue.maxsize // 2:
                    # Live delivery cannot wait for room: go live with headroom, once the
                    # client has read most of its replay; until then keep catching up.
                    await asyncio.sleep(LIVE_HEADROOM_POLL_SECONDS)
                    continue
                self.go_live(conn)
                return
            fetched = await self._positions(cursor, target, topics=[conn.topic])
            entries = [e for e in fetched if e.position <= target]
            if entries:
                self.metrics.catch_up_reads.inc()
                events = await self._read_as(conn.identity, entries)
                for event in coalesce_progress(events):
                    if conn.subscription.wants(event.entry.event, event.payload):
                        # Paced by the client's reading: wait for room rather than overflow.
                        if not await conn.put(event.frame):
                            return
                        self.metrics.events_delivered.inc()
            # A full chunk that ended before the target means there is more to read.
            full_chunk = len(fetched) == CHUNK and len(entries) == len(fetched)
            cursor = entries[-1].position if full_chunk else target

    # Dispatch --------------------------------------------------------------------------------

    async def _dispatch_forever(self) -> None:
        """Idle: wait for a wake-up (or the idle poll). Active: start a cycle every batch
        window, or at once when the last cycle took longer than the window, so under load
        the dispatcher never sleeps while events wait."""
        window = self.settings.batch_window_ms / 1000
        active_until = 0.0
        cycle_started = 0.0
        failures = 0
        while not self._closing:
            now = time.monotonic()
            if now > active_until:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.idle_poll_seconds)
                if self._wake.is_set():
                    # The first commit after a quiet spell: let the burst it starts gather.
                    await asyncio.sleep(window)
            elif cycle_started + window > now:
                await asyncio.sleep(cycle_started + window - now)
            if self._wake.is_set():
                # Writers that stayed quiet under the NOTIFY throttle may commit for a while
                # yet, so keep polling at the batch window until things go quiet.
                self._wake.clear()
                active_until = time.monotonic() + self.settings.active_poll_seconds
            cycle_started = time.monotonic()
            try:
                if await self.pump():
                    active_until = time.monotonic() + self.settings.active_poll_seconds
                failures = 0
            except (psycopg.Error, OSError) as exc:
                failures += 1
                log.warning("hub: reading the log failed (%s); retrying", exc)
                await asyncio.sleep(min(5.0, 0.1 * 2**failures))

    async def pump(self) -> bool:
        """Fan out everything new in the log; True if there was anything."""
        # One statement ticks and returns what is new (realtime.advance(), which returns only
        # once the new tick has committed). Most cycles end here, with nothing new.
        with self._stage("advance"):
            params = {"after_tick": self.position[0], "after_id": self.position[1], "limit": CHUNK}
            async with as_server(self.dispatch_pool) as conn:
                rows = await (await conn.execute(self.q["advance"], params)).fetchall()
        if not rows:
            return False
        head_tick = rows[0]["head_tick"]
        entries = [LogEntry((r["tick_id"], r["id"]), r["topic"], r["event"]) for r in rows]
        while True:
            self.metrics.batch_size.observe(len(entries))
            await self._fan_out(entries)
            if len(entries) < CHUNK:
                break
            with self._stage("positions"):
                entries = await self._positions(
                    self.position, (head_tick, 0), topics=None, pool=self.dispatch_pool
                )
            if not entries:
                break
        async with self.advanced:
            self.advanced.notify_all()
        return True

    async def _positions(
        self,
        after: Position,
        upto: Position,
        topics: list[str] | None,
        pool: AsyncConnectionPool | None = None,
    ) -> list[LogEntry]:
        params = {
            "after_tick": after[0],
            "after_id": after[1],
            "upto_tick": upto[0],
            "topics": topics,
            "limit": CHUNK,
        }
        async with as_server(pool or self.pool) as conn:
            rows = await (await conn.execute(self.q["positions_after"], params)).fetchall()
        return [LogEntry((r["tick_id"], r["id"]), r["topic"], r["event"]) for r in rows]

    async def _read_as(self, identity: Identity, entries: list[LogEntry]) -> list[DecodedEvent]:
        """The entries this identity may see, in log order, read under its RLS."""
        async with self._reads:
            visible = await reader.read_one(self.pool, identity, [e.position[1] for e in entries])
        return self._decode(entries, visible)

    def _decode(
        self,
        entries: list[LogEntry],
        visible: reader.Visible,
        shared: dict[int, DecodedEvent] | None = None,
    ) -> list[DecodedEvent]:
        """The visible entries, decoded; `shared` carries decodings across identities."""
        self.metrics.reads.inc()
        self.metrics.events_read.inc(len(visible))
        shared = {} if shared is None else shared
        decoded = []
        for entry in entries:
            message_id = entry.position[1]
            if message_id not in visible:
                continue
            event = shared.get(message_id)
            if event is None:
                text = visible[message_id]
                event = DecodedEvent(
                    entry, text, json.loads(text), frame(entry.event, text, entry.position)
                )
                shared[message_id] = event
            decoded.append(event)
        return decoded

    async def _fan_out(self, entries: list[LogEntry]) -> None:
        end = entries[-1].position
        by_topic: dict[str, list[LogEntry]] = defaultdict(list)
        for entry in entries:
            by_topic[entry.topic].append(entry)

        # Who this batch's reads cover: every identity with a connection on a touched topic
        # (live or catching up). A connection that arrives while the reads run is not covered.
        wanted: dict[Identity, list[LogEntry]] = defaultdict(list)
        covered: set[tuple[Identity, str]] = set()
        for topic, topic_entries in by_topic.items():
            for identity in {c.identity for c in self.subscribers.get(topic, ())}:
                wanted[identity].extend(topic_entries)
                covered.add((identity, topic))
        reads = []
        for identity, identity_entries in wanted.items():
            if len(identity_entries) > 1:
                identity_entries.sort(key=lambda e: e.position)  # topics interleave in the log
            reads.append((self.groups[identity], identity_entries))
        shared: dict[int, DecodedEvent] = {}
        with self._stage("read"):
            outcomes = await reader.read_many(
                self.dispatch_pool,
                [(g.identity, [e.position[1] for e in entries]) for g, entries in reads],
                connections=self.settings.read_connections,
            )
        queued = time.perf_counter()
        results = [
            o if isinstance(o, BaseException) else self._decode(group_entries, o, shared)
            for (_, group_entries), o in zip(reads, outcomes, strict=True)
        ]

        # From here to the end: no awaits (see the module docstring).
        now = dt.datetime.now(dt.UTC)
        lag_observed: set[int] = set()
        delivered = overflowed = 0
        for (group, _), result in zip(reads, results, strict=True):
            live = [c for c in group.connections if c.live and not c.closed]
            if isinstance(result, BaseException):
                self.metrics.read_errors.inc()
                log.warning("hub: read as %s failed: %s", group.identity.sub, result)
                for conn in live:
                    conn.reset("read_failed", "could not read events for you; reconnect to resume")
                continue
            for event in coalesce_progress(result):
                self._observe_lag(event, now, lag_observed)
                data = event.frame
                for conn in live:
                    if conn.topic == event.entry.topic and conn.subscription.wants(
                        event.entry.event, event.payload
                    ):
                        if conn.push(data):
                            delivered += 1
                        else:
                            overflowed += 1
        self.metrics.events_delivered.inc(delivered)
        if overflowed:
            self.metrics.resets.labels(reason="slow_consumer").inc(overflowed)
        for topic in by_topic:
            for conn in self.subscribers.get(topic, ()):
                if conn.live and (conn.identity, topic) not in covered:
                    # It went live during the reads above, so this batch was not read for it:
                    # catch it up from where it went live (the position before this batch).
                    self.start_catch_up(conn, self.position)
        self.position = end
        self.metrics.dispatch_seconds.labels(stage="queue").observe(time.perf_counter() - queued)

    @contextlib.contextmanager
    def _stage(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.metrics.dispatch_seconds.labels(stage=stage).observe(time.perf_counter() - started)

    def _observe_lag(self, event: DecodedEvent, now: dt.datetime, seen: set[int]) -> None:
        message_id = event.entry.position[1]
        stamp = event.payload.get("commit_timestamp")
        if message_id in seen or not isinstance(stamp, str):
            return
        seen.add(message_id)
        with contextlib.suppress(ValueError):
            self.metrics.delivery_lag.observe(
                max(0.0, (now - dt.datetime.fromisoformat(stamp)).total_seconds())
            )

    # Retention -------------------------------------------------------------------------------

    async def _prune_forever(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.settings.prune_interval_seconds)
            try:
                async with as_server(self.pool) as conn:
                    await conn.execute(
                        self.q["prune"], {"seconds": self.settings.retention_seconds}
                    )
            except psycopg.Error as exc:
                log.warning("hub: pruning the log failed: %s", exc)

    async def _summarize_forever(self) -> None:
        """Keep the log's BRIN index summarized, so each tick rechecks a few pages, not every
        row since autovacuum last came by (sql/005_log_summaries.sql)."""
        while not self._closing:
            await asyncio.sleep(self.settings.summarize_interval_seconds)
            try:
                async with as_server(self.pool) as conn:
                    await conn.execute(self.q["summarize"])
            except psycopg.Error as exc:
                log.warning("hub: summarizing the log failed: %s", exc)


def coalesce_progress(events: Iterable[DecodedEvent]) -> list[DecodedEvent]:
    """Drop an AI `processing` event when a later AI event for the same thread follows in the
    same batch; started, completed and failed are never dropped."""
    events = list(events)
    latest: dict[str, int] = {}
    for index, event in enumerate(events):
        if event.entry.event == "ai_status":
            latest[str(event.payload.get("threadId"))] = index
    return [
        event
        for index, event in enumerate(events)
        if not (
            event.entry.event == "ai_status"
            and event.payload.get("status") == "processing"
            and latest[str(event.payload.get("threadId"))] != index
        )
    ]
