"""Finds the canonical SQL (`sql/`) and the alembic scripts, installed or in a checkout."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parents[1]


def _locate(name: str) -> Path:
    # A wheel carries the directory inside the package; a checkout has it at the top level.
    for candidate in (_PACKAGE / name, _CHECKOUT / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"threadcast cannot find its {name}/ directory")


def sql_dir() -> Path:
    return _locate("sql")


def alembic_dir() -> Path:
    return _locate("alembic")


def read(relative: str) -> str:
    """The text of one SQL file, e.g. read('001_realtime_engine.sql')."""
    return (sql_dir() / relative).read_text(encoding="utf-8")


@cache
def queries(group: str) -> dict[str, str]:
    """Named queries from sql/queries/<group>.sql, each headed `-- name --`."""
    text = read(f"queries/{group}.sql")
    parts = re.split(r"^-- ([a-z_]+) --$", text, flags=re.MULTILINE)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def static_dir() -> Path:
    return _PACKAGE / "static"
