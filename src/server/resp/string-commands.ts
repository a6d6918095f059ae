/**
 * The Redis string commands: GET, SET, DEL, EXISTS, MGET, MSET, SCAN, and
 * those that read, then write with what they read (SETNX, GETSET, GETDEL,
 * APPEND): each write carries the read's context, so a concurrent writer's
 * value is kept as a sibling rather than silently replaced (not atomic
 * across clients, as README says).
 */
import { InvalidKeyError } from '../../errors.js';
import { globMatch } from './glob.js';
import { setWithOptions } from './expiry-commands.js';
import { err, int, lower, nil, OK, oneValue, parseInteger, read, readNow, toBytes, LATER, type ClientState, type Command, type ServerContext } from './command-kit.js';

/**
 * DEL of one key: a delete without a context, as on every front end (the
 * coordinator supersedes what it holds); the count is whether it held a live
 * value. A key that cannot exist was never there (0), as in Redis.
 */
async function del(ctx: ServerContext, client: ClientState, key: Buffer): Promise<boolean> {
  try {
    return (await ctx.cluster.delete(key, { w: client.w, strict: client.strict })).existed;
  } catch (e) {
    if (e instanceof InvalidKeyError) return false;
    throw e;
  }
}

/** Read, then write `next(current)` with the read's context (even '': saw nothing). */
async function readThenPut(ctx: ServerContext, client: ClientState, key: Buffer, next: (current: Buffer | null) => Buffer): Promise<{ old: Buffer | null; written: Buffer }> {
  const current = await ctx.cluster.get(key, { r: client.r });
  const old = current.found ? toBytes(current.values[0]) : null;
  const written = next(old);
  await ctx.cluster.put(key, written, { w: client.w, context: current.context, strict: client.strict });
  return { old, written };
}

/** Redis's GETRANGE: inclusive offsets, negative ones from the end, clamped as Redis clamps them. */
export function byteRange(value: Buffer, start: number, end: number): Buffer {
  const n = value.length;
  if (start < 0 && end < 0 && start > end) return Buffer.alloc(0);
  let from = start < 0 ? n + start : start;
  let to = end < 0 ? n + end : end;
  if (from < 0) from = 0;
  if (to < 0) to = 0;
  if (to >= n) to = n - 1;
  if (from > to || n === 0) return Buffer.alloc(0);
  return value.subarray(from, to + 1);
}

const delCommand: Command = {
  arity: -2,
  run: async (ctx, client, a) => {
    const done = await Promise.all(a.slice(1).map((k) => del(ctx, client, k)));
    return int(done.filter(Boolean).length);
  },
};

const getRangeCommand: Command = {
  arity: 4,
  run: async (ctx, client, a) => {
    const start = parseInteger(a[2]!);
    const end = parseInteger(a[3]!);
    const res = await read(ctx, client, a[1]!);
    const v = res.found ? byteRange(toBytes(res.values[0]), start, end) : Buffer.alloc(0);
    return (w) => w.bulk(v);
  },
};

