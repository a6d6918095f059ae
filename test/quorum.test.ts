import test from 'ava';
import { permutations } from './random.js';
import { ReadQuorum, WriteQuorum, type QuorumOutcome } from '../src/coordinator/quorum.js';
import * as dvv from '../src/versioning/dvvset.js';
import type { VersionVector } from '../src/versioning/dvvset.js';
import { ValueKind, compareSiblings, encodeClock, syncClocks, type Clock, type Sibling } from '../src/versioning/sibling.js';

// ---------------------------------------------------------------------------
// helpers

type Event = { readonly actor: number; readonly ok: boolean };

/** Every sequence of first responses: each replica acks, fails or stays silent, in every order. */
function* sequences(replicas: readonly number[]): Generator<Event[]> {
  function* rec(remaining: readonly number[], prefix: Event[]): Generator<Event[]> {
    yield prefix;
    for (let i = 0; i < remaining.length; i++) {
      const rest = [...remaining.slice(0, i), ...remaining.slice(i + 1)];
      for (const ok of [true, false]) yield* rec(rest, [...prefix, { actor: remaining[i]!, ok }]);
    }
  }
  yield* rec(replicas, []);
}

/** Semantic expectation: ok once w replicas acked; failed once w acks became impossible. */
function expectedOutcome(n: number, need: number, acks: number, fails: number): QuorumOutcome {
  if (acks >= need) return 'ok';
  const stillPossible = acks + (n - acks - fails);
  return stillPossible < need ? 'failed' : 'pending';
}

const enc = new TextEncoder();
const sib = (timestampMs: number, writer: number, data: string): Sibling => ({ kind: ValueKind.String, timestampMs, writer, data: enc.encode(data) });
const put = (server: Clock, ctx: VersionVector, value: Sibling, id: number): Clock => dvv.update(dvv.fromContext(ctx, value), server, id, compareSiblings);
const texts = (c: Clock | null): string[] => (c === null ? [] : dvv.values(c).map((s) => new TextDecoder().decode(s.data)).sort());
const bytesEq = (a: Clock, b: Clock): boolean => Buffer.from(encodeClock(a)).equals(Buffer.from(encodeClock(b)));

// A small causal history of one key:
//   base:  a                  (write at actor 1)
//   v2:    b  supersedes a    (write at actor 2 with base's context)
//   conc:  c  supersedes a    (write at actor 3 with base's context), concurrent with v2
const base = put(dvv.empty(), [], sib(1, 1, 'a'), 1);
const v2 = put(base, dvv.join(base), sib(2, 2, 'b'), 2);
const conc = put(base, dvv.join(base), sib(3, 3, 'c'), 3);
const both = syncClocks(v2, conc);

// ---------------------------------------------------------------------------
// WriteQuorum

test('WriteQuorum: exhaustive outcomes for replicas=1..5, w=1..replicas, every ack/fail/silence in every order', (t) => {
  let sequencesChecked = 0;
  for (let n = 1; n <= 5; n++) {
    const replicas = Array.from({ length: n }, (_, i) => 10 + i * 3);
    for (let w = 1; w <= n; w++) {
      for (const seq of sequences(replicas)) {
        const q = new WriteQuorum(replicas, w);
        t.is(q.outcome, 'pending', 'fresh quorum is pending');
        let acks = 0;
        let fails = 0;
        let last: QuorumOutcome = 'pending';
        for (const { actor, ok } of seq) {
          if (ok) {
            q.ack(actor);
            acks++;
          } else {
            q.fail(actor);
            fails++;
          }
          // noise: a duplicate of the same response, then the opposite response; both ignored
          if (ok) q.ack(actor);
          else q.fail(actor);
          if (ok) q.fail(actor);
          else q.ack(actor);
          const want = expectedOutcome(n, w, acks, fails);
          if (q.outcome !== want || q.acks !== acks) {
            return void t.fail(`n=${n} w=${w} seq=${JSON.stringify(seq)}: outcome ${q.outcome}/${q.acks} expected ${want}/${acks}`);
          }
          if (last !== 'pending' && q.outcome !== last) return void t.fail(`decided outcome changed from ${last} to ${q.outcome}`);
          last = q.outcome;
        }
        if (seq.length === n && q.outcome === 'pending') return void t.fail('every replica answered but still pending');
        sequencesChecked++;
      }
    }
  }
  t.log(`${sequencesChecked} sequences`);
  t.true(sequencesChecked > 30000);
});

