import test from 'ava';
import {
  BATCH_SCAN_ENTRIES,
  BatchSizer,
  compareArc,
  FIRST_BATCH_ARCS,
  nextBatch,
  maxRangesPerArc,
  minimumPassBytes,
  PassLedger,
  PushPlan,
  RANGE_BYTES,
  reapRangesOf,
  treeBytes,
} from '../src/antientropy/pass-plan.js';
import { buildArcTree, LEAVES_PER_ARC, leafIndex, type ArcTree } from '../src/antientropy/merkle.js';
import { walkTrees, type ArcSpan } from '../src/antientropy/trees.js';
import { Ring, RING_SIZE, allocateTokens, type RingMember } from '../src/ring/ring.js';
import { ringKey } from '../src/storage/keys.js';
import { encodeClock, isAllTombstones, ValueKind, type Clock } from '../src/versioning/sibling.js';
import { mulberry32 as prng } from './random.js';

function ring(actors: number, vnodes: number, n = 3): Ring {
  const members: RingMember[] = [];
  for (let id = 0; id < actors; id++) members.push({ id, zone: `z${id}`, tokens: allocateTokens(members, id, vnodes) });
  return Ring.build(members, n);
}

// ---------------------------------------------------------------------------
// sizes

test('sizes: a tree, the worst case of one arc, and the smallest budget grow with leaves and n, not keys', (t) => {
  t.is(treeBytes(64), treeBytes() );
  t.true(treeBytes(128) > treeBytes(64));
  t.is(maxRangesPerArc(3), 2 * LEAVES_PER_ARC * 2);
  t.is(maxRangesPerArc(1), 2 * LEAVES_PER_ARC);
  for (const n of [1, 2, 3, 5, 64]) {
    const min = minimumPassBytes(n);
    t.true(min >= 2 * n * treeBytes(), `n=${n}: one arc's trees fit half`);
    t.true(min >= 2 * maxRangesPerArc(n) * RANGE_BYTES, `n=${n}: one arc's ranges fit half`);
  }
  t.true(minimumPassBytes(64) < 1024 * 1024);
});

// ---------------------------------------------------------------------------
// nextBatch

/** Every batch of a walk, cut one after another as walkTrees does (without the adaptive cap unless given). */
function batchArcs(arcs: Parameters<typeof nextBatch>[0], live: ReadonlySet<number>, maxTreeBytes: number, bytesPerTree = treeBytes(), maxArcs = Infinity) {
  const out = [];
  for (let from = 0; from < arcs.length; ) {
    const batch = nextBatch(arcs, from, live, maxTreeBytes, maxArcs, bytesPerTree);
    out.push(batch);
    from += batch.arcs.length;
  }
  return out;
}

test('batchArcs: every arc once, in ring order, each batch within its budget', (t) => {
  const r = ring(5, 32);
  const live = new Set([0, 1, 2, 3, 4]);
  for (const budget of [3 * treeBytes(), 10 * treeBytes(), 100 * treeBytes(), 10_000 * treeBytes()]) {
    const batches = batchArcs(r.arcs(), live, budget);
    t.deepEqual(batches.flatMap((b) => b.arcs), r.arcs().map((a) => a.index));
    for (const b of batches) {
      t.true(b.bytes <= budget);
      t.is(b.trees, b.arcs.length * 3);
      t.is(b.bytes, b.trees * treeBytes());
    }
    // greedy: two neighbouring batches could not have been one
    for (let i = 1; i < batches.length; i++) t.true(batches[i - 1]!.bytes + 3 * treeBytes() > budget);
  }
  t.is(batchArcs(r.arcs(), live, 10_000 * treeBytes()).length, 1, 'a large budget: one batch');
  t.is(batchArcs(r.arcs(), live, 3 * treeBytes()).length, r.arcCount, 'the smallest: an arc per batch');
});

