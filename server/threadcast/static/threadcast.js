// threadcast.js — the browser client. An ES module, no build step; types in threadcast.d.ts.
//
//   import { createClient } from "/static/threadcast.js";
//   const client = createClient(location.origin, { token, onConnectionState: console.log });
//   client.channel(`ticket-threads:${ticketId}`)
//     .on("postgres_changes", { event: "INSERT", schema: "public", table: "ticket_notes",
//                               filter: `ticket_id=eq.${ticketId}` }, (payload) => { ... })
//     .on("ai_status", (payload) => { ... })
//     .subscribe((status) => { ... });   // SUBSCRIBED | CHANNEL_ERROR | TIMED_OUT | CLOSED
//   await client.rest.editNote(noteId, version, { body });   // ConflictError on 412
//
// Why fetch and not EventSource: EventSource cannot send headers, so the token would have to
// travel in the URL (where proxies and access logs keep it), and it reconnects on its own
// terms: no backoff, no jitter, no way to pause, and it gives up for good on any HTTP error.
// Reading the stream with fetch keeps the token in the Authorization header and lets this
// client resume with Last-Event-ID under jittered backoff, so no event is missed or repeated.
//
// Callbacks receive exactly the server's JSON.

const MAX_BACKOFF_MS = 30000;
const DEFAULTS = {
  throttleMs: 0, // deliver callbacks at once; > 0: in batches, at most once per interval
  pauseWhenHiddenMs: 60000, // close streams of a tab hidden this long; null: never
  subscribeTimeoutMs: 10000, // no answer from the server this long: TIMED_OUT, retry
  idleTimeoutMs: 45000, // nothing at all (the server sends a heartbeat every 15 s): retry
};

export class ConflictError extends Error {
  /** A 412: someone else changed the row first. `current` is their version (null if gone). */
  constructor(message, current) {
    super(message);
    this.name = "ConflictError";
    this.current = current ?? null;
  }
}

export class HTTPError extends Error {
  /** Any other non-2xx answer; `body` is the server's {"error", "message", ...}. */
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.name = "HTTPError";
    this.status = status;
    this.body = body;
  }
}

/**
 * An incremental parser for text/event-stream, per the HTML standard: lines end in CRLF, LF or
 * CR; `:` starts a comment; `data` lines join with "\n"; `id` (without NUL) and `retry`
 * (digits only) are remembered; unknown fields are ignored; a blank line ends an event.
 * feed() takes decoded text in arbitrary pieces and returns the blocks it completed, as
 * {event, data, id, retry}: data is null for a block without data lines (only id or retry),
 * id and retry are undefined unless the block set them.
 */
export class SSEParser {
  constructor() {
    this.buffer = "";
    this.started = false;
    this.block();
  }

  block() {
    this.data = [];
    this.event = "";
    this.id = undefined;
    this.retry = undefined;
  }

