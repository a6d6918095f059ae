import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import {
  LEAVES_PER_ARC,
  buildArcTree,
  differingLeaves,
  entryHash,
  leafIndex,
  leafRanges,
  type ArcTree,
} from '../src/antientropy/merkle.js';
import merkleTask from '../src/antientropy/merkle-task.js';
import { MerklePool } from '../src/antientropy/merkle-pool.js';
import { Ring, RING_SIZE, allocateTokens, arcLength, inArc, type RingMember } from '../src/ring/ring.js';
import { positionOf, ringKey } from '../src/storage/keys.js';
import { ActorStore } from '../src/storage/store.js';
import { mulberry32 as prng } from './random.js';

// ---------------------------------------------------------------------------
// helpers (local, so this test does not load the cluster through test/helpers.ts)


function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-merkle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const MAX = RING_SIZE - 1;
const pos = (start: number, offset: number): number => (start + 1 + offset) % RING_SIZE;
const offsetOf = (start: number, position: number): number => (position - start - 1 + RING_SIZE) % RING_SIZE;

type Entry = { key: Uint8Array; value: Uint8Array };

/** `count` entries at random positions of the arc, with distinct keys. */
function entriesIn(rnd: () => number, start: number, end: number, count: number): Entry[] {
  const len = arcLength(start, end);
  return Array.from({ length: count }, (_, i) => ({
    key: ringKey(Buffer.from(`key-${i}`), pos(start, Math.floor(rnd() * len))),
    value: Buffer.from(`value-${i}-${Math.floor(rnd() * 1e9)}`),
  }));
}

