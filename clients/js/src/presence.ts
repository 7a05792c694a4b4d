// Presence on a channel (issue 20, /work/presence-spec.md): who else is here, and what they
// are doing (typing, on which thread). Two small parts, each with no connection of its own:
//
// - PresenceSet: the state a viewer sees, built from the server's `presence` frames (a `sync`
//   with the whole state after every (re)connect, then `join` and `leave` diffs), in
//   supabase-js's shapes: presenceState() is `{ [key]: [{ presence_ref, ...state }] }`; a join
//   says `{ key, newPresences, currentPresences }` (current: before it), a leave
//   `{ key, leftPresences, currentPresences }` (current: after it). A join of a ref already held
//   replaces its state (same ref, new state); a leave of a ref not held is nothing.
// - Tracker: this tab's own presence on the channel (one ref per tab and channel), sent with
//   PUT /v1/channels/{channel}/presence/{ref}. Typing indicators are chatty, so it coalesces:
//   one request in flight, the latest state wins (states asked for meanwhile are never sent),
//   and each PUT waits for the client's gate (at most ~4 per second for the whole client). It
//   names the stream connection its presence lives on, and tracks again on every new one
//   (after a reconnect the server has ended the old presence with the old connection).
import type { PresenceEntry, PresencePayload } from "./types.js";

/** A presence as presenceState() and the callbacks give it: its state and its ref. */
export type Presence<State = Record<string, unknown>> = State & { presence_ref: string };

/** Every presence the viewer sees, by user key (the tracking token's `sub`). */
export type PresenceState<State = Record<string, unknown>> = Record<string, Presence<State>[]>;

export interface PresenceSyncEvent {
  event: "sync";
}
export interface PresenceJoinEvent<State = Record<string, unknown>> {
  event: "join";
  key: string;
  newPresences: Presence<State>[];
  /** The key's presences before this join. */
  currentPresences: Presence<State>[];
}
export interface PresenceLeaveEvent<State = Record<string, unknown>> {
  event: "leave";
  key: string;
  leftPresences: Presence<State>[];
  /** The key's presences after this leave. */
  currentPresences: Presence<State>[];
}
export type PresenceEvent<State = Record<string, unknown>> =
  | PresenceSyncEvent | PresenceJoinEvent<State> | PresenceLeaveEvent<State>;

const shown = (entry: PresenceEntry): Presence => ({ ...entry.state, presence_ref: entry.ref });
const sameState = (a: PresenceEntry, b: PresenceEntry): boolean => JSON.stringify(a.state) === JSON.stringify(b.state);

function byKey(entries: Iterable<PresenceEntry>): Map<string, PresenceEntry[]> {
  const grouped = new Map<string, PresenceEntry[]>();
  for (const entry of entries) {
    const list = grouped.get(entry.key);
    if (list) list.push(entry);
    else grouped.set(entry.key, [entry]);
  }
  return grouped;
}

/** The presences one viewer sees on one channel, and the events each frame makes of them. */
export class PresenceSet {
  /** By ref, in the order they joined (a changed state keeps its place). */
  private readonly entries = new Map<string, PresenceEntry>();

  /** `{ [key]: [{ presence_ref, ...state }] }`, a fresh copy. */
  state(): PresenceState {
    const state: PresenceState = {};
    for (const entry of this.entries.values()) (state[entry.key] ??= []).push(shown(entry));
    return state;
  }

