"""Settings, read once from the environment (THREADCAST_* and DATABASE_URL)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    jwt_secret: str = "threadcast-dev-secret-change-me-0123456789"
    retention: timedelta = timedelta(days=7)
    host: str = "127.0.0.1"
    port: int = 8000
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            jwt_secret=os.environ.get("THREADCAST_JWT_SECRET", cls.jwt_secret),
            retention=timedelta(seconds=_env_int("THREADCAST_RETENTION_SECONDS", 7 * 86400)),
            host=os.environ.get("THREADCAST_HOST", cls.host),
            port=_env_int("THREADCAST_PORT", cls.port),
        )
