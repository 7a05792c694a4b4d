// One stream per browser: the tabs of one origin that use one server as one user share it.
//
// - Leadership is a Web Lock (`threadcast-leader:<server>:<user>`): the tab holding it runs the
//   one Stream; every other tab waits in the lock's queue, so when the holder closes (or
//   crashes) the browser grants it to the next, which takes over.
// - A BroadcastChannel of the same name carries the rest. Followers send their channel sets
//   (`report`: per name the union of bindings, and where channels not yet on the stream start);
//   the leader merges them with its own, and broadcasts each connection's start (`connecting`:
//   which revision of each tab's set it carries), every frame, `live`, `down` and `refused`.
// - Each tab holds a lock of its own (`threadcast-tab:<id>`) while it lives; the leader queues
//   for it, so it is granted exactly when that tab is gone, and its channels leave the stream.
// - Exactness across a handover: each channel keeps its position (channels.ts), advanced by the
//   frames of the connection it is live on. A new leader asks every tab for its full set
//   (`hello`), starts each name at the earliest position any tab's channel has, and channels
//   drop the events at or before their own position: no gap, no duplicate.
// - Pausing: the shared stream pauses only when every tab is paused (hidden long enough).
// - Presence: every tab's channel tracks with its own ref, naming the leader's connection (the
//   `live` message carries the `subscribed` frame with it), and gets the presence frames like
//   any other. A follower's presence lives on the leader's stream, so a follower that goes away
//   without its `pagehide` untrack (a crash) would stay present as long as the leader does: its
//   reports list its presence refs, and the leader removes them when the tab is gone.
//   When the leader goes, its stream (and every presence on it) ends with it; the next leader's
//   connection is a new one, and every tab tracks again on it.
import type { Channel } from "./channel.js";
import { ChannelSet } from "./channels.js";
import { HTTPError, errorFor } from "./errors.js";
import { randomId } from "./ids.js";
import { earlierPosition } from "./positions.js";
import { CHANGE_DEBOUNCE_MS, Stream, type StreamHost, type StreamSink, type StreamWant } from "./stream.js";
import type { ErrorBody, SystemEvent } from "./types.js";

type Status = "CHANNEL_ERROR" | "TIMED_OUT" | null;
interface WireError {
  message: string;
  status?: number;
  body?: ErrorBody;
}

type Message =
  | { t: "hello"; tab: string }
  | { t: "report"; tab: string; revision: number; paused: boolean; channels: StreamWant[]; presences?: PresenceRef[] }
  | { t: "bye"; tab: string }
  | { t: "connecting"; tab: string; generation: string; revisions: Record<string, number> }
  | { t: "frame"; tab: string; generation: string; event: string; channel?: string; payload: unknown; id?: string }
  | { t: "live"; tab: string; generation: string; names: string[]; event: SystemEvent; id?: string }
  | { t: "down"; tab: string; status: Status; error?: WireError }
  | { t: "refused"; tab: string; names: string[]; error: WireError };

/** Whether this runtime can share a stream between tabs (Web Locks and BroadcastChannel). */
export function canShareTabs(): boolean {
  const nav = globalThis.navigator as (Navigator & { locks?: LockManager }) | undefined;
  return typeof globalThis.BroadcastChannel === "function" && typeof nav?.locks?.request === "function";
}

/** Who the token is for (its `sub`), to key the shared stream by user; else a digest of it. */
export function tokenUser(token: string): string {
  try {
    const part = token.split(".")[1] ?? "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const claims = JSON.parse(json) as { sub?: unknown; role?: unknown };
    if (typeof claims.sub === "string") return `${String(claims.role ?? "")}:${claims.sub}`;
  } catch {
    // not a JWT: fall through
  }
  let hash = 2166136261; // FNV-1a: two tabs share only with the very same opaque token
  for (let i = 0; i < token.length; i++) hash = Math.imul(hash ^ token.charCodeAt(i), 16777619) >>> 0;
  return `token:${hash.toString(16)}`;
}

const toWire = (error?: Error): WireError | undefined =>
  error && (error instanceof HTTPError ? { message: error.message, status: error.status, body: error.body } : { message: error.message });
const fromWire = (error?: WireError): Error | undefined =>
  error && (error.status && error.body ? errorFor(error.status, error.body, null) : new Error(error.message));

/** A tab's channel that may hold a presence. */
interface PresenceRef {
  channel: string;
  ref: string;
}

/** The client as the shared stream needs it. */
export interface TabHost extends StreamHost {
  readonly throttleMs: number;
  /** End a presence of this user (a tab that is gone held it). */
  removePresence?(channel: string, ref: string): void;
}

interface Report {
  revision: number;
  paused: boolean;
  channels: StreamWant[];
  presences: PresenceRef[];
}

