"""Prometheus metrics, one registry per app instance (several apps may share a process)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
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

        self.gc_pauses = GcPauses()
        r.register(self.gc_pauses)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class GcPauses(Collector):
    """threadcast_gc_pause_seconds: the garbage collector's passes in this process, by
    generation. A pass stops every stream for its length (full passes took ~190 ms with 1,000
    streams before `threadcast serve` tuned the collector). The callback only does arithmetic
    on plain lists: it can run inside any allocation, even one made under a metric's lock."""

    BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

    def __init__(self) -> None:
        self._started = 0.0
        # Per generation: cumulative count per bucket (the last one is +Inf), and the sum.
        self._counts = [[0] * (len(self.BUCKETS) + 1) for _ in range(3)]
        self._sums = [0.0, 0.0, 0.0]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        generation = info["generation"]
        self._sums[generation] += seconds
        counts = self._counts[generation]
        for index, bound in enumerate(self.BUCKETS):
            if seconds <= bound:
                counts[index] += 1
        counts[-1] += 1

    def install(self) -> None:
        gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "threadcast_gc_pause_seconds",
            "Garbage collector passes of this process, by generation (every stream waits)",
            labels=["generation"],
        )
        for generation in range(3):
            counts = self._counts[generation]
            buckets = [(str(b), counts[i]) for i, b in enumerate(self.BUCKETS)]
            family.add_metric(
                [str(generation)], [*buckets, ("+Inf", counts[-1])], self._sums[generation]
            )
        yield family


async def endpoint(request: Request) -> Response:
    """---
    summary: Prometheus metrics
    responses:
      200:
        description: Prometheus text format
        content:
          text/plain: {schema: {type: string}}
    """
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