test('WriteQuorum: unanswered lists the replicas a write retry goes to', (t) => {
  const q = new WriteQuorum([4, 7, 9], 3);
  t.deepEqual(q.unanswered(), [4, 7, 9]);
  q.ack(7);
  q.fail(9);
  t.deepEqual(q.unanswered(), [4]);
  q.ack(4);
  t.deepEqual(q.unanswered(), []);
});

test('WriteQuorum: hand-made cases', (t) => {
  const q = new WriteQuorum([1, 2, 3], 2);
  q.ack(1);
  t.is(q.outcome, 'pending');
  q.ack(1);
  t.is(q.acks, 1, 'duplicate acks count once');
  q.fail(1);
  t.is(q.outcome, 'pending', 'a failure after an ack is ignored');
  q.fail(2);
  t.is(q.outcome, 'pending');
  q.ack(2);
  t.is(q.acks, 1, 'an ack after a failure is ignored');
  q.ack(3);
  t.is(q.outcome, 'ok');
  t.is(q.acks, 2);

  const f = new WriteQuorum([1, 2, 3], 3);
  f.fail(2);
  t.is(f.outcome, 'failed', 'w=all fails on the first failure');
  f.ack(1);
  f.ack(3);
  t.is(f.outcome, 'failed');

  const one = new WriteQuorum([7], 1);
  one.ack(7);
  t.is(one.outcome, 'ok');
  t.deepEqual(one.replicas, [7]);
  t.is(one.w, 1);
});

test('WriteQuorum: impossible w and non-replica actors throw RangeError', (t) => {
  for (const [replicas, w] of [
    [[1, 2, 3], 0],
    [[1, 2, 3], 4],
    [[1, 2, 3], -1],
    [[1, 2, 3], 1.5],
    [[1, 2, 3], Number.NaN],
    [[], 1],
    [[], 0],
  ] as [number[], number][]) {
    t.throws(() => new WriteQuorum(replicas, w), { instanceOf: RangeError }, `${replicas.length} replicas, w=${w}`);
  }
  const q = new WriteQuorum([1, 2, 3], 2);
  t.throws(() => q.ack(4), { instanceOf: RangeError });
  t.throws(() => q.fail(0), { instanceOf: RangeError });
  t.throws(() => q.fail(4), { instanceOf: RangeError });
  t.is(q.acks, 0);
  t.is(q.outcome, 'pending', 'rejected actors changed nothing');
  q.fail(1);
  q.fail(2);
  t.is(q.outcome, 'failed');
});

// ---------------------------------------------------------------------------
// ReadQuorum outcomes

test('ReadQuorum: exhaustive outcomes and complete flag for replicas=1..5, r=1..replicas', (t) => {
  let sequencesChecked = 0;
  const clocks: (Clock | null)[] = [null, base, v2, conc];
  for (let n = 1; n <= 5; n++) {
    const replicas = Array.from({ length: n }, (_, i) => i * 2 + 1);
    for (let r = 1; r <= n; r++) {
      for (const seq of sequences(replicas)) {
        const q = new ReadQuorum(replicas, r);
        t.is(q.outcome, 'pending');
        t.false(q.complete);
        let answered = 0;
        let fails = 0;
        let last: QuorumOutcome = 'pending';
        seq.forEach(({ actor, ok }, i) => {
          if (ok) {
            q.reply(actor, clocks[(actor + i) % clocks.length]!);
            q.reply(actor, clocks[(actor + i) % clocks.length]!); // duplicate
            q.fail(actor); // failure after a reply: ignored
            answered++;
          } else {
            q.fail(actor);
            q.fail(actor);
            q.reply(actor, v2); // reply after a failure: ignored
            fails++;
          }
        });
        const want = expectedOutcome(n, r, answered, fails);
        const complete = answered + fails === n;
        if (q.outcome !== want || q.answered !== answered || q.complete !== complete) {
          return void t.fail(`n=${n} r=${r} seq=${JSON.stringify(seq)}: ${q.outcome}/${q.answered}/${q.complete} expected ${want}/${answered}/${complete}`);
        }
        if (complete && q.outcome === 'pending') return void t.fail('complete but pending');
        // and step by step, the decided outcome never changes
        const q2 = new ReadQuorum(replicas, r);
        for (const { actor, ok } of seq) {
          if (ok) q2.reply(actor, null);
          else q2.fail(actor);
          if (last !== 'pending' && q2.outcome !== last) return void t.fail(`decided outcome changed from ${last} to ${q2.outcome}`);
          last = q2.outcome;
        }
        t.is(q2.outcome, want);
        sequencesChecked++;
      }
    }
  }
  t.log(`${sequencesChecked} sequences`);
  t.true(sequencesChecked > 30000);
});

