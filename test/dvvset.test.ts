import test from 'ava';
import * as dvv from '../src/versioning/dvvset.js';
import type { DVVSet, VersionVector } from '../src/versioning/dvvset.js';
import { mulberry32 } from './random.js';

// ---------------------------------------------------------------------------
// helpers

const randInt = (rnd: () => number, n: number): number => Math.floor(rnd() * n);
const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[randInt(rnd, xs.length)]!;

type S = DVVSet<string>;
const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const cmpNum = (a: number, b: number): number => a - b;
const sortedStr = (xs: readonly string[]): string[] => [...xs].sort(cmpStr);
const sortedNum = (xs: Iterable<number>): number[] => [...xs].sort(cmpNum);

/** Client write of `value` with `ctx` coordinated by actor `id` on `server`. */
const put = (server: S, ctx: VersionVector, value: string, id: number): S => dvv.update(dvv.fromContext(ctx, value), server, id, cmpStr);
const sync = (a: S, b: S): S => dvv.sync(a, b, cmpStr);

// ---------------------------------------------------------------------------
// Ground-truth causal model and randomized replica simulation.
//
// Every write gets a unique numeric value. The model tracks, per replica, the
// set of writes it has seen, and per write the set of writes its context had
// seen (its causal past). A write is visible at a replica iff the replica saw
// it and no write the replica saw has it in its causal past.

interface ModelWrite {
  readonly value: number;
  readonly actor: number;
  readonly counter: number;
  readonly past: ReadonlySet<number>;
}

interface Snapshot {
  readonly state: DVVSet<number>;
  readonly seen: ReadonlySet<number>;
}

class Simulation {
  readonly ids: readonly number[];
  readonly states: DVVSet<number>[];
  readonly seen: Set<number>[];
  readonly writes = new Map<number, ModelWrite>();
  readonly reads: { ctx: VersionVector; seen: ReadonlySet<number> }[] = [];
  readonly pool: Snapshot[] = [];
  private readonly counters = new Map<number, number>();
  checks = 0;

  constructor(
    readonly rnd: () => number,
    ids: readonly number[] = [3, 7, 11],
  ) {
    this.ids = ids;
    this.states = ids.map(() => dvv.empty<number>());
    this.seen = ids.map(() => new Set<number>());
  }

  visible(seen: ReadonlySet<number>): number[] {
    const superseded = new Set<number>();
    for (const w of seen) for (const p of this.writes.get(w)!.past) superseded.add(p);
    return sortedNum([...seen].filter((w) => !superseded.has(w)));
  }

  /** Expected version vector of a seen-set: max counter per actor. */
  vv(seen: ReadonlySet<number>): [number, number][] {
    const m = new Map<number, number>();
    for (const w of seen) {
      const mw = this.writes.get(w)!;
      m.set(mw.actor, Math.max(m.get(mw.actor) ?? 0, mw.counter));
    }
    return [...m.entries()].sort((a, b) => a[0] - b[0]);
  }

  read(): void {
    const r = randInt(this.rnd, this.ids.length);
    this.reads.push({ ctx: dvv.join(this.states[r]!), seen: new Set(this.seen[r]!) });
  }

  write(): void {
    const rnd = this.rnd;
    let ctx: VersionVector = dvv.EMPTY_VV;
    let past = new Set<number>();
    const roll = rnd();
    if (this.reads.length > 0 && roll < 0.7) {
      // usually a recent read, sometimes a stale one
      const i = rnd() < 0.7 ? this.reads.length - 1 - randInt(rnd, Math.min(3, this.reads.length)) : randInt(rnd, this.reads.length);
      ctx = this.reads[i]!.ctx;
      past = new Set(this.reads[i]!.seen);
    } else if (this.reads.length > 1 && roll < 0.9) {
      // a client that read twice and merged the contexts
      const a = pick(rnd, this.reads);
      const b = pick(rnd, this.reads);
      ctx = dvv.mergeVV(a.ctx, b.ctx);
      past = new Set([...a.seen, ...b.seen]);
    } // else: blind write with an empty context
    const c = randInt(rnd, this.ids.length);
    const actor = this.ids[c]!;
    const value = this.writes.size + 1;
    const counter = (this.counters.get(actor) ?? 0) + 1;
    this.counters.set(actor, counter);
    this.writes.set(value, { value, actor, counter, past });
    this.states[c] = dvv.update(dvv.fromContext(ctx, value), this.states[c]!, actor, cmpNum);
    for (const p of past) this.seen[c]!.add(p);
    this.seen[c]!.add(value);
    // replicate to a random subset of the other replicas
    for (let x = 0; x < this.ids.length; x++) {
      if (x !== c && rnd() < 0.5) this.receive(x, c);
    }
  }

