"""A closed connection's transport goes when the connection does, by reference counting, not
at the garbage collector's next full pass (threadcast/transports.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from threadcast.transports import release_closed_transports


async def _server_transport_after(closing: str) -> weakref.ref[asyncio.BaseTransport]:
    """A weak reference to the server side of one connection, once `closing` has ended it."""
    made: list[weakref.ref[asyncio.BaseTransport]] = []
    lost = asyncio.Event()

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            made.append(weakref.ref(transport))

        def connection_lost(self, exc: Exception | None) -> None:
            lost.set()

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    while not made:
        await asyncio.sleep(0.01)
    if closing == "server":
        transport = made[0]()
        assert transport is not None
        transport.close()
        del transport
    writer.close()  # the client's end; for "client", the server sees EOF and closes
    await writer.wait_closed()
    await asyncio.wait_for(lost.wait(), 5)
    server.close()
    await server.wait_closed()
    return made[0]


@pytest.mark.parametrize("closing", ["client", "server"])
def test_a_closed_transport_is_freed_without_the_garbage_collector(closing: str) -> None:
    release_closed_transports()
    gc.collect()
    gc.disable()  # only reference counting may free it
    try:
        transport = asyncio.run(_server_transport_after(closing))
        assert transport() is None, "the closed transport is kept alive by a reference cycle"
    finally:
        gc.enable()
