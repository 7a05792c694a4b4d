"""What a client asks for: a channel and `on` bindings, parsed and checked against the catalog.

A binding is `EVENT:SCHEMA.TABLE[:FILTER]` (Supabase's postgres_changes vocabulary; FILTER is
`column=op.value` with op one of eq, neq, lt, lte, gt, gte, in), `ai_status` or `presence`. No
binding means every realtime table on the channel plus AI status (presence only when asked).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from threadcast.errors import HTTPError
from threadcast.sqlfiles import queries

CHANNEL_RE = re.compile(r"^(?P<prefix>[a-z][a-z0-9_-]{0,62}:)(?P<key>[A-Za-z0-9._-]{1,200})$")
BINDING_RE = re.compile(
    r"^(?P<event>INSERT|UPDATE|DELETE|\*):(?P<schema>[a-z_][a-z0-9_]{0,62})\."
    r"(?P<table>[a-z_][a-z0-9_]{0,62})(?::(?P<filter>.+))?$"
)
FILTER_RE = re.compile(
    r"^(?P<column>[a-z_][a-z0-9_]{0,62})=(?P<op>eq|neq|lt|lte|gt|gte|in)\.(?P<value>.*)$"
)
CUSTOM_EVENTS = frozenset({"ai_status"})
# Presence frames (presence.py): only for a channel bound to it; never part of "every event".
PRESENCE = "presence"
MAX_FILTER_VALUE = 1000
MAX_IN_VALUES = 100


def bad_request(message: str) -> HTTPError:
    return HTTPError(400, "bad_subscription", message)


@dataclass(frozen=True)
class TableInfo:
    schema: str
    table: str
    topic_template: str
    columns: dict[str, str]  # column -> PostgreSQL type name

    @property
    def topic_prefix(self) -> str:
        return self.topic_template.split("{", 1)[0]


@dataclass(frozen=True)
class ChannelInfo:
    prefix: str
    authorize_function: str
    argument_type: str


@dataclass(frozen=True)
class Catalog:
    """Realtime tables and channels, read from the database."""

    tables: dict[tuple[str, str], TableInfo]
    channels: dict[str, ChannelInfo]

    @classmethod
    async def load(cls, conn: AsyncConnection) -> Catalog:
        q = queries("relay")
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(q["catalog_tables"])
            tables = {
                (r["schema_name"], r["table_name"]): TableInfo(
                    r["schema_name"], r["table_name"], r["topic_template"], r["columns"]
                )
                for r in await cur.fetchall()
            }
            await cur.execute(q["catalog_channels"])
            channels = {r["prefix"]: ChannelInfo(**r) for r in await cur.fetchall()}
        return cls(tables, channels)

    def tables_on(self, prefix: str) -> list[TableInfo]:
        return [t for t in self.tables.values() if t.topic_prefix == prefix]


# Values are compared as the column's type, so `lt` on numbers is numeric, not lexical.
def _parse_uuid(raw: str) -> uuid.UUID:
    return uuid.UUID(raw)


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "t"):
        return True
    if lowered in ("false", "f"):
        return False
    raise ValueError(raw)


def _parse_timestamp(raw: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _parse_decimal(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ValueError(raw) from exc
    if not value.is_finite():
        raise ValueError(raw)
    return value


def _parse_int(raw: str) -> int:
    if not re.fullmatch(r"-?[0-9]{1,19}", raw):
        raise ValueError(raw)
    return int(raw)


def _ascii_only(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Python's int(), Decimal(), UUID() and fromisoformat() take digits of any script
    (a full-width 1 is 1); PostgreSQL takes ASCII only, so the filter does too."""

    def parse_ascii(raw: str) -> Any:
        if not raw.isascii():
            raise ValueError(raw)
        return parse(raw)

    return parse_ascii


_PARSERS: dict[str, Callable[[str], Any]] = {
    "uuid": _ascii_only(_parse_uuid),
    "integer": _ascii_only(_parse_int),
    "decimal": _ascii_only(_parse_decimal),
    "boolean": _ascii_only(_parse_bool),
    "timestamp": _ascii_only(_parse_timestamp),
}


def parser_for(pg_type: str) -> Callable[[str], Any]:
    if pg_type == "uuid":
        return _PARSERS["uuid"]
    if pg_type in ("smallint", "integer", "bigint"):
        return _PARSERS["integer"]
    if pg_type.startswith(("numeric", "real", "double precision")):
        return _PARSERS["decimal"]
    if pg_type == "boolean":
        return _PARSERS["boolean"]
    if pg_type.startswith("timestamp"):
        return _PARSERS["timestamp"]
    return str


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    values: tuple[Any, ...]
    parse: Callable[[str], Any]

    def matches(self, row: dict[str, Any]) -> bool:
        raw = row.get(self.column)
        if raw is None:
            return False  # SQL semantics: NULL matches no comparison
        try:
            value = self.parse(raw if isinstance(raw, str) else _json_scalar(raw))
        except ValueError:
            return False
        if self.op == "in":
            return value in self.values
        target = self.values[0]
        match self.op:
            case "eq":
                return value == target
            case "neq":
                return value != target
            case "lt":
                return value < target
            case "lte":
                return value <= target
            case "gt":
                return value > target
            case _:
                return value >= target


