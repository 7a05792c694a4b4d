// The client: channels, REST, the connection state, pausing while hidden, token renewal.
import { Channel, type ChannelHost } from "./channel.js";
import { WriteQueue } from "./queue.js";
import { type Request, type RestApi, perform, restApi } from "./rest.js";

const DEFAULTS = {
  throttleMs: 0, // deliver callbacks at once; > 0: in batches, at most once per interval
  pauseWhenHiddenMs: 60000 as number | null, // close streams of a tab hidden this long; null: never
  subscribeTimeoutMs: 10000, // no answer from the server this long: TIMED_OUT, retry
  idleTimeoutMs: 45000, // nothing at all (the server sends a heartbeat every 15 s): retry
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
  /**
   * Keep writes made offline in memory and send them when back (default true). For pages
   * without React Query only: with React Query set it to false, and React Query pauses,
   * retries and persists mutations (threadcast/react-query refuses a client with the queue).
   */
  offlineQueue?: boolean;
  onConnectionState?: (state: ConnectionState) => void;
  /** An event that broke its schema (skipped) and similar; default console.error. */
  onError?: (error: Error) => void;
}

const isOffline = (): boolean => globalThis.navigator?.onLine === false;

export class ThreadcastClient implements ChannelHost {
  readonly baseUrl: string;
  readonly rest: RestApi;
  readonly offlineQueue: boolean;
  state: ConnectionState = "reconnecting";
  paused = false;
  tokenEpoch = 0;
  fetch: typeof fetch;
  private token: TokenSource;
  private readonly options: typeof DEFAULTS & ClientOptions;
  private readonly channels = new Set<Channel>();
  private readonly sleepers = new Set<() => void>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly queue: WriteQueue;
  private listeners: [EventTarget, string, () => void][] = [];
  private hiddenTimer: ReturnType<typeof setTimeout> | undefined;

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

  channel(name: `ticket-threads:${string}` | string): Channel {
    return new Channel(this, name);
  }

  /** Use a new token from now on; channels waiting for one resume from where they were. */
  setToken(token: TokenSource): void {
    this.token = token;
    this.tokenEpoch += 1;
    this.wake();
  }

  async currentToken(): Promise<string> {
    return typeof this.token === "function" ? await this.token() : this.token;
  }

  /** Call `listener` on every change of `state`; returns the unsubscribe function. */
  onConnectionState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Unsubscribe every channel and stop listening to the page; queued writes are rejected. */
  close(): void {
    for (const channel of [...this.channels]) channel.unsubscribe();
    for (const [target, type, handler] of this.listeners) target.removeEventListener(type, handler);
    this.listeners = [];
    clearTimeout(this.hiddenTimer);
    this.queue.close();
  }

  // ChannelHost --------------------------------------------------------------------------

  attach(channel: Channel): void {
    this.channels.add(channel);
    this.changed();
  }

  detach(channel: Channel): void {
    this.channels.delete(channel);
    this.changed();
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
    return [...this.channels].every((c) => c.live) ? "live" : "reconnecting";
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
        for (const channel of this.channels) channel.interrupt();
        this.changed();
      }, limit);
      return;
    }
    clearTimeout(this.hiddenTimer);
    this.hiddenTimer = undefined;
    if (!this.paused) return;
    this.paused = false;
    this.changed();
    this.wake();
  }
}

export function createClient(baseUrl: string, options: ClientOptions): ThreadcastClient {
  return new ThreadcastClient(baseUrl, options);
}
