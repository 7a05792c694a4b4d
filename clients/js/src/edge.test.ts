// The edge itself: what the client does with an answer or an event that breaks its schema,
// and which status becomes which error. A stub `fetch` plays a broken server here; the real
// server's answers are tested in client.test.ts.
import { describe, expect, it } from "vitest";
import { createClient } from "./client.js";
import {
  ConflictError, ForbiddenError, HTTPError, InvalidPayloadError, NotFoundError, RateLimitedError,
  ValidationError, errorFor, isRetryable,
} from "./errors.js";
import { note } from "./test/fixtures.js";

const answering = (body: string, init: ResponseInit = {}) =>
  (async () => new Response(body, { headers: { "Content-Type": "application/json" }, ...init })) as typeof fetch;

describe("REST answers", () => {
  it("that break their schema are an InvalidPayloadError, not a pass", async () => {
    const client = createClient("http://x", { token: "t", fetch: answering(JSON.stringify({ ...note(1), version: "one" })), offlineQueue: false });
    const error = await client.rest.addNote("t", "b").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as InvalidPayloadError).issues[0]?.path).toBe("version");
  });

  it("keep Retry-After on a 429", async () => {
    const fetch = answering('{"error":"rate_limited","message":"slow down"}', { status: 429, headers: { "Retry-After": "7" } });
    const error = await createClient("http://x", { token: "t", fetch }).rest.listThreads("t").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfter).toBe(7);
  });
});

describe("errorFor and isRetryable", () => {
  const body = { error: "e", message: "m" };
  it("map each status to its error, so a retry policy can skip 4xx", () => {
    expect(errorFor(412, { ...body, current: note(1) }, null)).toBeInstanceOf(ConflictError);
    expect(errorFor(404, body, null)).toBeInstanceOf(NotFoundError);
    expect(errorFor(403, body, null)).toBeInstanceOf(ForbiddenError);
    expect(errorFor(422, body, null)).toBeInstanceOf(ValidationError);
    expect(errorFor(503, body, 2)).toBeInstanceOf(RateLimitedError);
    expect(isRetryable(errorFor(404, body, null))).toBe(false);
    expect(isRetryable(errorFor(429, body, 1))).toBe(true);
    expect(isRetryable(new HTTPError(500, body))).toBe(true);
    expect(isRetryable(new TypeError("network"))).toBe(true);
  });
});

describe("events", () => {
  it("that break their schema are skipped and reported, the next is delivered", async () => {
    const change = { schema: "public", table: "ticket_notes", eventType: "INSERT", old: null, commit_timestamp: "x", errors: null };
    const frames = [
      `id: 1-1\nevent: postgres_changes\ndata: ${JSON.stringify({ channel: "ticket-threads:x", ...change, new: { id: 1 } })}\n\n`,
      `id: 1-2\nevent: postgres_changes\ndata: ${JSON.stringify({ channel: "ticket-threads:x", ...change, new: note(2) })}\n\n`,
      `id: 1-3\nevent: postgres_changes\ndata: ${JSON.stringify({ ...change, new: note(3) })}\n\n`, // no channel key
      "id: 1-4\nevent: ai_status\ndata: not json\n\n",
    ];
    const urls: string[] = [];
    const fetch = (async (url: string) => {
      urls.push(url);
      return new Response(frames.join(""), { headers: { "Content-Type": "text/event-stream" } });
    }) as typeof globalThis.fetch;
    const errors: Error[] = [];
    const bodies: string[] = [];
    const client = createClient("http://x", { token: "t", fetch, onError: (e) => errors.push(e) });
    client.channel("ticket-threads:x")
      .on("postgres_changes", { event: "INSERT", table: "ticket_notes" }, (p) => { if (p.eventType === "INSERT") bodies.push(p.new.body); })
      .subscribe();
    await expect.poll(() => errors.length, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    client.close();
    expect(bodies).toEqual([note(2).body]);
    expect(errors.slice(0, 3).every((e) => e instanceof InvalidPayloadError)).toBe(true);
    expect(urls[0]).toBe("http://x/v1/stream?channel=ticket-threads:x&on.ticket-threads:x=INSERT:public.ticket_notes");
  });
});