test('batchArcs counts only live replicas, keeps arcs with none, and refuses a budget below one arc', (t) => {
  const r = ring(4, 8);
  const live = new Set([0]);
  const batches = batchArcs(r.arcs(), live, treeBytes());
  t.deepEqual(batches.flatMap((b) => b.arcs), r.arcs().map((a) => a.index));
  t.is(batches.reduce((s, b) => s + b.trees, 0), r.arcs().filter((a) => a.preference.includes(0)).length);
  t.deepEqual(batchArcs(r.arcs(), new Set(), 1).flatMap((b) => b.arcs).length, r.arcCount);
  t.throws(() => batchArcs(r.arcs(), new Set([0, 1, 2, 3]), 3 * treeBytes() - 1), { instanceOf: RangeError });
  t.deepEqual(batchArcs([], live, 1), []);
});

test('batchArcs and nextBatch: maxArcs caps a batch, the memory budget still applies, and a batch has at least one arc', (t) => {
  const r = ring(5, 32);
  const live = new Set([0, 1, 2, 3, 4]);
  const capped = batchArcs(r.arcs(), live, 10_000 * treeBytes(), treeBytes(), 7);
  t.deepEqual(capped.flatMap((b) => b.arcs), r.arcs().map((a) => a.index));
  t.true(capped.every((b) => b.arcs.length <= 7));
  t.is(capped.length, Math.ceil(r.arcCount / 7));
  // the budget is the tighter bound
  t.true(batchArcs(r.arcs(), live, 6 * treeBytes(), treeBytes(), 7).every((b) => b.arcs.length <= 2));
  t.deepEqual(nextBatch(r.arcs(), 5, live, 10_000 * treeBytes(), 1).arcs, [r.arcs()[5]!.index]);
  t.deepEqual(nextBatch(r.arcs(), r.arcCount, live, treeBytes() * 3).arcs, []);
  t.throws(() => nextBatch(r.arcs(), 0, live, 10_000 * treeBytes(), 0), { instanceOf: RangeError });
});

test('BatchSizer: the first batch is FIRST_BATCH_ARCS; then arcs whose replicas together scan about the target', (t) => {
  const s = new BatchSizer(200_000);
  t.is(s.maxArcs(3), FIRST_BATCH_ARCS);
  s.saw(48_000, 3); // 16 000 entries per tree
  t.is(s.maxArcs(3), Math.floor(200_000 / 48_000));
  t.is(s.maxArcs(1), Math.floor(200_000 / 16_000));
  s.saw(0, 3); // the mean over every tree seen: 8 000
  t.is(s.maxArcs(3), Math.floor(200_000 / 24_000));
  const huge = new BatchSizer(10);
  huge.saw(1_000_000, 1);
  t.is(huge.maxArcs(3), 1, 'never below one arc');
  const empty = new BatchSizer();
  empty.saw(0, 30);
  t.is(empty.maxArcs(3), Infinity, 'empty arcs: only the memory budget bounds a batch');
  t.throws(() => new BatchSizer(0), { instanceOf: RangeError });
  t.is(BATCH_SCAN_ENTRIES, 200_000);
});

test("walkTrees: big arcs are built in small batches, so each arc's replicas are built one right after another; every arc is visited once, in ring order", async (t) => {
  const r = ring(5, 16);
  const entriesPerTree = 50_000;
  const calls: { actor: number; arcs: number[] }[] = [];
  const source = {
    async build(actor: number, arcs: readonly ArcSpan[]): Promise<ArcTree[]> {
      calls.push({ actor, arcs: arcs.map((a) => a.index) });
      return arcs.map((a) => ({ arc: a.index, root: 'r', leaves: new Array<string>(LEAVES_PER_ARC).fill('0'), keys: entriesPerTree, bytes: 0, tombstones: 0 }));
    },
  };
  const visited: number[] = [];
  let batches = 0;
  const failed = await walkTrees(r, [0, 1, 2, 3, 4], source, new PassLedger(8 * 1024 * 1024), {
    arc(arc, trees) {
      visited.push(arc.index);
      t.true(trees.every((tree) => tree !== undefined));
    },
    async afterBatch() {
      batches++;
    },
  }, new BatchSizer(300_000));
  t.is(failed.size, 0);
  t.deepEqual(visited, r.arcs().map((a) => a.index));
  // the first batch is FIRST_BATCH_ARCS; after it, 300 000 / (3 x 50 000) = 2 arcs a batch
  t.is(batches, 1 + Math.ceil((r.arcCount - FIRST_BATCH_ARCS) / 2));
  const afterFirst = calls.slice(calls.findIndex((c) => c.arcs.some((i) => i >= FIRST_BATCH_ARCS)));
  t.true(afterFirst.every((c) => c.arcs.length <= 2), 'a task builds at most the batch\'s two arcs');
});

