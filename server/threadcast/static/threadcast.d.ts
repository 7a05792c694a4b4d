// threadcast.d.ts: built from clients/js (npm run build:static); do not edit by hand.
// import { createClient } from "/static/threadcast.js"; types in threadcast.d.ts.
type EventType = "INSERT" | "UPDATE" | "DELETE";
type AIStatus = "started" | "processing" | "completed" | "failed";
type TicketStatus = "open" | "pending" | "solved" | "closed";
type ThreadStatus = "open" | "resolved" | "archived";
interface Thread {
    id: string;
    ticket_id: string;
    subject: string;
    status: ThreadStatus;
    created_by: string;
    created_at: string;
    updated_at: string;
    version: number;
}
interface ThreadNote {
    id: string;
    thread_id: string;
    ticket_id: string;
    author_id: string;
    body: string;
    internal: boolean;
    created_at: string;
    updated_at: string;
    version: number;
}
/** A row of a table the client has no type for. */
type AnyRow = Record<string, unknown>;
/** The realtime tables and their rows: a binding's `table` picks its payload's row type. */
interface Tables {
    tickets: Ticket;
    ticket_threads: Thread;
    ticket_notes: ThreadNote;
}
interface ChangeBase {
    schema: string;
    table: string;
    commit_timestamp: string;
    errors?: string[] | null;
}
interface InsertPayload<Row> extends ChangeBase {
    eventType: "INSERT";
    new: Row;
    old: null;
}
interface UpdatePayload<Row> extends ChangeBase {
    eventType: "UPDATE";
    new: Row;
    old: Row;
}
/** Supabase's DELETE: `new` is {}, `old` the deleted row. */
interface DeletePayload<Row> extends ChangeBase {
    eventType: "DELETE";
    new: Record<string, never>;
    old: Row;
}
/** Supabase's postgres_changes shape, narrowed by `eventType`. */
type PostgresChangesPayload<Row> = InsertPayload<Row> | UpdatePayload<Row> | DeletePayload<Row>;
type ThreadRealtimePayload = PostgresChangesPayload<Thread>;
type NoteRealtimePayload = PostgresChangesPayload<ThreadNote>;
type TicketRealtimePayload = PostgresChangesPayload<Ticket>;
interface AIProcessingPayload {
    threadId: string;
    status: AIStatus;
    progress?: number | null;
    error?: string | null;
    /** On an organisation's inbox channel (org-tickets:<org>) only: the thread's ticket. */
    ticketId?: string | null;
}
interface SystemEvent {
    type: "subscribed" | "reset" | "expired" | "shutdown";
    message: string;
    reason?: string | null;
    channel?: string | null;
    channels?: string[] | null;
    bindings?: number | null;
    /** `subscribed`: this stream connection's id, which a presence names to live and die with it. */
    connection?: string | null;
}
/** One presence on the wire: `key` is the tracking user's token `sub`, `ref` the presence's own
 * id (one per tab and channel), `state` the small JSON object it tracks. */
interface PresenceEntry {
    key: string;
    ref: string;
    state: Record<string, unknown>;
}
/** A `presence` frame: the whole state the viewer may see (`sync`, after every (re)connect), or
 * a diff (`join`: new or changed, `leave`: gone or no longer visible to this viewer). */
interface PresencePayload {
    channel: string;
    type: "sync" | "join" | "leave";
    presences: PresenceEntry[];
}
/** The body of PUT /v1/channels/{channel}/presence/{ref}. */
interface TrackPresence {
    /** The `connection` of the stream's `subscribed` frame: the presence ends with that stream. */
    connection: string;
    state: Record<string, unknown>;
}
/** The answer to PUT /v1/channels/{channel}/presence/{ref}. */
interface PresenceTracked {
    channel: string;
    key: string;
    ref: string;
    state: Record<string, unknown>;
}
interface AIState {
    thread_id: string;
    status: AIStatus;
    progress?: number | null;
    error?: string | null;
    updated_at: string;
}
interface ThreadWithNotes extends Thread {
    notes: ThreadNote[];
    ai_status?: AIState | null;
}
interface Ticket {
    id: string;
    org_id: string;
    requester_id: string;
    subject: string;
    status: TicketStatus;
    created_at: string;
    updated_at: string;
    version: number;
}
/**
 * The log position a REST read is consistent with, "<tick>-<id>" like an SSE id: a stream
 * started from it (Last-Event-ID) misses nothing committed after the read; what it repeats
 * is dropped by `version`.
 */
