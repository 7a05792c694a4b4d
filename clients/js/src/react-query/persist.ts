// Options for React Query's persisters (PersistQueryClientProvider, persistQueryClient) that
// keep every unfinished write across a reload, not only the paused ones.
import type { Mutation, QueryClient } from "@tanstack/react-query";

/**
 * Persist every pending mutation. React Query's default keeps only paused ones, so a write in
 * flight when the page reloads would be lost; sending it again is safe: a create carries its
 * id (the server replays it), an edit or delete recognises its own earlier attempt.
 */
export const dehydrateOptions = {
  shouldDehydrateMutation: (mutation: Mutation): boolean => mutation.state.status === "pending",
};

/** After a restore: continue every restored write (resumePausedMutations would only take the
 * paused ones). Each waits, paused, until the client is live. */
export function resumeRestoredMutations(queryClient: QueryClient): Promise<unknown> {
  const pending = queryClient.getMutationCache().getAll().filter((m) => m.state.status === "pending");
  return Promise.all(pending.map((mutation) => mutation.continue().catch(() => undefined)));
}
