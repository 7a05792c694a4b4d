// How inbox events patch a cached ticket list, as pure functions: no React, no QueryClient.
// The rules of cache.ts: a ticket's change applies only when its version is newer than the
// copy held, so a repeated or late event (the replay after a REST read, a resume) never rolls
// it back; a deleted ticket stays deleted; what the event cannot carry is reported stale.
import type { AIProcessingPayload, AIState, InboxTicket, Ticket, TicketList, TicketRealtimePayload } from "../types.js";
import type { Patched, Tombstones } from "./cache.js";

/** Most recently updated first, as GET /v1/tickets answers. */
const byUpdate = (a: Ticket, b: Ticket): number =>
  a.updated_at === b.updated_at ? (a.id < b.id ? -1 : 1) : a.updated_at > b.updated_at ? -1 : 1;

/** A ticket change applied to one organisation's list (`orgId`), at most `limit` long. */
export function patchTickets(
  list: TicketList, change: TicketRealtimePayload, deleted: Tombstones, orgId: string, limit = Infinity,
): Patched<TicketList> {
  const same = { next: list, stale: false };
  const row = change.eventType === "DELETE" ? change.old : change.new;
  if (row.org_id !== orgId) return same;
  const index = list.tickets.findIndex((t) => t.id === row.id);
  if (change.eventType === "DELETE") {
    deleted.add(row.id);
    return index < 0 ? same : { next: { ...list, tickets: list.tickets.filter((t) => t.id !== row.id) }, stale: false };
  }
  if (deleted.has(row.id)) return same;
  if (index < 0) {
    // A new ticket has no threads yet. An UPDATE of one not held (beyond the list's limit, or
    // new to this reader) has AI states the event does not carry: show it, and read again.
    const added: InboxTicket = { ...change.new, ai_statuses: [] };
    const tickets = [...list.tickets, added].sort(byUpdate).slice(0, limit);
    return { next: { ...list, tickets }, stale: change.eventType === "UPDATE" };
  }
  const current = list.tickets[index] as InboxTicket;
  if (current.version >= row.version) return same;
  const updated: InboxTicket = { ...current, ...change.new, ai_statuses: current.ai_statuses };
  const tickets = list.tickets.map((t, i) => (i === index ? updated : t)).sort(byUpdate);
  return { next: { ...list, tickets }, stale: false };
}

/**
 * An inbox ai_status event (it names its ticket) applied to a list: the thread's state on its
 * ticket replaced. The event carries no time: `receivedAt` stands in for updated_at. A
 * ticket not held is left alone (a later read has it).
 */
export function patchTicketAI(
  list: TicketList, event: AIProcessingPayload, receivedAt: string,
): TicketList {
  const index = list.tickets.findIndex((t) => t.id === event.ticketId);
  if (index < 0) return list;
  const ticket = list.tickets[index] as InboxTicket;
  const state: AIState = {
    thread_id: event.threadId, status: event.status, progress: event.progress ?? null,
    error: event.error ?? null, updated_at: receivedAt,
  };
  const others = ticket.ai_statuses.filter((s) => s.thread_id !== event.threadId);
  const next = { ...ticket, ai_statuses: [...others, state] };
  return { ...list, tickets: list.tickets.map((t, i) => (i === index ? next : t)) };
}
