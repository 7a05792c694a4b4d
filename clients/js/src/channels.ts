// The channels of one tab and the routing of a stream's frames to them, by name: several
// channels may share a name (useThreadUpdates and another widget on one ticket), and the stream
// carries each name once, with the union of their bindings.
//
// Exactness: a channel takes part in one connection at a time (`includedIn`); it receives a
// frame only if it is included in that frame's connection, and only if the frame's id is after
// its `position` (so a replay it already has, after a handover between tabs or a `from`, is
// dropped). After `subscribed` the connection is live for it (`coveredBy`): every later frame of
// that connection, whatever channel it is for, advances its position. A channel that joins
// while a connection runs waits for the next one, unless that connection already carries its
// name and bindings from no later than the channel's `from`: then it joins at once.
//
// Presence frames have no id: they go to the channels included in their connection like the
// rest, and the set keeps each name's presence state of the current connection, so a channel
// that joins a connection already carrying its name (and its `sync`) starts with that state.
import type { Channel } from "./channel.js";
import { earlierPosition, isAfter } from "./positions.js";
import { PresenceSet } from "./presence.js";
import type { StreamWant } from "./stream.js";
import type { PresencePayload, SystemEvent } from "./types.js";

/** How a channel can join the connection that runs now, if it can. */
export type Joiner = (name: string, specs: string[]) =>
  | { generation: string; position: string | undefined; live: boolean }
  | undefined;

interface Live {
  generation: string;
  names: ReadonlySet<string>;
  event: SystemEvent;
}

export class ChannelSet {
  /** Bumped on every join and leave; a connection carries the set as of one revision. */
  revision = 0;
  private readonly byName = new Map<string, Set<Channel>>();
  private current: Live | undefined;
  /** Per name, the presences of the connection `generation` (for channels joining it). */
  private readonly presence = new Map<string, { generation: string; set: PresenceSet }>();

  all(): Channel[] {
    return [...this.byName.values()].flatMap((set) => [...set]);
  }

  get size(): number {
    return this.byName.size;
  }

  /** Add `channel`; true when the stream must reconnect to carry it. */
  add(channel: Channel, join?: Joiner): boolean {
    this.revision += 1;
    channel.revision = this.revision;
    channel.includedIn = undefined;
    channel.coveredBy = undefined;
    let set = this.byName.get(channel.name);
    if (!set) this.byName.set(channel.name, (set = new Set()));
    set.add(channel);
    const now = join?.(channel.name, channel.specs());
    if (!now) return true;
    if (channel.position === undefined) {
      channel.position = now.position; // it starts where the stream is
    } else if (now.position === undefined || isAfter(now.position, channel.position)) {
      return true; // it needs events from before where the connection is: a replay
    }
    channel.includedIn = now.generation;
    if (channel.position === undefined) channel.position = now.position;
    const live = this.current;
    if (now.live && live && live.generation === now.generation && live.names.has(channel.name)) {
      channel.coveredBy = now.generation;
      channel.goLive(live.event);
      const presence = this.presence.get(channel.name);
      if (presence?.generation === now.generation && channel.specs().includes("presence")) {
        channel.seedPresence(presence.set.snapshot());
      }
    }
    return false;
  }

  /** Remove `channel`; true when its name left the set (the stream may drop it). */
  remove(channel: Channel): boolean {
    this.revision += 1;
    const set = this.byName.get(channel.name);
    if (!set?.delete(channel)) return false;
    if (set.size) return false;
    this.byName.delete(channel.name);
    this.presence.delete(channel.name);
    return true;
  }

  /**
   * Each name once: the union of its channels' bindings, and `from`: the earliest position of
   * its channels not on `generation` (all of them when the stream is new: a handover).
   */
  wanted(generation: string | undefined): StreamWant[] {
    return [...this.byName].map(([name, set]) => {
      const specs = new Set<string>();
      let from: string | undefined;
      let pending = false;
      for (const channel of set) {
        for (const spec of channel.specs()) specs.add(spec);
        if (channel.includedIn !== generation || generation === undefined) {
          pending = true;
          from = earlierPosition(from, channel.position);
        }
      }
      return { name, specs: [...specs].sort(), from, pending };
    });
  }

  /** Connection `generation` carries the set as of `revision` (this tab's own, by default). */
  connecting(generation: string, revision = this.revision): void {
    for (const channel of this.all()) {
      if (channel.revision <= revision) channel.includedIn = generation;
    }
  }

  frame(generation: string, event: string, name: string | undefined, payload: unknown, id: string | undefined): void {
    if (event === "presence" && name !== undefined && this.byName.has(name)) {
      let held = this.presence.get(name);
      if (held?.generation !== generation) this.presence.set(name, (held = { generation, set: new PresenceSet() }));
      held.set.apply(payload as PresencePayload);
    }
    if (name !== undefined) {
      for (const channel of this.byName.get(name) ?? []) {
        if (channel.includedIn === generation) channel.receive(event, payload, id);
      }
    } else {
      // A system frame (reset, shutdown, expired) is for every channel of the connection.
      for (const channel of this.all()) {
        if (channel.includedIn === generation) channel.receive(event, payload, undefined);
      }
    }
    if (id === undefined) return;
    for (const channel of this.all()) if (channel.coveredBy === generation) channel.advance(id);
  }

  live(generation: string, names: string[], event: SystemEvent, id: string | undefined): void {
    this.current = { generation, names: new Set(names), event };
    for (const name of names) {
      for (const channel of this.byName.get(name) ?? []) {
        if (channel.includedIn !== generation) continue;
        channel.coveredBy = generation;
        channel.advance(id);
        channel.goLive(event);
      }
    }
  }

  down(status: "CHANNEL_ERROR" | "TIMED_OUT" | null, error?: Error): void {
    this.current = undefined;
    for (const channel of this.all()) channel.goDown(status, error);
  }

  /** The server refused these names: their channels fail (and leave the set). */
  refused(names: string[], error: Error): void {
    for (const name of names) for (const channel of [...(this.byName.get(name) ?? [])]) channel.refuse(error);
  }
}
