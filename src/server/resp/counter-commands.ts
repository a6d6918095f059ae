/**
 * The Redis counter commands: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT, on
 * the key's replicated PN-counter (Cluster.increment). Each is one
 * coordinated write (atomic on its coordinator: no read round trip); the
 * replies and error texts are Redis's.
 */
import { CounterOverflowError, NotACounterError } from '../../errors.js';
import { parseFloatText, parseIntegerText } from '../../versioning/counter-base.js';
import { err, int, type ClientState, type Command, type Reply, type ServerContext } from './command-kit.js';

/** An INCRBY/DECRBY argument: Redis's integer syntax, within ±(2^53−1) (the counters' exact range). */
function integerArgument(b: Buffer): number {
  const text = b.toString('latin1');
  const n = parseIntegerText(text);
  if (n !== null) return n;
  // a valid 64-bit integer beyond ±(2^53−1): the counter could not hold the result
  if (/^(0|-?[1-9][0-9]{0,18})$/.test(text) && BigInt(text) >= -(2n ** 63n) && BigInt(text) < 2n ** 63n) throw new CounterOverflowError(true);
  throw new NotACounterError(true);
}

/** An INCRBYFLOAT argument: Redis's float syntax; infinities would make the value infinite. */
function floatArgument(b: Buffer): number {
  const text = b.toString('latin1');
  if (/^[+-]?inf(inity)?$/i.test(text)) throw new CounterOverflowError(false);
  const n = parseFloatText(text);
  if (n === null) throw new NotACounterError(false);
  return n;
}

function incrementBy(ctx: ServerContext, client: ClientState, key: Buffer, by: number): Promise<Reply> {
  return ctx.cluster.increment(key, by, { w: client.w, strict: client.strict }).then((r) => int(r.value));
}

/** A float's text as INCRBYFLOAT answers it (and GET shows it): JavaScript's shortest round-tripping form. */
function formatFloat(x: number): string {
  return String(x === 0 ? 0 : x);
}

export const COUNTER_COMMANDS: Readonly<Record<string, Command>> = {
  incr: { arity: 2, run: (ctx, client, a) => incrementBy(ctx, client, a[1]!, 1) },
  decr: { arity: 2, run: (ctx, client, a) => incrementBy(ctx, client, a[1]!, -1) },
  incrby: { arity: 3, run: (ctx, client, a) => incrementBy(ctx, client, a[1]!, integerArgument(a[2]!)) },
  decrby: {
    arity: 3,
    run: (ctx, client, a) => {
      // Redis refuses to negate the smallest 64-bit integer with its own text
      if (a[2]!.toString('latin1') === '-9223372036854775808') return err('ERR decrement would overflow');
      const by = integerArgument(a[2]!);
      return incrementBy(ctx, client, a[1]!, by === 0 ? 0 : -by);
    },
  },
  incrbyfloat: {
    arity: 3,
    run: async (ctx, client, a) => {
      const by = floatArgument(a[2]!);
      const r = await ctx.cluster.increment(a[1]!, by, { w: client.w, strict: client.strict, float: true });
      const text = formatFloat(r.value);
      return (w) => w.bulk(text);
    },
  },
};