  /** Replica x merges replica y's state (replication, read repair, anti-entropy). */
  receive(x: number, y: number): void {
    this.states[x] = this.rnd() < 0.5 ? dvv.sync(this.states[x]!, this.states[y]!, cmpNum) : dvv.sync(this.states[y]!, this.states[x]!, cmpNum);
    for (const w of this.seen[y]!) this.seen[x]!.add(w);
  }

  step(): void {
    const roll = this.rnd();
    if (roll < 0.35) this.read();
    else if (roll < 0.8) this.write();
    else {
      const x = randInt(this.rnd, this.ids.length);
      const y = randInt(this.rnd, this.ids.length);
      this.receive(x, y);
    }
    for (let r = 0; r < this.ids.length; r++) {
      if (this.rnd() < 0.3) this.pool.push({ state: this.states[r]!, seen: new Set(this.seen[r]!) });
    }
  }

  /** Compare a state with the model; returns an error message or null. */
  check(state: DVVSet<number>, seen: ReadonlySet<number>): string | null {
    this.checks++;
    dvv.assertValid(state);
    if (state.anonymous.length !== 0) return 'unexpected anonymous values';
    const got = sortedNum(dvv.values(state));
    const want = this.visible(seen);
    if (got.join() !== want.join()) return `values ${got} expected ${want}`;
    if (dvv.size(state) !== want.length) return 'size disagrees with values';
    const vv = dvv.join(state);
    if (JSON.stringify(vv) !== JSON.stringify(this.vv(seen))) return `join ${JSON.stringify(vv)} expected ${JSON.stringify(this.vv(seen))}`;
    // Each entry's values are its newest events, newest first.
    for (const e of state.entries) {
      for (let k = 0; k < e.values.length; k++) {
        const w = this.writes.get(e.values[k]!)!;
        if (w.actor !== e.id || w.counter !== e.counter - k) return `value ${w.value} (dot ${w.actor}:${w.counter}) at ${e.id}:${e.counter - k}`;
      }
    }
    return null;
  }

  checkAll(): string | null {
    for (let r = 0; r < this.ids.length; r++) {
      const err = this.check(this.states[r]!, this.seen[r]!);
      if (err !== null) return `replica ${this.ids[r]}: ${err}`;
    }
    return null;
  }

  /** Anti-entropy until every replica has everything; returns the converged state. */
  syncAll(): DVVSet<number> {
    const order = this.ids.map((_, i) => i).sort(() => this.rnd() - 0.5);
    let all = this.states[order[0]!]!;
    for (const i of order.slice(1)) all = dvv.sync(all, this.states[i]!, cmpNum);
    for (let r = 0; r < this.ids.length; r++) {
      this.states[r] = this.rnd() < 0.5 ? dvv.sync(this.states[r]!, all, cmpNum) : dvv.sync(all, this.states[r]!, cmpNum);
      for (const w of this.writes.keys()) this.seen[r]!.add(w);
    }
    return all;
  }
}

function runSimulation(seed: number, steps: number, ids?: readonly number[]): Simulation {
  const sim = new Simulation(mulberry32(seed), ids);
  for (let i = 0; i < steps; i++) sim.step();
  return sim;
}

// ---------------------------------------------------------------------------
// basics

