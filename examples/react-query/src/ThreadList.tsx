import type { ThreadWithNotes } from "threadcast";

interface Props {
  threads: ThreadWithNotes[];
  selected: string | undefined;
  onSelect: (threadId: string) => void;
}

/** The list view (useThreads' cache): every thread with its notes in brief. */
export function ThreadList({ threads, selected, onSelect }: Props) {
  return (
    <ul className="threads" data-testid="list">
      {threads.map((thread) => (
        <li key={thread.id} data-thread={thread.id} className={thread.id === selected ? "selected" : ""}
          onClick={() => onSelect(thread.id)}>
          <span className="subject">{thread.subject}</span> ({thread.notes.length})
          <ul>
            {thread.notes.map((note) => <li key={note.id} className="snippet">{note.body}</li>)}
          </ul>
        </li>
      ))}
    </ul>
  );
}