type Position = string;
/** GET /v1/threads/{id}: a thread with its notes, and the log position of the read. */
interface ThreadDetail extends ThreadWithNotes {
    position: Position;
}
interface ThreadList {
    ticket_id: string;
    ticket: Ticket;
    threads: ThreadWithNotes[];
    position: Position;
}
/** A ticket as the inbox lists it, with the current AI state of each of its threads. */
interface InboxTicket extends Ticket {
    ai_statuses: AIState[];
}
/** GET /v1/tickets: most recently updated first. */
interface TicketList {
    tickets: InboxTicket[];
    position: Position;
}
interface CreateThread {
    /** A random uuid chosen by the client: a retry with it returns the thread, not a second one. */
    id?: string | null;
    subject: string;
}
interface CreateNote {
    /** A random uuid chosen by the client: a retry with it returns the note, not a second one. */
    id?: string | null;
    body: string;
    internal?: boolean;
}
/** At least one of the two. */
interface EditNote {
    body?: string | null;
    internal?: boolean | null;
}
interface SetAIStatus {
    status: AIStatus;
    progress?: number | null;
    error?: string | null;
}
interface Problem {
    field: string;
    problem: string;
}
/** The body of every 4xx answer; a 412 adds `current`, a 422 adds `problems`. */
interface ErrorBody {
    error: string;
    message: string;
    problems?: Problem[] | null;
    current?: ThreadNote | null;
}

