import { useState } from "react";
import { useThreadUpdates, useThreads } from "threadcast/react-query";
import { ThreadList } from "./ThreadList.tsx";
import { ThreadView } from "./ThreadView.tsx";
import { useConnectionState } from "./useConnectionState.ts";

export function App({ ticketId }: { ticketId: string }) {
  useThreadUpdates({ ticketId }); // keeps the list and every open thread fresh
  const threads = useThreads({ ticketId });
  const state = useConnectionState();
  const [chosen, setChosen] = useState<string>();
  const selected = chosen ?? threads.data?.threads[0]?.id;

  return (
    <>
      <header>
        <strong data-testid="ticket">{threads.data?.ticket.subject ?? "…"}</strong>
        <span className={`state ${state}`} data-testid="connection-state">{state}</span>
      </header>
      <main>
        {threads.error ? <p role="alert">{threads.error.message}</p> : null}
        <ThreadList threads={threads.data?.threads ?? []} selected={selected} onSelect={setChosen} />
        {selected ? <ThreadView threadId={selected} /> : null}
      </main>
    </>
  );
}
