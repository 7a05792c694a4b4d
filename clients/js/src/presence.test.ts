// Presence as pure parts: the state a viewer builds from sync/join/leave frames (and the events
// it gives callbacks), the tracker's coalescing with requests the test answers itself, and a
// channel's routing of presence frames (no connection: a channel set fed frames by hand).
import { describe, expect, it } from "vitest";
import { Channel, type ChannelHost } from "./channel.js";
import { ChannelSet } from "./channels.js";
import { PresenceRefused, PresenceSet, type TrackResult, Tracker, type TrackerIO } from "./presence.js";
import { streamRequest } from "./stream.js";
import type { PresenceEntry } from "./types.js";

const REF = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const ada = (n: number, state: Record<string, unknown> = { name: "Ada" }): PresenceEntry => ({ key: "ada", ref: REF(n), state });
const ben = (n: number, state: Record<string, unknown> = { name: "Ben" }): PresenceEntry => ({ key: "ben", ref: REF(n), state });
const frame = (type: "sync" | "join" | "leave", presences: PresenceEntry[]) => ({ channel: "c:1", type, presences });

describe("PresenceSet", () => {
  it("sync gives the whole state, keyed by user, each presence with its ref", () => {
    const set = new PresenceSet();
    const events = set.apply(frame("sync", [ada(1), ben(2), ada(3, { name: "Ada", tab: 2 })]));
    expect(set.state()).toEqual({
      ada: [{ name: "Ada", presence_ref: REF(1) }, { name: "Ada", tab: 2, presence_ref: REF(3) }],
      ben: [{ name: "Ben", presence_ref: REF(2) }],
    });
    expect(events.map((e) => e.event)).toEqual(["join", "join", "sync"]);
  });

  it("join says the key's presences before it; leave the ones after it", () => {
    const set = new PresenceSet();
    set.apply(frame("sync", [ada(1)]));
    const [join, sync] = set.apply(frame("join", [ada(2)]));
    expect(join).toEqual({
      event: "join", key: "ada",
      newPresences: [{ name: "Ada", presence_ref: REF(2) }],
      currentPresences: [{ name: "Ada", presence_ref: REF(1) }],
    });
    expect(sync).toEqual({ event: "sync" });
    const [leave] = set.apply(frame("leave", [ada(1)]));
    expect(leave).toEqual({
      event: "leave", key: "ada",
      leftPresences: [{ name: "Ada", presence_ref: REF(1) }],
      currentPresences: [{ name: "Ada", presence_ref: REF(2) }],
    });
    set.apply(frame("leave", [ada(2)]));
    expect(set.state()).toEqual({});
  });

  it("a changed state joins again with the same ref and replaces the old one in place", () => {
    const set = new PresenceSet();
    set.apply(frame("sync", [ada(1), ben(2)]));
    const [join] = set.apply(frame("join", [ben(2, { name: "Ben", typing: true })]));
    expect(join).toMatchObject({
      key: "ben",
      newPresences: [{ name: "Ben", typing: true, presence_ref: REF(2) }],
      currentPresences: [{ name: "Ben", presence_ref: REF(2) }],
    });
    expect(set.state().ben).toEqual([{ name: "Ben", typing: true, presence_ref: REF(2) }]);
    expect(set.size).toBe(2);
    // The very same state again is nothing new: no event at all.
    expect(set.apply(frame("join", [ben(2, { name: "Ben", typing: true })]))).toEqual([]);
  });

  it("a leave of a ref it never saw changes nothing and says nothing", () => {
    const set = new PresenceSet();
    set.apply(frame("sync", [ada(1)]));
    expect(set.apply(frame("leave", [ada(9)]))).toEqual([]);
    expect(set.apply(frame("leave", [ben(1)]))).toEqual([]); // a known ref under another key
    expect(set.state()).toEqual({ ada: [{ name: "Ada", presence_ref: REF(1) }] });
  });

  it("a later sync replaces the state: leaves for what is gone, joins for what is new or changed", () => {
    const set = new PresenceSet();
    set.apply(frame("sync", [ada(1), ben(2)]));
    const events = set.apply(frame("sync", [ada(1), ben(3, { name: "Ben", typing: true })]));
    expect(events).toEqual([
      { event: "leave", key: "ben", leftPresences: [{ name: "Ben", presence_ref: REF(2) }], currentPresences: [] },
      {
        event: "join", key: "ben", newPresences: [{ name: "Ben", typing: true, presence_ref: REF(3) }],
        currentPresences: [],
      },
      { event: "sync" },
    ]);
    // An unchanged sync (after a reconnect) still says sync, and nothing else.
    expect(set.apply(frame("sync", [ada(1), ben(3, { name: "Ben", typing: true })]))).toEqual([{ event: "sync" }]);
  });
});