test('ReadQuorum: impossible r and non-replica actors throw RangeError', (t) => {
  for (const [replicas, r] of [
    [[1, 2, 3], 0],
    [[1, 2, 3], 4],
    [[1, 2, 3], 2.5],
    [[1, 2, 3], Number.NaN],
    [[], 1],
  ] as [number[], number][]) {
    t.throws(() => new ReadQuorum(replicas, r), { instanceOf: RangeError }, `${replicas.length} replicas, r=${r}`);
  }
  const q = new ReadQuorum([1, 2, 3], 3);
  t.throws(() => q.reply(4, v2), { instanceOf: RangeError });
  t.throws(() => q.reply(0, null), { instanceOf: RangeError });
  t.throws(() => q.fail(4), { instanceOf: RangeError });
  t.is(q.answered, 0);
  t.is(q.outcome, 'pending', 'a stray failure from a non-replica does not fail an r=all read');
  t.is(q.result(), null);
  q.reply(1, v2);
  q.reply(2, v2);
  q.reply(3, v2);
  t.is(q.outcome, 'ok');
  t.true(q.complete);
});

// ---------------------------------------------------------------------------
// ReadQuorum reconciliation and read repair

test('ReadQuorum.result: null without values, the descendant wins, concurrent versions become siblings', (t) => {
  const q = new ReadQuorum([1, 2, 3], 2);
  t.is(q.result(), null);
  q.reply(1, null);
  t.is(q.result(), null, 'a replica without the key contributes nothing');
  q.reply(2, base);
  t.true(bytesEq(q.result()!, base));
  q.reply(3, v2);
  t.deepEqual(texts(q.result()), ['b'], 'v2 descends from base');

  const c = new ReadQuorum([1, 2, 3], 3);
  c.reply(1, v2);
  c.reply(2, conc);
  c.reply(3, base);
  t.deepEqual(texts(c.result()), ['b', 'c']);
  t.true(bytesEq(c.result()!, both));
  t.deepEqual(dvv.join(c.result()!), dvv.mergeVV(dvv.join(v2), dvv.join(conc)));
  // a write with the reconciled context resolves both siblings
  const resolved = put(c.result()!, dvv.join(c.result()!), sib(9, 1, 'r'), 1);
  t.deepEqual(texts(resolved), ['r']);
});

test('ReadQuorum.result is independent of reply order (byte-equal) and dominates every reply', (t) => {
  const later = put(v2, [], sib(4, 1, 'd'), 1); // concurrent sibling next to b
  const options: (Clock | null)[] = [null, base, v2, conc, both, later];
  const replicas = [1, 2, 3, 4];
  let checked = 0;
  for (let mask = 0; mask < options.length ** 4; mask++) {
    const picked = replicas.map((_, i) => options[Math.floor(mask / options.length ** i) % options.length]!);
    if (mask % 7 !== 0) continue; // a deterministic sample of the 1296 combinations
    let reference: Uint8Array | null | undefined;
    for (const order of permutations(replicas.map((a, i) => [a, picked[i]!] as const))) {
      const q = new ReadQuorum(replicas, 1);
      for (const [a, c] of order) q.reply(a, c);
      const res = q.result();
      const bytes = res === null ? null : encodeClock(res);
      if (reference === undefined) reference = bytes;
      else if ((reference === null) !== (bytes === null) || (bytes !== null && !Buffer.from(bytes).equals(Buffer.from(reference!)))) {
        return void t.fail(`order-dependent result for ${mask}`);
      }
      if (res !== null) {
        for (const c of picked) {
          if (c !== null && !(dvv.less(c, res) || dvv.equalHistory(c, res))) return void t.fail('result does not dominate a reply');
        }
      }
      checked++;
    }
  }
  t.true(checked > 4000);
});

