// @vitest-environment jsdom
// The hooks in React against the real server (tests/test_js_package.py starts it): another
// user's writes reach the list and the detail caches through useThreadUpdates.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { createClient } from "../client.js";
import { ConflictError } from "../errors.js";
import { ThreadcastProvider } from "./provider.js";
import { useEditNote } from "./mutations.js";
import { useAIStatus, useThread, useThreads } from "./queries.js";
import { useThreadUpdates } from "./updates.js";

const env = process.env;
const url = env.THREADCAST_URL ?? "";
const ticketId = env.THREADCAST_TICKET ?? "";
const threadId = env.THREADCAST_THREAD ?? "";
if (!url) throw new Error("run through tests/test_js_package.py (THREADCAST_URL is not set)");

const agent = () => createClient(url, { token: env.THREADCAST_AGENT_TOKEN ?? "", offlineQueue: false, pauseWhenHiddenMs: null });

function Views(): ReactNode {
  const status = useThreadUpdates({ ticketId });
  const list = useThreads({ ticketId });
  const detail = useThread(threadId);
  const edit = useEditNote();
  const first = detail.data?.notes[0];
  return (
    <>
      <p data-testid="status">{status}</p>
      <ul data-testid="list">{list.data?.threads.flatMap((t) => t.notes.map((n) => <li key={n.id}>{n.body}</li>))}</ul>
      <ul data-testid="detail">{detail.data?.notes.map((n) => <li key={n.id}>{n.body}</li>)}</ul>
      {first ? <button onClick={() => edit.mutate({ noteId: first.id, version: first.version - 1, patch: { body: "stale edit" } })}>stale</button> : null}
      <p data-testid="error">{edit.error instanceof ConflictError ? "conflict" : ""}</p>
    </>
  );
}

function mount() {
  const client = agent();
  const queryClient = new QueryClient();
  render(
    <QueryClientProvider client={queryClient}>
      <ThreadcastProvider client={client}><Views /></ThreadcastProvider>
    </QueryClientProvider>,
  );
  return { client, queryClient };
}

afterEach(cleanup);

describe("useThreadUpdates with useThreads and useThread", () => {
  it("shows another user's INSERT, UPDATE and DELETE in the list and the detail", async () => {
    const { client } = mount();
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("SUBSCRIBED"));
    await waitFor(() => expect(screen.getByTestId("detail").textContent).toContain("We are on it"));
    const other = agent().rest;
    const both = (text: string, present = true) => waitFor(() => {
      for (const id of ["list", "detail"]) expect(screen.getByTestId(id).textContent?.includes(text)).toBe(present);
    });
    const note = await other.addNote(threadId, "hooks: inserted");
    await both("hooks: inserted");
    const edited = await other.editNote(note.id, note.version, { body: "hooks: updated" });
    await both("hooks: updated");
    await both("hooks: inserted", false);
    await other.deleteNote(edited.id, edited.version);
    await both("hooks: updated", false);
    client.close();
  });

  it("rolls an optimistic edit back to the winner on 412", async () => {
    const { client } = mount();
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("SUBSCRIBED"));
    await waitFor(() => expect(screen.getByText("stale")).toBeTruthy());
    await act(async () => screen.getByText("stale").click());
    await waitFor(() => expect(screen.getByTestId("error").textContent).toBe("conflict"));
    expect(screen.getByTestId("detail").textContent).not.toContain("stale edit");
    client.close();
  });
});

describe("useThreadUpdates with useAIStatus", () => {
  it("share the client's one stream, and the AI status follows its events", async () => {
    let open = 0;
    let most = 0;
    const urls: string[] = [];
    const fetchFn = ((input: RequestInfo | URL, init?: RequestInit) => {
      const target = String(input);
      if (target.includes("/v1/stream")) {
        urls.push(target);
        open += 1;
        most = Math.max(most, open);
        init?.signal?.addEventListener("abort", () => (open -= 1), { once: true });
      }
      return fetch(input, init);
    }) as typeof fetch;
    const client = createClient(url, {
      token: env.THREADCAST_AGENT_TOKEN ?? "", offlineQueue: false, pauseWhenHiddenMs: null, fetch: fetchFn,
    });
    const own = (await agent().rest.createThread(ticketId, "hooks: AI status")).id; // no one else's
    function Ticket(): ReactNode {
      const status = useThreadUpdates({ ticketId });
      useThreads({ ticketId });
      const ai = useAIStatus(own);
      return <p data-testid="ai">{status} {ai.data?.status ?? "none"}</p>;
    }
    render(
      <QueryClientProvider client={new QueryClient()}>
        <ThreadcastProvider client={client}><Ticket /></ThreadcastProvider>
      </QueryClientProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("ai").textContent).toMatch(/^SUBSCRIBED /));
    await waitFor(() => expect(client.transport.channels.all()).toHaveLength(2));
    await agent().rest.setAIStatus(own, "processing", 40);
    await waitFor(() => expect(screen.getByTestId("ai").textContent).toBe("SUBSCRIBED processing"));
    expect(most).toBe(1); // never two streams at once
    expect(open).toBe(1);
    const query = new URL(urls.at(-1) ?? "").searchParams;
    expect(query.getAll("channel")).toEqual([`ticket-threads:${ticketId}`]);
    client.close();
  });
});
