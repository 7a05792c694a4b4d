"""Real threadcast servers for tests: uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

import uvicorn

from threadcast import auth
from threadcast.app import create_app
from threadcast.cli import uvicorn_config
from threadcast.config import Settings

TEST_SECRET = "threadcast-test-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread
    port: int
    stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, sub: uuid.UUID, ttl_seconds: int = 3600) -> str:
        return auth.issue(self.settings, sub, ttl_seconds=ttl_seconds)

    def wait_listening(self, timeout: float = 10) -> None:
        """Wait for the LISTEN connection, which connects in the background after startup."""
        listener = self.server.config.app.state.listener
        deadline = time.monotonic() + timeout
        while not listener.connected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"listener not connected: {listener.status()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.stopped:
            return
        # Under `threadcast serve`, SIGTERM reaches the streams through sse-starlette; a server
        # in a thread gets no signal, so end the streams the way the hub does on shutdown.
        state = self.server.config.app.state
        if hasattr(state, "loop"):
            state.loop.call_soon_threadsafe(state.hub.begin_shutdown)
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.stopped = True


def start_server(database_url: str, port: int | None = None, **overrides: object) -> RunningServer:
    """Start a server on `port` (a free one by default) and wait until it is ready."""
    settings = Settings(
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        port=port or free_port(),
        **overrides,  # type: ignore[arg-type]
    )
    config = uvicorn_config(create_app(settings), settings, "warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name=f"uvicorn-{settings.port}")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("test server failed to start (see log above)")
        if time.monotonic() > deadline:
            raise TimeoutError("test server did not start within 30 s")
        time.sleep(0.02)
    return RunningServer(settings, server, thread, settings.port)
