"""Real PostgreSQL for every test: TEST_DATABASE_URL when set, else the embedded server.

Each test gets a fresh database cloned from a template migrated once per session with
`alembic upgrade heads` (procrastinate's CREATE DATABASE ... TEMPLATE trick, via
pytest-postgresql's DatabaseJanitor).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql.janitor import DatabaseJanitor

from tests.servers import RunningServer, start_server
from tests.support import World, seed_world
from threadcast import embedded, migrations


def _server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    data_dir = Path(os.environ.get("THREADCAST_TEST_PGDATA", "/tmp/threadcast-test-pgdata"))
    return embedded.start(data_dir)


@pytest.fixture(scope="session")
def server_url() -> str:
    return _server_url()


def _janitor(server_url: str, dbname: str, **kwargs: object) -> DatabaseJanitor:
    params = conninfo_to_dict(server_url)
    return DatabaseJanitor(
        user=params.get("user") or "postgres",
        host=params.get("host") or "127.0.0.1",
        port=params.get("port") or 5432,
        password=params.get("password") or None,
        dbname=dbname,
        maintenance_dbname=params.get("dbname") or "postgres",
        **kwargs,
    )


def database_url_for(server_url: str, dbname: str) -> str:
    params = conninfo_to_dict(server_url)
    params["dbname"] = dbname
    # A URL, because alembic and the server take URLs.
    host = params.get("host") or "127.0.0.1"
    user = params.get("user") or "postgres"
    port = params.get("port") or "5432"
    if host.startswith("/"):
        return f"postgresql://{user}@/{dbname}?host={host}&port={port}"
    return f"postgresql://{user}@{host}:{port}/{dbname}"


@pytest.fixture(scope="session")
def template_dbname(server_url: str) -> Iterator[str]:
    name = f"threadcast_tpl_{uuid.uuid4().hex[:10]}"
    janitor = _janitor(server_url, name, as_template=True)
    janitor.init()
    try:
        migrations.upgrade(database_url_for(server_url, name))
        yield name
    finally:
        janitor.drop()


@pytest.fixture
def make_empty_database(server_url: str) -> Iterator[Callable[[], str]]:
    """Creates empty databases on demand (for migration tests); drops them after the test."""
    janitors: list[DatabaseJanitor] = []

    def make() -> str:
        name = f"threadcast_test_{uuid.uuid4().hex[:12]}"
        janitor = _janitor(server_url, name)
        janitor.init()
        janitors.append(janitor)
        return database_url_for(server_url, name)

    yield make
    for janitor in janitors:
        janitor.drop()


@pytest.fixture
def empty_database_url(make_empty_database: Callable[[], str]) -> str:
    """A database with nothing in it."""
    return make_empty_database()


@pytest.fixture
def database_url(server_url: str, template_dbname: str) -> Iterator[str]:
    """A fresh, migrated database for this test."""
    name = f"threadcast_test_{uuid.uuid4().hex[:12]}"
    with _janitor(server_url, name, template_dbname=template_dbname):
        yield database_url_for(server_url, name)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    """A superuser connection in autocommit mode."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def world(conn: psycopg.Connection) -> World:
    """The deterministic ticket fixture (see tests/support.py)."""
    return seed_world(conn)


__all__ = ["database_url_for", "make_conninfo"]


@pytest.fixture
def live_server(database_url: str, world: World) -> Iterator[RunningServer]:
    """A real threadcast server (uvicorn, loopback) on this test's database, started after the
    world is seeded: the seed is history to it, never a live event for a new subscriber."""
    running = start_server(database_url)
    try:
        yield running
    finally:
        running.stop()
