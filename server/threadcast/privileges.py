"""`threadcast check`: what a DBA should tighten before threadcast meets untrusted logins.

The engine's definer functions are safe against pg_temp shadowing by themselves
(migration 0010); these checks cover the database around them, as docs/security.md
explains."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from threadcast.sqlfiles import queries

CHECKS = ("public_privileges", "definer_functions", "server_role")


@dataclass(frozen=True)
class Finding:
    check: str
    finding: str
    fix: str


def findings(database_url: str) -> list[Finding]:
    q = queries("check")
    found: list[Finding] = []
    with psycopg.connect(database_url) as conn:
        for check in CHECKS:
            for finding, fix in conn.execute(q[check]).fetchall():
                found.append(Finding(check, finding, fix))
    return found
