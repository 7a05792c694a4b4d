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
  subject: string;
}

export interface CreateNote {
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

export type ChannelStatus = "SUBSCRIBED" | "CHANNEL_ERROR" | "TIMED_OUT" | "CLOSED";
export type ConnectionState = "live" | "reconnecting" | "offline";

export interface PostgresChangesFilter {
  event: EventType | "*";
  schema?: string;
  table: string;
  /** Supabase syntax: column=op.value, op one of eq neq lt lte gt gte in (in.(a,b)). */
  filter?: string;
}

export declare class ConflictError extends Error {
  current: ThreadNote | null;
}

export declare class HTTPError extends Error {
  status: number;
  body: { error: string; message: string } & Record<string, unknown>;
}

export interface Channel {
  on<Row = Thread | ThreadNote>(
    type: "postgres_changes",
    filter: PostgresChangesFilter,
    callback: (payload: PostgresChangesPayload<Row>) => void,
  ): Channel;
  on(type: "ai_status", callback: (payload: AIProcessingPayload) => void): Channel;
  on(type: "system", callback: (payload: SystemEvent) => void): Channel;
  subscribe(callback?: (status: ChannelStatus, error?: Error) => void): Channel;
  unsubscribe(): void;
}

export interface RestApi {
  listThreads(ticketId: string): Promise<{ ticket_id: string; threads: ThreadWithNotes[] }>;
  getThread(threadId: string): Promise<ThreadWithNotes>;
  createThread(ticketId: string, subject: string): Promise<ThreadWithNotes>;
  addNote(threadId: string, body: string, internal?: boolean): Promise<ThreadNote>;
  /** Rejects with ConflictError (carrying the current note) when `version` is stale. */
  editNote(noteId: string, version: number, patch: EditNote): Promise<ThreadNote>;
  deleteNote(noteId: string, version?: number): Promise<null>;
  setAIStatus(
    threadId: string, status: AIStatus, progress?: number, error?: string,
  ): Promise<AIState>;
}

export interface ThreadcastClient {
  readonly state: ConnectionState;
  readonly rest: RestApi;
  channel(name: `ticket-threads:${string}` | string): Channel;
  setToken(token: string): void;
}

export interface ClientOptions {
  token: string;
  fetch?: typeof fetch;
  /** Deliver callbacks at most once per this many ms, in batches (0: immediately). */
  throttleMs?: number;
  onConnectionState?: (state: ConnectionState) => void;
}

export declare function createClient(baseUrl: string, options: ClientOptions): ThreadcastClient;
