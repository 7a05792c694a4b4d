import { useState } from "react";
import { ConflictError, type ThreadNote } from "threadcast";
import { useDeleteNote, useEditNote } from "threadcast/react-query";

/** One note: edited optimistically; on a 412 the cache already holds the winner's text. */
export function NoteItem({ note }: { note: ThreadNote }) {
  const edit = useEditNote();
  const remove = useDeleteNote();
  const [draft, setDraft] = useState<string>();
  const pending = note.version === 0; // written, not yet confirmed by the server

  const save = () => {
    if (draft === undefined) return;
    edit.mutate({ noteId: note.id, version: note.version, patch: { body: draft } });
    setDraft(undefined);
  };

  return (
    <div className={`note${pending ? " pending" : ""}`} data-testid="note" data-note={note.id}>
      {draft === undefined ? (
        <span className="body">{note.body}</span>
      ) : (
        <input aria-label="edit" value={draft} onChange={(e) => setDraft(e.target.value)} />
      )}{" "}
      {draft === undefined ? (
        <button disabled={pending} onClick={() => setDraft(note.body)}>edit</button>
      ) : (
        <button onClick={save}>save</button>
      )}{" "}
      <button disabled={pending} onClick={() => remove.mutate({ noteId: note.id, version: note.version })}>delete</button>
      {edit.error instanceof ConflictError ? (
        <span className="conflict" data-testid="conflict"> Someone saved first: showing their version.</span>
      ) : null}
    </div>
  );
}
