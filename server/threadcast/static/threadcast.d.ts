// Type declarations for threadcast.js and every payload it delivers. Checked against the
// server's pydantic models (server/threadcast/payloads.py) by tests/test_typescript_decls.py.

export type EventType = "INSERT" | "UPDATE" | "DELETE";
export type AIStatus = "started" | "processing" | "completed" | "failed";

export interface Thread {
  id: string;
  ticket_id: string;
  subject: string;
  status: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  version: number;
}

export interface ThreadNote {
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

/** Supabase's postgres_changes shape: `new` is {} on DELETE, `old` is null on INSERT. */
export interface PostgresChangesPayload<Row> {
  schema: string;
  table: string;
  commit_timestamp: string;
  eventType: EventType;
  new: Row | Record<string, never>;
  old: Row | null;
  errors: string[] | null;
}

export type ThreadRealtimePayload = PostgresChangesPayload<Thread>;
export type NoteRealtimePayload = PostgresChangesPayload<ThreadNote>;

export interface AIProcessingPayload {
  threadId: string;
  status: AIStatus;
  progress?: number;
  error?: string;
}

export interface SystemEvent {
  type: "subscribed" | "reset" | "expired" | "shutdown";
  message: string;
  reason?: string;
  channel?: string;
  bindings?: number;
}

export interface AIState {
  thread_id: string;
  status: AIStatus;
  progress?: number | null;
  error?: string | null;
  updated_at: string;
}

export interface ThreadWithNotes extends Thread {
  notes: ThreadNote[];
  ai_status?: AIState | null;
}

export interface CreateThread {
  /** A random uuid chosen by the client: a retry with it returns the thread, not a second one. */
  id?: string | null;
  subject: string;
}

export interface CreateNote {
  /** A random uuid chosen by the client: a retry with it returns the note, not a second one. */
  id?: string | null;
  body: string;
  internal?: boolean;
}

export interface EditNote {
  body?: string;
  internal?: boolean;
}

export interface SetAIStatus {
  status: AIStatus;
  progress?: number;
  error?: string;
}

export interface Ticket {
  id: string;
  org_id: string;
  requester_id: string;
  subject: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export interface ThreadList {
  ticket_id: string;
  ticket: Ticket;
  threads: ThreadWithNotes[];
}

/** The body of every 4xx answer; a 412 adds `current`, a 422 adds `problems`. */
export interface ErrorBody {
  error: string;
  message: string;
  [extra: string]: unknown;
}

export type ChannelStatus = "SUBSCRIBED" | "CHANNEL_ERROR" | "TIMED_OUT" | "CLOSED";
/** live: every channel is subscribed; reconnecting: some are not (yet); offline: the browser
 * says it is offline; paused: the page has been hidden for `pauseWhenHiddenMs`. */
export type ConnectionState = "live" | "reconnecting" | "offline" | "paused";

export interface PostgresChangesFilter {
  event: EventType | "*";
  /** Defaults to "public". */
  schema?: string;
  table: string;
  /** Supabase syntax: column=op.value, op one of eq neq lt lte gt gte in (in.(a,b)). */
  filter?: string;
}

/** A 412 from editNote/deleteNote: someone else changed the note first. */
export declare class ConflictError extends Error {
  constructor(message: string, current?: ThreadNote | null);
  /** Their version of the note, or null if it was deleted. */
  current: ThreadNote | null;
}

export declare class HTTPError extends Error {
  constructor(status: number, body: ErrorBody);
  status: number;
  body: ErrorBody;
}

/** One block of a text/event-stream; data is null when the block had no data lines. */
export interface SSEFrame {
  event: string;
  data: string | null;
  id?: string;
  retry?: number;
}

/** The client's incremental text/event-stream parser (exported for tests and reuse). */
export declare class SSEParser {
  feed(text: string): SSEFrame[];
  end(): SSEFrame[];
}

/** Whether a row matches a Supabase-style filter (`column=op.value`). */
export declare function matchesFilter(filter: string | undefined, row: object | null): boolean;

export interface Channel {
  on<Row = Thread | ThreadNote>(
    type: "postgres_changes",
    filter: PostgresChangesFilter,
    callback: (payload: PostgresChangesPayload<Row>) => void,
  ): Channel;
  on(type: "ai_status", callback: (payload: AIProcessingPayload) => void): Channel;
  on(type: "system", callback: (payload: SystemEvent) => void): Channel;
  /**
   * Connect and stay connected. SUBSCRIBED each time the stream is live (again);
   * CHANNEL_ERROR when it breaks (it retries by itself, unless the error is an HTTPError
   * 400/403/404, or the token expired or was refused: then it waits for setToken());
   * TIMED_OUT when the server did not answer in time (it retries); CLOSED on unsubscribe().
   */
  subscribe(callback?: (status: ChannelStatus, error?: Error) => void): Channel;
  unsubscribe(): void;
}

export interface RestApi {
  listThreads(ticketId: string): Promise<ThreadList>;
  getThread(threadId: string): Promise<ThreadWithNotes>;
  // Writes are queued while offline and sent in order when the connection is back. A write
  // retried after a lost answer resolves with what its first attempt did: creates carry an
  // id (random unless given; give one to match the realtime INSERT to an optimistic row).
  createThread(
    ticketId: string, subject: string, options?: { id?: string },
  ): Promise<ThreadWithNotes>;
  addNote(
    threadId: string, body: string, internal?: boolean, options?: { id?: string },
  ): Promise<ThreadNote>;
  /** Rejects with ConflictError (carrying the current note) when `version` is stale. */
  editNote(noteId: string, version: number, patch: EditNote): Promise<ThreadNote>;
  /** Resolves null; a retry that finds the note already gone also resolves null. */
  deleteNote(noteId: string, version?: number): Promise<null>;
  setAIStatus(
    threadId: string, status: AIStatus, progress?: number, error?: string,
  ): Promise<AIState>;
}

export type TokenSource = string | (() => string | Promise<string>);

export interface ThreadcastClient {
  readonly state: ConnectionState;
  readonly rest: RestApi;
  /** Writes waiting for the connection to come back. */
  readonly pendingWrites: number;
  channel(name: `ticket-threads:${string}` | string): Channel;
  /** Use a new token from now on; channels waiting for one resume from where they were. */
  setToken(token: TokenSource): void;
  /** Unsubscribe every channel and stop listening to the page; queued writes are rejected. */
  close(): void;
}

/** A random (version 4) uuid, for ids a client chooses. */
export declare function randomId(): string;

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
  onConnectionState?: (state: ConnectionState) => void;
}

export declare function createClient(baseUrl: string, options: ClientOptions): ThreadcastClient;
