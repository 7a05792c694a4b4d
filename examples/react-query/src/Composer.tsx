import { type FormEvent, useState } from "react";
import { useAddNote } from "threadcast/react-query";

/** Adds a note: shown at once, sent when the server is reachable (even after a reload). */
export function Composer({ threadId }: { threadId: string }) {
  const add = useAddNote();
  const [body, setBody] = useState("");

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!body.trim()) return;
    add.mutate({ threadId, body });
    setBody("");
  };

  return (
    <form className="composer" onSubmit={submit}>
      <textarea aria-label="note" value={body} onChange={(e) => setBody(e.target.value)} />
      <button type="submit">Add note</button>
    </form>
  );
}
