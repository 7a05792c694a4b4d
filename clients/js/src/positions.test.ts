import { describe, expect, it } from "vitest";
import { comparePositions, earlierPosition, isAfter, isPosition, laterPosition } from "./positions.js";

describe("positions", () => {
  it("compare as (tick, id) integers, past Number's exact range", () => {
    expect(comparePositions("9-1", "10-0")).toBeLessThan(0);
    expect(comparePositions("10-2", "10-10")).toBeLessThan(0);
    expect(comparePositions("900719925474099312-1", "900719925474099311-9")).toBeGreaterThan(0);
    expect(comparePositions("007-01", "7-1")).toBe(0);
    expect(laterPosition(undefined, "1-1")).toBe("1-1");
    expect(earlierPosition("2-1", "1-9")).toBe("1-9");
    expect(isAfter("1-1", undefined)).toBe(true);
    expect(isAfter("1-1", "1-1")).toBe(false);
  });

  it("are 1 to 18 ASCII digits on each side", () => {
    expect(isPosition("1-1")).toBe(true);
    expect(isPosition(`${"9".repeat(18)}-${"9".repeat(18)}`)).toBe(true);
    for (const bad of [`${"9".repeat(19)}-1`, "1-", "-1", "1-1 ", "١-1", "a-b", 12, null]) expect(isPosition(bad)).toBe(false);
  });
});
