// @vitest-environment jsdom
// useTickets in React against the real server (tests/test_js_package.py starts it, and a
// writer that, as another user, inserts a ticket "inbox new <n>" and renames the seeded one
// "inbox live <n>" every 150 ms): the inbox shows both without a reload; a customer's inbox
// channel is refused.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { createClient } from "../client.js";
import { ThreadcastProvider } from "./provider.js";
import { useTickets } from "./tickets.js";

const env = process.env;
const url = env.THREADCAST_URL ?? "";
const orgId = env.THREADCAST_ORG ?? "";
const threadId = env.THREADCAST_THREAD ?? "";
if (!url) throw new Error("run through tests/test_js_package.py (THREADCAST_URL is not set)");

const as = (token: string | undefined) =>
  createClient(url, { token: token ?? "", offlineQueue: false, pauseWhenHiddenMs: null });

function Inbox(): ReactNode {
  const inbox = useTickets({ orgId, limit: 500 });
  return (
    <>
      <p data-testid="status">{inbox.channelStatus}</p>
      <p data-testid="position">{inbox.data?.position}</p>
      <ul data-testid="tickets">
        {inbox.data?.tickets.map((t) => (
          <li key={t.id} data-version={t.version}>
            {t.subject} [{t.ai_statuses.map((s) => `${s.status}:${s.progress ?? ""}`).join(",")}]
          </li>
        ))}
      </ul>
    </>
  );
}

function mount(token: string | undefined) {
  const client = as(token);
  render(
    <QueryClientProvider client={new QueryClient()}>
      <ThreadcastProvider client={client}><Inbox /></ThreadcastProvider>
    </QueryClientProvider>,
  );
  return client;
}

const numbers = (pattern: RegExp): number[] =>
  [...(screen.getByTestId("tickets").textContent ?? "").matchAll(pattern)].map((m) => Number(m[1]));

afterEach(cleanup);

describe("useTickets", () => {
  it("shows tickets another user creates and renames, and AI status, live", async () => {
    const client = mount(env.THREADCAST_AGENT_TOKEN);
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("SUBSCRIBED"));
    await waitFor(() => expect(screen.getByTestId("position").textContent).toMatch(/^\d+-\d+$/));
    // Past what the first read held: only the stream can bring these.
    const created = Math.max(0, ...numbers(/inbox new (\d+)/g));
    const renamed = Math.max(0, ...numbers(/inbox live (\d+)/g));
    await waitFor(() => expect(Math.max(0, ...numbers(/inbox new (\d+)/g))).toBeGreaterThan(created + 2), { timeout: 10000 });
    await waitFor(() => expect(Math.max(0, ...numbers(/inbox live (\d+)/g))).toBeGreaterThan(renamed + 2), { timeout: 10000 });
    // One row per ticket, whatever the burst of renames did.
    expect(numbers(/inbox live (\d+)/g)).toHaveLength(1);
    await as(env.THREADCAST_AGENT_TOKEN).rest.setAIStatus(threadId, "processing", 64);
    // Other suites give the ticket's other threads AI states too: look for this thread's.
    await waitFor(() => expect(screen.getByTestId("tickets").textContent).toMatch(/[[,]processing:64[\],]/), { timeout: 10000 });
    client.close();
  });

  it("is refused to a customer: the inbox channel errors", async () => {
    const client = mount(env.THREADCAST_CUSTOMER_TOKEN);
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("CHANNEL_ERROR"), { timeout: 10000 });
    client.close();
  });
});
