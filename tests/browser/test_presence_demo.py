"""Presence in the demo page (issue 20), in a real Chromium against a real server and
PostgreSQL: two agents in two browser contexts see each other viewing and typing, the second to
start a reply on a thread is warned that the first is already replying; a customer never sees
an agent's internal composition (live, or in the sync of a page opened later); a tab that
follows another's shared stream tracks on the leader's connection, with a presence of its own."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.servers import RunningServer
from tests.support import World, fixed_uuid

pytestmark = pytest.mark.browser

SECOND_AGENT = fixed_uuid(0xA2)

# Every text the page's presence lines ever showed, from its first render on.
RECORD_PRESENCE = """() => {
    window.presenceSeen = [];
    const seen = () => {
        for (const p of document.querySelectorAll("[data-testid=presence]")) {
            if (p.textContent) window.presenceSeen.push(p.textContent);
        }
    };
    const all = { subtree: true, childList: true, characterData: true };
    new MutationObserver(seen).observe(document.body, all);
}"""


# A tab whose pagehide never reaches the page's listeners, as when it crashes.
NO_PAGEHIDE = """window.addEventListener("pagehide", (e) => e.stopImmediatePropagation(), true);"""


@pytest.fixture
def second_agent(conn: psycopg.Connection, world: World) -> uuid.UUID:
    """Another agent of org A: both may answer the world's ticket."""
    conn.execute("insert into users (id, display_name) values (%s, 'Agent Two')", (SECOND_AGENT,))
    conn.execute(
        "insert into org_members (org_id, user_id) values (%s, %s)", (world.org_a, SECOND_AGENT)
    )
    return SECOND_AGENT


def open_demo(
    context: BrowserContext, server: RunningServer, world: World, user: uuid.UUID, name: str
) -> Page:
    page = context.new_page()
    page.goto(f"{server.url}/?token={server.token(user)}&ticket={world.ticket}&name={name}")
    expect(page.get_by_test_id("connection-state")).to_have_text("live", timeout=10_000)
    expect(page.get_by_test_id("note").first).to_be_visible()
    return page


def thread_of(page: Page):
    return page.locator("[data-testid=thread]").first


def presence_of(page: Page):
    return thread_of(page).get_by_test_id("presence")


def test_the_second_agent_to_reply_is_warned_that_the_first_is_replying(
    browser: Browser,
    live_server: RunningServer,
    world: World,
    second_agent: uuid.UUID,
    artifacts: Path,
) -> None:
    ada_context, ben_context = browser.new_context(), browser.new_context()
    ada = open_demo(ada_context, live_server, world, world.agent, "Ada")
    ben = open_demo(ben_context, live_server, world, second_agent, "Ben")
    expect(presence_of(ada)).to_have_text("Ben is viewing")
    expect(presence_of(ben)).to_have_text("Ada is viewing")

    thread_of(ben).locator("textarea").fill("Looking into the printer now")
    expect(presence_of(ada)).to_have_text("Ben is typing…")
    thread_of(ada).locator("textarea").fill("I can take this one")
    warning = thread_of(ada).get_by_test_id("collision")
    expect(warning).to_be_visible()
    expect(warning).to_have_text("Ben is already replying to this thread")
    expect(presence_of(ben)).to_have_text("Ada is typing…")
    # Ben started first: he sees Ada typing, and no warning.
    expect(thread_of(ben).get_by_test_id("collision")).to_be_hidden()
    ada.screenshot(path=str(artifacts / "presence-collision.png"), full_page=True)

    # Ben sends his reply: he is no longer replying, and Ada's warning goes.
    thread_of(ben).locator("form.composer button").click()
    expect(presence_of(ada)).to_have_text("Ben is viewing")
    expect(warning).to_be_hidden()
    # Ben leaves the page: Ada sees him go.
    ben_context.close()
    expect(presence_of(ada)).to_have_text("", timeout=5000)
    ada_context.close()


