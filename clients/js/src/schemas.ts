// Zod schemas of every event payload and REST body: the client parses each event and answer
// with them at the edge. tests/test_js_schemas_drift.py checks them against the server's
// pydantic models; the assertions at the end check them against src/types.ts.
// zod/mini: the same schemas as classic Zod, tree-shakable (the static build is 130 KB, not 300).
import { z } from "zod/mini";
import type * as T from "./types.js";

const uuid = z.guid(); // any 8-4-4-4-12 hex uuid, as PostgreSQL accepts (z.uuid() wants RFC variants)
const timestamp = z.string();

export const EventType = z.enum(["INSERT", "UPDATE", "DELETE"]);
export const AIStatus = z.enum(["started", "processing", "completed", "failed"]);
export const TicketStatus = z.enum(["open", "pending", "solved", "closed"]);
export const ThreadStatus = z.enum(["open", "resolved", "archived"]);

export const Thread = z.object({
  id: uuid,
  ticket_id: uuid,
  subject: z.string(),
  status: ThreadStatus,
  created_by: uuid,
  created_at: timestamp,
  updated_at: timestamp,
  version: z.int(),
});

export const ThreadNote = z.object({
  id: uuid,
  thread_id: uuid,
  ticket_id: uuid,
  author_id: uuid,
  body: z.string(),
  internal: z.boolean(),
  created_at: timestamp,
  updated_at: timestamp,
  version: z.int(),
});

export const AnyRow = z.record(z.string(), z.unknown());

/** postgres_changes for rows of `row`: {} new exactly on DELETE, null old exactly on INSERT. */
export function postgresChanges<Row extends z.ZodMiniType>(row: Row) {
  const base = {
    schema: z.string(),
    table: z.string(),
    commit_timestamp: timestamp,
    errors: z.nullish(z.array(z.string())),
  };
  return z.discriminatedUnion("eventType", [
    z.object({ ...base, eventType: z.literal("INSERT"), new: row, old: z.null() }),
    z.object({ ...base, eventType: z.literal("UPDATE"), new: row, old: row }),
    z.object({
      ...base,
      eventType: z.literal("DELETE"),
      new: z.record(z.string(), z.never()),
      old: row,
    }),
  ]);
}

export const Ticket = z.object({
  id: uuid,
  org_id: uuid,
  requester_id: uuid,
  subject: z.string(),
  status: TicketStatus,
  created_at: timestamp,
  updated_at: timestamp,
  version: z.int(),
});

export const TicketRealtimePayload = postgresChanges(Ticket);
export const ThreadRealtimePayload = postgresChanges(Thread);
export const NoteRealtimePayload = postgresChanges(ThreadNote);
export const AnyRealtimePayload = postgresChanges(AnyRow);

const percent = z.int().check(z.minimum(0), z.maximum(100));

export const AIProcessingPayload = z.object({
  threadId: uuid,
  status: AIStatus,
  progress: z.nullish(percent),
  error: z.nullish(z.string()),
  ticketId: z.nullish(uuid),
});

export const SystemEvent = z.object({
  type: z.enum(["subscribed", "reset", "expired", "shutdown"]),
  message: z.string(),
  reason: z.nullish(z.string()),
  channel: z.nullish(z.string()),
  /** The multi-channel stream's `subscribed`: the channels it is live for. */
  channels: z.nullish(z.array(z.string())),
  bindings: z.nullish(z.int()),
  connection: z.nullish(z.string()),
});

const presenceState = z.record(z.string(), z.unknown());

export const PresenceEntry = z.object({ key: z.string(), ref: uuid, state: presenceState });

export const PresencePayload = z.object({
  channel: z.string(),
  type: z.enum(["sync", "join", "leave"]),
  presences: z.array(PresenceEntry),
});

export const PresenceTracked = z.object({ channel: z.string(), key: z.string(), ref: uuid, state: presenceState });

export const AIState = z.object({
  thread_id: uuid,
  status: AIStatus,
  progress: z.nullish(z.int()),
  error: z.nullish(z.string()),
  updated_at: timestamp,
});

export const ThreadWithNotes = z.extend(Thread, {
  notes: z.array(ThreadNote),
  ai_status: z.nullish(AIState),
});

/** A REST read's log position, "<tick>-<id>" (an SSE id): start its stream from it. */
export const Position = z.string().check(z.regex(/^[0-9]{1,19}-[0-9]{1,19}$/));

