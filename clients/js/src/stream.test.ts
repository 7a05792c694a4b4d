// The client's one stream against a real threadcast server and PostgreSQL (tests/test_js_package.py
// starts them and seeds THREADCAST_TICKETS: tickets the agent may follow): every channel on one
// connection, routing by name, channels joining and leaving while notes are written (exact per
// channel), `from`, a refused channel, the server's cap on channels.
import { afterEach, describe, expect, it } from "vitest";
import type { Channel, ChannelStatus } from "./channel.js";
import { type ThreadcastClient, createClient } from "./client.js";
import { ForbiddenError, ValidationError } from "./errors.js";
import type { NoteRealtimePayload } from "./types.js";

const env = process.env;
const url = env.THREADCAST_URL ?? "";
if (!url) throw new Error("run through tests/test_js_package.py (THREADCAST_URL is not set)");
const agent = env.THREADCAST_AGENT_TOKEN ?? "";
const ticket = env.THREADCAST_TICKET ?? "";
const thread = env.THREADCAST_THREAD ?? "";
const tickets = (env.THREADCAST_TICKETS ?? "").split(",").filter(Boolean);
const otherOrgTicket = env.THREADCAST_OTHER_TICKET ?? "";
const topic = (t: string) => `ticket-threads:${t}`;
const at = (i: number): string => tickets[i] ?? "";

interface Watched {
  client: ThreadcastClient;
  streams: string[]; // the URL of every /v1/stream request
  close(): void;
}

const opened: Watched[] = [];
afterEach(() => {
  for (const w of opened.splice(0)) w.close();
});

/** A client that records its stream requests. */
function watched(): Watched {
  const streams: string[] = [];
  const fetchFn = ((input: RequestInfo | URL, init?: RequestInit) => {
    const target = String(input);
    if (target.includes("/v1/stream")) streams.push(target);
    return fetch(input, init);
  }) as typeof fetch;
  const client = createClient(url, { token: agent, offlineQueue: false, pauseWhenHiddenMs: null, fetch: fetchFn });
  const w = { client, streams, close: () => client.close() };
  opened.push(w);
  return w;
}

const rest = () => createClient(url, { token: agent, offlineQueue: false }).rest;

/** A channel recording its notes' bodies with their event ids, and its statuses. */
function notes(client: ThreadcastClient, name: string, options: { from?: string } = {}) {
  const got: { body: string; id: string }[] = [];
  const statuses: [ChannelStatus, Error | undefined][] = [];
  const channel: Channel = client.channel(name, options).on(
    "postgres_changes", { event: "INSERT", table: "ticket_notes" },
    (p: NoteRealtimePayload) => {
      if (p.eventType === "INSERT") got.push({ body: p.new.body, id: channel.position ?? "" });
    },
  );
  const recorder = {
    channel, got, statuses,
    bodies: () => got.map((n) => n.body),
    subscribe() {
      channel.subscribe((s, e) => statuses.push([s, e]));
      return recorder;
    },
    live: () => expect.poll(() => statuses.some(([s]) => s === "SUBSCRIBED"), { timeout: 10000 }).toBe(true),
  };
  return recorder;
}

async function threadOn(ticketId: string): Promise<string> {
  return (await rest().createThread(ticketId, `stream test thread ${ticketId.slice(-4)}`)).id;
}