  /** The raw entries, to seed another channel of the same name. */
  snapshot(): PresenceEntry[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * Apply one frame; the events it makes, in order: a join or leave per key that changed, then
   * `sync` (after a `sync` frame always, so a page renders its first state; after a diff when
   * anything changed, as supabase-js does after each diff).
   */
  apply(payload: Pick<PresencePayload, "type" | "presences">): PresenceEvent[] {
    let events: PresenceEvent[];
    if (payload.type === "sync") {
      const next = new Map(payload.presences.map((p) => [p.ref, p]));
      const left = [...this.entries.values()].filter((held) => !next.has(held.ref));
      const joined = payload.presences.filter((p) => {
        const held = this.entries.get(p.ref);
        return !held || held.key !== p.key || !sameState(held, p);
      });
      events = [...this.leave(left), ...this.join(joined)];
      return [...events, { event: "sync" }];
    }
    events = payload.type === "join" ? this.join(payload.presences) : this.leave(payload.presences);
    return events.length ? [...events, { event: "sync" }] : [];
  }

  private listOf(key: string): Presence[] {
    return [...this.entries.values()].filter((e) => e.key === key).map(shown);
  }

  private join(presences: PresenceEntry[]): PresenceJoinEvent[] {
    const events: PresenceJoinEvent[] = [];
    for (const [key, joined] of byKey(presences)) {
      const fresh = joined.filter((p) => {
        const held = this.entries.get(p.ref);
        return !held || held.key !== p.key || !sameState(held, p);
      });
      if (!fresh.length) continue; // the same state again: nothing new
      const currentPresences = this.listOf(key);
      for (const p of fresh) this.entries.set(p.ref, { key: p.key, ref: p.ref, state: p.state });
      events.push({ event: "join", key, newPresences: fresh.map(shown), currentPresences });
    }
    return events;
  }

  private leave(presences: PresenceEntry[]): PresenceLeaveEvent[] {
    const events: PresenceLeaveEvent[] = [];
    for (const [key, gone] of byKey(presences)) {
      const held = gone.flatMap((p) => {
        const entry = this.entries.get(p.ref);
        return entry && entry.key === key ? [entry] : [];
      });
      if (!held.length) continue; // refs this viewer never saw: nothing to say
      for (const entry of held) this.entries.delete(entry.ref);
      events.push({ event: "leave", key, leftPresences: held.map(shown), currentPresences: this.listOf(key) });
    }
    return events;
  }
}

/** What track() and untrack() resolve to (supabase-js's words). */
export type TrackResult = "ok" | "error" | "rate limited";

/** A presence request's outcome as the tracker needs it. */
export class PresenceRefused extends Error {
  constructor(readonly rateLimited: boolean, readonly retryAfterMs: number, cause?: unknown) {
    super(cause instanceof Error ? cause.message : "presence request refused");
    this.name = "PresenceRefused";
  }
}

/** The tracker's requests and its pacing, given by the client (a test gives its own). */
export interface TrackerIO {
  /** PUT the presence on `connection`; rejects with PresenceRefused on 429, else any error. */
  put(connection: string, state: Record<string, unknown>): Promise<void>;
  /** DELETE the presence (204 also when already gone). */
  remove(): Promise<void>;
  /** DELETE with fetch keepalive, fire and forget: the page is going away. */
  removeOnUnload(): void;
  /** Resolves when the next PUT may start (the client's pace for all its channels). */
  gate(): Promise<void>;
  /** Resolves after `ms` (after a 429, Retry-After). */
  wait(ms: number): Promise<void>;
}

interface Waiter {
  version: number;
  resolve: (result: TrackResult) => void;
}

/** One tab's presence on one channel. */
export class Tracker {
  /** The state to hold on the server; null: none (untracked). */
  private desired: Record<string, unknown> | null = null;
  private version = 0;
  /** The connection the presence should live on (the stream's, from `subscribed`). */
  private connection: string | undefined;
  /** `${connection} ${version}` the server holds, or that failed (not retried until news). */
  private done: string | undefined;
  /** A PUT may have reached the server since the last DELETE. */
  private held = false;
  private running = false;
  private waiters: Waiter[] = [];
  /** PUTs sent, for tests and metrics. */
  puts = 0;

  constructor(private readonly io: TrackerIO) {}

  /** Whether this tab tracks (or wants to) on the channel. */
  get tracking(): boolean {
    return this.desired !== null;
  }

  track(state: Record<string, unknown>): Promise<TrackResult> {
    this.desired = state;
    return this.ask();
  }

  untrack(): Promise<TrackResult> {
    this.desired = null;
    return this.ask();
  }

  /** The stream's connection (undefined: down). A new one: track again on it. */
  connected(connection: string | undefined): void {
    if (connection === this.connection) return;
    this.connection = connection;
    if (connection !== undefined) void this.pump();
  }

  /** The channel was refused: what waits fails, and nothing is tracked any more. */
  fail(): void {
    this.desired = null;
    this.version += 1;
    this.settle(this.version - 1, "error");
    void this.pump(); // a DELETE if a PUT may have landed
  }

  /** The page is going away: end the presence now (keepalive), keep the wish (bfcache). */
  unload(): void {
    if (!this.held) return;
    this.held = false;
    this.done = undefined;
    this.io.removeOnUnload();
  }

  /** The page is back (from the bfcache): track again. */
  resume(): void {
    void this.pump();
  }

  private ask(): Promise<TrackResult> {
    this.version += 1;
    const promise = new Promise<TrackResult>((resolve) => this.waiters.push({ version: this.version, resolve }));
    void this.pump();
    return promise;
  }

  /** Resolve every waiter up to `version`: a later state superseded the earlier ones. */
  private settle(version: number, result: TrackResult): void {
    const [due, later] = [this.waiters.filter((w) => w.version <= version), this.waiters.filter((w) => w.version > version)];
    this.waiters = later;
    for (const w of due) w.resolve(result);
  }

  private async pump(): Promise<void> {
    if (this.running) return; // the running loop reads the latest wish when its request ends
    this.running = true;
    try {
      for (;;) {
        const version = this.version;
        if (this.desired === null) {
          if (!this.held) {
            this.settle(version, "ok");
            return;
          }
          this.held = false;
          this.done = undefined;
          try {
            await this.io.remove();
            this.settle(version, "ok");
          } catch {
            this.settle(version, "error");
          }
          continue;
        }
        if (this.connection === undefined) return; // until the stream is live: connected()
        if (this.done === `${this.connection} ${version}`) {
          this.settle(version, "ok");
          return;
        }
        await this.io.gate();
        // Whatever was asked for while waiting for the gate goes instead: the latest wins.
        const state = this.desired as Record<string, unknown> | null;
        const connection = this.connection as string | undefined;
        const sending = this.version;
        if (state === null || connection === undefined) continue;
        this.held = true;
        this.puts += 1;
        try {
          await this.io.put(connection, state);
          this.done = `${connection} ${sending}`;
          this.settle(sending, "ok");
        } catch (error) {
          if (error instanceof PresenceRefused && error.rateLimited) {
            this.settle(sending, "rate limited");
            await this.io.wait(error.retryAfterMs); // then the latest state, still wanted
            continue;
          }
          this.done = `${connection} ${sending}`; // not again until a new state or connection
          this.settle(sending, "error");
          if (this.version === sending && this.connection === connection) return;
        }
      }
    } finally {
      this.running = false;
    }
  }
}
