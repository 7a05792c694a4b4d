import { describe, expect, it } from "vitest";
import { SSEParser } from "./sse.js";

const STREAM = "\uFEFFretry: 2500\r\n\r\n: heartbeat\r\nid: 1-1\r\nevent: postgres_changes\r\ndata: {\"a\":1}\r\n\r\n" +
  "id: 1-2\nevent: system\ndata: one\ndata: two\n\ndata: unfinished";

function parse(cuts: number[]) {
  const parser = new SSEParser();
  const out = [];
  let from = 0;
  for (const to of [...cuts, STREAM.length]) {
    out.push(...parser.feed(STREAM.slice(from, to)));
    from = to;
  }
  return [...out, ...parser.end()];
}

describe("SSEParser", () => {
  it("reads frames, comments, ids and retry; drops an unfinished event", () => {
    expect(parse([])).toEqual([
      { event: "message", data: null, retry: 2500 },
      { event: "postgres_changes", data: '{"a":1}', id: "1-1" },
      { event: "system", data: "one\ntwo", id: "1-2" },
    ]);
  });

  it("gives the same frames wherever the text is cut (a CRLF split too)", () => {
    const whole = parse([]);
    for (let i = 1; i < STREAM.length; i++) expect(parse([i])).toEqual(whole);
  });
});