export const STRING_COMMANDS: Readonly<Record<string, Command>> = {
  get: {
    arity: 2,
    run: (ctx, client, a, pending) => {
      const now = readNow(ctx, client, a[1]!);
      if (now !== undefined) return oneValue(now, ctx, client);
      read(ctx, client, a[1]!).then((res) => pending.answer(null, oneValue(res, ctx, client)), (e: unknown) => pending.answer(e));
      return LATER;
    },
  },
  set: {
    arity: -3,
    run: (ctx, client, a, pending) => {
      if (a.length > 3) return setWithOptions(ctx, client, a);
      // Redis SET replaces the value: a put without a context supersedes what the coordinating replica holds (no read round trip).
      ctx.cluster.putWithCallback(a[1]!, a[2]!, { w: client.w, strict: client.strict }, (e) => pending.answer(e, OK));
      return LATER;
    },
  },
  del: delCommand,
  // ringkv frees nothing in the foreground either way: a delete is a tombstone, reaped in the background
  unlink: delCommand,
  setnx: {
    arity: 3,
    run: async (ctx, client, a) => {
      const current = await ctx.cluster.get(a[1]!, { r: client.r });
      if (current.found) return int(0);
      await ctx.cluster.put(a[1]!, a[2]!, { w: client.w, context: current.context, strict: client.strict });
      return int(1);
    },
  },
  getset: {
    arity: 3,
    run: async (ctx, client, a) => {
      const { old } = await readThenPut(ctx, client, a[1]!, () => a[2]!);
      return (w) => w.bulk(old);
    },
  },
  getdel: {
    arity: 2,
    run: async (ctx, client, a) => {
      const current = await read(ctx, client, a[1]!);
      if (!current.found) return nil;
      await ctx.cluster.delete(a[1]!, { w: client.w, context: current.context, strict: client.strict });
      const old = toBytes(current.values[0]);
      return (w) => w.bulk(old);
    },
  },
  append: {
    arity: 3,
    run: async (ctx, client, a) => {
      const { written } = await readThenPut(ctx, client, a[1]!, (old) => (old === null ? a[2]! : Buffer.concat([old, a[2]!])));
      return int(written.length);
    },
  },
  strlen: {
    arity: 2,
    run: async (ctx, client, a) => {
      const res = await read(ctx, client, a[1]!);
      return int(res.found ? toBytes(res.values[0]).length : 0);
    },
  },
  getrange: getRangeCommand,
  substr: getRangeCommand,
  exists: {
    arity: -2,
    run: async (ctx, client, a) => {
      const found = await Promise.all(a.slice(1).map((k) => read(ctx, client, k)));
      return int(found.filter((f) => f.found).length);
    },
  },
  mget: {
    arity: -2,
    run: async (ctx, client, a) => {
      const results = await Promise.all(a.slice(1).map((k) => read(ctx, client, k)));
      return (w) => {
        w.arrayHeader(results.length);
        for (const r of results) w.bulk(r.found ? toBytes(r.values[0]) : null);
      };
    },
  },
  mset: {
    arity: -3,
    run: async (ctx, client, a) => {
      if (a.length % 2 !== 1) return err("ERR wrong number of arguments for 'mset' command");
      // Each pair is its own replicated write (not atomic as in Redis): the reply waits for all of them.
      const writes: Promise<unknown>[] = [];
      for (let i = 1; i < a.length; i += 2) writes.push(ctx.cluster.put(a[i]!, a[i + 1]!, { w: client.w, strict: client.strict }));
      await Promise.all(writes);
      return OK;
    },
  },
  scan: {
    arity: -2,
    run: async (ctx, _client, a) => {
      const cursorText = a[1]!.toString('latin1');
      if (!/^[0-9]+$/.test(cursorText) || Number(cursorText) >= 2 ** 32) return err('ERR invalid cursor');
      let count = 10;
      let match: Buffer | null = null;
      for (let i = 2; i < a.length; i++) {
        const opt = lower(a[i]!);
        if (opt === 'count' && i + 1 < a.length) {
          count = parseInteger(a[++i]!);
          if (count < 1) return err('ERR syntax error');
          count = Math.min(count, 100_000);
        } else if (opt === 'match' && i + 1 < a.length) {
          match = a[++i]!;
        } else if (opt === 'type' && i + 1 < a.length) {
          if (lower(a[++i]!) !== 'string') return (w) => {
            w.arrayHeader(2);
            w.bulk('0');
            w.arrayHeader(0);
          };
        } else {
          return err('ERR syntax error');
        }
      }
      const page = await ctx.cluster.scan(Number(cursorText), { count });
      const keys = match === null ? page.keys : page.keys.filter((k) => globMatch(match, k));
      return (w) => {
        w.arrayHeader(2);
        w.bulk(String(page.cursor));
        w.array(keys);
      };
    },
  },
};