  feed(text) {
    const out = [];
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
  end() {
    const out = [];
    if (this.buffer.endsWith("\r")) this.line(this.buffer.slice(0, -1), out);
    this.buffer = "";
    this.block();
    return out;
  }

  line(line, out) {
    if (line === "") {
      if (this.data.length || this.id !== undefined || this.retry !== undefined) {
        out.push({
          event: this.event || "message",
          data: this.data.length ? this.data.join("\n") : null,
          id: this.id,
          retry: this.retry,
        });
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

/**
 * Whether a row matches a Supabase-style filter `column=op.value`. The server has already
 * filtered the stream; this routes each event to the callbacks whose binding it matches,
 * since one stream carries every binding of a channel.
 */
export function matchesFilter(filter, row) {
  if (!filter) return true;
  const match = /^([a-z_][a-z0-9_]*)=(eq|neq|lt|lte|gt|gte|in)\.(.*)$/.exec(filter);
  if (!match || !row) return false;
  const [, column, op, raw] = match;
  const actual = row[column];
  if (actual === null || actual === undefined) return false; // SQL: NULL matches nothing
  const compare = (expected) => {
    if (typeof actual === "number" || /^-?\d+(\.\d+)?$/.test(String(actual))) {
      const [a, b] = [Number(actual), Number(expected)];
      if (expected !== "" && !Number.isNaN(b)) return Math.sign(a - b);
    }
    const isoDate = /^\d{4}-\d\d-\d\d/;
    if (isoDate.test(String(actual)) && isoDate.test(expected)) {
      const [a, b] = [Date.parse(actual), Date.parse(expected)];
      if (!Number.isNaN(a) && !Number.isNaN(b)) return Math.sign(a - b);
    }
    // uuids and booleans compare case-insensitively, as PostgreSQL parses them.
    const [a, b] = [String(actual).toLowerCase(), String(expected).toLowerCase()];
    return a < b ? -1 : a > b ? 1 : 0;
  };
  switch (op) {
    case "eq": return compare(raw) === 0;
    case "neq": return compare(raw) !== 0;
    case "lt": return compare(raw) < 0;
    case "lte": return compare(raw) <= 0;
    case "gt": return compare(raw) > 0;
    case "gte": return compare(raw) >= 0;
    case "in": return raw.replace(/^\(|\)$/g, "").split(",").some((v) => compare(v.trim()) === 0);
  }
  return false;
}

const isOffline = () => globalThis.navigator?.onLine === false;

/** A random (version 4) uuid. crypto.randomUUID needs a secure context; getRandomValues not. */
export function randomId() {
  if (globalThis.crypto.randomUUID && globalThis.isSecureContext !== false) {
    return globalThis.crypto.randomUUID();
  }
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)]
    .join("-");
}

/** Whether a retried edit's 412 shows the edit itself: the next version, with the patch. */
function isOwnEdit(error, version, patch) {
  const current = error instanceof ConflictError ? error.current : null;
  return (
    current !== null &&
    current.version === version + 1 &&
    Object.entries(patch).every(([field, value]) => value === undefined || current[field] === value)
  );
}

class Channel {
  constructor(client, name) {
    this.client = client;
    this.name = name;
    this.bindings = [];
    this.lastEventId = undefined;
    this.status = undefined;
    this.closed = true;
    this.live = false; // the server said `subscribed` on the current stream
    this.abort = undefined;
    this.pending = [];
    this.flushTimer = undefined;
  }

  on(type, filterOrCallback, maybeCallback) {
    const callback = typeof filterOrCallback === "function" ? filterOrCallback : maybeCallback;
    const filter = typeof filterOrCallback === "function" ? {} : filterOrCallback || {};
    this.bindings.push({ type, filter, callback });
    return this;
  }

  /** The server-side subscriptions: one `on` parameter per binding. */
  specs() {
    return this.bindings.flatMap(({ type, filter }) => {
      if (type === "ai_status") return ["ai_status"];
      if (type !== "postgres_changes") return [];
      const spec = `${filter.event || "*"}:${filter.schema || "public"}.${filter.table}`;
      return [filter.filter ? `${spec}:${filter.filter}` : spec];
    });
  }

  subscribe(statusCallback = () => {}) {
    if (!this.closed) return this;
    this.statusCallback = statusCallback;
    this.closed = false;
    this.client.channels.add(this);
    this.client.updateState();
    this.run();
    return this;
  }

  unsubscribe() {
    if (this.closed) return;
    this.closed = true;
    this.live = false;
    this.client.channels.delete(this);
    this.abort?.abort();
    this.wakeUp?.(); // end a backoff or a wait, so run() returns
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pending = [];
    this.setStatus("CLOSED");
    this.client.updateState();
  }

  setStatus(status, error) {
    // SUBSCRIBED repeats after every resume; errors are reported each time.
    if (status === "CLOSED" && this.status === "CLOSED") return;
    this.status = status;
    try {
      this.statusCallback?.(status, error);
    } catch (e) {
      console.error("threadcast: a status callback failed", e);
    }
  }

  setLive(live) {
    this.live = live;
    this.client.updateState();
  }

  /** Connect, read, and reconnect until unsubscribed or a retry cannot help. */
  async run() {
    const mine = (this.runs = (this.runs || 0) + 1);
    const stopped = () => this.closed || this.runs !== mine; // unsubscribed (maybe resubscribed)
    let attempt = 0; // failures since the last `subscribed`
    let retryMs = 1000; // the server's `retry:` hint: the base of the backoff
    while (!stopped()) {
      if (this.client.paused) {
        await this.client.sleep(Infinity, this); // until the page is visible again
        attempt = 0;
        continue;
      }
      const tokenEpoch = this.client.tokenEpoch;
      const outcome = await this.connect((ms) => (retryMs = ms), () => (attempt = 0));
      if (stopped()) return;
      this.setLive(false);
      if (outcome.fatal) {
        this.setStatus("CHANNEL_ERROR", outcome.error);
        return;
      }
      if (outcome.needsToken && typeof this.client.token !== "function") {
        // A fixed token expired or was refused: wait for setToken(), then resume.
        this.setStatus("CHANNEL_ERROR", outcome.error);
        while (!stopped() && this.client.tokenEpoch === tokenEpoch) {
          await this.client.sleep(Infinity, this);
        }
        attempt = 0;
        continue;
      }
      if (this.client.paused) continue;
      this.setStatus(outcome.timedOut ? "TIMED_OUT" : "CHANNEL_ERROR", outcome.error);
      // Exponential backoff with full jitter: a restarted server is not hit by every client
      // at once. Retry-After (429, 503) is a floor. `online` or a visible page cut it short.
      attempt += 1;
      const cap = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.min(attempt - 1, 10));
      await this.client.sleep(Math.max(outcome.retryAfterMs || 0, Math.random() * cap), this);
    }
  }

  /** One stream, start to end. Resolves to what happened; never rejects. */
  async connect(setRetry, onSubscribed) {
    const abort = new AbortController();
    this.abort = abort;
    let timedOut = false;
    let idle;
    const startTimer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.client.options.subscribeTimeoutMs);
    const alive = () => {
      clearTimeout(idle);
      idle = setTimeout(() => abort.abort(), this.client.options.idleTimeoutMs);
    };
    try {
      const params = new URLSearchParams();
      for (const spec of this.specs()) params.append("on", spec);
      const headers = { Authorization: `Bearer ${await this.client.currentToken()}` };
      if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
      const url = `${this.client.baseUrl}/v1/channels/${encodeURIComponent(this.name)}/stream?${params}`;
      const response = await this.client.fetch(url, {
        headers,
        signal: abort.signal,
        cache: "no-store",
      });
      if (!response.ok) {
        clearTimeout(startTimer);
        const body = await response.json().catch(() => ({}));
        const error = new HTTPError(response.status, body);
        const retryAfterMs = (Number(response.headers.get("Retry-After")) || 0) * 1000;
        if (response.status === 401) return { needsToken: true, error };
        const fatal = [400, 403, 404].includes(response.status); // retrying cannot fix these
        return { fatal, error, retryAfterMs };
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SSEParser();
      alive();
      for (;;) {
        const { value, done } = await reader.read();
        clearTimeout(startTimer); // the server answered; from here the idle timer watches
        alive();
        const frames = done ? parser.end() : parser.feed(decoder.decode(value, { stream: true }));
        for (const frame of frames) {
          const stop = this.handle(frame, setRetry, onSubscribed);
          if (stop) {
            abort.abort();
            return stop;
          }
        }
        if (done) return { error: new Error("the server ended the stream") };
      }
    } catch (error) {
      if (timedOut) return { timedOut, error: new Error("no answer from the server") };
      return { error };
    } finally {
      clearTimeout(startTimer);
      clearTimeout(idle);
    }
  }

  /** One parsed frame; returns an outcome when the stream should end here. */
  handle(frame, setRetry, onSubscribed) {
    if (frame.retry !== undefined) setRetry(frame.retry);
    if (frame.id !== undefined) this.lastEventId = frame.id || undefined;
    if (frame.data === null) return undefined;
    let payload;
    try {
      payload = JSON.parse(frame.data);
    } catch {
      console.error("threadcast: a frame that is not JSON", frame.data);
      return undefined;
    }
    this.dispatch(frame.event, payload);
    if (frame.event !== "system") return undefined;
    if (payload.type === "subscribed") {
      onSubscribed();
      this.setLive(true);
      this.setStatus("SUBSCRIBED");
      this.client.flushWrites();
    } else if (payload.type === "expired") {
      return { needsToken: true, error: new Error(payload.message) };
    }
    // `reset` and `shutdown` are followed by the server closing the stream (a cursor_*
    // reset continues instead); both resume from lastEventId.
    return undefined;
  }

  dispatch(type, payload) {
    const interval = this.client.options.throttleMs;
    if (!(interval > 0)) {
      this.deliver(type, payload);
      return;
    }
    // Client-side throttling: a burst is delivered together, in order, at most once per
    // interval, so a UI re-renders once per burst instead of once per event.
    this.pending.push([type, payload]);
    this.flushTimer ??= setTimeout(() => {
      const batch = this.pending;
      this.pending = [];
      this.flushTimer = undefined;
      for (const [t, p] of batch) this.deliver(t, p);
    }, interval);
  }

  deliver(type, payload) {
    for (const { type: wanted, filter, callback } of this.bindings) {
      if (wanted !== type) continue;
      if (type === "postgres_changes") {
        if (filter.table && filter.table !== payload.table) continue;
        if ((filter.schema || "public") !== payload.schema) continue;
        if (filter.event && filter.event !== "*" && filter.event !== payload.eventType) continue;
        const row = payload.eventType === "DELETE" ? payload.old : payload.new;
        if (!matchesFilter(filter.filter, row)) continue;
      }
      try {
        callback(payload);
      } catch (error) {
        console.error("threadcast: a callback failed", error);
      }
    }
  }
}

class Client {
  constructor(baseUrl, options = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.options = { ...DEFAULTS, ...options };
    this.token = options.token;
    this.tokenEpoch = 0;
    this.fetch = options.fetch || globalThis.fetch.bind(globalThis);
    this.state = "reconnecting";
    this.paused = false;
    this.channels = new Set();
    this.sleepers = new Set();
    this.queue = [];
    this.listeners = [];
    this.listen(globalThis, "online", () => {
      this.updateState();
      this.wake(); // reconnect now, not at the end of a backoff
      this.flushWrites();
    });
    this.listen(globalThis, "offline", () => this.updateState());
    if (globalThis.document) {
      this.listen(globalThis.document, "visibilitychange", () => this.visibilityChanged());
    }
    this.rest = {
      listThreads: (ticketId) => this.request("GET", `/v1/tickets/${ticketId}/threads`),
      getThread: (threadId) => this.request("GET", `/v1/threads/${threadId}`),
      // Creates carry an id chosen here, so a retry after a lost answer is recognised by the
      // server (200 Idempotent-Replayed) instead of making a second row. Pass your own id to
      // match the realtime INSERT to an optimistic entry.
      createThread: (ticketId, subject, { id = randomId() } = {}) =>
        this.write("POST", `/v1/tickets/${ticketId}/threads`, { id, subject }),
      addNote: (threadId, body, internal = false, { id = randomId() } = {}) =>
        this.write("POST", `/v1/threads/${threadId}/notes`, { id, body, internal }),
      editNote: (noteId, version, patch) =>
        this.write("PATCH", `/v1/notes/${noteId}`, patch, { "If-Match": String(version) },
          (error) => (isOwnEdit(error, version, patch) ? error.current : undefined)),
      deleteNote: (noteId, version) =>
        this.write("DELETE", `/v1/notes/${noteId}`, undefined,
          version === undefined ? {} : { "If-Match": String(version) },
          (error) => (error instanceof HTTPError && error.status === 404 ? null : undefined)),
      setAIStatus: (threadId, status, progress, error) =>
        this.write("POST", `/v1/threads/${threadId}/ai-status`, { status, progress, error }),
    };
  }

  listen(target, type, handler) {
    if (!target?.addEventListener) return;
    target.addEventListener(type, handler);
    this.listeners.push([target, type, handler]);
  }

  channel(name) {
    return new Channel(this, name);
  }

  /** A new token (a string, or a function returning one); streams waiting for it resume. */
  setToken(token) {
    this.token = token;
    this.tokenEpoch += 1;
    this.wake();
  }

  async currentToken() {
    return typeof this.token === "function" ? await this.token() : this.token;
  }

  /** Unsubscribe every channel and stop listening to the page; queued writes are rejected. */
  close() {
    for (const channel of [...this.channels]) channel.unsubscribe();
    for (const [target, type, handler] of this.listeners) target.removeEventListener(type, handler);
    this.listeners = [];
    clearTimeout(this.hiddenTimer);
    clearTimeout(this.writeRetry);
    for (const item of this.queue.splice(0)) item.reject(new Error("client closed"));
  }

  get pendingWrites() {
    return this.queue.length;
  }

  updateState() {
    const channels = [...this.channels];
    let state;
    if (this.paused) state = "paused";
    else if (isOffline()) state = "offline";
    else state = channels.every((c) => c.live) ? "live" : "reconnecting";
    if (this.state === state) return;
    this.state = state;
    try {
      this.options.onConnectionState?.(state);
    } catch (error) {
      console.error("threadcast: onConnectionState failed", error);
    }
  }

  /** Resolves after `ms`, or sooner on wake() (or the owner's wakeUp(), on unsubscribe). */
  sleep(ms, owner) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      this.sleepers.add(done);
      owner.wakeUp = done;
    });
  }

  wake() {
    for (const done of [...this.sleepers]) done();
  }

  // Going quiet while hidden: a background tab holding a stream costs the server a connection
  // and, over HTTP/1.1, takes one of the browser's six connections per origin from every
  // other tab. After `pauseWhenHiddenMs` hidden the streams close; when the page shows again
  // they resume from Last-Event-ID and replay what was missed (or get `reset` past retention).
  visibilityChanged() {
    const limit = this.options.pauseWhenHiddenMs;
    if (document.visibilityState === "hidden") {
      if (limit === null || limit === undefined || this.hiddenTimer) return;
      this.hiddenTimer = setTimeout(() => {
        this.paused = true;
        for (const channel of this.channels) channel.abort?.abort();
        this.updateState();
      }, limit);
      return;
    }
    clearTimeout(this.hiddenTimer);
    this.hiddenTimer = undefined;
    if (!this.paused) return;
    this.paused = false;
    this.updateState();
    this.wake();
  }

  async request(method, path, body, headers = {}) {
    const response = await this.fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${await this.currentToken()}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({}));
    if (response.status === 412) throw new ConflictError(data.message, data.current);
    if (!response.ok) throw new HTTPError(response.status, data);
    return data;
  }

  /**
   * A write: sent now, or queued while offline (or the server is unreachable) and sent, in
   * order, when the network or a stream comes back. The promise settles with the server's
   * answer. When the network failed after sending, the server may have done the write; the
   * retry then meets its own earlier attempt: creates are replayed by id, and `recover` turns
   * the retry's error into the earlier attempt's result (undefined: it was a real error).
   */
  write(method, path, body, headers, recover) {
    return new Promise((resolve, reject) => {
      this.queue.push({ method, path, body, headers, recover, resolve, reject, attempt: 0 });
      this.flushWrites();
    });
  }

  async flushWrites() {
    if (this.flushing) return;
    this.flushing = true;
    clearTimeout(this.writeRetry);
    try {
      while (this.queue.length && !isOffline()) {
        const item = this.queue[0];
        try {
          item.resolve(await this.request(item.method, item.path, item.body, item.headers));
        } catch (error) {
          if (error instanceof TypeError) {
            // The network failed (fetch rejects with TypeError): keep it, try again later.
            item.attempt += 1;
            const cap = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(item.attempt - 1, 10));
            this.writeRetry = setTimeout(() => this.flushWrites(), Math.random() * cap);
            return;
          }
          const earlier = item.attempt > 0 ? item.recover?.(error) : undefined;
          if (earlier === undefined) item.reject(error);
          else item.resolve(earlier);
        }
        this.queue.shift();
      }
    } finally {
      this.flushing = false;
    }
  }
}

export function createClient(baseUrl, options) {
  return new Client(baseUrl, options);
}
