import { describe, expect, it } from "vitest";
import { matchesFilter } from "./filter.js";

const row = { ticket_id: "00000000-0000-0000-0000-00000000ABCD", version: 3, internal: false, body: null };

describe("matchesFilter", () => {
  it("compares as PostgreSQL would: uuids case-insensitively, numbers as numbers", () => {
    expect(matchesFilter("ticket_id=eq.00000000-0000-0000-0000-00000000abcd", row)).toBe(true);
    expect(matchesFilter("version=gt.20", row)).toBe(false);
    expect(matchesFilter("version=in.(1,3)", row)).toBe(true);
    expect(matchesFilter("internal=eq.false", row)).toBe(true);
  });

  it("lets NULL match nothing and a malformed filter match nothing", () => {
    expect(matchesFilter("body=neq.x", row)).toBe(false);
    expect(matchesFilter("version=like.3", row)).toBe(false);
    expect(matchesFilter(undefined, row)).toBe(true);
  });
});