def test_a_customer_never_sees_an_agents_internal_composition(
    browser: Browser, live_server: RunningServer, world: World, second_agent: uuid.UUID
) -> None:
    customer_context = browser.new_context()
    customer = open_demo(customer_context, live_server, world, world.customer, "Carla")
    customer.evaluate(RECORD_PRESENCE)
    ada_context, ben_context = browser.new_context(), browser.new_context()
    ada = open_demo(ada_context, live_server, world, world.agent, "Ada")
    ben = open_demo(ben_context, live_server, world, second_agent, "Ben")
    expect(presence_of(customer)).to_have_text("Ada is viewing · Ben is viewing")

    composer = thread_of(ada).locator("form.composer")
    composer.locator("input[name=internal]").check()
    composer.locator("textarea").fill("internal: the customer is on the VIP plan")
    # The other agent sees what Ada writes; the customer sees her leave.
    expect(presence_of(ben)).to_have_text("Ada is writing an internal note… · Carla is viewing")
    expect(presence_of(customer)).to_have_text("Ben is viewing")
    # A customer page opened now: its sync has Ben, not Ada.
    late = open_demo(customer_context, live_server, world, world.customer, "Carla")
    expect(presence_of(late)).to_have_text("Ben is viewing")
    # Ben types a public reply: once the customers see it, Ada's internal state had its chance.
    thread_of(ben).locator("textarea").fill("We are replacing the printer")
    for page in (customer, late):
        expect(presence_of(page)).to_have_text("Ben is typing…")
    seen = customer.evaluate("window.presenceSeen")
    assert seen, "the recorder saw no presence at all"
    assert not [t for t in seen if "Ada is typing" in t or "internal" in t], seen

    # Ada unticks internal: her public reply is the customer's to see.
    composer.locator("input[name=internal]").uncheck()
    expect(presence_of(customer)).to_have_text("Ada is typing… · Ben is typing…")
    for context in (customer_context, ada_context, ben_context):
        context.close()


def test_a_follower_tab_tracks_on_the_leaders_stream_with_a_presence_of_its_own(
    browser: Browser, live_server: RunningServer, world: World
) -> None:
    customer_context = browser.new_context()
    customer = open_demo(customer_context, live_server, world, world.customer, "Carla")
    agent_context = browser.new_context()
    leader = open_demo(agent_context, live_server, world, world.agent, "Ada")
    streams: list[str] = []
    follower = agent_context.new_page()
    follower.on("request", lambda r: streams.append(r.url) if "/v1/stream" in r.url else None)
    follower_url = (
        f"{live_server.url}/?token={live_server.token(world.agent)}&ticket={world.ticket}&name=Ada"
    )
    follower.goto(follower_url)
    expect(follower.get_by_test_id("connection-state")).to_have_text("live", timeout=10_000)
    expect(presence_of(customer)).to_have_text("Ada is viewing")

    thread_of(follower).locator("textarea").fill("Typed in the second tab")
    expect(presence_of(customer)).to_have_text("Ada is typing…")
    # The follower's presence frames come through the leader: it opened no stream itself.
    assert streams == [], streams
    # The leader tab still has its own presence, not typing: closing the follower (its pagehide
    # untracks with keepalive) leaves that one.
    follower.close(run_before_unload=True)
    expect(presence_of(customer)).to_have_text("Ada is viewing", timeout=5000)

    # A follower that dies without its pagehide (a crash; here its pagehide is swallowed): the
    # leader sees its tab lock go and removes its presence, which lived on the leader's stream
    # and would otherwise outlive the tab.
    crashing = agent_context.new_page()
    crashing.add_init_script(NO_PAGEHIDE)
    crashing.goto(follower_url)
    expect(crashing.get_by_test_id("connection-state")).to_have_text("live", timeout=10_000)
    thread_of(crashing).locator("textarea").fill("Typed in a tab about to crash")
    expect(presence_of(customer)).to_have_text("Ada is typing…")
    deletes: list[tuple[Page, str]] = []  # (the page that sent it, its URL)
    agent_context.on(
        "request",
        lambda r: deletes.append((r.frame.page, r.url)) if r.method == "DELETE" else None,
    )
    crashing.close()
    expect(presence_of(customer)).to_have_text("Ada is viewing", timeout=5000)
    assert [url for page, url in deletes if page == leader and "/presence/" in url], deletes

    # The leader goes: another tab takes the stream over, on a new connection, and its presence
    # (which ended with the old connection) is tracked again on the new one.
    heir = agent_context.new_page()
    heir_streams: list[str] = []
    heir.on("request", lambda r: heir_streams.append(r.url) if "/v1/stream" in r.url else None)
    heir.goto(follower_url)
    expect(heir.get_by_test_id("connection-state")).to_have_text("live", timeout=10_000)
    assert heir_streams == [], heir_streams
    leader.close(run_before_unload=True)
    expect(heir.get_by_test_id("connection-state")).to_have_text("live", timeout=10_000)
    heir.wait_for_timeout(1500)  # past the second in which the old connection's presences end
    expect(presence_of(customer)).to_have_text("Ada is viewing")
    assert len(heir_streams) == 1, heir_streams  # the heir holds the stream now
    heir.close(run_before_unload=True)
    expect(presence_of(customer)).to_have_text("", timeout=5000)
    for context in (customer_context, agent_context):
        context.close()
