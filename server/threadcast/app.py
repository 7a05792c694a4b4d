"""The Starlette application: routes, error handlers, and the lifespan that owns the pool,
the listener and the hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from threadcast import (
    api,
    auth,
    db,
    demo,
    metrics,
    migrations,
    openapi,
    presence_api,
    roles,
    stream,
)
from threadcast.config import Settings, cors_origins, signing_key_problem
from threadcast.errors import (
    DATABASE_UNAVAILABLE,
    HTTPError,
    handle_client_disconnect,
    handle_database_unavailable,
    handle_http_error,
    handle_routing_error,
)
from threadcast.hub import Hub
from threadcast.listener import Listener
from threadcast.ratelimit import Limiter, RequestLimitsMiddleware
from threadcast.sqlfiles import static_dir

log = logging.getLogger(__name__)

# The ticket application's routes (its REST API, the demo's users), mounted only on a database
# that has it.
TICKET_ROUTES = [Route("/demo/users", demo.users_endpoint), *api.routes]


async def healthz(request: Request) -> JSONResponse:
    """---
    summary: Liveness
    responses:
      200:
        description: the process is up
        content:
          application/json:
            schema: {type: object, properties: {status: {const: ok}}, required: [status]}
    """
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """---
    summary: Readiness (the LISTEN connection is up)
    responses:
      200: &ready
        description: ready, or (503) not
        content:
          application/json:
            schema:
              type: object
              required: [status, listener]
              properties:
                status: {enum: [ready, not ready]}
                listener:
                  type: object
                  properties: {connected: {type: boolean}}
      503: *ready
    """
    # Anyone may ask, so it says only whether; the listener's errors (hosts, role names) and
    # pid go to the log and /metrics' counters.
    listener: Listener = request.app.state.listener
    ready = listener.connected
    body = {"status": "ready" if ready else "not ready", "listener": {"connected": ready}}
    return JSONResponse(body, status_code=200 if ready else 503)


async def index(request: Request) -> RedirectResponse:
    """---
    summary: Redirects to the demo page
    responses:
      307: {description: to /static/index.html}
    """
    # Keep ?token=&ticket=: `threadcast serve` prints demo links to "/".
    query = request.url.query
    return RedirectResponse("/static/index.html" + (f"?{query}" if query else ""))


def middleware(settings: Settings) -> list[Middleware]:
    limits = Middleware(RequestLimitsMiddleware, settings=settings)
    origins = cors_origins(settings)
    if not origins:
        return [limits]
    # Outermost, so refusals (413, 429, 503) reach other origins' pages readable too.
    cors = Middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "Last-Event-ID"],
        # Threadcast-Position: a REST read's log position, to start its stream from.
        expose_headers=["Retry-After", "Idempotent-Replayed", "Threadcast-Position"],
        max_age=600,
    )
    return [cors, limits]


def create_app(settings: Settings) -> Starlette:
    if not settings.database_url:
        raise ValueError("create_app needs settings.database_url")
    if problem := signing_key_problem(settings):
        raise ValueError(problem)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        url = settings.database_url
        assert url is not None
        # The ticket REST API and the demo's users only where the ticket application is
        # installed; an engine-only database serves streams of whatever channels it has.
        if await asyncio.to_thread(migrations.has_ticket_app, url):
            if TICKET_ROUTES[0] not in app.router.routes:
                app.router.routes[-1:-1] = TICKET_ROUTES
        else:
            log.info("engine-only database: serving streams, no ticket REST API")
        app.state.openapi = None  # its routes are known now
        pool = db.create_pool(
            url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.pool_timeout_seconds,
        )
        await pool.open(wait=True, timeout=30)
        app.state.pool = pool
        try:
            async with pool.connection() as conn:
                await roles.check_allowed_roles(conn, app.state.verifier.roles)
        except BaseException:
            await pool.close()
            raise
        if app.state.verifier.jwks is not None:
            await app.state.verifier.jwks.prefetch()  # a failure is logged; tokens retry
        dispatch_pool = db.create_pool(
            url, min_size=1, max_size=settings.read_connections + 1, name="threadcast-dispatch"
        )
        await dispatch_pool.open(wait=True, timeout=30)
        hub = Hub(pool, settings, app.state.metrics, dispatch_pool)
        listener = Listener(
            url,
            settings,
            app.state.metrics,
            on_wake=hub.wake,
            on_presence=hub.presence.changed,
            on_reconnect=hub.presence.resync,
        )
        app.state.hub = hub
        app.state.listener = listener
        app.state.loop = asyncio.get_running_loop()
        await hub.start()
        await listener.start()
        app.state.metrics.gc_pauses.install()
        try:
            yield
        finally:
            app.state.metrics.gc_pauses.remove()
            # Streams end first, each with a final frame, so clients resume elsewhere.
            await hub.close()
            await listener.stop()
            await dispatch_pool.close()
            await pool.close()

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            Route("/v1/channels/{channel:str}/stream", stream.endpoint),
            Route("/v1/stream", stream.multi_endpoint),
            Route("/v1/channels/{channel:str}/presence/{ref}", presence_api.track, methods=["PUT"]),
            Route(
                "/v1/channels/{channel:str}/presence/{ref}",
                presence_api.untrack,
                methods=["DELETE"],
            ),
            Route("/openapi.json", openapi.endpoint),
            # TICKET_ROUTES go here when the database has the ticket application.
            Mount("/static", StaticFiles(directory=static_dir()), name="static"),
        ],
        middleware=middleware(settings),
        exception_handlers={
            HTTPError: handle_http_error,
            StarletteHTTPException: handle_routing_error,
            ClientDisconnect: handle_client_disconnect,
            **dict.fromkeys(DATABASE_UNAVAILABLE, handle_database_unavailable),
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verifier = auth.Verifier(settings)
    app.state.cors_origins = cors_origins(settings)
    app.state.metrics = metrics.Metrics()
    app.state.limiter = Limiter(settings)
    return app
