// The decisions of the one stream, as pure functions and a channel set with no connection:
// where each channel starts, what the query holds, whom a refusal is about, which channel
// gets which frame (and which repeat it drops after a handover).
import { describe, expect, it } from "vitest";
import { Channel, type ChannelHost } from "./channel.js";
import { ChannelSet } from "./channels.js";
import { refusedChannels, streamRequest } from "./stream.js";

const host: ChannelHost = { throttleMs: 0, attach: () => {}, detach: () => {}, changed: () => {} };
const subscribed = { type: "subscribed" as const, message: "live" };

function recording(name: string, from?: string) {
  const got: string[] = [];
  const channel = new Channel(host, name, from === undefined ? {} : { from })
    .on("ai_status", (p) => got.push(p.status));
  channel.subscribe();
  return { channel, got };
}
const ai = (status: string) => ({ threadId: "00000000-0000-0000-0000-000000000001", status });

describe("streamRequest", () => {
  const wanted = [
    { name: "c:a", specs: ["ai_status"] },
    { name: "c:b", specs: ["*:public.ticket_notes:ticket_id=eq.x y"] },
    { name: "c:c", specs: [] },
  ];
  it("sends the most common start as Last-Event-ID and from. only for the others", () => {
    const { query, lastEventId } = streamRequest(wanted, new Map([["c:a", "5-1"], ["c:b", "5-1"], ["c:c", "3-2"]]));
    expect(lastEventId).toBe("5-1");
    expect(query).toBe("channel=c:a&channel=c:b&channel=c:c&from.c:c=3-2&on.c:a=ai_status&on.c:b=*:public.ticket_notes:ticket_id%3Deq.x%20y");
  });

  it("stays under the byte budget: bindings go first, then from. gives way to the earliest start", () => {
    const starts = new Map([["c:a", "5-1"], ["c:b", "5-1"], ["c:c", "3-2"]]);
    const full = streamRequest(wanted, starts).query;
    expect(streamRequest(wanted, starts, full.length).unfiltered.size).toBe(0); // at the budget
    const under = streamRequest(wanted, starts, full.length - 1); // one byte over
    expect(under.query.length).toBeLessThanOrEqual(full.length - 1);
    expect([...under.unfiltered]).toEqual(["c:b"]);
    const names = "channel=c:a&channel=c:b&channel=c:c";
    const tight = streamRequest(wanted, starts, names.length); // far over: names only
    expect(tight).toEqual({ query: names, lastEventId: "3-2", unfiltered: new Set(["c:a", "c:b"]) });
  });
});

describe("refusedChannels", () => {
  const names = ["c:a", "c:b", "c:c"];
  it("finds the channel a refusal names, else fails them all", () => {
    expect(refusedChannels({ error: "forbidden", message: "you may not subscribe to 'c:b'" }, names, new Set())).toEqual(["c:b"]);
    expect(refusedChannels({ error: "x", message: "m", channel: "c:c" } as never, names, new Set())).toEqual(["c:c"]);
    expect(refusedChannels({ error: "bad_channel", message: "invalid channel: ..." }, names, new Set())).toEqual(names);
  });
  it("past the cap, refuses the newest channels beyond it", () => {
    const body = (n: number, cap: number) => ({ error: "too_many_channels", message: `too many channels on one stream: ${n} > ${cap}` });
    expect(refusedChannels(body(3, 2), names, new Set())).toEqual(["c:c"]);
    expect(refusedChannels(body(3, 1), names, new Set())).toEqual(["c:b", "c:c"]);
    expect(refusedChannels({ error: "too_many_channels", message: "?" }, names, new Set(["c:a"]))).toEqual(["c:b", "c:c"]);
  });
});

describe("ChannelSet", () => {
  it("gives a frame to the channels of its name on that connection, once each", () => {
    const set = new ChannelSet();
    const a = recording("c:a");
    const b = recording("c:b");
    set.add(a.channel);
    set.add(b.channel);
    set.connecting("s/1");
    set.live("s/1", ["c:a", "c:b"], subscribed, "1-0");
    set.frame("s/1", "ai_status", "c:a", ai("started"), "1-1");
    set.frame("s/1", "ai_status", "c:a", ai("started"), "1-1"); // a repeat
    set.frame("s/2", "ai_status", "c:b", ai("failed"), "1-2"); // another connection's
    expect(a.got).toEqual(["started"]);
    expect(b.got).toEqual([]);
    expect(b.channel.position).toBe("1-1"); // live on s/1: covered up to its last frame
  });

  it("after a handover, drops what each channel already has and delivers the rest", () => {
    const set = new ChannelSet();
    const a = recording("c:a");
    set.add(a.channel);
    set.connecting("old/1");
    set.live("old/1", ["c:a"], subscribed, "1-0");
    set.frame("old/1", "ai_status", "c:a", ai("started"), "1-1");
    set.frame("old/1", "ai_status", "c:b", ai("started"), "1-5"); // another name: position moves on
    // The new leader's stream starts at the earliest position; the set says which that is.
    expect(set.wanted(undefined)).toEqual([{ name: "c:a", specs: ["ai_status"], from: "1-5", pending: true }]);
    set.connecting("new/1");
    set.frame("new/1", "ai_status", "c:a", ai("processing"), "1-4"); // replayed: had it (covered)
    set.frame("new/1", "ai_status", "c:a", ai("completed"), "1-6");
    expect(a.got).toEqual(["started", "completed"]);
  });

  it("joins a running connection at once unless it needs an earlier start", () => {
    const join = (position: string | undefined) => () => ({ generation: "s/1", position, live: true });
    const set = new ChannelSet();
    const first = recording("c:a");
    set.add(first.channel);
    set.connecting("s/1");
    set.live("s/1", ["c:a"], subscribed, "2-0");
    expect(set.add(recording("c:a").channel, join("2-0"))).toBe(false); // no from: from here
    expect(set.add(recording("c:a", "3-0").channel, join("2-0"))).toBe(false); // later from
    const early = recording("c:a", "1-0");
    expect(set.add(early.channel, join("2-0"))).toBe(true); // needs a replay
    expect(set.wanted("s/1")).toEqual([{ name: "c:a", specs: ["ai_status"], from: "1-0", pending: true }]);
    expect(set.add(recording("c:b").channel, () => undefined)).toBe(true); // not carried
  });
});
