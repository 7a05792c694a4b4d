"""The fan-out ceiling of this stack: sse-starlette pushing pre-encoded frames to every
subscriber of a topic, with no database and no auth. Run by benchmarks/fanout.py.

    python benchmarks/bare_broadcaster.py PORT
"""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict
from collections.abc import AsyncIterator

import uvicorn
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

subscribers: dict[str, set[asyncio.Queue[bytes]]] = defaultdict(set)


async def stream(request: Request) -> EventSourceResponse:
    topic = request.path_params["topic"]
    queue: asyncio.Queue[bytes] = asyncio.Queue(1000)
    subscribers[topic].add(queue)

    async def frames() -> AsyncIterator[bytes]:
        try:
            while True:
                yield await queue.get()
        finally:
            subscribers[topic].discard(queue)

    return EventSourceResponse(frames(), ping=30, send_timeout=10)


async def publish(request: Request) -> Response:
    body = (await request.body()).decode()
    frame = f"event: postgres_changes\ndata: bench@{body}\n\n".encode()  # encoded once
    for queue in list(subscribers[request.path_params["topic"]]):
        if not queue.full():
            queue.put_nowait(frame)
    return Response(status_code=204)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/stream/{topic}", stream),
        Route("/publish/{topic}", publish, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
