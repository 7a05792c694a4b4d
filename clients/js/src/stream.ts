// One SSE connection for every channel of a client (and, through tabs.ts, of every tab):
//   GET /v1/stream?channel=a&channel=b&on.a=<spec>&from.b=<position>   Last-Event-ID: <position>
// It owns the connection: which channels it carries and from where, reconnection (Last-Event-ID,
// jittered backoff, pausing, token renewal), a debounced reconnect when the set of channels
// changes, and routing each frame by its `channel` key. Fetch, not EventSource: the token stays
// in a header and reconnects are ours.
//
// Positions, exactly: on a connection, channel c starts after s(c) (from.c, else Last-Event-ID,
// else live) and the server sends c's events after s(c) in log order, interleaved with the
// others'. So once a frame with id x has arrived, c has every event of its own up to x, whatever
// channel the frame was for: pos(c) = max(pos(c), x). A live-started channel has a position
// only from `subscribed` (whose id is where the stream is live from). A reconnect sends the
// most common position as Last-Event-ID and from.c for every channel elsewhere, so nothing is
// lost or repeated on any channel, including one whose `from` is before the others'.
import { type SSEFrame, SSEParser } from "./sse.js";
import { validate } from "./channel.js";
import { InvalidPayloadError, errorFor } from "./errors.js";
import { randomId } from "./ids.js";
import { earlierPosition, isPosition, laterPosition } from "./positions.js";
import * as S from "./schemas.js";
import type { ErrorBody, SystemEvent } from "./types.js";

const MAX_BACKOFF_MS = 30000;
/** Channel changes within this long are one reconnect. */
export const CHANGE_DEBOUNCE_MS = 50;

/** A channel the stream should carry: its bindings, and where to start if it is new here (or
 * earlier than the stream has it: a channel joining with an older REST snapshot). */
export interface StreamWant {
  name: string;
  specs: string[];
  from?: string | undefined;
  /** Some of its channels are not on the current connection yet: reconnect for them. */
  pending?: boolean;
}

/** What the stream needs of its client. */
export interface StreamHost {
  readonly baseUrl: string;
  readonly paused: boolean;
  readonly tokenEpoch: number;
  readonly tokenIsFunction: boolean;
  readonly subscribeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  fetch: typeof fetch;
  currentToken(): Promise<string>;
  sleep(ms: number, owner: { wakeUp?: () => void }): Promise<void>;
  reportError(error: Error): void;
  subscribed(): void;
}

/** Where the stream's frames and news go (channels.ts for one tab, tabs.ts for many). */
export interface StreamSink {
  /** The channels to carry now, one per name. */
  wanted(): StreamWant[];
  /** Connection `generation` starts now, with what wanted() just returned. */
  connecting(generation: string): void;
  /** A validated event; `channel` undefined: a system frame for every channel. */
  frame(generation: string, event: string, channel: string | undefined, payload: unknown, id: string | undefined): void;
  /** `subscribed`: these channels are live from `id`. */
  live(generation: string, channels: string[], event: SystemEvent, id: string | undefined): void;
  /** The connection ended (null: quietly, the page is paused); it is retried. */
  down(status: "CHANNEL_ERROR" | "TIMED_OUT" | null, error?: Error): void;
  /** The server refused these channels (400/403/404): they must leave the set. */
  refused(channels: string[], error: Error): void;
}

interface Outcome {
  error?: Error;
  refused?: string[];
  needsToken?: boolean;
  timedOut?: boolean;
  retryAfterMs?: number;
  restart?: boolean;
}

/** The channels a refusal is about: the body's `channel`, else those its message quotes,
 * else (a refusal of the whole request) all of them. */
export function refusedChannels(body: ErrorBody, names: string[], accepted: ReadonlySet<string>): string[] {
  const named = (body as { channel?: unknown }).channel;
  if (typeof named === "string" && names.includes(named)) return [named];
  if (body.error === "too_many_channels") {
    // "... 101 > 100": the channels past the cap leave, newest first; the others go on.
    const cap = Number(/>\s*(\d+)/.exec(body.message)?.[1]);
    if (Number.isInteger(cap) && cap > 0 && cap < names.length) return names.slice(cap);
    const added = names.filter((n) => !accepted.has(n));
    return added.length ? added : names;
  }
  const quoted = names.filter((n) => body.message.includes(`'${n}'`) || body.message.includes(`"${n}"`));
  return quoted.length ? quoted : names;
}

/** The server's default cap on a query string (THREADCAST_MAX_QUERY_BYTES), with room to spare. */
export const MAX_QUERY_BYTES = 8000;

