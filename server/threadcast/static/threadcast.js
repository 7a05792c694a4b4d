// threadcast.js — the browser client. An ES module, no build step.
//
//   import { createClient } from "/static/threadcast.js";
//   const client = createClient(location.origin, { token });
//   client.channel(`ticket-threads:${ticketId}`)
//     .on("postgres_changes", { event: "INSERT", schema: "public", table: "ticket_notes",
//                               filter: `ticket_id=eq.${ticketId}` }, (payload) => { ... })
//     .on("ai_status", (payload) => { ... })
//     .subscribe((status) => { ... });   // SUBSCRIBED | CHANNEL_ERROR | TIMED_OUT | CLOSED
//
// The stream is read with fetch, not EventSource, so the token travels in the Authorization
// header (never in a URL that lands in logs) and the client controls reconnection: it resumes
// with Last-Event-ID after any break, backing off with full jitter, so no event is missed or
// delivered twice.

const MAX_BACKOFF_MS = 30000;
const SUBSCRIBE_TIMEOUT_MS = 10000;

export class ConflictError extends Error {
  /** A 412: someone else changed the row first. `current` is their version of it. */
  constructor(message, current) {
    super(message);
    this.name = "ConflictError";
    this.current = current;
  }
}

export class HTTPError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.name = "HTTPError";
    this.status = status;
    this.body = body;
  }
}

/** Splits a byte stream into SSE events ({id, event, data, retry}), per the HTML spec. */
export async function* parseSSE(reader) {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = { data: [], event: "message", id: undefined, retry: undefined };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (event.data.length || event.retry !== undefined || event.id !== undefined) {
          yield { ...event, data: event.data.join("\n") };
        }
        event = { data: [], event: "message", id: undefined, retry: undefined };
        continue;
      }
      if (line.startsWith(":")) continue; // a heartbeat comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") event.data.push(value);
      else if (field === "event") event.event = value;
      else if (field === "id") event.id = value;
      else if (field === "retry" && /^\d+$/.test(value)) event.retry = Number(value);
    }
  }
}

