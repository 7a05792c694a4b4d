import { type QueryClient, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { Channel, ChannelStatus } from "../channel.js";
import { useThreadcast } from "./context.js";
import { type UseThreadsOptions, threadKeys } from "./keys.js";
import { earlierPosition } from "../positions.js";
import { positionOf, whenSettled } from "./position.js";
import { ThreadUpdater } from "./updater.js";

export interface UseThreadUpdatesOptions extends UseThreadsOptions {
  /** Gather events this long and apply them together (default 30 ms). */
  coalesceMs?: number;
}

/**
 * The original design's hook: keeps every cached list and detail of the ticket fresh for
 * thread and note INSERT, UPDATE and DELETE (patched in place by version, refetched where an
 * event cannot be patched) and the threads' AI status. Returns the channel's status.
 */
export function useThreadUpdates(options: UseThreadUpdatesOptions): ChannelStatus | undefined {
  const queryClient = useQueryClient();
  const client = useThreadcast();
  const [status, setStatus] = useState<ChannelStatus>();
  const { ticketId, coalesceMs } = options;

  useEffect(() => {
    if (!ticketId) return;
    const updater = new ThreadUpdater(queryClient, coalesceMs);
    const filter = `ticket_id=eq.${ticketId}`;
    let channel: Channel | undefined;
    // The stream starts from the position of the list the cache shows (once its read answers),
    // so every change committed after that read arrives, and none is missed between the read
    // and the stream going live. A few may already be in it: patches go by version.
    const cancel = whenSettled(queryClient, threadKeys.list({ ticketId }), (listPosition) => {
      // Cached details of the ticket's threads were read at their own positions: the earliest.
      const { position, unpositioned } = startOf(queryClient, ticketId, listPosition);
      let first = position === undefined;
      let detailsToo = unpositioned;
      channel = client
        .channel(`ticket-threads:${ticketId}`, position === undefined ? {} : { from: position })
        .on("postgres_changes", { event: "*", schema: "public", table: "ticket_threads", filter }, (p) => updater.change(p))
        .on("postgres_changes", { event: "*", schema: "public", table: "ticket_notes", filter }, (p) => updater.change(p))
        .on("ai_status", (p) => updater.aiStatus(p))
        .on("system", (event) => {
          // With no position to start from (the list is not cached, or the server gives none),
          // read once more when first live: a change between a read and the stream's start
          // would be missed. After that the stream resumes by position, and only a cursor_*
          // reset leaves a gap.
          const gap = event.type === "reset" && event.reason?.startsWith("cursor");
          if (event.type === "subscribed" && detailsToo && !first) {
            detailsToo = false;
            void queryClient.invalidateQueries({ queryKey: threadKeys.details() });
          }
          if (gap || (event.type === "subscribed" && first)) {
            first = false;
            void queryClient.invalidateQueries({ queryKey: threadKeys.list({ ticketId }) });
            if (gap) updater.invalidateAll();
            else void queryClient.invalidateQueries({ queryKey: threadKeys.details() });
          }
        })
        .subscribe((s) => setStatus(s));
    });
    return () => {
      cancel();
      channel?.unsubscribe();
      updater.dispose();
    };
  }, [ticketId, coalesceMs, queryClient, client]);

  return status;
}

/** Where the ticket's stream starts: the earliest position of its cached list and details;
 * `unpositioned`: some cached detail has none (it is read again once live). */
function startOf(
  queryClient: QueryClient, ticketId: string, listPosition: string | undefined,
): { position: string | undefined; unpositioned: boolean } {
  if (listPosition === undefined) return { position: undefined, unpositioned: true };
  let position: string | undefined = listPosition;
  let unpositioned = false;
  for (const query of queryClient.getQueryCache().findAll({ queryKey: threadKeys.details() })) {
    const data = query.state.data as { ticket_id?: unknown } | undefined;
    if (!data || data.ticket_id !== ticketId) continue;
    const at = positionOf(data);
    if (at === undefined) unpositioned = true;
    else position = earlierPosition(position, at);
  }
  return { position, unpositioned };
}