test('empty, fromContext, join, values, size', (t) => {
  const e = dvv.empty<string>();
  t.deepEqual(e, { entries: [], anonymous: [] });
  t.deepEqual(dvv.join(e), []);
  t.deepEqual(dvv.values(e), []);
  t.is(dvv.size(e), 0);
  const c = dvv.fromContext(
    [
      [1, 4],
      [5, 2],
    ],
    'v',
  );
  t.deepEqual(c, {
    entries: [
      { id: 1, counter: 4, values: [] },
      { id: 5, counter: 2, values: [] },
    ],
    anonymous: ['v'],
  });
  t.deepEqual(dvv.join(c), [
    [1, 4],
    [5, 2],
  ]);
  t.deepEqual(dvv.values(c), ['v']);
  t.is(dvv.size(c), 1);
  t.deepEqual(dvv.EMPTY_VV, []);
  t.true(Object.isFrozen(dvv.EMPTY_VV));
});

test('values lists anonymous first, then entries in id order, newest first', (t) => {
  const s: S = {
    entries: [
      { id: 1, counter: 5, values: ['e5', 'e4'] },
      { id: 2, counter: 1, values: [] },
      { id: 3, counter: 2, values: ['f2'] },
    ],
    anonymous: ['anon'],
  };
  t.deepEqual(dvv.values(s), ['anon', 'e5', 'e4', 'f2']);
  t.is(dvv.size(s), 4);
});

test('blind write on an empty clock creates the first event of the coordinator', (t) => {
  const s = put(dvv.empty(), [], 'a', 7);
  t.deepEqual(s, { entries: [{ id: 7, counter: 1, values: ['a'] }], anonymous: [] });
});

test('events keep entries sorted by actor id wherever the coordinator sits', (t) => {
  let s = put(dvv.empty(), [], 'a', 7);
  s = put(s, dvv.join(s), 'b', 3);
  s = put(s, dvv.join(s), 'c', 11);
  s = put(s, dvv.join(s), 'd', 5);
  t.deepEqual(
    dvv.join(s),
    [
      [3, 1],
      [5, 1],
      [7, 1],
      [11, 1],
    ],
  );
  t.deepEqual(dvv.values(s), ['d']);
  t.notThrows(() => dvv.assertValid(s));
});

test('update with the context of a read supersedes exactly what was read', (t) => {
  let s = put(dvv.empty(), [], 'a', 1);
  s = put(s, [], 'b', 2); // concurrent sibling at another coordinator's event
  t.deepEqual(sortedStr(dvv.values(s)), ['a', 'b']);
  const ctx = dvv.join(s);
  const s2 = put(s, ctx, 'c', 1);
  t.deepEqual(dvv.values(s2), ['c']);
  t.deepEqual(dvv.join(s2), [
    [1, 2],
    [2, 1],
  ]);
  // A value the reader did not see survives next to the new write.
  const read = dvv.join(s2);
  const s3 = put(s2, [], 'x', 2); // arrives after the read
  const s4 = put(s3, read, 'y', 1);
  t.deepEqual(sortedStr(dvv.values(s4)), ['x', 'y']);
});

test('two updates from the same old context yield two siblings; the merged context resolves them', (t) => {
  const base = put(dvv.empty(), [], 'v0', 1);
  const ctx = dvv.join(base);
  // same coordinator
  const a = put(base, ctx, 'a', 1);
  const ab = put(a, ctx, 'b', 1);
  t.deepEqual(sortedStr(dvv.values(ab)), ['a', 'b']);
  t.deepEqual(ab.entries, [{ id: 1, counter: 3, values: ['b', 'a'] }]);
  const resolved = put(ab, dvv.join(ab), 'r', 1);
  t.deepEqual(dvv.values(resolved), ['r']);
  // different coordinators, then replication
  const r1 = put(base, ctx, 'a', 1);
  const r2 = put(base, ctx, 'b', 2);
  const m1 = sync(r1, r2);
  const m2 = sync(r2, r1);
  t.deepEqual(m1, m2);
  t.deepEqual(sortedStr(dvv.values(m1)), ['a', 'b']);
  // A client that read each sibling from a different replica merges the contexts.
  const merged = dvv.mergeVV(dvv.join(r1), dvv.join(r2));
  t.deepEqual(merged, dvv.join(m1));
  t.deepEqual(dvv.values(put(m1, merged, 'fix', 2)), ['fix']);
  t.deepEqual(dvv.values(put(r1, merged, 'fix', 1)), ['fix']); // even at a replica that only has r1
  // Only one of the two contexts is not enough.
  t.deepEqual(sortedStr(dvv.values(put(m1, dvv.join(r1), 'half', 1))), ['b', 'half']);
});

