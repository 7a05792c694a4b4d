// Typed errors, so callers (and React Query's `retry`) can tell a refusal that a retry cannot
// fix (4xx) from a network failure or a server error.
import type { ErrorBody, ThreadNote } from "./types.js";

/** Any non-2xx answer; `body` is the server's {"error", "message", ...}. */
export class HTTPError extends Error {
  readonly status: number;
  readonly body: ErrorBody;
  constructor(status: number, body: ErrorBody) {
    super(body.message || `HTTP ${status}`);
    this.name = "HTTPError";
    this.status = status;
    this.body = body;
  }
}

/** 412: someone else changed the note first. `current` is their version (null if gone). */
export class ConflictError extends HTTPError {
  readonly current: ThreadNote | null;
  constructor(message: string, current?: ThreadNote | null, status = 412) {
    super(status, { error: "version_conflict", message, current: current ?? null });
    this.name = "ConflictError";
    this.current = current ?? null;
  }
}

/** 404: the row does not exist, or the caller may not see it. */
export class NotFoundError extends HTTPError {
  constructor(body: ErrorBody) {
    super(404, body);
    this.name = "NotFoundError";
  }
}

/** 403: the caller may see it but not do this (or the Origin is not allowed). */
export class ForbiddenError extends HTTPError {
  constructor(body: ErrorBody) {
    super(403, body);
    this.name = "ForbiddenError";
  }
}

/** 400/422: the server refused the request as malformed; `body.problems` says where. */
export class ValidationError extends HTTPError {
  constructor(status: number, body: ErrorBody) {
    super(status, body);
    this.name = "ValidationError";
  }
}

/** 429 (or 503 with Retry-After): try again after `retryAfter` seconds. */
export class RateLimitedError extends HTTPError {
  readonly retryAfter: number | null;
  constructor(status: number, body: ErrorBody, retryAfter: number | null) {
    super(status, body);
    this.name = "RateLimitedError";
    this.retryAfter = retryAfter;
  }
}

/** An event or answer from the server that does not match its schema. */
export class InvalidPayloadError extends Error {
  readonly payload: unknown;
  readonly issues: { path: string; message: string }[];
  constructor(what: string, payload: unknown, issues: { path: string; message: string }[]) {
    super(`threadcast: invalid ${what}: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`);
    this.name = "InvalidPayloadError";
    this.payload = payload;
    this.issues = issues;
  }
}

/** The typed error for a non-2xx answer. */
export function errorFor(status: number, body: ErrorBody, retryAfter: number | null): HTTPError {
  if (status === 412) return new ConflictError(body.message, body.current ?? null);
  if (status === 404) return new NotFoundError(body);
  if (status === 403) return new ForbiddenError(body);
  if (status === 400 || status === 422) return new ValidationError(status, body);
  if (status === 429 || (status === 503 && retryAfter !== null)) {
    return new RateLimitedError(status, body, retryAfter);
  }
  return new HTTPError(status, body);
}

/** Whether a retry may succeed: network failures, 5xx and rate limits; never another 4xx. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof RateLimitedError) return true;
  if (error instanceof HTTPError) return error.status >= 500;
  return !(error instanceof InvalidPayloadError);
}
