"""The `threadcast` command: serve, check, migrate, sql, token, listen."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import time
import uuid
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from threadcast import auth, client, demo, embedded, logs, migrations, payloads
from threadcast.config import Settings, cors_origins, signing_key_problem

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette

log = logging.getLogger("threadcast")

EMBEDDED_DATABASE = "threadcast"


def _embedded_database_url() -> str:
    """Start the private PostgreSQL and make sure its `threadcast` database exists."""
    server_uri = embedded.start()
    with psycopg.connect(server_uri, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (EMBEDDED_DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(EMBEDDED_DATABASE)))
    params = conninfo_to_dict(server_uri)
    return (
        f"postgresql://{params.get('user', 'postgres')}@/{EMBEDDED_DATABASE}?host={params['host']}"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    try:  # a misconfiguration is one line, before any database starts
        settings = Settings.from_env()
        cors_origins(settings)
    except ValueError as exc:
        print(f"threadcast: {exc}", file=sys.stderr)
        return 2
    overrides: dict[str, object] = {
        "host": args.host or settings.host,
        "port": args.port or settings.port,
    }
    if settings.database_url:
        if problem := signing_key_problem(settings):
            print(f"threadcast: {problem}", file=sys.stderr)
            return 2
        try:
            migrations.has_ticket_app(settings.database_url)  # either will do; nothing else
        except migrations.NotMigrated as exc:
            print(f"threadcast: {exc}", file=sys.stderr)
            return 2
    else:
        url = _embedded_database_url()
        migrations.upgrade(url)
        demo.seed(url)
        overrides["database_url"] = url
        overrides["demo"] = True
    settings = Settings.from_env(**overrides)
    base = f"http://{settings.host}:{settings.port}"
    print(f"threadcast serving on {base}  (database: {without_password(settings.database_url)})")
    if not Settings.from_env().database_url:
        print(f"demo ticket: {demo.TICKET}")
        for user in demo.USERS:
            token = auth.issue(settings, user.id)
            print(f"  {user.name}: {base}/?token={token}")
        print(
            f"  stream with curl: curl -N -H 'Authorization: Bearer <token>'"
            f" {base}/v1/channels/ticket-threads:{demo.TICKET}/stream"
        )
    import uvicorn  # imported late: `threadcast token` and `migrate` need neither

    from threadcast.app import create_app
    from threadcast.transports import release_closed_transports

    app = create_app(settings)
    tune_garbage_collector(settings.gc_young_threshold)
    release_closed_transports()
    config = uvicorn_config(app, settings, args.log_level)
    uvicorn.Server(config).run()
    return 0


def uvicorn_config(app: Starlette, settings: Settings, log_level: str) -> uvicorn.Config:
    """How `threadcast serve` (and the tests' servers) run uvicorn."""
    import uvicorn

    from threadcast.protocol import uvicorn_options

    proxies = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=5,
        # uvicorn believes X-Forwarded-For from loopback by default: anyone could pick their
        # per-IP bucket, and behind a proxy all would share one. Only configured proxies.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        # Oversized request heads answered in JSON, not by the parser in text/plain.
        **uvicorn_options(settings.max_header_bytes),
    )
    # After Config, which (re)configures uvicorn's loggers.
    logging.getLogger("uvicorn.access").addFilter(logs.RedactTokens())
    return config


def without_password(url: str | None) -> str:
    """A database URL fit to print: its password masked."""
    if not url:
        return ""
    params = conninfo_to_dict(url)
    if "password" not in params:
        return url
    return make_conninfo(**(params | {"password": "***"}))


def tune_garbage_collector(young_threshold: int) -> None:
    """Fewer full collections: with 1,000 streams open a full pass over the server's objects
    stalled every stream for ~190 ms, every few seconds (threadcast_gc_pause_seconds, during
    benchmarks/fanout.py at 500 events/s), because frames waiting a few ms in a queue outlived
    two young collections and counted as long-lived. A larger young threshold lets them die
    young; what start-up imported is frozen out of every pass. 0 keeps CPython's defaults.
    Full passes then come hours apart under steady load, so nothing the server makes per
    connection may rely on them (see transports.py)."""
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, 50, 100)


def _database_url_or_embedded(args: argparse.Namespace) -> str:
    return args.database_url or Settings.from_env().database_url or _embedded_database_url()


def cmd_migrate(args: argparse.Namespace) -> int:
    if args.engine_only and args.revision:
        print("threadcast: --engine-only and --revision exclude each other", file=sys.stderr)
        return 2
    if args.sql and args.downgrade:
        # Offline, alembic cannot tell which tracks a database has, so its downgrade script
        # for two tracks would be wrong.
        print(
            "threadcast: --sql cannot print a downgrade; run `threadcast migrate --downgrade`"
            " against the database, or review sql/down/ticket_app.sql and sql/down/realtime.sql",
            file=sys.stderr,
        )
        return 2
    if args.sql:  # offline: needs no database, only the dialect
        return cmd_sql(args)
    url = _database_url_or_embedded(args)
    if args.downgrade:
        migrations.downgrade(url, args.revision or "base")
    else:
        migrations.upgrade(url, args.revision or _install_target(args))
    return 0


