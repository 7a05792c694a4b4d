// A channel: its bindings, its stream (fetch, not EventSource: the token stays in a header and
// reconnects are ours: Last-Event-ID, jittered backoff, pausing), and delivery to callbacks.
import type { z } from "zod/mini";
import { InvalidPayloadError, errorFor } from "./errors.js";
import { matchesFilter } from "./filter.js";
import * as S from "./schemas.js";
import { type SSEFrame, SSEParser } from "./sse.js";
import type {
  AIProcessingPayload, AnyRow, EventType, PostgresChangesPayload, SystemEvent, Tables,
} from "./types.js";
import { parse } from "./validate.js";

const MAX_BACKOFF_MS = 30000;

export type ChannelStatus = "SUBSCRIBED" | "CHANNEL_ERROR" | "TIMED_OUT" | "CLOSED";

export interface PostgresChangesFilter<Table extends string = string> {
  event: EventType | "*";
  /** Defaults to "public". */
  schema?: string;
  table: Table;
  /** Supabase syntax: column=op.value, op one of eq neq lt lte gt gte in (in.(a,b)). */
  filter?: string;
}

/** The row type of `table`: typed for the ticket tables, a plain record for any other. */
export type RowOf<Table extends string> = Table extends keyof Tables ? Tables[Table] : AnyRow;

type Callback = (payload: never) => void;
interface Binding {
  type: "postgres_changes" | "ai_status" | "system";
  filter: Partial<PostgresChangesFilter>;
  callback: Callback;
}

interface Outcome {
  error?: Error;
  fatal?: boolean;
  needsToken?: boolean;
  timedOut?: boolean;
  retryAfterMs?: number;
}

/** What a channel needs of its client. */
export interface ChannelHost {
  readonly baseUrl: string;
  readonly paused: boolean;
  readonly tokenEpoch: number;
  readonly tokenIsFunction: boolean;
  readonly throttleMs: number;
  readonly subscribeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  fetch: typeof fetch;
  currentToken(): Promise<string>;
  sleep(ms: number, owner: { wakeUp?: () => void }): Promise<void>;
  attach(channel: Channel): void;
  detach(channel: Channel): void;
  changed(): void;
  subscribed(): void;
  reportError(error: Error): void;
}

export class Channel {
  readonly name: string;
  status: ChannelStatus | undefined;
  /** The server said `subscribed` on the current stream. */
  live = false;
  lastEventId: string | undefined;
  wakeUp: (() => void) | undefined;
  private bindings: Binding[] = [];
  private closed = true;
  private abort: AbortController | undefined;
  private runs = 0;
  private pending: [string, unknown][] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private statusCallback: ((status: ChannelStatus, error?: Error) => void) | undefined;

  constructor(private readonly host: ChannelHost, name: string) {
    this.name = name;
  }

  on<Table extends string>(
    type: "postgres_changes",
    filter: PostgresChangesFilter<Table>,
    callback: (payload: PostgresChangesPayload<RowOf<Table>>) => void,
  ): this;
  on(type: "ai_status", callback: (payload: AIProcessingPayload) => void): this;
  on(type: "system", callback: (payload: SystemEvent) => void): this;
  on(
    type: Binding["type"],
    filterOrCallback: PostgresChangesFilter | Callback,
    maybeCallback?: Callback,
  ): this {
    const callback = typeof filterOrCallback === "function" ? filterOrCallback : maybeCallback;
    const filter = typeof filterOrCallback === "function" ? {} : filterOrCallback;
    if (callback) this.bindings.push({ type, filter, callback });
    return this;
  }

  /** The server-side subscriptions: one `on` parameter per binding. */
  specs(): string[] {
    return this.bindings.flatMap(({ type, filter }) => {
      if (type === "ai_status") return ["ai_status"];
      if (type !== "postgres_changes") return [];
      const spec = `${filter.event || "*"}:${filter.schema || "public"}.${filter.table}`;
      return [filter.filter ? `${spec}:${filter.filter}` : spec];
    });
  }

