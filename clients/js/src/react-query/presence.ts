import { useCallback, useEffect, useRef, useState } from "react";
import type { Channel } from "../channel.js";
import type { PresenceState, TrackResult } from "../presence.js";
import { useThreadcast } from "./context.js";

export interface UsePresence<State> {
  /** Everyone present on the ticket as this user may see them, by user key (their `sub`). */
  presences: PresenceState<State>;
  /** Be present with `state`, or change it (coalesced: fine on every keystroke). */
  track: (state: State) => Promise<TrackResult>;
  untrack: () => Promise<TrackResult>;
}

/**
 * Presence on a ticket (channel ticket-threads:<ticketId>) on the client's one stream: who
 * else is here, and what they do. With `state`, this tab is present with it while mounted
 * (each new state is tracked, compared by its JSON; undefined again untracks); without, call
 * `track` yourself. Unmounting ends this tab's presence.
 */
export function usePresence<State extends Record<string, unknown> = Record<string, unknown>>(
  ticketId: string | undefined, state?: State,
): UsePresence<State> {
  const client = useThreadcast();
  const [presences, setPresences] = useState<PresenceState<State>>({});
  const [channel, setChannel] = useState<Channel>();
  const latest = useRef<Channel>(undefined);

  useEffect(() => {
    if (!ticketId) return;
    const ch = client
      .channel(`ticket-threads:${ticketId}`)
      .on("presence", { event: "sync" }, () => setPresences(ch.presenceState<State>()))
      .subscribe();
    latest.current = ch;
    setChannel(ch);
    return () => {
      latest.current = undefined;
      ch.unsubscribe(); // untracks
      setPresences({});
    };
  }, [client, ticketId]);

  const wanted = state === undefined ? undefined : JSON.stringify(state);
  useEffect(() => {
    if (!channel) return;
    // A state: track it (coalesced); none: untrack (nothing is sent if nothing was tracked).
    if (wanted === undefined) void channel.untrack();
    else void channel.track(JSON.parse(wanted) as State);
  }, [channel, wanted]);

  const track = useCallback(
    (next: State) => latest.current?.track(next) ?? Promise.resolve<TrackResult>("error"), [],
  );
  const untrack = useCallback(() => latest.current?.untrack() ?? Promise.resolve<TrackResult>("ok"), []);
  return { presences, track, untrack };
}
