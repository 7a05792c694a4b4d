import { type QueryClient, useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useEffect, useState } from "react";
import type { ThreadcastClient } from "../client.js";
import { ThreadcastContext, bindQueryClient } from "./context.js";

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
  // Bound during the first render, not in an effect: a persister restoring paused mutations
  // (in its provider's effect, which runs after ours renders) must find their functions.
  const [unbind] = useState(() => bindQueryClient(fromContext, client));
  useEffect(() => unbind, [unbind]);
  return <ThreadcastContext.Provider value={client}>{children}</ThreadcastContext.Provider>;
}
