"""The demo data `threadcast serve` seeds on the embedded database: one organisation, an
agent, a customer, and a ticket with threads and notes. Idempotent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse

from threadcast import auth

ORG = uuid.UUID("d0000000-0000-4000-8000-000000000001")
AGENT = uuid.UUID("d0000000-0000-4000-8000-0000000000a1")
CUSTOMER = uuid.UUID("d0000000-0000-4000-8000-0000000000c1")
TICKET = uuid.UUID("d0000000-0000-4000-8000-000000000101")
THREAD_TRIAGE = uuid.UUID("d0000000-0000-4000-8000-000000000201")
THREAD_FIX = uuid.UUID("d0000000-0000-4000-8000-000000000202")


@dataclass(frozen=True)
class DemoUser:
    id: uuid.UUID
    name: str
    role: str


USERS = (DemoUser(AGENT, "Ada (agent)", "agent"), DemoUser(CUSTOMER, "Carl (customer)", "customer"))


def seed(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "insert into organizations (id, name) values (%s, 'Acme Support')"
            " on conflict (id) do nothing",
            (ORG,),
        )
        for user in USERS:
            conn.execute(
                "insert into users (id, display_name) values (%s, %s) on conflict (id) do nothing",
                (user.id, user.name),
            )
        conn.execute(
            "insert into org_members (org_id, user_id, role) values (%s, %s, 'agent')"
            " on conflict do nothing",
            (ORG, AGENT),
        )
        conn.execute(
            "insert into tickets (id, org_id, requester_id, subject)"
            " values (%s, %s, %s, 'The printer prints only question marks')"
            " on conflict (id) do nothing",
            (TICKET, ORG, CUSTOMER),
        )
        inserted = conn.execute(
            "insert into ticket_threads (id, ticket_id, subject, created_by) values"
            " (%s, %s, 'Triage', %s), (%s, %s, 'Fix', %s) on conflict (id) do nothing",
            (THREAD_TRIAGE, TICKET, CUSTOMER, THREAD_FIX, TICKET, AGENT),
        ).rowcount
        if inserted:
            conn.execute(
                "insert into ticket_notes (thread_id, ticket_id, author_id, body, internal) values"
                " (%s, %s, %s, 'Since this morning every page is ??????', false),"
                " (%s, %s, %s, 'Looks like the driver update from last night', true),"
                " (%s, %s, %s, 'We are rolling the driver back now.', false)",
                (
                    THREAD_TRIAGE,
                    TICKET,
                    CUSTOMER,
                    THREAD_TRIAGE,
                    TICKET,
                    AGENT,
                    THREAD_FIX,
                    TICKET,
                    AGENT,
                ),
            )


async def users_endpoint(request: Request) -> JSONResponse:
    """GET /demo/users: the demo users with fresh tokens; 404 unless in demo mode.
    ---
    summary: The demo's users with fresh tokens (demo mode only)
    responses:
      200:
        description: the demo ticket and its users
        content:
          application/json:
            schema:
              type: object
              required: [ticket, users]
              properties:
                ticket: {type: string, format: uuid}
                users:
                  type: array
                  items:
                    type: object
                    required: [id, name, role, token]
                    properties:
                      id: {type: string, format: uuid}
                      name: {type: string}
                      role: {type: string}
                      token: {type: string}
      404: not a demo server
    """
    settings = request.app.state.settings
    if not settings.demo:
        return JSONResponse({"error": "not_found", "message": "not a demo server"}, 404)
    return JSONResponse(
        {
            "ticket": str(TICKET),
            "users": [
                {
                    "id": str(u.id),
                    "name": u.name,
                    "role": u.role,
                    "token": auth.issue(settings, u.id),
                }
                for u in USERS
            ],
        }
    )
