// The shapes of every payload and REST body, as plain interfaces so the declarations read
// (and bundle into /static/threadcast.d.ts) without Zod. src/schemas.ts validates them and
// proves at compile time that each schema infers exactly the interface here.

export type EventType = "INSERT" | "UPDATE" | "DELETE";
export type AIStatus = "started" | "processing" | "completed" | "failed";
export type TicketStatus = "open" | "pending" | "solved" | "closed";
export type ThreadStatus = "open" | "resolved" | "archived";

export interface Thread {
  id: string;
  ticket_id: string;
  subject: string;
  status: ThreadStatus;
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

/** A row of a table the client has no type for. */
export type AnyRow = Record<string, unknown>;

/** The realtime tables and their rows: a binding's `table` picks its payload's row type. */
export interface Tables {
  tickets: Ticket;
  ticket_threads: Thread;
  ticket_notes: ThreadNote;
}

export interface ChangeBase {
  schema: string;
  table: string;
  commit_timestamp: string;
  errors?: string[] | null;
}

export interface InsertPayload<Row> extends ChangeBase {
  eventType: "INSERT";
  new: Row;
  old: null;
}

export interface UpdatePayload<Row> extends ChangeBase {
  eventType: "UPDATE";
  new: Row;
  old: Row;
}

/** Supabase's DELETE: `new` is {}, `old` the deleted row. */
export interface DeletePayload<Row> extends ChangeBase {
  eventType: "DELETE";
  new: Record<string, never>;
  old: Row;
}

/** Supabase's postgres_changes shape, narrowed by `eventType`. */
export type PostgresChangesPayload<Row> = InsertPayload<Row> | UpdatePayload<Row> | DeletePayload<Row>;
export type ThreadRealtimePayload = PostgresChangesPayload<Thread>;
export type NoteRealtimePayload = PostgresChangesPayload<ThreadNote>;
export type TicketRealtimePayload = PostgresChangesPayload<Ticket>;

export interface AIProcessingPayload {
  threadId: string;
  status: AIStatus;
  progress?: number | null;
  error?: string | null;
  /** On an organisation's inbox channel (org-tickets:<org>) only: the thread's ticket. */
  ticketId?: string | null;
}

export interface SystemEvent {
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
export interface PresenceEntry {
  key: string;
  ref: string;
  state: Record<string, unknown>;
}

/** A `presence` frame: the whole state the viewer may see (`sync`, after every (re)connect), or
 * a diff (`join`: new or changed, `leave`: gone or no longer visible to this viewer). */
export interface PresencePayload {
  channel: string;
  type: "sync" | "join" | "leave";
  presences: PresenceEntry[];
}

/** The body of PUT /v1/channels/{channel}/presence/{ref}. */
export interface TrackPresence {
  /** The `connection` of the stream's `subscribed` frame: the presence ends with that stream. */
  connection: string;
  state: Record<string, unknown>;
}

/** The answer to PUT /v1/channels/{channel}/presence/{ref}. */
export interface PresenceTracked {
  channel: string;
  key: string;
  ref: string;
  state: Record<string, unknown>;
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

export interface Ticket {
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
export type Position = string;

/** GET /v1/threads/{id}: a thread with its notes, and the log position of the read. */
export interface ThreadDetail extends ThreadWithNotes {
  position: Position;
}

export interface ThreadList {
  ticket_id: string;
  ticket: Ticket;
  threads: ThreadWithNotes[];
  position: Position;
}

/** A ticket as the inbox lists it, with the current AI state of each of its threads. */
export interface InboxTicket extends Ticket {
  ai_statuses: AIState[];
}

/** GET /v1/tickets: most recently updated first. */
export interface TicketList {
  tickets: InboxTicket[];
  position: Position;
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

/** At least one of the two. */
export interface EditNote {
  body?: string | null;
  internal?: boolean | null;
}

export interface SetAIStatus {
  status: AIStatus;
  progress?: number | null;
  error?: string | null;
}

export interface Problem {
  field: string;
  problem: string;
}

/** The body of every 4xx answer; a 412 adds `current`, a 422 adds `problems`. */
export interface ErrorBody {
  error: string;
  message: string;
  problems?: Problem[] | null;
  current?: ThreadNote | null;
}
