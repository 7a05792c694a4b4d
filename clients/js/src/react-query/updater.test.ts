import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { THREAD, TICKET, list, note, noteEvent, thread } from "../test/fixtures.js";
import type { ThreadList, ThreadWithNotes } from "../types.js";
import { threadKeys } from "./keys.js";
import { ThreadUpdater } from "./updater.js";

function seeded(): QueryClient {
  const queryClient = new QueryClient();
  queryClient.setQueryData(threadKeys.list({ ticketId: TICKET }), list([thread([note(1)])]));
  queryClient.setQueryData(threadKeys.detail(THREAD), thread([note(1)]));
  return queryClient;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("ThreadUpdater", () => {
  it("patches the list and the detail for one burst, in one update each", async () => {
    const queryClient = seeded();
    const updates: string[] = [];
    queryClient.getQueryCache().subscribe((event) => {
      if (event.type === "updated" && event.action.type === "success") updates.push(String(event.query.queryKey[1]));
    });
    const updater = new ThreadUpdater(queryClient, 20);
    updater.change(noteEvent("INSERT", note(2)));
    updater.change(noteEvent("UPDATE", note(2, 2, "edited")));
    updater.change(noteEvent("UPDATE", note(2, 2, "edited"))); // repeated
    updater.change(noteEvent("UPDATE", note(1, 3, "newest")));
    updater.change(noteEvent("UPDATE", note(1, 2, "late"))); // out of order
    expect(updates).toEqual([]); // gathered, not yet applied
    await sleep(40);
    expect(updates.sort()).toEqual(["detail", "list"]);
    const expected = [note(1, 3, "newest"), note(2, 2, "edited")];
    expect(queryClient.getQueryData<ThreadList>(threadKeys.list({ ticketId: TICKET }))?.threads[0]?.notes).toEqual(expected);
    expect(queryClient.getQueryData<ThreadWithNotes>(threadKeys.detail(THREAD))?.notes).toEqual(expected);
  });

  it("invalidates what it cannot patch", async () => {
    const queryClient = seeded();
    const updater = new ThreadUpdater(queryClient, 0);
    updater.change(noteEvent("INSERT", { ...note(3), thread_id: "00000000-0000-0000-0000-000000007109" }));
    expect(queryClient.getQueryState(threadKeys.list({ ticketId: TICKET }))?.isInvalidated).toBe(true);
    expect(queryClient.getQueryState(threadKeys.detail(THREAD))?.isInvalidated).toBe(false);
  });

  it("keeps the latest AI status of a burst", async () => {
    const queryClient = seeded();
    const updater = new ThreadUpdater(queryClient, 10);
    for (const progress of [10, 20, 30]) updater.aiStatus({ threadId: THREAD, status: "processing", progress });
    await sleep(30);
    expect(queryClient.getQueryData(threadKeys.ai(THREAD))).toEqual({ threadId: THREAD, status: "processing", progress: 30 });
  });
});
