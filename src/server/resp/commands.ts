import { timingSafeEqual, createHash } from 'node:crypto';
import type { Cluster, GetResult, MembershipResult, PlanChange } from '../../cluster/cluster.js';
import type { Consistency } from '../../cluster/options.js';
import { RingkvError, QuorumError, OverloadedError, TooManySiblingsError, PairTooLargeError, InvalidKeyError } from '../../errors.js';
import { recordRequest } from '../metrics.js';
import { globMatch } from './glob.js';
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

interface Command {
  /** Redis convention: positive = exact argument count (with the name), negative = at least -arity. */
  readonly arity: number;
  /** Allowed before AUTH when a password is set. */
  readonly noAuth?: boolean;
  /** A reply now, a promise of one, or LATER when it will call `pending.answer`. */
  readonly run: (ctx: ServerContext, client: ClientState, args: Buffer[], pending: Pending) => Reply | Promise<Reply> | typeof LATER;
}

const OK: Reply = (w) => w.simple('OK');
const nil: Reply = (w) => w.bulk(null);
const int = (n: number): Reply => (w) => w.integer(n);
const err = (message: string): Reply => (w) => w.error(message);

const lower = (b: Buffer): string => b.toString('latin1').toLowerCase();

/** The newest sibling (GET can return only one); RESP3 also says how many there were. */
function oneValue(res: GetResult, ctx: ServerContext, client: ClientState): Reply {
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

function addOptions(a: readonly Buffer[], from: number): { zone?: string; weight?: number } | string {
  const o: { zone?: string; weight?: number } = {};
  for (let i = from; i < a.length; i += 2) {
    if (i + 1 >= a.length) return 'ERR syntax error';
    const opt = lower(a[i]!);
    if (opt === 'zone') o.zone = a[i + 1]!.toString('utf8');
    else if (opt === 'weight') {
      const w = Number(a[i + 1]!.toString('latin1'));
      if (!Number.isFinite(w)) return 'ERR WEIGHT is not a number';
      o.weight = w;
    } else return 'ERR syntax error';
  }
  return o;
}

function membershipReply(r: MembershipResult): Reply {
  return (w) =>
    w.map([
      ['ring_version', r.ringVersion],
      ['added', r.added.join(',')],
      ['removed', r.removed.join(',')],
      ['moved_fraction', r.movedFraction.toFixed(4)],
      ['keys_streamed', r.keysStreamed],
      ['bytes_streamed', r.bytesStreamed],
      ['duration_ms', r.durationMs],
    ]);
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

function parseConsistency(b: Buffer): Consistency {
  const s = lower(b);
  if (s === 'one' || s === 'quorum' || s === 'all') return s;
  if (/^[0-9]+$/.test(s)) return Number(s);
  throw new RingkvError('INVALID_OPTION', `consistency must be a number or one|quorum|all, got '${b.toString()}'`);
}

function parseInteger(b: Buffer, what = 'value'): number {
  const s = b.toString('latin1');
  if (!/^-?[0-9]+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new RingkvError('INVALID_OPTION', `${what} is not an integer or out of range`);
  return Number(s);
}

function checkPassword(ctx: ServerContext, given: Buffer): boolean {
  if (ctx.passwordDigest === null) return false;
  // Compare digests: constant time and independent of the lengths involved.
  return timingSafeEqual(createHash('sha256').update(given).digest(), ctx.passwordDigest);
}

const ABSENT: GetResult = { values: [], context: '', found: false };

/**
 * A read of a key that cannot exist (empty, or over maxKeyBytes) answers "not
 * there", as Redis does (`EXISTS ""` is 0, `GET ""` is nil): only writes are
 * refused for a bad key.
 */
async function read(ctx: ServerContext, client: ClientState, key: Buffer): Promise<GetResult> {
  try {
    return await ctx.cluster.get(key, { r: client.r });
  } catch (e) {
    if (e instanceof InvalidKeyError) return ABSENT;
    throw e;
  }
}

/** `read` when the replicas can be read directly, answered now; undefined when it needs a coordinator. */
function readNow(ctx: ServerContext, client: ClientState, key: Buffer): GetResult | undefined {
  try {
    return ctx.cluster.getDirect(key, client.r === undefined ? NO_OPTIONS : { r: client.r });
  } catch (e) {
    if (e instanceof InvalidKeyError) return ABSENT;
    throw e;
  }
}

const NO_OPTIONS = Object.freeze({});

/**
 * The options after RINGKV.PUT/DEL's fixed arguments: `CONTEXT ctx` (given
 * once; '' is the context of a missing key, superseding nothing) and, for a
 * put, `SIBLING`. A string is the error to answer (nothing is written).
 */
function writeArgs(a: Buffer[], from: number, put: boolean): { context?: string; sibling?: true } | string {
  const usage = put ? 'ERR syntax error: RINGKV.PUT key value [CONTEXT ctx | SIBLING]' : 'ERR syntax error: RINGKV.DEL key [CONTEXT ctx]';
  let context: string | undefined;
  let sibling = false;
  for (let i = from; i < a.length; i++) {
    const opt = lower(a[i]!);
    if (opt === 'context' && context === undefined && i + 1 < a.length) context = a[++i]!.toString('latin1');
    else if (opt === 'sibling' && put && !sibling) sibling = true;
    else return usage;
  }
  if (sibling && context !== undefined) return 'ERR SIBLING takes no CONTEXT (a context already says what to supersede)';
  return { ...(context !== undefined && { context }), ...(sibling && { sibling: true }) };
}

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

function info(ctx: ServerContext, client: ClientState, section: string, stats: Awaited<ReturnType<Cluster['stats']>>): string {
  const c = ctx.cluster;
  const members = c.members();
  const keys = stats.reduce((s, a) => s + a.keys, 0);
  const sections: Record<string, string[]> = {
    server: [
      'redis_version:7.0.0',
      'ringkv_version:0.1.0',
      `process_id:${process.pid}`,
      `tcp_port:${ctx.port()}`,
      `uptime_in_seconds:${Math.floor((Date.now() - ctx.startedAtMs) / 1000)}`,
      `node_version:${process.version}`,
    ],
    clients: [`connected_clients:${ctx.clients().size}`, `rejected_connections:${ctx.counters.rejectedConnections}`, `protocol_errors:${ctx.counters.protocolErrors}`, `refused_commands:${ctx.counters.refusedCommands}`],
    keyspace: [`db0:keys=${Math.round(keys / c.n)},expires=0,avg_ttl=0`],
    ringkv_actors: members.map((m) => {
      const s = stats.find((x) => x.id === m.id);
      return `actor${m.id}:zone=${m.zone},status=${m.status},tokens=${m.tokens},share=${m.replicaShare.toFixed(4)},keys=${s?.keys ?? 0},puts=${s?.coordinatedPuts ?? 0},gets=${s?.coordinatedGets ?? 0},read_repairs=${s?.readRepairs ?? 0},anti_entropy_keys_sent=${s?.antiEntropyKeysSent ?? 0},cleanup_removed_keys=${s?.cleanupRemovedKeys ?? 0},hints_pending=${s?.hintsPending ?? 0}`;
    }),
    ringkv_autoscaler: ((a) => [
      `enabled:${a.enabled ? 1 : 0}`,
      ...(a.enabled ? [`min_actors:${a.minActors}`, `max_actors:${a.maxActors}`] : []),
      `decisions:${a.decisions.length}`,
      ...a.decisions.slice(-5).map((d, i) => `decision${i}:${d.action} ${d.action === 'remove' ? `actor ${d.id}` : `zone ${d.action === 'add' ? d.zone : ''}`} (${d.outcome}): ${d.reason.replace(/[\r\n]/g, ' ')}`),
    ])(c.autoscalerStatus()),
    ringkv_ring: [`actors:${members.length}`, `actors_up:${members.filter((m) => m.status === 'up').length}`, `n:${c.n}`, `vnodes_total:${members.reduce((s, m) => s + m.tokens, 0)}`],
    ringkv_quorum: [
      `r_default:${c.options.r}`,
      `w_default:${c.options.w}`,
      `r_connection:${client.r ?? 'default'}`,
      `w_connection:${client.w ?? 'default'}`,
      `last_write_wins:${c.options.lastWriteWins ? 1 : 0}`,
      `sync:${c.options.sync}`,
      `gets_with_siblings:${ctx.counters.getsWithSiblings}`,
      ...((p) => [`reads_direct:${p.direct}`, `reads_coordinated:${p.coordinated}`, `direct_read_repairs:${p.directReadRepairs}`])(c.readPaths()),
    ],
    ringkv_hints: [
      `hints_pending:${stats.reduce((s, a) => s + a.hintsPending, 0)}`,
      `hints_stored:${stats.reduce((s, a) => s + a.hintsStored, 0)}`,
      `hints_handed_off:${stats.reduce((s, a) => s + a.hintsHandedOff, 0)}`,
      `hints_dropped:${stats.reduce((s, a) => s + a.hintsDropped, 0)}`,
      `sloppy_writes:${stats.reduce((s, a) => s + a.sloppyWrites, 0)}`,
      `anti_entropy_passes:${c.repairs}`,
      `anti_entropy_passes_skipped:${c.antiEntropyPassesSkipped}`,
    ],
  };
  const names = section === '' || section === 'all' || section === 'everything' || section === 'default' ? Object.keys(sections) : [section];
  const out: string[] = [];
  for (const name of names) {
    const lines = sections[name];
    if (lines === undefined) continue;
    out.push(`# ${name.replace(/(^|_)([a-z])/g, (_m, sep: string, ch: string) => (sep ? '_' : '') + ch.toUpperCase())}`, ...lines, '');
  }
  return out.join('\r\n');
}

/** SET with options: NX, XX, GET (expiry is refused). */
async function setWithOptions(ctx: ServerContext, client: ClientState, a: Buffer[]): Promise<Reply> {
  let nx = false;
  let xx = false;
  let get = false;
  for (let i = 3; i < a.length; i++) {
    const opt = lower(a[i]!);
    if (opt === 'nx' && !xx) nx = true;
    else if (opt === 'xx' && !nx) xx = true;
    else if (opt === 'get') get = true;
    else if (['ex', 'px', 'exat', 'pxat', 'keepttl'].includes(opt)) return err('ERR ringkv does not support key expiry');
    else return err('ERR syntax error');
  }
  const key = a[1]!;
  // NX/XX/GET read first and write with what they read: not atomic across clients (document), but never a blind overwrite.
  const current = await ctx.cluster.get(key, { r: client.r });
  const old = current.found ? toBytes(current.values[0]) : null;
  if ((nx && current.found) || (xx && !current.found)) return get ? (w) => w.bulk(old) : nil;
  // The read's context, even '' (saw nothing): a concurrent creator stays a sibling, not replaced.
  await ctx.cluster.put(key, a[2]!, { w: client.w, context: current.context, strict: client.strict });
  return get ? (w) => w.bulk(old) : OK;
}

const COMMANDS: Record<string, Command> = {
  ping: { arity: -1, run: (_c, _cl, a) => (a.length > 2 ? err("ERR wrong number of arguments for 'ping' command") : a.length === 2 ? (w) => w.bulk(a[1]!) : (w) => w.simple('PONG')) },
  echo: { arity: 2, run: (_c, _cl, a) => (w) => w.bulk(a[1]!) },
  quit: {
    arity: -1,
    noAuth: true,
    run: (_c, client) => {
      client.closeAfterReply = true;
      return OK;
    },
  },
  auth: {
    arity: -2,
    noAuth: true,
    run: (ctx, client, a) => {
      if (a.length > 3) return err('ERR syntax error');
      if (ctx.passwordDigest === null) return err('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
      if (a.length === 3 && lower(a[1]!) !== 'default') return err('WRONGPASS invalid username-password pair or user is disabled.');
      if (!checkPassword(ctx, a[a.length - 1]!)) return err('WRONGPASS invalid username-password pair or user is disabled.');
      client.authenticated = true;
      return OK;
    },
  },
  hello: {
    arity: -1,
    noAuth: true,
    run: (ctx, client, a) => {
      let i = 1;
      let protocol = client.protocol;
      if (a.length > 1) {
        const v = a[1]!.toString('latin1');
        if (v !== '2' && v !== '3') return err('NOPROTO unsupported protocol version');
        protocol = Number(v) as 2 | 3;
        i = 2;
      }
      for (; i < a.length; i++) {
        const opt = lower(a[i]!);
        if (opt === 'auth' && i + 2 < a.length) {
          if (ctx.passwordDigest === null || lower(a[i + 1]!) !== 'default' || !checkPassword(ctx, a[i + 2]!)) return err('WRONGPASS invalid username-password pair or user is disabled.');
          client.authenticated = true;
          i += 2;
        } else if (opt === 'setname' && i + 1 < a.length) {
          client.name = a[i + 1]!.toString();
          i += 1;
        } else {
          return err(`ERR Syntax error in HELLO option '${a[i]!.toString()}'`);
        }
      }
      if (!client.authenticated) return err('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
      client.protocol = protocol;
      return (w) => {
        w.setVersion(protocol); // the HELLO reply itself already speaks the new protocol
        w.mapHeader(7);
        w.bulk('server');
        w.bulk('ringkv');
        w.bulk('version');
        w.bulk('0.1.0');
        w.bulk('proto');
        w.integer(protocol);
        w.bulk('id');
        w.integer(client.id);
        w.bulk('mode');
        w.bulk('standalone');
        w.bulk('role');
        w.bulk('master');
        w.bulk('modules');
        w.arrayHeader(0);
      };
    },
  },
  select: { arity: 2, run: (_c, _cl, a) => (a[1]!.toString() === '0' ? OK : err('ERR DB index is out of range')) },
  client: {
    arity: -2,
    run: (ctx, client, a) => {
      const sub = lower(a[1]!);
      if (sub === 'setname' && a.length === 3) {
        if (/[\s]/.test(a[2]!.toString())) return err('ERR Client names cannot contain spaces, newlines or special characters.');
        client.name = a[2]!.toString();
        return OK;
      }
      if (sub === 'getname' && a.length === 2) return (w) => w.bulk(client.name);
      if (sub === 'id' && a.length === 2) return int(client.id);
      if (sub === 'setinfo') return OK; // redis-cli/ioredis send lib-name/lib-ver
      if (sub === 'info' && a.length === 2) return (w) => w.bulk(`id=${client.id} addr=${client.remote} name=${client.name ?? ''} db=0 resp=${client.protocol}\n`);
      if (sub === 'list' && a.length === 2) {
        const lines = [...ctx.clients().values()].map((c) => `id=${c.id} addr=${c.remote} name=${c.name ?? ''} age=${Math.floor((Date.now() - c.connectedAtMs) / 1000)} db=0 resp=${c.protocol}`);
        return (w) => w.bulk(lines.join('\n') + '\n');
      }
      return err(`ERR unknown subcommand or wrong number of arguments for '${a[1]!.toString()}'. Try CLIENT HELP.`);
    },
  },
  command: {
    arity: -1,
    run: (_c, _cl, a) => {
      const sub = a.length > 1 ? lower(a[1]!) : '';
      const names = Object.keys(COMMANDS);
      if (sub === 'count') return int(names.length);
      if (sub === 'docs') return (w) => w.mapHeader(0);
      if (sub === '' || sub === 'info') {
        const wanted = sub === 'info' ? a.slice(2).map(lower) : names;
        return (w) => {
          w.arrayHeader(wanted.length);
          for (const name of wanted) {
            const c = COMMAND_TABLE.get(name);
            if (c === undefined) {
              w.nullValue();
              continue;
            }
            const keyed = KEYS_OF.has(name);
            w.arrayHeader(6);
            w.bulk(name);
            w.integer(c.arity);
            w.arrayHeader(0);
            w.integer(keyed ? 1 : 0);
            w.integer(keyed ? (name === 'del' || name === 'exists' || name === 'mget' || name === 'mset' ? -1 : 1) : 0);
            w.integer(keyed ? (name === 'mset' ? 2 : 1) : 0);
          }
        };
      }
      return err(`ERR unknown subcommand '${a[1]!.toString()}'. Try COMMAND HELP.`);
    },
  },
  // redis-benchmark and some clients read these at start; ringkv has no Redis config to show.
  config: { arity: -2, run: (_c, _cl, a) => (lower(a[1]!) === 'get' ? (w) => w.mapHeader(0) : err('ERR ringkv is configured at start (flags, environment, config file); CONFIG SET is not supported')) },
  info: {
    arity: -1,
    run: async (ctx, client, a) => {
      const stats = await ctx.cluster.stats();
      const text = info(ctx, client, a.length > 1 ? lower(a[1]!) : '', stats);
      return (w) => w.verbatim(text);
    },
  },
  dbsize: {
    arity: 1,
    run: async (ctx) => {
      // Stored keys (tombstones included) summed over actors, divided by n: an estimate, as in Redis Cluster per-node counts.
      // A busy actor gets 5 s to answer: one left out would make the count drop by a fifth.
      const stats = await ctx.cluster.stats({ timeoutMs: 5000 });
      return int(Math.round(stats.reduce((s, x) => s + x.keys, 0) / ctx.cluster.n));
    },
  },
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
  del: {
    arity: -2,
    run: async (ctx, client, a) => {
      const done = await Promise.all(a.slice(1).map((k) => del(ctx, client, k)));
      return int(done.filter(Boolean).length);
    },
  },
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
  // ---- ringkv's own commands: what Redis has no word for ----
  'ringkv.consistency': {
    arity: -1,
    run: (ctx, client, a) => {
      if (a.length === 1) {
        return (w) =>
          w.map([
            ['r', String(client.r ?? ctx.cluster.options.r)],
            ['w', String(client.w ?? ctx.cluster.options.w)],
            ['n', ctx.cluster.n],
            ['strict', (client.strict ?? ctx.cluster.options.strict) ? 'yes' : 'no'],
            ['siblings-attr', client.siblingsAttr ? 'yes' : 'no'],
          ]);
      }
      let r = client.r;
      let wq = client.w;
      let strict = client.strict;
      let siblingsAttr = client.siblingsAttr;
      for (let i = 1; i < a.length; i += 2) {
        if (i + 1 >= a.length) return err('ERR syntax error');
        const opt = lower(a[i]!);
        if (opt === 'r') r = parseConsistency(a[i + 1]!);
        else if (opt === 'w') wq = parseConsistency(a[i + 1]!);
        else if (opt === 'strict') {
          const v = lower(a[i + 1]!);
          if (v !== 'yes' && v !== 'no') return err('ERR STRICT takes yes or no');
          strict = v === 'yes';
        } else if (opt === 'siblings-attr') {
          const v = lower(a[i + 1]!);
          if (v !== 'yes' && v !== 'no') return err('ERR SIBLINGS-ATTR takes yes or no');
          siblingsAttr = v === 'yes';
        } else return err('ERR syntax error');
      }
      // Validate against N now, so a bad setting fails here and not on every later command.
      const n = ctx.cluster.n;
      for (const [name, v] of [['r', r], ['w', wq]] as const) {
        if (typeof v === 'number' && (v < 1 || v > n)) return err(`ERR ${name}=${v} is impossible with n=${n} replicas`);
      }
      client.r = r;
      client.w = wq;
      client.strict = strict;
      client.siblingsAttr = siblingsAttr;
      return OK;
    },
  },
  'ringkv.getall': {
    arity: 2,
    run: async (ctx, client, a) => {
      const res = await read(ctx, client, a[1]!);
      return (w) => {
        w.arrayHeader(1 + res.values.length);
        w.bulk(res.context);
        for (const v of res.values) w.bulk(toBytes(v));
      };
    },
  },
  // RINGKV.PUT key value [CONTEXT ctx | SIBLING]: the library's put (no context: replace what the coordinator holds).
  'ringkv.put': {
    arity: -3,
    run: async (ctx, client, a) => {
      const opts = writeArgs(a, 3, true);
      if (typeof opts === 'string') return err(opts);
      const res = await ctx.cluster.put(a[1]!, a[2]!, { w: client.w, strict: client.strict, ...opts });
      return (w) => w.bulk(res.context);
    },
  },
  // RINGKV.DEL key [CONTEXT ctx]: the library's delete (no context: delete what the coordinator holds).
  'ringkv.del': {
    arity: -2,
    run: async (ctx, client, a) => {
      const opts = writeArgs(a, 2, false);
      if (typeof opts === 'string') return err(opts);
      const res = await ctx.cluster.delete(a[1]!, { w: client.w, strict: client.strict, ...opts });
      return (w) => w.bulk(res.context);
    },
  },
  'ringkv.inspect': {
    arity: 2,
    run: async (ctx, _client, a) => {
      const views = await ctx.cluster.inspect(a[1]!);
      return (w) => {
        w.arrayHeader(views.length);
        for (const v of views) {
          w.map([
            ['actor', v.actor],
            ['role', v.hintFor === undefined ? v.role : `hint for ${v.hintFor}`],
            ['status', v.status],
            ['found', v.found === null ? 'unknown' : v.found ? 'yes' : 'no'],
            ['context', v.context],
            ['versions', v.versions.map((x) => (x.deleted ? '(deleted)' : toBytes(x.value).toString())).join(' | ')],
          ]);
        }
      };
    },
  },
  'ringkv.repair': {
    arity: 1,
    run: async (ctx) => {
      const r = await ctx.cluster.repair();
      return (w) =>
        w.map([
          ['arcs_differing', r.arcsDiffering],
          ['leaves_differing', r.leavesDiffering],
          ['keys_sent', r.keysSent],
          ['bytes_sent', r.bytesSent],
          ['tombstones_reaped', r.tombstonesReaped],
          ['pushes_incomplete', r.pushesIncomplete],
          ['duration_ms', r.durationMs],
        ]);
    },
  },
  // RINGKV.CLEANUP: every actor deletes its copies of ranges it no longer replicates (after membership changes)
  'ringkv.cleanup': {
    arity: 1,
    run: async (ctx) => {
      const r = await ctx.cluster.cleanup();
      return (w) =>
        w.map([
          ['removed', r.removed],
          ['failed', r.failed],
          ...r.actors.map((a): [string, string] => [`actor${a.id}`, `scanned=${a.scanned},removed=${a.removed},failed=${a.failed}`]),
        ]);
    },
  },
  // membership: RINGKV.ADDACTOR [ZONE z] [WEIGHT w] · RINGKV.REMOVEACTOR id · RINGKV.PLAN ADD [ZONE z] [WEIGHT w] | REMOVE id
  'ringkv.addactor': {
    arity: -1,
    run: async (ctx, _client, a) => {
      const o = addOptions(a, 1);
      if (typeof o === 'string') return err(o);
      return membershipReply(await ctx.cluster.addActor(o));
    },
  },
  'ringkv.removeactor': {
    arity: 2,
    run: async (ctx, _client, a) => membershipReply(await ctx.cluster.removeActor(parseInteger(a[1]!))),
  },
  'ringkv.plan': {
    arity: -2,
    run: async (ctx, _client, a) => {
      const kind = lower(a[1]!);
      let change: PlanChange;
      if (kind === 'remove' && a.length === 3) change = { kind: 'remove', id: parseInteger(a[2]!) };
      else if (kind === 'add') {
        const o = addOptions(a, 2);
        if (typeof o === 'string') return err(o);
        change = { kind: 'add', ...o };
      } else return err('ERR syntax error: RINGKV.PLAN ADD [ZONE z] [WEIGHT w] | REMOVE id');
      const plan = await ctx.cluster.plan([change]);
      return (w) =>
        w.map([
          ['ring_version', plan.ringVersion],
          ['moved_fraction', plan.movedFraction.toFixed(4)],
          ['keys', plan.keys],
          ['bytes', plan.bytes],
          ['transfers', plan.transfers.map((t) => `${t.from}->${t.to} ranges=${t.ranges.length} keys=${t.keys} bytes=${t.bytes}`).join('; ')],
        ]);
    },
  },
  'ringkv.status': {
    arity: 1,
    run: async (ctx) => {
      const stats = await ctx.cluster.stats();
      const members = ctx.cluster.members();
      return (w) => {
        w.arrayHeader(members.length);
        for (const m of members) {
          const s = stats.find((x) => x.id === m.id);
          w.map([
            ['id', m.id],
            ['zone', m.zone],
            ['status', m.status],
            ['tokens', m.tokens],
            ['share', m.replicaShare.toFixed(4)],
            ['keys', s?.keys ?? 0],
          ]);
        }
      };
    },
  },
};

const firstArg = (a: Buffer[]): Buffer[] => (a.length > 1 ? [a[1]!] : []);
const allArgs = (a: Buffer[]): Buffer[] => a.slice(1);
const everyOtherArg = (a: Buffer[]): Buffer[] => a.filter((_, i) => i % 2 === 1);
/** Which arguments are keys, for the commands that touch keys (a connection orders its commands per key). */
const KEYS_OF: ReadonlyMap<string, (args: Buffer[]) => Buffer[]> = new Map([
  ['get', firstArg],
  ['set', firstArg],
  ['del', allArgs],
  ['exists', allArgs],
  ['mget', allArgs],
  ['mset', everyOtherArg],
  ['ringkv.getall', firstArg],
  ['ringkv.put', firstArg],
  ['ringkv.del', firstArg],
  ['ringkv.inspect', firstArg],
]);

/** The keys a command (`op`: its name in lower case) reads or writes; empty for commands that touch none. */
export function commandKeys(op: string, args: Buffer[]): Buffer[] {
  return KEYS_OF.get(op)?.(args) ?? [];
}

/** A command's name as the table knows it: lower case (names are ASCII; longer than any command: unknown). */
export function commandName(name: Buffer): string {
  return name.length > 32 ? '' : lower(name);
}

/** Own entries only: a name like `constructor` is an unknown command, not Object's. */
const COMMAND_TABLE: ReadonlyMap<string, Command> = new Map(Object.entries(COMMANDS));

/**
 * Run one parsed command for a client (`op`: commandName of its first
 * argument): arity, auth, metrics and errors handled here. Returns the reply
 * when it is ready now; otherwise LATER, and `pending.answer` gets it.
 */
export function dispatch(ctx: ServerContext, client: ClientState, op: string, args: Buffer[], pending: Pending): Reply | typeof LATER {
  ctx.counters.commands++;
  const name = args[0]!;
  const command = COMMAND_TABLE.get(op);
  if (!client.authenticated && !(command?.noAuth ?? false)) return err('NOAUTH Authentication required.');
  if (command === undefined) {
    const shown = args
      .slice(1, 10)
      .map((x) => `'${x.toString().slice(0, 128)}'`)
      .join(' ');
    return err(`ERR unknown command '${name.toString().slice(0, 128)}', with args beginning with: ${shown}`);
  }
  if ((command.arity > 0 && args.length !== command.arity) || (command.arity < 0 && args.length < -command.arity)) {
    return err(`ERR wrong number of arguments for '${op}' command`);
  }
  pending.startedMs = performance.now();
  let r: Reply | Promise<Reply> | typeof LATER;
  try {
    r = command.run(ctx, client, args, pending);
  } catch (e) {
    return finish(op, pending.startedMs, e);
  }
  if (r === LATER) return LATER;
  if (r instanceof Promise) {
    r.then(
      (reply) => pending.answer(null, reply),
      (e: unknown) => pending.answer(e),
    );
    return LATER;
  }
  return finish(op, pending.startedMs, null, r);
}

/** A command ends: count it, and turn an error into its reply. */
export function finish(op: string, startedMs: number, e: unknown, reply?: Reply): Reply {
  const ok = e === null || e === undefined;
  recordRequest('resp', op, ok ? 'ok' : outcomeOf(e), (performance.now() - startedMs) / 1000);
  if (!ok) return errorReply(e);
  if (reply === undefined) throw new Error('internal: a command answered neither a reply nor an error');
  return reply;
}

function outcomeOf(e: unknown): string {
  return e instanceof RingkvError ? e.code.toLowerCase() : 'internal';
}
