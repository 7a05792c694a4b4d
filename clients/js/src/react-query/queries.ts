import { type UseQueryResult, useQuery } from "@tanstack/react-query";
import { isRetryable } from "../errors.js";
import type { AIProcessingPayload, ThreadList, ThreadWithNotes } from "../types.js";
import { useThreadcast } from "./context.js";
import { type UseThreadsOptions, threadKeys } from "./keys.js";

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

/** A thread's AI processing status: read once, then each ai_status event replaces it. */
export function useAIStatus(threadId: string | undefined): UseQueryResult<AIProcessingPayload | null> {
  const client = useThreadcast();
  return useQuery({
    queryKey: threadKeys.ai(threadId ?? ""),
    queryFn: async ({ signal }) => {
      const state = (await client.rest.getThread(threadId ?? "", { signal })).ai_status;
      return state ? { threadId: state.thread_id, status: state.status, progress: state.progress, error: state.error } : null;
    },
    enabled: Boolean(threadId),
    staleTime: Infinity, // the events keep it current
    retry,
  });
}
