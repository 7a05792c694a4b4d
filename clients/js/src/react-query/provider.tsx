import { type QueryClient, useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useEffect, useState } from "react";
import type { ThreadcastClient } from "../client.js";
import { ThreadcastContext, followConnection, registerQueryClient } from "./context.js";

export interface ThreadcastProviderProps {
  client: ThreadcastClient;
  /** Default: the QueryClientProvider's. */
  queryClient?: QueryClient;
  children?: ReactNode;
}

/** Gives the hooks their client and binds the QueryClient to it (see bindQueryClient). Put it
 * inside QueryClientProvider (or PersistQueryClientProvider). */
export function ThreadcastProvider({ client, queryClient, children }: ThreadcastProviderProps): ReactNode {
  const fromContext = useQueryClient(queryClient);
  // Registered during the first render, not in an effect: a persister restoring paused
  // mutations (in its provider's effect) must find their functions. Idempotent.
  useState(() => registerQueryClient(fromContext, client));
  // An effect, so StrictMode's remount binds again. It runs before the enclosing persister's
  // restore effect (children's effects run first), so restored writes wait for the client.
  useEffect(() => followConnection(client), [client]);
  return <ThreadcastContext.Provider value={client}>{children}</ThreadcastContext.Provider>;
}
