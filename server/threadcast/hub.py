"""The hub: turns new log positions into SSE frames for every open connection.

Concurrency model (one event loop, so "synchronous" below means "no await in between"):

* One dispatcher task owns `position`, the last log position fanned out to live connections.
  Per batch it (1) asks the database for new positions, (2) reads the payloads once per
  identity group *as that user* — RLS filters — with awaits, then (3) synchronously queues
  each visible event's frame on every live connection of the group that wants it, and advances
  `position`. An event is framed once per batch, however many identities see it, and its
  payload parsed at most once: bindings match on the change kind its position carries, so only
  a row filter, AI-status coalescing or the lag metric needs the parsed payload.
* A new connection with a cursor catches up on its own: it reads (cursor, position] as its user,
  then, synchronously, either goes live (cursor == position) or reads again. Because fan-out and
  the switch to live never interleave, each event reaches a connection exactly once: by catch-up
  if it is at or before the position where the connection went live, by fan-out if after.
* Catch-up is the connection's own task, paced by the client: it reads pages of the log (each
  sized to half of catch_up_bytes, one page read ahead) and waits for room before queuing
  each frame, so it runs at the client's reading speed and never overflows. A client any
  distance behind resumes exactly, and holds at most a page in hand, a page read ahead and
  catch_up_bytes of queue on the server. Replays running at once share CATCH_UP_ENTRIES of
  pages (at least PAGE_MIN each), so a storm of resumes holds a bounded number of rows. Only
  that task waits; nobody else is slowed.
* After each page the cursor is checked against retention (cursor_state): a replay slower than
  pruning gets one `reset` (cursor_expired) with the current position, then goes live.
* A connection goes live only with half its queue free, because live delivery cannot wait:
  the dispatcher queues synchronously and a full queue means the client fell behind.
* Then the hub queues a `reset` (slow_consumer) behind what is already queued, and the stream
  sends all of it and ends. Every frame before the reset carries its id, so the client's
  Last-Event-ID moves a whole queue on and its next connection replays (paced) from there:
  no cursor is reset twice for being slow. Shutdown, expiry and failed reads drop what was
  queued instead (never sent, so Last-Event-ID is still right), to end at once. Do not make the
  dispatcher wait for a slow client: one stalled socket would stall every stream.
* The stream's task takes whatever is queued in one write (up to 64 KiB): a replay of 100,000
  events spent most of its time in per-frame sends.
* A failed read for one identity resets that identity's connections and nobody else's.

Many channels on one connection (/v1/stream): a connection holds a Subscription per channel
and is indexed under each of its topics; catch-up reads the positions of all its topics at
once, so one cursor orders them all, and fan-out sends an event to it when one of its channels
wants it. Each channel may start at its own position (`starts`): the replay begins at the
earliest and skips a channel's events up to its start. So a client adds or removes a channel
by reconnecting with the new set, its Last-Event-ID and the new channel's start, and, the log's
order being total and every replica's, gets exactly what it lacks on each channel. A stream's
set never changes while it is open; that keeps fan-out free of per-channel bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from threadcast import reader
from threadcast.config import Settings
from threadcast.db import Identity, as_server
from threadcast.metrics import Metrics
from threadcast.presence import Presence
from threadcast.sqlfiles import queries
from threadcast.subscriptions import Catalog, Subscription

log = logging.getLogger(__name__)

Position = tuple[int, int]  # (tick_id, message id): the log's total order
CHUNK = 2000
# Entries that the catch-up reads running at once share (each at least PAGE_MIN): a lone
# client far behind reads pages of up to CHUNK (fewer round trips a page), 100 resuming at once
# read 200 each. What a read costs the server's memory goes with its page, several times the
# payload bytes counted in catch_up_total_bytes (rows, dicts, parsed payloads, freed but not
# returned to the system): 100 clients x 10,000 missed grew its RSS by 72 MiB with pages of
# 1,000, by 21 MiB with pages of 250, at the same speed.
CATCH_UP_ENTRIES = 20_000
PAGE_MIN = 200
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


Change = tuple[str | None, str | None, str | None]  # a change's schema, table, eventType


@dataclass(frozen=True, slots=True)
class LogEntry:
    position: Position
    topic: str
    event: str
    change: Change | None = None  # known from positions_after(); None: read the payload


def log_entries(rows: list[dict[str, Any]]) -> list[LogEntry]:
    """Rows of positions as entries, each distinct topic, event name and change kind one
    object: a page of 1,000 entries of one topic held 1,000 copies of each (a resume storm of
    100 clients holds two pages each)."""
    names: dict[Any, Any] = {}
    entries = []
    for r in rows:
        change = None
        if r.get("change_type") is not None:
            key = (r["change_schema"], r["change_table"], r["change_type"])
            change = names.setdefault(key, key)
        entries.append(
            LogEntry(
                (r["tick_id"], r["id"]),
                names.setdefault(r["topic"], r["topic"]),
                names.setdefault(r["event"], r["event"]),
                change,
            )
        )
    return entries


class Payload(Mapping[str, Any]):
    """An event's payload, parsed on first need. A change's schema, table and eventType, when
    its position carried them, are answered without parsing: positions_after() read them from
    this same payload. A replayed note bound without a row filter is then never parsed (a
    json.loads was 4 us of the server's 11 us an event)."""

    __slots__ = ("_parsed", "change", "text")

    def __init__(self, text: str, change: Change | None = None) -> None:
        self.text = text
        self.change = change
        self._parsed: dict[str, Any] | None = None

    def parsed(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = json.loads(self.text)
        return self._parsed

    def get(self, key: str, default: Any = None) -> Any:
        change = self.change
        if change is not None:
            known = (
                change[0] if key == "schema"
                else change[1] if key == "table"
                else change[2] if key == "eventType"
                else None
            )  # fmt: skip
            if known is not None:
                return known
        return self.parsed().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.parsed()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.parsed())

    def __len__(self) -> int:
        return len(self.parsed())


@dataclass(eq=False)
class SharedBytes:
    """Bytes of frames queued on every connection of the hub, and of replay pages in hand:
    catch-up reads wait while they are over `limit`, so a storm of resuming clients reads no
    faster than they all drain."""

    limit: int
    used: int = 0
    drained: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, size: int) -> None:
        self.used += size
        if self.used <= self.limit:
            self.drained.set()

    async def wait_room(self) -> None:
        while self.used > self.limit:
            self.drained.clear()
            await self.drained.wait()


