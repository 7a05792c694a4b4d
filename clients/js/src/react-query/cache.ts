// How a change event patches cached data, as pure functions: no React, no QueryClient.
// Every row carries `version`; a patch applies only when it is newer than what the cache
// holds, so a late or repeated event (a replay after a REST read, a resume) never rolls a row
// back. What cannot be patched from the event alone is reported stale, to be refetched.
import type {
  NoteRealtimePayload, Thread, ThreadList, ThreadNote, ThreadRealtimePayload, ThreadWithNotes,
} from "../types.js";

export type Change = ThreadRealtimePayload | NoteRealtimePayload;

export interface Patched<T> {
  /** The new data (the same object when nothing changed). */
  next: T;
  /** The event says the data changed in a way it does not carry: refetch. */
  stale: boolean;
}

/** Ids of rows seen deleted: a late INSERT or UPDATE of one must not bring it back. */
export class Tombstones {
  private readonly ids = new Set<string>();
  constructor(private readonly limit = 10000) {}
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value as string);
  }
  has(id: string): boolean {
    return this.ids.has(id);
  }
}

const byCreation = (a: ThreadNote, b: ThreadNote): number =>
  a.created_at === b.created_at ? (a.id < b.id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1;

/** `note` in `notes` if it is newer than the copy held (or there is none). */
export function upsertNote(notes: ThreadNote[], note: ThreadNote): ThreadNote[] {
  const index = notes.findIndex((n) => n.id === note.id);
  if (index < 0) return [...notes, note].sort(byCreation);
  if ((notes[index] as ThreadNote).version >= note.version) return notes;
  return notes.map((n, i) => (i === index ? note : n));
}

export function removeNote(notes: ThreadNote[], noteId: string): ThreadNote[] {
  return notes.some((n) => n.id === noteId) ? notes.filter((n) => n.id !== noteId) : notes;
}

function withNotes<T extends ThreadWithNotes>(thread: T, notes: ThreadNote[]): T {
  return notes === thread.notes ? thread : { ...thread, notes };
}

function threadFields(thread: ThreadWithNotes, row: Thread): ThreadWithNotes {
  return row.version > thread.version ? { ...thread, ...row, notes: thread.notes, ai_status: thread.ai_status } : thread;
}

/** A change applied to one thread with its notes (a detail query's data). */
export function patchThread(
  thread: ThreadWithNotes, change: Change, deleted: Tombstones,
): Patched<ThreadWithNotes> {
  const same = { next: thread, stale: false };
  if (change.table === "ticket_threads") {
    const { eventType } = change;
    const row = (change as ThreadRealtimePayload).eventType === "DELETE" ? change.old : change.new;
    if ((row as Thread).id !== thread.id) return same;
    if (eventType === "DELETE") {
      deleted.add(thread.id);
      return { next: thread, stale: true }; // gone: let the query find out (404)
    }
    return { next: threadFields(thread, row as Thread), stale: false };
  }
  const note = change as NoteRealtimePayload;
  if (note.eventType === "DELETE") {
    if (note.old.thread_id !== thread.id) return same;
    deleted.add(note.old.id);
    return { next: withNotes(thread, removeNote(thread.notes, note.old.id)), stale: false };
  }
  if (note.new.thread_id !== thread.id || deleted.has(note.new.id)) return same;
  // An UPDATE of a note not held is a note that became visible: its row is whole, add it.
  return { next: withNotes(thread, upsertNote(thread.notes, note.new)), stale: false };
}

/** A change applied to a ticket's thread list (a list query's data). */
export function patchList(list: ThreadList, change: Change, deleted: Tombstones): Patched<ThreadList> {
  const same = { next: list, stale: false };
  const row = change.eventType === "DELETE" ? change.old : change.new;
  if (row.ticket_id !== list.ticket_id) return same;
  if (change.table === "ticket_threads") {
    const thread = row as Thread;
    const index = list.threads.findIndex((t) => t.id === thread.id);
    if (change.eventType === "DELETE") {
      deleted.add(thread.id);
      return index < 0 ? same : { next: { ...list, threads: list.threads.filter((t) => t.id !== thread.id) }, stale: false };
    }
    if (index < 0) {
      if (deleted.has(thread.id)) return same;
      // A new thread has no notes yet; an UPDATE of one not held has notes we do not know.
      if (change.eventType === "UPDATE") return { next: list, stale: true };
      return { next: { ...list, threads: [...list.threads, { ...thread, notes: [], ai_status: null }] }, stale: false };
    }
    const current = list.threads[index] as ThreadWithNotes;
    const next = threadFields(current, thread);
    return next === current ? same : { next: { ...list, threads: list.threads.map((t, i) => (i === index ? next : t)) }, stale: false };
  }
  const note = row as ThreadNote;
  const index = list.threads.findIndex((t) => t.id === note.thread_id);
  if (index < 0) return deleted.has(note.thread_id) ? same : { next: list, stale: true };
  const current = list.threads[index] as ThreadWithNotes;
  const patched = patchThread(current, change, deleted);
  if (patched.next === current) return { next: list, stale: patched.stale };
  return { next: { ...list, threads: list.threads.map((t, i) => (i === index ? patched.next : t)) }, stale: patched.stale };
}

/** A note (an answer, an optimistic edit, a winner) put into a list or thread wherever it is. */
export function placeNote<T extends ThreadList | ThreadWithNotes>(data: T, note: ThreadNote, force = false): T {
  const put = (thread: ThreadWithNotes): ThreadWithNotes => {
    if (thread.id !== note.thread_id) return thread;
    const notes = force
      ? thread.notes.some((n) => n.id === note.id) ? thread.notes.map((n) => (n.id === note.id ? note : n)) : upsertNote(thread.notes, note)
      : upsertNote(thread.notes, note);
    return withNotes(thread, notes);
  };
  if ("threads" in data) {
    const threads = data.threads.map(put);
    return threads.every((t, i) => t === data.threads[i]) ? data : { ...data, threads };
  }
  return put(data) as T;
}

/** A note taken out of a list or thread. */
export function dropNote<T extends ThreadList | ThreadWithNotes>(data: T, noteId: string): T {
  const drop = (thread: ThreadWithNotes): ThreadWithNotes => withNotes(thread, removeNote(thread.notes, noteId));
  if ("threads" in data) {
    const threads = data.threads.map(drop);
    return threads.every((t, i) => t === data.threads[i]) ? data : { ...data, threads };
  }
  return drop(data) as T;
}

/** The note `noteId` as a list or thread holds it. */
export function findNote(data: ThreadList | ThreadWithNotes, noteId: string): ThreadNote | undefined {
  const threads = "threads" in data ? data.threads : [data];
  for (const thread of threads) {
    const note = thread.notes.find((n) => n.id === noteId);
    if (note) return note;
  }
  return undefined;
}
