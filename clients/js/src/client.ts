// The client: channels, REST, the connection state, pausing while hidden, token renewal. Its
// channels share one stream (stream.ts), which the tabs of a browser share (tabs.ts).
import { Channel, type ChannelHost, type ChannelOptions } from "./channel.js";
import { ChannelSet } from "./channels.js";
import { RateLimitedError } from "./errors.js";
import { PresenceRefused, type TrackerIO } from "./presence.js";
import { WriteQueue } from "./queue.js";
import { type Request, type RestApi, perform, restApi } from "./rest.js";
import * as S from "./schemas.js";
import { Stream, type StreamHost, type StreamSink, type StreamWant } from "./stream.js";
import { TabShare, canShareTabs } from "./tabs.js";
import type { SystemEvent, TrackPresence } from "./types.js";

const DEFAULTS = {
  throttleMs: 0, // deliver callbacks at once; > 0: in batches, at most once per interval
  pauseWhenHiddenMs: 60000 as number | null, // close streams of a tab hidden this long; null: never
  subscribeTimeoutMs: 10000, // no answer from the server this long: TIMED_OUT, retry
  idleTimeoutMs: 45000, // nothing at all (the server sends a heartbeat every 15 s): retry
  presenceIntervalMs: 250, // at most one presence PUT per this long, for all channels (~4/s)
};

/** live: every channel is subscribed; reconnecting: some are not (yet); offline: the browser
 * says it is offline; paused: the page has been hidden for `pauseWhenHiddenMs`. */
export type ConnectionState = "live" | "reconnecting" | "offline" | "paused";
export type TokenSource = string | (() => string | Promise<string>);

export interface ClientOptions {
  /** A token, or a function called before each connection and request (to refresh it). */
  token: TokenSource;
  fetch?: typeof fetch;
  /** Deliver callbacks in batches, at most once per this many ms (default 0: at once). */
  throttleMs?: number;
  /** Close streams after the page is hidden this long, resume when visible (default 60000;
   * null: never). */
  pauseWhenHiddenMs?: number | null;
  /** No answer from the server this long: TIMED_OUT and retry (default 10000). */
  subscribeTimeoutMs?: number;
  /** No bytes (not even a heartbeat) this long: reconnect (default 45000). */
  idleTimeoutMs?: number;
  /** At most one presence update (track) per this many ms, for all the client's channels
   * (default 250: ~4/s, under the server's 5/s per connection). */
  presenceIntervalMs?: number;
  /**
   * Keep writes made offline in memory and send them when back (default true). For pages
   * without React Query only: with React Query set it to false, and React Query pauses,
   * retries and persists mutations (threadcast/react-query refuses a client with the queue).
   */
  offlineQueue?: boolean;
  /**
   * Share one stream between the tabs of this origin that use this server as the same user
   * (default true): one tab holds it (Web Locks), the others get their channels' events from
   * it (BroadcastChannel), and another takes over when it closes. Off where the browser has
   * neither (and in node).
   */
  shareAcrossTabs?: boolean;
  onConnectionState?: (state: ConnectionState) => void;
  /** An event that broke its schema (skipped) and similar; default console.error. */
  onError?: (error: Error) => void;
}

const isOffline = (): boolean => globalThis.navigator?.onLine === false;
const presencePath = (channel: string, ref: string): string =>
  `/v1/channels/${encodeURIComponent(channel).replace(/%3A/gi, ":")}/presence/${ref}`;

/** Where the client's channels go: one stream of its own, or the tabs' shared one. */
export interface Transport {
  readonly channels: ChannelSet;
  attach(channel: Channel): void;
  detach(channel: Channel): void;
  /** The page is paused (or resumes: wake() follows). */
  pausedChanged(): void;
  close(): void;
}

/** The client's own stream, for its channels alone. */
export class OwnStream implements Transport, StreamSink {
  readonly channels = new ChannelSet();
  readonly stream: Stream;

  constructor(host: StreamHost) {
    this.stream = new Stream(host, this);
  }

  attach(channel: Channel): void {
    const join = (name: string, specs: string[]) => {
      const carried = this.stream.carries(name, specs);
      return carried && { ...carried, live: this.stream.isLive(name) };
    };
    if (this.channels.add(channel, join)) this.stream.changed();
  }

  detach(channel: Channel): void {
    if (this.channels.remove(channel)) this.stream.changed();
  }

  pausedChanged(): void {
    this.stream.interrupt();
  }

  close(): void {
    this.stream.close();
  }

