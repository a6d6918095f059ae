import { arcRanges, type Arc } from '../ring/ring.js';
import { differingLeaves, leafRanges, LEAVES_PER_ARC, type ArcTree } from './merkle.js';

/**
 * How an anti-entropy pass keeps its memory within a budget, whatever the
 * number of keys. Pure: no I/O.
 *
 * A pass holds two things that do not shrink with a streaming scan: the
 * Merkle trees it compares and the ranges it asks replicas to push. Trees
 * are built a batch of arcs at a time (the batch sized so its trees fit
 * half the budget) and each arc's trees are dropped as soon as they are
 * compared; push ranges are sent, and awaited, whenever they would outgrow
 * the other half. Sizes are estimates of what V8 keeps for them, counted
 * the same way everywhere, so the peak a pass reports is comparable with
 * the budget it was given.
 */

/** A tree's fixed part (object, root string, counters) on the main thread, in bytes. */
export const TREE_FIXED_BYTES = 192;
/** One leaf: a 16-char hex string (~32 bytes in V8) plus its array slot. */
export const TREE_BYTES_PER_LEAF = 40;
/** One [from, to) pair in a push or reap list (a two-element array). */
export const RANGE_BYTES = 48;

/** Estimated bytes one arc tree of `leaves` leaves holds. */
export function treeBytes(leaves = LEAVES_PER_ARC): number {
  return TREE_FIXED_BYTES + leaves * TREE_BYTES_PER_LEAF;
}

/** Most ranges one arc's comparison can add: every leaf differs (2 ranges when it wraps) for every replica group but the largest. */
export function maxRangesPerArc(n: number, leaves = LEAVES_PER_ARC): number {
  return 2 * leaves * Math.max(1, n - 1);
}

/**
 * The smallest budget a pass can keep to with N replicas: one arc's trees
 * in one half, one arc's worst-case push ranges in the other.
 */
export function minimumPassBytes(n: number, leaves = LEAVES_PER_ARC): number {
  return 2 * Math.max(n * treeBytes(leaves), maxRangesPerArc(n, leaves) * RANGE_BYTES);
}

export interface ArcBatch {
  /** Arc indexes, in ring order. */
  readonly arcs: readonly number[];
  /** Trees the batch builds (one per live replica of each arc) and their estimated bytes. */
  readonly trees: number;
  readonly bytes: number;
}

/**
 * The batch that starts at `arcs[from]`: as many arcs, in ring order, as
 * fit `maxTreeBytes` (one tree per live replica) and `maxArcs` (at least
 * one). An arc with no live replica builds no tree but still belongs to a
 * batch (it counts as incomplete). Throws RangeError when one arc's trees
 * alone do not fit.
 */
export function nextBatch(arcs: readonly Pick<Arc, 'index' | 'preference'>[], from: number, live: ReadonlySet<number>, maxTreeBytes: number, maxArcs = Infinity, bytesPerTree = treeBytes()): ArcBatch {
  if (!(maxArcs >= 1)) throw new RangeError(`maxArcs must be at least 1, got ${maxArcs}`);
  const batch: number[] = [];
  let trees = 0;
  for (let i = from; i < arcs.length && batch.length < maxArcs; i++) {
    const arc = arcs[i]!;
    const t = arc.preference.filter((id) => live.has(id)).length;
    if (t * bytesPerTree > maxTreeBytes) throw new RangeError(`one arc's ${t} trees (${t * bytesPerTree} bytes) exceed the batch budget of ${maxTreeBytes} bytes`);
    if (batch.length > 0 && (trees + t) * bytesPerTree > maxTreeBytes) break;
    batch.push(arc.index);
    trees += t;
  }
  return { arcs: batch, trees, bytes: trees * bytesPerTree };
}

/**
 * Entries a batch of tree builds scans, all replicas together, that the
 * walk aims for. The replicas of an arc are scanned one after another in
 * the pool, so a write that lands between two of its replicas' scans makes
 * their leaf differ and the pass pushes the whole leaf although nothing is
 * missing. A batch of ~200 k entries keeps that window near a second at
 * full scan speed. Before, a batch was as many arcs as the memory budget
 * allowed (~500): at 20 M keys the replicas of one arc were scanned up to a
 * minute apart, and a light overwrite load (100/s) made every pass push
 * 4.5 M entries that were already everywhere.
 */
