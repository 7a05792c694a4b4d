// Presence against a real threadcast server and PostgreSQL (tests/test_js_package.py starts
// them): an agent's and a customer's clients on the seeded ticket see each other's presence
// (sync, join, a changed state, leave), the customer never sees an internal composition, a
// stranger cannot track, a track follows the stream to its new connection, and a burst of
// tracks is a couple of PUTs.
import { afterEach, describe, expect, it } from "vitest";
import type { Channel } from "./channel.js";
import { type ThreadcastClient, createClient } from "./client.js";
import type { PresenceEvent } from "./presence.js";

const env = process.env;
const url = env.THREADCAST_URL ?? "";
if (!url) throw new Error("run through tests/test_js_package.py (THREADCAST_URL is not set)");
const tokens = {
  agent: env.THREADCAST_AGENT_TOKEN ?? "",
  customer: env.THREADCAST_CUSTOMER_TOKEN ?? "",
  stranger: env.THREADCAST_STRANGER_TOKEN ?? "",
};
const ticket = env.THREADCAST_TICKET ?? "";
const otherTicket = (env.THREADCAST_TICKETS ?? "").split(",").filter(Boolean)[0] ?? "";
const topic = `ticket-threads:${ticket}`;
const sub = (token: string): string => (JSON.parse(atob(token.split(".")[1] ?? "")) as { sub: string }).sub;
const AGENT = sub(tokens.agent);
const CUSTOMER = sub(tokens.customer);

const opened: ThreadcastClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

/** A client counting its presence PUTs. */
function client(token: string) {
  const counts = { puts: 0 };
  const fetchFn = ((input: RequestInfo | URL, init?: RequestInit) => {
    if (init?.method === "PUT" && String(input).includes("/presence/")) counts.puts += 1;
    return fetch(input, init);
  }) as typeof fetch;
  const c = createClient(url, { token, offlineQueue: false, pauseWhenHiddenMs: null, fetch: fetchFn });
  opened.push(c);
  return { client: c, counts };
}

/** A channel on the ticket recording its presence events. */
function watching(c: ThreadcastClient, name = topic) {
  const events: PresenceEvent[] = [];
  const channel: Channel = c
    .channel(name)
    .on("presence", { event: "sync" }, () => events.push({ event: "sync" }))
    .on("presence", { event: "join" }, (e) => events.push(e))
    .on("presence", { event: "leave" }, (e) => events.push(e))
    .subscribe();
  return { channel, events };
}

const live = (channel: Channel) => expect.poll(() => channel.live, { timeout: 10000 }).toBe(true);
const stateOf = (channel: Channel, key: string) => channel.presenceState()[key] ?? [];

