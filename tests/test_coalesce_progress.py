"""hub.coalesce_progress: a batch's superseded AI `processing` events are dropped per thread and
per topic, so a thread's status on its ticket channel and on its org's inbox both arrive."""

from __future__ import annotations

from threadcast.hub import DecodedEvent, LogEntry, coalesce_progress

TICKET = "ticket-threads:t"
INBOX = "org-tickets:o"


def ai(n: int, topic: str, status: str, thread: str = "th") -> DecodedEvent:
    return DecodedEvent(
        LogEntry((1, n), topic, "ai_status"), "", {"threadId": thread, "status": status}, b""
    )


def kept(events: list[DecodedEvent]) -> list[tuple[int, str, str]]:
    return [
        (e.entry.position[1], e.entry.topic, e.payload["status"]) for e in coalesce_progress(events)
    ]


def test_the_same_status_on_two_topics_is_kept_on_both() -> None:
    assert kept([ai(1, TICKET, "processing"), ai(2, INBOX, "processing")]) == [
        (1, TICKET, "processing"),
        (2, INBOX, "processing"),
    ]


def test_a_later_status_on_the_same_topic_drops_the_earlier_processing_only() -> None:
    events = [
        ai(1, TICKET, "processing"),
        ai(2, INBOX, "processing"),
        ai(3, TICKET, "processing"),
        ai(4, INBOX, "completed"),
        ai(5, TICKET, "processing", thread="other"),
    ]
    assert kept(events) == [
        (3, TICKET, "processing"),
        (4, INBOX, "completed"),
        (5, TICKET, "processing"),
    ]