test('a write with an empty context concurrent with existing values keeps all siblings', (t) => {
  let s = put(dvv.empty(), [], 'a', 1);
  s = put(s, [], 'b', 1);
  s = put(s, [], 'c', 2);
  s = put(s, [], 'd', 1);
  t.deepEqual(sortedStr(dvv.values(s)), ['a', 'b', 'c', 'd']);
  t.deepEqual(s.entries, [
    { id: 1, counter: 3, values: ['d', 'b', 'a'] },
    { id: 2, counter: 1, values: ['c'] },
  ]);
});

test('sync of a replica that missed writes with a newer one returns the newer one', (t) => {
  const old = put(dvv.empty(), [], 'a', 1);
  let newer = put(old, dvv.join(old), 'b', 2);
  newer = put(newer, dvv.join(newer), 'c', 1);
  newer = put(newer, [], 'd', 3);
  t.true(dvv.less(old, newer));
  t.deepEqual(sync(old, newer), newer);
  t.deepEqual(sync(newer, old), newer);
  t.deepEqual(sync(dvv.empty(), newer), newer);
  t.deepEqual(sync(newer, dvv.empty()), newer);
});

test('sync keeps values the other side has not superseded (entry merge)', (t) => {
  // Replica A saw 1:1..1:3 with values of 1:3 and 1:2 live; replica B saw up to 1:2 with 1:2 superseded by 2:1.
  const a: S = { entries: [{ id: 1, counter: 3, values: ['c', 'b'] }], anonymous: [] };
  const b: S = {
    entries: [
      { id: 1, counter: 2, values: [] },
      { id: 2, counter: 1, values: ['x'] },
    ],
    anonymous: [],
  };
  const m = sync(a, b);
  t.deepEqual(m, {
    entries: [
      { id: 1, counter: 3, values: ['c'] },
      { id: 2, counter: 1, values: ['x'] },
    ],
    anonymous: [],
  });
  t.deepEqual(sync(b, a), m);
});

test('sync of anonymous values: the descendant wins, concurrent ones are unioned sorted without duplicates', (t) => {
  const lo: S = { entries: [{ id: 1, counter: 1, values: [] }], anonymous: ['old'] };
  const hi: S = { entries: [{ id: 1, counter: 2, values: ['n'] }], anonymous: ['new'] };
  t.deepEqual(sync(lo, hi).anonymous, ['new']);
  t.deepEqual(sync(hi, lo).anonymous, ['new']);
  const p: S = { entries: [{ id: 1, counter: 1, values: [] }], anonymous: ['z', 'b'] };
  const q: S = { entries: [{ id: 2, counter: 1, values: [] }], anonymous: ['b', 'a'] };
  t.deepEqual(sync(p, q).anonymous, ['a', 'b', 'z']);
  t.deepEqual(sync(q, p).anonymous, ['a', 'b', 'z']);
  const same: S = { entries: [{ id: 1, counter: 1, values: [] }], anonymous: ['m'] };
  t.deepEqual(sync(same, { ...same, anonymous: ['k'] }).anonymous, ['k', 'm']);
});

test('update rejects a client clock without exactly one value', (t) => {
  t.throws(() => dvv.update(dvv.empty<string>(), dvv.empty(), 1, cmpStr), { message: /exactly one/ });
  t.throws(() => dvv.update({ entries: [], anonymous: ['a', 'b'] }, dvv.empty(), 1, cmpStr), { message: /exactly one/ });
});