describe("presence on a ticket", () => {
  it("the customer sees the agent join, change state and leave; the agent sees the customer", async () => {
    const customer = watching(client(tokens.customer).client);
    await live(customer.channel);
    await expect.poll(() => customer.events.some((e) => e.event === "sync")).toBe(true);
    const agent = watching(client(tokens.agent).client);
    expect(await agent.channel.track({ name: "Ada", typing: false })).toBe("ok");
    expect(agent.channel.connection).toMatch(/^[0-9a-f-]{36}$/);
    await expect.poll(() => stateOf(customer.channel, AGENT)).toEqual([
      { name: "Ada", typing: false, presence_ref: agent.channel.presenceRef },
    ]);
    expect(await agent.channel.track({ name: "Ada", typing: true })).toBe("ok");
    await expect.poll(() => stateOf(customer.channel, AGENT)[0]?.typing).toBe(true);
    const join = customer.events.filter((e) => e.event === "join" && e.key === AGENT).at(-1);
    expect(join).toMatchObject({ currentPresences: [{ typing: false, presence_ref: agent.channel.presenceRef }] });
    // Both ways: the agent's channel sees the customer's presence.
    void customer.channel.track({ name: "Carla" });
    await expect.poll(() => stateOf(agent.channel, CUSTOMER).map((p) => p.name)).toEqual(["Carla"]);
    expect(await agent.channel.untrack()).toBe("ok");
    await expect.poll(() => stateOf(customer.channel, AGENT)).toEqual([]);
    expect(customer.events.some((e) => e.event === "leave" && e.key === AGENT)).toBe(true);
  });

  it("an internal composition is the agents' only: the customer gets leave, and no sync shows it", async () => {
    const customer = watching(client(tokens.customer).client);
    await live(customer.channel);
    const agent = watching(client(tokens.agent).client);
    const otherAgentTab = watching(client(tokens.agent).client);
    await agent.channel.track({ name: "Ada", typing: true, internal: false });
    await expect.poll(() => stateOf(customer.channel, AGENT).length).toBe(1);
    await agent.channel.track({ name: "Ada", typing: true, internal: true });
    await expect.poll(() => stateOf(customer.channel, AGENT)).toEqual([]);
    // The agent's other tab sees it (the same user: one key, two refs once it tracks too).
    await expect.poll(() => stateOf(otherAgentTab.channel, AGENT).map((p) => p.internal)).toEqual([true]);
    // A customer arriving now: its sync has no internal composition.
    const late = watching(client(tokens.customer).client);
    await expect.poll(() => late.events.some((e) => e.event === "sync"), { timeout: 10000 }).toBe(true);
    expect(stateOf(late.channel, AGENT)).toEqual([]);
    // Back to a public reply: the customers see it join.
    await agent.channel.track({ name: "Ada", typing: true, internal: false });
    await expect.poll(() => stateOf(late.channel, AGENT).length).toBe(1);
    await expect.poll(() => stateOf(customer.channel, AGENT).length).toBe(1);
  });

  it("a stranger's track is refused and it sees nothing", async () => {
    const stranger = watching(client(tokens.stranger).client);
    // The stream refuses the stranger the channel: the track waiting for it fails.
    expect(await stranger.channel.track({ name: "Eve" })).toBe("error");
    expect(stranger.channel.status).toBe("CHANNEL_ERROR");
    expect(await stranger.channel.track({ name: "Eve" })).toBe("error");
    expect(stranger.events).toEqual([]);
    // And the PUT itself, on an agent's live connection: 403.
    const agent = watching(client(tokens.agent).client);
    await live(agent.channel);
    const response = await fetch(`${url}/v1/channels/${topic}/presence/${crypto.randomUUID()}`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${tokens.stranger}`, "Content-Type": "application/json" },
      body: JSON.stringify({ connection: agent.channel.connection, state: { name: "Eve" } }),
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: string }).error).toBe("forbidden");
  }, 15000);

  it("a state over the server's cap is an error, and the presence keeps the last state it had", async () => {
    const customer = watching(client(tokens.customer).client);
    await live(customer.channel);
    const agent = watching(client(tokens.agent).client);
    expect(await agent.channel.track({ name: "Ada" })).toBe("ok");
    expect(await agent.channel.track({ name: "Ada", note: "x".repeat(2000) })).toBe("error");
    await expect.poll(() => stateOf(customer.channel, AGENT).map((p) => p.name)).toEqual(["Ada"]);
    expect(stateOf(customer.channel, AGENT)[0]?.note).toBeUndefined();
  });

  it("the stream's close ends the presence; a new connection of the stream tracks again", async () => {
    const customer = watching(client(tokens.customer).client);
    await live(customer.channel);
    const agentClient = client(tokens.agent).client;
    const agent = watching(agentClient);
    await agent.channel.track({ name: "Ada", typing: false });
    const first = agent.channel.connection;
    await expect.poll(() => stateOf(customer.channel, AGENT).length).toBe(1);
    // Another channel on the client: the stream reconnects with it, under a new connection id.
    const other = watching(agentClient, `ticket-threads:${otherTicket}`);
    await live(other.channel);
    await expect.poll(() => agent.channel.connection, { timeout: 10000 }).not.toBe(first);
    expect(agent.channel.connection).toBeTruthy();
    // Tracked again on it: the presence outlives the old connection (ended within 1 s).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await expect.poll(() => stateOf(customer.channel, AGENT).map((p) => p.presence_ref)).toEqual([agent.channel.presenceRef]);
    // The whole client closes: its stream ends, and with it the presence.
    agentClient.close();
    await expect.poll(() => stateOf(customer.channel, AGENT), { timeout: 5000 }).toEqual([]);
  });

  it("a burst of tracks (a typing indicator) is coalesced: the latest state, in a couple of PUTs", async () => {
    const customer = watching(client(tokens.customer).client);
    await live(customer.channel);
    const { client: agentClient, counts } = client(tokens.agent);
    const agent = watching(agentClient);
    await live(agent.channel);
    const results = Array.from({ length: 50 }, (_, n) => agent.channel.track({ name: "Ada", keystroke: n }));
    expect(new Set(await Promise.all(results))).toEqual(new Set(["ok"]));
    await expect.poll(() => stateOf(customer.channel, AGENT)[0]?.keystroke).toBe(49);
    expect(counts.puts).toBeLessThanOrEqual(3);
  });
});
