"""The `threadcast` command: serve, migrate, token, listen."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from threadcast import auth, demo, embedded, logs, migrations
from threadcast.config import DEV_SECRET, Settings

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
    settings = Settings.from_env()
    overrides: dict[str, object] = {
        "host": args.host or settings.host,
        "port": args.port or settings.port,
    }
    if settings.database_url:
        if not migrations.is_current(settings.database_url):
            print(
                "threadcast: the database at DATABASE_URL is not migrated to revision"
                f" {migrations.head_revision()}.\nRun `threadcast migrate`"
                " (or `alembic upgrade head` with DATABASE_URL set) first.",
                file=sys.stderr,
            )
            return 2
    else:
        url = _embedded_database_url()
        migrations.upgrade(url)
        demo.seed(url)
        overrides["database_url"] = url
    settings = Settings.from_env(**overrides)
    base = f"http://{settings.host}:{settings.port}"
    print(f"threadcast serving on {base}  (database: {settings.database_url})")
    if not Settings.from_env().database_url:
        print(f"demo ticket: {demo.TICKET}")
        for user in demo.USERS:
            token = auth.issue(settings, user.id)
            print(f"  {user.name}: {base}/?token={token}")
        print(
            f"  stream with curl: curl -N -H 'Authorization: Bearer <token>'"
            f" {base}/v1/channels/ticket-threads:{demo.TICKET}/stream"
        )
    if settings.jwt_secret == DEV_SECRET:
        print("warning: THREADCAST_JWT_SECRET is not set; using the public development secret")
    import uvicorn  # imported late: `threadcast token` and `migrate` need neither

    from threadcast.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=5,
    )
    return 0


def _database_url_or_embedded(args: argparse.Namespace) -> str:
    return args.database_url or Settings.from_env().database_url or _embedded_database_url()


def cmd_migrate(args: argparse.Namespace) -> int:
    url = _database_url_or_embedded(args)
    if args.downgrade:
        migrations.downgrade(url, args.revision or "base", sql=args.sql)
    else:
        migrations.upgrade(url, args.revision or migrations.HEAD, sql=args.sql)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    print(auth.issue(Settings.from_env(), args.sub, ttl_seconds=args.ttl))
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

    migrate = sub.add_parser("migrate", help="apply (or revert) the schema migrations")
    migrate.add_argument("--database-url", help="default: DATABASE_URL, else the embedded database")
    migrate.add_argument("--revision", help="target revision (default: head, or base to downgrade)")
    migrate.add_argument("--downgrade", action="store_true")
    migrate.add_argument("--sql", action="store_true", help="print the DDL instead of running it")
    migrate.set_defaults(func=cmd_migrate)

    token = sub.add_parser(
        "token", help="print a JWT for a user, signed with the configured secret"
    )
    token.add_argument("--sub", type=uuid.UUID, required=True, help="the user's uuid")
    token.add_argument("--ttl", type=int, default=86400, help="seconds until it expires")
    token.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.log_format, getattr(args, "log_level", "info"))
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
