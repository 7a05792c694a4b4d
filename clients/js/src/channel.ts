// A channel: its bindings, its status and delivery to callbacks. It has no connection of its
// own: the client's one stream (stream.ts; shared between tabs by tabs.ts) carries every
// channel, and channels.ts routes each event to the channels of its name.
import type { z } from "zod/mini";
import { matchesFilter } from "./filter.js";
import { randomId } from "./ids.js";
import {
  type PresenceEvent, type PresenceJoinEvent, type PresenceLeaveEvent, PresenceSet, type PresenceState,
  type TrackResult, Tracker, type TrackerIO,
} from "./presence.js";
import { isAfter, isPosition, laterPosition } from "./positions.js";
import * as S from "./schemas.js";
import type {
  AIProcessingPayload, AnyRow, EventType, PostgresChangesPayload, PresenceEntry, PresencePayload, SystemEvent, Tables,
} from "./types.js";
import { parse } from "./validate.js";

export type ChannelStatus = "SUBSCRIBED" | "CHANNEL_ERROR" | "TIMED_OUT" | "CLOSED";

export interface PostgresChangesFilter<Table extends string = string> {
  event: EventType | "*";
  /** Defaults to "public". */
  schema?: string;
  table: Table;
  /** Supabase syntax: column=op.value, op one of eq neq lt lte gt gte in (in.(a,b)). */
  filter?: string;
}

export interface ChannelOptions {
  /**
   * Start after this log position (a REST read's `position`): the channel receives every
   * event of the channel committed after it, none at or before it. Without it the channel
   * starts live (or, on a stream already open, from where the stream is).
   */
  from?: string;
}

/** The row type of `table`: typed for the ticket tables, a plain record for any other. */
export type RowOf<Table extends string> = Table extends keyof Tables ? Tables[Table] : AnyRow;

/** Which presence events a binding wants (supabase-js's filter). */
export interface PresenceFilter {
  event: "sync" | "join" | "leave";
}

type Callback = (payload: never) => void;
interface Binding {
  type: "postgres_changes" | "ai_status" | "system" | "presence";
  filter: Partial<PostgresChangesFilter> | PresenceFilter;
  callback: Callback;
}

/** What a channel needs of its client: the set of channels it joins and leaves. */
export interface ChannelHost {
  readonly throttleMs: number;
  attach(channel: Channel): void;
  detach(channel: Channel): void;
  changed(): void;
  /** The requests of this channel's presence (ref: its own, one per channel); none: track()
   * resolves "error". */
  presenceIO?(channel: Channel): TrackerIO;
}

export class Channel {
  readonly name: string;
  status: ChannelStatus | undefined;
  /** Every event of the channel up to here has been delivered (or was before `from`). */
  position: string | undefined;
  /** The stream says this channel is live. */
  live = false;
  // Bookkeeping of the channel set (channels.ts): when it joined, on which connection.
  /** @internal */ revision = 0;
  /** @internal */ includedIn: string | undefined;
  /** @internal */ coveredBy: string | undefined;
  private bindings: Binding[] = [];
  private closed = true;
  private pending: [string, unknown][] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private statusCallback: ((status: ChannelStatus, error?: Error) => void) | undefined;
  /** This channel's presence ref: its own presence, one per tab and channel. */
  readonly presenceRef = randomId();
  /** The stream connection this channel is live on (the `subscribed` frame's `connection`). */
  connection: string | undefined;
  private readonly presences = new PresenceSet();
  private tracker: Tracker | undefined;
  private refused = false;

  constructor(private readonly host: ChannelHost, name: string, options: ChannelOptions = {}) {
    this.name = name;
    if (options.from !== undefined && !isPosition(options.from)) {
      throw new TypeError(`threadcast: from must be a position <tick>-<id>, not ${JSON.stringify(options.from)}`);
    }
    this.position = options.from;
  }

