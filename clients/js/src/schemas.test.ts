import { describe, expect, it } from "vitest";
import * as S from "./schemas.js";
import { note, noteEvent, thread } from "./test/fixtures.js";

describe("event schemas", () => {
  it("accept the three shapes of a change", () => {
    for (const event of [noteEvent("INSERT", note(1)), noteEvent("UPDATE", note(1, 2)), noteEvent("DELETE", note(1))]) {
      expect(S.NoteRealtimePayload.parse(event)).toEqual(event);
    }
  });

  it("refuse a DELETE with a row in new and an INSERT with an old row", () => {
    expect(S.NoteRealtimePayload.safeParse({ ...noteEvent("DELETE", note(1)), new: note(1) }).success).toBe(false);
    expect(S.NoteRealtimePayload.safeParse({ ...noteEvent("INSERT", note(1)), old: note(1) }).success).toBe(false);
  });

  it("refuse a row with a wrong type or a missing column", () => {
    expect(S.ThreadNote.safeParse({ ...note(1), version: "2" }).success).toBe(false);
    expect(S.ThreadNote.safeParse({ ...note(1), id: "not-a-uuid" }).success).toBe(false);
    const { body: _body, ...noBody } = note(1);
    expect(S.ThreadNote.safeParse(noBody).success).toBe(false);
  });

  it("drop a column added later instead of failing on it", () => {
    expect(S.ThreadNote.parse({ ...note(1), pinned: true })).toEqual(note(1));
  });

  it("check AI status and system events", () => {
    const threadId = thread().id;
    expect(S.AIProcessingPayload.safeParse({ threadId, status: "processing", progress: 40 }).success).toBe(true);
    expect(S.AIProcessingPayload.safeParse({ threadId, status: "processing", progress: 140 }).success).toBe(false);
    expect(S.AIProcessingPayload.safeParse({ threadId, status: "thinking" }).success).toBe(false);
    expect(S.SystemEvent.safeParse({ type: "subscribed", message: "live" }).success).toBe(true);
    expect(S.SystemEvent.safeParse({ type: "hello", message: "?" }).success).toBe(false);
  });
});

describe("request bodies", () => {
  it("are strict, as the server's are", () => {
    expect(S.CreateNote.safeParse({ body: "hi", color: "red" }).success).toBe(false);
    expect(S.CreateNote.safeParse({ body: "" }).success).toBe(false);
    expect(S.CreateThread.safeParse({ subject: "   " }).success).toBe(false);
  });

  it("refuse NUL in text, and an AI error without status failed", () => {
    expect(S.CreateNote.safeParse({ body: "a\u0000b" }).success).toBe(false);
    expect(S.SetAIStatus.safeParse({ status: "processing", error: "boom" }).success).toBe(false);
    expect(S.SetAIStatus.safeParse({ status: "failed", error: "boom" }).success).toBe(true);
  });

  it("edit needs a body or internal", () => {
    expect(S.EditNote.safeParse({}).success).toBe(false);
    expect(S.EditNote.safeParse({ internal: true }).success).toBe(true);
  });
});
