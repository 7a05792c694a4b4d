"""Prometheus metrics, one registry per app instance (several apps may share a process)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

# *_created series double the output and tell an operator nothing here.
disable_created_metrics()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("threadcast_connections", "Open SSE connections", registry=r)
        self.subscriptions = Gauge(
            "threadcast_subscriptions", "Subscriptions on open SSE connections", registry=r
        )
        self.identity_groups = Gauge(
            "threadcast_identity_groups", "Identity groups with open connections", registry=r
        )
        self.events_read = Counter(
            "threadcast_events_read", "Events read from the log, per identity read", registry=r
        )
        self.events_delivered = Counter(
            "threadcast_events_delivered", "Event frames queued to SSE connections", registry=r
        )
        self.reads = Counter("threadcast_identity_reads", "Reads of the log as a user", registry=r)
        self.read_errors = Counter(
            "threadcast_identity_read_errors", "Failed reads of the log as a user", registry=r
        )
        self.batch_size = Histogram(
            "threadcast_batch_size",
            "Events per tick batch",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
            registry=r,
        )
        self.delivery_lag = Histogram(
            "threadcast_delivery_lag_seconds",
            "From the event's commit_timestamp to its frame being queued",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.dispatch_seconds = Histogram(
            "threadcast_dispatch_seconds",
            "Time per dispatch stage: advance (tick + new positions), positions (past the first"
            " chunk), read (as every identity), queue (frames)",
            ["stage"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.catch_up_reads = Counter(
            "threadcast_catch_up_reads",
            "Reads of missed events for one resuming connection",
            registry=r,
        )
        self.listener_reconnects = Counter(
            "threadcast_listener_reconnects", "Reconnections of the LISTEN connection", registry=r
        )
        self.resets = Counter(
            "threadcast_resets", "Connections sent a reset", ["reason"], registry=r
        )
        self.rejected = Counter(
            "threadcast_rejected_requests", "Requests rejected, by reason", ["reason"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
