// Rows and events for the unit tests (the ids are the ones tests/support.py seeds).
import type {
  InboxTicket, NoteRealtimePayload, ThreadList, ThreadNote, ThreadRealtimePayload, ThreadWithNotes, TicketList,
  TicketRealtimePayload,
} from "../types.js";

export const TICKET = "00000000-0000-0000-0000-000000007001";
export const ORG = "00000000-0000-0000-0000-00000000000a";
export const THREAD = "00000000-0000-0000-0000-000000007101";
const AGENT = "00000000-0000-0000-0000-0000000000a1";

export function note(n: number, version = 1, body = `note ${n}`): ThreadNote {
  return {
    id: `00000000-0000-0000-0000-${String(0x7200 + n).padStart(12, "0")}`,
    thread_id: THREAD, ticket_id: TICKET, author_id: AGENT, body, internal: false,
    created_at: `2026-01-01T00:00:0${n}+00:00`, updated_at: `2026-01-01T00:00:0${n}+00:00`, version,
  };
}

export function thread(notes: ThreadNote[] = [], id = THREAD, version = 1): ThreadWithNotes {
  return {
    id, ticket_id: TICKET, subject: "Diagnosis", status: "open", created_by: AGENT,
    created_at: "2026-01-01T00:00:00+00:00", updated_at: "2026-01-01T00:00:00+00:00", version,
    notes, ai_status: null,
  };
}

export function list(threads: ThreadWithNotes[]): ThreadList {
  return {
    ticket_id: TICKET,
    ticket: {
      id: TICKET, org_id: "00000000-0000-0000-0000-00000000000a", requester_id: "00000000-0000-0000-0000-0000000000c1",
      subject: "Printer on fire", status: "open", created_at: "2026-01-01T00:00:00+00:00", updated_at: "2026-01-01T00:00:00+00:00",
      version: 1,
    },
    threads,
    position: "1-1",
  };
}

const base = { schema: "public", commit_timestamp: "2026-01-01T00:00:00+00:00", errors: null };

export function noteEvent(eventType: "INSERT" | "UPDATE" | "DELETE", row: ThreadNote, old?: ThreadNote): NoteRealtimePayload {
  const table = "ticket_notes";
  if (eventType === "INSERT") return { ...base, table, eventType, new: row, old: null };
  if (eventType === "UPDATE") return { ...base, table, eventType, new: row, old: old ?? { ...row, version: row.version - 1 } };
  return { ...base, table, eventType, new: {}, old: row };
}

export function threadEvent(eventType: "INSERT" | "UPDATE" | "DELETE", row: ThreadWithNotes): ThreadRealtimePayload {
  const { notes: _notes, ai_status: _ai, ...bare } = row;
  const table = "ticket_threads";
  if (eventType === "INSERT") return { ...base, table, eventType, new: bare, old: null };
  if (eventType === "UPDATE") return { ...base, table, eventType, new: bare, old: { ...bare, version: bare.version - 1 } };
  return { ...base, table, eventType, new: {}, old: bare };
}

/** Ticket n of ORG (1 is the seeded one), updated at second `at`. */
export function ticket(n: number, version = 1, at = n, subject = `ticket ${n}`): InboxTicket {
  return {
    id: `00000000-0000-0000-0000-${String(0x7000 + n).padStart(12, "0")}`, org_id: ORG,
    requester_id: "00000000-0000-0000-0000-0000000000c1", subject, status: "open",
    created_at: "2026-01-01T00:00:00+00:00", updated_at: `2026-01-01T00:00:${String(at).padStart(2, "0")}+00:00`,
    version, ai_statuses: [],
  };
}

export function tickets(rows: InboxTicket[]): TicketList {
  return { tickets: rows, position: "1-1" };
}

export function ticketEvent(eventType: "INSERT" | "UPDATE" | "DELETE", row: InboxTicket): TicketRealtimePayload {
  const { ai_statuses: _ai, ...bare } = row;
  const table = "tickets";
  if (eventType === "INSERT") return { ...base, table, eventType, new: bare, old: null };
  if (eventType === "UPDATE") return { ...base, table, eventType, new: bare, old: { ...bare, version: bare.version - 1 } };
  return { ...base, table, eventType, new: {}, old: bare };
}
