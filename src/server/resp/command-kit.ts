/**
 * What every RESP command module shares: the command and reply types, the
 * small reply builders, error mapping, argument parsers, and reads that
 * answer "not there" for a key that cannot exist.
 */
import type { Cluster, GetResult } from '../../cluster/cluster.js';
import type { Consistency } from '../../cluster/options.js';
import { RingkvError, QuorumError, OverloadedError, TooManySiblingsError, PairTooLargeError, InvalidKeyError } from '../../errors.js';
import type { ReplyWriter } from './reply.js';

/** A reply, written when its turn in the pipeline comes (replies go out in request order). */
export type Reply = (w: ReplyWriter) => void;

export interface ClientState {
  readonly id: number;
  readonly remote: string;
  readonly connectedAtMs: number;
  name: string | null;
  authenticated: boolean;
  protocol: 2 | 3;
  /** Per-connection consistency (RINGKV.CONSISTENCY); undefined = the cluster default. */
  r: Consistency | undefined;
  w: Consistency | undefined;
  strict: boolean | undefined;
  /**
   * RESP3 only: mark a GET of a key with siblings with the attribute
   * `siblings: N`. Off unless asked for (RINGKV.CONSISTENCY SIBLINGS-ATTR yes):
   * stock clients (redis-cli 7.0, most libraries) cannot parse attributes.
   */
  siblingsAttr: boolean;
  /** Close the connection once this command's reply is written (QUIT). */
  closeAfterReply: boolean;
}

export interface ServerContext {
  readonly cluster: Cluster;
  /** sha256 of the configured password, or null when none is set. */
  readonly passwordDigest: Buffer | null;
  readonly startedAtMs: number;
  readonly port: () => number;
  readonly clients: () => ReadonlyMap<number, ClientState>;
  /** FLUSHALL/FLUSHDB are allowed (--allow-flush). */
  readonly allowFlush: boolean;
  /** RINGKV.NODEFAULTS is allowed (--allow-faults). */
  readonly allowFaults: boolean;
  /** DBSIZE counts live keys by a full scan (--dbsize exact) rather than estimating. */
  readonly exactDbsize: boolean;
  readonly counters: { commands: number; getsWithSiblings: number; rejectedConnections: number; protocolErrors: number; refusedCommands: number };
}

/** Returned by a command that will answer later, through its Pending's `answer`. */
export const LATER: unique symbol = Symbol('answers later');

/**
 * A command in flight. The hot commands (GET, SET) answer through it with a
 * callback rather than a promise; `dispatch` fills in when it started.
 */
export interface Pending {
  startedMs: number;
  /** Called once: the reply, or the error that becomes one. */
  answer(err: unknown, reply?: Reply): void;
}

export interface Command {
  /** Redis convention: positive = exact argument count (with the name), negative = at least -arity. */
  readonly arity: number;
  /** Allowed before AUTH when a password is set. */
  readonly noAuth?: boolean;
  /** A reply now, a promise of one, or LATER when it will call `pending.answer`. */
  readonly run: (ctx: ServerContext, client: ClientState, args: Buffer[], pending: Pending) => Reply | Promise<Reply> | typeof LATER;
}

export const OK: Reply = (w) => w.simple('OK');

export const nil: Reply = (w) => w.bulk(null);

export const int = (n: number): Reply => (w) => w.integer(n);

export const err = (message: string): Reply => (w) => w.error(message);

export const lower = (b: Buffer): string => b.toString('latin1').toLowerCase();

/** The newest sibling (GET can return only one); RESP3 also says how many there were. */
export function oneValue(res: GetResult, ctx: ServerContext, client: ClientState): Reply {
  if (!res.found) return nil;
  const v = toBytes(res.values[0]);
  if (res.values.length === 1) return (w) => w.bulk(v);
  ctx.counters.getsWithSiblings++;
  const siblings = res.values.length;
  const attr = client.siblingsAttr;
  return (w) => {
    if (w.version === 3 && attr) w.attribute([['siblings', siblings]]);
    w.bulk(v);
  };
}

/** Values leave as bytes: strings as UTF-8, JSON values as their JSON text. */
export function toBytes(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.from(JSON.stringify(v), 'utf8');
}

/** Map typed ringkv errors to Redis-style error replies (the first word is the error class). */
export function errorReply(e: unknown): Reply {
  if (e instanceof QuorumError) return err(`QUORUM ${e.message}`);
  if (e instanceof OverloadedError) return err(`BUSY ${e.message}`);
  if (e instanceof TooManySiblingsError) return err(`SIBLINGS ${e.message}`);
  if (e instanceof PairTooLargeError) return err(`ERR ${e.message}`);
  if (e instanceof RingkvError) return err(`ERR ${e.message}`);
  return err(`ERR internal error: ${(e as Error).message ?? String(e)}`);
}

export function parseConsistency(b: Buffer): Consistency {
  const s = lower(b);
  if (s === 'one' || s === 'quorum' || s === 'all') return s;
  if (/^[0-9]+$/.test(s)) return Number(s);
  throw new RingkvError('INVALID_OPTION', `consistency must be a number or one|quorum|all, got '${b.toString()}'`);
}

export function parseInteger(b: Buffer, what = 'value'): number {
  const s = b.toString('latin1');
  if (!/^-?[0-9]+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new RingkvError('INVALID_OPTION', `${what} is not an integer or out of range`);
  return Number(s);
}

export const ABSENT: GetResult = { values: [], expiresAtMs: [], context: '', found: false };

/**
 * A read of a key that cannot exist (empty, or over maxKeyBytes) answers "not
 * there", as Redis does (`EXISTS ""` is 0, `GET ""` is nil): only writes are
 * refused for a bad key.
 */
export async function read(ctx: ServerContext, client: ClientState, key: Buffer): Promise<GetResult> {
  try {
    return await ctx.cluster.get(key, { r: client.r });
  } catch (e) {
    if (e instanceof InvalidKeyError) return ABSENT;
    throw e;
  }
}

/** `read` when the replicas can be read directly, answered now; undefined when it needs a coordinator. */
export function readNow(ctx: ServerContext, client: ClientState, key: Buffer): GetResult | undefined {
  try {
    return ctx.cluster.getDirect(key, client.r === undefined ? NO_OPTIONS : { r: client.r });
  } catch (e) {
    if (e instanceof InvalidKeyError) return ABSENT;
    throw e;
  }
}

export const NO_OPTIONS = Object.freeze({});