export const BATCH_SCAN_ENTRIES = 200_000;

/** Arcs in the first batch of a walk, before any arc's size is known. */
export const FIRST_BATCH_ARCS = 16;

/**
 * How many arcs the next batch of a walk may take so that it scans about
 * `targetEntries` entries, from what the builds so far scanned. Pure.
 */
export class BatchSizer {
  private entries = 0;
  private trees = 0;

  constructor(
    private readonly targetEntries = BATCH_SCAN_ENTRIES,
    private readonly firstArcs = FIRST_BATCH_ARCS,
  ) {
    if (!(targetEntries >= 1)) throw new RangeError(`targetEntries must be at least 1, got ${targetEntries}`);
  }

  /** Builds scanned `entries` entries over `trees` trees (one per replica of an arc). */
  saw(entries: number, trees: number): void {
    this.entries += entries;
    this.trees += trees;
  }

  /**
   * Arcs for the next batch, each counted as `replicasPerArc` trees of the
   * mean size seen so far; at least one.
   */
  maxArcs(replicasPerArc: number): number {
    if (this.trees === 0) return this.firstArcs;
    const perArc = (this.entries / this.trees) * Math.max(1, replicasPerArc);
    if (perArc <= 0) return Infinity;
    return Math.max(1, Math.floor(this.targetEntries / perArc));
  }
}

/** One replica asked to push ranges to others. */
export interface PushJob {
  readonly pusher: number;
  readonly peers: readonly number[];
  /** Position ranges [from, to). */
  readonly ranges: readonly [number, number][];
}

export interface ArcComparison {
  /** Replicas whose trees were built. */
  readonly replicas: readonly number[];
  /** Every replica of the arc has a tree. */
  readonly complete: boolean;
  /** Leaves on which the built trees differ. */
  readonly leavesDiffering: number;
  /** Keys and key + value bytes over every built tree. */
  readonly keys: number;
  readonly bytes: number;
  /** Per differing leaf and group of identical replicas, the first of the group pushes the leaf to the others. */
  readonly pushes: readonly PushJob[];
  /**
   * Where a reap may collect tombstones and expired values: every replica's
   * tree built, some holding a collectable entry, and only over the leaves on
   * which every replica is identical (each holds the same entries there, so
   * removing them everywhere resurrects nothing). The whole arc when no leaf
   * differs; none otherwise. A busy arc — writes landing while trees are
   * built — still gets its quiet leaves collected.
   */
  readonly reapRanges: readonly [number, number][];
}

/**
 * Compare one arc's replicas. `trees` is aligned with `arc.preference`
 * (undefined: that replica's tree was not built).
 */
export function compareArc(arc: Pick<Arc, 'start' | 'end' | 'preference'>, trees: readonly (ArcTree | undefined)[]): ArcComparison {
  const replicas: number[] = [];
  const built: ArcTree[] = [];
  arc.preference.forEach((id, i) => {
    const t = trees[i];
    if (t === undefined) return;
    replicas.push(id);
    built.push(t);
  });
  const complete = replicas.length === arc.preference.length;
  const keys = built.reduce((s, t) => s + t.keys, 0);
  const bytes = built.reduce((s, t) => s + t.bytes, 0);
  const leaves = replicas.length < 2 ? [] : differingLeaves(built);
  const collectable = complete && replicas.length >= 2 && built.some((t) => t.tombstones > 0);
  const reapRanges = !collectable ? [] : leaves.length === 0 ? reapRangesOf(arc) : identicalLeafRanges(arc, leaves);
  const pushes: PushJob[] = [];
  for (const leaf of leaves) {
    // replicas with the same leaf hash hold the same entries
    const groups = new Map<string, number[]>();
    built.forEach((t, i) => {
      const h = t.leaves[leaf]!;
      (groups.get(h) ?? groups.set(h, []).get(h)!).push(replicas[i]!);
    });
    const ranges = leafRanges(arc.start, arc.end, leaf).map((r) => [r.from, r.to] as [number, number]);
    for (const members of groups.values()) {
      pushes.push({ pusher: members[0]!, peers: replicas.filter((id) => !members.includes(id)), ranges });
    }
  }
  return { replicas, complete, leavesDiffering: leaves.length, keys, bytes, pushes, reapRanges };
}