@dataclass(eq=False)
class Connection:
    """One stream's state and its bounded queue of frames: at most `limit` frames pending
    (live delivery overflows past it), and, for catch-up, at most `budget` bytes.

    A stream carries one channel (/v1/channels/{channel}/stream) or several (/v1/stream,
    whose frames are `tagged` with their channel). `starts` holds, when channels of one stream
    start at different positions, where each starts: its events at or before it are not sent."""

    identity: Identity
    channels: dict[str, Subscription]
    limit: int
    budget: int
    shared: SharedBytes = field(default_factory=lambda: SharedBytes(1 << 62))
    tagged: bool = False
    starts: dict[str, Position] = field(default_factory=dict)
    live: bool = False
    closed: bool = False
    announced: bool = False  # the `subscribed` frame was sent
    catching_up: asyncio.Task[None] | None = None
    final: bytes | None = None  # the frame `reset` queued last; the stream ends with it
    pending_bytes: int = 0
    # The stream's id (in its `subscribed` frame): a presence names it, to end with it.
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    # One slot past the limit, so the final frame always fits behind a full queue.
    queue: asyncio.Queue[bytes] = field(init=False)
    room: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.limit + 1)

    @property
    def bindings(self) -> int:
        return sum(len(s.bindings) for s in self.channels.values())

    @property
    def presence_topics(self) -> list[str]:
        """Its channels bound to `presence`."""
        return [topic for topic, s in self.channels.items() if s.presence]

    def wants(self, event: DecodedEvent) -> bool:
        """Whether this stream sends `event`: one of its channels, a binding that matches,
        after that channel's start."""
        entry = event.entry
        subscription = self.channels.get(entry.topic)
        if subscription is None:
            return False
        if self.starts and entry.position <= self.starts[entry.topic]:
            return False
        return subscription.wants(entry.event, event.payload)

    def frame_of(self, event: DecodedEvent) -> bytes:
        return event.tagged_frame() if self.tagged else event.frame

    def push(self, data: bytes) -> bool:
        """Queue a live frame; False if the queue overflowed (the connection is then reset)."""
        if self.closed:
            return False
        if self.queue.qsize() >= self.limit:
            # What is queued still goes out before the reset, each frame with its id: the
            # client's Last-Event-ID advances by a whole queue, so its next connection starts
            # further on and is never reset for the same position twice.
            self.reset(
                "slow_consumer",
                "you fell behind; reconnect with Last-Event-ID to resume",
                keep_queued=True,
            )
            return False
        self._enqueue(data)
        return True

    async def put(self, data: bytes) -> bool:
        """Queue a catch-up frame once there is room: the client's reading sets the pace, so a
        client any distance behind resumes without overflowing. False once closed."""
        while not self.closed and not self._has_room(len(data)):
            self.room.clear()
            await self.room.wait()
        if self.closed:
            return False
        self._enqueue(data)
        return True

    async def wait_headroom(self) -> None:
        """Until at most half the queue is used (or the stream ended): live delivery cannot
        wait for room, so a connection goes live with room to spare."""
        while not self.closed and (
            self.queue.qsize() > self.limit // 2 or self.pending_bytes > self.budget // 2
        ):
            self.room.clear()
            await self.room.wait()

    async def get(self, most_bytes: int) -> list[bytes]:
        """The next frames to send (the stream's side of the queue): what is queued, up to
        `most_bytes` (at least one frame), ending at the final frame if it is among them."""
        frames = [await self.queue.get()]
        size = len(frames[0])
        while frames[-1] is not self.final and not self.queue.empty() and size < most_bytes:
            frames.append(self.queue.get_nowait())
            size += len(frames[-1])
        self._account(-size)
        self.room.set()
        return frames

    def _has_room(self, size: int) -> bool:
        pending = self.queue.qsize()
        # A frame bigger than the whole budget still goes, alone.
        return pending < self.limit and (pending == 0 or self.pending_bytes + size <= self.budget)

    def _enqueue(self, data: bytes) -> None:
        self.queue.put_nowait(data)
        self._account(len(data))

    def _account(self, size: int) -> None:
        self.pending_bytes += size
        self.shared.add(size)

    def discard(self) -> None:
        """Drop what is queued (never to be sent)."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self._account(-self.pending_bytes)

    def reset(
        self, reason: str, message: str, kind: str = "reset", *, keep_queued: bool = False
    ) -> None:
        """End the stream with a system frame (`reset`, `expired` or `shutdown`). Unless
        `keep_queued`, unsent frames are dropped (the stream ends at once), so the client's
        Last-Event-ID still points at what it really received."""
        if self.closed:
            return
        self.closed = True
        if not keep_queued:
            self.discard()
        self.final = system_frame(kind, message, reason=reason)
        self._enqueue(self.final)
        self.room.set()  # a catch-up waiting for room sees the end


@dataclass
class ReadPage:
    """One catch-up read, as the database gave it (decoding is the replay's, so the next
    read runs while this one is decoded), and where the next read starts."""

    entries: list[LogEntry]  # the page's entries up to the target, visible or not
    visible: reader.Visible
    fetched: int
    last: Position
    more: bool
    state: str  # the cursor's state after the read (cursor_state)
    held: int = 0  # bytes of payloads, then of frames, not yet queued, counted in Hub.queued
    frames: list[bytes] = field(default_factory=list)


@dataclass
class Page:
    """How many log entries one catch-up read asks for: as many as the queue holds (up to
    CHUNK), fewer when rows are big, so one read's frames stay within half the byte budget."""

    most: int
    budget: int
    entries: int = 0

    def __post_init__(self) -> None:
        self.entries = self.most

    def resize(self, fetched: int, size: int) -> None:
        """After a read of `fetched` entries whose frames came to `size` bytes."""
        if fetched == 0 or size == 0:
            return
        fits = fetched * (self.budget // 2) // size
        self.entries = max(1, min(self.most, fits, self.entries * 2))


@dataclass
class Group:
    """Open connections of one identity: they share one read and one frame per event."""

    identity: Identity
    connections: set[Connection] = field(default_factory=set)


@dataclass
class DecodedEvent:
    """A visible event, parsed and framed once per batch: every identity that may see it
    shares the same payload (parsed once, if at all) and the same frame bytes."""

    entry: LogEntry
    payload_text: str
    payload: Mapping[str, Any]  # a Payload, parsed on first need
    frame: bytes
    _tagged: bytes | None = None

    def tagged_frame(self) -> bytes:
        """The frame of a multi-channel stream: the payload with its channel as first key
        (built once per event, and only if such a stream wants it)."""
        if self._tagged is None:
            channel = json.dumps(self.entry.topic)
            text = self.payload_text
            body = (
                f'{{"channel":{channel}}}' if text == "{}" else f'{{"channel":{channel},{text[1:]}'
            )
            self._tagged = frame(self.entry.event, body, self.entry.position)
        return self._tagged


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
        self.queued = SharedBytes(settings.catch_up_total_bytes)
        self.catching_up = 0  # connections replaying now: they share CATCH_UP_ENTRIES
        self.q = queries("relay")
        # Presence frames for streams bound to it (the app starts and closes it).
        self.presence = Presence(pool, settings, self.connection_ids)

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
        await self.presence.start()

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
        await self.presence.close()

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

    def register(
        self,
        identity: Identity,
        channels: Subscription | list[Subscription],
        *,
        tagged: bool = False,
    ) -> Connection:
        """A connection for one channel, or for several (`tagged`: frames name their channel)."""
        subscriptions = [channels] if isinstance(channels, Subscription) else channels
        conn = Connection(
            identity,
            {s.channel: s for s in subscriptions},
            self.settings.queue_size,
            self.settings.catch_up_bytes,
            self.queued,
            tagged=tagged,
        )
        self.groups.setdefault(identity, Group(identity)).connections.add(conn)
        for topic in conn.channels:
            self.subscribers[topic].add(conn)
        self._count(conn, +1)
        return conn

    def set_starts(
        self, conn: Connection, cursor: Position | None, starts: dict[str, Position]
    ) -> Position | None:
        """Where a multi-channel stream's replay begins, given Last-Event-ID and some channels'
        own starts (`from.<channel>`): the earliest of them. None: live at once (no cursor, no
        starts). A channel without a start begins at the cursor, or, with no cursor, at this
        replica's position now (live from the request); events at or before a channel's
        start are not sent for it."""
        if not starts:
            return cursor
        default = cursor if cursor is not None else self.position
        conn.starts = {channel: starts.get(channel, default) for channel in conn.channels}
        return min(conn.starts.values())

    def start_catch_up(self, conn: Connection, cursor: Position) -> None:
        """Catch `conn` up from `cursor` in the background, then make it live."""
        conn.live = False
        conn.catching_up = asyncio.create_task(self.catch_up(conn, cursor))

    def connection_ids(self) -> list[uuid.UUID]:
        """Every open stream's id."""
        return [conn.id for group in self.groups.values() for conn in group.connections]

    def unregister(self, conn: Connection) -> None:
        conn.closed = True
        conn.discard()  # its bytes no longer count against the hub's
        if conn.catching_up is not None:
            conn.catching_up.cancel()
        group = self.groups.get(conn.identity)
        if group is not None and conn in group.connections:
            group.connections.discard(conn)
            if not group.connections:
                del self.groups[conn.identity]
            for topic in conn.channels:
                topic_subscribers = self.subscribers[topic]
                topic_subscribers.discard(conn)
                if not topic_subscribers:
                    del self.subscribers[topic]
            self._count(conn, -1)
            self.presence.unwatch(conn, conn.presence_topics)

    def _count(self, conn: Connection, sign: int) -> None:
        # O(1) per change: a churn of 10,000 connections must not rescan them all each time.
        self.metrics.connections.inc(sign)
        self.metrics.subscriptions.inc(sign * conn.bindings)
        self.metrics.identity_groups.set(len(self.groups))

    def go_live(self, conn: Connection) -> None:
        """From now on the dispatcher delivers to `conn`; tell the client, with the position it
        would resume from. Synchronous, so no batch can slip between the two."""
        conn.live = True
        if conn.starts:
            # Starts the position has passed filter nothing more: keep only those ahead of it.
            conn.starts = {c: p for c, p in conn.starts.items() if p > self.position}
            if conn.starts:
                conn.starts.update({c: (0, 0) for c in conn.channels if c not in conn.starts})
        if conn.announced:
            return
        conn.announced = True
        names = list(conn.channels)
        where = {"channels": names} if conn.tagged else {"channel": names[0]}
        conn.push(
            system_frame(
                "subscribed",
                f"live on {', '.join(names)}",
                self.position,
                **where,
                bindings=conn.bindings,
                connection=str(conn.id),
            )
        )
        if topics := conn.presence_topics:
            self.presence.watch(conn, topics)  # its sync comes after `subscribed`

    async def cursor_state(self, position: Position) -> str:
        async with as_server(self.pool) as conn:
            row = await (
                await conn.execute(self.q["cursor_state"], {"tick": position[0]})
            ).fetchone()
        return row["state"] if row else "unknown"

    def expire(self, conn: Connection, state: str) -> None:
        """The cursor is older than retention (or from another database): a gap the client must
        fill by refetching. It continues from here, live."""
        self.metrics.resets.labels(reason=f"cursor_{state}").inc()
        conn.push(
            system_frame(
                "reset",
                "your position is no longer in the log; refetch and continue from here",
                self.position,
                reason=f"cursor_{state}",
            )
        )
        self.go_live(conn)

    async def catch_up(self, conn: Connection, cursor: Position) -> None:
        """Deliver everything after `cursor`, then make the connection live (see module doc)."""
        self.catching_up += 1
        try:
            await self._catch_up(conn, cursor)
        except psycopg.Error as exc:
            log.warning("hub: catch-up for %s failed: %s", conn.identity.sub, exc)
            self.metrics.resets.labels(reason="read_failed").inc()
            conn.reset("read_failed", "could not read your missed events; reconnect to resume")
        finally:
            self.catching_up -= 1

    async def _catch_up(self, conn: Connection, cursor: Position) -> None:
        size = Page(min(CHUNK, conn.limit), conn.budget)
        while not conn.closed:
            target = self.position
            if cursor > target:
                # The client saw more than this replica has fanned out yet: wait for it.
                with contextlib.suppress(TimeoutError):
                    async with self.advanced:
                        await asyncio.wait_for(self.advanced.wait(), timeout=1.0)
                continue
            if cursor == target:
                if conn.queue.qsize() > conn.limit // 2 or conn.pending_bytes > conn.budget // 2:
                    await conn.wait_headroom()  # the position may move meanwhile: look again
                    continue
                self.go_live(conn)  # synchronous with the comparison above
                return
            if not await self._replay(conn, cursor, target, size):
                return
            cursor = target

    async def _replay(
        self, conn: Connection, cursor: Position, target: Position, size: Page
    ) -> bool:
        """Queue (cursor, target] page by page, reading the next page while the client drains
        this one; False if the stream ended or the cursor expired meanwhile."""
        ahead = asyncio.create_task(self._read_page(conn, cursor, target, size.entries))
        page: ReadPage | None = None
        try:
            while True:
                page = await ahead
                if page.state != "ok":
                    await conn.wait_headroom()
                    if not conn.closed:
                        self.expire(conn, page.state)
                    return False
                if page.more:
                    # The database reads the next page while this one is decoded and sent.
                    ahead = asyncio.create_task(
                        self._read_page(conn, page.last, target, size.entries)
                    )
                self._frame_page(conn, page)
                for data in page.frames:
                    page.held -= len(data)  # from the page in hand to the queue
                    self.queued.add(-len(data))
                    if not await conn.put(data):
                        return False
                    self.metrics.events_delivered.inc()
                size.resize(page.fetched, sum(len(f) for f in page.frames))
                if not page.more:
                    return True
        finally:
            self._release(page, ahead)

    def _release(self, page: ReadPage | None, ahead: asyncio.Task[ReadPage]) -> None:
        """A replay that ends: what it read but never queued no longer counts."""
        if page is not None:
            self.queued.add(-page.held)
            page.held = 0
        if ahead.done() and not ahead.cancelled() and ahead.exception() is None:
            unread = ahead.result()
            if unread is not page:
                self.queued.add(-unread.held)
                unread.held = 0
        ahead.cancel()

    async def _read_page(
        self, conn: Connection, cursor: Position, target: Position, entries: int
    ) -> ReadPage:
        """Up to `entries` log entries after `cursor` (up to `target`), as the frames this
        connection may see and wants, in log order."""
        # A few pages at a time hold connections; the rest wait here rather than in the pool,
        # whose timeout would fail a storm of 1,000 resuming clients.
        async with self._reads:
            # Memory: while every stream together has catch_up_total_bytes queued, read no
            # more (checked in turn, so a storm cannot pass it all at once).
            await self.queued.wait_room()
            entries = min(entries, max(PAGE_MIN, CATCH_UP_ENTRIES // max(1, self.catching_up)))
            fetched = await self._positions(cursor, target, list(conn.channels), limit=entries)
            wanted = [e for e in fetched if e.position <= target]
            ids = [e.position[1] for e in wanted]
            visible = await reader.read_one(self.pool, conn.identity, ids) if wanted else {}
            # A replay may take hours at a slow client's pace while retention prunes the log:
            # if the cursor's tick is still there, nothing after it was pruned before the read.
            state = await self.cursor_state(cursor)
        if wanted:
            self.metrics.catch_up_reads.inc()
        # A full page that ended before the target means there is more to read.
        more = len(fetched) == entries and len(wanted) == len(fetched)
        held = sum(len(text) for text in visible.values())
        self.queued.add(held)  # pages in hand count against the hub's budget too
        last = wanted[-1].position if more else target
        return ReadPage(wanted, visible, len(fetched), last, more, state, held)

    def _frame_page(self, conn: Connection, page: ReadPage) -> None:
        """Decode a read page into the frames this connection wants, in log order; its
        held bytes become the frames' instead of the payloads'."""
        events = self._decode(page.entries, page.visible)
        page.frames = [
            conn.frame_of(event) for event in coalesce_progress(events) if conn.wants(event)
        ]
        page.entries, page.visible = [], {}  # only the frames are held from here on
        framed = sum(len(f) for f in page.frames)
        self.queued.add(framed - page.held)
        page.held = framed

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
        entries = log_entries(rows)
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
        limit: int = CHUNK,
    ) -> list[LogEntry]:
        params = {
            "after_tick": after[0],
            "after_id": after[1],
            "upto_tick": upto[0],
            "topics": topics,
            "limit": limit,
        }
        async with as_server(pool or self.pool) as conn:
            rows = await (await conn.execute(self.q["positions_after"], params)).fetchall()
        return log_entries(rows)

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
                    entry,
                    text,
                    Payload(text, entry.change),
                    frame(entry.event, text, entry.position),
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
        # A connection that went live during the reads, on a topic its identity's read did not
        # cover, gets nothing of this batch here (not even of its covered channels): it
        # catches up from the position before the batch instead, below.
        uncovered = {
            conn
            for topic in by_topic
            for conn in self.subscribers.get(topic, ())
            if conn.live and (conn.identity, topic) not in covered
        }

        # From here to the end: no awaits (see the module docstring).
        now = dt.datetime.now(dt.UTC)
        lag_observed: set[int] = set()
        delivered = overflowed = 0
        for (group, _), result in zip(reads, results, strict=True):
            live = [c for c in group.connections if c.live and not c.closed and c not in uncovered]
            if isinstance(result, BaseException):
                self.metrics.read_errors.inc()
                log.warning("hub: read as %s failed: %s", group.identity.sub, result)
                for conn in live:
                    conn.reset("read_failed", "could not read events for you; reconnect to resume")
                continue
            for event in coalesce_progress(result):
                self._observe_lag(event, now, lag_observed)
                for conn in live:
                    if conn.closed:
                        continue  # reset earlier in this batch: counted once, sent nothing more
                    if conn.wants(event):
                        if conn.push(conn.frame_of(event)):
                            delivered += 1
                        else:
                            overflowed += 1
        self.metrics.events_delivered.inc(delivered)
        if overflowed:
            self.metrics.resets.labels(reason="slow_consumer").inc(overflowed)
        for conn in uncovered:
            if not conn.closed:
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
        row since autovacuum last came by (migration 0005)."""
        while not self._closing:
            await asyncio.sleep(self.settings.summarize_interval_seconds)
            try:
                async with as_server(self.pool) as conn:
                    await conn.execute(self.q["summarize"])
            except psycopg.Error as exc:
                log.warning("hub: summarizing the log failed: %s", exc)


def coalesce_progress(events: Iterable[DecodedEvent]) -> list[DecodedEvent]:
    """Drop an AI `processing` event when a later AI event for the same thread on the same
    topic follows in the same batch; started, completed and failed are never dropped. By topic
    too: a thread's status goes to its ticket's channel and its org's inbox, and one reader's
    batch may hold both, for different connections."""
    events = list(events)
    latest: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        if event.entry.event == "ai_status":
            latest[(event.entry.topic, str(event.payload.get("threadId")))] = index
    return [
        event
        for index, event in enumerate(events)
        if not (
            event.entry.event == "ai_status"
            and event.payload.get("status") == "processing"
            and latest[(event.entry.topic, str(event.payload.get("threadId")))] != index
        )
    ]