  on<Table extends string>(
    type: "postgres_changes",
    filter: PostgresChangesFilter<Table>,
    callback: (payload: PostgresChangesPayload<RowOf<Table>>) => void,
  ): this;
  on(type: "ai_status", callback: (payload: AIProcessingPayload) => void): this;
  on(type: "system", callback: (payload: SystemEvent) => void): this;
  /** Presence (supabase-js's shapes): `sync` after the whole state arrived and after every
   * change; `join` and `leave` per user key. Read the state with presenceState(). */
  on(type: "presence", filter: { event: "sync" }, callback: () => void): this;
  on<State = Record<string, unknown>>(
    type: "presence", filter: { event: "join" }, callback: (payload: PresenceJoinEvent<State>) => void,
  ): this;
  on<State = Record<string, unknown>>(
    type: "presence", filter: { event: "leave" }, callback: (payload: PresenceLeaveEvent<State>) => void,
  ): this;
  on(
    type: Binding["type"],
    filterOrCallback: PostgresChangesFilter | PresenceFilter | Callback,
    maybeCallback?: Callback,
  ): this {
    const callback = typeof filterOrCallback === "function" ? filterOrCallback : maybeCallback;
    const filter = typeof filterOrCallback === "function" ? {} : filterOrCallback;
    if (callback) this.bindings.push({ type, filter, callback });
    return this;
  }

  /** The server-side subscriptions: one `on` parameter per binding; `presence` when the
   * channel listens to presence or tracks (presence is opt-in on the server too). */
  specs(): string[] {
    const specs = this.bindings.flatMap(({ type, filter }) => {
      if (type === "ai_status") return ["ai_status"];
      if (type !== "postgres_changes") return [];
      const changes = filter as Partial<PostgresChangesFilter>;
      const spec = `${changes.event || "*"}:${changes.schema || "public"}.${changes.table}`;
      return [changes.filter ? `${spec}:${changes.filter}` : spec];
    });
    if (this.wantsPresence) specs.push("presence");
    return specs;
  }

  private get wantsPresence(): boolean {
    return this.tracker !== undefined || this.bindings.some((b) => b.type === "presence");
  }

  // Presence ------------------------------------------------------------------------------------

  /** Every presence this viewer sees on the channel: `{ [key]: [{ presence_ref, ...state }] }`. */
  presenceState<State = Record<string, unknown>>(): PresenceState<State> {
    return this.presences.state() as PresenceState<State>;
  }

  /**
   * Be present on the channel with `state` (a small JSON object; the server caps its size), or
   * change it: the latest state wins, one request is in flight and at most ~4 go per second
   * per client, so calling it on every keystroke is fine. It lives as long as the stream
   * connection; after a reconnect it is tracked again on the new one, and on `pagehide` it
   * ends. Resolves when the server holds this state (or a later one): "ok"; "rate limited"
   * (it is sent again after Retry-After); "error" (refused: 400, 403, 409).
   */
  track(state: Record<string, unknown>): Promise<TrackResult> {
    const io = this.host.presenceIO?.(this);
    if ((!this.tracker && !io) || (this.refused && this.closed)) return Promise.resolve("error");
    const first = !this.wantsPresence;
    this.tracker ??= new Tracker(io as TrackerIO);
    const result = this.tracker.track(state);
    this.tracker.connected(this.live ? this.connection : undefined);
    // Already on a stream without the presence binding: join again with it.
    if (first && !this.closed) this.rebind();
    return result;
  }

  /** End this tab's presence on the channel. */
  untrack(): Promise<TrackResult> {
    return this.tracker?.untrack() ?? Promise.resolve("ok");
  }

  /** @internal The page is going away (`pagehide`): end the presence now, with keepalive. */
  unload(): void {
    this.tracker?.unload();
  }

  /** @internal The page is shown again (bfcache): track again. */
  resume(): void {
    this.tracker?.resume();
  }

  /** @internal Presences a channel of the same name already has on this connection. */
  seedPresence(entries: PresenceEntry[]): void {
    this.dispatch("presence", { channel: this.name, type: "sync", presences: entries });
  }

  private rebind(): void {
    this.host.detach(this);
    this.host.attach(this);
  }

  get subscribed(): boolean {
    return !this.closed;
  }

