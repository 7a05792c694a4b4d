// The writes, as React Query mutations whose functions and optimistic updates are registered
// by key (setMutationDefaults): a mutation paused offline, persisted and restored after a
// reload runs the same code as one made in this page. React Query pauses them while offline
// (networkMode "online", fed by the client's state), retries what a retry can fix, and
// resumes them once; the create's id, chosen when it is made, makes every retry safe.
import {
  type QueryClient, type UseMutationResult, useMutation,
} from "@tanstack/react-query";
import type { ThreadcastClient } from "../client.js";
import { ConflictError, isRetryable } from "../errors.js";
import { randomId } from "../ids.js";
import type { EditNote, ThreadList, ThreadNote, ThreadWithNotes } from "../types.js";
import { dropNote, findNote, placeNote } from "./cache.js";
import { mutationKeys, threadKeys } from "./keys.js";

export interface AddNoteVariables {
  threadId: string;
  body: string;
  internal?: boolean;
  /** The note's id; chosen by useAddNote when not given. */
  id: string;
}
export interface EditNoteVariables {
  noteId: string;
  /** The version the edit is based on: a stale one is a 412, rolled back to the winner. */
  version: number;
  patch: EditNote;
}
export interface DeleteNoteVariables {
  noteId: string;
  version?: number;
}
/** The notes as they were before an optimistic change, to put back on failure. */
export interface Snapshot {
  notes: ThreadNote[];
}

type Cached = ThreadList | ThreadWithNotes;

const retry = (failureCount: number, error: unknown): boolean => failureCount < 3 && isRetryable(error);

function cached(queryClient: QueryClient): [readonly unknown[], Cached][] {
  return [
    ...queryClient.getQueriesData<Cached>({ queryKey: threadKeys.lists() }),
    ...queryClient.getQueriesData<Cached>({ queryKey: threadKeys.details() }),
  ].filter((entry): entry is [readonly unknown[], Cached] => entry[1] !== undefined);
}

/** Apply `change` to every cached list and thread. */
function update(queryClient: QueryClient, change: (data: Cached) => Cached): void {
  for (const [key, data] of cached(queryClient)) {
    const next = change(data);
    if (next !== data) queryClient.setQueryData(key, next);
  }
}

function snapshot(queryClient: QueryClient, noteId: string): Snapshot {
  const notes = cached(queryClient).map(([, data]) => findNote(data, noteId)).filter((n) => n !== undefined);
  return { notes: notes.slice(0, 1) };
}

async function hold(queryClient: QueryClient): Promise<void> {
  // A read in flight would overwrite the optimistic change with what it read before.
  await queryClient.cancelQueries({ queryKey: threadKeys.lists() });
  await queryClient.cancelQueries({ queryKey: threadKeys.details() });
}

/** Roll an optimistic change back: to the winner on a 412, else to what was there. */
function rollBack(queryClient: QueryClient, noteId: string, error: unknown, before: Snapshot | undefined): void {
  if (error instanceof ConflictError) {
    const winner = error.current;
    update(queryClient, (data) => (winner ? placeNote(data, winner, true) : dropNote(data, noteId)));
  } else if (before?.notes[0]) {
    const note = before.notes[0];
    update(queryClient, (data) => placeNote(data, note, true));
  }
  void queryClient.invalidateQueries({ queryKey: threadKeys.all });
}

function ticketOf(queryClient: QueryClient, threadId: string): string {
  for (const [, data] of cached(queryClient)) {
    const threads = "threads" in data ? data.threads : [data];
    const thread = threads.find((t) => t.id === threadId);
    if (thread) return thread.ticket_id;
  }
  return "";
}

