"""The delivery checker: what was written, what each client received, and what went wrong.

Writers insert notes whose body is a unique marker (`<run>-w<writer>-<seq>`); every client
records each event it receives and each `reset`, reconnecting with Last-Event-ID the way
EventSource does; `check` compares the two and reports, per client, the events lost,
duplicated, out of order (a writer's commits are sequential, so its markers must arrive in
order) and leaked (received although the client may not see them).

A write whose outcome is unknown (the connection broke while the INSERT was in flight) is
kept apart as uncertain: it may or may not have committed, so it is neither expected nor lost,
but if it arrives it is still checked for duplicates, order and leaks.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from httpx_sse import aconnect_sse
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from tests.support import World


@dataclass(frozen=True)
class Written:
    marker: str
    writer: int
    seq: int
    internal: bool


class Writers:
    """Threads inserting notes on the world's thread, each on its own autocommit connection,
    reconnecting after any connection error (a PostgreSQL restart, say)."""

    def __init__(
        self,
        database_url: str,
        world: World,
        *,
        run: str,
        count: int = 2,
        interval: float = 0.01,
        internal_every: int = 4,
        body_size: int = 0,
    ) -> None:
        self.database_url = database_url
        self.world = world
        self.run = re.sub(r"\W+", "-", run).strip("-")  # markers hold no spaces
        self.count = count
        self.interval = interval
        self.internal_every = internal_every
        self.padding = " " + "x" * body_size if body_size else ""
        self.acknowledged: list[Written] = []
        self.uncertain: list[Written] = []
        self.connection_errors = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Writers:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for n in range(self.count):
            thread = threading.Thread(target=self._write, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self._threads.clear()

    @property
    def all(self) -> list[Written]:
        return self.acknowledged + self.uncertain

    def wait_for_writes(self, count: int, timeout: float = 30) -> None:
        """Until `count` more writes have been acknowledged."""
        target = len(self.acknowledged) + count
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < target:
            assert time.monotonic() < deadline, f"writers stuck at {len(self.acknowledged)}"
            time.sleep(0.02)

    def _write(self, writer: int) -> None:
        seq = 0
        conn: psycopg.Connection | None = None
        while not self._stop.is_set():
            if conn is None or conn.closed:
                try:
                    conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=2)
                except psycopg.OperationalError:
                    self.connection_errors += 1
                    time.sleep(0.1)
                    continue
            seq += 1
            note = Written(
                f"{self.run}-w{writer}-{seq:06d}", writer, seq, seq % self.internal_every == 0
            )
            try:
                conn.execute(
                    "insert into ticket_notes (thread_id, ticket_id, author_id, body, internal)"
                    " values (%s, %s, %s, %s, %s)",
                    (self.world.thread, self.world.ticket, self.world.agent,
                     note.marker + self.padding, note.internal),
                )  # fmt: skip
            except psycopg.OperationalError:
                self.uncertain.append(note)
                self.connection_errors += 1
                conn.close()
                continue
            self.acknowledged.append(note)
            time.sleep(self.interval)
        if conn is not None:
            conn.close()


@dataclass
class Received:
    event_id: str
    marker: str


class Client:
    """An SSE consumer that never gives up: after any error or end of stream it reconnects —
    to the next URL in turn, so a second replica can take over — with the Last-Event-ID of
    the last frame that carried one."""

    def __init__(self, name: str, urls: list[str], token: str) -> None:
        self.name = name
        self.urls = urls
        self.token = token
        self.received: list[Received] = []
        self.resets: list[dict] = []
        self.statuses: Counter[int] = Counter()
        self.connects = 0
        self.shutdowns = 0  # `shutdown` frames received
        self.deletes = 0  # DELETE events of notes
        self.other_events = 0  # changes of tables other than ticket_notes
        self.errors: list[str] = []  # unexpected client-side exceptions, for diagnosis
        self.subscribed = threading.Event()
        self.expired = threading.Event()
        self.last_event_id: str | None = None
        self.paused = threading.Event()  # set: stay disconnected
        self.cut_mid_frame = False  # set: drop the connection part-way through frames
        self.mid_frame_cuts = 0
        self._stop = threading.Event()
        self._cut = threading.Event()
        self._thread: threading.Thread | None = None
        self._url_index = 0

    def __enter__(self) -> Client:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Client:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._cut.set()
        if self._thread is not None:
            self._thread.join(15)
            assert not self._thread.is_alive(), f"{self.name} did not stop"

    def cut(self) -> None:
        """Drop the connection now, from the client side; it reconnects unless paused."""
        self._cut.set()

    def markers(self) -> list[str]:
        return [r.marker for r in self.received]

    def wait_for_marker(self, marker: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.markers():
            assert time.monotonic() < deadline, f"{self.name} never got {marker}"
            time.sleep(0.02)

    def wait_subscribed(self, timeout: float = 15) -> None:
        assert self.subscribed.wait(timeout), (
            f"{self.name} never subscribed: {self.statuses} {self.errors[-3:]}"
        )

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=30)) as http:
            while not self._stop.is_set():
                if self.paused.is_set():
                    await asyncio.sleep(0.02)
                    continue
                self._cut.clear()
                reading = asyncio.create_task(self._read(http))
                cutting = asyncio.create_task(self._wait_for_cut())
                await asyncio.wait({reading, cutting}, return_when=asyncio.FIRST_COMPLETED)
                for task in (reading, cutting):
                    task.cancel()
                for outcome in await asyncio.gather(reading, cutting, return_exceptions=True):
                    if isinstance(outcome, Exception):
                        self.errors.append(repr(outcome))
                if self.expired.is_set():
                    return
                if not self._stop.is_set():
                    self._url_index = (self._url_index + 1) % len(self.urls)
                    await asyncio.sleep(random.uniform(0.05, 0.3))

    async def _wait_for_cut(self) -> None:
        while not self._cut.is_set():
            await asyncio.sleep(0.02)

    async def _read(self, http: httpx.AsyncClient) -> None:
        url = self.urls[self._url_index]
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        try:
            async with aconnect_sse(http, "GET", url, headers=headers) as source:
                response = source.response
                self.statuses[response.status_code] += 1
                if response.status_code != 200:
                    await response.aread()
                    return
                self.connects += 1
                await self._consume(response)
        except (httpx.HTTPError, OSError):
            self.statuses[0] += 1  # connection refused, reset or cut: reconnect

    async def _consume(self, response: httpx.Response) -> None:
        """Decode the stream chunk by chunk (httpx-sse's decoders), so that in cut mode the
        connection can be dropped while a frame is half received."""
        lines, frames = SSELineDecoder(), SSEDecoder()
        partial = ""  # text since the last blank line: non-empty means mid-frame
        async for text in response.aiter_text():
            for line in lines.decode(text):
                event = frames.decode(line.rstrip("\n"))
                if event is not None and event.data:  # a `retry:`-only frame has no data
                    self._record(event.event, event.data, event.id)
                    if self.expired.is_set():
                        return
            partial = (partial + text).replace("\r\n", "\n").rsplit("\n\n", 1)[-1]
            if self.cut_mid_frame and partial and random.random() < 0.3:
                self.mid_frame_cuts += 1
                return

    def _record(self, kind: str, data: str, event_id: str) -> None:
        body = json.loads(data)
        if kind == "postgres_changes" and body["table"] == "ticket_notes":
            row = body["new"] or body["old"]
            self.received.append(Received(event_id, row["body"].split(" ", 1)[0]))
            self.deletes += body["eventType"] == "DELETE"
        elif kind == "postgres_changes":
            self.other_events += 1
        elif kind == "system":
            if body["type"] == "subscribed":
                self.subscribed.set()
            elif body["type"] == "reset":
                self.resets.append(body | {"id": event_id})
            elif body["type"] == "expired":
                self.expired.set()
            elif body["type"] == "shutdown":
                self.shutdowns += 1
        if event_id:
            self.last_event_id = event_id


@dataclass
class Report:
    client: str
    expected: int
    received: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    resets: int = 0
    server_errors: int = 0  # 5xx other than 503
    unavailable: int = 0  # 503 + Retry-After: the database was down (expected in its faults)

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.duplicated or self.out_of_order or self.leaked or self.server_errors
        )

    def __str__(self) -> str:
        return (
            f"{self.client}: expected {self.expected}, received {self.received}, lost"
            f" {len(self.lost)} {self.lost[:5]}, duplicated {len(self.duplicated)}"
            f" {self.duplicated[:5]}, out of order {len(self.out_of_order)}"
            f" {self.out_of_order[:5]}, leaked {len(self.leaked)} {self.leaked[:5]},"
            f" resets {self.resets}, 5xx {self.server_errors}, 503 {self.unavailable}"
        )


def expected_for(writers: Writers, sees: Callable[[Written], bool]) -> list[Written]:
    return [w for w in writers.acknowledged if sees(w)]


def check(
    writers: Writers,
    client: Client,
    sees: Callable[[Written], bool],
    excused: Iterable[str] = (),
) -> Report:
    """Compare what `client` received with what was written and it may see. Markers in
    `excused` may be missing (they fell into a gap the client was told about with `reset`)."""
    by_marker = {w.marker: w for w in writers.all}
    expected = expected_for(writers, sees)
    counts = Counter(client.markers())
    excused_set = set(excused)
    report = Report(
        client.name,
        len(expected),
        len(client.received),
        resets=len(client.resets),
        server_errors=sum(n for code, n in client.statuses.items() if code >= 500 and code != 503),
        unavailable=client.statuses[503],
    )
    report.lost = [
        w.marker for w in expected if w.marker not in counts and w.marker not in excused_set
    ]
    report.duplicated = sorted(m for m, n in counts.items() if n > 1)
    last_seq: dict[int, int] = {}
    for marker in client.markers():
        written = by_marker.get(marker)
        if written is None:
            continue  # a note from outside this run
        if not sees(written):
            report.leaked.append(marker)
        if written.seq <= last_seq.get(written.writer, 0):
            report.out_of_order.append(marker)
        last_seq[written.writer] = written.seq
    ids = [r.event_id for r in client.received]
    positions = [tuple(map(int, i.split("-"))) for i in ids]
    report.out_of_order += [
        f"id {ids[i + 1]} after {ids[i]}"
        for i in range(len(positions) - 1)
        if positions[i + 1] <= positions[i]
    ]
    return report


def wait_delivered(
    writers: Writers,
    clients: dict[Client, Callable[[Written], bool]],
    timeout: float = 30,
    excused: Callable[[Client], set[str]] = lambda _: set(),
) -> None:
    """Until every client has every acknowledged marker it may see, apart from those it is
    excused (or the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(
            {w.marker for w in expected_for(writers, sees)} - excused(c) <= set(c.markers())
            for c, sees in clients.items()
        ):
            return
        time.sleep(0.05)


def agent_sees(_: Written) -> bool:
    return True


def customer_sees(written: Written) -> bool:
    return not written.internal


RESULTS = Path("test-artifacts/delivery-results.json")


def record(scenario: str, writers: Writers, reports: list[Report]) -> None:
    """Keep the scenario's figures for docs/testing.md's table; fail if any client saw a problem."""
    row = {
        "scenario": scenario,
        "written": len(writers.acknowledged),
        "uncertain": len(writers.uncertain),
        "clients": len(reports),
        "lost": sum(len(r.lost) for r in reports),
        "duplicated": sum(len(r.duplicated) for r in reports),
        "out_of_order": sum(len(r.out_of_order) for r in reports),
        "leaked": sum(len(r.leaked) for r in reports),
        "resets": sum(r.resets for r in reports),
        "unavailable_503": sum(r.unavailable for r in reports),
        "ok": all(r.ok for r in reports),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    rows = [r for r in rows if r["scenario"] != scenario] + [row]
    RESULTS.write_text(json.dumps(rows, indent=1))
    problems = [str(r) for r in reports if not r.ok]
    assert not problems, "\n".join(problems)
