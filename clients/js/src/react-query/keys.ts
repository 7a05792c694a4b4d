// Query keys, in the original design's shape: threadKeys.list(options), threadKeys.detail(id).
export interface UseThreadsOptions {
  ticketId: string;
}

export const threadKeys = {
  all: ["threads"] as const,
  lists: () => [...threadKeys.all, "list"] as const,
  list: (options: UseThreadsOptions) => [...threadKeys.lists(), { ticketId: options.ticketId }] as const,
  details: () => [...threadKeys.all, "detail"] as const,
  detail: (threadId: string) => [...threadKeys.details(), threadId] as const,
  ai: (threadId: string) => [...threadKeys.all, "ai", threadId] as const,
};

export interface UseTicketsOptions {
  /** The organisation whose inbox this is (channel org-tickets:<orgId>). */
  orgId: string;
  /** At most this many tickets, most recently updated first (1 to 500; default 100). */
  limit?: number;
}

export const ticketKeys = {
  all: ["tickets"] as const,
  lists: () => [...ticketKeys.all, "list"] as const,
  list: (options: UseTicketsOptions) =>
    [...ticketKeys.lists(), { orgId: options.orgId, limit: options.limit ?? 100 }] as const,
};

/** Mutation keys: persisted paused mutations find their function again by these after a reload. */
export const mutationKeys = {
  addNote: ["threadcast", "addNote"] as const,
  editNote: ["threadcast", "editNote"] as const,
  deleteNote: ["threadcast", "deleteNote"] as const,
};