export function registerMutations(queryClient: QueryClient, client: ThreadcastClient): void {
  queryClient.setMutationDefaults(mutationKeys.addNote, {
    retry,
    mutationFn: (v: AddNoteVariables) => client.rest.addNote(v.threadId, v.body, v.internal ?? false, { id: v.id }),
    onMutate: async (v: AddNoteVariables) => {
      await hold(queryClient);
      const now = new Date().toISOString();
      // Version 0 until the server's answer or the realtime INSERT (version 1) replaces it.
      const pending: ThreadNote = {
        id: v.id, thread_id: v.threadId, ticket_id: ticketOf(queryClient, v.threadId), author_id: "",
        body: v.body, internal: v.internal ?? false, created_at: now, updated_at: now, version: 0,
      };
      update(queryClient, (data) => placeNote(data, pending));
      return { notes: [] } satisfies Snapshot;
    },
    onSuccess: (note: ThreadNote) => update(queryClient, (data) => placeNote(data, note)),
    onError: (_error: unknown, v: AddNoteVariables) => {
      update(queryClient, (data) => dropNote(data, v.id));
      void queryClient.invalidateQueries({ queryKey: threadKeys.all });
    },
  });
  queryClient.setMutationDefaults(mutationKeys.editNote, {
    retry,
    mutationFn: (v: EditNoteVariables) => client.rest.editNote(v.noteId, v.version, v.patch),
    onMutate: async (v: EditNoteVariables) => {
      await hold(queryClient);
      const before = snapshot(queryClient, v.noteId);
      const note = before.notes[0];
      if (note) {
        const edited: ThreadNote = { ...note, body: v.patch.body ?? note.body, internal: v.patch.internal ?? note.internal };
        update(queryClient, (data) => placeNote(data, edited, true));
      }
      return before;
    },
    onSuccess: (note: ThreadNote) => update(queryClient, (data) => placeNote(data, note)),
    onError: (error: unknown, v: EditNoteVariables, before: Snapshot | undefined) =>
      rollBack(queryClient, v.noteId, error, before),
  });
  queryClient.setMutationDefaults(mutationKeys.deleteNote, {
    retry,
    mutationFn: (v: DeleteNoteVariables) => client.rest.deleteNote(v.noteId, v.version),
    onMutate: async (v: DeleteNoteVariables) => {
      await hold(queryClient);
      const before = snapshot(queryClient, v.noteId);
      update(queryClient, (data) => dropNote(data, v.noteId));
      return before;
    },
    onError: (error: unknown, v: DeleteNoteVariables, before: Snapshot | undefined) =>
      rollBack(queryClient, v.noteId, error, before),
  });
}

type AddNoteInput = Omit<AddNoteVariables, "id"> & { id?: string };

/** Add a note, shown at once (version 0) and replaced by the server's row. */
export function useAddNote(): UseMutationResult<ThreadNote, Error, AddNoteInput, Snapshot> {
  const mutation = useMutation<ThreadNote, Error, AddNoteVariables, Snapshot>({ mutationKey: mutationKeys.addNote });
  // The id is chosen once, when the note is written, so every retry and resume sends the same.
  const withId = (v: AddNoteInput): AddNoteVariables => ({ ...v, id: v.id ?? randomId() });
  return {
    ...mutation,
    mutate: (v, options) => mutation.mutate(withId(v), options as never),
    mutateAsync: (v, options) => mutation.mutateAsync(withId(v), options as never),
  } as UseMutationResult<ThreadNote, Error, AddNoteInput, Snapshot>;
}

/** Edit a note optimistically; a 412 rolls it back to the winner's text. */
export function useEditNote(): UseMutationResult<ThreadNote, Error, EditNoteVariables, Snapshot> {
  return useMutation<ThreadNote, Error, EditNoteVariables, Snapshot>({ mutationKey: mutationKeys.editNote });
}

/** Delete a note optimistically; a failure puts it back (or the winner, on a 412). */
export function useDeleteNote(): UseMutationResult<null, Error, DeleteNoteVariables, Snapshot> {
  return useMutation<null, Error, DeleteNoteVariables, Snapshot>({ mutationKey: mutationKeys.deleteNote });
}
