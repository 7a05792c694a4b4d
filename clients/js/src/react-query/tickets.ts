// The live inbox: useTickets reads an organisation's tickets (GET /v1/tickets?org_id=) and
// keeps them fresh from its channel org-tickets:<org>, patched by version as threads are
// (inbox.ts), a burst at a time (as ThreadUpdater does for threads).
import { type QueryClient, type UseQueryResult, notifyManager, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { ChannelStatus } from "../channel.js";
import type { AIProcessingPayload, TicketList, TicketRealtimePayload } from "../types.js";
import { Tombstones } from "./cache.js";
import { useThreadcast } from "./context.js";
import { patchTicketAI, patchTickets } from "./inbox.js";
import { type UseTicketsOptions, ticketKeys } from "./keys.js";
import { retry } from "./queries.js";

type ListKey = ReturnType<typeof ticketKeys.list>;

/** Applies inbox events to every cached ticket list of their organisation, once per burst. */
export class TicketUpdater {
  private changes: TicketRealtimePayload[] = [];
  private ai: AIProcessingPayload[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly deleted = new Tombstones();

  constructor(private readonly queryClient: QueryClient, private readonly coalesceMs = 30) {}

  change(change: TicketRealtimePayload): void {
    this.changes.push(change);
    this.schedule();
  }

  aiStatus(payload: AIProcessingPayload): void {
    if (payload.ticketId) this.ai.push(payload);
    this.schedule();
  }

  private schedule(): void {
    if (this.coalesceMs <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.coalesceMs);
  }

  /** Apply everything gathered so far. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const { changes, ai } = this;
    this.changes = [];
    this.ai = [];
    if (!changes.length && !ai.length) return;
    const now = new Date().toISOString();
    notifyManager.batch(() => {
      for (const query of this.queryClient.getQueryCache().findAll({ queryKey: ticketKeys.lists() })) {
        const data = query.state.data as TicketList | undefined;
        // A read in flight may predate these events: read again rather than patch under it.
        if (data === undefined || query.state.fetchStatus === "fetching") {
          if (query.state.fetchStatus === "fetching") void this.queryClient.invalidateQueries({ queryKey: query.queryKey, exact: true });
          continue;
        }
        const { orgId, limit } = (query.queryKey as ListKey)[2];
        let next = data;
        let stale = false;
        for (const change of changes) {
          const patched = patchTickets(next, change, this.deleted, orgId, limit);
          next = patched.next;
          stale ||= patched.stale;
        }
        for (const event of ai) next = patchTicketAI(next, event, now);
        if (next !== data) this.queryClient.setQueryData(query.queryKey, next);
        if (stale) void this.queryClient.invalidateQueries({ queryKey: query.queryKey, exact: true });
      }
    });
  }

  dispose(): void {
    this.flush();
  }
}

export interface UseTicketUpdatesOptions extends UseTicketsOptions {
  /** Gather events this long and apply them together (default 30 ms). */
  coalesceMs?: number;
}

/**
 * Keeps the cached ticket lists of an organisation fresh from org-tickets:<orgId>: ticket
 * INSERT, UPDATE and DELETE (by version) and the AI status of their threads. Returns the
 * channel's status. Only the organisation's agents may subscribe (others get CHANNEL_ERROR).
 */
export function useTicketUpdates(options: UseTicketUpdatesOptions): ChannelStatus | undefined {
  const queryClient = useQueryClient();
  const client = useThreadcast();
  const [status, setStatus] = useState<ChannelStatus>();
  const { orgId, coalesceMs } = options;

  useEffect(() => {
    if (!orgId) return;
    const updater = new TicketUpdater(queryClient, coalesceMs);
    let first = true;
    const channel = client
      .channel(`org-tickets:${orgId}`)
      .on("postgres_changes", { event: "*", schema: "public", table: "tickets" }, (p) => updater.change(p))
      .on("ai_status", (p) => updater.aiStatus(p))
      .on("system", (event) => {
        // As useThreadUpdates: read once more when first live, and after a cursor_* reset
        // (a gap); in between the stream resumes by Last-Event-ID.
        const gap = event.type === "reset" && event.reason?.startsWith("cursor");
        if (gap || (event.type === "subscribed" && first)) {
          first = false;
          void queryClient.invalidateQueries({ queryKey: [...ticketKeys.lists(), { orgId }] });
        }
      })
      .subscribe((s) => setStatus(s));
    return () => {
      channel.unsubscribe();
      updater.dispose();
    };
  }, [orgId, coalesceMs, queryClient, client]);

  return status;
}

/** An organisation's tickets, most recently updated first, kept live (useTicketUpdates). */
export function useTickets(options: UseTicketUpdatesOptions): UseQueryResult<TicketList> & { channelStatus?: ChannelStatus } {
  const client = useThreadcast();
  const channelStatus = useTicketUpdates(options);
  const query = useQuery({
    queryKey: ticketKeys.list(options),
    queryFn: ({ signal }) => client.rest.listTickets({ orgId: options.orgId, limit: options.limit, signal }),
    enabled: Boolean(options.orgId),
    retry,
  });
  return { ...query, channelStatus };
}
