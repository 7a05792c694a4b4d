"""RLS under churn: access taken away while streams are open and writers keep writing.

Visibility is decided as the user at read time, so the first batch read after a membership
change already reflects it; a token that expires ends its stream.
"""

from __future__ import annotations

import time

import jwt
import psycopg
import pytest

from tests.delivery import (
    Client,
    Writers,
    agent_sees,
    check,
    customer_sees,
    record,
    wait_delivered,
)
from tests.servers import RunningServer
from tests.sse import stream_url
from tests.support import World, add_note

pytestmark = pytest.mark.faults


def test_a_member_removed_from_the_org_stops_receiving_within_one_batch(
    live_server: RunningServer, world: World, conn: psycopg.Connection, database_url: str
) -> None:
    url = [stream_url(live_server.url, world.topic)]
    agent = Client("agent", url, live_server.token(world.agent)).start()
    customer = Client("customer", url, live_server.token(world.customer)).start()
    agent.wait_subscribed()
    customer.wait_subscribed()
    try:
        with Writers(database_url, world, run="churn", count=2) as writers:
            writers.wait_for_writes(40)
            delivered = len(writers.acknowledged)
            # Every one of them, not just the last acknowledged: two writers' acknowledgements
            # can come in a different order than their commits.
            for written in writers.acknowledged[:delivered]:
                agent.wait_for_marker(written.marker)
            conn.execute(
                "delete from org_members where org_id = %s and user_id = %s",
                (world.org_a, world.agent),
            )
            # Each writer may have had one write in flight (committed, not yet counted).
            removed_at = len(writers.acknowledged) + writers.count
            writers.wait_for_writes(40)
        # Everything after the removal: more notes, a thread, a delete of an older note.
        add_note(conn, world, "churn-after-removal")
        conn.execute(
            "insert into ticket_threads (ticket_id, subject, created_by) values (%s, 'x', %s)",
            (world.ticket, world.customer),
        )
        conn.execute("delete from ticket_notes where id = %s", (world.public_note,))
        # The customer, still allowed, gets the last of it: by then the batches are read.
        customer.wait_for_marker("churn-after-removal")
        wait_delivered(writers, {customer: customer_sees})
        time.sleep(0.5)

        # Written before the removal and already delivered, or written after it; in between,
        # a write committed before the removal may be read after it, and then is not sent.
        before = {w.marker for w in writers.acknowledged[:delivered]}
        after = {w.marker for w in writers.acknowledged[removed_at:]} | {"churn-after-removal"}
        received = set(agent.markers())
        assert before <= received, "the agent lost events from while it was a member"
        assert not received & after, f"events after removal leaked: {sorted(received & after)}"
        assert agent.other_events == 0 and agent.deletes == 0
        assert customer.deletes == 1 and customer.other_events == 1
        record("member removed from the org (customer keeps receiving)", writers,
               [check(writers, customer, customer_sees)])  # fmt: skip
    finally:
        agent.stop()
        customer.stop()

    # And it cannot come back: reconnecting is refused.
    with Client("agent again", url, live_server.token(world.agent)) as again:
        deadline = time.monotonic() + 10
        while not again.statuses.get(403):
            assert time.monotonic() < deadline, again.statuses
            time.sleep(0.05)
        assert not again.subscribed.is_set()


def test_a_token_that_expires_ends_its_stream_while_writers_write(
    live_server: RunningServer, world: World, database_url: str
) -> None:
    url = [stream_url(live_server.url, world.topic)]
    ttl = 3
    token = live_server.token(world.agent, ttl_seconds=ttl)
    # `exp` is whole seconds, so the token lives 2-3 s from now: compare with the claim itself.
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    client = Client("agent", url, token).start()
    client.wait_subscribed()
    with Writers(database_url, world, run="expiry") as writers:
        assert client.expired.wait(ttl + 5), "stream did not end when the token expired"
        expired_at = time.time()
        received_at_expiry = len(client.received)
        writers.wait_for_writes(20)
    client.stop()
    # The event loop's timer may fire a clock tick early; anything more is a real early end.
    assert expired_at >= expires_at - 0.05, f"ended {expires_at - expired_at:.2f} s early"
    assert received_at_expiry > 0
    assert len(client.received) == received_at_expiry, "events arrived after `expired`"
    assert check(writers, client, agent_sees).duplicated == []