/** A tracker whose requests and gate the test answers, one at a time. */
function scripted() {
  const puts: { connection: string; state: Record<string, unknown>; answer: (error?: Error) => void }[] = [];
  const removes: (() => void)[] = [];
  const gates: (() => void)[] = [];
  const waits: number[] = [];
  let unloads = 0;
  const io: TrackerIO = {
    put: (connection, state) => new Promise<void>((resolve, reject) => {
      puts.push({ connection, state, answer: (error) => (error ? reject(error) : resolve()) });
    }),
    remove: () => new Promise<void>((resolve) => removes.push(resolve)),
    removeOnUnload: () => void (unloads += 1),
    gate: () => new Promise<void>((resolve) => gates.push(resolve)),
    wait: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
  const tracker = new Tracker(io);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return { tracker, puts, removes, gates, waits, unloads: () => unloads, settle };
}

describe("Tracker", () => {
  it("waits for a connection, then sends one PUT naming it", async () => {
    const t = scripted();
    const result = t.tracker.track({ typing: false });
    await t.settle();
    expect(t.gates.length + t.puts.length).toBe(0); // no stream yet
    t.tracker.connected("conn-1");
    await t.settle();
    t.gates.shift()?.();
    await t.settle();
    expect(t.puts.map((p) => [p.connection, p.state])).toEqual([["conn-1", { typing: false }]]);
    t.puts[0]?.answer();
    expect(await result).toBe("ok");
  });

  it("coalesces: one PUT in flight, and of the states asked for meanwhile only the latest goes", async () => {
    const t = scripted();
    t.tracker.connected("conn-1");
    const results: Promise<TrackResult>[] = [t.tracker.track({ text: "h" })];
    await t.settle();
    t.gates.shift()?.();
    await t.settle();
    expect(t.puts).toHaveLength(1); // "h" in flight
    for (const text of ["he", "hel", "hell", "hello"]) results.push(t.tracker.track({ text }));
    await t.settle();
    expect(t.puts).toHaveLength(1); // still one in flight
    t.puts[0]?.answer();
    await t.settle();
    t.gates.shift()?.(); // the pace: the next PUT waits for the gate
    await t.settle();
    expect(t.puts.map((p) => p.state)).toEqual([{ text: "h" }, { text: "hello" }]);
    t.puts[1]?.answer();
    expect(await Promise.all(results)).toEqual(["ok", "ok", "ok", "ok", "ok"]);
    expect(t.tracker.puts).toBe(2);
  });

  it("a state asked for while waiting for the gate replaces the one that was waiting", async () => {
    const t = scripted();
    t.tracker.connected("conn-1");
    void t.tracker.track({ n: 1 });
    await t.settle();
    void t.tracker.track({ n: 2 });
    t.gates.shift()?.();
    await t.settle();
    expect(t.puts.map((p) => p.state)).toEqual([{ n: 2 }]);
  });

  it("tracks again on every new connection, with the latest state", async () => {
    const t = scripted();
    t.tracker.connected("conn-1");
    void t.tracker.track({ n: 1 });
    await t.settle();
    t.gates.shift()?.();
    await t.settle();
    t.puts[0]?.answer();
    await t.settle();
    t.tracker.connected(undefined); // the stream broke
    t.tracker.connected("conn-2"); // and is back
    await t.settle();
    t.gates.shift()?.();
    await t.settle();
    expect(t.puts.map((p) => [p.connection, p.state])).toEqual([["conn-1", { n: 1 }], ["conn-2", { n: 1 }]]);
  });

  it("after a 429 says rate limited, waits Retry-After and sends the latest state", async () => {
    const t = scripted();
    t.tracker.connected("conn-1");
    const first = t.tracker.track({ n: 1 });
    await t.settle();
    t.gates.shift()?.();
    await t.settle();
    const second = t.tracker.track({ n: 2 });
    t.puts[0]?.answer(new PresenceRefused(true, 1000));
    expect(await first).toBe("rate limited");
    await t.settle();
    expect(t.waits).toEqual([1000]);
    t.gates.shift()?.();
    await t.settle();
    expect(t.puts.map((p) => p.state)).toEqual([{ n: 1 }, { n: 2 }]);
    t.puts[1]?.answer();
    expect(await second).toBe("ok");
  });

  it("a refusal is an error, not retried until a new state or connection", async () => {
    const t = scripted();
    t.tracker.connected("conn-1");
    const result = t.tracker.track({ n: 1 });
    await t.settle();
    t.gates.shift()?.();
    await t.settle();
    t.puts[0]?.answer(new Error("403"));
    expect(await result).toBe("error");
    await t.settle();
    expect(t.gates).toHaveLength(0);
    t.tracker.connected("conn-2");
    await t.settle();
    expect(t.gates).toHaveLength(1);
  });

  it("untrack after a PUT in flight DELETEs once it is answered; untrack with nothing held sends nothing", async () => {
    const t = scripted();
    expect(await t.tracker.untrack()).toBe("ok");
    expect(t.removes).toHaveLength(0);
    t.tracker.connected("conn-1");
    void t.tracker.track({ n: 1 });
    await t.settle();
    t.gates.shift()?.();
    await t.settle();
    const untracked = t.tracker.untrack();
    await t.settle();
    expect(t.removes).toHaveLength(0); // the PUT is still in flight
    t.puts[0]?.answer();
    await t.settle();
    expect(t.removes).toHaveLength(1);
    t.removes[0]?.();
    expect(await untracked).toBe("ok");
    expect(t.tracker.tracking).toBe(false);
  });

  it("a refused channel fails the track waiting for its connection", async () => {
    const t = scripted();
    const result = t.tracker.track({ n: 1 });
    t.tracker.fail();
    expect(await result).toBe("error");
    expect(t.tracker.tracking).toBe(false);
  });

  it("pagehide removes with keepalive; pageshow tracks again", async () => {
    const t = scripted();
    t.tracker.connected("conn-1");
    void t.tracker.track({ n: 1 });
    await t.settle();
    t.gates.shift()?.();
    await t.settle();
    t.puts[0]?.answer();
    await t.settle();
    t.tracker.unload();
    t.tracker.unload();
    expect(t.unloads()).toBe(1);
    t.tracker.resume();
    await t.settle();
    t.gates.shift()?.();
    await t.settle();
    expect(t.puts).toHaveLength(2);
  });
});

describe("a channel's presence", () => {
  const io = (): TrackerIO => ({
    put: () => Promise.resolve(), remove: () => Promise.resolve(), removeOnUnload: () => {},
    gate: () => Promise.resolve(), wait: () => Promise.resolve(),
  });
  const host: ChannelHost = { throttleMs: 0, attach: () => {}, detach: () => {}, changed: () => {}, presenceIO: io };
  const subscribed = { type: "subscribed" as const, message: "live", connection: "conn-1" };

  it("asks for the presence binding only with a presence listener or a track", () => {
    const plain = new Channel(host, "c:1").on("ai_status", () => {});
    expect(plain.specs()).toEqual(["ai_status"]);
    const listening = new Channel(host, "c:1").on("ai_status", () => {}).on("presence", { event: "sync" }, () => {});
    expect(listening.specs()).toEqual(["ai_status", "presence"]);
    const tracking = new Channel(host, "c:1");
    void tracking.track({ n: 1 });
    expect(tracking.specs()).toEqual(["presence"]);
    const { query } = streamRequest([{ name: "c:1", specs: listening.specs() }], new Map());
    expect(query).toBe("channel=c:1&on.c:1=ai_status&on.c:1=presence");
  });

  it("routes presence frames to its state and callbacks; a channel joining the connection later starts with that state", () => {
    const set = new ChannelSet();
    const seen: string[] = [];
    const first = new Channel(host, "c:1")
      .on("presence", { event: "join" }, ({ key }) => seen.push(`join ${key}`))
      .on("presence", { event: "leave" }, ({ key }) => seen.push(`leave ${key}`))
      .on("presence", { event: "sync" }, () => seen.push("sync"));
    first.subscribe();
    set.add(first);
    set.connecting("g1");
    set.live("g1", ["c:1"], subscribed, "1-1");
    expect(first.connection).toBe("conn-1");
    set.frame("g1", "presence", "c:1", frame("sync", [ada(1)]), undefined);
    set.frame("g1", "presence", "c:1", frame("join", [ben(2)]), undefined);
    set.frame("g1", "presence", "c:1", frame("leave", [ada(1)]), undefined);
    expect(seen).toEqual(["join ada", "sync", "join ben", "sync", "leave ada", "sync"]);
    expect(Object.keys(first.presenceState())).toEqual(["ben"]);
    // Another channel of the name joins the live connection at once: it has missed the sync.
    const second = new Channel(host, "c:1").on("presence", { event: "sync" }, () => {});
    second.subscribe();
    const joined = set.add(second, () => ({ generation: "g1", position: "1-1", live: true }));
    expect(joined).toBe(false);
    expect(second.presenceState()).toEqual(first.presenceState());
    // A frame of another connection (a handover's old one) is not theirs.
    set.frame("g0", "presence", "c:1", frame("join", [ada(7)]), undefined);
    expect(Object.keys(second.presenceState())).toEqual(["ben"]);
  });

  it("forgets the presences when unsubscribed", () => {
    const set = new ChannelSet();
    const channel = new Channel(host, "c:1").on("presence", { event: "sync" }, () => {});
    channel.subscribe();
    set.add(channel);
    set.connecting("g1");
    set.live("g1", ["c:1"], subscribed, undefined);
    set.frame("g1", "presence", "c:1", frame("sync", [ada(1)]), undefined);
    channel.unsubscribe();
    expect(channel.presenceState()).toEqual({});
  });
});