def _json_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Binding:
    """One postgres_changes binding, or a custom event (table is None)."""

    event: str
    schema: str | None = None
    table: str | None = None
    filter: Filter | None = None

    def matches(self, event_name: str, payload: Mapping[str, Any]) -> bool:
        if self.table is None:
            return event_name == self.event
        if event_name != "postgres_changes":
            return False
        if payload.get("schema") != self.schema or payload.get("table") != self.table:
            return False
        if self.event != "*" and payload.get("eventType") != self.event:
            return False
        if self.filter is None:
            return True
        row = payload.get("old") if payload.get("eventType") == "DELETE" else payload.get("new")
        return isinstance(row, dict) and self.filter.matches(row)


@dataclass(frozen=True)
class Subscription:
    channel: str
    channel_info: ChannelInfo
    key: str  # the channel name after its prefix, e.g. the ticket uuid
    bindings: tuple[Binding, ...]

    def wants(self, event_name: str, payload: Mapping[str, Any]) -> bool:
        return any(b.matches(event_name, payload) for b in self.bindings if b.event != PRESENCE)

    @property
    def presence(self) -> bool:
        """Whether the stream gets this channel's presence frames."""
        return any(b.event == PRESENCE for b in self.bindings)


def parse_channel(channel: str, catalog: Catalog) -> tuple[ChannelInfo, str]:
    match = CHANNEL_RE.match(channel)
    if not match:
        raise bad_request(
            f"invalid channel {channel[:100]!r}:"
            " expected <prefix>:<key>, e.g. ticket-threads:<uuid>"
        )
    info = catalog.channels.get(match["prefix"])
    if info is None:
        known = ", ".join(sorted(catalog.channels)) or "none"
        raise bad_request(f"unknown channel prefix {match['prefix']!r} (known: {known})")
    key = match["key"]
    try:
        value = parser_for(info.argument_type)(key)
    except ValueError as exc:
        raise bad_request(
            f"invalid channel {channel!r}: {key!r} is not a valid {info.argument_type}"
        ) from exc
    # Topics in the log are the column's text: a uuid without dashes or in capitals, or an
    # integer with a leading zero, must name the same channel (and receive its events).
    if isinstance(value, uuid.UUID | int) and not isinstance(value, bool):
        key = str(value)
    return info, key


def parse_filter(spec: str, table: TableInfo) -> Filter:
    match = FILTER_RE.match(spec)
    if not match:
        raise bad_request(
            f"malformed filter {spec[:100]!r}: expected column=op.value with op one of"
            " eq, neq, lt, lte, gt, gte, in"
        )
    column, op, raw = match["column"], match["op"], match["value"]
    if column not in table.columns:
        raise bad_request(
            f"filter column {column!r} does not exist in {table.schema}.{table.table}"
        )
    if len(raw) > MAX_FILTER_VALUE:
        raise bad_request(f"filter value is longer than {MAX_FILTER_VALUE} characters")
    pg_type = table.columns[column]
    parse = parser_for(pg_type)
    if op == "in":
        if not (raw.startswith("(") and raw.endswith(")")):
            raise bad_request(f"filter {spec!r}: in takes a list, e.g. {column}=in.(a,b)")
        raws = [item.strip() for item in raw[1:-1].split(",")]
        if not raws or len(raws) > MAX_IN_VALUES or any(item == "" for item in raws):
            raise bad_request(f"filter {spec!r}: in takes 1 to {MAX_IN_VALUES} non-empty values")
    else:
        raws = [raw]
    try:
        values = tuple(parse(item) for item in raws)
    except ValueError as exc:
        raise bad_request(f"filter {spec!r}: value is not a valid {pg_type}") from exc
    if op in ("lt", "lte", "gt", "gte") and parse is _PARSERS["uuid"]:
        raise bad_request(f"filter {spec!r}: {op} is not supported on uuid columns")
    return Filter(column, op, values, parse)


def parse_binding(spec: str, prefix: str, catalog: Catalog) -> Binding:
    if spec in CUSTOM_EVENTS or spec == PRESENCE:
        return Binding(event=spec)
    match = BINDING_RE.match(spec)
    if not match:
        raise bad_request(
            f"malformed subscription {spec[:100]!r}: expected EVENT:schema.table[:filter]"
            " (EVENT one of INSERT, UPDATE, DELETE, *), ai_status or presence"
        )
    schema, table_name = match["schema"], match["table"]
    table = catalog.tables.get((schema, table_name))
    if table is None:
        raise bad_request(f"table {schema}.{table_name} does not exist or is not realtime-enabled")
    if table.topic_prefix != prefix:
        raise bad_request(f"table {schema}.{table_name} does not publish on {prefix} channels")
    filter_ = parse_filter(match["filter"], table) if match["filter"] is not None else None
    return Binding(event=match["event"], schema=schema, table=table_name, filter=filter_)


def parse(channel: str, specs: list[str], catalog: Catalog, max_bindings: int) -> Subscription:
    """Validate a subscription request; HTTPError 400 names the first problem found."""
    info, key = parse_channel(channel, catalog)
    if len(specs) > max_bindings:
        raise bad_request(f"too many subscriptions: {len(specs)} > {max_bindings}")
    if specs:
        bindings = tuple(parse_binding(spec, info.prefix, catalog) for spec in specs)
    else:
        bindings = tuple(
            Binding(event="*", schema=t.schema, table=t.table)
            for t in catalog.tables_on(info.prefix)
        ) + tuple(Binding(event=name) for name in sorted(CUSTOM_EVENTS))
    return Subscription(info.prefix + key, info, key, bindings)
