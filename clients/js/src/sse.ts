/** One block of a text/event-stream; data is null when the block had no data lines. */
export interface SSEFrame {
  event: string;
  data: string | null;
  id?: string;
  retry?: number;
}

/**
 * An incremental parser for text/event-stream, per the HTML standard: lines end in CRLF, LF or
 * CR; `:` starts a comment; `data` lines join with "\n"; `id` (without NUL) and `retry`
 * (digits only) are remembered; unknown fields are ignored; a blank line ends an event.
 * feed() takes decoded text in arbitrary pieces and returns the blocks it completed.
 */
export class SSEParser {
  private buffer = "";
  private started = false;
  private data: string[] = [];
  private event = "";
  private id: string | undefined;
  private retry: number | undefined;

  private block(): void {
    this.data = [];
    this.event = "";
    this.id = undefined;
    this.retry = undefined;
  }

  feed(text: string): SSEFrame[] {
    const out: SSEFrame[] = [];
    this.buffer += text;
    if (!this.started && this.buffer.length) {
      this.started = true;
      if (this.buffer[0] === "\uFEFF") this.buffer = this.buffer.slice(1); // one leading BOM
    }
    let pos = 0;
    for (;;) {
      const cr = this.buffer.indexOf("\r", pos);
      const lf = this.buffer.indexOf("\n", pos);
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end < 0) break;
      let next = end + 1;
      if (end === cr) {
        // A CR as the last character may be the first half of a CRLF split across chunks:
        // wait for the next chunk rather than read its LF as a second, blank line.
        if (next === this.buffer.length) break;
        if (this.buffer[next] === "\n") next += 1;
      }
      this.line(this.buffer.slice(pos, end), out);
      pos = next;
    }
    this.buffer = this.buffer.slice(pos);
    return out;
  }

  /** The stream ended: a held-back CR still ends its line; an unfinished event is dropped. */
  end(): SSEFrame[] {
    const out: SSEFrame[] = [];
    if (this.buffer.endsWith("\r")) this.line(this.buffer.slice(0, -1), out);
    this.buffer = "";
    this.block();
    return out;
  }

  private line(line: string, out: SSEFrame[]): void {
    if (line === "") {
      if (this.data.length || this.id !== undefined || this.retry !== undefined) {
        const frame: SSEFrame = {
          event: this.event || "message",
          data: this.data.length ? this.data.join("\n") : null,
        };
        if (this.id !== undefined) frame.id = this.id;
        if (this.retry !== undefined) frame.retry = this.retry;
        out.push(frame);
      }
      this.block();
      return;
    }
    if (line[0] === ":") return; // a comment: the server's heartbeat
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
  }
}