// `:` and `,` need no escaping in a query: channel names and bindings stay readable and short.
const encode = (text: string): string => encodeURIComponent(text).replace(/%3A/gi, ":").replace(/%2C/gi, ",");

/**
 * The URL query and Last-Event-ID of a connection with these starts (see the module doc). The
 * query stays under `maxBytes`: past it, channels lose their `on.` bindings (the server then
 * sends all of the channel's events, and each channel's own bindings filter them here), then
 * the `from.` starts give way to the earliest start as Last-Event-ID (a longer replay, whose
 * repeats each channel drops by its position).
 */
export function streamRequest(
  wanted: StreamWant[], starts: ReadonlyMap<string, string | undefined>, maxBytes = MAX_QUERY_BYTES,
): { query: string; lastEventId: string | undefined; unfiltered: Set<string> } {
  const counts = new Map<string, number>();
  for (const start of starts.values()) if (start !== undefined) counts.set(start, (counts.get(start) ?? 0) + 1);
  let lastEventId: string | undefined;
  let most = 0;
  for (const [start, n] of counts) {
    if (n > most || (n === most && lastEventId !== undefined && laterPosition(start, lastEventId) === start)) {
      lastEventId = start;
      most = n;
    }
  }
  const parts = wanted.map(({ name }) => `channel=${encode(name)}`);
  let used = parts.join("&").length;
  const froms: string[] = [];
  for (const { name } of wanted) {
    const start = starts.get(name);
    if (start !== undefined && start !== lastEventId) froms.push(`from.${encode(name)}=${start}`);
  }
  const fromBytes = froms.reduce((n, f) => n + f.length + 1, 0);
  if (used + fromBytes <= maxBytes) {
    parts.push(...froms);
    used += fromBytes;
  } else {
    let earliest: string | undefined;
    for (const start of starts.values()) earliest = earlierPosition(earliest, start);
    lastEventId = earliest;
  }
  const unfiltered = new Set<string>();
  for (const { name, specs } of wanted) {
    const ons = specs.map((spec) => `on.${encode(name)}=${encode(spec)}`);
    const bytes = ons.reduce((n, o) => n + o.length + 1, 0);
    if (used + bytes > maxBytes) {
      unfiltered.add(name); // all of its events; its channels filter them
      continue;
    }
    parts.push(...ons);
    used += bytes;
  }
  return { query: parts.join("&"), lastEventId, unfiltered };
}