  /**
   * Connect and stay connected. SUBSCRIBED each time the stream is live (again);
   * CHANNEL_ERROR when it breaks (it retries by itself, unless the error is a 400/403/404, or
   * the token expired or was refused: then it waits for setToken()); TIMED_OUT when the
   * server did not answer in time (it retries); CLOSED on unsubscribe().
   */
  subscribe(statusCallback: (status: ChannelStatus, error?: Error) => void = () => {}): this {
    if (!this.closed) return this;
    this.statusCallback = statusCallback;
    this.closed = false;
    this.host.attach(this);
    void this.run();
    return this;
  }

  unsubscribe(): void {
    if (this.closed) return;
    this.closed = true;
    this.live = false;
    this.abort?.abort();
    this.wakeUp?.(); // end a backoff or a wait, so run() returns
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pending = [];
    this.setStatus("CLOSED");
    this.host.detach(this);
  }

  /** Close the current stream (the page is hidden); run() waits, then resumes. */
  interrupt(): void {
    this.abort?.abort();
  }

  private setStatus(status: ChannelStatus, error?: Error): void {
    // SUBSCRIBED repeats after every resume; errors are reported each time.
    if (status === "CLOSED" && this.status === "CLOSED") return;
    this.status = status;
    try {
      this.statusCallback?.(status, error);
    } catch (e) {
      console.error("threadcast: a status callback failed", e);
    }
  }

  private setLive(live: boolean): void {
    this.live = live;
    this.host.changed();
  }

