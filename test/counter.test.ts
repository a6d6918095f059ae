import test from 'ava';
import fc from 'fast-check';
import { CorruptDataError } from '../src/encoding/bytes.js';
import { add, decodeCounter, decodeDelta, encodeCounter, encodeDelta, EMPTY_COUNTER, fromBase, merge, NEVER_EXISTED, value, type Counter } from '../src/versioning/counter.js';
import { counterBase, parseFloatText, parseIntegerText } from '../src/versioning/counter-base.js';
import { ValueKind, type Sibling } from '../src/versioning/sibling.js';

const lineageIds = [NEVER_EXISTED, Uint8Array.of(1, 3, 7), Uint8Array.of(2, 1, 4, 5, 9)];

/** Counters as writers build them: increments by random writers into random lineages. */
const counterArb: fc.Arbitrary<Counter> = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: -1000, max: 1000 })), { maxLength: 30 })
  .map((steps) => {
    let c: Counter = EMPTY_COUNTER;
    for (const [lineage, writer, by] of steps) c = add(c, lineageIds[lineage]!, writer, by, true) as Counter;
    return c;
  });

const same = (a: Counter, b: Counter): boolean => Buffer.compare(encodeCounter(a), encodeCounter(b)) === 0;

test('merge is commutative, associative and idempotent', (t) => {
  fc.assert(
    fc.property(counterArb, counterArb, counterArb, (a, b, c) => {
      t.true(same(merge(a, b), merge(b, a)));
      t.true(same(merge(merge(a, b), c), merge(a, merge(b, c))));
      t.true(same(merge(a, a), a));
      t.true(same(merge(a, EMPTY_COUNTER), a));
    }),
  );
});

test('the merged value of writers that each apply their own increments is the sum of every increment applied', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -50, max: 50 }), fc.integer({ min: 0, max: 3 })), { maxLength: 60 }),
      fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
      (steps, order) => {
        // four replicas; each step: replica w adds `by` to its own copy, then gossips it to replica `to`
        const replicas: Counter[] = [EMPTY_COUNTER, EMPTY_COUNTER, EMPTY_COUNTER, EMPTY_COUNTER];
        let sum = 0;
        for (const [w, by, to] of steps) {
          replicas[w] = add(replicas[w]!, NEVER_EXISTED, w + 10, by, true) as Counter;
          sum += by;
          replicas[to] = merge(replicas[to]!, replicas[w]!);
        }
        // replicas meet in any order: the same counter, and nothing lost or counted twice
        const sorted = replicas.map((r, i) => [order[i]!, r] as const).sort((x, y) => x[0] - y[0]);
        const a = sorted.reduce((acc, [, r]) => merge(acc, r), EMPTY_COUNTER);
        const b = replicas.reduceRight((acc, r) => merge(acc, r), EMPTY_COUNTER);
        t.true(same(a, b));
        t.is(value(a), sum);
      },
    ),
  );
});

test('encoding round-trips and is canonical; floats keep their bits', (t) => {
  fc.assert(
    fc.property(counterArb, (c) => {
      const bytes = encodeCounter(c);
      t.deepEqual(encodeCounter(decodeCounter(bytes)), bytes);
      t.is(value(decodeCounter(bytes)), value(c));
    }),
  );
  const f = add(fromBase(NEVER_EXISTED, 10.5), NEVER_EXISTED, 1, 0.1, false) as Counter;
  t.is(value(decodeCounter(encodeCounter(f))), 10.5 + 0.1);
  t.is(value(add(add(EMPTY_COUNTER, NEVER_EXISTED, 1, 1 / 41, false) as Counter, NEVER_EXISTED, 1, -1 / 41, false) as Counter), 0);
  t.false(Object.is(value(add(EMPTY_COUNTER, NEVER_EXISTED, 1, -0, false) as Counter), -0), 'no negative zero');
});

test('decode refuses corrupt counters', (t) => {
  const good = encodeCounter(add(EMPTY_COUNTER, NEVER_EXISTED, 3, 5, true) as Counter);
  t.throws(() => decodeCounter(Uint8Array.of(9, ...good.subarray(1))), { instanceOf: CorruptDataError });
  t.throws(() => decodeCounter(good.subarray(0, good.length - 1)), { instanceOf: CorruptDataError });
  t.throws(() => decodeCounter(Uint8Array.of(...good, 0)), { instanceOf: CorruptDataError });
  t.throws(() => decodeCounter(Uint8Array.of(1, 200, 1)), { instanceOf: CorruptDataError }, 'claims more lineages than bytes');
  t.throws(() => decodeDelta(Uint8Array.of(2, 0, 1)), { instanceOf: CorruptDataError });
  t.deepEqual(decodeDelta(encodeDelta({ by: -7, integer: true })), { by: -7, integer: true });
  t.deepEqual(decodeDelta(encodeDelta({ by: 0.25, integer: false })), { by: 0.25, integer: false });
});

