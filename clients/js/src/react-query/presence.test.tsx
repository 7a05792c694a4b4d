// @vitest-environment jsdom
// usePresence against the real server (tests/test_js_package.py starts it): an agent's hook
// with a state is seen by a customer's hook on the same ticket, follows the state as it
// changes, and is gone once unmounted.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { type ThreadcastClient, createClient } from "../client.js";
import { usePresence } from "./presence.js";
import { ThreadcastProvider } from "./provider.js";

const env = process.env;
const url = env.THREADCAST_URL ?? "";
const ticketId = env.THREADCAST_TICKET ?? "";
if (!url) throw new Error("run through tests/test_js_package.py (THREADCAST_URL is not set)");

const clients: ThreadcastClient[] = [];
const make = (token: string) => {
  const c = createClient(url, { token, offlineQueue: false, pauseWhenHiddenMs: null, shareAcrossTabs: false });
  clients.push(c);
  return c;
};
afterEach(() => {
  cleanup();
  for (const c of clients.splice(0)) c.close();
});

/** The hooks need no query client; ThreadcastProvider wants one. */
function Providers({ client, children }: { client: ThreadcastClient; children: ReactNode }): ReactNode {
  return (
    <QueryClientProvider client={new QueryClient()}>
      <ThreadcastProvider client={client}>{children}</ThreadcastProvider>
    </QueryClientProvider>
  );
}

interface Here extends Record<string, unknown> {
  name: string;
  typing: boolean;
}

function Viewer({ id }: { id: string }): ReactNode {
  const { presences } = usePresence<Here>(ticketId);
  const line = Object.values(presences).flat().map((p) => `${p.name}${p.typing ? " typing" : ""}`).sort().join(", ");
  return <p data-testid={id}>{line}</p>;
}

function Present({ state }: { state: Here | undefined }): ReactNode {
  usePresence<Here>(ticketId, state);
  return null;
}

describe("usePresence", () => {
  it("shows another user's state, follows its changes, and forgets it on unmount", async () => {
    render(<Providers client={make(env.THREADCAST_CUSTOMER_TOKEN ?? "")}><Viewer id="customer" /></Providers>);
    const agent = make(env.THREADCAST_AGENT_TOKEN ?? "");
    const queryClient = new QueryClient();
    const tree = (state: Here | undefined) => (
      <QueryClientProvider client={queryClient}>
        <ThreadcastProvider client={agent}><Present state={state} /></ThreadcastProvider>
      </QueryClientProvider>
    );
    const mounted = render(tree({ name: "Ada", typing: false }));
    const line = () => screen.getByTestId("customer").textContent;
    await waitFor(() => expect(line()).toBe("Ada"), { timeout: 10000 });
    mounted.rerender(tree({ name: "Ada", typing: true }));
    await waitFor(() => expect(line()).toBe("Ada typing"), { timeout: 5000 });
    mounted.rerender(tree(undefined)); // no state: untracked
    await waitFor(() => expect(line()).toBe(""), { timeout: 5000 });
    mounted.rerender(tree({ name: "Ada", typing: false }));
    await waitFor(() => expect(line()).toBe("Ada"), { timeout: 5000 });
    act(() => mounted.unmount());
    await waitFor(() => expect(line()).toBe(""), { timeout: 5000 });
  });
});