  wanted(): StreamWant[] {
    return this.channels.wanted(this.stream.generation || undefined);
  }
  connecting(generation: string): void {
    this.channels.connecting(generation);
  }
  frame(generation: string, event: string, channel: string | undefined, payload: unknown, id: string | undefined): void {
    this.channels.frame(generation, event, channel, payload, id);
  }
  live(generation: string, names: string[], event: SystemEvent, id: string | undefined): void {
    this.channels.live(generation, names, event, id);
  }
  down(status: "CHANNEL_ERROR" | "TIMED_OUT" | null, error?: Error): void {
    this.channels.down(status, error);
  }
  refused(names: string[], error: Error): void {
    this.channels.refused(names, error);
  }
}

export class ThreadcastClient implements ChannelHost, StreamHost {
  readonly baseUrl: string;
  readonly rest: RestApi;
  readonly offlineQueue: boolean;
  state: ConnectionState = "reconnecting";
  paused = false;
  tokenEpoch = 0;
  fetch: typeof fetch;
  private token: TokenSource;
  private readonly options: typeof DEFAULTS & ClientOptions;
  /** The stream its channels use: its own, or the one its tabs share. */
  readonly transport: Transport;
  private readonly sleepers = new Set<() => void>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly queue: WriteQueue;
  private listeners: [EventTarget, string, () => void][] = [];
  private hiddenTimer: ReturnType<typeof setTimeout> | undefined;
  /** The last token used, for the keepalive untrack on `pagehide` (no time to await one). */
  private lastToken: string | undefined;
  /** When the next presence PUT may start (ms, Date.now()). */
  private nextPresenceAt = 0;

