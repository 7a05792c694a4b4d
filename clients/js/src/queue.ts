// The offline write queue, for pages WITHOUT React Query (the demo, plain scripts): writes
// made offline or while the server is unreachable are kept in memory and sent in order when
// the network or a stream comes back. With React Query, create the client with
// `offlineQueue: false`: React Query pauses, retries and persists mutations itself.
// This queue lives in memory only: a reload loses it.
import type { Request } from "./rest.js";

const MAX_BACKOFF_MS = 30000;
const isOffline = (): boolean => globalThis.navigator?.onLine === false;

interface Item {
  request: Request<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  attempt: number;
}

export class WriteQueue {
  private items: Item[] = [];
  private flushing = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly perform: (request: Request<unknown>) => Promise<unknown>) {}

  get length(): number {
    return this.items.length;
  }

  push<Out>(request: Request<Out>): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      const item: Item = { request, resolve: resolve as (v: unknown) => void, reject, attempt: 0 };
      this.items.push(item);
      // An aborted write that is still waiting is dropped; one in flight is aborted by fetch.
      request.signal?.addEventListener("abort", () => {
        const index = this.items.indexOf(item);
        if (index > 0 || (index === 0 && !this.flushing)) this.items.splice(index, 1);
        if (index >= 0) reject(request.signal?.reason);
      }, { once: true });
      void this.flush();
    });
  }

  /**
   * Send what is queued, in order. A network failure (fetch rejects with TypeError) keeps the
   * write for a retry under jittered backoff; the server may have done it already, so the
   * retry meets its own earlier attempt: creates are replayed by id, and `recover` turns the
   * retry's error into the earlier attempt's result.
   */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    clearTimeout(this.retryTimer);
    try {
      while (this.items.length && !isOffline()) {
        const item = this.items[0] as Item;
        try {
          item.resolve(await this.perform(item.request));
        } catch (error) {
          if (error instanceof TypeError && !item.request.signal?.aborted) {
            item.attempt += 1;
            const cap = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(item.attempt - 1, 10));
            this.retryTimer = setTimeout(() => void this.flush(), Math.random() * cap);
            return;
          }
          const earlier = item.attempt > 0 ? item.request.recover?.(error) : undefined;
          if (earlier === undefined) item.reject(error);
          else item.resolve(earlier);
        }
        this.items.shift();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Reject everything still queued. */
  close(): void {
    clearTimeout(this.retryTimer);
    for (const item of this.items.splice(0)) item.reject(new Error("client closed"));
  }
}
