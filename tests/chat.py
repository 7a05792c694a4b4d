"""The team chat of tests/data/chat_app.sql on the engine alone, and reading it the way the
server does: a table as a user (SET LOCAL ROLE + request.jwt.claims, under RLS) and the log
through realtime.read_batch() as the server's role."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from threadcast import migrations

CHAT_SQL = (Path(__file__).parent / "data" / "chat_app.sql").read_text()

# Each table and the topic its events go to.
TABLES = {
    "workspaces": "workspace:{id}",
    "members": "workspace:{workspace_id}",
    "channels": "workspace:{workspace_id}",
    "messages": "channel:{channel_id}",
}
# The columns that identify a row of each table (its primary key).
KEYS = {
    "workspaces": ("id",),
    "members": ("workspace_id", "user_id"),
    "channels": ("id",),
    "messages": ("id",),
}

Key = tuple[str, ...]


def install_chat(url: str, *, enable: bool = True) -> None:
    """The engine (`threadcast migrate --engine-only`), the chat schema, and (enable) each of its
    tables made realtime with the rule derived from its own policies."""
    migrations.upgrade(url, migrations.ENGINE_ONLY)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(CHAT_SQL)
        if enable:
            for table, topic in TABLES.items():
                conn.execute("select realtime.enable(%s, %s)", (f"chat.{table}", topic))
            conn.execute(
                "select realtime.register_channel('channel:', 'chat.can_read_channel(bigint)')"
            )


def key_of(table: str, row: dict) -> Key:
    return tuple(str(row[column]) for column in KEYS[table])


@contextmanager
def as_sub(conn: psycopg.Connection, sub: str | None) -> Iterator[psycopg.Connection]:
    """A transaction as `authenticated` with the claims a token of `sub` gives, rolled back."""
    claims = {"role": "authenticated"} | ({"sub": sub} if sub is not None else {})
    with conn.transaction(force_rollback=True):
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        yield conn


def visible_keys(conn: psycopg.Connection, sub: str, table: str) -> set[Key]:
    """The rows of a chat table that the table's own SELECT shows `sub` (by key; by id for a
    table the chat does not have)."""
    columns = ", ".join(f"{c}::text" for c in KEYS.get(table, ("id",)))
    with as_sub(conn, sub):
        return {tuple(r) for r in conn.execute(f"select {columns} from chat.{table}")}


def read_events(conn: psycopg.Connection, subs: list[str], ids: list[int]) -> dict[str, set[int]]:
    """Which of the log's `ids` each sub may read, in one realtime.read_batch() as the server."""
    requests = [{"role": "authenticated", "sub": sub, "ids": ids} for sub in subs]
    # Rolled back: inside a caller's transaction, SET LOCAL would outlive a savepoint.
    with conn.transaction(force_rollback=True):
        conn.execute("set local role threadcast")
        rows = conn.execute(
            "select request, id from realtime.read_batch(%s::jsonb)", (json.dumps(requests),)
        ).fetchall()
    seen: dict[str, set[int]] = {sub: set() for sub in subs}
    for request, message_id in rows:
        seen[subs[request]].add(message_id)
    return seen


def user(n: int) -> str:
    return str(uuid.UUID(int=0xC0DE0000 + n))


def may_read(
    event: dict, saw_before: Callable[[Key], bool], sees_after: Callable[[Key], bool]
) -> bool:
    """Whether a reader may read one logged event, from what the table's own SELECT showed them
    just before the change and shows them just after: an INSERT (and the new side of an UPDATE)
    when the new row is shown; a DELETE (and the old side of an UPDATE) when the old row was.
    An UPDATE is logged as three variants (sql/realtime.sql, create_capture_function): the full
    UPDATE for who sees both sides, the UPDATE without `old` for who sees only the new row, and
    a DELETE of the old row for who saw only it, or saw it on a topic the row has left."""
    payload, counterpart, table = event["payload"], event["counterpart"], event["table_name"]
    kind = payload["eventType"]
    if kind == "INSERT":
        return sees_after(key_of(table, payload["new"]))
    if kind == "UPDATE":
        if not sees_after(key_of(table, payload["new"])):
            return False
        if payload["old"] is None:
            return not saw_before(key_of(table, counterpart))
        return saw_before(key_of(table, payload["old"]))
    assert kind == "DELETE"
    if not saw_before(key_of(table, payload["old"])):
        return False
    return counterpart is None or not sees_after(key_of(table, counterpart))
