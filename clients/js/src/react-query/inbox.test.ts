import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { ORG, THREAD, ticket, ticketEvent, tickets } from "../test/fixtures.js";
import type { TicketList } from "../types.js";
import { Tombstones } from "./cache.js";
import { patchTicketAI, patchTickets } from "./inbox.js";
import { ticketKeys } from "./keys.js";
import { TicketUpdater } from "./tickets.js";

const OTHER_ORG = "00000000-0000-0000-0000-00000000000b";
const subjects = (list: TicketList) => list.tickets.map((t) => `${t.subject}@${t.version}`);

describe("patchTickets", () => {
  it("adds a new ticket in update order, most recent first", () => {
    const list = tickets([ticket(2, 1, 20), ticket(1, 1, 10)]);
    const { next, stale } = patchTickets(list, ticketEvent("INSERT", ticket(3, 1, 15)), new Tombstones(), ORG);
    expect(subjects(next)).toEqual(["ticket 2@1", "ticket 3@1", "ticket 1@1"]);
    expect(stale).toBe(false);
  });

  it("applies a newer version and never rolls back to an older or equal one", () => {
    const deleted = new Tombstones();
    let list = tickets([ticket(1, 1, 10, "first"), ticket(2, 1, 5)]);
    list = patchTickets(list, ticketEvent("UPDATE", ticket(1, 3, 30, "third")), deleted, ORG).next;
    const repeated = patchTickets(list, ticketEvent("UPDATE", ticket(1, 3, 30, "third")), deleted, ORG);
    const late = patchTickets(list, ticketEvent("UPDATE", ticket(1, 2, 20, "second")), deleted, ORG);
    expect(repeated.next).toBe(list);
    expect(late.next).toBe(list);
    expect(subjects(list)).toEqual(["third@3", "ticket 2@1"]);
  });

  it("moves an updated ticket to the top and keeps its AI states", () => {
    const held = { ...ticket(1, 1, 1), ai_statuses: [{ thread_id: THREAD, status: "started" as const, updated_at: "x" }] };
    const list = tickets([ticket(2, 1, 20), held]);
    const { next } = patchTickets(list, ticketEvent("UPDATE", ticket(1, 2, 40, "hot")), new Tombstones(), ORG);
    expect(subjects(next)).toEqual(["hot@2", "ticket 2@1"]);
    expect(next.tickets[0]?.ai_statuses).toEqual(held.ai_statuses);
  });

  it("removes a deleted ticket, and a late event does not bring it back", () => {
    const deleted = new Tombstones();
    const list = tickets([ticket(1), ticket(2)]);
    const gone = patchTickets(list, ticketEvent("DELETE", ticket(1)), deleted, ORG).next;
    expect(subjects(gone)).toEqual(["ticket 2@1"]);
    const late = patchTickets(gone, ticketEvent("UPDATE", ticket(1, 2)), deleted, ORG);
    expect(late.next).toBe(gone);
    expect(late.stale).toBe(false);
  });

  it("ignores another organisation's tickets", () => {
    const list = tickets([ticket(1)]);
    const foreign = { ...ticket(5), org_id: OTHER_ORG };
    expect(patchTickets(list, ticketEvent("INSERT", foreign), new Tombstones(), ORG).next).toBe(list);
  });

  it("keeps at most `limit` tickets: under, at and over it", () => {
    const list = tickets([ticket(2, 1, 20), ticket(1, 1, 10)]);
    const insert = ticketEvent("INSERT", ticket(3, 1, 30));
    expect(patchTickets(list, insert, new Tombstones(), ORG, 4).next.tickets).toHaveLength(3);
    expect(patchTickets(list, insert, new Tombstones(), ORG, 3).next.tickets).toHaveLength(3);
    expect(subjects(patchTickets(list, insert, new Tombstones(), ORG, 2).next)).toEqual(["ticket 3@1", "ticket 2@1"]);
    expect(subjects(patchTickets(list, insert, new Tombstones(), ORG, 1).next)).toEqual(["ticket 3@1"]);
  });

  it("shows an UPDATE of a ticket it does not hold, and asks for a read (its AI states are unknown)", () => {
    const list = tickets([ticket(1)]);
    const { next, stale } = patchTickets(list, ticketEvent("UPDATE", ticket(4, 5, 50)), new Tombstones(), ORG);
    expect(subjects(next)).toEqual(["ticket 4@5", "ticket 1@1"]);
    expect(stale).toBe(true);
  });
});

describe("patchTicketAI", () => {
  it("replaces the thread's state on its ticket and leaves other tickets and threads alone", () => {
    const other = "00000000-0000-0000-0000-000000007109";
    const t1 = { ...ticket(1), ai_statuses: [{ thread_id: other, status: "completed" as const, updated_at: "a" }] };
    const list = tickets([t1, ticket(2)]);
    const once = patchTicketAI(list, { threadId: THREAD, ticketId: t1.id, status: "processing", progress: 10 }, "b");
    const twice = patchTicketAI(once, { threadId: THREAD, ticketId: t1.id, status: "failed", error: "down" }, "c");
    expect(twice.tickets[0]?.ai_statuses).toEqual([
      { thread_id: other, status: "completed", updated_at: "a" },
      { thread_id: THREAD, status: "failed", progress: null, error: "down", updated_at: "c" },
    ]);
    expect(twice.tickets[1]).toBe(list.tickets[1]);
    expect(patchTicketAI(list, { threadId: THREAD, ticketId: ticket(9).id, status: "started" }, "d")).toBe(list);
  });
});

describe("TicketUpdater", () => {
  it("patches each organisation's cached lists with its own events, one burst at a time", async () => {
    const queryClient = new QueryClient();
    const mine = ticketKeys.list({ orgId: ORG });
    const short = ticketKeys.list({ orgId: ORG, limit: 1 });
    const theirs = ticketKeys.list({ orgId: OTHER_ORG });
    queryClient.setQueryData(mine, tickets([ticket(1)]));
    queryClient.setQueryData(short, tickets([ticket(1)]));
    queryClient.setQueryData(theirs, tickets([]));
    const updater = new TicketUpdater(queryClient, 20);
    updater.change(ticketEvent("INSERT", ticket(2, 1, 30)));
    updater.change(ticketEvent("UPDATE", ticket(2, 2, 31, "renamed")));
    updater.aiStatus({ threadId: THREAD, ticketId: ticket(1).id, status: "started" });
    expect(subjects(queryClient.getQueryData<TicketList>(mine) as TicketList)).toEqual(["ticket 1@1"]);
    await new Promise((resolve) => setTimeout(resolve, 40));
    const list = queryClient.getQueryData<TicketList>(mine) as TicketList;
    expect(subjects(list)).toEqual(["renamed@2", "ticket 1@1"]);
    expect(list.tickets[1]?.ai_statuses.map((s) => s.status)).toEqual(["started"]);
    expect(subjects(queryClient.getQueryData<TicketList>(short) as TicketList)).toEqual(["renamed@2"]);
    expect(queryClient.getQueryData<TicketList>(theirs)?.tickets).toEqual([]);
    updater.dispose();
  });
});
