// The threadcast client for the hooks, and the one-time wiring of a QueryClient to it.
import { type QueryClient, onlineManager } from "@tanstack/react-query";
import { createContext, useContext } from "react";
import type { ThreadcastClient } from "../client.js";
import { registerMutations } from "./mutations.js";

export const ThreadcastContext = createContext<ThreadcastClient | null>(null);

export function useThreadcast(): ThreadcastClient {
  const client = useContext(ThreadcastContext);
  if (!client) throw new Error("threadcast: wrap the app in <ThreadcastProvider client={...}>");
  return client;
}

/** Online as React Query sees it: the client's streams are live (or only paused while the
 * tab is hidden). Offline or reconnecting, writes pause instead of failing. */
export const isOnline = (client: ThreadcastClient): boolean => client.state === "live" || client.state === "paused";

/**
 * Wire `queryClient` to `client` (ThreadcastProvider does it): the mutations' functions are
 * registered by key, so paused mutations restored by a persister after a reload can run, and
 * React Query's onlineManager follows the client's connection state, so writes pause while
 * the server is out of reach and resume (resumePausedMutations) when it is back. Do it before
 * a persisted cache is restored. Returns the undo of the onlineManager part.
 */
export function bindQueryClient(queryClient: QueryClient, client: ThreadcastClient): () => void {
  registerQueryClient(queryClient, client);
  return followConnection(client);
}

/** The mutations' defaults on `queryClient`; refuses a client with its own offline queue. */
export function registerQueryClient(queryClient: QueryClient, client: ThreadcastClient): void {
  if (client.offlineQueue) {
    throw new Error(
      "threadcast: create the client with offlineQueue: false for React Query, which queues writes itself",
    );
  }
  registerMutations(queryClient, client);
}

/** React Query's onlineManager fed by the client's connection state; returns the undo. */
export function followConnection(client: ThreadcastClient): () => void {
  onlineManager.setEventListener((setOnline) => {
    setOnline(isOnline(client));
    return client.onConnectionState(() => setOnline(isOnline(client)));
  });
  return () => onlineManager.setEventListener((setOnline) => {
    const update = (): void => setOnline(globalThis.navigator?.onLine !== false);
    globalThis.addEventListener?.("online", update);
    globalThis.addEventListener?.("offline", update);
    return () => {
      globalThis.removeEventListener?.("online", update);
      globalThis.removeEventListener?.("offline", update);
    };
  });
}
