// The REST API: one typed method per route, each taking an AbortSignal (React Query passes
// its `signal`), each answer parsed by its schema, each refusal a typed error.
import type { z } from "zod/mini";
import { ConflictError, NotFoundError, errorFor } from "./errors.js";
import { randomId } from "./ids.js";
import * as S from "./schemas.js";
import type {
  AIState, AIStatus, EditNote, ErrorBody, ThreadDetail, ThreadList, ThreadNote, ThreadWithNotes, TicketList,
} from "./types.js";
import { parse } from "./validate.js";

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface CreateOptions extends RequestOptions {
  /** The new row's id (random by default): a retry with it is recognised, not a second row.
   * Choose it yourself to match the realtime INSERT to an optimistic entry. */
  id?: string;
}

export interface ListTicketsOptions extends RequestOptions {
  /** Only this organisation's tickets: its inbox (channel org-tickets:<orgId>). */
  orgId?: string;
  /** At most this many (1 to 500; the server's default is 100). */
  limit?: number;
}

export interface RestApi {
  /** The tickets the caller may see, most recently updated first, and the read's `position`. */
  listTickets(options?: ListTicketsOptions): Promise<TicketList>;
  listThreads(ticketId: string, options?: RequestOptions): Promise<ThreadList>;
  getThread(threadId: string, options?: RequestOptions): Promise<ThreadDetail>;
  createThread(ticketId: string, subject: string, options?: CreateOptions): Promise<ThreadWithNotes>;
  addNote(threadId: string, body: string, internal?: boolean, options?: CreateOptions): Promise<ThreadNote>;
  /** Rejects with ConflictError (carrying the current note) when `version` is stale. */
  editNote(noteId: string, version: number, patch: EditNote, options?: RequestOptions): Promise<ThreadNote>;
  /** Resolves null; a retry that finds the note already gone also resolves null. */
  deleteNote(noteId: string, version?: number, options?: RequestOptions): Promise<null>;
  setAIStatus(
    threadId: string, status: AIStatus, progress?: number, error?: string, options?: RequestOptions,
  ): Promise<AIState>;
}

/** One HTTP exchange, as the client's transport describes it. */
export interface Request<Out> {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** The answer's schema (null: 204, no body). */
  schema: z.ZodMiniType<Out> | null;
  signal?: AbortSignal;
  /**
   * For a write sent again after its answer was lost: turns the retry's error into what the
   * first attempt did (undefined: a real error). Creates need none: the server replays them.
   */
  recover?: (error: unknown) => Out | undefined;
}

export type Send = <Out>(request: Request<Out>, write: boolean) => Promise<Out>;

/** Perform one request with `fetchFn`: the parsed answer, or a typed error. */
export async function perform<Out>(
  fetchFn: typeof fetch, baseUrl: string, token: string | undefined, request: Request<Out>,
): Promise<Out> {
  const headers: Record<string, string> = { ...request.headers };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  if (request.body !== undefined) headers["Content-Type"] = "application/json";
  const init: RequestInit = { method: request.method, headers, cache: "no-store" };
  if (request.body !== undefined) init.body = JSON.stringify(request.body);
  if (request.signal) init.signal = request.signal;
  const response = await fetchFn(`${baseUrl}${request.path}`, init);
  if (response.ok) {
    if (request.schema === null || response.status === 204) return null as Out;
    return parse(request.schema, await response.json(), `answer to ${request.method} ${request.path}`);
  }
  const data: unknown = await response.json().catch(() => ({}));
  const checked = S.ErrorBody.safeParse(data);
  const body: ErrorBody = checked.success
    ? checked.data
    : { error: "http_error", message: `HTTP ${response.status}` };
  const retryAfter = response.headers.get("Retry-After");
  throw errorFor(response.status, body, retryAfter === null ? null : Number(retryAfter) || 0);
}

/** Whether a retried edit's 412 shows the edit itself: the next version, with the patch. */
function isOwnEdit(error: unknown, version: number, patch: EditNote): error is ConflictError {
  const current = error instanceof ConflictError ? error.current : null;
  return (
    current !== null &&
    current.version === version + 1 &&
    Object.entries(patch).every(
      ([field, value]) => value === undefined || current[field as keyof ThreadNote] === value,
    )
  );
}

export function restApi(send: Send): RestApi {
  return {
    listTickets: ({ orgId, limit, signal } = {}) => {
      const query = new URLSearchParams();
      if (orgId !== undefined) query.set("org_id", orgId);
      if (limit !== undefined) query.set("limit", String(limit));
      const search = query.toString();
      const path = search ? `/v1/tickets?${search}` : "/v1/tickets";
      return send({ method: "GET", path, schema: S.TicketList, signal }, false);
    },
    listThreads: (ticketId, { signal } = {}) =>
      send({ method: "GET", path: `/v1/tickets/${ticketId}/threads`, schema: S.ThreadList, signal }, false),
    getThread: (threadId, { signal } = {}) =>
      send({ method: "GET", path: `/v1/threads/${threadId}`, schema: S.ThreadDetail, signal }, false),
    createThread: (ticketId, subject, { id = randomId(), signal } = {}) =>
      send({
        method: "POST", path: `/v1/tickets/${ticketId}/threads`, body: { id, subject },
        schema: S.ThreadWithNotes, signal,
      }, true),
    addNote: (threadId, body, internal = false, { id = randomId(), signal } = {}) =>
      send({
        method: "POST", path: `/v1/threads/${threadId}/notes`, body: { id, body, internal },
        schema: S.ThreadNote, signal,
      }, true),
    editNote: (noteId, version, patch, { signal } = {}) =>
      send({
        method: "PATCH", path: `/v1/notes/${noteId}`, body: patch,
        headers: { "If-Match": String(version) }, schema: S.ThreadNote, signal,
        recover: (error) => (isOwnEdit(error, version, patch) ? error.current ?? undefined : undefined),
      }, true),
    deleteNote: (noteId, version, { signal } = {}) =>
      send<null>({
        method: "DELETE", path: `/v1/notes/${noteId}`,
        headers: version === undefined ? {} : { "If-Match": String(version) }, schema: null, signal,
        recover: (error) => (error instanceof NotFoundError ? null : undefined),
      }, true),
    setAIStatus: (threadId, status, progress, error, { signal } = {}) =>
      send({
        method: "POST", path: `/v1/threads/${threadId}/ai-status`, body: { status, progress, error },
        schema: S.AIState, signal,
      }, true),
  };
}

