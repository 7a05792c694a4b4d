import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { ChannelStatus } from "../channel.js";
import { useThreadcast } from "./context.js";
import { type UseThreadsOptions, threadKeys } from "./keys.js";
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
    let first = true;
    const channel = client
      .channel(`ticket-threads:${ticketId}`)
      .on("postgres_changes", { event: "*", schema: "public", table: "ticket_threads", filter }, (p) => updater.change(p))
      .on("postgres_changes", { event: "*", schema: "public", table: "ticket_notes", filter }, (p) => updater.change(p))
      .on("ai_status", (p) => updater.aiStatus(p))
      .on("system", (event) => {
        // Read once more when first live: a change between a read and the stream's start
        // would be missed (duplicates are harmless: patches go by version). After that the
        // stream resumes by Last-Event-ID, and only a cursor_* reset leaves a gap.
        const gap = event.type === "reset" && event.reason?.startsWith("cursor");
        if (gap || (event.type === "subscribed" && first)) {
          first = false;
          void queryClient.invalidateQueries({ queryKey: threadKeys.list({ ticketId }) });
          if (gap) updater.invalidateAll();
          else void queryClient.invalidateQueries({ queryKey: threadKeys.details() });
        }
      })
      .subscribe((s) => setStatus(s));
    return () => {
      channel.unsubscribe();
      updater.dispose();
    };
  }, [ticketId, coalesceMs, queryClient, client]);

  return status;
}
