import { useSyncExternalStore } from "react";
import type { ConnectionState } from "threadcast";
import { useThreadcast } from "threadcast/react-query";

/** The client's connection state, re-rendering on each change. */
export function useConnectionState(): ConnectionState {
  const client = useThreadcast();
  return useSyncExternalStore((notify) => client.onConnectionState(notify), () => client.state);
}