  /**
   * Join the client's stream. SUBSCRIBED each time the stream is live (again) for this
   * channel; CHANNEL_ERROR when it breaks (the stream retries by itself, unless the server
   * refused the channel (400/403/404), or the token expired or was refused: then it waits for
   * setToken()); TIMED_OUT when the server did not answer in time (it retries); CLOSED on
   * unsubscribe().
   */
  subscribe(statusCallback: (status: ChannelStatus, error?: Error) => void = () => {}): this {
    if (!this.closed) return this;
    this.refused = false;
    this.statusCallback = statusCallback;
    this.closed = false;
    this.host.attach(this);
    return this;
  }

  unsubscribe(): void {
    if (this.closed) return;
    void this.tracker?.untrack();
    this.stop();
    this.setStatus("CLOSED");
    this.host.detach(this);
  }

  // Called by the channel set ---------------------------------------------------------------

  /** @internal The server refused the channel: retrying cannot help. */
  refuse(error: Error): void {
    if (this.closed) return;
    this.refused = true;
    this.tracker?.fail();
    this.stop();
    this.setStatus("CHANNEL_ERROR", error);
    this.host.detach(this);
  }

  /** @internal The stream is live for this channel (again): SUBSCRIBED, once per outage. */
  goLive(event: SystemEvent): void {
    if (this.closed) return;
    // A new connection (also one that replaced the last without going down): track on it.
    this.connection = event.connection ?? undefined;
    this.tracker?.connected(this.connection);
    if (this.live) return;
    this.setLive(true);
    this.dispatch("system", event);
    this.setStatus("SUBSCRIBED");
  }

  /** @internal The stream broke; it retries (status null: quietly, the page is paused). */
  goDown(status: "CHANNEL_ERROR" | "TIMED_OUT" | null, error?: Error): void {
    if (this.closed) return;
    this.connection = undefined;
    this.tracker?.connected(undefined);
    if (this.live) this.setLive(false);
    if (status) this.setStatus(status, error);
  }

  /** @internal One event of this channel's name, validated. Dropped if not after `position`
   * (a replay the channel already has: after a handover between tabs, or before `from`). */
  receive(event: string, payload: unknown, id: string | undefined): void {
    if (this.closed) return;
    if (id !== undefined) {
      if (!isAfter(id, this.position)) return;
      this.position = id;
    }
    this.dispatch(event, payload);
  }

  /** @internal Every event of the channel up to `position` has been delivered. */
  advance(position: string | undefined): void {
    this.position = laterPosition(this.position, position);
  }

  // -------------------------------------------------------------------------------------------

  private stop(): void {
    this.closed = true;
    this.live = false;
    this.connection = undefined;
    this.tracker?.connected(undefined);
    this.presences.clear();
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pending = [];
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

  private dispatch(type: string, payload: unknown): void {
    const interval = this.host.throttleMs;
    // A system event with nothing waiting goes at once: a `subscribed` must not open a
    // throttle window that cuts the first burst after it in two.
    if (!(interval > 0) || (type === "system" && !this.pending.length)) {
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
    if (type === "presence") {
      // The state changes once per frame, whoever listens; then each event to its bindings.
      for (const event of this.presences.apply(payload as PresencePayload)) this.deliverPresence(event);
      return;
    }
    for (const { type: wanted, filter: anyFilter, callback } of this.bindings) {
      if (wanted !== type) continue;
      const filter = anyFilter as Partial<PostgresChangesFilter>;
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

  private deliverPresence(event: PresenceEvent): void {
    for (const { type, filter, callback } of this.bindings) {
      if (type !== "presence" || (filter as PresenceFilter).event !== event.event) continue;
      try {
        (callback as (payload: unknown) => void)(event);
      } catch (error) {
        console.error("threadcast: a presence callback failed", error);
      }
    }
  }
}

/** A frame's parsed JSON, checked by its event's schema (unknown events pass as they are); a
 * payload that breaks its schema is an InvalidPayloadError. */
export function validate(event: string, data: unknown): unknown {
  let schema: z.ZodMiniType | undefined;
  if (event === "postgres_changes") {
    const table = typeof data === "object" && data !== null ? (data as { table?: unknown }).table : undefined;
    schema = S.changesSchemaFor(typeof table === "string" ? table : "");
  } else if (event === "ai_status") schema = S.AIProcessingPayload;
  else if (event === "system") schema = S.SystemEvent;
  else if (event === "presence") schema = S.PresencePayload;
  return schema ? parse(schema, data, `${event} event`) : data;
}
