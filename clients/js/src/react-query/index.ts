// threadcast/react-query: a thin layer of hooks over the client and the cache rules.
export { threadKeys, ticketKeys, mutationKeys } from "./keys.js";
export type { UseThreadsOptions, UseTicketsOptions } from "./keys.js";
export { useTickets, useTicketUpdates, TicketUpdater } from "./tickets.js";
export type { UseTicketUpdatesOptions } from "./tickets.js";
export { patchTickets, patchTicketAI } from "./inbox.js";
export { useThreads, useThread, useAIStatus, retry } from "./queries.js";
export { useThreadUpdates } from "./updates.js";
export type { UseThreadUpdatesOptions } from "./updates.js";
export { useAddNote, useEditNote, useDeleteNote, registerMutations } from "./mutations.js";
export type { AddNoteVariables, EditNoteVariables, DeleteNoteVariables, Snapshot } from "./mutations.js";
export { ThreadcastProvider } from "./provider.js";
export type { ThreadcastProviderProps } from "./provider.js";
export { useThreadcast, bindQueryClient, registerQueryClient, followConnection, isOnline } from "./context.js";
export { ThreadUpdater } from "./updater.js";
export { patchList, patchThread, placeNote, dropNote, findNote, Tombstones } from "./cache.js";
export type { Change, Patched } from "./cache.js";
export { dehydrateOptions, resumeRestoredMutations } from "./persist.js";
