/**
 * Commands over the whole keyspace or a key's existence and type: KEYS,
 * RANDOMKEY, DBSIZE, FLUSHALL/FLUSHDB, TYPE, TOUCH, and those that move a
 * value between keys (RENAME, RENAMENX, COPY: a read, a write of the
 * destination with the value and its expiry, and for a rename a delete of
 * the source with the context read — not atomic across clients). Those that walk the
 * keyspace are full scans of the ring (one replica per arc, as SCAN), not
 * an index: O(keys), bounded by MAX_KEYS_WALKED.
 */
import { RING_SIZE } from '../../ring/ring.js';
import { globMatch } from './glob.js';
import { err, int, nil, OK, read, toBytes, type ClientState, type Command, type ServerContext } from './command-kit.js';

/** Most keys one KEYS, FLUSHALL or exact DBSIZE walks; past it they answer an error rather than grow without bound. */
export const MAX_KEYS_WALKED = 1_000_000;
/** Keys asked of the cluster per scan page. */
const SCAN_PAGE_KEYS = 1000;
/** Deletes FLUSHALL keeps in flight at once. */
const FLUSH_CONCURRENCY = 64;

class TooManyKeysError extends Error {}

/** Every live key, page by page, from ring position `from` to the end of the ring. */
async function* keysFrom(ctx: ServerContext, from = 0): AsyncGenerator<Buffer[]> {
  let cursor = from;
  let walked = 0;
  do {
    const page = await ctx.cluster.scan(cursor, { count: SCAN_PAGE_KEYS });
    walked += page.keys.length;
    if (walked > MAX_KEYS_WALKED) throw new TooManyKeysError(`ERR more than ${MAX_KEYS_WALKED} keys: use SCAN`);
    yield page.keys;
    cursor = page.cursor;
  } while (cursor !== 0);
}

async function walking<T>(work: () => Promise<T>): Promise<T | ReturnType<typeof err>> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof TooManyKeysError) return err(e.message);
    throw e;
  }
}

/** Live keys counted by a full scan. */
async function countKeys(ctx: ServerContext): Promise<number> {
  let n = 0;
  for await (const keys of keysFrom(ctx)) n += keys.length;
  return n;
}

/** Delete every key (a delete without a context each, FLUSH_CONCURRENCY at a time); how many were deleted. */
async function flush(ctx: ServerContext, client: ClientState): Promise<number> {
  let deleted = 0;
  for await (const keys of keysFrom(ctx)) {
    for (let i = 0; i < keys.length; i += FLUSH_CONCURRENCY) {
      await Promise.all(keys.slice(i, i + FLUSH_CONCURRENCY).map((k) => ctx.cluster.delete(k, { w: client.w, strict: client.strict })));
      deleted += Math.min(FLUSH_CONCURRENCY, keys.length - i);
    }
  }
  return deleted;
}

const flushCommand: Command = {
  arity: -1,
  run: async (ctx, client, a) => {
    if (a.length > 2 || (a.length === 2 && !['async', 'sync'].includes(a[1]!.toString('latin1').toLowerCase()))) return err('ERR syntax error');
    if (!ctx.allowFlush) return err('ERR FLUSHALL and FLUSHDB delete every key: start the server with --allow-flush to allow them');
    return walking(async () => {
      await flush(ctx, client);
      return (w) => w.simple('OK');
    });
  },
};

/** Write `source`'s newest value (and its expiry) under `dest`, superseding what `destContext` saw (undefined: what the coordinator holds). */
async function copyValue(ctx: ServerContext, client: ClientState, source: { values: unknown[]; expiresAtMs: number[] }, dest: Buffer, destContext: string | undefined): Promise<void> {
  const expireAtMs = source.expiresAtMs[0]!;
  await ctx.cluster.put(dest, toBytes(source.values[0]), {
    w: client.w,
    strict: client.strict,
    ...(destContext !== undefined && { context: destContext }),
    ...(expireAtMs > 0 && { expireAtMs }),
  });
}

function renameCommand(nx: boolean): Command {
  return {
    arity: 3,
    run: async (ctx, client, a) => {
      const [source, dest] = [a[1]!, a[2]!];
      const res = await read(ctx, client, source);
      if (!res.found) return err('ERR no such key');
      if (source.equals(dest)) return nx ? int(0) : OK;
      let destContext: string | undefined;
      if (nx) {
        const existing = await read(ctx, client, dest);
        if (existing.found) return int(0);
        destContext = existing.context;
      }
      await copyValue(ctx, client, res, dest, destContext);
      await ctx.cluster.delete(source, { w: client.w, context: res.context, strict: client.strict });
      return nx ? int(1) : OK;
    },
  };
}

export const KEYSPACE_COMMANDS: Readonly<Record<string, Command>> = {
  keys: {
    arity: 2,
    run: (ctx, _client, a) =>
      walking(async () => {
        const matched: Buffer[] = [];
        for await (const keys of keysFrom(ctx)) for (const k of keys) if (globMatch(a[1]!, k)) matched.push(k);
        return (w) => w.array(matched);
      }),
  },
  randomkey: {
    arity: 1,
    run: async (ctx) => {
      // the first key at or after a random ring position, wrapping once: uniform over ring space, not over keys
      const start = Math.floor(Math.random() * RING_SIZE);
      for (const from of [start, 0]) {
        const page = await ctx.cluster.scan(from, { count: 1 });
        const key = page.keys[0];
        if (key !== undefined) return (w) => w.bulk(key);
        if (from === 0) break;
      }
      return nil;
    },
  },
  dbsize: {
    arity: 1,
    run: async (ctx) => {
      if (ctx.exactDbsize) return walking(async () => int(await countKeys(ctx)));
      // Stored keys (tombstones included) summed over actors, divided by n: an estimate, as in Redis Cluster per-node counts.
      // A busy actor gets 5 s to answer: one left out would make the count drop by a fifth.
      const stats = await ctx.cluster.stats({ timeoutMs: 5000 });
      return int(Math.round(stats.reduce((s, x) => s + x.keys, 0) / ctx.cluster.n));
    },
  },
  rename: renameCommand(false),
  renamenx: renameCommand(true),
  copy: {
    arity: -3,
    run: async (ctx, client, a) => {
      let replace = false;
      for (let i = 3; i < a.length; i++) {
        const opt = a[i]!.toString('latin1').toLowerCase();
        if (opt === 'replace') replace = true;
        else if (opt === 'db' && i + 1 < a.length) {
          const db = a[++i]!.toString('latin1');
          if (!/^-?[0-9]+$/.test(db)) return err('ERR value is not an integer or out of range');
          if (Number(db) !== 0) return err('ERR DB index is out of range');
        } else return err('ERR syntax error');
      }
      const [source, dest] = [a[1]!, a[2]!];
      if (source.equals(dest)) return err('ERR source and destination objects are the same');
      const res = await read(ctx, client, source);
      if (!res.found) return int(0);
      const existing = await read(ctx, client, dest);
      if (existing.found && !replace) return int(0);
      await copyValue(ctx, client, res, dest, existing.context);
      return int(1);
    },
  },
  flushall: flushCommand,
  flushdb: flushCommand,
  type: {
    arity: 2,
    run: async (ctx, client, a) => {
      const found = (await read(ctx, client, a[1]!)).found;
      return (w) => w.simple(found ? 'string' : 'none');
    },
  },
  touch: {
    arity: -2,
    run: async (ctx, client, a) => {
      const found = await Promise.all(a.slice(1).map((k) => read(ctx, client, k)));
      return int(found.filter((f) => f.found).length);
    },
  },
};