export class Stream {
  /** Connections are named `<stream id>/<n>`: unique across tabs, which hand streams over. */
  readonly id = randomId();
  private connections = 0;
  generation = "";
  /** The latest position the stream has seen. */
  cursor: string | undefined;
  /** The current connection said `subscribed`. */
  live = false;
  wakeUp: (() => void) | undefined;
  private positions = new Map<string, string | undefined>();
  /** The names on the current connection, with their bindings ("all": none were sent). */
  private carried = new Map<string, ReadonlySet<string> | "all">();
  private accepted: ReadonlySet<string> = new Set();
  private abort: AbortController | undefined;
  private replacing = false;
  private running = false;
  private closed = false;
  private debounce: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly host: StreamHost, private readonly sink: StreamSink) {}

  /**
   * The set of channels changed: reconnect with the new one, at most once per debounce. A
   * stream not running starts at the end of this task (the channels subscribed together in it
   * share the first connection), or after `delayMs`.
   */
  changed(delayMs = this.running ? CHANGE_DEBOUNCE_MS : 0): void {
    if (this.closed) return;
    if (this.debounce && !this.running && delayMs === 0) return; // a start is coming
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      if (!this.running) void this.run();
      else if (this.abort && this.differs(this.sink.wanted())) {
        this.replacing = true;
        this.abort.abort();
      }
    }, delayMs);
  }

  /**
   * Whether a channel of `name` with `specs` can join the current connection as it is: it
   * carries the name with those bindings. Then its events flow now, from `position` on.
   */
  carries(name: string, specs: string[]): { generation: string; position: string | undefined } | undefined {
    const carried = this.carried.get(name);
    if (!this.abort || !carried || (carried !== "all" && !specs.every((s) => carried.has(s)))) return undefined;
    return { generation: this.generation, position: this.positions.get(name) };
  }

  /** Whether `wanted` needs another connection than the current one. */
  private differs(wanted: StreamWant[]): boolean {
    if (wanted.length !== this.carried.size) return true;
    return wanted.some(({ name, specs, pending }) => {
      const carried = this.carried.get(name);
      if (pending || !carried) return true;
      return carried !== "all" && (carried.size !== specs.length || !specs.every((s) => carried.has(s)));
    });
  }

  /** Whether the current connection is live for `name`. */
  isLive(name: string): boolean {
    return this.live && this.positions.has(name);
  }

  /** Close the current connection (the page is hidden); the loop waits, then resumes. */
  interrupt(): void {
    this.abort?.abort();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.debounce);
    this.abort?.abort();
    this.wakeUp?.();
  }

  /** Connect, read, and reconnect until there is nothing to carry or the stream is closed. */
  private async run(): Promise<void> {
    this.running = true;
    let attempt = 0; // failures since the last `subscribed`
    let retryMs = 1000; // the server's `retry:` hint: the base of the backoff
    try {
      while (!this.closed) {
        if (this.host.paused) {
          await this.host.sleep(Infinity, this); // until the page is visible again
          attempt = 0;
          continue;
        }
        const wanted = this.sink.wanted();
        if (!wanted.length) return;
        const tokenEpoch = this.host.tokenEpoch;
        const outcome = await this.connect(wanted, (ms) => (retryMs = ms), () => (attempt = 0));
        this.live = false;
        if (this.closed) return;
        if (outcome.restart) continue; // a new set of channels: reconnect now, nothing to report
        if (outcome.refused) {
          this.sink.refused(outcome.refused, outcome.error ?? new Error("refused"));
          continue; // the others go on at once
        }
        if (outcome.needsToken && !this.host.tokenIsFunction) {
          // A fixed token expired or was refused: wait for setToken(), then resume.
          this.sink.down("CHANNEL_ERROR", outcome.error);
          while (!this.closed && this.host.tokenEpoch === tokenEpoch) await this.host.sleep(Infinity, this);
          attempt = 0;
          continue;
        }
        if (this.host.paused) {
          this.sink.down(null);
          continue;
        }
        this.sink.down(outcome.timedOut ? "TIMED_OUT" : "CHANNEL_ERROR", outcome.error);
        // Exponential backoff with full jitter: a restarted server is not hit by every client
        // at once. Retry-After (429, 503) is a floor. `online` or a visible page cut it short.
        attempt += 1;
        const cap = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.min(attempt - 1, 10));
        await this.host.sleep(Math.max(outcome.retryAfterMs || 0, Math.random() * cap), this);
      }
    } finally {
      this.running = false;
      this.abort = undefined;
      this.carried = new Map();
      // Changes that came while it was stopping still get a stream.
      if (!this.closed && this.sink.wanted().length && !this.debounce) this.changed();
    }
  }

  /** Where each wanted channel starts on the next connection. */
  private starts(wanted: StreamWant[]): Map<string, string | undefined> {
    const starts = new Map<string, string | undefined>();
    for (const { name, from } of wanted) {
      // A channel already carried continues where it is (or earlier, for a joining snapshot);
      // a new one starts at `from`, else where the stream is.
      const start = this.positions.has(name) ? this.positions.get(name) : this.cursor;
      starts.set(name, earlierPosition(start, from));
    }
    return starts;
  }

  /** One connection, start to end. Resolves to what happened; never rejects. */
  private async connect(
    wanted: StreamWant[], setRetry: (ms: number) => void, onSubscribed: () => void,
  ): Promise<Outcome> {
    const abort = new AbortController();
    this.abort = abort;
    this.replacing = false;
    this.connections += 1;
    this.generation = `${this.id}/${this.connections}`;
    const generation = this.generation;
    const starts = this.starts(wanted);
    const { query, lastEventId, unfiltered } = streamRequest(wanted, starts);
    // A channel with no start of its own starts at Last-Event-ID, as the server reads it.
    for (const [name, start] of starts) if (start === undefined && lastEventId) starts.set(name, lastEventId);
    this.positions = starts;
    this.carried = new Map(wanted.map((w) => [w.name, unfiltered.has(w.name) ? "all" : new Set(w.specs)]));
    this.sink.connecting(generation);
    let timedOut = false;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const startTimer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.host.subscribeTimeoutMs);
    const alive = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => abort.abort(), this.host.idleTimeoutMs);
    };
    try {
      const headers: Record<string, string> = { Authorization: `Bearer ${await this.host.currentToken()}` };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const url = `${this.host.baseUrl}/v1/stream?${query}`;
      const response = await this.host.fetch(url, { headers, signal: abort.signal, cache: "no-store" });
      if (!response.ok || !response.body) {
        clearTimeout(startTimer);
        const body = await response.json().catch(() => ({}));
        const checked = S.ErrorBody.safeParse(body);
        const errorBody: ErrorBody = checked.success
          ? checked.data
          : { error: "http_error", message: `HTTP ${response.status}` };
        const retryAfter = Number(response.headers.get("Retry-After")) || 0;
        const error = errorFor(response.status, errorBody, response.headers.has("Retry-After") ? retryAfter : null);
        if (response.status === 401) return { needsToken: true, error };
        if ([400, 403, 404].includes(response.status)) {
          // Retrying cannot fix these: the channels they name leave, the others go on.
          return { refused: refusedChannels(errorBody, wanted.map((w) => w.name), this.accepted), error };
        }
        return { error, retryAfterMs: retryAfter * 1000 };
      }
      this.accepted = new Set(wanted.map((w) => w.name));
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SSEParser();
      alive();
      for (;;) {
        const { value, done } = await reader.read();
        clearTimeout(startTimer); // the server answered; from here the idle timer watches
        alive();
        const frames = done ? parser.end() : parser.feed(decoder.decode(value, { stream: true }));
        for (const frame of frames) {
          const stop = this.handle(generation, frame, setRetry, onSubscribed);
          if (stop) {
            abort.abort();
            return stop;
          }
        }
        if (done) return { error: new Error("the server ended the stream") };
      }
    } catch (error) {
      if (this.replacing) return { restart: true };
      if (timedOut) return { timedOut, error: new Error("no answer from the server") };
      return { error: error instanceof Error ? error : new Error(String(error)) };
    } finally {
      clearTimeout(startTimer);
      clearTimeout(idle);
    }
  }

  /** One parsed frame; returns an outcome when the connection should end here. */
  private handle(
    generation: string, frame: SSEFrame, setRetry: (ms: number) => void, onSubscribed: () => void,
  ): Outcome | undefined {
    if (frame.retry !== undefined) setRetry(frame.retry);
    const id = frame.id && isPosition(frame.id) ? frame.id : undefined;
    let stop: Outcome | undefined;
    if (frame.data !== null) stop = this.route(generation, frame.event, frame.data, id, onSubscribed);
    if (id !== undefined) {
      // Every channel carried here now has all of its events up to `id` (see the module doc).
      this.cursor = laterPosition(this.cursor, id);
      for (const [name, position] of this.positions) {
        if (position !== undefined) this.positions.set(name, laterPosition(position, id));
      }
    }
    return stop;
  }

  private route(
    generation: string, event: string, data: string, id: string | undefined, onSubscribed: () => void,
  ): Outcome | undefined {
    let payload: unknown;
    let channel: string | undefined;
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        throw new InvalidPayloadError(`${event} frame`, data, [{ path: "", message: "not JSON" }]);
      }
      if ((event === "postgres_changes" || event === "ai_status") && typeof parsed === "object" && parsed !== null) {
        // The multiplexed stream's routing key: the channel's own schema knows nothing of it.
        const { channel: key, ...rest } = parsed as { channel?: unknown };
        if (typeof key !== "string") {
          throw new InvalidPayloadError(`${event} frame`, data, [{ path: "channel", message: "missing" }]);
        }
        channel = key;
        parsed = rest;
      } else if (event === "presence" && typeof parsed === "object" && parsed !== null) {
        // Presence (no id: never replayed) keeps its `channel`: it is part of the payload.
        const key = (parsed as { channel?: unknown }).channel;
        if (typeof key === "string") channel = key;
      }
      payload = validate(event, parsed);
    } catch (error) {
      // Never a crash, never a silent pass: the frame is skipped and reported.
      this.host.reportError(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
    if (event !== "system") {
      if (channel !== undefined && this.positions.has(channel)) this.sink.frame(generation, event, channel, payload, id);
      return undefined;
    }
    const system = payload as SystemEvent;
    if (system.type === "subscribed") {
      const listed = (system as { channels?: unknown }).channels;
      const names = Array.isArray(listed)
        ? listed.filter((n): n is string => typeof n === "string" && this.positions.has(n))
        : [...this.positions.keys()];
      for (const name of names) this.positions.set(name, laterPosition(this.positions.get(name), id));
      this.live = true;
      onSubscribed();
      this.sink.live(generation, names, system, id);
      this.host.subscribed();
      return undefined;
    }
    this.sink.frame(generation, event, undefined, payload, id);
    if (system.type === "expired") return { needsToken: true, error: new Error(system.message) };
    // `reset` and `shutdown` are followed by the server closing the stream (a cursor_* reset
    // continues instead); both resume from the positions.
    return undefined;
  }
}
