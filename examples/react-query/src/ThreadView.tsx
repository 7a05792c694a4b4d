import { useAIStatus, useThread } from "threadcast/react-query";
import { Composer } from "./Composer.tsx";
import { NoteItem } from "./NoteItem.tsx";

/** The detail view (useThread's cache): the thread's notes, its AI progress, a composer. */
export function ThreadView({ threadId }: { threadId: string }) {
  const thread = useThread(threadId);
  const ai = useAIStatus(threadId);
  if (!thread.data) return <section>{thread.error?.message ?? "Loading…"}</section>;
  return (
    <section data-testid="detail">
      <h2>{thread.data.subject}</h2>
      {ai.data ? (
        <p data-testid="ai-status">
          AI {ai.data.status}{" "}
          <progress max={100} value={ai.data.status === "completed" ? 100 : (ai.data.progress ?? 0)} />
        </p>
      ) : null}
      {thread.data.notes.map((note) => <NoteItem key={note.id} note={note} />)}
      <Composer threadId={threadId} />
    </section>
  );
}