test('fromContext rejects corrupt version vectors', (t) => {
  const bad: VersionVector[] = [
    [
      [2, 1],
      [1, 1],
    ],
    [
      [1, 1],
      [1, 2],
    ],
    [[-1, 1]],
    [[1, -1]],
    [[1.5, 1]],
    [[1, 0.5]],
    [[Number.NaN, 1]],
  ];
  for (const vv of bad) t.throws(() => dvv.fromContext(vv, 'x'), { message: /corrupt context/ }, JSON.stringify(vv));
  t.notThrows(() =>
    dvv.fromContext(
      [
        [0, 0],
        [1, 5],
      ],
      'x',
    ),
  );
});

// ---------------------------------------------------------------------------
// less / equalHistory

test('less: hand-made cases', (t) => {
  const e = dvv.empty<string>();
  const a = put(e, [], 'a', 1);
  const ab = put(a, dvv.join(a), 'b', 2);
  const c = put(e, [], 'c', 2);
  t.false(dvv.less(e, e));
  t.true(dvv.less(e, a));
  t.false(dvv.less(a, e));
  t.true(dvv.less(a, ab));
  t.false(dvv.less(ab, a));
  t.false(dvv.less(a, c)); // concurrent
  t.false(dvv.less(c, a));
  t.true(dvv.less(c, ab)); // as histories: {2:1} < {1:1, 2:1}
  t.false(dvv.less(a, a));
  t.true(dvv.equalHistory(a, { entries: [{ id: 1, counter: 1, values: [] }], anonymous: [] }));
  t.false(dvv.equalHistory(a, ab));
  t.false(dvv.equalHistory(a, c));
  t.false(dvv.equalHistory(a, e));
  // greater with a higher counter on one id and a missing id on the other side: concurrent
  const x: S = { entries: [{ id: 1, counter: 3, values: [] }], anonymous: [] };
  const y: S = {
    entries: [
      { id: 1, counter: 2, values: [] },
      { id: 2, counter: 1, values: [] },
    ],
    anonymous: [],
  };
  t.false(dvv.less(x, y));
  t.false(dvv.less(y, x));
});

test('less is a strict partial order that matches set inclusion of causal histories (randomized)', (t) => {
  let pairs = 0;
  let comparable = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const sim = runSimulation(seed, 60);
    const pool = sim.pool.slice(-40);
    for (const a of pool) {
      t.false(dvv.less(a.state, a.state), 'irreflexive');
      for (const b of pool) {
        pairs++;
        const ab = dvv.less(a.state, b.state);
        const ba = dvv.less(b.state, a.state);
        const subset = [...a.seen].every((w) => b.seen.has(w)) && b.seen.size > a.seen.size;
        if (ab !== subset) {
          t.fail(`less disagrees with the model (seed ${seed})`);
          return;
        }
        if (ab && ba) {
          t.fail('asymmetry violated');
          return;
        }
        const eqModel = a.seen.size === b.seen.size && [...a.seen].every((w) => b.seen.has(w));
        if (dvv.equalHistory(a.state, b.state) !== eqModel) {
          t.fail('equalHistory disagrees with the model');
          return;
        }
        if (ab) comparable++;
      }
    }
    // transitivity on a sample of triples
    for (const a of pool.slice(0, 15))
      for (const b of pool)
        for (const c of pool.slice(-15)) {
          if (dvv.less(a.state, b.state) && dvv.less(b.state, c.state) && !dvv.less(a.state, c.state)) {
            t.fail('transitivity violated');
            return;
          }
        }
  }
  t.log(`${pairs} pairs, ${comparable} strictly ordered`);
  t.true(comparable > pairs / 20, 'the sample contains ordered pairs');
});

// ---------------------------------------------------------------------------
// sync algebra