  constructor(baseUrl: string, options: ClientOptions) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.options = { ...DEFAULTS, ...options };
    this.token = options.token;
    this.offlineQueue = options.offlineQueue !== false;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.queue = new WriteQueue((request) => this.perform(request));
    this.rest = restApi((request, write) =>
      write && this.offlineQueue ? this.queue.push(request) : this.direct(request, write));
    this.listen(globalThis, "online", () => {
      this.changed();
      this.wake(); // reconnect now, not at the end of a backoff
      void this.queue.flush();
    });
    this.listen(globalThis, "offline", () => this.changed());
    if (globalThis.document) {
      this.listen(globalThis.document, "visibilitychange", () => this.visibilityChanged());
    }
    // Leaving the page ends this tab's presences at once (the stream's end would, within 1 s);
    // a page restored from the back-forward cache tracks again.
    this.listen(globalThis, "pagehide", () => {
      for (const channel of this.transport.channels.all()) channel.unload();
    });
    this.listen(globalThis, "pageshow", () => {
      for (const channel of this.transport.channels.all()) channel.resume();
    });
    const share = options.shareAcrossTabs !== false && canShareTabs();
    this.transport = share ? new TabShare(this) : new OwnStream(this);
    this.state = this.currentState();
  }

  get tokenIsFunction(): boolean {
    return typeof this.token === "function";
  }
  get throttleMs(): number {
    return this.options.throttleMs;
  }
  get subscribeTimeoutMs(): number {
    return this.options.subscribeTimeoutMs;
  }
  get idleTimeoutMs(): number {
    return this.options.idleTimeoutMs;
  }
  /** Writes waiting in the offline queue. */
  get pendingWrites(): number {
    return this.queue.length;
  }

  /** A channel on the client's one stream; `from`: start after this REST read's position. */
  channel(name: `ticket-threads:${string}` | string, options: ChannelOptions = {}): Channel {
    return new Channel(this, name, options);
  }

  /** Use a new token from now on; channels waiting for one resume from where they were. */
  setToken(token: TokenSource): void {
    this.token = token;
    this.tokenEpoch += 1;
    this.wake();
  }

  async currentToken(): Promise<string> {
    this.lastToken = typeof this.token === "function" ? await this.token() : this.token;
    return this.lastToken;
  }

  /** Call `listener` on every change of `state`; returns the unsubscribe function. */
  onConnectionState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Unsubscribe every channel and stop listening to the page; queued writes are rejected. */
  close(): void {
    for (const channel of this.transport.channels.all()) channel.unsubscribe();
    this.transport.close();
    for (const [target, type, handler] of this.listeners) target.removeEventListener(type, handler);
    this.listeners = [];
    clearTimeout(this.hiddenTimer);
    this.queue.close();
  }

  // ChannelHost --------------------------------------------------------------------------

  attach(channel: Channel): void {
    this.transport.attach(channel);
    this.changed();
  }

  detach(channel: Channel): void {
    this.transport.detach(channel);
    this.changed();
  }

  /** End a presence of this user that a tab now gone held (tabs.ts, as the leader). */
  removePresence(channel: string, ref: string): void {
    this.perform({ method: "DELETE", path: presencePath(channel, ref), schema: null }).catch(() => {});
  }

  /** The presence requests of `channel`, paced for the whole client. */
  presenceIO(channel: Channel): TrackerIO {
    const path = presencePath(channel.name, channel.presenceRef);
    const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    return {
      put: async (connection, state) => {
        try {
          const body: TrackPresence = { connection, state };
          await this.perform({ method: "PUT", path, body, schema: S.PresenceTracked });
        } catch (error) {
          if (error instanceof RateLimitedError) {
            throw new PresenceRefused(true, Math.max(this.options.presenceIntervalMs, (error.retryAfter ?? 1) * 1000), error);
          }
          throw error;
        }
      },
      remove: async () => {
        await this.perform({ method: "DELETE", path, schema: null });
      },
      removeOnUnload: () => {
        const headers: Record<string, string> = this.lastToken === undefined ? {} : { Authorization: `Bearer ${this.lastToken}` };
        this.fetch(`${this.baseUrl}${path}`, { method: "DELETE", headers, keepalive: true }).catch(() => {});
      },
      gate: () => {
        const now = Date.now();
        const at = Math.max(now, this.nextPresenceAt);
        this.nextPresenceAt = at + this.options.presenceIntervalMs;
        return at > now ? wait(at - now) : Promise.resolve();
      },
      wait,
    };
  }

  subscribed(): void {
    void this.queue.flush(); // the server is reachable again
  }

  reportError(error: Error): void {
    (this.options.onError ?? ((e: Error) => console.error(e)))(error);
  }

  /** What `state` should say now (with no channel: live, unless the browser is offline). */
  private currentState(): ConnectionState {
    if (this.paused) return "paused";
    if (isOffline()) return "offline";
    return this.transport.channels.all().every((c) => c.live) ? "live" : "reconnecting";
  }

  changed(): void {
    const state = this.currentState();
    if (this.state === state) return;
    this.state = state;
    for (const listener of [this.options.onConnectionState, ...this.stateListeners]) {
      try {
        listener?.(state);
      } catch (error) {
        console.error("threadcast: a connection state listener failed", error);
      }
    }
  }

  /** Resolves after `ms`, or sooner on wake() (or the owner's wakeUp(), on unsubscribe). */
  sleep(ms: number, owner: { wakeUp?: () => void }): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      this.sleepers.add(done);
      owner.wakeUp = done;
    });
  }

  // --------------------------------------------------------------------------------------

  private wake(): void {
    for (const done of [...this.sleepers]) done();
  }

  private listen(target: EventTarget | undefined, type: string, handler: () => void): void {
    if (!target?.addEventListener) return;
    target.addEventListener(type, handler);
    this.listeners.push([target, type, handler]);
  }

  private async perform<Out>(request: Request<Out>): Promise<Out> {
    return perform(this.fetch, this.baseUrl, await this.currentToken(), request);
  }

  /** Sent once, no queue. A write's retry (React Query's) may meet its own earlier attempt:
   * `recover` turns that error into the earlier attempt's result. */
  private async direct<Out>(request: Request<Out>, write: boolean): Promise<Out> {
    try {
      return await this.perform(request);
    } catch (error) {
      const earlier = write ? request.recover?.(error) : undefined;
      if (earlier === undefined) throw error;
      return earlier;
    }
  }

  // Going quiet while hidden: a background tab holding a stream costs the server a connection
  // and, over HTTP/1.1, takes one of the browser's six connections per origin from every
  // other tab. After `pauseWhenHiddenMs` hidden the streams close; when the page shows again
  // they resume from Last-Event-ID and replay what was missed (or get `reset` past retention).
  private visibilityChanged(): void {
    const limit = this.options.pauseWhenHiddenMs;
    if (document.visibilityState === "hidden") {
      if (limit === null || limit === undefined || this.hiddenTimer) return;
      this.hiddenTimer = setTimeout(() => {
        this.paused = true;
        this.transport.pausedChanged();
        this.changed();
      }, limit);
      return;
    }
    clearTimeout(this.hiddenTimer);
    this.hiddenTimer = undefined;
    if (!this.paused) return;
    this.paused = false;
    this.transport.pausedChanged();
    this.changed();
    this.wake();
  }
}

export function createClient(baseUrl: string, options: ClientOptions): ThreadcastClient {
  return new ThreadcastClient(baseUrl, options);
}