describe("one stream per client", () => {
  it("carries every channel on one connection and gives each event to the channels of its name", async () => {
    const [t1, t2] = [at(0), at(1)];
    const [thread1, thread2] = await Promise.all([threadOn(t1), threadOn(t2)]);
    const w = watched();
    const a = notes(w.client, topic(ticket)).subscribe();
    const ai: string[] = [];
    const aStatus = w.client.channel(topic(ticket)).on("ai_status", (p) => ai.push(p.status)).subscribe();
    const b = notes(w.client, topic(t1)).subscribe();
    const c = notes(w.client, topic(t2)).subscribe();
    await Promise.all([a.live(), b.live(), c.live()]);
    expect(aStatus.live).toBe(true);
    expect(w.streams).toHaveLength(1);
    const query = new URL(w.streams[0] ?? "").searchParams;
    expect(query.getAll("channel").sort()).toEqual([topic(ticket), topic(t1), topic(t2)].sort());
    expect(query.getAll(`on.${topic(ticket)}`)).toEqual(["INSERT:public.ticket_notes", "ai_status"]);
    const r = rest();
    await r.addNote(thread, "routed to A");
    await r.addNote(thread1, "routed to B");
    await r.addNote(thread2, "routed to C");
    await r.setAIStatus(thread, "started");
    await expect.poll(() => ai, { timeout: 10000 }).toEqual(["started"]);
    await expect.poll(() => c.bodies(), { timeout: 10000 }).toEqual(["routed to C"]);
    expect(a.bodies()).toEqual(["routed to A"]);
    expect(b.bodies()).toEqual(["routed to B"]);
    expect(w.streams).toHaveLength(1);
  });

  it("adds and removes channels while notes are written: the channels it keeps get every note once, in order", async () => {
    const [t1, t2, t3, t4] = [at(2), at(3), at(4), at(5)];
    const thread1 = await threadOn(t1);
    const w = watched();
    const a = notes(w.client, topic(ticket)).subscribe();
    const b = notes(w.client, topic(t1)).subscribe();
    await Promise.all([a.live(), b.live()]);
    const written = { a: [] as string[], b: [] as string[] };
    let writing = true;
    const r = rest();
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const body = `churn-${i}`;
        if (i % 2) {
          await r.addNote(thread1, body);
          written.b.push(body);
        } else {
          await r.addNote(thread, body);
          written.a.push(body);
        }
      }
    })();
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // Joins and leaves, some inside one debounce, some apart: each set change is a reconnect.
    const c = notes(w.client, topic(t2)).subscribe();
    await pause(120);
    const d = notes(w.client, topic(t3)).subscribe();
    const e = notes(w.client, topic(t4)).subscribe();
    await pause(30);
    c.channel.unsubscribe();
    await pause(150);
    d.channel.unsubscribe();
    const again = notes(w.client, topic(t2)).subscribe();
    await pause(200);
    e.channel.unsubscribe();
    await Promise.all([again.live(), pause(300)]);
    writing = false;
    await writer;
    await expect.poll(() => a.got.length >= written.a.length && b.got.length >= written.b.length, { timeout: 15000 }).toBe(true);
    await pause(300); // anything repeated would arrive by now
    expect(w.streams.length).toBeGreaterThanOrEqual(4); // the set really changed, several times
    expect(written.a.length).toBeGreaterThan(5);
    expect(a.bodies()).toEqual(written.a);
    expect(b.bodies()).toEqual(written.b);
    expect(w.streams.filter((s) => new URL(s).searchParams.getAll("channel").length === 0)).toEqual([]);
  });

  it("starts a channel with `from` after that position: the events after it, none at or before", async () => {
    const t = at(6);
    const threadId = await threadOn(t);
    const first = watched();
    const seen = notes(first.client, topic(t)).subscribe();
    await seen.live();
    const r = rest();
    for (const body of ["from-1", "from-2", "from-3"]) await r.addNote(threadId, body);
    await expect.poll(() => seen.bodies(), { timeout: 10000 }).toEqual(["from-1", "from-2", "from-3"]);
    const [id1, id2] = seen.got.map((n) => n.id);

    const w = watched();
    const late = notes(w.client, topic(t), { from: id1 }).subscribe();
    await expect.poll(() => late.bodies(), { timeout: 10000 }).toEqual(["from-2", "from-3"]);
    await late.live();
    // A second channel of the same name, from an earlier position than the stream is at: the
    // stream reconnects to replay for it; the first gets nothing twice.
    const later = notes(w.client, topic(t), { from: id2 }).subscribe();
    await expect.poll(() => later.bodies(), { timeout: 10000 }).toEqual(["from-3"]);
    await r.addNote(threadId, "from-4");
    await expect.poll(() => later.bodies(), { timeout: 10000 }).toEqual(["from-3", "from-4"]);
    await expect.poll(() => late.bodies(), { timeout: 10000 }).toEqual(["from-2", "from-3", "from-4"]);
    expect(w.streams).toHaveLength(2);
    expect(() => w.client.channel(topic(t), { from: "yesterday" })).toThrow(TypeError);
  });

  it("fails a channel the server refuses alone; the others stay on the stream", async () => {
    const w = watched();
    const mine = notes(w.client, topic(ticket)).subscribe();
    const theirs = notes(w.client, topic(otherOrgTicket)).subscribe();
    await expect.poll(() => theirs.statuses.map(([s]) => s), { timeout: 10000 }).toEqual(["CHANNEL_ERROR"]);
    expect(theirs.statuses[0]?.[1]).toBeInstanceOf(ForbiddenError);
    expect(theirs.statuses[0]?.[1]?.message).toContain(otherOrgTicket);
    await mine.live();
    await rest().addNote(thread, "after a refusal");
    await expect.poll(() => mine.bodies(), { timeout: 10000 }).toEqual(["after a refusal"]);
    expect(new URL(w.streams.at(-1) ?? "").searchParams.getAll("channel")).toEqual([topic(ticket)]);
  });

  it.each([
    [99, 0],
    [100, 0],
    [101, 1],
  ])("carries %i channels with %i refused past the server's cap of 100", async (count, refused) => {
    expect(tickets.length).toBeGreaterThanOrEqual(count);
    const w = watched();
    const statuses = tickets.slice(0, count).map((t) => {
      const seen: ChannelStatus[] = [];
      const errors: (Error | undefined)[] = [];
      w.client.channel(topic(t)).on("ai_status", () => {}).subscribe((s, e) => {
        seen.push(s);
        errors.push(e);
      });
      return { seen, errors };
    });
    await expect.poll(() => statuses.every((s) => s.seen.length > 0), { timeout: 15000 }).toBe(true);
    const failed = statuses.filter((s) => s.seen[0] === "CHANNEL_ERROR");
    expect(failed.map((f) => f.errors[0]?.message).slice(0, 3)).toEqual(refused ? [expect.any(String)] : []);
    expect(failed).toHaveLength(refused);
    expect(statuses.filter((s) => s.seen[0] === "SUBSCRIBED")).toHaveLength(count - refused);
    for (const f of failed) expect(f.errors[0]).toBeInstanceOf(ValidationError);
    if (refused) expect(statuses.at(-1)?.seen[0]).toBe("CHANNEL_ERROR"); // the newest leaves
    expect(w.streams).toHaveLength(refused ? 2 : 1);
  });
});