test('sync is commutative, associative and idempotent, and matches the causal model (randomized)', (t) => {
  let triples = 0;
  for (let seed = 100; seed < 112; seed++) {
    const sim = runSimulation(seed, 70);
    const pool = sim.pool.slice(-30);
    const s = (x: DVVSet<number>, y: DVVSet<number>): DVVSet<number> => dvv.sync(x, y, cmpNum);
    for (const a of pool) {
      if (JSON.stringify(s(a.state, a.state)) !== JSON.stringify(a.state)) return void t.fail('not idempotent');
      if (JSON.stringify(s(a.state, dvv.empty())) !== JSON.stringify(a.state)) return void t.fail('empty is not an identity');
      for (const b of pool) {
        const ab = s(a.state, b.state);
        if (JSON.stringify(ab) !== JSON.stringify(s(b.state, a.state))) return void t.fail(`not commutative (seed ${seed})`);
        const union = new Set([...a.seen, ...b.seen]);
        const err = sim.check(ab, union);
        if (err !== null) return void t.fail(`sync result wrong (seed ${seed}): ${err}`);
        if (JSON.stringify(s(ab, b.state)) !== JSON.stringify(ab)) return void t.fail('absorption (a+b)+b failed');
      }
    }
    for (let i = 0; i < 400; i++) {
      const [a, b, c] = [pick(sim.rnd, pool).state, pick(sim.rnd, pool).state, pick(sim.rnd, pool).state];
      triples++;
      if (JSON.stringify(s(s(a, b), c)) !== JSON.stringify(s(a, s(b, c)))) return void t.fail(`not associative (seed ${seed})`);
    }
  }
  t.log(`${triples} random triples`);
  t.pass();
});

// ---------------------------------------------------------------------------
// the randomized replica simulation

test('simulation: 3 replicas, random reads/writes/replication; survivors are exactly the unsuperseded writes', (t) => {
  let totalWrites = 0;
  let totalSiblings = 0;
  let maxSiblings = 0;
  let checks = 0;
  for (let seed = 1000; seed < 1300; seed++) {
    const sim = new Simulation(mulberry32(seed), seed % 3 === 0 ? [0, 1, 2] : [9, 4, 6]);
    const steps = 20 + (seed % 60);
    for (let i = 0; i < steps; i++) {
      sim.step();
      const err = sim.checkAll();
      if (err !== null) return void t.fail(`seed ${seed} step ${i}: ${err}`);
    }
    const all = sim.syncAll();
    const err = sim.checkAll();
    if (err !== null) return void t.fail(`seed ${seed} after sync: ${err}`);
    for (const s of sim.states) t.deepEqual(s, all, 'replicas converge to the same state');
    // survivors: every write no other write's context had seen
    const superseded = new Set<number>();
    for (const w of sim.writes.values()) for (const p of w.past) superseded.add(p);
    const expected = [...sim.writes.keys()].filter((w) => !superseded.has(w));
    t.deepEqual(sortedNum(dvv.values(all)), expected, `seed ${seed}`);
    // and a client that reads the converged state and writes resolves everything
    const resolved = dvv.update(dvv.fromContext(dvv.join(all), -1), all, sim.ids[0]!, cmpNum);
    t.deepEqual(dvv.values(resolved), [-1]);
    totalWrites += sim.writes.size;
    totalSiblings += expected.length;
    maxSiblings = Math.max(maxSiblings, expected.length);
    checks += sim.checks;
  }
  t.log(`${totalWrites} writes, ${totalSiblings} final siblings (max ${maxSiblings}), ${checks} state checks`);
  t.true(maxSiblings >= 3, 'the simulation produces real concurrency');
  t.true(totalSiblings > 300, 'and surviving siblings');
});

// ---------------------------------------------------------------------------
// lww

test('lww keeps exactly the newest value and the whole causal history', (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const sim = runSimulation(seed * 7, 50);
    for (const { state } of sim.pool) {
      const before = dvv.values(state);
      const after = dvv.lww(state, (x, y) => x > y);
      t.deepEqual(dvv.join(after), dvv.join(state));
      if (before.length === 0) {
        t.is(after, state);
        continue;
      }
      t.deepEqual(dvv.values(after), [Math.max(...before)]);
      t.is(dvv.size(after), 1);
      t.notThrows(() => dvv.assertValid(after));
      // a write with the collapsed state's context supersedes it
      const w = dvv.update(dvv.fromContext(dvv.join(after), -5), after, 3, cmpNum);
      t.deepEqual(dvv.values(w), [-5]);
      // a different comparator picks a different winner
      t.deepEqual(dvv.values(dvv.lww(state, (x, y) => x < y)), [Math.min(...before)]);
    }
  }
});