def _install_target(args: argparse.Namespace) -> str:
    return migrations.ENGINE_ONLY if args.engine_only else migrations.HEADS


def cmd_sql(args: argparse.Namespace) -> int:
    """Prints the install (both tracks, or the engine's) as one script for psql."""
    target = getattr(args, "revision", None) or _install_target(args)
    migrations.upgrade("postgresql://offline", target, sql=True)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Lists the privileges to tighten, each with the statement that does it; 1 if any."""
    from threadcast import privileges

    found = privileges.findings(_database_url_or_embedded(args))
    for f in found:
        print(f"{f.check}: {f.finding}\n    {f.fix}")
    print(f"threadcast check: {len(found)} finding(s)" if found else "threadcast check: ok")
    return 1 if found else 0


def cmd_token(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    # No database configured: the demo's, whose tokens the development secret signs.
    settings = Settings.from_env(demo=not settings.database_url)
    try:
        print(auth.issue(settings, args.sub, ttl_seconds=args.ttl))
    except ValueError as exc:
        print(f"threadcast token: {exc}", file=sys.stderr)
        return 2
    return 0


def describe(event: client.Event) -> str:
    """One human-readable line for `threadcast listen`."""
    data = event.data
    if isinstance(data, payloads.PostgresChangesPayload):
        row = data.old if data.eventType == "DELETE" else data.new
        fields = row.model_dump() if isinstance(row, payloads.Row) else dict(row or {})
        summary = fields.get("body") or fields.get("subject") or fields.get("id") or ""
        text = f"{data.eventType:6} {data.table}  {str(summary)[:80]!r}"
    elif isinstance(data, payloads.AIProcessingPayload):
        progress = f" {data.progress}%" if data.progress is not None else ""
        text = f"AI {data.status}{progress} thread {data.threadId}" + (
            f" error: {data.error}" if data.error else ""
        )
    elif isinstance(data, payloads.SystemEvent):
        text = f"[{data.type}] {data.message}"
    else:
        text = json.dumps(data)
    return f"{time.strftime('%H:%M:%S')} {event.id or '-':>10}  {text}"


def cmd_listen(args: argparse.Namespace) -> int:
    if not args.token:
        print("threadcast listen: give --token or set THREADCAST_TOKEN", file=sys.stderr)
        return 2
    try:
        for event in client.stream_sync(args.url, args.token, args.channel, args.on or None):
            if args.json:
                data = event.data
                body = (
                    data.model_dump(mode="json", by_alias=True)
                    if hasattr(data, "model_dump")
                    else data
                )
                line = json.dumps({"id": event.id, "event": event.event, "data": body})
            else:
                line = describe(event)
            print(line, flush=True)
    except client.ThreadcastHTTPError as exc:
        print(f"threadcast listen: {exc.message} ({exc.status})", file=sys.stderr)
        return 1
    except client.TokenExpired as exc:
        print(f"threadcast listen: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="threadcast", description=__doc__)
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("THREADCAST_LOG_FORMAT", "text"),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the server (embedded PostgreSQL without DATABASE_URL)"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser(
        "check", help="list database privileges to tighten (PUBLIC's, definer functions')"
    )
    check.add_argument("--database-url", help="default: DATABASE_URL, else the embedded database")
    check.set_defaults(func=cmd_check)

    migrate = sub.add_parser(
        "migrate", help="install or upgrade both tracks (realtime, ticket_app), or revert them"
    )
    migrate.add_argument("--database-url", help="default: DATABASE_URL, else the embedded database")
    migrate.add_argument("--engine-only", action="store_true", help="the realtime track alone")
    migrate.add_argument(
        "--revision", help="target revision (default: heads, or base to downgrade)"
    )
    migrate.add_argument("--downgrade", action="store_true")
    migrate.add_argument("--sql", action="store_true", help="print the DDL instead of running it")
    migrate.set_defaults(func=cmd_migrate)

    sql_script = sub.add_parser(
        "sql", help="print the whole install as one script for `psql -v ON_ERROR_STOP=1`"
    )
    sql_script.add_argument("--engine-only", action="store_true", help="the realtime track alone")
    sql_script.set_defaults(func=cmd_sql)

    token = sub.add_parser(
        "token", help="print a JWT for a user, signed with the configured secret"
    )
    token.add_argument("--sub", type=uuid.UUID, required=True, help="the user's uuid")
    token.add_argument("--ttl", type=int, default=86400, help="seconds until it expires")
    token.set_defaults(func=cmd_token)

    listen = sub.add_parser("listen", help="print a channel's events on the terminal")
    listen.add_argument("channel", help="e.g. ticket-threads:<ticket uuid>")
    listen.add_argument("--url", default=os.environ.get("THREADCAST_URL", "http://127.0.0.1:8000"))
    listen.add_argument("--token", default=os.environ.get("THREADCAST_TOKEN"))
    listen.add_argument("--on", action="append", help="EVENT:schema.table[:filter] or ai_status")
    listen.add_argument("--json", action="store_true", help="one JSON object per line")
    listen.set_defaults(func=cmd_listen)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.log_format, getattr(args, "log_level", "info"))
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
