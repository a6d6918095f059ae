/**
 * Counters where versions meet: replicas that coordinate increments as the
 * actor does (read the local clock, write a new event superseding it) and
 * merge each other's clocks with syncClocks, in any order.
 */
import test from 'ava';
import fc from 'fast-check';
import { planIncrement } from '../src/coordinator/increment.js';
import * as dvv from '../src/versioning/dvvset.js';
import { encodeDelta, decodeCounter, value } from '../src/versioning/counter.js';
import { compareSiblings, decodeClock, encodeClock, encodeJoin, syncClocks, ValueKind, type Clock, type Sibling } from '../src/versioning/sibling.js';

let now = 0;

/** What coordinatePut does for an increment at `writer`, through the stored form. */
function increment(local: Clock, writer: number, by: number): Clock {
  const plan = planIncrement(dvv.values(local), encodeJoin(local), writer, encodeDelta({ by, integer: true }));
  if (!plan.ok) throw new Error(`increment refused: ${plan.code}`);
  return write(local, writer, { kind: ValueKind.Counter, timestampMs: ++now, writer, data: plan.data });
}

/** An overwrite (SET or DEL without a context) at `writer`. */
function overwrite(local: Clock, writer: number, kind: ValueKind, text: string): Clock {
  return write(local, writer, { kind, timestampMs: ++now, writer, data: Buffer.from(text) });
}

function write(local: Clock, writer: number, s: Sibling): Clock {
  return roundTrip(dvv.update(dvv.fromContext(dvv.join(local), s), local, writer, compareSiblings));
}

const roundTrip = (c: Clock): Clock => decodeClock(encodeClock(c));

/** The key's counter value as a read shows it (a single counter sibling expected). */
function counterValue(c: Clock): number {
  const counters = dvv.values(c).filter((s) => s.kind === ValueKind.Counter);
  if (counters.length !== 1) throw new Error(`expected one counter sibling, got ${counters.length}`);
  return value(decodeCounter(counters[0]!.data));
}

test('increments coordinated at any replica, merged in any order, converge to the sum of all of them', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.tuple(fc.constant('inc' as const), fc.integer({ min: 0, max: 3 }), fc.integer({ min: -20, max: 20 })), fc.tuple(fc.constant('sync' as const), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }))), { maxLength: 50 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
      (steps, order) => {
        const replicas: Clock[] = [dvv.empty(), dvv.empty(), dvv.empty(), dvv.empty()];
        let sum = 0;
        for (const [op, a, b] of steps) {
          if (op === 'inc') {
            replicas[a] = increment(replicas[a]!, a + 100, b);
            sum += b;
          } else {
            replicas[b] = roundTrip(syncClocks(replicas[b]!, replicas[a]!));
          }
        }
        if (sum === 0 && steps.every(([op]) => op === 'sync')) return;
        // anti-entropy: fold every replica in two different orders; byte-equal results, nothing lost
        const forward = replicas.reduce((acc, r) => syncClocks(acc, r), dvv.empty<Sibling>());
        const shuffled = order.map((i) => replicas[i]!).concat(replicas).reduceRight((acc, r) => syncClocks(acc, r), dvv.empty<Sibling>());
        t.deepEqual(encodeClock(forward), encodeClock(shuffled));
        t.is(counterValue(forward), sum);
        // merging is idempotent, and a merged copy merged again with any replica stays the same
        for (const r of replicas) t.deepEqual(encodeClock(syncClocks(forward, r)), encodeClock(forward));
      },
    ),
  );
});

test('both sides of a partition increment: after heal every increment counts, and the next increment builds on all', (t) => {
  let a: Clock = dvv.empty();
  a = increment(a, 1, 5);
  let b = roundTrip(syncClocks(dvv.empty(), a));
  for (let i = 0; i < 3; i++) a = increment(a, 1, 1);
  for (let i = 0; i < 4; i++) b = increment(b, 2, 10);
  const healed = syncClocks(a, b);
  t.is(dvv.size(healed), 1, 'the concurrent counters collapse into one value');
  t.is(counterValue(healed), 5 + 3 + 40);
  t.is(counterValue(increment(healed, 2, 1)), 49);
});

test('a DEL then INCR on one side and an INCR on the other: neither increment is lost', (t) => {
  let a: Clock = dvv.empty();
  for (let i = 0; i < 50; i++) a = increment(a, 1, 1);
  let b = roundTrip(syncClocks(dvv.empty(), a));
  // side A deletes and starts again at 1; side B, cut off, increments the old counter
  a = overwrite(a, 1, ValueKind.Tombstone, '');
  a = increment(a, 1, 1);
  t.is(counterValue(a), 1);
  b = increment(b, 2, 1);
  const healed = syncClocks(a, b);
  // B's copy carries writer 1's old total of 50: without lineages it would absorb A's fresh 1
  t.is(counterValue(healed), 1 + 51, 'the concurrent delete does not cancel what it did not see, and the fresh increment counts');
});

test('INCR of a string holding an integer starts from it; two coordinators converting the same string agree', (t) => {
  let a: Clock = overwrite(dvv.empty(), 1, ValueKind.Bytes, '10');
  let b = roundTrip(syncClocks(dvv.empty(), a));
  a = increment(a, 1, 1);
  b = increment(b, 2, 1);
  t.is(counterValue(syncClocks(a, b)), 12);
  // SET over a counter replaces it; the next INCR starts from the new string
  const set = overwrite(syncClocks(a, b), 1, ValueKind.Bytes, '100');
  t.deepEqual(dvv.values(set).map((s) => s.kind), [ValueKind.Bytes]);
  t.is(counterValue(increment(set, 1, 1)), 101);
  t.false(planIncrement(dvv.values(overwrite(set, 1, ValueKind.Bytes, 'abc')), encodeJoin(set), 1, encodeDelta({ by: 1, integer: true })).ok);
});

test('a clock stored before counters existed still reads; a counter sibling round-trips', (t) => {
  // format 1, one entry (actor 3, counter 1) holding a String "hi" at t=5 by writer 3, no anonymous values
  const old = Uint8Array.of(1, 1, 3, 1, 1, ValueKind.String, 5, 3, 2, 0x68, 0x69, 0);
  const c = decodeClock(old);
  t.is(Buffer.from(dvv.values(c)[0]!.data).toString(), 'hi');
  t.deepEqual(encodeClock(c), old, 'and encodes to the same bytes');
  t.throws(() => increment(c, 3, 1), { message: /NOT_A_COUNTER/ }, 'INCR of "hi" is refused');
  const counted = increment(overwrite(c, 3, ValueKind.String, '7'), 3, 1);
  t.is(counterValue(roundTrip(counted)), 8);
});
