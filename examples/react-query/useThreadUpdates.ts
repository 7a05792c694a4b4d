// The seed's useThreadUpdates hook, on threadcast.js instead of supabase-js: same channel, same
// bindings and filters, same query keys and invalidations.
import { useEffect } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ConflictError, createClient } from "threadcast/static/threadcast.js";
import type { ThreadNote, ThreadWithNotes } from "threadcast/static/threadcast.d.ts";

export const threadcast = createClient(location.origin, { token: getToken() });

export interface UseThreadsOptions {
  ticketId?: string;
}

export const threadKeys = {
  all: ["threads"] as const,
  list: (options: UseThreadsOptions) => [...threadKeys.all, "list", options] as const,
  detail: (threadId: string) => [...threadKeys.all, "detail", threadId] as const,
};

export function useThreadUpdates(options: UseThreadsOptions) {
  const queryClient = useQueryClient();

  useEffect(() => {
    if (!options.ticketId) return;

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

/** Edit a note optimistically; on 412 roll back to the winner's version and surface it. */
export function useEditNote(threadId: string) {
  const queryClient = useQueryClient();
  const key = threadKeys.detail(threadId);
  return useMutation({
    mutationFn: ({ note, body }: { note: ThreadNote; body: string }) =>
      threadcast.rest.editNote(note.id, note.version, { body }),
    onMutate: async ({ note, body }) => {
      await queryClient.cancelQueries({ queryKey: key });
      const previous = queryClient.getQueryData<ThreadWithNotes>(key);
      queryClient.setQueryData<ThreadWithNotes>(key, (thread) => thread && {
        ...thread,
        notes: thread.notes.map((n) => (n.id === note.id ? { ...n, body } : n)),
      });
      return { previous };
    },
    onError: (error, { note }, context) => {
      if (error instanceof ConflictError && error.current) {
        // Someone else saved first: show their text, not ours and not the stale one.
        const winner = error.current;
        queryClient.setQueryData<ThreadWithNotes>(key, (thread) => thread && {
          ...thread,
          notes: thread.notes.map((n) => (n.id === note.id ? winner : n)),
        });
      } else if (context?.previous) {
        queryClient.setQueryData(key, context.previous);
      }
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: key }),
  });
}

function getToken(): string {
  return new URLSearchParams(location.search).get("token") ?? "";
}
