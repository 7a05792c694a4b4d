"""Closed connections freed when they close, on Python 3.11.

Before CPython 3.12, an asyncio socket transport keeps a bound method of itself
(`_read_ready_cb`) after its connection is lost, so the transport, its socket object and its
extra-info dict form a cycle that only a full garbage-collector pass frees (CPython gh-100348,
fixed in 3.12). `threadcast serve` makes full passes rare on purpose (cli.py,
tune_garbage_collector), so under churn the dead transports piled up: in a soak with 1,000
streams reconnecting about once a minute, 300 more a minute, the server's RSS growing 0.5 MiB
a minute with no full pass in 20 minutes. Dropping the reference once the connection is torn down,
as 3.12 does, lets each one go by reference counting.
"""

from __future__ import annotations

import sys
from asyncio import selector_events
from typing import Any

_PATCHED = "_threadcast_releases_read_callback"


def release_closed_transports() -> None:
    """Make closed socket transports drop their read callback (a no-op from Python 3.12)."""
    if sys.version_info >= (3, 12):
        return
    transport_class: Any = selector_events._SelectorSocketTransport
    if getattr(transport_class, _PATCHED, False):
        return
    call_connection_lost = transport_class._call_connection_lost

    def _call_connection_lost(self: Any, exc: BaseException | None) -> None:
        try:
            call_connection_lost(self, exc)
        finally:
            # The last step of every way a connection ends (close, peer reset, error); the
            # reader is already removed from the loop, so nothing calls it again.
            self._read_ready_cb = None

    transport_class._call_connection_lost = _call_connection_lost
    setattr(transport_class, _PATCHED, True)
