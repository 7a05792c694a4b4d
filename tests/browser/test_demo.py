"""The demo page in a real Chromium against a real server and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.servers import RunningServer, start_server
from tests.support import World, add_note

pytestmark = pytest.mark.browser


def open_demo(browser: Browser, server: RunningServer, world: World, user) -> Page:
    page = browser.new_page()
    # "/" as printed by `threadcast serve`: it redirects to the page, keeping the query.
    page.goto(f"{server.url}/?token={server.token(user)}&ticket={world.ticket}")
    expect(page.get_by_test_id("connection-state")).to_have_text("live", timeout=10_000)
    expect(page.get_by_test_id("note").first).to_be_visible()
    return page


def notes_on(page: Page) -> list[str]:
    return page.locator("[data-testid=note] .body").all_text_contents()


def test_a_note_from_the_agent_appears_on_both_pages_within_a_second(
    browser: Browser, live_server: RunningServer, world: World, artifacts: Path
) -> None:
    agent = open_demo(browser, live_server, world, world.agent)
    customer = open_demo(browser, live_server, world, world.customer)
    expect(customer.get_by_test_id("ticket")).to_have_text(world.ticket_subject)
    composer = agent.locator("[data-testid=thread] form.composer").first
    composer.locator("textarea").fill("Driver rolled back, please retry")
    composer.locator("button").click()
    for page in (agent, customer):
        expect(
            page.locator("[data-testid=note] .body", has_text="Driver rolled back")
        ).to_have_count(1, timeout=1000)
    agent.screenshot(path=str(artifacts / "demo.png"), full_page=True)


def test_an_internal_note_appears_only_on_the_agent_page(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    agent = open_demo(browser, live_server, world, world.agent)
    customer = open_demo(browser, live_server, world, world.customer)
    assert "Customer is VIP" not in notes_on(customer)
    composer = agent.locator("[data-testid=thread] form.composer").first
    composer.locator("textarea").fill("internal: escalate to tier 2")
    composer.locator("input[name=internal]").check()
    composer.locator("button").click()
    expect(agent.locator(".note.internal .body", has_text="escalate")).to_have_count(
        1, timeout=2000
    )
    add_note(conn, world, "public marker")  # once this shows, the internal one had its chance
    expect(customer.locator("[data-testid=note] .body", has_text="public marker")).to_have_count(1)
    assert not any("escalate" in text for text in notes_on(customer))


def test_an_ai_run_moves_the_progress_bar(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    page = open_demo(browser, live_server, world, world.customer)
    conn.execute(
        "select set_config('request.jwt.claims', %s, false)",
        (json.dumps({"sub": str(world.agent)}),),
    )
    bar = page.get_by_test_id("ai-progress").first
    label = page.get_by_test_id("ai-label").first
    expect(bar).to_have_js_property("value", 0)
    conn.execute("select set_thread_ai_status(%s, 'started')", (world.thread,))
    expect(label).to_have_text("AI started")
    conn.execute("select set_thread_ai_status(%s, 'processing', 60)", (world.thread,))
    expect(bar).to_have_js_property("value", 60)
    expect(label).to_have_text("AI processing 60%")
    conn.execute("select set_thread_ai_status(%s, 'completed', 100)", (world.thread,))
    expect(bar).to_have_js_property("value", 100)
    expect(label).to_have_text("AI completed")


def test_the_ai_button_on_one_page_moves_the_bar_on_another(
    browser: Browser, live_server: RunningServer, world: World
) -> None:
    agent = open_demo(browser, live_server, world, world.agent)
    customer = open_demo(browser, live_server, world, world.customer)
    agent.get_by_test_id("ai-run").first.click()
    label = customer.get_by_test_id("ai-label").first
    expect(label).to_contain_text("AI processing", timeout=5000)
    expect(label).to_have_text("AI completed", timeout=10_000)
    expect(customer.get_by_test_id("ai-progress").first).to_have_js_property("value", 100)
    expect(agent.get_by_test_id("ai-run").first).to_be_enabled()


def test_restarting_the_server_shows_reconnecting_then_every_note_once(
    browser: Browser, database_url: str, world: World, conn: psycopg.Connection
) -> None:
    server = start_server(database_url)
    port = server.port
    page = open_demo(browser, server, world, world.agent)
    server.stop()
    expect(page.get_by_test_id("connection-state")).to_have_text("reconnecting", timeout=5000)
    for i in range(3):
        add_note(conn, world, f"while down {i}")
    restarted = start_server(database_url, port=port)
    try:
        expect(page.get_by_test_id("connection-state")).to_have_text("live", timeout=15_000)
        for i in range(3):
            expect(
                page.locator("[data-testid=note] .body", has_text=f"while down {i}")
            ).to_have_count(1)
        texts = notes_on(page)
        assert len(texts) == len(set(texts))
    finally:
        restarted.stop()


def test_html_in_a_note_renders_as_text(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    page = open_demo(browser, live_server, world, world.customer)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    hostile = "<img src=x onerror=alert(1)>"
    add_note(conn, world, hostile)
    expect(page.locator("[data-testid=note] .body", has_text=hostile)).to_have_count(1)
    assert page.locator("[data-testid=threads] img").count() == 0
    assert dialogs == []


def test_html_typed_into_the_composer_renders_as_text_on_every_page(
    browser: Browser, live_server: RunningServer, world: World
) -> None:
    agent = open_demo(browser, live_server, world, world.agent)
    customer = open_demo(browser, live_server, world, world.customer)
    dialogs: list[str] = []
    for page in (agent, customer):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    hostile = '<img src=x onerror="alert(document.domain)"><script>alert(2)</script>'
    composer = agent.locator("[data-testid=thread] form.composer").first
    composer.locator("textarea").fill(hostile)
    composer.locator("button").click()
    for page in (agent, customer):
        expect(page.locator(".note:not(.pending) .body", has_text=hostile)).to_have_count(
            1, timeout=2000
        )
        assert page.locator("[data-testid=threads] img, [data-testid=threads] script").count() == 0
    assert dialogs == []


def test_two_editors_of_one_note_the_loser_sees_the_conflict_and_the_winners_text(
    browser: Browser, live_server: RunningServer, world: World
) -> None:
    first = open_demo(browser, live_server, world, world.agent)
    second = open_demo(browser, live_server, world, world.agent)
    note = f"[data-note-id='{world.public_note}']"
    for page, text in ((first, "winner's text"), (second, "loser's text")):
        page.locator(f"{note} [data-testid=edit]").click()
        page.locator(f"{note} [data-testid=edit-body]").fill(text)
    first.locator(f"{note} [data-testid=save]").click()
    expect(first.locator(f"{note} .body")).to_have_text("winner's text")
    second.locator(f"{note} [data-testid=save]").click()
    conflict = second.get_by_test_id("conflict")
    expect(conflict).to_contain_text("winner's text")
    expect(conflict).to_contain_text("loser's text")  # said not saved, not silently dropped
    expect(second.locator(f"{note} .body")).to_have_text("winner's text")
    expect(first.locator(f"{note} .body")).to_have_text("winner's text")
    expect(first.get_by_test_id("conflict")).to_have_count(0)


def test_a_demo_server_offers_a_user_picker(
    browser: Browser, database_url: str, conn: psycopg.Connection
) -> None:
    from threadcast import demo

    demo.seed(database_url)
    server = start_server(database_url, demo=True)
    try:
        page = browser.new_page()
        page.goto(f"{server.url}/")
        page.get_by_test_id("pick-customer").click()
        expect(page.get_by_test_id("connection-state")).to_have_text("live", timeout=10_000)
        expect(page.get_by_test_id("who")).to_contain_text(str(demo.CUSTOMER))
        expect(page.locator("[data-testid=note] .body", has_text="every page is")).to_have_count(1)
        # The agent's internal note is not on the customer's page.
        assert not any("driver update" in t for t in notes_on(page))
    finally:
        server.stop()


def test_not_a_demo_server_hands_out_no_tokens(live_server: RunningServer) -> None:
    import httpx

    assert httpx.get(f"{live_server.url}/demo/users").status_code == 404


def test_writes_made_offline_show_at_once_and_are_sent_on_reconnect(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/?token={live_server.token(world.agent)}&ticket={world.ticket}")
    expect(page.get_by_test_id("connection-state")).to_have_text("live", timeout=10_000)
    expect(page.get_by_test_id("note").first).to_be_visible()
    context.set_offline(True)
    expect(page.get_by_test_id("connection-state")).to_have_text("offline", timeout=10_000)
    # A new note and an edit, both optimistic: shown dimmed at once, queued in order.
    composer = page.locator("[data-testid=thread] form.composer").first
    composer.locator("textarea").fill("written on the train")
    composer.locator("button").click()
    expect(page.locator(".note.pending .body", has_text="written on the train")).to_have_count(1)
    note = page.locator(f"[data-note-id='{world.public_note}']")
    note.get_by_test_id("edit").click()
    note.get_by_test_id("edit-body").fill("edited on the train")
    note.get_by_test_id("save").click()
    expect(note).to_have_class(re.compile(r"\bpending\b"))
    expect(note.locator(".body")).to_have_text("edited on the train")
    expect(page.get_by_test_id("queued")).to_have_text("2 changes waiting to be sent")
    assert conn.execute(
        "select count(*) from ticket_notes where body like '%on the train'"
    ).fetchone() == (0,)
    context.set_offline(False)
    expect(
        page.locator(".note:not(.pending) .body", has_text="written on the train")
    ).to_have_count(1, timeout=15_000)
    expect(note).not_to_have_class(re.compile(r"\bpending\b"), timeout=15_000)
    expect(note.locator(".body")).to_have_text("edited on the train")
    expect(page.get_by_test_id("queued")).to_be_hidden()
    expect(page.get_by_test_id("connection-state")).to_have_text("live", timeout=15_000)
    assert conn.execute(
        "select count(*) from ticket_notes where body = 'written on the train'"
    ).fetchone() == (1,)
    assert conn.execute(
        "select body, version from ticket_notes where id = %s", (world.public_note,)
    ).fetchone() == ("edited on the train", 2)
    context.close()


# The inbox ---------------------------------------------------------------------------------


def inbox_subjects(page: Page) -> list[str]:
    return page.get_by_test_id("inbox-subject").all_text_contents()


def test_the_inbox_shows_tickets_another_user_creates_and_updates_live(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    agent = open_demo(browser, live_server, world, world.agent)
    inbox = agent.get_by_test_id("inbox")
    expect(inbox).to_be_visible()
    expect(agent.get_by_test_id("inbox-ticket")).to_have_count(1)  # org A's one ticket
    assert inbox_subjects(agent) == [world.ticket_subject]
    # Another user (the customer, as the database sees it) opens a ticket: it appears on top.
    conn.execute(
        "insert into tickets (org_id, requester_id, subject) values (%s, %s, 'Scanner jammed')",
        (world.org_a, world.customer),
    )
    expect(agent.get_by_test_id("inbox-subject").first).to_have_text("Scanner jammed")
    # Org B's tickets never show.
    conn.execute(
        "insert into tickets (org_id, requester_id, subject) values (%s, %s, 'Not yours')",
        (world.org_b, world.stranger),
    )
    # An update moves the shown ticket back to the top with its new subject and status, and
    # the ticket view's header follows.
    conn.execute(
        "update tickets set subject = 'Printer fixed?', status = 'pending' where id = %s",
        (world.ticket,),
    )
    first = agent.get_by_test_id("inbox-ticket").first
    expect(first.get_by_test_id("inbox-subject")).to_have_text("Printer fixed?")
    expect(first.get_by_test_id("inbox-meta")).to_have_text("pending")
    expect(first).to_have_attribute("data-version", "2")
    expect(agent.get_by_test_id("ticket")).to_have_text("Printer fixed?")
    # The AI status of a thread shows on its ticket.
    conn.execute(
        "select set_config('request.jwt.claims', %s, false)",
        (json.dumps({"sub": str(world.agent)}),),
    )
    conn.execute("select set_thread_ai_status(%s, 'processing', 30)", (world.thread,))
    expect(first.get_by_test_id("inbox-meta")).to_have_text("pending · AI processing 30%")
    assert inbox_subjects(agent) == ["Printer fixed?", "Scanner jammed"]


def test_the_inbox_is_refused_to_a_customer(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    customer = open_demo(browser, live_server, world, world.customer)
    expect(customer.get_by_test_id("inbox-note")).to_have_text(
        "The inbox is for the organisation's agents."
    )
    conn.execute("update tickets set subject = 'Still broken' where id = %s", (world.ticket,))
    add_note(conn, world, "after the rename")  # once this shows, the rename had its chance
    expect(customer.locator("[data-testid=note] .body", has_text="after the rename")).to_have_count(
        1
    )
    expect(customer.get_by_test_id("inbox-ticket")).to_have_count(0)


def test_an_inbox_entry_opens_its_ticket(
    browser: Browser, live_server: RunningServer, world: World, conn: psycopg.Connection
) -> None:
    other = conn.execute(
        "insert into tickets (org_id, requester_id, subject) values (%s, %s, 'Toner low')"
        " returning id::text",
        (world.org_a, world.customer),
    ).fetchone()[0]
    agent = open_demo(browser, live_server, world, world.agent)
    agent.get_by_test_id("inbox-subject").filter(has_text="Toner low").click()
    expect(agent.get_by_test_id("ticket")).to_have_text("Toner low")
    expect(agent.locator(f"[data-testid=inbox-ticket][data-ticket-id='{other}']")).to_have_class(
        re.compile(r"\bcurrent\b")
    )
