"""The REST API against a real server: visibility as the caller, writes, optimistic
concurrency, and every kind of bad input."""

from __future__ import annotations

import threading
import uuid

import httpx
import jwt
import psycopg
import pytest

from tests.servers import TEST_SECRET, RunningServer
from tests.support import World


def client(server: RunningServer, user) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.token(user)}"}, timeout=10
    )


def test_customer_sees_threads_without_internal_notes_and_agent_sees_all(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    with client(live_server, world.customer) as c:
        body = c.get(f"/v1/tickets/{world.ticket}/threads").json()
    assert body["ticket"]["id"] == str(world.ticket)
    assert (
        body["ticket"]["subject"]
        == conn.execute("select subject from tickets where id = %s", [world.ticket]).fetchone()[0]
    )
    assert [t["id"] for t in body["threads"]] == [str(world.thread)]
    assert [n["body"] for n in body["threads"][0]["notes"]] == ["We are on it"]
    with client(live_server, world.agent) as c:
        body = c.get(f"/v1/tickets/{world.ticket}/threads").json()
    assert sorted(n["body"] for n in body["threads"][0]["notes"]) == [
        "Customer is VIP",
        "We are on it",
    ]


@pytest.mark.parametrize("user", ["stranger", "other_agent"])
def test_tickets_and_threads_of_others_do_not_exist(
    live_server: RunningServer, world: World, user: str
) -> None:
    with client(live_server, getattr(world, user)) as c:
        assert c.get(f"/v1/tickets/{world.ticket}/threads").status_code == 404
        assert c.get(f"/v1/threads/{world.thread}").status_code == 404
        response = c.post(f"/v1/threads/{world.thread}/notes", json={"body": "hi"})
        assert response.status_code == 404
        assert "does not exist or is not visible" in response.json()["message"]


def test_thread_detail_has_notes_and_ai_status(live_server: RunningServer, world: World) -> None:
    with client(live_server, world.agent) as c:
        assert (
            c.post(
                f"/v1/threads/{world.thread}/ai-status",
                json={"status": "processing", "progress": 40},
            ).json()["progress"]
            == 40
        )
        detail = c.get(f"/v1/threads/{world.thread}").json()
    assert detail["id"] == str(world.thread)
    assert len(detail["notes"]) == 2
    assert detail["ai_status"]["status"] == "processing"


def test_create_thread_and_note_as_customer(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    with client(live_server, world.customer) as c:
        thread = c.post(f"/v1/tickets/{world.ticket}/threads", json={"subject": "Billing"})
        assert thread.status_code == 201
        assert thread.json()["created_by"] == str(world.customer)
        note = c.post(f"/v1/threads/{thread.json()['id']}/notes", json={"body": "invoice?"})
        assert note.status_code == 201
        assert note.json()["author_id"] == str(world.customer)
        internal = c.post(
            f"/v1/threads/{world.thread}/notes", json={"body": "secret", "internal": True}
        )
        assert internal.status_code == 403
    count = conn.execute("select count(*) from ticket_notes where body = 'secret'").fetchone()
    assert count == (0,)


def test_two_edits_with_the_same_version_one_wins_one_gets_412_with_the_winner(
    live_server: RunningServer, world: World
) -> None:
    results: dict[str, httpx.Response] = {}
    barrier = threading.Barrier(2)

    def edit(name: str, text: str) -> None:
        with client(live_server, world.agent) as c:
            barrier.wait()
            results[name] = c.patch(
                f"/v1/notes/{world.public_note}", json={"body": text}, headers={"If-Match": "1"}
            )

    threads = [threading.Thread(target=edit, args=(n, f"{n} text")) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200, 412]
    winner = next(r for r in results.values() if r.status_code == 200).json()
    loser = next(r for r in results.values() if r.status_code == 412).json()
    assert winner["version"] == 2
    assert loser["error"] == "version_conflict"
    assert loser["current"]["body"] == winner["body"]
    assert loser["current"]["version"] == 2


def test_edit_preconditions(live_server: RunningServer, world: World) -> None:
    url = f"/v1/notes/{world.public_note}"
    with client(live_server, world.agent) as c:
        assert c.patch(url, json={"body": "x"}).status_code == 428
        assert c.patch(url, json={"body": "x"}, headers={"If-Match": "abc"}).status_code == 400
        ok = c.patch(url, json={"body": "edited"}, headers={"If-Match": '"1"'})
        assert ok.status_code == 200
        assert ok.json()["version"] == 2
    with client(live_server, world.customer) as c:
        # The customer sees the agent's note but may not edit it.
        assert c.patch(url, json={"body": "mine"}, headers={"If-Match": "2"}).status_code == 403
        internal = f"/v1/notes/{world.internal_note}"
        assert c.patch(internal, json={"body": "x"}, headers={"If-Match": "1"}).status_code == 404


def test_delete_note(live_server: RunningServer, world: World, conn: psycopg.Connection) -> None:
    with client(live_server, world.customer) as c:
        assert c.delete(f"/v1/notes/{world.public_note}").status_code == 403
    with client(live_server, world.agent) as c:
        stale = c.delete(f"/v1/notes/{world.public_note}", headers={"If-Match": "7"})
        assert stale.status_code == 412
        assert c.delete(f"/v1/notes/{world.public_note}").status_code == 204
        assert c.delete(f"/v1/notes/{world.public_note}").status_code == 404
    assert conn.execute(
        "select count(*) from ticket_notes where id = %s", (world.public_note,)
    ).fetchone() == (0,)


def test_ai_status_validation(live_server: RunningServer, world: World) -> None:
    url = f"/v1/threads/{world.thread}/ai-status"
    with client(live_server, world.agent) as c:
        assert c.post(url, json={"status": "dreaming"}).status_code == 422
        assert c.post(url, json={"status": "processing", "progress": 101}).status_code == 422
        sql_rejected = c.post(url, json={"status": "completed", "error": "boom"})
        assert sql_rejected.status_code == 400
        assert "only allowed with status failed" in sql_rejected.json()["message"]
    with client(live_server, world.stranger) as c:
        assert c.post(url, json={"status": "started"}).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "reason"),
    [
        ("GET", "/v1/tickets/not-a-uuid/threads", {}, 400, "bad_id"),
        ("POST", "/v1/threads/{thread}/notes", {"content": b"{nope"}, 400, "bad_json"),
        (
            "POST",
            "/v1/threads/{thread}/notes",
            {"data": {"body": "x"}},
            415,
            "unsupported_media_type",
        ),
        ("POST", "/v1/threads/{thread}/notes", {"json": {"body": ""}}, 422, "invalid_body"),
        (
            "POST",
            "/v1/threads/{thread}/notes",
            {"json": {"body": "x", "x": 1}},
            422,
            "invalid_body",
        ),
        (
            "POST",
            "/v1/tickets/{ticket}/threads",
            {"json": {"subject": "s" * 501}},
            422,
            "invalid_body",
        ),
        (
            "POST",
            "/v1/threads/{thread}/notes",
            {"json": {"body": "x" * 1_100_000}},
            413,
            "too_large",
        ),
        ("GET", "/v1/tickets/{ticket}/threads?" + "x=1&" * 3000, {}, 414, "uri_too_long"),
    ],
)
def test_bad_input_gets_a_json_4xx(
    live_server: RunningServer,
    world: World,
    conn: psycopg.Connection,
    method: str,
    path: str,
    kwargs: dict,
    status: int,
    reason: str,
) -> None:
    notes_before = conn.execute("select count(*) from ticket_notes").fetchone()
    if "content" in kwargs:
        kwargs = kwargs | {"headers": {"Content-Type": "application/json"}}
    with client(live_server, world.agent) as c:
        response = c.request(
            method, path.format(thread=world.thread, ticket=world.ticket), **kwargs
        )
    assert response.status_code == status, response.text
    assert response.json()["error"] == reason
    assert conn.execute("select count(*) from ticket_notes").fetchone() == notes_before


