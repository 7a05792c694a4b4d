// threadcast: the browser client. Channels in supabase-js's shape, REST, typed errors.
export { createClient, ThreadcastClient } from "./client.js";
export type { ClientOptions, ConnectionState, TokenSource } from "./client.js";
export { Channel } from "./channel.js";
export type { ChannelOptions, ChannelStatus, PostgresChangesFilter, PresenceFilter, RowOf } from "./channel.js";
export type {
  Presence, PresenceEvent, PresenceJoinEvent, PresenceLeaveEvent, PresenceState, PresenceSyncEvent, TrackResult,
} from "./presence.js";
export { comparePositions, isPosition } from "./positions.js";
export type { CreateOptions, RequestOptions, RestApi } from "./rest.js";
export {
  ConflictError, ForbiddenError, HTTPError, InvalidPayloadError, NotFoundError,
  RateLimitedError, ValidationError, isRetryable,
} from "./errors.js";
export { SSEParser } from "./sse.js";
export type { SSEFrame } from "./sse.js";
export { matchesFilter } from "./filter.js";
export { randomId } from "./ids.js";
export type * from "./types.js";
