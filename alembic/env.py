"""Alembic environment: two tracks, `realtime` and `ticket_app`, each a baseline that applies its
canonical sql/ file, then deltas (see threadcast.migrations)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from threadcast.migrations import adopt_legacy_revision, sqlalchemy_url


def database_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("set DATABASE_URL (a postgresql:// URL) or sqlalchemy.url")
    # libpq URLs name no driver; SQLAlchemy needs to be told it is psycopg 3.
    return sqlalchemy_url(url)


# The server logs in as `threadcast` and checks the schema version before it starts.
GRANT_VERSION_TABLE = """
do $$
begin
    if to_regclass('alembic_version') is not null
            and exists (select from pg_roles where rolname = 'threadcast') then
        grant select on alembic_version to threadcast;
    end if;
end
$$"""


def run_offline() -> None:
    context.configure(url=database_url(), literal_binds=True, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
        context.execute(GRANT_VERSION_TABLE)


def run_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transactional_ddl=True)
        with context.begin_transaction():
            if legacy := adopt_legacy_revision(connection):
                print(f"threadcast: stamped the database at revision {legacy} to the baselines")
            context.run_migrations()
            context.execute(GRANT_VERSION_TABLE)
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