/** The ranges of the arc's leaves not in `differing`, adjacent ones merged. */
function identicalLeafRanges(arc: Pick<Arc, 'start' | 'end'>, differing: readonly number[]): [number, number][] {
  const skip = new Set(differing);
  const out: [number, number][] = [];
  for (let leaf = 0; leaf < LEAVES_PER_ARC; leaf++) {
    if (skip.has(leaf)) continue;
    for (const r of leafRanges(arc.start, arc.end, leaf)) {
      const last = out[out.length - 1];
      if (last !== undefined && last[1] === r.from) last[1] = r.to;
      else out.push([r.from, r.to]);
    }
  }
  return out;
}

/** The reap ranges of an arc, as [from, to) pairs. */
export function reapRangesOf(arc: Pick<Arc, 'start' | 'end'>): [number, number][] {
  return arcRanges(arc.start, arc.end).map((r) => [r.from, r.to] as [number, number]);
}

/**
 * Push jobs gathered over arcs, one per (pusher, set of peers), so a pusher
 * gets one SyncRanges per peer set rather than one per leaf.
 */
export class PushPlan {
  private readonly jobs = new Map<string, { pusher: number; peers: number[]; ranges: [number, number][] }>();
  private count = 0;

  add(job: PushJob): void {
    const peers = [...job.peers].sort((a, b) => a - b);
    const key = `${job.pusher}>${peers.join(',')}`;
    const j = this.jobs.get(key) ?? this.jobs.set(key, { pusher: job.pusher, peers, ranges: [] }).get(key)!;
    for (const r of job.ranges) j.ranges.push([r[0], r[1]]);
    this.count += job.ranges.length;
  }

  /** Ranges held. */
  get ranges(): number {
    return this.count;
  }

  /** The jobs gathered so far, and an empty plan. */
  drain(): PushJob[] {
    const out = [...this.jobs.values()];
    this.jobs.clear();
    this.count = 0;
    return out;
  }
}

/** What a pass held at its peak. */
export interface HeldPeak {
  readonly bytes: number;
  readonly trees: number;
  readonly ranges: number;
}

/**
 * Counts what a pass holds (trees and ranges, with their estimated bytes)
 * against its budget and remembers the peak. Holding more than the budget
 * is a planning bug: RangeError.
 */
export class PassLedger {
  private trees = 0;
  private ranges = 0;
  private peakBytes = 0;
  private peakTrees = 0;
  private peakRanges = 0;

  constructor(
    readonly maxBytes: number,
    private readonly bytesPerTree = treeBytes(),
  ) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  }

  get bytes(): number {
    return this.trees * this.bytesPerTree + this.ranges * RANGE_BYTES;
  }

  /** Whether `ranges` more ranges would still fit half the budget (the other half is the trees'). */
  rangesFit(ranges: number): boolean {
    return (this.ranges + ranges) * RANGE_BYTES <= Math.floor(this.maxBytes / 2);
  }

  holdTrees(count: number): void {
    this.trees += count;
    this.check();
  }

  releaseTrees(count: number): void {
    this.trees = Math.max(0, this.trees - count);
  }

  holdRanges(count: number): void {
    this.ranges += count;
    this.check();
  }

  releaseRanges(count: number): void {
    this.ranges = Math.max(0, this.ranges - count);
  }

  get peak(): HeldPeak {
    return { bytes: this.peakBytes, trees: this.peakTrees, ranges: this.peakRanges };
  }

  private check(): void {
    const bytes = this.bytes;
    if (bytes > this.maxBytes) throw new RangeError(`internal: a pass would hold ${bytes} bytes (${this.trees} trees, ${this.ranges} ranges), over its budget of ${this.maxBytes}`);
    this.peakBytes = Math.max(this.peakBytes, bytes);
    this.peakTrees = Math.max(this.peakTrees, this.trees);
    this.peakRanges = Math.max(this.peakRanges, this.ranges);
  }
}
