"""hub.Payload: a replayed change whose position carried its schema, table and eventType is
matched against unfiltered bindings without parsing its payload, and matches exactly as the
parsed payload would; a row filter, or a position without the change kind, parses it."""

from __future__ import annotations

import json

from threadcast.hub import Payload, log_entries
from threadcast.subscriptions import Binding, Filter, TableInfo, parse_filter

NOTES = TableInfo(
    "public",
    "ticket_notes",
    "ticket-threads:{ticket_id}",
    {"internal": "boolean", "version": "integer", "body": "text"},
)


def change(event_type: str, new: dict, old: dict | None = None) -> str:
    body = {"schema": "public", "table": "ticket_notes", "eventType": event_type}
    return json.dumps(body | {"new": new, "old": old, "errors": None})


def bindings(filter_: Filter | None = None) -> list[Binding]:
    return [
        Binding("INSERT", "public", "ticket_notes", filter_),
        Binding("*", "public", "ticket_notes", filter_),
        Binding("UPDATE", "public", "ticket_notes", filter_),
        Binding("INSERT", "public", "tickets", filter_),
        Binding("typing"),
    ]


def test_unfiltered_bindings_match_on_the_change_kind_without_parsing() -> None:
    text = change("INSERT", {"body": "hi", "internal": False})
    lazy = Payload(text, ("public", "ticket_notes", "INSERT"))
    results = [b.matches("postgres_changes", lazy) for b in bindings()]
    assert lazy._parsed is None  # nothing needed the row
    assert results == [b.matches("postgres_changes", json.loads(text)) for b in bindings()]
    assert results == [True, True, False, False, False]


def test_a_row_filter_parses_and_matches_as_the_parsed_payload_does() -> None:
    for text in (
        change("INSERT", {"version": 3}),
        change("INSERT", {"version": 4}),
        change("DELETE", {}, {"version": 3}),
    ):
        filter_ = parse_filter("version=eq.3", NOTES)
        kind = json.loads(text)["eventType"]
        lazy = Payload(text, ("public", "ticket_notes", kind))
        got = [b.matches("postgres_changes", lazy) for b in bindings(filter_)]
        assert got == [b.matches("postgres_changes", json.loads(text)) for b in bindings(filter_)]
    assert lazy._parsed is not None


def test_without_the_change_kind_the_payload_decides() -> None:
    text = change("UPDATE", {"body": "x"})
    lazy = Payload(text)  # positions from advance() carry no change kind
    assert [b.matches("postgres_changes", lazy) for b in bindings()] == [
        False, True, True, False, False,
    ]  # fmt: skip
    assert lazy.get("commit_timestamp") is None and lazy["table"] == "ticket_notes"


def test_log_entries_share_names_and_carry_change_kinds_only_for_changes() -> None:
    rows = [
        {"tick_id": 1, "id": i, "topic": "ticket-threads:" + "t", "event": e,
         "change_schema": s, "change_table": t, "change_type": k}
        for i, (e, s, t, k) in enumerate(
            [("postgres_changes", "public", "ticket_notes", "INSERT")] * 2
            + [("typing", None, None, None)]
        )
    ]  # fmt: skip
    first, second, custom = log_entries(rows)
    assert first.change == ("public", "ticket_notes", "INSERT") and custom.change is None
    assert first.topic is second.topic is custom.topic and first.change is second.change
    assert log_entries([{"tick_id": 1, "id": 9, "topic": "x", "event": "e"}])[0].change is None
