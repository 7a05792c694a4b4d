// The client against a real threadcast server and PostgreSQL: tests/test_js_package.py starts
// them, seeds tests/support.py's world and passes where they are in the environment.
import { describe, expect, it } from "vitest";
import { createClient } from "./client.js";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "./errors.js";
import { randomId } from "./ids.js";
import type { NoteRealtimePayload } from "./types.js";

const env = process.env;
const server = {
  url: env.THREADCAST_URL ?? "",
  agent: env.THREADCAST_AGENT_TOKEN ?? "",
  stranger: env.THREADCAST_STRANGER_TOKEN ?? "",
  ticket: env.THREADCAST_TICKET ?? "",
  thread: env.THREADCAST_THREAD ?? "",
};
if (!server.url) throw new Error("run through tests/test_js_package.py (THREADCAST_URL is not set)");

const client = (token = server.agent) => createClient(server.url, { token, offlineQueue: false, pauseWhenHiddenMs: null });

describe("REST", () => {
  it("reads a ticket's threads, parsed by their schema", async () => {
    const list = await client().rest.listThreads(server.ticket);
    expect(list.ticket_id).toBe(server.ticket);
    expect(list.threads[0]?.notes.map((n) => n.body)).toContain("We are on it");
  });

  it("writes once per id, however often it is sent", async () => {
    const rest = client().rest;
    const id = randomId();
    const first = await rest.addNote(server.thread, "sent twice", false, { id });
    const again = await rest.addNote(server.thread, "sent twice", false, { id });
    expect(again).toEqual(first);
  });

  it("turns refusals into typed errors", async () => {
    const rest = client().rest;
    const note = await rest.addNote(server.thread, "to edit");
    await rest.editNote(note.id, note.version, { body: "first edit" });
    const conflict = await rest.editNote(note.id, note.version, { body: "stale" }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect((conflict as ConflictError).current?.body).toBe("first edit");
    await expect(rest.getThread(randomId())).rejects.toBeInstanceOf(NotFoundError);
    await expect(rest.addNote(server.thread, "")).rejects.toBeInstanceOf(ValidationError);
    await expect(client(server.stranger).rest.listThreads(server.ticket)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("stops a request when its signal aborts", async () => {
    const abort = new AbortController();
    const pending = client().rest.listThreads(server.ticket, { signal: abort.signal });
    abort.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });
});

describe("channels", () => {
  it("deliver a validated INSERT to the binding of its table", async () => {
    const c = client();
    const got = new Promise<NoteRealtimePayload>((resolve) => {
      c.channel(`ticket-threads:${server.ticket}`)
        .on("postgres_changes", { event: "INSERT", table: "ticket_notes" }, (payload) => resolve(payload))
        .subscribe((status) => {
          if (status === "SUBSCRIBED") void c.rest.addNote(server.thread, "live from vitest");
        });
    });
    const payload = await got;
    c.close();
    expect(payload.eventType).toBe("INSERT");
    if (payload.eventType === "INSERT") expect(payload.new.body).toBe("live from vitest");
  });

  it("refuse a channel the user may not read, without retrying", async () => {
    const c = client(server.stranger);
    const error = await new Promise<Error | undefined>((resolve) => {
      c.channel(`ticket-threads:${server.ticket}`).on("ai_status", () => {}).subscribe((status, e) => {
        if (status === "CHANNEL_ERROR") resolve(e);
      });
    });
    c.close();
    expect(error).toBeInstanceOf(ForbiddenError);
  });
});