@pytest.mark.parametrize(
    "token",
    [
        None,
        "not.a.jwt",
        jwt.encode({"sub": "x", "exp": 1}, TEST_SECRET, algorithm="HS256"),
        jwt.encode({"sub": "00000000-0000-0000-0000-0000000000a1", "exp": 2**31}, "k" * 40),
        jwt.encode({"sub": "00000000-0000-0000-0000-0000000000a1", "exp": 2**31}, "", "none"),
    ],
    ids=["missing", "garbage", "expired", "wrong-key", "alg-none"],
)
def test_bad_tokens_get_401(live_server: RunningServer, world: World, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{live_server.url}/v1/tickets/{world.ticket}/threads", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_writes_through_the_api_reach_the_stream(live_server: RunningServer, world: World) -> None:
    from tests.sse import StreamReader, stream_url

    reader = StreamReader(
        stream_url(live_server.url, world.topic), live_server.token(world.customer)
    )
    reader.start().wait_subscribed()
    with client(live_server, world.agent) as c:
        c.post(f"/v1/threads/{world.thread}/notes", json={"body": "via the API"})
    reader.wait_for(lambda _: reader.bodies() == ["via the API"])
    reader.close()


# Creates with an id the client chose: a retry after a lost answer writes nothing twice ------


def note_events(conn: psycopg.Connection, note_id: uuid.UUID) -> list[str]:
    rows = conn.execute(
        "select payload ->> 'eventType' from realtime.messages"
        " where table_name = 'ticket_notes' and payload -> 'new' ->> 'id' = %s order by id",
        [str(note_id)],
    ).fetchall()
    return [r[0] for r in rows]


def test_a_note_posted_again_with_its_id_is_replayed_not_duplicated(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    note_id = uuid.uuid4()
    body = {"id": str(note_id), "body": "sent twice", "internal": False}
    with client(live_server, world.customer) as c:
        first = c.post(f"/v1/threads/{world.thread}/notes", json=body)
        again = c.post(f"/v1/threads/{world.thread}/notes", json=body)
    assert first.status_code == 201
    assert first.json()["id"] == str(note_id)
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert (
        conn.execute("select count(*) from ticket_notes where body = 'sent twice'").fetchone()[0]
        == 1
    )
    assert note_events(conn, note_id) == ["INSERT"]


def test_a_replay_answers_with_the_note_as_it_is_now(
    live_server: RunningServer, world: World
) -> None:
    note_id = uuid.uuid4()
    with client(live_server, world.customer) as c:
        c.post(f"/v1/threads/{world.thread}/notes", json={"id": str(note_id), "body": "v1"})
        edited = c.patch(f"/v1/notes/{note_id}", json={"body": "v2"}, headers={"If-Match": "1"})
        assert edited.status_code == 200
        again = c.post(f"/v1/threads/{world.thread}/notes", json={"id": str(note_id), "body": "v1"})
    assert again.status_code == 200
    assert (again.json()["body"], again.json()["version"]) == ("v2", 2)


def test_a_thread_posted_again_with_its_id_is_replayed_with_its_notes(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    thread_id = uuid.uuid4()
    body = {"id": str(thread_id), "subject": "Once only"}
    with client(live_server, world.customer) as c:
        first = c.post(f"/v1/tickets/{world.ticket}/threads", json=body)
        c.post(f"/v1/threads/{thread_id}/notes", json={"body": "in it"})
        again = c.post(f"/v1/tickets/{world.ticket}/threads", json=body)
    assert first.status_code == 201
    assert first.json()["notes"] == []
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == str(thread_id)
    assert [n["body"] for n in again.json()["notes"]] == ["in it"]
    count = conn.execute(
        "select count(*) from ticket_threads where subject = 'Once only'"
    ).fetchone()
    assert count == (1,)


@pytest.mark.parametrize(
    ("user", "taken_by", "where"),
    [
        ("customer", "public_note", "thread"),  # visible, written by the agent
        ("customer", "internal_note", "thread"),  # not even visible to the caller
        ("customer", "own note", "another thread"),  # the caller's, on another thread
    ],
)
def test_a_note_id_taken_otherwise_is_409_and_changes_nothing(
    live_server: RunningServer,
    world: World,
    conn: psycopg.Connection,
    user: str,
    taken_by: str,
    where: str,
) -> None:
    with client(live_server, getattr(world, user)) as c:
        if taken_by == "own note":
            other = c.post(f"/v1/tickets/{world.ticket}/threads", json={"subject": "Other"})
            taken = c.post(f"/v1/threads/{other.json()['id']}/notes", json={"body": "mine"}).json()[
                "id"
            ]
        else:
            taken = str(getattr(world, taken_by))
        before = conn.execute("select * from ticket_notes order by id").fetchall()
        response = c.post(f"/v1/threads/{world.thread}/notes", json={"id": taken, "body": "hijack"})
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "id_taken"
    assert "hijack" not in response.text and "Customer is VIP" not in response.text
    assert conn.execute("select * from ticket_notes order by id").fetchall() == before


def test_a_thread_id_taken_otherwise_is_409(live_server: RunningServer, world: World) -> None:
    with client(live_server, world.customer) as c:
        response = c.post(
            f"/v1/tickets/{world.ticket}/threads",
            json={"id": str(world.thread), "subject": "Mine now"},  # the agent's thread
        )
    assert response.status_code == 409
    assert response.json()["error"] == "id_taken"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", 42, "", "00000000-0000-0000-0000-00000000000g"])
def test_a_bad_chosen_id_is_422(live_server: RunningServer, world: World, bad_id: object) -> None:
    with client(live_server, world.customer) as c:
        response = c.post(f"/v1/threads/{world.thread}/notes", json={"id": bad_id, "body": "x"})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "id"


def test_two_identical_creates_at_once_make_one_note(
    live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    note_id = uuid.uuid4()
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def post() -> None:
        with client(live_server, world.customer) as c:
            barrier.wait()
            response = c.post(
                f"/v1/threads/{world.thread}/notes", json={"id": str(note_id), "body": "race"}
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 201]
    assert note_events(conn, note_id) == ["INSERT"]