test('lww hand-made: single value untouched, anonymous winner, ties keep the first', (t) => {
  const one = put(dvv.empty(), [], 'a', 1);
  t.is(
    dvv.lww(one, () => true),
    one,
  );
  const s: S = {
    entries: [
      { id: 1, counter: 4, values: ['b', 'a'] },
      { id: 2, counter: 2, values: ['c'] },
    ],
    anonymous: ['z'],
  };
  const byMax = dvv.lww(s, (x, y) => x > y);
  t.deepEqual(byMax, {
    entries: [
      { id: 1, counter: 4, values: [] },
      { id: 2, counter: 2, values: [] },
    ],
    anonymous: ['z'],
  });
  const pickC = dvv.lww(s, (x) => x === 'c');
  t.deepEqual(pickC, {
    entries: [
      { id: 1, counter: 4, values: [] },
      { id: 2, counter: 2, values: [] },
    ],
    anonymous: ['c'],
  });
  const pickA = dvv.lww(s, (x) => x === 'a');
  t.deepEqual(dvv.values(pickA), ['a']);
  // collapsed replicas sync the same way in either order (the winner keeps no dot of its own)
  const other: S = { entries: [{ id: 1, counter: 4, values: ['b', 'a'] }, { id: 2, counter: 2, values: ['c'] }], anonymous: [] };
  const cmpStr = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  const newer = (x: string, y: string): boolean => x > y;
  t.deepEqual(dvv.lww(dvv.sync(pickC, other, cmpStr), newer), dvv.lww(dvv.sync(other, pickC, cmpStr), newer));
  // nothing is newer than anything: the first value (anonymous first) wins
  t.deepEqual(
    dvv.values(dvv.lww(s, () => false)),
    ['z'],
  );
});

// ---------------------------------------------------------------------------
// mergeVV

test('mergeVV is the pointwise max, sorted by actor id', (t) => {
  t.deepEqual(dvv.mergeVV(), []);
  t.deepEqual(dvv.mergeVV([]), []);
  t.deepEqual(
    dvv.mergeVV(
      [
        [1, 3],
        [4, 1],
      ],
      [
        [1, 2],
        [2, 7],
        [4, 5],
      ],
      [[9, 0]],
    ),
    [
      [1, 3],
      [2, 7],
      [4, 5],
      [9, 0],
    ],
  );
  const rnd = mulberry32(31337);
  for (let i = 0; i < 500; i++) {
    const k = randInt(rnd, 5);
    const vvs: [number, number][][] = [];
    const model = new Map<number, number>();
    for (let j = 0; j < k; j++) {
      const ids = sortedNum(new Set(Array.from({ length: randInt(rnd, 6) }, () => randInt(rnd, 12))));
      const vv = ids.map((id) => [id, randInt(rnd, 2 ** 40)] as [number, number]);
      for (const [id, c] of vv) model.set(id, Math.max(model.get(id) ?? -1, c));
      vvs.push(vv);
    }
    const got = dvv.mergeVV(...vvs);
    t.deepEqual(
      got,
      [...model.entries()].sort((a, b) => a[0] - b[0]),
    );
    // commutative and idempotent
    t.deepEqual(dvv.mergeVV(...[...vvs].reverse()), got);
    t.deepEqual(dvv.mergeVV(got, ...vvs), got);
  }
});

// ---------------------------------------------------------------------------
// assertValid

