"""The LISTEN connection: one per process, outside the pool, reconnecting by itself.

It wakes the hub, and tells presence which channel's presence changed (the payload is only a
channel name; presence reads the state itself). Work is never lost to a missed notification:
after every (re)connect it wakes the hub, which reads the log from its own position, and the
hub also polls on a timer; presence reads every watched channel again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import psycopg

from threadcast.config import Settings
from threadcast.metrics import Metrics

log = logging.getLogger(__name__)

CHANNEL = "threadcast_v1"  # versioned, like the SQL that notifies on it
PRESENCE_CHANNEL = "threadcast_presence_v1"  # realtime.presence_changed()
LIVENESS_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 10.0


class Listener:
    def __init__(
        self,
        database_url: str,
        settings: Settings,
        metrics: Metrics,
        on_wake: Callable[[], None],
        on_presence: Callable[[str], None] = lambda topic: None,
        on_reconnect: Callable[[], None] = lambda: None,
    ) -> None:
        self.database_url = database_url
        self.settings = settings
        self.metrics = metrics
        self.on_wake = on_wake
        self.on_presence = on_presence  # a channel's presence changed
        self.on_reconnect = on_reconnect  # notifications may have been missed
        self.connected = False
        self.reconnects = 0
        self.last_error: str | None = None
        self.connected_since: float | None = None
        self.backend_pid: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()

    def status(self) -> dict[str, object]:
        return {
            "connected": self.connected,
            "backend_pid": self.backend_pid,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
        }

    async def start(self, wait_seconds: float = 5.0) -> None:
        """Start listening; wait (boundedly) for the first attempt, so a server that has
        started is ready (/readyz) whenever the database is reachable."""
        self._task = asyncio.create_task(self._run(), name="listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), wait_seconds)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                self.last_error = str(exc).strip() or type(exc).__name__
                log.warning("listener: connection lost (%s)", self.last_error)
                self._first_attempt.set()
            self.connected = False
            self.backend_pid = None
            self.reconnects += 1
            self.metrics.listener_reconnects.inc()
            # Full jitter, so replicas that lost PostgreSQL together do not return together.
            attempt += 1
            await asyncio.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.1 * 2**attempt)))
            if self.connected_since is not None and time.monotonic() - self.connected_since > 60:
                attempt = 0

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self.database_url, autocommit=True, application_name="threadcast-listener"
        ) as conn:
            await conn.execute(f"listen {CHANNEL}")
            await conn.execute(f"listen {PRESENCE_CHANNEL}")
            self.connected = True
            self.connected_since = time.monotonic()
            self.backend_pid = conn.info.backend_pid
            self._first_attempt.set()
            log.info("listener: listening on %s", CHANNEL)
            self.on_wake()  # catch up on whatever happened while we were away
            self.on_reconnect()
            while True:
                async for notify in conn.notifies(timeout=LIVENESS_SECONDS):
                    if notify.channel == PRESENCE_CHANNEL:
                        self.on_presence(notify.payload)
                    else:
                        self.on_wake()
                # No notification for a while: make sure the connection is still alive.
                await conn.execute("select 1")
