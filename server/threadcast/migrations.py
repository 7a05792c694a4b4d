"""Schema migrations: alembic revisions that apply the canonical sql/ files."""

from __future__ import annotations

from alembic import command, context, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import URL, create_engine, pool

from threadcast import sqlfiles

HEAD = "head"


def apply_sql(relative: str) -> None:
    """Run one sql/ file inside the current alembic revision."""
    text = sqlfiles.read(relative)
    if context.is_offline_mode():
        op.execute(text)
        return
    # Straight to psycopg: the file is plain SQL and must not be parsed for bind parameters.
    dbapi = op.get_bind().connection.dbapi_connection
    dbapi.execute(text)


def sqlalchemy_url(database_url: str) -> str:
    """SQLAlchemy's spelling of a libpq URL or `key=value` connection string."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    if database_url.startswith("postgresql+"):
        return database_url
    params = conninfo_to_dict(database_url)
    url = URL.create(
        "postgresql+psycopg",
        username=params.pop("user", None),
        password=params.pop("password", None),
        host=None if str(params.get("host", "")).startswith("/") else params.pop("host", None),
        port=int(params.pop("port")) if "port" in params else None,
        database=params.pop("dbname", None),
        query={k: str(v) for k, v in params.items()},
    )
    return url.render_as_string(hide_password=False)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(sqlfiles.alembic_dir()))
    # ConfigParser interpolates %; a URL may contain percent-escapes.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = HEAD, *, sql: bool = False) -> None:
    command.upgrade(alembic_config(database_url), revision, sql=sql)


def downgrade(database_url: str, revision: str = "base", *, sql: bool = False) -> None:
    command.downgrade(alembic_config(database_url), revision, sql=sql)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    return script.get_current_head() or ""


def is_current(database_url: str) -> bool:
    return current_revision(database_url) == head_revision()


class NotMigrated(RuntimeError):
    """The database is not at the schema this server needs."""

    def __init__(self, database_url: str) -> None:
        super().__init__(
            f"the database is not migrated to revision {head_revision()}: run"
            " `threadcast migrate` (or `alembic upgrade head` with DATABASE_URL set) first"
        )
        self.database_url = database_url
