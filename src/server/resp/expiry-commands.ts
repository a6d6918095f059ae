/**
 * Redis's expiry commands over ringkv's replicated expiry (a value's expiry
 * is part of its version: see PutOptions.ttlMs). SET's EX/PX/EXAT/PXAT
 * without a condition is one write; KEEPTTL, EXPIRE and friends, PERSIST and
 * GETEX read the value, then rewrite it with the read's context and the new
 * expiry — not atomic across clients (a concurrent write stays a sibling,
 * never lost), as SET NX/XX/GET.
 */
import { MAX_TTL_MS, type GetResult } from '../../cluster/cluster.js';
import { err, int, nil, OK, read, toBytes, type ClientState, type Command, type Reply, type ServerContext } from './command-kit.js';

/** How a command names an expiry: relative seconds or ms, or an absolute instant in seconds or ms. */
export type ExpiryUnit = 'ex' | 'px' | 'exat' | 'pxat';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * An expiry argument as an instant (ms since the epoch), by Redis's rules:
 * 'not-integer' when it is not a 64-bit integer, 'invalid' when converting
 * it overflows 64 bits (Redis's "invalid expire time") or it lies further
 * ahead than ringkv keeps (MAX_TTL_MS). Any instant in the past is returned
 * as is or as 1: the key is gone.
 */
export function expiryInstant(unit: ExpiryUnit, arg: Buffer, nowMs: number): number | 'not-integer' | 'invalid' {
  const text = arg.toString('latin1');
  if (!/^-?[0-9]{1,20}$/.test(text)) return 'not-integer';
  let v = BigInt(text);
  if (v > INT64_MAX || v < INT64_MIN) return 'not-integer';
  if (unit === 'ex' || unit === 'exat') {
    if (v > INT64_MAX / 1000n || v < INT64_MIN / 1000n) return 'invalid';
    v *= 1000n;
  }
  if (unit === 'ex' || unit === 'px') {
    if (v > INT64_MAX - BigInt(nowMs)) return 'invalid';
    v += BigInt(nowMs);
  }
  if (v < 1n) return 1;
  if (v - BigInt(nowMs) > BigInt(MAX_TTL_MS)) return 'invalid';
  return Number(v);
}

/** The reply for an expiry argument expiryInstant refused. */
function badExpiry(why: 'not-integer' | 'invalid', command: string): Reply {
  return err(why === 'not-integer' ? 'ERR value is not an integer or out of range' : `ERR invalid expire time in '${command}' command`);
}

/** SET's options, parsed (Redis's rules and texts). A string is the error to answer. */
export interface SetOptions {
  readonly nx: boolean;
  readonly xx: boolean;
  readonly get: boolean;
  readonly keepTtl: boolean;
  /** When the new value expires (0: never). */
  readonly expiresAtMs: number;
}

export function parseSetOptions(a: readonly Buffer[], nowMs: number): SetOptions | string {
  let nx = false;
  let xx = false;
  let get = false;
  let keepTtl = false;
  let expiresAtMs = 0;
  let expirySet = false;
  for (let i = 3; i < a.length; i++) {
    const opt = a[i]!.toString('latin1').toLowerCase();
    if (opt === 'nx' && !xx) nx = true;
    else if (opt === 'xx' && !nx) xx = true;
    else if (opt === 'get') get = true;
    else if (opt === 'keepttl' && !expirySet) keepTtl = true;
    else if ((opt === 'ex' || opt === 'px' || opt === 'exat' || opt === 'pxat') && !keepTtl && !expirySet && i + 1 < a.length) {
      const at = expiryInstant(opt, a[++i]!, nowMs);
      if (at === 'not-integer') return 'ERR value is not an integer or out of range';
      if (at === 'invalid' || Number(a[i]!.toString('latin1')) <= 0) return "ERR invalid expire time in 'set' command";
      expiresAtMs = at;
      expirySet = true;
    } else return 'ERR syntax error';
  }
  return { nx, xx, get, keepTtl, expiresAtMs };
}

/** The newest live value, its expiry, and the read's context. */
function newest(res: GetResult): { value: Buffer; expiresAtMs: number } | null {
  return res.found ? { value: toBytes(res.values[0]), expiresAtMs: res.expiresAtMs[0] ?? 0 } : null;
}

/** Rewrite `value` with a new expiry (0: none), superseding what `res` saw; an instant already past deletes it, as Redis does. */
async function rewrite(ctx: ServerContext, client: ClientState, key: Buffer, res: GetResult, value: Buffer, expiresAtMs: number): Promise<void> {
  const common = { w: client.w, context: res.context, strict: client.strict };
  if (expiresAtMs > 0 && expiresAtMs <= Date.now()) await ctx.cluster.delete(key, common);
  else await ctx.cluster.put(key, value, expiresAtMs > 0 ? { ...common, expireAtMs: expiresAtMs } : common);
}

/** SET with any option: NX, XX, GET, EX/PX/EXAT/PXAT, KEEPTTL. */
export async function setWithOptions(ctx: ServerContext, client: ClientState, a: Buffer[]): Promise<Reply> {
  const o = parseSetOptions(a, Date.now());
  if (typeof o === 'string') return err(o);
  const key = a[1]!;
  if (!o.nx && !o.xx && !o.get && !o.keepTtl) {
    // one write, replacing what the coordinator holds (as a plain SET)
    await ctx.cluster.put(key, a[2]!, { w: client.w, strict: client.strict, ...(o.expiresAtMs > 0 && { expireAtMs: o.expiresAtMs }) });
    return OK;
  }
  // NX/XX/GET/KEEPTTL read first and write with what they read: not atomic across clients, but never a blind overwrite.
  const res = await ctx.cluster.get(key, { r: client.r });
  const old = newest(res);
  if ((o.nx && old !== null) || (o.xx && old === null)) return o.get ? (w) => w.bulk(old?.value ?? null) : nil;
  await rewrite(ctx, client, key, res, a[2]!, o.keepTtl ? (old?.expiresAtMs ?? 0) : o.expiresAtMs);
  return o.get ? (w) => w.bulk(old?.value ?? null) : OK;
}

/** SETEX / PSETEX key <time> value. */
function setex(unit: 'ex' | 'px', name: string): Command {
  return {
    arity: 4,
    run: async (ctx, client, a) => {
      const at = expiryInstant(unit, a[2]!, Date.now());
      if (typeof at === 'string') return badExpiry(at, name);
      if (Number(a[2]!.toString('latin1')) <= 0) return badExpiry('invalid', name);
      await ctx.cluster.put(a[1]!, a[3]!, { w: client.w, strict: client.strict, expireAtMs: at });
      return OK;
    },
  };
}

/** EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key <time> [NX|XX|GT|LT]. */
function expire(unit: ExpiryUnit): Command {
  return {
    arity: -3,
    run: async (ctx, client, a) => {
      for (const b of a.slice(3)) if (!['nx', 'xx', 'gt', 'lt'].includes(b.toString('latin1').toLowerCase())) return err(`ERR Unsupported option ${b.toString('latin1')}`);
      const flags = new Set(a.slice(3).map((b) => b.toString('latin1').toLowerCase()));
      if (flags.has('nx') && (flags.has('xx') || flags.has('gt') || flags.has('lt'))) return err('ERR NX and XX, GT or LT options at the same time are not compatible');
      if (flags.has('gt') && flags.has('lt')) return err('ERR GT and LT options at the same time are not compatible');
      const at = expiryInstant(unit, a[2]!, Date.now());
      if (typeof at === 'string') return badExpiry(at, a[0]!.toString('latin1').toLowerCase());
      const res = await read(ctx, client, a[1]!);
      const old = newest(res);
      if (old === null) return int(0);
      const current = old.expiresAtMs; // 0: none, which GT/LT treat as infinite
      if (flags.has('nx') && current > 0) return int(0);
      if (flags.has('xx') && current === 0) return int(0);
      if (flags.has('gt') && (current === 0 || at <= current)) return int(0);
      if (flags.has('lt') && current > 0 && at >= current) return int(0);
      await rewrite(ctx, client, a[1]!, res, old.value, at);
      return int(1);
    },
  };
}

/** TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 no key, -1 no expiry. */
function ttl(kind: 'ttl' | 'pttl' | 'expiretime' | 'pexpiretime'): Command {
  return {
    arity: 2,
    run: async (ctx, client, a) => {
      const old = newest(await read(ctx, client, a[1]!));
      if (old === null) return int(-2);
      if (old.expiresAtMs === 0) return int(-1);
      const leftMs = Math.max(0, old.expiresAtMs - Date.now());
      if (kind === 'ttl') return int(Math.floor((leftMs + 500) / 1000));
      if (kind === 'pttl') return int(leftMs);
      if (kind === 'expiretime') return int(Math.floor(old.expiresAtMs / 1000));
      return int(old.expiresAtMs);
    },
  };
}

export const EXPIRY_COMMANDS: Readonly<Record<string, Command>> = {
  setex: setex('ex', 'setex'),
  psetex: setex('px', 'psetex'),
  expire: expire('ex'),
  pexpire: expire('px'),
  expireat: expire('exat'),
  pexpireat: expire('pxat'),
  ttl: ttl('ttl'),
  pttl: ttl('pttl'),
  expiretime: ttl('expiretime'),
  pexpiretime: ttl('pexpiretime'),
  persist: {
    arity: 2,
    run: async (ctx, client, a) => {
      const res = await read(ctx, client, a[1]!);
      const old = newest(res);
      if (old === null || old.expiresAtMs === 0) return int(0);
      await rewrite(ctx, client, a[1]!, res, old.value, 0);
      return int(1);
    },
  },
  getex: {
    arity: -2,
    run: async (ctx, client, a) => {
      let change: { expiresAtMs: number } | null = null;
      for (let i = 2; i < a.length; i++) {
        const opt = a[i]!.toString('latin1').toLowerCase();
        if (opt === 'persist' && change === null) change = { expiresAtMs: 0 };
        else if ((opt === 'ex' || opt === 'px' || opt === 'exat' || opt === 'pxat') && change === null && i + 1 < a.length) {
          const at = expiryInstant(opt, a[++i]!, Date.now());
          if (typeof at === 'string') return badExpiry(at, 'getex');
          if (Number(a[i]!.toString('latin1')) <= 0) return badExpiry('invalid', 'getex');
          change = { expiresAtMs: at };
        } else return err('ERR syntax error');
      }
      const res = await read(ctx, client, a[1]!);
      const old = newest(res);
      if (old === null) return nil;
      if (change !== null && change.expiresAtMs !== old.expiresAtMs) await rewrite(ctx, client, a[1]!, res, old.value, change.expiresAtMs);
      return (w) => w.bulk(old.value);
    },
  },
};
