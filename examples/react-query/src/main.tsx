import { createAsyncStoragePersister } from "@tanstack/query-async-storage-persister";
import { QueryClient } from "@tanstack/react-query";
import { PersistQueryClientProvider } from "@tanstack/react-query-persist-client";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createClient } from "threadcast";
import { ThreadcastProvider, dehydrateOptions, resumeRestoredMutations } from "threadcast/react-query";
import { App } from "./App.tsx";
import { config } from "./config.ts";

const DAY = 24 * 60 * 60 * 1000;

// offlineQueue: false: React Query pauses, retries and persists the writes, not the client.
const client = createClient(config.api, { token: config.token, offlineQueue: false, pauseWhenHiddenMs: null });
const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 60_000, gcTime: DAY }, mutations: { gcTime: DAY } },
});
// Unfinished writes (offline, or in flight) and the cache survive a reload in localStorage.
const persister = createAsyncStoragePersister({ storage: window.localStorage, throttleTime: 100 });

const root = document.getElementById("root");
if (!root) throw new Error("no #root");
createRoot(root).render(
  <StrictMode>
    <PersistQueryClientProvider
      client={queryClient}
      persistOptions={{ persister, maxAge: DAY, dehydrateOptions }}
      // Restored writes are sent once the client is live (React Query waits for it).
      onSuccess={() => void resumeRestoredMutations(queryClient)}
    >
      <ThreadcastProvider client={client}>
        <App ticketId={config.ticketId} />
      </ThreadcastProvider>
    </PersistQueryClientProvider>
  </StrictMode>,
);
