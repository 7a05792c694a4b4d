import { type QueryClient, type UseQueryResult, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import type { Channel } from "../channel.js";
import { isRetryable } from "../errors.js";
import type { AIProcessingPayload, ThreadList, ThreadWithNotes } from "../types.js";
import { useThreadcast } from "./context.js";
import { type UseThreadsOptions, threadKeys } from "./keys.js";
import { positionOf, whenSettled } from "./position.js";

/** Retry network failures and 5xx up to three times; a 4xx never (it would only repeat). */
export const retry = (failureCount: number, error: Error): boolean => failureCount < 3 && isRetryable(error);

/** A ticket's threads with their notes, kept fresh by useThreadUpdates. */
export function useThreads(options: UseThreadsOptions): UseQueryResult<ThreadList> {
  const client = useThreadcast();
  return useQuery({
    queryKey: threadKeys.list(options),
    queryFn: ({ signal }) => client.rest.listThreads(options.ticketId, { signal }),
    enabled: Boolean(options.ticketId),
    retry,
  });
}

/** One thread with its notes, kept fresh by useThreadUpdates. */
export function useThread(threadId: string | undefined): UseQueryResult<ThreadWithNotes> {
  const client = useThreadcast();
  return useQuery({
    queryKey: threadKeys.detail(threadId ?? ""),
    queryFn: ({ signal }) => client.rest.getThread(threadId ?? "", { signal }),
    enabled: Boolean(threadId),
    retry,
  });
}

/** Which ticket each thread read by useAIStatus belongs to, and the read's position. */
const aiReads = new WeakMap<QueryClient, Map<string, { ticketId: string; position: string | undefined }>>();

/**
 * A thread's AI processing status: read once, then each ai_status event replaces it. The
 * events come on the ticket's channel (the client's one stream), from the read's position.
 */
export function useAIStatus(threadId: string | undefined): UseQueryResult<AIProcessingPayload | null> {
  const client = useThreadcast();
  const queryClient = useQueryClient();
  const result = useQuery({
    queryKey: threadKeys.ai(threadId ?? ""),
    queryFn: async ({ signal }) => {
      const thread = await client.rest.getThread(threadId ?? "", { signal });
      let reads = aiReads.get(queryClient);
      if (!reads) aiReads.set(queryClient, (reads = new Map()));
      reads.set(thread.id, { ticketId: thread.ticket_id, position: positionOf(thread) });
      const state = thread.ai_status;
      return state ? { threadId: state.thread_id, status: state.status, progress: state.progress, error: state.error } : null;
    },
    enabled: Boolean(threadId),
    staleTime: Infinity, // the events keep it current
    retry,
  });

  useEffect(() => {
    if (!threadId) return;
    let channel: Channel | undefined;
    const key = threadKeys.ai(threadId);
    let cancelled = false;
    const start = (): void => {
      const read = aiReads.get(queryClient)?.get(threadId);
      if (cancelled) return;
      if (!read) {
        // Cached without a read of ours (restored by a persister): read it, then follow.
        if (queryClient.getQueryState(key)?.status === "success") {
          void queryClient.refetchQueries({ queryKey: key, exact: true }).then(() => {
            if (aiReads.get(queryClient)?.has(threadId)) start();
          });
        }
        return; // the read failed: nothing to keep current
      }
      let first = read.position === undefined;
      channel = client
        .channel(`ticket-threads:${read.ticketId}`, read.position === undefined ? {} : { from: read.position })
        .on("ai_status", (payload) => {
          if (payload.threadId === threadId) queryClient.setQueryData(key, payload);
        })
        .on("system", (event) => {
          // No position to start from: read again once live, so nothing falls in between.
          const gap = event.type === "reset" && event.reason?.startsWith("cursor");
          if (gap || (event.type === "subscribed" && first)) {
            first = false;
            void queryClient.invalidateQueries({ queryKey: key, exact: true });
          }
        })
        .subscribe();
    };
    const cancel = whenSettled(queryClient, key, start);
    return () => {
      cancelled = true;
      cancel();
      channel?.unsubscribe();
    };
  }, [threadId, queryClient, client]);

  return result;
}