test('ReadQuorum.repairs: stale and missing replicas get the reconciled clock; up-to-date and failed ones do not', (t) => {
  const q = new ReadQuorum([1, 2, 3, 4, 5], 2);
  t.deepEqual(q.repairs(), []);
  q.reply(1, base); // stale
  q.reply(2, v2); // up to date
  q.reply(3, null); // missing
  q.fail(4); // failed: nothing to repair
  t.false(q.complete);
  q.reply(5, v2); // up to date
  t.true(q.complete);
  const repairs = q.repairs();
  t.deepEqual(
    repairs.map((r) => r.actor).sort(),
    [1, 3],
  );
  for (const r of repairs) t.true(bytesEq(r.clock, v2));
});

test('ReadQuorum.repairs: with concurrent siblings every replica missing one of them is repaired', (t) => {
  const q = new ReadQuorum([1, 2, 3], 3);
  q.reply(1, v2);
  q.reply(2, conc);
  q.reply(3, both);
  const repairs = q.repairs();
  t.deepEqual(
    repairs.map((r) => r.actor).sort(),
    [1, 2],
  );
  for (const r of repairs) t.deepEqual(texts(r.clock), ['b', 'c']);
});

test('ReadQuorum.repairs: nothing to do when all replies agree or nobody has the key', (t) => {
  const same = new ReadQuorum([1, 2, 3], 2);
  same.reply(1, both);
  same.reply(2, syncClocks(conc, v2));
  same.reply(3, both);
  t.deepEqual(same.repairs(), []);
  const none = new ReadQuorum([1, 2, 3], 2);
  none.reply(1, null);
  none.reply(2, null);
  none.fail(3);
  t.true(none.complete);
  t.is(none.result(), null);
  t.deepEqual(none.repairs(), []);
  const failedOnly = new ReadQuorum([1, 2], 1);
  failedOnly.fail(1);
  failedOnly.fail(2);
  t.is(failedOnly.outcome, 'failed');
  t.deepEqual(failedOnly.repairs(), []);
});

test('ReadQuorum.repairs: same history but missing an anonymous sibling counts as stale', (t) => {
  const entries = dvv.join(v2).map(([id, counter]) => ({ id, counter, values: [] as Sibling[] }));
  const x = sib(5, 0, 'x');
  const y = sib(6, 0, 'y');
  const one: Clock = { entries, anonymous: [x] };
  const two: Clock = { entries, anonymous: [x, y] };
  const q = new ReadQuorum([1, 2], 2);
  q.reply(1, one);
  q.reply(2, two);
  t.deepEqual(texts(q.result()), ['x', 'y']);
  t.deepEqual(
    q.repairs().map((r) => r.actor),
    [1],
  );
});

test('ReadQuorum.repairs: randomized, exactly the replies that differ from the reconciled clock', (t) => {
  const options: (Clock | null)[] = [null, base, v2, conc, both];
  let seed = 12345;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  for (let i = 0; i < 2000; i++) {
    const n = 1 + Math.floor(next() * 5);
    const replicas = Array.from({ length: n }, (_, k) => k + 1);
    const q = new ReadQuorum(replicas, 1);
    const given = new Map<number, Clock | null>();
    for (const a of replicas) {
      const roll = next();
      if (roll < 0.15) q.fail(a);
      else if (roll < 0.3) continue;
      else {
        const c = options[Math.floor(next() * options.length)]!;
        q.reply(a, c);
        given.set(a, c);
      }
    }
    const res = q.result();
    const expected = res === null ? [] : [...given].filter(([, c]) => c === null || !bytesEq(c, res)).map(([a]) => a);
    const got = q.repairs();
    t.deepEqual(
      got.map((r) => r.actor).sort(),
      expected.sort(),
    );
    for (const r of got) t.true(bytesEq(r.clock, res!));
  }
});
