"""Schema migrations in two alembic tracks: `realtime` (the engine, installable alone on any
database) and `ticket_app` (the application, which depends on it).

Each track starts from a baseline revision that applies its canonical file (sql/realtime.sql,
sql/ticket_app.sql). A later schema change is an edit of the canonical file plus a revision
holding only the delta; since a fresh install applies the canonical file as it is now and then
every delta, deltas are idempotent. A database built by the numbered revisions of earlier
releases (0001-0010, one linear chain) is recognised and stamped to the baselines: at 0010 its
schema is the baseline's, and at 0009 it first gets 0010's change.
"""

from __future__ import annotations

from alembic import command, context, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import URL, Connection, create_engine, pool

from threadcast import sqlfiles

HEADS = "heads"
ENGINE_ONLY = "realtime@head"
# The last revision of the numbered chain, whose schema is the baselines', and the SQL that
# brings each earlier revision still supported up to it.
LEGACY_HEAD = "0010"
# What the version table holds at both baselines: ticket_app's stands on realtime's, so alembic
# records it alone.
BASELINE_STAMP = "ticket_app_0001"
LEGACY_STEPS = {"0009": "legacy/0009_to_0010.sql"}


def apply_sql(relative: str) -> None:
    """Run one sql/ file inside the current alembic revision."""
    text = sqlfiles.read(relative)
    if context.is_offline_mode():
        # Verbatim: through op.execute the dialect would double every % for its paramstyle.
        op.get_context().impl.static_output(text)
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


def upgrade(database_url: str, revision: str = HEADS, *, sql: bool = False) -> None:
    command.upgrade(alembic_config(database_url), revision, sql=sql)


def downgrade(database_url: str, revision: str = "base", *, sql: bool = False) -> None:
    command.downgrade(alembic_config(database_url), revision, sql=sql)


def adopt_legacy_revision(connection: Connection) -> str | None:
    """Stamps a database of the numbered chain to the baselines (after 0010's change, if it is
    at 0009); returns the revision it was at, or None when it is not such a database."""
    if connection.exec_driver_sql("select to_regclass('alembic_version')").scalar() is None:
        return None
    versions = connection.exec_driver_sql("select version_num from alembic_version").scalars()
    found = list(versions)
    if len(found) != 1 or found[0] not in (LEGACY_HEAD, *LEGACY_STEPS):
        return None
    if step := LEGACY_STEPS.get(found[0]):
        connection.connection.dbapi_connection.execute(sqlfiles.read(step))
    connection.exec_driver_sql("update alembic_version set version_num = %s", (BASELINE_STAMP,))
    return found[0]


def current_revisions(database_url: str) -> set[str]:
    """The revisions the version table holds; empty when never migrated. A track's revision
    that another track depends on is implied by it, so alembic keeps only the dependent one."""
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("postgresql://unused"))


def applied_revisions(database_url: str) -> set[str]:
    """Every revision the database has: those recorded and all they stand on."""
    current = current_revisions(database_url)
    if current == {LEGACY_HEAD}:
        # The numbered chain's last revision has the baselines' schema (stamped by migrate).
        current = {BASELINE_STAMP}
    try:
        below = _script().iterate_revisions(tuple(current), "base")
        return {revision.revision for revision in below}
    except ResolutionError:
        return set()  # a revision this release does not know (older, or newer)


def head_revisions(*, engine_only: bool = False) -> set[str]:
    script = _script()
    if engine_only:
        return {script.get_revision(ENGINE_ONLY).revision}
    return set(script.get_heads())


def is_current(database_url: str, *, engine_only: bool = False) -> bool:
    """Whether the database has every head of both tracks (or, engine_only, the engine's)."""
    return head_revisions(engine_only=engine_only) <= applied_revisions(database_url)


APP_TRACK = "ticket_app"


def track_revisions(track: str) -> set[str]:
    """Every revision of one track (alembic gives each the label of its baseline)."""
    return {r.revision for r in _script().walk_revisions() if track in r.branch_labels}


def has_ticket_app(database_url: str) -> bool:
    """Whether the database is current with both tracks (True) or has the engine alone
    (False): `threadcast serve` mounts the ticket REST API only on the first. NotMigrated
    when it is neither (the engine behind, or the ticket application at an old revision)."""
    applied = applied_revisions(database_url)
    if head_revisions() <= applied:
        return True
    if head_revisions(engine_only=True) <= applied and not applied & track_revisions(APP_TRACK):
        return False
    raise NotMigrated(database_url)


class NotMigrated(RuntimeError):
    """The database is not at the schema this server needs."""

    def __init__(self, database_url: str) -> None:
        super().__init__(
            f"the database is not migrated to {', '.join(sorted(head_revisions()))} (or to"
            f" {', '.join(sorted(head_revisions(engine_only=True)))} alone, the engine without"
            " the ticket application): run `threadcast migrate` (or `threadcast migrate"
            " --engine-only`) first"
        )
        self.database_url = database_url
