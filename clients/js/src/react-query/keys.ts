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

/** Mutation keys: persisted paused mutations find their function again by these after a reload. */
export const mutationKeys = {
  addNote: ["threadcast", "addNote"] as const,
  editNote: ["threadcast", "editNote"] as const,
  deleteNote: ["threadcast", "deleteNote"] as const,
};