// ---------------------------------------------------------------------------
// compareArc

const tombstone = (ts: number): Clock => ({ entries: [{ id: 1, counter: 1, values: [{ kind: ValueKind.Tombstone, timestampMs: ts, writer: 1, data: new Uint8Array() }] }], anonymous: [] });
const live = (ts: number): Clock => ({ entries: [{ id: 1, counter: 1, values: [{ kind: ValueKind.String, timestampMs: ts, writer: 1, data: Buffer.from('v') }] }], anonymous: [] });

function treeOf(arc: { index: number; start: number; end: number }, entries: { key: Buffer; value: Uint8Array }[]): ArcTree {
  return buildArcTree(arc.index, arc.start, arc.end, entries, LEAVES_PER_ARC, isAllTombstones);
}

test('compareArc: identical replicas push nothing; a reap only where every replica is there and holds tombstones', (t) => {
  const r = ring(5, 4);
  const arc = r.arc(3);
  const pos = (arc.start + 1) % RING_SIZE;
  const entries = [{ key: ringKey(Buffer.from('a'), pos), value: encodeClock(live(1)) }];
  const withTomb = [...entries, { key: ringKey(Buffer.from('b'), pos), value: encodeClock(tombstone(2)) }];
  const same = compareArc(arc, arc.preference.map(() => treeOf(arc, entries)));
  t.like(same, { complete: true, leavesDiffering: 0, keys: 3 });
  t.deepEqual(same.reapRanges, [], 'nothing collectable');
  t.deepEqual(same.pushes, []);
  t.deepEqual(compareArc(arc, arc.preference.map(() => treeOf(arc, withTomb))).reapRanges, reapRangesOf(arc), 'identical everywhere: the whole arc');
  const missing = compareArc(arc, [treeOf(arc, withTomb), undefined, treeOf(arc, withTomb)]);
  t.like(missing, { complete: false, leavesDiffering: 0 });
  t.deepEqual(missing.reapRanges, []);
  t.deepEqual(missing.replicas, [arc.preference[0], arc.preference[2]]);
  t.like(compareArc(arc, [treeOf(arc, withTomb), undefined, undefined]), { leavesDiffering: 0, reapRanges: [], keys: 2 });
  t.deepEqual(reapRangesOf(arc).length >= 1, true);
});

test('compareArc: per differing leaf, the first of each group of identical replicas pushes that leaf to the rest', (t) => {
  const r = ring(5, 4);
  const arc = r.arc(1);
  const rnd = prng(11);
  const len = (arc.end - arc.start + RING_SIZE) % RING_SIZE || RING_SIZE;
  const at = (): number => (arc.start + 1 + Math.floor(rnd() * len)) % RING_SIZE;
  const base = Array.from({ length: 40 }, (_, i) => ({ key: ringKey(Buffer.from(`k${i}`), at()), value: encodeClock(live(i)) }));
  const extra = { key: ringKey(Buffer.from('extra'), at()), value: encodeClock(live(99)) };
  const [a, b, c] = arc.preference;
  // b lacks nothing, a and c lack `extra`
  const cmp = compareArc(arc, [treeOf(arc, base), treeOf(arc, [...base, extra]), treeOf(arc, base)]);
  const leaf = leafIndex(arc.start, arc.end, (extra.key.readUInt32BE(0)));
  t.is(cmp.leavesDiffering, 1);
  t.deepEqual(
    cmp.pushes.map((p) => ({ pusher: p.pusher, peers: [...p.peers] })),
    [
      { pusher: a!, peers: [b!] },
      { pusher: b!, peers: [a!, c!] },
    ],
  );
  t.true(cmp.pushes.every((p) => p.ranges.length >= 1 && p.ranges.every(([from, to]) => from < to)), `leaf ${leaf}`);
  t.deepEqual(cmp.reapRanges, [], 'no tombstones: nothing to collect');
  // with a tombstone held everywhere, the identical leaves are collectable, the differing one is not
  const tomb = { key: ringKey(Buffer.from('gone'), at()), value: encodeClock(tombstone(5)) };
  const busy = compareArc(arc, [treeOf(arc, [...base, tomb]), treeOf(arc, [...base, tomb, extra]), treeOf(arc, [...base, tomb])]);
  const covered = (position: number): boolean => busy.reapRanges.some(([from, to]) => position >= from && position < to);
  t.true(busy.reapRanges.length >= 1);
  t.false(covered(extra.key.readUInt32BE(0)), 'the differing leaf is left alone');
  const tombLeaf = leafIndex(arc.start, arc.end, tomb.key.readUInt32BE(0));
  t.is(covered(tomb.key.readUInt32BE(0)), tombLeaf !== leaf, 'the tombstone is collectable unless it shares the differing leaf');
  for (const b2 of base) t.is(covered(b2.key.readUInt32BE(0)), leafIndex(arc.start, arc.end, b2.key.readUInt32BE(0)) !== leaf);
  // ranges are non-empty and pairwise disjoint
  for (const [i, [from, to]] of busy.reapRanges.entries()) {
    t.true(from < to);
    for (const [j, [f2, t2]] of busy.reapRanges.entries()) if (i !== j) t.true(to <= f2 || t2 <= from);
  }
});

