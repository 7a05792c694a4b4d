// Zod schemas of every event payload and REST body: the client parses each event and answer
// with them at the edge. tests/test_js_schemas_drift.py checks them against the server's
// pydantic models; the assertions at the end check them against src/types.ts.
import { z } from "zod";
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
export function postgresChanges<Row extends z.ZodType>(row: Row) {
  const base = {
    schema: z.string(),
    table: z.string(),
    commit_timestamp: timestamp,
    errors: z.array(z.string()).nullish(),
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

export const ThreadRealtimePayload = postgresChanges(Thread);
export const NoteRealtimePayload = postgresChanges(ThreadNote);
export const AnyRealtimePayload = postgresChanges(AnyRow);

const percent = z.int().min(0).max(100);

export const AIProcessingPayload = z.object({
  threadId: uuid,
  status: AIStatus,
  progress: percent.nullish(),
  error: z.string().nullish(),
});

export const SystemEvent = z.object({
  type: z.enum(["subscribed", "reset", "expired", "shutdown"]),
  message: z.string(),
  reason: z.string().nullish(),
  channel: z.string().nullish(),
  bindings: z.int().nullish(),
});

export const AIState = z.object({
  thread_id: uuid,
  status: AIStatus,
  progress: z.int().nullish(),
  error: z.string().nullish(),
  updated_at: timestamp,
});

export const ThreadWithNotes = Thread.extend({
  notes: z.array(ThreadNote),
  ai_status: AIState.nullish(),
});

export const Ticket = z.object({
  id: uuid,
  org_id: uuid,
  requester_id: uuid,
  subject: z.string(),
  status: TicketStatus,
  created_at: timestamp,
  updated_at: timestamp,
});

export const ThreadList = z.object({
  ticket_id: uuid,
  ticket: Ticket,
  threads: z.array(ThreadWithNotes),
});

// Request bodies are strict, as the server's are (extra="forbid").
export const CreateThread = z.strictObject({
  id: uuid.nullish(),
  subject: z.string().min(1).max(500).regex(/\S/),
});

export const CreateNote = z.strictObject({
  id: uuid.nullish(),
  body: z.string().min(1),
  internal: z.boolean().optional(),
});

export const EditNote = z
  .strictObject({ body: z.string().min(1).nullish(), internal: z.boolean().nullish() })
  .refine((edit) => edit.body != null || edit.internal != null, "give body, internal, or both");

export const SetAIStatus = z.strictObject({
  status: AIStatus,
  progress: percent.nullish(),
  error: z.string().max(2000).nullish(),
});

export const Problem = z.object({ field: z.string(), problem: z.string() });

export const ErrorBody = z.looseObject({
  error: z.string(),
  message: z.string(),
  problems: z.array(Problem).nullish(),
  current: ThreadNote.nullish(),
});

/** The schema of a postgres_changes payload of `table`. */
export function changesSchemaFor(table: string): z.ZodType<T.PostgresChangesPayload<unknown>> {
  if (table === "ticket_threads") return ThreadRealtimePayload;
  if (table === "ticket_notes") return NoteRealtimePayload;
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
same<z.infer<typeof AIState>, T.AIState>(true);
same<z.infer<typeof ThreadWithNotes>, T.ThreadWithNotes>(true);
same<z.infer<typeof Ticket>, T.Ticket>(true);
same<z.infer<typeof ThreadList>, T.ThreadList>(true);
same<z.infer<typeof CreateThread>, T.CreateThread>(true);
same<z.infer<typeof CreateNote>, T.CreateNote>(true);
same<z.infer<typeof EditNote>, T.EditNote>(true);
same<z.infer<typeof SetAIStatus>, T.SetAIStatus>(true);