/** Whether a row matches a Supabase-style filter `column=op.value` (client-side routing). */
export function matchesFilter(filter, row) {
  if (!filter) return true;
  const match = /^([a-z_][a-z0-9_]*)=(eq|neq|lt|lte|gt|gte|in)\.(.*)$/.exec(filter);
  if (!match || !row) return false;
  const [, column, op, raw] = match;
  const actual = row[column];
  if (actual === null || actual === undefined) return false;
  const compare = (expected) => {
    const a = Number(actual);
    const b = Number(expected);
    if (typeof actual !== "boolean" && !Number.isNaN(a) && !Number.isNaN(b) && expected !== "") {
      return a < b ? -1 : a > b ? 1 : 0;
    }
    const left = String(actual).toLowerCase();
    const right = String(expected).toLowerCase();
    return left < right ? -1 : left > right ? 1 : 0;
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

class Channel {
  constructor(client, name) {
    this.client = client;
    this.name = name;
    this.bindings = [];
    this.lastEventId = undefined;
    this.status = "CLOSED";
    this.abort = undefined;
    this.closed = true;
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
    this.statusCallback = statusCallback;
    this.closed = false;
    this.client.channels.add(this);
    this.run();
    return this;
  }

  unsubscribe() {
    this.closed = true;
    this.client.channels.delete(this);
    if (this.abort) this.abort.abort();
    this.setStatus("CLOSED");
  }

  setStatus(status, error) {
    if (this.status === status && status !== "CHANNEL_ERROR") return;
    this.status = status;
    this.statusCallback?.(status, error);
  }

  async run() {
    let attempt = 0;
    let retryMs = 1000;
    while (!this.closed) {
      const abort = new AbortController();
      this.abort = abort;
      const timeout = setTimeout(() => this.setStatus("TIMED_OUT"), SUBSCRIBE_TIMEOUT_MS);
      let fatal = false;
      try {
        const params = new URLSearchParams();
        for (const spec of this.specs()) params.append("on", spec);
        const headers = { Authorization: `Bearer ${this.client.token}` };
        if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
        const url = `${this.client.baseUrl}/v1/channels/${encodeURIComponent(this.name)}/stream?${params}`;
        const response = await this.client.fetch(url, { headers, signal: abort.signal, cache: "no-store" });
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          if ([400, 401, 403].includes(response.status)) {
            fatal = true; // retrying cannot fix these
            this.setStatus("CHANNEL_ERROR", new HTTPError(response.status, body));
          }
          const retryAfter = Number(response.headers.get("Retry-After"));
          if (retryAfter) retryMs = retryAfter * 1000;
        } else {
          for await (const frame of parseSSE(response.body.getReader())) {
            if (frame.retry !== undefined) retryMs = frame.retry;
            if (frame.id) this.lastEventId = frame.id;
            if (!frame.data) continue;
            const payload = JSON.parse(frame.data);
            if (frame.event === "system") {
              this.dispatch("system", payload);
              if (payload.type === "subscribed") {
                attempt = 0;
                clearTimeout(timeout);
                this.client.setState("live");
                this.setStatus("SUBSCRIBED");
                this.client.flushWrites();
              } else if (payload.type === "expired") {
                fatal = true;
                this.setStatus("CHANNEL_ERROR", new Error(payload.message));
              }
              continue;
            }
            this.dispatch(frame.event, payload);
          }
        }
      } catch (error) {
        if (abort.signal.aborted && this.closed) return;
      } finally {
        clearTimeout(timeout);
      }
      if (this.closed || fatal) return;
      this.client.setState(navigator.onLine === false ? "offline" : "reconnecting");
      attempt += 1;
      const cap = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.min(attempt - 1, 10));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * cap)); // full jitter
    }
  }

  dispatch(type, payload) {
    if (this.client.throttleMs > 0) {
      // Client-side throttling: deliver bursts together, at most once per interval.
      this.pending.push([type, payload]);
      this.flushTimer ??= setTimeout(() => {
        const batch = this.pending;
        this.pending = [];
        this.flushTimer = undefined;
        for (const [t, p] of batch) this.deliver(t, p);
      }, this.client.throttleMs);
      return;
    }
    this.deliver(type, payload);
  }

  deliver(type, payload) {
    for (const { type: wanted, filter, callback } of this.bindings) {
      if (wanted !== type) continue;
      if (type === "postgres_changes") {
        if (filter.table && filter.table !== payload.table) continue;
        if (filter.schema && filter.schema !== payload.schema) continue;
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
  constructor(baseUrl, { token, fetch, throttleMs = 0, onConnectionState } = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.token = token;
    this.fetch = fetch || globalThis.fetch.bind(globalThis);
    this.throttleMs = throttleMs;
    this.onConnectionState = onConnectionState;
    this.state = "reconnecting";
    this.channels = new Set();
    this.queue = [];
    globalThis.addEventListener?.("online", () => this.flushWrites());
    globalThis.addEventListener?.("offline", () => this.setState("offline"));
    this.rest = {
      listThreads: (ticketId) => this.request("GET", `/v1/tickets/${ticketId}/threads`),
      getThread: (threadId) => this.request("GET", `/v1/threads/${threadId}`),
      createThread: (ticketId, subject) =>
        this.write("POST", `/v1/tickets/${ticketId}/threads`, { subject }),
      addNote: (threadId, body, internal = false) =>
        this.write("POST", `/v1/threads/${threadId}/notes`, { body, internal }),
      editNote: (noteId, version, patch) =>
        this.write("PATCH", `/v1/notes/${noteId}`, patch, { "If-Match": String(version) }),
      deleteNote: (noteId, version) =>
        this.write("DELETE", `/v1/notes/${noteId}`, undefined,
          version === undefined ? {} : { "If-Match": String(version) }),
      setAIStatus: (threadId, status, progress, error) =>
        this.write("POST", `/v1/threads/${threadId}/ai-status`, { status, progress, error }),
    };
  }

  channel(name) {
    return new Channel(this, name);
  }

  setToken(token) {
    this.token = token;
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onConnectionState?.(state);
  }

  async request(method, path, body, headers = {}) {
    const response = await this.fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({}));
    if (response.status === 412) throw new ConflictError(data.message, data.current);
    if (!response.ok) throw new HTTPError(response.status, data);
    return data;
  }

  /** A write: sent now, or queued while offline and sent, in order, on reconnect. */
  write(method, path, body, headers) {
    return new Promise((resolve, reject) => {
      this.queue.push({ method, path, body, headers, resolve, reject });
      if (this.queue.length === 1) this.flushWrites();
    });
  }

  async flushWrites() {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length && navigator.onLine !== false) {
        const item = this.queue[0];
        try {
          item.resolve(await this.request(item.method, item.path, item.body, item.headers));
        } catch (error) {
          if (error instanceof TypeError) {
            this.setState("offline"); // the network failed: keep it queued for reconnect
            return;
          }
          item.reject(error);
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