/** A presence as presenceState() and the callbacks give it: its state and its ref. */
type Presence<State = Record<string, unknown>> = State & {
    presence_ref: string;
};
/** Every presence the viewer sees, by user key (the tracking token's `sub`). */
type PresenceState<State = Record<string, unknown>> = Record<string, Presence<State>[]>;
interface PresenceSyncEvent {
    event: "sync";
}
interface PresenceJoinEvent<State = Record<string, unknown>> {
    event: "join";
    key: string;
    newPresences: Presence<State>[];
    /** The key's presences before this join. */
    currentPresences: Presence<State>[];
}
interface PresenceLeaveEvent<State = Record<string, unknown>> {
    event: "leave";
    key: string;
    leftPresences: Presence<State>[];
    /** The key's presences after this leave. */
    currentPresences: Presence<State>[];
}
type PresenceEvent<State = Record<string, unknown>> = PresenceSyncEvent | PresenceJoinEvent<State> | PresenceLeaveEvent<State>;
/** What track() and untrack() resolve to (supabase-js's words). */
type TrackResult = "ok" | "error" | "rate limited";
/** The tracker's requests and its pacing, given by the client (a test gives its own). */
interface TrackerIO {
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

type ChannelStatus = "SUBSCRIBED" | "CHANNEL_ERROR" | "TIMED_OUT" | "CLOSED";
interface PostgresChangesFilter<Table extends string = string> {
    event: EventType | "*";
    /** Defaults to "public". */
    schema?: string;
    table: Table;
    /** Supabase syntax: column=op.value, op one of eq neq lt lte gt gte in (in.(a,b)). */
    filter?: string;
}
interface ChannelOptions {
    /**
     * Start after this log position (a REST read's `position`): the channel receives every
     * event of the channel committed after it, none at or before it. Without it the channel
     * starts live (or, on a stream already open, from where the stream is).
     */
    from?: string;
}
/** The row type of `table`: typed for the ticket tables, a plain record for any other. */
type RowOf<Table extends string> = Table extends keyof Tables ? Tables[Table] : AnyRow;
/** Which presence events a binding wants (supabase-js's filter). */
interface PresenceFilter {
    event: "sync" | "join" | "leave";
}
/** What a channel needs of its client: the set of channels it joins and leaves. */
interface ChannelHost {
    readonly throttleMs: number;
    attach(channel: Channel): void;
    detach(channel: Channel): void;
    changed(): void;
    /** The requests of this channel's presence (ref: its own, one per channel); none: track()
     * resolves "error". */
    presenceIO?(channel: Channel): TrackerIO;
}
declare class Channel {
    private readonly host;
    readonly name: string;
    status: ChannelStatus | undefined;
    /** Every event of the channel up to here has been delivered (or was before `from`). */
    position: string | undefined;
    /** The stream says this channel is live. */
    live: boolean;
    /** @internal */ revision: number;
    /** @internal */ includedIn: string | undefined;
    /** @internal */ coveredBy: string | undefined;
    private bindings;
    private closed;
    private pending;
    private flushTimer;
    private statusCallback;
    /** This channel's presence ref: its own presence, one per tab and channel. */
    readonly presenceRef: string;
    /** The stream connection this channel is live on (the `subscribed` frame's `connection`). */
    connection: string | undefined;
    private readonly presences;
    private tracker;
    private refused;
    constructor(host: ChannelHost, name: string, options?: ChannelOptions);
    on<Table extends string>(type: "postgres_changes", filter: PostgresChangesFilter<Table>, callback: (payload: PostgresChangesPayload<RowOf<Table>>) => void): this;
    on(type: "ai_status", callback: (payload: AIProcessingPayload) => void): this;
    on(type: "system", callback: (payload: SystemEvent) => void): this;
    /** Presence (supabase-js's shapes): `sync` after the whole state arrived and after every
     * change; `join` and `leave` per user key. Read the state with presenceState(). */
    on(type: "presence", filter: {
        event: "sync";
    }, callback: () => void): this;
    on<State = Record<string, unknown>>(type: "presence", filter: {
        event: "join";
    }, callback: (payload: PresenceJoinEvent<State>) => void): this;
    on<State = Record<string, unknown>>(type: "presence", filter: {
        event: "leave";
    }, callback: (payload: PresenceLeaveEvent<State>) => void): this;
    /** The server-side subscriptions: one `on` parameter per binding; `presence` when the
     * channel listens to presence or tracks (presence is opt-in on the server too). */
    specs(): string[];
    private get wantsPresence();
    /** Every presence this viewer sees on the channel: `{ [key]: [{ presence_ref, ...state }] }`. */
    presenceState<State = Record<string, unknown>>(): PresenceState<State>;
    /**
     * Be present on the channel with `state` (a small JSON object; the server caps its size), or
     * change it: the latest state wins, one request is in flight and at most ~4 go per second
     * per client, so calling it on every keystroke is fine. It lives as long as the stream
     * connection; after a reconnect it is tracked again on the new one, and on `pagehide` it
     * ends. Resolves when the server holds this state (or a later one): "ok"; "rate limited"
     * (it is sent again after Retry-After); "error" (refused: 400, 403, 409).
     */
    track(state: Record<string, unknown>): Promise<TrackResult>;
    /** End this tab's presence on the channel. */
    untrack(): Promise<TrackResult>;
    /** @internal The page is going away (`pagehide`): end the presence now, with keepalive. */
    unload(): void;
    /** @internal The page is shown again (bfcache): track again. */
    resume(): void;
    /** @internal Presences a channel of the same name already has on this connection. */
    seedPresence(entries: PresenceEntry[]): void;
    private rebind;
    get subscribed(): boolean;
    /**
     * Join the client's stream. SUBSCRIBED each time the stream is live (again) for this
     * channel; CHANNEL_ERROR when it breaks (the stream retries by itself, unless the server
     * refused the channel (400/403/404), or the token expired or was refused: then it waits for
     * setToken()); TIMED_OUT when the server did not answer in time (it retries); CLOSED on
     * unsubscribe().
     */
    subscribe(statusCallback?: (status: ChannelStatus, error?: Error) => void): this;
    unsubscribe(): void;
    /** @internal The server refused the channel: retrying cannot help. */
    refuse(error: Error): void;
    /** @internal The stream is live for this channel (again): SUBSCRIBED, once per outage. */
    goLive(event: SystemEvent): void;
    /** @internal The stream broke; it retries (status null: quietly, the page is paused). */
    goDown(status: "CHANNEL_ERROR" | "TIMED_OUT" | null, error?: Error): void;
    /** @internal One event of this channel's name, validated. Dropped if not after `position`
     * (a replay the channel already has: after a handover between tabs, or before `from`). */
    receive(event: string, payload: unknown, id: string | undefined): void;
    /** @internal Every event of the channel up to `position` has been delivered. */
    advance(position: string | undefined): void;
    private stop;
    private setStatus;
    private setLive;
    private dispatch;
    private deliver;
    private deliverPresence;
}

/** A channel the stream should carry: its bindings, and where to start if it is new here (or
 * earlier than the stream has it: a channel joining with an older REST snapshot). */
interface StreamWant {
    name: string;
    specs: string[];
    from?: string | undefined;
    /** Some of its channels are not on the current connection yet: reconnect for them. */
    pending?: boolean;
}
/** What the stream needs of its client. */
interface StreamHost {
    readonly baseUrl: string;
    readonly paused: boolean;
    readonly tokenEpoch: number;
    readonly tokenIsFunction: boolean;
    readonly subscribeTimeoutMs: number;
    readonly idleTimeoutMs: number;
    fetch: typeof fetch;
    currentToken(): Promise<string>;
    sleep(ms: number, owner: {
        wakeUp?: () => void;
    }): Promise<void>;
    reportError(error: Error): void;
    subscribed(): void;
}

/** How a channel can join the connection that runs now, if it can. */
type Joiner = (name: string, specs: string[]) => {
    generation: string;
    position: string | undefined;
    live: boolean;
} | undefined;
declare class ChannelSet {
    /** Bumped on every join and leave; a connection carries the set as of one revision. */
    revision: number;
    private readonly byName;
    private current;
    /** Per name, the presences of the connection `generation` (for channels joining it). */
    private readonly presence;
    all(): Channel[];
    get size(): number;
    /** Add `channel`; true when the stream must reconnect to carry it. */
    add(channel: Channel, join?: Joiner): boolean;
    /** Remove `channel`; true when its name left the set (the stream may drop it). */
    remove(channel: Channel): boolean;
    /**
     * Each name once: the union of its channels' bindings, and `from`: the earliest position of
     * its channels not on `generation` (all of them when the stream is new: a handover).
     */
    wanted(generation: string | undefined): StreamWant[];
    /** Connection `generation` carries the set as of `revision` (this tab's own, by default). */
    connecting(generation: string, revision?: number): void;
    frame(generation: string, event: string, name: string | undefined, payload: unknown, id: string | undefined): void;
    live(generation: string, names: string[], event: SystemEvent, id: string | undefined): void;
    down(status: "CHANNEL_ERROR" | "TIMED_OUT" | null, error?: Error): void;
    /** The server refused these names: their channels fail (and leave the set). */
    refused(names: string[], error: Error): void;
}

interface RequestOptions {
    signal?: AbortSignal;
}
interface CreateOptions extends RequestOptions {
    /** The new row's id (random by default): a retry with it is recognised, not a second row.
     * Choose it yourself to match the realtime INSERT to an optimistic entry. */
    id?: string;
}
interface ListTicketsOptions extends RequestOptions {
    /** Only this organisation's tickets: its inbox (channel org-tickets:<orgId>). */
    orgId?: string;
    /** At most this many (1 to 500; the server's default is 100). */
    limit?: number;
}
interface RestApi {
    /** The tickets the caller may see, most recently updated first, and the read's `position`. */
    listTickets(options?: ListTicketsOptions): Promise<TicketList>;
    listThreads(ticketId: string, options?: RequestOptions): Promise<ThreadList>;
    getThread(threadId: string, options?: RequestOptions): Promise<ThreadDetail>;
    createThread(ticketId: string, subject: string, options?: CreateOptions): Promise<ThreadWithNotes>;
    addNote(threadId: string, body: string, internal?: boolean, options?: CreateOptions): Promise<ThreadNote>;
    /** Rejects with ConflictError (carrying the current note) when `version` is stale. */
    editNote(noteId: string, version: number, patch: EditNote, options?: RequestOptions): Promise<ThreadNote>;
    /** Resolves null; a retry that finds the note already gone also resolves null. */
    deleteNote(noteId: string, version?: number, options?: RequestOptions): Promise<null>;
    setAIStatus(threadId: string, status: AIStatus, progress?: number, error?: string, options?: RequestOptions): Promise<AIState>;
}

/** live: every channel is subscribed; reconnecting: some are not (yet); offline: the browser
 * says it is offline; paused: the page has been hidden for `pauseWhenHiddenMs`. */
type ConnectionState = "live" | "reconnecting" | "offline" | "paused";
type TokenSource = string | (() => string | Promise<string>);
interface ClientOptions {
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
/** Where the client's channels go: one stream of its own, or the tabs' shared one. */
interface Transport {
    readonly channels: ChannelSet;
    attach(channel: Channel): void;
    detach(channel: Channel): void;
    /** The page is paused (or resumes: wake() follows). */
    pausedChanged(): void;
    close(): void;
}
declare class ThreadcastClient implements ChannelHost, StreamHost {
    readonly baseUrl: string;
    readonly rest: RestApi;
    readonly offlineQueue: boolean;
    state: ConnectionState;
    paused: boolean;
    tokenEpoch: number;
    fetch: typeof fetch;
    private token;
    private readonly options;
    /** The stream its channels use: its own, or the one its tabs share. */
    readonly transport: Transport;
    private readonly sleepers;
    private readonly stateListeners;
    private readonly queue;
    private listeners;
    private hiddenTimer;
    /** The last token used, for the keepalive untrack on `pagehide` (no time to await one). */
    private lastToken;
    /** When the next presence PUT may start (ms, Date.now()). */
    private nextPresenceAt;
    constructor(baseUrl: string, options: ClientOptions);
    get tokenIsFunction(): boolean;
    get throttleMs(): number;
    get subscribeTimeoutMs(): number;
    get idleTimeoutMs(): number;
    /** Writes waiting in the offline queue. */
    get pendingWrites(): number;
    /** A channel on the client's one stream; `from`: start after this REST read's position. */
    channel(name: `ticket-threads:${string}` | string, options?: ChannelOptions): Channel;
    /** Use a new token from now on; channels waiting for one resume from where they were. */
    setToken(token: TokenSource): void;
    currentToken(): Promise<string>;
    /** Call `listener` on every change of `state`; returns the unsubscribe function. */
    onConnectionState(listener: (state: ConnectionState) => void): () => void;
    /** Unsubscribe every channel and stop listening to the page; queued writes are rejected. */
    close(): void;
    attach(channel: Channel): void;
    detach(channel: Channel): void;
    /** End a presence of this user that a tab now gone held (tabs.ts, as the leader). */
    removePresence(channel: string, ref: string): void;
    /** The presence requests of `channel`, paced for the whole client. */
    presenceIO(channel: Channel): TrackerIO;
    subscribed(): void;
    reportError(error: Error): void;
    /** What `state` should say now (with no channel: live, unless the browser is offline). */
    private currentState;
    changed(): void;
    /** Resolves after `ms`, or sooner on wake() (or the owner's wakeUp(), on unsubscribe). */
    sleep(ms: number, owner: {
        wakeUp?: () => void;
    }): Promise<void>;
    private wake;
    private listen;
    private perform;
    /** Sent once, no queue. A write's retry (React Query's) may meet its own earlier attempt:
     * `recover` turns that error into the earlier attempt's result. */
    private direct;
    private visibilityChanged;
}
declare function createClient(baseUrl: string, options: ClientOptions): ThreadcastClient;

declare function isPosition(value: unknown): value is string;
/** Negative, zero or positive as `a` is before, at or after `b` (both valid positions). */
declare function comparePositions(a: string, b: string): number;

/** Any non-2xx answer; `body` is the server's {"error", "message", ...}. */
declare class HTTPError extends Error {
    readonly status: number;
    readonly body: ErrorBody;
    constructor(status: number, body: ErrorBody);
}
/** 412: someone else changed the note first. `current` is their version (null if gone). */
declare class ConflictError extends HTTPError {
    readonly current: ThreadNote | null;
    constructor(message: string, current?: ThreadNote | null, status?: number);
}
/** 404: the row does not exist, or the caller may not see it. */
declare class NotFoundError extends HTTPError {
    constructor(body: ErrorBody);
}
/** 403: the caller may see it but not do this (or the Origin is not allowed). */
declare class ForbiddenError extends HTTPError {
    constructor(body: ErrorBody);
}
/** 400/422: the server refused the request as malformed; `body.problems` says where. */
declare class ValidationError extends HTTPError {
    constructor(status: number, body: ErrorBody);
}
/** 429 (or 503 with Retry-After): try again after `retryAfter` seconds. */
declare class RateLimitedError extends HTTPError {
    readonly retryAfter: number | null;
    constructor(status: number, body: ErrorBody, retryAfter: number | null);
}
/** An event or answer from the server that does not match its schema. */
declare class InvalidPayloadError extends Error {
    readonly payload: unknown;
    readonly issues: {
        path: string;
        message: string;
    }[];
    constructor(what: string, payload: unknown, issues: {
        path: string;
        message: string;
    }[]);
}
/** Whether a retry may succeed: network failures, 5xx and rate limits; never another 4xx. */
declare function isRetryable(error: unknown): boolean;

/** One block of a text/event-stream; data is null when the block had no data lines. */
interface SSEFrame {
    event: string;
    data: string | null;
    id?: string;
    retry?: number;
}
/**
 * An incremental parser for text/event-stream, per the HTML standard: lines end in CRLF, LF or
 * CR; `:` starts a comment; `data` lines join with "\n"; `id` (without NUL) and `retry`
 * (digits only) are remembered; unknown fields are ignored; a blank line ends an event.
 * feed() takes decoded text in arbitrary pieces and returns the blocks it completed.
 */
declare class SSEParser {
    private buffer;
    private started;
    private data;
    private event;
    private id;
    private retry;
    private block;
    feed(text: string): SSEFrame[];
    /** The stream ended: a held-back CR still ends its line; an unfinished event is dropped. */
    end(): SSEFrame[];
    private line;
}

/**
 * Whether a row matches a Supabase-style filter `column=op.value`. The server has already
 * filtered the stream; this routes each event to the callbacks whose binding it matches,
 * since one stream carries every binding of a channel.
 */
declare function matchesFilter(filter: string | undefined, row: object | null): boolean;

/** A random (version 4) uuid. crypto.randomUUID needs a secure context; getRandomValues not. */
declare function randomId(): string;

export { Channel, ConflictError, ForbiddenError, HTTPError, InvalidPayloadError, NotFoundError, RateLimitedError, SSEParser, ThreadcastClient, ValidationError, comparePositions, createClient, isPosition, isRetryable, matchesFilter, randomId };
export type { AIProcessingPayload, AIState, AIStatus, AnyRow, ChangeBase, ChannelOptions, ChannelStatus, ClientOptions, ConnectionState, CreateNote, CreateOptions, CreateThread, DeletePayload, EditNote, ErrorBody, EventType, InboxTicket, InsertPayload, NoteRealtimePayload, Position, PostgresChangesFilter, PostgresChangesPayload, Presence, PresenceEntry, PresenceEvent, PresenceFilter, PresenceJoinEvent, PresenceLeaveEvent, PresencePayload, PresenceState, PresenceSyncEvent, PresenceTracked, Problem, RequestOptions, RestApi, RowOf, SSEFrame, SetAIStatus, SystemEvent, Tables, Thread, ThreadDetail, ThreadList, ThreadNote, ThreadRealtimePayload, ThreadStatus, ThreadWithNotes, Ticket, TicketList, TicketRealtimePayload, TicketStatus, TokenSource, TrackPresence, TrackResult, UpdatePayload };