test('an increment that would leave the safe integer range is refused and changes nothing', (t) => {
  const max = Number.MAX_SAFE_INTEGER;
  const c = add(EMPTY_COUNTER, NEVER_EXISTED, 1, max, true) as Counter;
  t.is(value(c), max);
  t.is(add(c, NEVER_EXISTED, 1, 1, true), 'overflow');
  t.is(add(c, NEVER_EXISTED, 2, 1, true), 'overflow', 'the value, not only one total');
  t.is(value(add(c, NEVER_EXISTED, 2, -1, true) as Counter), max - 1);
  t.is(add(fromBase(NEVER_EXISTED, Number.MAX_VALUE), NEVER_EXISTED, 1, Number.MAX_VALUE, false), 'not-finite');
  t.throws(() => add(c, NEVER_EXISTED, -1, 1, true), { instanceOf: RangeError });
  t.throws(() => fromBase(NEVER_EXISTED, Infinity), { instanceOf: RangeError });
});

test('different lineages add up; the same lineage merges', (t) => {
  const [old, fresh] = [lineageIds[1]!, lineageIds[2]!];
  // writer 1 had added 50 in the old lineage; after a DEL it restarts at 1 in a fresh one
  const before = add(EMPTY_COUNTER, old, 1, 50, true) as Counter;
  const after = add(EMPTY_COUNTER, fresh, 1, 1, true) as Counter;
  t.is(value(merge(before, after)), 51, 'the fresh increment is not absorbed by the old total');
  // two coordinators converting the same "10" (same lineage id) agree on the base
  const a = add(fromBase(old, 10), old, 1, 1, true) as Counter;
  const b = add(fromBase(old, 10), old, 2, 1, true) as Counter;
  t.is(value(merge(a, b)), 12);
});

const sib = (kind: ValueKind, text: string): Sibling => ({ kind, timestampMs: 1, writer: 1, data: Buffer.from(text) });
const counterSib = (c: Counter): Sibling => ({ kind: ValueKind.Counter, timestampMs: 1, writer: 1, data: encodeCounter(c) });
const state = Uint8Array.of(1, 4, 2);

test('counterBase: what INCR and INCRBYFLOAT start from, by Redis rules', (t) => {
  const valueOf = (r: ReturnType<typeof counterBase>): number | string => (typeof r === 'string' ? r : value(r.counter));
  t.is(valueOf(counterBase([], true, state)), 0, 'a missing key is 0');
  t.is(valueOf(counterBase([sib(ValueKind.Tombstone, '')], true, state)), 0, 'a deleted key is 0');
  t.is(valueOf(counterBase([sib(ValueKind.Bytes, '10')], true, state)), 10);
  t.is(valueOf(counterBase([sib(ValueKind.String, '-5')], true, state)), -5, 'a negative base is not lost to a max with 0');
  t.is(valueOf(counterBase([sib(ValueKind.Json, '42')], true, state)), 42, 'a JSON number');
  t.is(valueOf(counterBase([sib(ValueKind.Json, '"42"')], true, state)), 'not-integer', 'a JSON string is not a number');
  for (const bad of ['abc', '1.5', ' 11', '11 ', '+1', '01', '-0', '', '99999999999999999999']) {
    t.is(valueOf(counterBase([sib(ValueKind.Bytes, bad)], true, state)), 'not-integer', JSON.stringify(bad));
  }
  t.is(valueOf(counterBase([sib(ValueKind.Bytes, '1.5')], false, state)), 1.5);
  t.is(valueOf(counterBase([sib(ValueKind.Bytes, '1e3')], false, state)), 1000);
  for (const bad of ['abc', ' 1', '1 ', 'inf', 'nan', '']) t.is(valueOf(counterBase([sib(ValueKind.Bytes, bad)], false, state)), 'not-float', JSON.stringify(bad));
  const frac = add(EMPTY_COUNTER, NEVER_EXISTED, 1, 0.5, false) as Counter;
  t.is(valueOf(counterBase([counterSib(frac)], true, state)), 'not-integer', 'INCR of a fractional counter');
  t.is(valueOf(counterBase([counterSib(frac)], false, state)), 0.5);
  // a SET concurrent with increments: the string starts a lineage beside the counter's
  const c = add(EMPTY_COUNTER, NEVER_EXISTED, 1, 7, true) as Counter;
  const mixed = counterBase([counterSib(c), sib(ValueKind.Bytes, '100')], true, state);
  t.is(valueOf(mixed), 107);
  t.deepEqual(typeof mixed === 'string' ? null : [...mixed.lineage], [...state]);
  t.deepEqual(typeof counterBase([counterSib(c)], true, state) === 'string' ? null : [...(counterBase([counterSib(c)], true, state) as { lineage: Uint8Array }).lineage], [...NEVER_EXISTED], 'counters only: the current lineage');
});

test('Redis number syntax', (t) => {
  t.is(parseIntegerText('0'), 0);
  t.is(parseIntegerText('-12'), -12);
  t.is(parseIntegerText(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  t.is(parseIntegerText('9007199254740992'), null, 'beyond the safe range');
  t.is(parseFloatText('.5'), 0.5);
  t.is(parseFloatText('-1.1e2'), -110);
  t.is(parseFloatText('1e400'), null);
  t.is(parseFloatText('x'.repeat(6000)), null);
});
