// Where cached data stands in the log: the `position` of the REST answer it came from (the
// field is read defensively: a server without it gives none, and the hooks fall back to a
// second read once live).
import type { Query, QueryClient, QueryKey } from "@tanstack/react-query";
import { isPosition } from "../positions.js";

/** The `position` of a REST answer, if it has a valid one. */
export function positionOf(data: unknown): string | undefined {
  const position = typeof data === "object" && data !== null ? (data as { position?: unknown }).position : undefined;
  return isPosition(position) ? position : undefined;
}

/**
 * Call `start(position)` once the query of `queryKey` has settled: at once when it has data (or
 * does not exist), else when its read answers (or fails). Returns the cancel.
 */
export function whenSettled(
  queryClient: QueryClient, queryKey: QueryKey, start: (position: string | undefined) => void,
): () => void {
  const cache = queryClient.getQueryCache();
  const settled = (query: Query | undefined): boolean =>
    !query || query.state.data !== undefined || query.state.status === "error";
  const query = cache.find({ queryKey, exact: true });
  if (settled(query)) {
    start(positionOf(query?.state.data));
    return () => {};
  }
  let done = false;
  const unsubscribe = cache.subscribe((event) => {
    if (done || !event.query.queryHash || event.query.queryHash !== query?.queryHash) return;
    if (event.type === "removed" || settled(event.query)) {
      done = true;
      queueMicrotask(unsubscribe);
      start(positionOf(event.query.state.data));
    }
  });
  return () => {
    done = true;
    unsubscribe();
  };
}