test('assertValid accepts valid clocks and rejects corrupt ones', (t) => {
  t.notThrows(() => dvv.assertValid(dvv.empty()));
  t.notThrows(() =>
    dvv.assertValid({
      entries: [
        { id: 0, counter: 0, values: [] },
        { id: 1, counter: 2, values: ['a', 'b'] },
      ],
      anonymous: ['x'],
    }),
  );
  const corrupt: [string, S][] = [
    [
      'ids out of order',
      {
        entries: [
          { id: 2, counter: 1, values: [] },
          { id: 1, counter: 1, values: [] },
        ],
        anonymous: [],
      },
    ],
    [
      'duplicate ids',
      {
        entries: [
          { id: 1, counter: 1, values: [] },
          { id: 1, counter: 2, values: [] },
        ],
        anonymous: [],
      },
    ],
    ['negative id', { entries: [{ id: -1, counter: 1, values: [] }], anonymous: [] }],
    ['fractional id', { entries: [{ id: 0.5, counter: 1, values: [] }], anonymous: [] }],
    ['NaN id', { entries: [{ id: Number.NaN, counter: 1, values: [] }], anonymous: [] }],
    ['negative counter', { entries: [{ id: 1, counter: -1, values: [] }], anonymous: [] }],
    ['fractional counter', { entries: [{ id: 1, counter: 1.5, values: [] }], anonymous: [] }],
    ['more values than events', { entries: [{ id: 1, counter: 1, values: ['a', 'b'] }], anonymous: [] }],
    ['values with counter 0', { entries: [{ id: 1, counter: 0, values: ['a'] }], anonymous: [] }],
  ];
  for (const [what, s] of corrupt) t.throws(() => dvv.assertValid(s), { message: /corrupt clock/ }, what);
});

test('every state reached by the simulation is structurally valid', (t) => {
  const sim = runSimulation(4242, 300);
  t.true(sim.pool.length > 100);
  for (const { state } of sim.pool) dvv.assertValid(state);
  t.pass();
});

test('firstCounter: a new entry starts there, one with no values jumps to it, one with values counts on by one', (t) => {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const fresh = dvv.update(dvv.fromContext([], 'a'), dvv.empty<string>(), 1, cmp, 5000);
  t.deepEqual(fresh.entries, [{ id: 1, counter: 5000, values: ['a'] }]);
  const next = dvv.update(dvv.fromContext([], 'b'), fresh, 1, cmp, 9000);
  t.deepEqual(next.entries, [{ id: 1, counter: 5001, values: ['b', 'a'] }], 'values name consecutive events: no jump');
  const superseded = dvv.update(dvv.fromContext(dvv.join(next), 'c'), next, 1, cmp, 9000);
  t.deepEqual(superseded.entries, [{ id: 1, counter: 9000, values: ['c'] }], 'nothing of the entry left: it may jump');
  t.deepEqual(dvv.update(dvv.fromContext([], 'd'), dvv.empty<string>(), 1, cmp).entries, [{ id: 1, counter: 1, values: ['d'] }], 'default 1');
});

test('a key collected and written again: an old copy that resurfaces loses to the new life, not the other way round', (t) => {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  // first life: writer 8 made events up to 6; the key was collected on some replicas, one kept it
  let old = dvv.empty<string>();
  const bornMs = Date.UTC(2026, 0, 1);
  for (let i = 1; i <= 6; i++) old = dvv.update(dvv.fromContext(dvv.join(old), `old${i}`), old, 8, cmp, dvv.firstCounterAt(bornMs));
  // second life, written from an empty clock a second later
  const reborn = dvv.update(dvv.fromContext([], 'new'), dvv.empty<string>(), 8, cmp, dvv.firstCounterAt(bornMs + 1000));
  t.deepEqual(dvv.values(dvv.sync(old, reborn, cmp)), ['new'], 'the new value survives a merge with the old copy');
  t.deepEqual(dvv.values(dvv.sync(reborn, old, cmp)), ['new']);
  // what counters starting at 1 did: the old copy's dot 6 covered the new life's dot 1, and the new value vanished
  const restarted = dvv.update(dvv.fromContext([], 'new'), dvv.empty<string>(), 8, cmp);
  t.deepEqual(dvv.values(dvv.sync(old, restarted, cmp)), ['old6']);
  t.true(dvv.firstCounterAt(bornMs + 1) - dvv.firstCounterAt(bornMs) === dvv.FIRST_COUNTERS_PER_MS);
});