function shuffled<T>(rnd: () => number, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Checks that the leaf ranges of an arc partition it: every range is well
 * formed and inside the arc, and walking the leaves in order covers offsets
 * 0..length-1 contiguously (so no gaps, no overlaps, lengths sum to the arc).
 * Leaf sizes differ by at most one. Also checks leafIndex at each range's
 * first and last position. Returns the ranges per leaf.
 */
function checkPartition(t: ExecutionContext, start: number, end: number, leaves: number): { from: number; to: number }[][] {
  const length = arcLength(start, end);
  const all = Array.from({ length: leaves }, (_, leaf) => leafRanges(start, end, leaf, leaves));
  let next = 0; // offset the next non-empty leaf must begin at
  const sizes: number[] = [];
  all.forEach((ranges, leaf) => {
    t.true(ranges.length <= 2, `leaf ${leaf} has ${ranges.length} ranges`);
    let size = 0;
    for (const r of ranges) {
      t.true(Number.isInteger(r.from) && Number.isInteger(r.to) && r.from >= 0 && r.from < r.to && r.to <= RING_SIZE, `bad range ${JSON.stringify(r)}`);
      t.true(inArc(r.from, start, end) && inArc(r.to - 1, start, end), `range ${JSON.stringify(r)} leaves arc (${start}, ${end}]`);
      t.is(offsetOf(start, r.from), next, `leaf ${leaf} does not continue where the previous one ended`);
      next += r.to - r.from;
      size += r.to - r.from;
      t.is(leafIndex(start, end, r.from, leaves), leaf);
      t.is(leafIndex(start, end, r.to - 1, leaves), leaf);
    }
    if (ranges.length === 2) t.true(ranges[0]!.to === RING_SIZE && ranges[1]!.from === 0, 'two ranges only when wrapping past 2^32');
    sizes.push(size);
  });
  t.is(next, length, 'leaf ranges sum to the arc length');
  t.true(Math.max(...sizes) - Math.min(...sizes) <= 1, `unequal leaves: ${Math.min(...sizes)}..${Math.max(...sizes)}`);
  return all;
}

// ---------------------------------------------------------------------------
// leafIndex / leafRanges

/** Small arcs (normal, wrapping at 2^32, tiny, exactly `leaves` long, just over), exhaustively position by position. */
const SMALL_ARCS: [number, number][] = [
  [0, 1], // one position
  [5, 6],
  [100, 117], // shorter than 64
  [1000, 1063], // 63 positions
  [1000, 1064], // exactly 64
  [1000, 1065], // 65
  [2000, 2200],
  [2000, 2000 + 64 * 7 + 13],
  [MAX - 10, 20], // wraps: 10 positions above, 21 from 0
  [MAX - 1, 0], // wraps: MAX and 0
  [MAX - 100, 200],
  [MAX, 5], // (2^32-1, 5]: nothing above, starts at 0
  [MAX - 5, MAX], // ends exactly at the top
  [MAX - 300, MAX],
  [10, 20],
];

for (const leaves of [LEAVES_PER_ARC, 1, 3, 7]) {
  test(`small arcs, ${leaves} leaves: every position maps to exactly the leaf whose ranges contain it`, (t) => {
    for (const [start, end] of SMALL_ARCS) {
      const all = checkPartition(t, start, end, leaves);
      const owner = new Map<number, number>(); // position -> leaf whose ranges contain it
      all.forEach((ranges, leaf) => {
        for (const r of ranges) {
          for (let p = r.from; p < r.to; p++) {
            t.false(owner.has(p), `position ${p} in leaves ${owner.get(p)} and ${leaf}`);
            owner.set(p, leaf);
          }
        }
      });
      const length = arcLength(start, end);
      t.is(owner.size, length);
      for (let o = 0; o < length; o++) {
        const p = pos(start, o);
        const leaf = leafIndex(start, end, p, leaves);
        if (owner.get(p) !== leaf) t.fail(`arc (${start}, ${end}] position ${p}: leafIndex ${leaf}, ranges say ${owner.get(p)}`);
      }
      // Leaf indexes never decrease walking the arc.
      let prev = 0;
      for (let o = 0; o < length; o++) {
        const leaf = leafIndex(start, end, pos(start, o), leaves);
        t.true(leaf >= prev);
        prev = leaf;
      }
      // Empty leaves exist exactly when the arc is shorter than the leaf count.
      const empty = all.filter((r) => r.length === 0).length;
      t.is(empty, Math.max(0, leaves - length), `arc (${start}, ${end}]`);
    }
  });
}

test('large arcs partition exactly: normal, wrapping, full circle, near-full circle', (t) => {
  const arcs: [number, number][] = [
    [0, 2 ** 31],
    [123_456_789, 987_654_321],
    [3_000_000_000, 1_000_000_000], // wraps
    [MAX - 1000, 2 ** 31], // wraps right after the top
    [7, 7], // full circle
    [0, 0], // full circle from 0
    [MAX, MAX], // full circle from the top
    [8, 7], // near-full: 2^32 - 1 positions
    [0, MAX], // 2^32 - 1 positions, no wrap
    [MAX, MAX - 1], // 2^32 - 1 positions, wraps at once
  ];
  for (const [start, end] of arcs) {
    for (const leaves of [LEAVES_PER_ARC, 1, 5, 1000]) checkPartition(t, start, end, leaves);
  }
  // The full circle splits into 64 leaves of 2^26 positions each.
  const full = checkPartition(t, 0, 0, 64);
  t.deepEqual(full[0], [{ from: 1, to: 2 ** 26 + 1 }]);
  t.deepEqual(full[63], [{ from: 63 * 2 ** 26 + 1, to: RING_SIZE }, { from: 0, to: 1 }]);
});

test('leafIndex agrees with leafRanges at leaf boundaries of random arcs', (t) => {
  const rnd = prng(1);
  for (let n = 0; n < 300; n++) {
    const start = Math.floor(rnd() * RING_SIZE);
    // mix of short, medium and near-full arcs
    const len = [1 + Math.floor(rnd() * 200), 1 + Math.floor(rnd() * 1e6), RING_SIZE - Math.floor(rnd() * 1000)][n % 3]!;
    const end = (start + len) % RING_SIZE;
    const all = checkPartition(t, start, end, LEAVES_PER_ARC);
    all.forEach((ranges, leaf) => {
      if (ranges.length === 0) return;
      const first = ranges[0]!.from;
      const last = ranges[ranges.length - 1]!.to - 1;
      // just before the leaf belongs to an earlier leaf, just after to a later one (when inside the arc)
      const before = (first - 1 + RING_SIZE) % RING_SIZE;
      const after = (last + 1) % RING_SIZE;
      if (offsetOf(start, first) > 0) t.true(leafIndex(start, end, before) < leaf);
      if (offsetOf(start, last) < arcLength(start, end) - 1) t.true(leafIndex(start, end, after) > leaf);
    });
  }
});

test('leafIndex rejects positions outside the arc and bad arguments', (t) => {
  const cases: [number, number, number][] = [
    [10, 20, 10], // start is exclusive
    [10, 20, 21],
    [10, 20, 0],
    [10, 20, MAX],
    [MAX - 5, 5, 6], // wrapping arc, just past the end
    [MAX - 5, 5, MAX - 5], // wrapping arc, its start
    [10, 20, 15.5],
    [10, 20, -1],
    [0, 0, RING_SIZE], // not a position, even on the full circle
  ];
  for (const [start, end, p] of cases) t.throws(() => leafIndex(start, end, p), { instanceOf: RangeError }, `(${start}, ${end}] ${p}`);
  // 10 positions over 64 leaves: each position is the last leaf of its group, the others are empty.
  t.is(leafIndex(10, 20, 11), 6);
  t.is(leafIndex(10, 20, 20), LEAVES_PER_ARC - 1);
  t.is(leafIndex(0, 0, 0), LEAVES_PER_ARC - 1); // on the full circle from 0, position 0 comes last
  t.is(leafIndex(0, 0, 1), 0);
  for (const leaves of [0, -1, 2.5, NaN]) {
    t.throws(() => leafIndex(10, 20, 15, leaves), { instanceOf: RangeError });
    t.throws(() => leafRanges(10, 20, 0, leaves), { instanceOf: RangeError });
  }
  for (const leaf of [-1, LEAVES_PER_ARC, 1.5]) t.throws(() => leafRanges(10, 20, leaf), { instanceOf: RangeError });
});

// ---------------------------------------------------------------------------
// entryHash

test('entryHash: 64-bit, deterministic, and key/value boundaries matter', (t) => {
  const b = (s: string): Uint8Array => Buffer.from(s);
  const h = entryHash(b('abc'), b('def'));
  t.is(typeof h, 'bigint');
  t.true(h >= 0n && h < 2n ** 64n);
  t.is(entryHash(b('abc'), b('def')), h);
  t.is(entryHash(new Uint8Array(b('abc')), new Uint8Array(b('def'))), h, 'Buffer and Uint8Array hash alike');
  t.not(entryHash(b('ab'), b('cdef')), h);
  t.not(entryHash(b('abcd'), b('ef')), h);
  t.not(entryHash(b('abcdef'), b('')), h);
  t.not(entryHash(b('def'), b('abc')), h);
  t.not(entryHash(b(''), b('')), 0n);
  // no collisions among many small entries
  const seen = new Set<bigint>();
  for (let i = 0; i < 2000; i++) seen.add(entryHash(b(`k${i}`), b(`v${i % 7}`)));
  t.is(seen.size, 2000);
});

// ---------------------------------------------------------------------------
// buildArcTree

const ARCS: [number, number][] = [
  [1_000_000, 50_000_000],
  [MAX - 1_000_000, 2_000_000], // wraps
  [42, 42], // full circle
  [500, 530], // shorter than 64 positions
];

test('buildArcTree: shape, counts, and the empty tree', (t) => {
  const rnd = prng(2);
  for (const [start, end] of ARCS) {
    const entries = entriesIn(rnd, start, end, 200);
    const tree = buildArcTree(9, start, end, entries);
    t.is(tree.arc, 9);
    t.is(tree.leaves.length, LEAVES_PER_ARC);
    t.regex(tree.root, /^[0-9a-f]{16}$/);
    for (const l of tree.leaves) t.regex(l, /^[0-9a-f]{16}$/);
    t.is(tree.keys, 200);
    t.is(tree.bytes, entries.reduce((s, e) => s + e.key.length + e.value.length, 0));
    // A leaf's hash is the XOR of its entries' hashes.
    const expected = new Array<bigint>(LEAVES_PER_ARC).fill(0n);
    for (const e of entries) expected[leafIndex(start, end, positionOf(e.key))]! ^= entryHash(e.key, e.value);
    t.deepEqual(tree.leaves.map((l) => BigInt('0x' + l)), expected);
  }
  const empty = buildArcTree(0, 10, 20, []);
  t.deepEqual(empty.leaves, new Array(LEAVES_PER_ARC).fill('0'.repeat(16)));
  t.is(empty.keys, 0);
  t.is(empty.bytes, 0);
  t.deepEqual(buildArcTree(0, 99, 5, []).root, empty.root, 'the root depends only on the leaves');
  t.not(buildArcTree(0, 10, 20, [], 8).root, empty.root, 'the root covers the leaf count');
  t.is(buildArcTree(0, 10, 20, [], 8).leaves.length, 8);
});

test('buildArcTree is independent of entry order, and identical entry sets give identical trees', (t) => {
  const rnd = prng(3);
  for (const [start, end] of ARCS) {
    const entries = entriesIn(rnd, start, end, 300);
    const tree = buildArcTree(1, start, end, entries);
    for (let i = 0; i < 5; i++) t.deepEqual(buildArcTree(1, start, end, shuffled(rnd, entries)), tree);
    // Same bytes, fresh copies (as another replica would hold them).
    const copies = entries.map((e) => ({ key: Uint8Array.from(e.key), value: Uint8Array.from(e.value) }));
    t.deepEqual(buildArcTree(1, start, end, copies.reverse()), tree);
    // Any iterable will do (a generator, as the task passes).
    t.deepEqual(buildArcTree(1, start, end, (function* () { yield* entries; })()), tree);
  }
});

test('one changed, missing or extra entry changes exactly its leaf and the root', (t) => {
  const rnd = prng(4);
  for (const [start, end] of ARCS) {
    const entries = entriesIn(rnd, start, end, 256);
    const base = buildArcTree(3, start, end, entries);
    for (let trial = 0; trial < 20; trial++) {
      const i = Math.floor(rnd() * entries.length);
      const leaf = leafIndex(start, end, positionOf(entries[i]!.key));
      const changed = entries.map((e, j) => (j === i ? { key: e.key, value: Buffer.concat([e.value, Buffer.from('!')]) } : e));
      const missing = entries.filter((_, j) => j !== i);
      const extraKey = ringKey(Buffer.from(`extra-${trial}`), positionOf(entries[i]!.key)); // same position as entry i
      const extra = [...entries, { key: extraKey, value: Buffer.from('x') }];
      for (const [what, variant] of [['changed', changed], ['missing', missing], ['extra', extra]] as const) {
        const tree = buildArcTree(3, start, end, variant);
        t.not(tree.root, base.root, what);
        t.deepEqual(differingLeaves([base, tree]), [leaf], what);
        t.deepEqual(differingLeaves([tree, base]), [leaf], what);
      }
      // A value moved between two keys' entries is still detected (length prefixes + key in the hash).
      const swapped = entries.map((e, j) => (j === i ? { key: e.key, value: Buffer.alloc(0) } : e));
      t.not(buildArcTree(3, start, end, swapped).root, base.root);
    }
  }
});

test('buildArcTree rejects entries outside the arc and keys without a ring prefix', (t) => {
  const inside = { key: ringKey(Buffer.from('a'), 15), value: Buffer.from('v') };
  for (const p of [10, 21, 0, MAX]) {
    const outside = { key: ringKey(Buffer.from('b'), p), value: Buffer.from('v') };
    t.throws(() => buildArcTree(0, 10, 20, [inside, outside]), { instanceOf: RangeError });
  }
  t.throws(() => buildArcTree(0, MAX - 5, 5, [{ key: ringKey(Buffer.from('c'), 6), value: Buffer.from('v') }]), { instanceOf: RangeError });
  t.throws(() => buildArcTree(0, 0, 0, [{ key: Uint8Array.of(1, 2, 3), value: Buffer.from('v') }]), { instanceOf: RangeError });
  t.notThrows(() => buildArcTree(0, 0, 0, [{ key: Uint8Array.of(1, 2, 3, 4), value: new Uint8Array(0) }]), 'an empty user key is fine');
});

// ---------------------------------------------------------------------------
// differingLeaves

test('differingLeaves across several replicas', (t) => {
  const rnd = prng(6);
  const [start, end] = [1_000, 1_000_000];
  const entries = entriesIn(rnd, start, end, 500);
  const a = buildArcTree(4, start, end, entries);
  const b = buildArcTree(4, start, end, shuffled(rnd, entries));
  t.deepEqual(differingLeaves([a, b]), []);
  t.deepEqual(differingLeaves([a]), []);
  t.deepEqual(differingLeaves([]), []);
  // c lacks two entries in different leaves; d has one extra in a third leaf.
  const byLeaf = (e: Entry): number => leafIndex(start, end, positionOf(e.key));
  const i = 0;
  const j = entries.findIndex((e) => byLeaf(e) !== byLeaf(entries[i]!));
  const c = buildArcTree(4, start, end, entries.filter((_, k) => k !== i && k !== j));
  const extraPos = pos(start, Math.floor(arcLength(start, end) / 2));
  const d = buildArcTree(4, start, end, [...entries, { key: ringKey(Buffer.from('extra'), extraPos), value: Buffer.from('x') }]);
  const expect = [...new Set([byLeaf(entries[i]!), byLeaf(entries[j]!)])].sort((x, y) => x - y);
  t.deepEqual(differingLeaves([a, c]), expect);
  t.deepEqual(differingLeaves([a, b, c]), expect);
  t.deepEqual(differingLeaves([a, d]), [leafIndex(start, end, extraPos)]);
  t.deepEqual(differingLeaves([a, c, d]), [...new Set([...expect, leafIndex(start, end, extraPos)])].sort((x, y) => x - y));
  // Mismatched trees cannot be compared.
  t.throws(() => differingLeaves([a, buildArcTree(5, start, end, entries)]), { instanceOf: RangeError });
  t.throws(() => differingLeaves([a, b, buildArcTree(4, start, end, entries, 32)]), { instanceOf: RangeError });
});

// ---------------------------------------------------------------------------
// merkleTask over a real env

test('merkleTask builds the same trees as buildArcTree over the env', async (t) => {
  const path = tempDir(t);
  const store = ActorStore.open({
    path,
    mapSizeBytes: 2 ** 30,
    compressionThresholdBytes: 1024,
    cacheBytes: 0,
    maxWritesPerCommit: 1000,
    maxPendingWrites: 100_000,
    sync: 'always',
    syncIntervalMs: 100,
  });
  const rnd = prng(7);
  const written: Entry[] = [];
  for (let i = 0; i < 2000; i++) {
    // Some values above the compression threshold: the task must read them back decompressed.
    const value = i % 50 === 0 ? Buffer.from('z'.repeat(4000) + i) : randomBytes(1 + Math.floor(rnd() * 64));
    written.push({ key: ringKey(Buffer.from(`user:${i}`)), value });
  }
  // Entries right at the top and bottom of the ring, so the wrapping arc has both halves.
  written.push({ key: ringKey(Buffer.from('top'), MAX), value: Buffer.from('t') });
  written.push({ key: ringKey(Buffer.from('bottom'), 0), value: Buffer.from('b') });
  try {
    await Promise.all(written.map((e) => store.put(e.key as Buffer, e.value as Buffer)));
  } finally {
    await store.close();
  }

  const members: RingMember[] = [];
  for (let id = 0; id < 4; id++) members.push({ id, zone: `z${id}`, tokens: allocateTokens(members, id, 8) });
  const ring = Ring.build(members, 3);
  const arcs = ring.arcs().map(({ index, start, end }) => ({ index, start, end }));
  t.true(arcs[0]!.start > arcs[0]!.end, 'arc 0 wraps');
  // Every arc, plus the full circle (start === end).
  const task = { path, compressionThresholdBytes: 1024, arcs: [...arcs, { index: 99, start: 12345, end: 12345 }] };
  const trees = await merkleTask(task);

  t.is(trees.length, task.arcs.length);
  task.arcs.forEach((arc, k) => {
    const expected = buildArcTree(arc.index, arc.start, arc.end, written.filter((e) => inArc(positionOf(e.key), arc.start, arc.end)));
    t.deepEqual(trees[k], expected, `arc ${arc.index}`);
  });
  t.is(trees.slice(0, arcs.length).reduce((s, tr) => s + tr.keys, 0), written.length, 'the ring arcs cover every entry once');
  t.is(trees[arcs.length]!.keys, written.length);

  // Trees of the same arcs from a second read are identical; a tree from different data is not.
  t.deepEqual(await merkleTask({ ...task, arcs: [arcs[0]!] }), [trees[0]!]);
  const other: ArcTree = buildArcTree(arcs[0]!.index, arcs[0]!.start, arcs[0]!.end, written.filter((e) => inArc(positionOf(e.key), arcs[0]!.start, arcs[0]!.end)).slice(1));
  t.is(differingLeaves([trees[0]!, other]).length, 1);
});

test('MerklePool: start() runs its thread before any build; builds run on it; close() ends it and refuses new builds', async (t) => {
  const path = tempDir(t);
  const store = ActorStore.open({ path, mapSizeBytes: 2 ** 30, compressionThresholdBytes: 0, cacheBytes: 0, maxWritesPerCommit: 1000, maxPendingWrites: 100_000, sync: 'always', syncIntervalMs: 100 });
  const written: Entry[] = [];
  for (let i = 0; i < 300; i++) written.push({ key: ringKey(Buffer.from(`k${i}`)), value: Buffer.from(`v${i}`) });
  try {
    await Promise.all(written.map((e) => store.put(e.key as Buffer, e.value as Buffer)));
  } finally {
    await store.close();
  }
  const pool = new MerklePool();
  t.is(pool.threadCount, 0, 'no thread before start() or a build');
  pool.start();
  t.is(pool.threadCount, 1, 'the thread runs from start()');
  pool.start(); // idempotent
  t.is(pool.threadCount, 1);
  const trees = await pool.build({ path, compressionThresholdBytes: 0, arcs: [{ index: 0, start: 5, end: 5 }] });
  t.deepEqual(trees, [buildArcTree(0, 5, 5, written)]);
  t.is(pool.threadCount, 1, 'the same thread after a build');
  await pool.close();
  t.is(pool.threadCount, 0);
  await t.throwsAsync(pool.build({ path, compressionThresholdBytes: 0, arcs: [] }), { message: /closed/ });
  t.throws(() => pool.start(), { message: /closed/ });
});
