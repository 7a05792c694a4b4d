// A note written offline, persisted, restored into a new QueryClient (a reload) and resumed
// when online: the server gets it once. Against the real server (tests/test_js_package.py).
import { createAsyncStoragePersister } from "@tanstack/query-async-storage-persister";
import { persistQueryClientRestore, persistQueryClientSave } from "@tanstack/query-persist-client-core";
import { QueryClient, onlineManager } from "@tanstack/react-query";
import { afterEach, expect, it } from "vitest";
import { createClient } from "../client.js";
import { randomId } from "../ids.js";
import { registerQueryClient } from "./context.js";
import { type AddNoteVariables, mutationKeys } from "./index.js";

const env = process.env;
if (!env.THREADCAST_URL) throw new Error("run through tests/test_js_package.py (THREADCAST_URL is not set)");
const client = createClient(env.THREADCAST_URL, { token: env.THREADCAST_AGENT_TOKEN ?? "", offlineQueue: false });
const threadId = env.THREADCAST_THREAD ?? "";
const ticketId = env.THREADCAST_TICKET ?? "";

const items = new Map<string, string>();
const storage = {
  getItem: (key: string) => items.get(key) ?? null,
  setItem: (key: string, value: string) => void items.set(key, value),
  removeItem: (key: string) => void items.delete(key),
};
const persister = createAsyncStoragePersister({ storage, throttleTime: 0 });

afterEach(() => onlineManager.setOnline(true));

it("sends a note written offline exactly once, after a reload", async () => {
  onlineManager.setOnline(false);
  const before = new QueryClient();
  registerQueryClient(before, client);
  const body = `offline ${randomId()}`;
  const variables: AddNoteVariables = { threadId, body, id: randomId() };
  void before.getMutationCache().build(before, { mutationKey: mutationKeys.addNote }).execute(variables).catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(before.getMutationCache().getAll()[0]?.state.isPaused).toBe(true);
  await persistQueryClientSave({ queryClient: before, persister });
  before.clear(); // the page is gone

  const after = new QueryClient();
  registerQueryClient(after, client);
  await persistQueryClientRestore({ queryClient: after, persister });
  after.mount();
  onlineManager.setOnline(true); // resumePausedMutations
  const sent = async () => (await client.rest.listThreads(ticketId)).threads.flatMap((t) => t.notes).filter((n) => n.body === body);
  await expect.poll(async () => (await sent()).length, { timeout: 5000 }).toBe(1);
  await after.resumePausedMutations(); // a second resume sends nothing more
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect((await sent()).map((n) => n.id)).toEqual([variables.id]);
  after.unmount();
});
