/**
 * The RESP command table and dispatch: which arguments are keys (a
 * connection orders its commands per key), arity and auth checks, metrics,
 * and errors turned into replies. The commands live by kind beside it.
 */
import { RingkvError } from '../../errors.js';
import { recordRequest } from '../metrics.js';
import { CONNECTION_COMMANDS } from './connection-commands.js';
import { EXPIRY_COMMANDS } from './expiry-commands.js';
import { KEYSPACE_COMMANDS } from './keyspace-commands.js';
import { COUNTER_COMMANDS } from './counter-commands.js';
import { RINGKV_COMMANDS } from './ringkv-commands.js';
import { STRING_COMMANDS } from './string-commands.js';
import { err, errorReply, int, lower, LATER, type ClientState, type Command, type Pending, type Reply, type ServerContext } from './command-kit.js';

export { LATER, errorReply, toBytes, type ClientState, type Pending, type Reply, type ServerContext } from './command-kit.js';

/** COMMAND: the table describes itself (names, arity, key positions). */
const COMMAND: Command = {
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
};

const COMMANDS: Readonly<Record<string, Command>> = { ...CONNECTION_COMMANDS, command: COMMAND, ...STRING_COMMANDS, ...COUNTER_COMMANDS, ...EXPIRY_COMMANDS, ...KEYSPACE_COMMANDS, ...RINGKV_COMMANDS };

const firstArg = (a: Buffer[]): Buffer[] => (a.length > 1 ? [a[1]!] : []);
const allArgs = (a: Buffer[]): Buffer[] => a.slice(1);
const everyOtherArg = (a: Buffer[]): Buffer[] => a.filter((_, i) => i % 2 === 1);

/** Which arguments are keys, for the commands that touch keys (a connection orders its commands per key). */
const KEYS_OF: ReadonlyMap<string, (args: Buffer[]) => Buffer[]> = new Map([
  ['get', firstArg],
  ['set', firstArg],
  ['del', allArgs],
  ['unlink', allArgs],
  ['touch', allArgs],
  ['setnx', firstArg],
  ['getset', firstArg],
  ['getdel', firstArg],
  ['append', firstArg],
  ['strlen', firstArg],
  ['getrange', firstArg],
  ['substr', firstArg],
  ['type', firstArg],
  ['rename', (a) => a.slice(1, 3)],
  ['renamenx', (a) => a.slice(1, 3)],
  ['copy', (a) => a.slice(1, 3)],
  ...['setex', 'psetex', 'expire', 'pexpire', 'expireat', 'pexpireat', 'ttl', 'pttl', 'expiretime', 'pexpiretime', 'persist', 'getex'].map((name): [string, (args: Buffer[]) => Buffer[]] => [name, firstArg]),
  ['exists', allArgs],
  ['mget', allArgs],
  ['mset', everyOtherArg],
  ['msetnx', everyOtherArg],
  ['setrange', firstArg],
  ['setbit', firstArg],
  ['getbit', firstArg],
  ['incr', firstArg],
  ['decr', firstArg],
  ['incrby', firstArg],
  ['decrby', firstArg],
  ['incrbyfloat', firstArg],
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