// ---------------------------------------------------------------------------
// PushPlan and PassLedger

test('PushPlan merges jobs per pusher and peer set, counts ranges, and drains empty', (t) => {
  const plan = new PushPlan();
  plan.add({ pusher: 1, peers: [2, 3], ranges: [[0, 10]] });
  plan.add({ pusher: 1, peers: [3, 2], ranges: [[20, 30], [40, 50]] });
  plan.add({ pusher: 1, peers: [2], ranges: [[60, 70]] });
  plan.add({ pusher: 2, peers: [1, 3], ranges: [[80, 90]] });
  t.is(plan.ranges, 5);
  const jobs = plan.drain();
  t.is(jobs.length, 3);
  t.deepEqual(jobs[0], { pusher: 1, peers: [2, 3], ranges: [[0, 10], [20, 30], [40, 50]] });
  t.is(plan.ranges, 0);
  t.deepEqual(plan.drain(), []);
});

test('PassLedger counts trees and ranges, keeps the peak, and refuses to go over its budget', (t) => {
  const ledger = new PassLedger(10 * treeBytes());
  ledger.holdTrees(6);
  ledger.releaseTrees(4);
  ledger.holdRanges(10);
  t.is(ledger.bytes, 2 * treeBytes() + 10 * RANGE_BYTES);
  t.deepEqual(ledger.peak, { bytes: 6 * treeBytes(), trees: 6, ranges: 10 });
  t.true(ledger.rangesFit(Math.floor((5 * treeBytes()) / RANGE_BYTES) - 10));
  t.false(ledger.rangesFit(Math.floor((5 * treeBytes()) / RANGE_BYTES)));
  t.throws(() => ledger.holdTrees(20), { instanceOf: RangeError, message: /over its budget/ });
  ledger.releaseRanges(100);
  ledger.releaseTrees(100);
  t.is(ledger.bytes, 0);
  t.throws(() => new PassLedger(0), { instanceOf: RangeError });
});

// ---------------------------------------------------------------------------
// isAllTombstones (what a Merkle build counts per arc)

test('isAllTombstones: only stored clocks whose every sibling is a tombstone', (t) => {
  t.true(isAllTombstones(encodeClock(tombstone(5))));
  t.false(isAllTombstones(encodeClock(live(5))));
  const both: Clock = { entries: [{ id: 1, counter: 2, values: [...tombstone(1).entries[0]!.values, ...live(2).entries[0]!.values] }], anonymous: [] };
  t.false(isAllTombstones(encodeClock(both)));
  const anonTomb: Clock = { entries: [{ id: 1, counter: 1, values: [] }], anonymous: tombstone(3).entries[0]!.values };
  t.true(isAllTombstones(encodeClock(anonTomb)));
  t.false(isAllTombstones(encodeClock({ entries: [], anonymous: [] })), 'no sibling at all');
  t.false(isAllTombstones(new Uint8Array([9, 9, 9])), 'not a stored clock');
  t.false(isAllTombstones(new Uint8Array()));
  t.false(isAllTombstones(encodeClock(tombstone(5)).subarray(0, 4)), 'truncated');
});