  /** Connect, read, and reconnect until unsubscribed or a retry cannot help. */
  private async run(): Promise<void> {
    const mine = (this.runs += 1);
    const stopped = (): boolean => this.closed || this.runs !== mine; // unsubscribed (maybe resubscribed)
    let attempt = 0; // failures since the last `subscribed`
    let retryMs = 1000; // the server's `retry:` hint: the base of the backoff
    while (!stopped()) {
      if (this.host.paused) {
        await this.host.sleep(Infinity, this); // until the page is visible again
        attempt = 0;
        continue;
      }
      const tokenEpoch = this.host.tokenEpoch;
      const outcome = await this.connect((ms) => (retryMs = ms), () => (attempt = 0));
      if (stopped()) return;
      this.setLive(false);
      if (outcome.fatal) {
        this.setStatus("CHANNEL_ERROR", outcome.error);
        return;
      }
      if (outcome.needsToken && !this.host.tokenIsFunction) {
        // A fixed token expired or was refused: wait for setToken(), then resume.
        this.setStatus("CHANNEL_ERROR", outcome.error);
        while (!stopped() && this.host.tokenEpoch === tokenEpoch) {
          await this.host.sleep(Infinity, this);
        }
        attempt = 0;
        continue;
      }
      if (this.host.paused) continue;
      this.setStatus(outcome.timedOut ? "TIMED_OUT" : "CHANNEL_ERROR", outcome.error);
      // Exponential backoff with full jitter: a restarted server is not hit by every client
      // at once. Retry-After (429, 503) is a floor. `online` or a visible page cut it short.
      attempt += 1;
      const cap = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.min(attempt - 1, 10));
      await this.host.sleep(Math.max(outcome.retryAfterMs || 0, Math.random() * cap), this);
    }
  }

  /** One stream, start to end. Resolves to what happened; never rejects. */
  private async connect(setRetry: (ms: number) => void, onSubscribed: () => void): Promise<Outcome> {
    const abort = new AbortController();
    this.abort = abort;
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
      const params = new URLSearchParams();
      for (const spec of this.specs()) params.append("on", spec);
      const headers: Record<string, string> = {
        Authorization: `Bearer ${await this.host.currentToken()}`,
      };
      if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
      const url = `${this.host.baseUrl}/v1/channels/${encodeURIComponent(this.name)}/stream?${params}`;
      const response = await this.host.fetch(url, { headers, signal: abort.signal, cache: "no-store" });
      if (!response.ok || !response.body) {
        clearTimeout(startTimer);
        const body = await response.json().catch(() => ({}));
        const checked = S.ErrorBody.safeParse(body);
        const retryAfter = Number(response.headers.get("Retry-After")) || 0;
        const error = errorFor(
          response.status,
          checked.success ? checked.data : { error: "http_error", message: `HTTP ${response.status}` },
          response.headers.has("Retry-After") ? retryAfter : null,
        );
        if (response.status === 401) return { needsToken: true, error };
        const fatal = [400, 403, 404].includes(response.status); // retrying cannot fix these
        return { fatal, error, retryAfterMs: retryAfter * 1000 };
      }
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
          const stop = this.handle(frame, setRetry, onSubscribed);
          if (stop) {
            abort.abort();
            return stop;
          }
        }
        if (done) return { error: new Error("the server ended the stream") };
      }
    } catch (error) {
      if (timedOut) return { timedOut, error: new Error("no answer from the server") };
      return { error: error instanceof Error ? error : new Error(String(error)) };
    } finally {
      clearTimeout(startTimer);
      clearTimeout(idle);
    }
  }

  /** One parsed frame; returns an outcome when the stream should end here. */
  private handle(frame: SSEFrame, setRetry: (ms: number) => void, onSubscribed: () => void): Outcome | undefined {
    if (frame.retry !== undefined) setRetry(frame.retry);
    if (frame.id !== undefined) this.lastEventId = frame.id || undefined;
    if (frame.data === null) return undefined;
    let payload: unknown;
    try {
      payload = validate(frame.event, JSON.parse(frame.data));
    } catch (error) {
      // Never a crash, never a silent pass: the frame is skipped and reported.
      this.host.reportError(
        error instanceof InvalidPayloadError
          ? error
          : new InvalidPayloadError(`${frame.event} frame`, frame.data, [{ path: "", message: "not JSON" }]),
      );
      return undefined;
    }
    this.dispatch(frame.event, payload);
    if (frame.event !== "system") return undefined;
    const system = payload as SystemEvent;
    if (system.type === "subscribed") {
      onSubscribed();
      this.setLive(true);
      this.setStatus("SUBSCRIBED");
      this.host.subscribed();
    } else if (system.type === "expired") {
      return { needsToken: true, error: new Error(system.message) };
    }
    // `reset` and `shutdown` are followed by the server closing the stream (a cursor_*
    // reset continues instead); both resume from lastEventId.
    return undefined;
  }

  private dispatch(type: string, payload: unknown): void {
    const interval = this.host.throttleMs;
    if (!(interval > 0)) {
      this.deliver(type, payload);
      return;
    }
    // Client-side throttling: a burst is delivered together, in order, at most once per
    // interval, so a UI re-renders once per burst instead of once per event.
    this.pending.push([type, payload]);
    this.flushTimer ??= setTimeout(() => {
      const batch = this.pending;
      this.pending = [];
      this.flushTimer = undefined;
      for (const [t, p] of batch) this.deliver(t, p);
    }, interval);
  }

  private deliver(type: string, payload: unknown): void {
    for (const { type: wanted, filter, callback } of this.bindings) {
      if (wanted !== type) continue;
      if (type === "postgres_changes") {
        const change = payload as PostgresChangesPayload<AnyRow>;
        if (filter.table && filter.table !== change.table) continue;
        if ((filter.schema || "public") !== change.schema) continue;
        if (filter.event && filter.event !== "*" && filter.event !== change.eventType) continue;
        const row = change.eventType === "DELETE" ? change.old : change.new;
        if (!matchesFilter(filter.filter, row)) continue;
      }
      try {
        (callback as (payload: unknown) => void)(payload);
      } catch (error) {
        console.error("threadcast: a callback failed", error);
      }
    }
  }
}

/** The frame's payload, parsed by its event's schema (unknown events pass as they are). */
function validate(event: string, data: unknown): unknown {
  let schema: z.ZodMiniType | undefined;
  if (event === "postgres_changes") {
    const table = typeof data === "object" && data !== null ? (data as { table?: unknown }).table : undefined;
    schema = S.changesSchemaFor(typeof table === "string" ? table : "");
  } else if (event === "ai_status") schema = S.AIProcessingPayload;
  else if (event === "system") schema = S.SystemEvent;
  return schema ? parse(schema, data, `${event} event`) : data;
}

