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
import { err, int, lower, nil, OK, oneValue, parseInteger, read, readNow, toBytes, LATER, type ClientState, type Command, type Reply, type ServerContext } from './command-kit.js';

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
async function readThenPut(
  ctx: ServerContext,
  client: ClientState,
  key: Buffer,
  next: (current: Buffer | null) => Buffer,
  keepTtl: boolean,
): Promise<{ old: Buffer | null; written: Buffer }> {
  const current = await ctx.cluster.get(key, { r: client.r });
  const old = current.found ? toBytes(current.values[0]) : null;
  const written = next(old);
  // APPEND, SETRANGE, SETBIT keep the key's TTL, as in Redis; GETSET is a SET and clears it
  const expireAtMs = keepTtl && current.found ? current.expiresAtMs[0]! : 0;
  await ctx.cluster.put(key, written, { w: client.w, context: current.context, strict: client.strict, ...(expireAtMs > 0 && { expireAtMs }) });
  return { old, written };
}

/** Redis's error for a string that would outgrow what ringkv stores (its maxPairBytes). */
function tooLarge(ctx: ServerContext, key: Buffer, bytes: number): Reply | null {
  return key.length + bytes > ctx.cluster.options.maxPairBytes ? err(`ERR string exceeds maximum allowed size (maxPairBytes ${ctx.cluster.options.maxPairBytes})`) : null;
}

/** A bit offset as SETBIT/GETBIT take it (0..2^32-1), or null. */
function bitOffset(b: Buffer): number | null {
  const text = b.toString('latin1');
  if (!/^[0-9]{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n < 2 ** 32 ? n : null;
}

const setRangeCommand: Command = {
  arity: 4,
  run: async (ctx, client, a) => {
    const offset = parseInteger(a[2]!);
    if (offset < 0) return err('ERR offset is out of range');
    const piece = a[3]!;
    if (piece.length === 0) {
      // nothing to write: the length as it is (Redis does not even create the key)
      const res = await read(ctx, client, a[1]!);
      return int(res.found ? toBytes(res.values[0]).length : 0);
    }
    const refused = tooLarge(ctx, a[1]!, offset + piece.length);
    if (refused !== null) return refused;
    const { written } = await readThenPut(
      ctx,
      client,
      a[1]!,
      (old) => {
        const out = Buffer.alloc(Math.max(old?.length ?? 0, offset + piece.length));
        old?.copy(out);
        piece.copy(out, offset);
        return out;
      },
      true,
    );
    return int(written.length);
  },
};

const setBitCommand: Command = {
  arity: 4,
  run: async (ctx, client, a) => {
    const offset = bitOffset(a[2]!);
    if (offset === null) return err('ERR bit offset is not an integer or out of range');
    const bit = a[3]!.toString('latin1');
    if (bit !== '0' && bit !== '1') return err('ERR bit is not an integer or out of range');
    const byte = offset >> 3;
    const refused = tooLarge(ctx, a[1]!, byte + 1);
    if (refused !== null) return refused;
    const mask = 0x80 >> (offset & 7);
    let was = 0;
    await readThenPut(
      ctx,
      client,
      a[1]!,
      (old) => {
        const out = Buffer.alloc(Math.max(old?.length ?? 0, byte + 1));
        old?.copy(out);
        was = (out[byte]! & mask) !== 0 ? 1 : 0;
        out[byte] = bit === '1' ? out[byte]! | mask : out[byte]! & ~mask;
        return out;
      },
      true,
    );
    return int(was);
  },
};

const getBitCommand: Command = {
  arity: 3,
  run: async (ctx, client, a) => {
    const offset = bitOffset(a[2]!);
    if (offset === null) return err('ERR bit offset is not an integer or out of range');
    const res = await read(ctx, client, a[1]!);
    const v = res.found ? toBytes(res.values[0]) : Buffer.alloc(0);
    const byte = offset >> 3;
    return int(byte < v.length && (v[byte]! & (0x80 >> (offset & 7))) !== 0 ? 1 : 0);
  },
};

/** MSETNX: every key read first; all written (each with its read's context) only when none exists. Not atomic across clients. */
const msetnxCommand: Command = {
  arity: -3,
  run: async (ctx, client, a) => {
    if (a.length % 2 !== 1) return err("ERR wrong number of arguments for 'msetnx' command");
    const keys = a.filter((_, i) => i % 2 === 1);
    const reads = await Promise.all(keys.map((k) => ctx.cluster.get(k, { r: client.r })));
    if (reads.some((r) => r.found)) return int(0);
    // a key named twice: its last value wins, as in Redis
    const last = new Map<string, number>();
    for (let i = 1; i < a.length; i += 2) last.set(a[i]!.toString('latin1'), i);
    await Promise.all([...last.values()].map((i) => ctx.cluster.put(a[i]!, a[i + 1]!, { w: client.w, context: reads[(i - 1) / 2]!.context, strict: client.strict })));
    return int(1);
  },
};

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
      // readNow took the key (a bad one answers ABSENT there): only the coordinated path is left to try
      ctx.cluster.getCoordinated(a[1]!, client.r === undefined ? {} : { r: client.r }).then((res) => pending.answer(null, oneValue(res, ctx, client)), (e: unknown) => pending.answer(e));
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
      const { old } = await readThenPut(ctx, client, a[1]!, () => a[2]!, false);
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
      const { written } = await readThenPut(ctx, client, a[1]!, (old) => (old === null ? a[2]! : Buffer.concat([old, a[2]!])), true);
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
  setrange: setRangeCommand,
  setbit: setBitCommand,
  getbit: getBitCommand,
  msetnx: msetnxCommand,
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