export class TabShare {
  readonly channels = new ChannelSet();
  readonly tab = randomId();
  /** This tab holds the stream. */
  leading = false;
  private bus: BroadcastChannel | undefined;
  private readonly stop = new AbortController();
  private releaseLeadership: (() => void) | undefined;
  private releaseTab: (() => void) | undefined;
  private reportQueued = false;
  private closed = false;
  // As a follower: the connection this tab's channels are on.
  private generation: string | undefined;
  // As the leader:
  private stream: Stream | undefined;
  private readonly reports = new Map<string, Report>();
  private carried = new Map<string, number>();
  private readonly watched = new Set<string>();

  constructor(private readonly host: TabHost) {
    void this.start();
  }

  private async start(): Promise<void> {
    const key = `${this.host.baseUrl}:${tokenUser(await this.host.currentToken())}`;
    if (this.closed) return;
    const locks = (navigator as Navigator & { locks: LockManager }).locks;
    // Our own lock first: the leader watches it to know when this tab is gone.
    await new Promise<void>((granted) => {
      void locks.request(`threadcast-tab:${this.tab}`, { signal: this.stop.signal }, () => {
        granted();
        return new Promise<void>((release) => (this.releaseTab = release));
      }).catch(() => granted());
    });
    if (this.closed) return;
    this.bus = new BroadcastChannel(`threadcast:${key}`);
    this.bus.onmessage = (event: MessageEvent<Message>) => this.receive(event.data);
    this.report();
    const leader = `threadcast-leader:${key}`;
    const hold = (takeover: boolean) => (lock: Lock | null) => {
      if (this.closed || !lock) return undefined;
      this.lead(takeover);
      return new Promise<void>((release) => (this.releaseLeadership = release));
    };
    // Free at once: no tab had a stream (every other tab would be waiting in the lock's
    // queue), so it starts now. Else queue: granted when the holder goes, to take over.
    let first = false;
    await locks.request(leader, { ifAvailable: true, signal: this.stop.signal }, (lock) => {
      first = lock !== null;
      return hold(false)(lock);
    }).catch(() => {});
    if (first || this.closed) return;
    void locks.request(leader, { signal: this.stop.signal }, hold(true)).catch(() => {}); // aborted by close()
  }

  // The client's side ---------------------------------------------------------------------

  attach(channel: Channel): void {
    if (this.stream) {
      const stream = this.stream;
      const join = (name: string, specs: string[]) => {
        const carried = stream.carries(name, specs);
        return carried && { ...carried, live: stream.isLive(name) };
      };
      if (this.channels.add(channel, join)) stream.changed();
    } else {
      this.channels.add(channel);
      this.report();
    }
  }

  detach(channel: Channel): void {
    const left = this.channels.remove(channel);
    if (this.stream) {
      if (left) this.stream.changed();
    } else this.report();
  }

