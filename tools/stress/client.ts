/**
 * What a load generator talks to: the same few operations over either
 * target. `local` sends requests over a MessagePort to the main thread,
 * which runs them through the programmatic `Cluster` API (the cluster lives
 * there); `redis://` talks the Redis protocol with ioredis, one connection
 * per client, to a ringkv server or any Redis-protocol server.
 */
import type { MessagePort } from 'node:worker_threads';
import { Redis } from 'ioredis';

export interface ReadResult {
  /** Every sibling as a string (a Redis GET gives at most one). */
  readonly values: readonly string[];
  /** Causal context to write back with ('' when the key was not found, or the server has no contexts). */
  readonly context: string;
}

export interface StressClient {
  read(key: string): Promise<ReadResult>;
  /**
   * `context` undefined: a blind overwrite (SET). A string (even ''): write
   * what a read with that context saw, superseding it and nothing else;
   * servers without contexts (Redis) just SET.
   */
  write(key: string, value: string, context: string | undefined): Promise<void>;
  /** Add `by` to the PN-counter at `key` (INCRBY); resolves to the value the coordinator wrote. */
  increment(key: string, by: number): Promise<number>;
  /** Reads up to `count` keys from a cursor position; resolves to how many came back. */
  scan(cursor: number, count: number): Promise<number>;
  close(): Promise<void>;
}

/** An operation that failed, with a short type for the error counts. */
export class StressOpError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'StressOpError';
  }
}

// ---- local target: requests to the main thread ----

export type LocalRequest =
  | { readonly id: number; readonly op: 'get'; readonly key: string }
  | { readonly id: number; readonly op: 'put'; readonly key: string; readonly value: string; readonly context: string | undefined }
  | { readonly id: number; readonly op: 'scan'; readonly cursor: number; readonly count: number }
  | { readonly id: number; readonly op: 'incr'; readonly key: string; readonly by: number };

export type LocalReply =
  | { readonly id: number; readonly ok: true; readonly values?: string[]; readonly context?: string; readonly count?: number; readonly value?: number }
  | { readonly id: number; readonly ok: false; readonly type: string; readonly message: string };

/**
 * One port per load-generator thread, shared by its clients. Requests made
 * in the same tick travel as one message (the per-message cost dominates).
 * In flight is bounded by the number of clients (each has one request out).
 */
export class LocalPortChannel {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(r: LocalReply): void }>();
  private outbox: LocalRequest[] = [];

  constructor(private readonly port: MessagePort) {
    port.on('message', (replies: LocalReply[]) => {
      for (const r of replies) {
        const w = this.waiting.get(r.id);
        if (w === undefined) continue;
        this.waiting.delete(r.id);
        w.resolve(r);
      }
    });
  }

  request(make: (id: number) => LocalRequest): Promise<LocalReply> {
    const id = this.nextId++;
    if (this.outbox.length === 0) queueMicrotask(() => this.flush());
    this.outbox.push(make(id));
    return new Promise((resolve) => this.waiting.set(id, { resolve }));
  }

  private flush(): void {
    const batch = this.outbox;
    this.outbox = [];
    this.port.postMessage(batch);
  }

  close(): void {
    this.port.close();
  }

  client(): StressClient {
    const ok = (r: LocalReply): Extract<LocalReply, { ok: true }> => {
      if (!r.ok) throw new StressOpError(r.type, r.message);
      return r;
    };
    return {
      read: async (key) => {
        const r = ok(await this.request((id) => ({ id, op: 'get', key })));
        return { values: r.values ?? [], context: r.context ?? '' };
      },
      write: async (key, value, context) => {
        ok(await this.request((id) => ({ id, op: 'put', key, value, context })));
      },
      increment: async (key, by) => ok(await this.request((id) => ({ id, op: 'incr', key, by }))).value ?? 0,
      scan: async (cursor, count) => ok(await this.request((id) => ({ id, op: 'scan', cursor, count }))).count ?? 0,
      close: async () => {},
    };
  }
}

// ---- redis:// target ----

export interface RedisTargetOptions {
  readonly url: string;
  readonly timeoutMs: number;
  /** The server is ringkv: use its commands for siblings, contexts and per-connection consistency. */
  readonly ringkv: boolean;
  readonly r?: number;
  readonly w?: number;
  readonly strict?: boolean;
}

function redisErrorType(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  if (/timed? ?out/i.test(message)) return 'TIMEOUT';
  if (/connection|ECONNREFUSED|ECONNRESET|closed/i.test(message)) return 'CONNECTION';
  const word = /^([A-Z]+)\b/.exec(message)?.[1];
  return word ?? 'ERR';
}

async function redisCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw new StressOpError(redisErrorType(e), e instanceof Error ? e.message : String(e));
  }
}

export async function redisClient(o: RedisTargetOptions): Promise<StressClient> {
  const redis = new Redis(o.url, {
    lazyConnect: true,
    commandTimeout: o.timeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times) => (times > 20 ? null : Math.min(times * 50, 500)),
  });
  redis.on('error', () => {}); // reported per command
  await redis.connect();
  if (o.ringkv) {
    const args: string[] = [];
    if (o.r !== undefined) args.push('R', String(o.r));
    if (o.w !== undefined) args.push('W', String(o.w));
    if (o.strict !== undefined) args.push('STRICT', o.strict ? 'yes' : 'no');
    if (args.length > 0) await redis.call('RINGKV.CONSISTENCY', ...args);
  }
  return {
    read: (key) =>
      redisCall(async () => {
        if (!o.ringkv) {
          const v = await redis.get(key);
          return { values: v === null ? [] : [v], context: '' };
        }
        const reply = (await redis.call('RINGKV.GETALL', key)) as string[];
        return { values: reply.slice(1), context: reply[0] ?? '' };
      }),
    write: (key, value, context) =>
      redisCall(async () => {
        if (o.ringkv && context !== undefined) await redis.call('RINGKV.PUT', key, value, 'CONTEXT', context);
        else await redis.set(key, value);
      }),
    increment: (key, by) => redisCall(async () => redis.incrby(key, by)),
    scan: (cursor, count) =>
      redisCall(async () => {
        const [, keys] = await redis.scan(String(cursor), 'COUNT', count);
        return keys.length;
      }),
    close: async () => {
      redis.disconnect();
    },
  };
}
