import { describe, expect, it } from "vitest";
import { list, note, noteEvent, thread, threadEvent } from "../test/fixtures.js";
import { Tombstones, patchList, patchThread } from "./cache.js";

describe("patchThread (a detail)", () => {
  it("adds an inserted note once, however often the event comes", () => {
    const deleted = new Tombstones();
    const once = patchThread(thread([note(1)]), noteEvent("INSERT", note(2)), deleted).next;
    const twice = patchThread(once, noteEvent("INSERT", note(2)), deleted);
    expect(twice.next.notes.map((n) => n.id)).toEqual([note(1).id, note(2).id]);
    expect(twice.next).toBe(once); // nothing changed: the same object, no render
  });

  it("never rolls a note back for a late update", () => {
    const deleted = new Tombstones();
    const v3 = patchThread(thread([note(1)]), noteEvent("UPDATE", note(1, 3, "third")), deleted).next;
    const late = patchThread(v3, noteEvent("UPDATE", note(1, 2, "second")), deleted).next;
    expect(late.notes[0]?.body).toBe("third");
  });

  it("does not bring a deleted note back for a late insert or update", () => {
    const deleted = new Tombstones();
    const gone = patchThread(thread([note(1)]), noteEvent("DELETE", note(1)), deleted).next;
    expect(gone.notes).toEqual([]);
    expect(patchThread(gone, noteEvent("INSERT", note(1)), deleted).next.notes).toEqual([]);
    expect(patchThread(gone, noteEvent("UPDATE", note(1, 2)), deleted).next.notes).toEqual([]);
  });

  it("ignores another thread's notes and refetches when its own thread is deleted", () => {
    const deleted = new Tombstones();
    const other = { ...note(2), thread_id: "00000000-0000-0000-0000-000000007102" };
    const same = thread([note(1)]);
    expect(patchThread(same, noteEvent("INSERT", other), deleted).next).toBe(same);
    expect(patchThread(same, threadEvent("DELETE", same), deleted).stale).toBe(true);
  });
});

describe("patchList (a ticket's threads)", () => {
  it("patches a thread's notes for INSERT, UPDATE and DELETE", () => {
    const deleted = new Tombstones();
    let data = list([thread([note(1)])]);
    data = patchList(data, noteEvent("INSERT", note(2)), deleted).next;
    data = patchList(data, noteEvent("UPDATE", note(1, 2, "edited")), deleted).next;
    data = patchList(data, noteEvent("DELETE", note(2)), deleted).next;
    expect(data.threads[0]?.notes).toEqual([note(1, 2, "edited")]);
  });

  it("adds a new thread once and keeps the newest version of a thread", () => {
    const deleted = new Tombstones();
    const fresh = thread([], "00000000-0000-0000-0000-000000007102");
    let data = patchList(list([thread()]), threadEvent("INSERT", fresh), deleted).next;
    data = patchList(data, threadEvent("INSERT", fresh), deleted).next;
    expect(data.threads.map((t) => t.id)).toEqual([thread().id, fresh.id]);
    const renamed = { ...thread(), subject: "Renamed", version: 3 };
    data = patchList(data, threadEvent("UPDATE", renamed), deleted).next;
    data = patchList(data, threadEvent("UPDATE", { ...thread(), subject: "Older", version: 2 }), deleted).next;
    expect(data.threads[0]?.subject).toBe("Renamed");
  });

  it("asks for a refetch when a note's thread is not in the list", () => {
    const deleted = new Tombstones();
    const orphan = { ...note(3), thread_id: "00000000-0000-0000-0000-000000007109" };
    expect(patchList(list([thread()]), noteEvent("INSERT", orphan), deleted).stale).toBe(true);
  });

  it("ignores another ticket's events", () => {
    const deleted = new Tombstones();
    const data = list([thread()]);
    const foreign = { ...note(4), ticket_id: "00000000-0000-0000-0000-000000007002" };
    expect(patchList(data, noteEvent("INSERT", foreign), deleted)).toEqual({ next: data, stale: false });
  });
});
