"""At startup: every role THREADCAST_ALLOWED_ROLES lists exists, the server's login may SET ROLE
to it, and it does not bypass row-level security (a token acting as it would read every row)."""

from __future__ import annotations

from psycopg import AsyncConnection

# The one statement of this check, next to its only caller.
ROLE_CHECK = """
select r.name,
       g.oid is not null as found,
       coalesce(pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER'), false) as member,
       coalesce(g.rolsuper or g.rolbypassrls, false) as bypasses_rls,
       current_user as login
  from pg_catalog.unnest(%(roles)s::text[]) as r (name)
  left join pg_catalog.pg_roles g on g.rolname = r.name
"""


class RoleProblem(RuntimeError):
    """An allowed role the server cannot, or must not, act as."""


async def check_allowed_roles(conn: AsyncConnection, roles: tuple[str, ...]) -> None:
    """Raise RoleProblem naming the first role that will not do, and what to run about it."""
    cursor = await conn.execute(ROLE_CHECK, {"roles": list(roles)})
    for row in await cursor.fetchall():
        name, login = row["name"], row["login"]
        if not row["found"]:
            raise RoleProblem(
                f"THREADCAST_ALLOWED_ROLES names role {name!r}, which this database does not"
                f" have: create it (create role {name} nologin) or remove it from the list"
            )
        if not row["member"]:
            raise RoleProblem(
                f"THREADCAST_ALLOWED_ROLES names role {name!r}, but the server's login {login!r}"
                f" cannot SET ROLE to it: run grant {name} to {login}"
            )
        if row["bypasses_rls"]:
            raise RoleProblem(
                f"THREADCAST_ALLOWED_ROLES names role {name!r}, which is a superuser or has"
                " BYPASSRLS: a token acting as it would read every row; remove it from the list"
            )