export const ThreadDetail = z.extend(ThreadWithNotes, { position: Position });

export const ThreadList = z.object({
  ticket_id: uuid,
  ticket: Ticket,
  threads: z.array(ThreadWithNotes),
  position: Position,
});

export const InboxTicket = z.extend(Ticket, { ai_statuses: z.array(AIState) });

export const TicketList = z.object({
  tickets: z.array(InboxTicket),
  position: Position,
});

// Request bodies are strict, as the server's are (extra="forbid"), and refuse what PostgreSQL
// refuses: text with NUL.
const text = () => z.string().check(z.regex(/^[^\u0000]*$/));
export const CreateThread = z.strictObject({
  id: z.nullish(uuid),
  subject: text().check(z.minLength(1), z.maxLength(500), z.regex(/[^\s\u0000]/)),
});

export const CreateNote = z.strictObject({
  id: z.nullish(uuid),
  body: text().check(z.minLength(1)),
  internal: z.optional(z.boolean()),
});

/** PUT /v1/channels/{channel}/presence/{ref}: the stream connection it lives with, its state. */
export const TrackPresence = z.strictObject({ connection: uuid, state: presenceState });

export const EditNote = z
  .strictObject({ body: z.nullish(text().check(z.minLength(1))), internal: z.nullish(z.boolean()) })
  .check(z.refine((edit) => edit.body != null || edit.internal != null, "give body, internal, or both"));

export const SetAIStatus = z
  .strictObject({
    status: AIStatus,
    progress: z.nullish(percent),
    error: z.nullish(text().check(z.maxLength(2000))),
  })
  .check(z.refine((s) => s.error == null || s.status === "failed", "an error only with status failed"));

export const Problem = z.object({ field: z.string(), problem: z.string() });

export const ErrorBody = z.looseObject({
  error: z.string(),
  message: z.string(),
  problems: z.nullish(z.array(Problem)),
  current: z.nullish(ThreadNote),
});

/** The schema of a postgres_changes payload of `table`. */
export function changesSchemaFor(table: string): z.ZodMiniType<T.PostgresChangesPayload<unknown>> {
  if (table === "ticket_threads") return ThreadRealtimePayload;
  if (table === "ticket_notes") return NoteRealtimePayload;
  if (table === "tickets") return TicketRealtimePayload;
  return AnyRealtimePayload;
}

// Each schema infers exactly its interface in types.ts: an edit to one alone fails to compile.
type Equals<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
function same<A, B>(proof: Equals<A, B>): void {
  void proof;
}
same<z.infer<typeof Thread>, T.Thread>(true);
same<z.infer<typeof ThreadNote>, T.ThreadNote>(true);
same<z.infer<typeof ThreadRealtimePayload>, T.ThreadRealtimePayload>(true);
same<z.infer<typeof NoteRealtimePayload>, T.NoteRealtimePayload>(true);
same<z.infer<typeof AIProcessingPayload>, T.AIProcessingPayload>(true);
same<z.infer<typeof SystemEvent>, T.SystemEvent>(true);
same<z.infer<typeof PresenceEntry>, T.PresenceEntry>(true);
same<z.infer<typeof PresencePayload>, T.PresencePayload>(true);
same<z.infer<typeof PresenceTracked>, T.PresenceTracked>(true);
same<z.infer<typeof TrackPresence>, T.TrackPresence>(true);
same<z.infer<typeof AIState>, T.AIState>(true);
same<z.infer<typeof ThreadWithNotes>, T.ThreadWithNotes>(true);
same<z.infer<typeof Ticket>, T.Ticket>(true);
same<z.infer<typeof TicketRealtimePayload>, T.TicketRealtimePayload>(true);
same<z.infer<typeof ThreadDetail>, T.ThreadDetail>(true);
same<z.infer<typeof ThreadList>, T.ThreadList>(true);
same<z.infer<typeof InboxTicket>, T.InboxTicket>(true);
same<z.infer<typeof TicketList>, T.TicketList>(true);
same<z.infer<typeof CreateThread>, T.CreateThread>(true);
same<z.infer<typeof CreateNote>, T.CreateNote>(true);
same<z.infer<typeof EditNote>, T.EditNote>(true);
same<z.infer<typeof SetAIStatus>, T.SetAIStatus>(true);