  pausedChanged(): void {
    if (this.stream) this.pauseOrResume();
    else this.report();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.leading) this.post({ t: "bye", tab: this.tab });
    this.stream?.close();
    this.stream = undefined;
    this.stop.abort();
    this.releaseLeadership?.();
    this.releaseTab?.();
    this.bus?.close();
  }

  // Messages --------------------------------------------------------------------------------

  private post(message: Message): void {
    try {
      this.bus?.postMessage(message);
    } catch (error) {
      this.host.reportError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Send this tab's set to the leader, once per turn of the event loop. */
  private report(full = false): void {
    if (this.leading || !this.bus || this.reportQueued) return;
    this.reportQueued = true;
    queueMicrotask(() => {
      this.reportQueued = false;
      if (this.leading || this.closed) return;
      const presences = this.channels.all()
        .filter((c) => c.specs().includes("presence"))
        .map((c) => ({ channel: c.name, ref: c.presenceRef }));
      this.post({
        t: "report", tab: this.tab, revision: this.channels.revision, paused: this.host.paused,
        channels: this.channels.wanted(full ? undefined : this.generation), presences,
      });
    });
  }

  private receive(message: Message): void {
    if (this.closed) return;
    if (this.stream) {
      this.leaderReceives(message);
      return;
    }
    switch (message.t) {
      case "hello": // a new leader: it needs every channel's position
        this.generation = undefined;
        this.report(true);
        break;
      case "connecting": {
        const revision = message.revisions[this.tab];
        if (revision === undefined) break;
        this.generation = message.generation;
        this.channels.connecting(message.generation, revision);
        break;
      }
      case "frame":
        this.channels.frame(message.generation, message.event, message.channel, message.payload, message.id);
        break;
      case "live":
        this.channels.live(message.generation, message.names, message.event, message.id);
        break;
      case "down":
        this.channels.down(message.status, fromWire(message.error));
        break;
      case "refused":
        this.channels.refused(message.names, fromWire(message.error) ?? new Error("refused"));
        break;
      default:
        break; // another follower's report or bye: the leader's business
    }
  }

  // As the leader -----------------------------------------------------------------------------

  /** Hold the stream; `takeover`: another tab held it, so wait a moment for every tab's set. */
  private lead(takeover: boolean): void {
    this.leading = true;
    this.generation = undefined;
    const tabs = this;
    const host = this.host;
    // The stream pauses only when every tab is paused.
    const streamHost: StreamHost = {
      get baseUrl() { return host.baseUrl; },
      get paused() { return host.paused && [...tabs.reports.values()].every((r) => r.paused); },
      get tokenEpoch() { return host.tokenEpoch; },
      get tokenIsFunction() { return host.tokenIsFunction; },
      get subscribeTimeoutMs() { return host.subscribeTimeoutMs; },
      get idleTimeoutMs() { return host.idleTimeoutMs; },
      get fetch() { return host.fetch; },
      currentToken: () => host.currentToken(),
      sleep: (ms, owner) => host.sleep(ms, owner),
      reportError: (error) => host.reportError(error),
      subscribed: () => host.subscribed(),
    };
    const sink: StreamSink = {
      wanted: () => this.wanted(),
      connecting: (generation) => {
        this.carried = new Map([...this.reports].map(([tab, r]) => [tab, r.revision]));
        this.channels.connecting(generation);
        this.post({ t: "connecting", tab: this.tab, generation, revisions: Object.fromEntries(this.carried) });
      },
      frame: (generation, event, channel, payload, id) => {
        this.channels.frame(generation, event, channel, payload, id);
        this.post({ t: "frame", tab: this.tab, generation, event, ...(channel === undefined ? {} : { channel }), payload, ...(id === undefined ? {} : { id }) });
      },
      live: (generation, names, event, id) => {
        this.channels.live(generation, names, event, id);
        this.post({ t: "live", tab: this.tab, generation, names, event, ...(id === undefined ? {} : { id }) });
      },
      down: (status, error) => {
        this.channels.down(status, error);
        const wire = toWire(error);
        this.post({ t: "down", tab: this.tab, status, ...(wire ? { error: wire } : {}) });
      },
      refused: (names, error) => {
        // Out of every tab's set at once: the stream reconnects without them right away.
        for (const report of this.reports.values()) report.channels = report.channels.filter((c) => !names.includes(c.name));
        this.post({ t: "refused", tab: this.tab, names, error: toWire(error) ?? { message: error.message } });
        this.channels.refused(names, error);
      },
    };
    this.stream = new Stream(streamHost, sink);
    this.post({ t: "hello", tab: this.tab });
    this.stream.changed(takeover ? CHANGE_DEBOUNCE_MS : 0);
  }

  /** Every tab's set merged: each name once, the union of bindings, the earliest start of its
   * channels not on the current connection. */
  private wanted(): StreamWant[] {
    const merged = new Map<string, { specs: Set<string>; from: string | undefined; pending: boolean }>();
    const add = (want: StreamWant, pending: boolean): void => {
      let entry = merged.get(want.name);
      if (!entry) merged.set(want.name, (entry = { specs: new Set(), from: undefined, pending: false }));
      for (const spec of want.specs) entry.specs.add(spec);
      if (pending && want.pending) {
        entry.pending = true;
        entry.from = earlierPosition(entry.from, want.from);
      }
    };
    for (const want of this.channels.wanted(this.stream?.generation || undefined)) add(want, true);
    for (const [tab, report] of this.reports) {
      const carried = this.carried.get(tab);
      const pending = carried === undefined || report.revision > carried;
      for (const want of report.channels) add(want, pending);
    }
    return [...merged].map(([name, { specs, from, pending }]) => ({ name, specs: [...specs].sort(), from, pending }));
  }

  private leaderReceives(message: Message): void {
    if (message.t === "report") {
      this.reports.set(message.tab, {
        revision: message.revision, paused: message.paused, channels: message.channels, presences: message.presences ?? [],
      });
      this.watch(message.tab);
      this.pauseOrResume();
      this.stream?.changed();
    } else if (message.t === "bye") {
      this.forget(message.tab);
    }
    // `hello` from another leader cannot happen while we hold the lock; the rest are ours.
  }

  /** Queue for the tab's own lock: granted when the tab is gone. */
  private watch(tab: string): void {
    if (this.watched.has(tab)) return;
    this.watched.add(tab);
    const locks = (navigator as Navigator & { locks: LockManager }).locks;
    void locks.request(`threadcast-tab:${tab}`, { signal: this.stop.signal }, () => this.forget(tab)).catch(() => {});
  }

  private forget(tab: string): void {
    this.watched.delete(tab);
    const report = this.reports.get(tab);
    if (!report || !this.reports.delete(tab)) return;
    // Its presences lived on this tab's stream: they end now, not when this tab goes.
    for (const { channel, ref } of report.presences) this.host.removePresence?.(channel, ref);
    this.carried.delete(tab);
    this.stream?.changed();
  }

  private pauseOrResume(): void {
    const stream = this.stream;
    if (!stream) return;
    const allPaused = this.host.paused && [...this.reports.values()].every((r) => r.paused);
    if (allPaused) stream.interrupt();
    else stream.wakeUp?.();
  }
}
