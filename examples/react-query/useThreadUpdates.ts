// The seed's useThreadUpdates hook, on threadcast.js instead of supabase-js: same channel, same
// bindings and filters, same query keys and invalidations. Plus the queries those keys name,
// an optimistic note edit that handles conflicts, and the AI status stream.
import { useEffect, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  type AIProcessingPayload,
  ConflictError,
  createClient,
  type ThreadNote,
  type ThreadWithNotes,
} from "threadcast/static/threadcast.js";

export const threadcast = createClient(location.origin, {
  // Called before every connection and request, so a refreshed token is picked up, and a
  // stream that ended with `expired` reconnects with the new one.
  token: () => getToken(),
  // The seed's "debounce rapid state updates": a burst of events invalidates once.
  throttleMs: 100,
});

export interface UseThreadsOptions {
  ticketId?: string;
}

export const threadKeys = {
  all: ["threads"] as const,
  list: (options: UseThreadsOptions) => [...threadKeys.all, "list", options] as const,
  detail: (threadId: string) => [...threadKeys.all, "detail", threadId] as const,
};

export function useThreads(options: UseThreadsOptions) {
  return useQuery({
    queryKey: threadKeys.list(options),
    queryFn: async () => (await threadcast.rest.listThreads(options.ticketId!)).threads,
    enabled: !!options.ticketId,
  });
}

export function useThread(threadId: string) {
  return useQuery({
    queryKey: threadKeys.detail(threadId),
    queryFn: () => threadcast.rest.getThread(threadId),
  });
}

export function useThreadUpdates(options: UseThreadsOptions) {
  const queryClient = useQueryClient();

  useEffect(() => {
    if (!options.ticketId) return;

    // Subscribe to thread changes
    const channel = threadcast
      .channel(`ticket-threads:${options.ticketId}`)
      .on("postgres_changes", {
        event: "INSERT",
        schema: "public",
        table: "ticket_threads",
        filter: `ticket_id=eq.${options.ticketId}`,
      }, () => {
        queryClient.invalidateQueries({ queryKey: threadKeys.list(options) });
      })
      .on<ThreadNote>("postgres_changes", {
        event: "UPDATE",
        schema: "public",
        table: "ticket_notes",
        filter: `ticket_id=eq.${options.ticketId}`,
      }, (payload) => {
        // `new` is {} only on DELETE, which this binding does not receive.
        if ("thread_id" in payload.new && payload.new.thread_id) {
          queryClient.invalidateQueries({ queryKey: threadKeys.detail(payload.new.thread_id) });
        }
      })
      .subscribe();

    return () => {
      channel.unsubscribe();
    };
  }, [options.ticketId, queryClient]);
}

/**
 * Edit a note optimistically. The edit carries the version it is based on (If-Match); if
 * someone saved first the server answers 412 and the cache shows the winner's note, not ours
 * and not the stale one. `mutation.error` is then a ConflictError whose `current` is theirs.
 */
export function useEditNote(threadId: string) {
  const queryClient = useQueryClient();
  const key = threadKeys.detail(threadId);
  const replace = (id: string, next: (note: ThreadNote) => ThreadNote) =>
    queryClient.setQueryData<ThreadWithNotes>(key, (thread) => thread && {
      ...thread,
      notes: thread.notes.map((n) => (n.id === id ? next(n) : n)),
    });
  return useMutation({
    mutationFn: ({ note, body }: { note: ThreadNote; body: string }) =>
      threadcast.rest.editNote(note.id, note.version, { body }),
    onMutate: async ({ note, body }: { note: ThreadNote; body: string }) => {
      await queryClient.cancelQueries({ queryKey: key });
      const previous = queryClient.getQueryData<ThreadWithNotes>(key);
      replace(note.id, (n) => ({ ...n, body }));
      return { previous };
    },
    onError: (error: Error, { note }, context) => {
      if (error instanceof ConflictError && error.current) {
        const winner = error.current;
        replace(note.id, () => winner);
      } else if (context?.previous) {
        queryClient.setQueryData(key, context.previous); // roll back
      }
    },
    onSuccess: (saved: ThreadNote) => replace(saved.id, () => saved),
    onSettled: () => queryClient.invalidateQueries({ queryKey: key }),
  });
}

/**
 * Add a note optimistically. The note's id is chosen here, so the optimistic row already has
 * the id the server will give it: the realtime INSERT and the refetch replace it in place
 * instead of showing it twice, and a retry after a lost answer cannot make a second note
 * (the server replays the first). On an error the optimistic row is taken out again.
 */
export function useAddNote(threadId: string, authorId: string) {
  const queryClient = useQueryClient();
  const key = threadKeys.detail(threadId);
  type NewNote = { id: string; body: string; internal?: boolean };
  return useMutation({
    mutationFn: ({ id, body, internal }: NewNote) =>
      threadcast.rest.addNote(threadId, body, internal, { id }),
    onMutate: async ({ id, body, internal = false }: NewNote) => {
      await queryClient.cancelQueries({ queryKey: key });
      const now = new Date().toISOString();
      const optimistic: ThreadNote = {
        id, thread_id: threadId, ticket_id: "", author_id: authorId, body, internal,
        created_at: now, updated_at: now, version: 1,
      };
      queryClient.setQueryData<ThreadWithNotes>(key, (thread) => thread && {
        ...thread,
        notes: [...thread.notes.filter((n) => n.id !== id), optimistic],
      });
    },
    onError: (_error: Error, { id }: NewNote) =>
      queryClient.setQueryData<ThreadWithNotes>(key, (thread) => thread && {
        ...thread,
        notes: thread.notes.filter((n) => n.id !== id),
      }),
    onSettled: () => queryClient.invalidateQueries({ queryKey: key }),
  });
}
// Usage: const add = useAddNote(threadId, me); add.mutate({ id: randomId(), body }), with
// randomId imported from threadcast.js.

/** The latest AI processing status of each thread on the ticket, live. */
export function useAIStatus(ticketId?: string) {
  const [status, setStatus] = useState<Record<string, AIProcessingPayload>>({});
  useEffect(() => {
    if (!ticketId) return;
    const channel = threadcast
      .channel(`ticket-threads:${ticketId}`)
      .on("ai_status", (payload) => setStatus((all) => ({ ...all, [payload.threadId]: payload })))
      .subscribe();
    return () => channel.unsubscribe();
  }, [ticketId]);
  return status;
}

function getToken(): string {
  return new URLSearchParams(location.search).get("token") ?? "";
}
