// Applies change events to a QueryClient's thread caches, a burst at a time: events gathered
// for `coalesceMs` are folded into each cached list and detail once (one render per burst),
// and what cannot be patched is invalidated once. No React here.
import { type QueryClient, notifyManager } from "@tanstack/react-query";
import type { AIProcessingPayload, ThreadList, ThreadWithNotes } from "../types.js";
import { type Change, type Patched, Tombstones, patchList, patchThread } from "./cache.js";
import { threadKeys } from "./keys.js";

export class ThreadUpdater {
  private changes: Change[] = [];
  private ai = new Map<string, AIProcessingPayload>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly deleted = new Tombstones();

  constructor(private readonly queryClient: QueryClient, private readonly coalesceMs = 30) {}

  change(change: Change): void {
    this.changes.push(change);
    this.schedule();
  }

  aiStatus(payload: AIProcessingPayload): void {
    this.ai.set(payload.threadId, payload); // within a burst only the latest counts
    this.schedule();
  }

  private schedule(): void {
    if (this.coalesceMs <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.coalesceMs);
  }

  /** Apply everything gathered so far. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const changes = this.changes;
    const ai = this.ai;
    this.changes = [];
    this.ai = new Map();
    notifyManager.batch(() => {
      if (changes.length) {
        this.apply<ThreadList>(threadKeys.lists(), changes, patchList);
        this.apply<ThreadWithNotes>(threadKeys.details(), changes, patchThread);
      }
      for (const [threadId, payload] of ai) this.queryClient.setQueryData(threadKeys.ai(threadId), payload);
    });
  }

  private apply<T extends object>(
    prefix: readonly unknown[], changes: Change[],
    patch: (data: T, change: Change, deleted: Tombstones) => Patched<T>,
  ): void {
    for (const query of this.queryClient.getQueryCache().findAll({ queryKey: prefix })) {
      const data = query.state.data as T | undefined;
      // A read in flight may predate these events: read again rather than patch under it.
      if (data === undefined || query.state.fetchStatus === "fetching") {
        if (query.state.fetchStatus === "fetching") void this.queryClient.invalidateQueries({ queryKey: query.queryKey, exact: true });
        continue;
      }
      let next = data;
      let stale = false;
      for (const change of changes) {
        const patched = patch(next, change, this.deleted);
        next = patched.next;
        stale ||= patched.stale;
      }
      if (next !== data) this.queryClient.setQueryData(query.queryKey, next);
      if (stale) void this.queryClient.invalidateQueries({ queryKey: query.queryKey, exact: true });
    }
  }

  /** Everything cached may be behind (a `reset`): refetch it all. */
  invalidateAll(): void {
    void this.queryClient.invalidateQueries({ queryKey: threadKeys.all });
  }

  dispose(): void {
    this.flush();
  }
}
