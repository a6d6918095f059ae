import { Piscina } from 'piscina';
import type { Ring } from '../ring/ring.js';

/** One contiguous ring-position range [from, to) (to = 2^32 means "to the end"). */
export interface PositionRange {
  readonly from: number;
  readonly to: number;
}

export interface DigestTask {
  readonly path: string;
  readonly compressionThresholdBytes: number;
  /** Digest each group of ranges (an arc may be two ranges when it wraps). */
  readonly groups: readonly (readonly PositionRange[])[];
}

export interface RangeDigest {
  readonly keys: number;
  readonly bytes: number;
  /** sha256 over (key, value) pairs in ring order, hex. */
  readonly sha256: string;
}

export interface ReplicaComparison {
  readonly arcs: number;
  /** Arcs whose replicas agree. */
  readonly identical: number;
  readonly divergent: { arc: number; digests: Record<number, RangeDigest> }[];
  /** Total keys held per actor (each key once per replica). */
  readonly keysPerActor: Record<number, number>;
}

const DIGEST_ENTRY = new URL('../../workers/digest.js', import.meta.url).href;

/** The (start, end] arc as position ranges [from, to). */
export function arcRanges(start: number, end: number): PositionRange[] {
  if (start < end) return [{ from: start + 1, to: end + 1 }];
  // wrapping arc: (start, 2^32) and [0, end]
  return [
    { from: start + 1, to: 2 ** 32 },
    { from: 0, to: end + 1 },
  ].filter((r) => r.from < r.to);
}

/**
 * Digest every arc on every replica in a piscina pool (off every actor's
 * event loop, over read-only LMDB snapshots) and report arcs whose replicas
 * differ. The pool lives only for the call.
 */
export async function compareReplicas(ring: Ring, pathOf: (id: number) => string, compressionThresholdBytes: number): Promise<ReplicaComparison> {
  const arcs = ring.arcs();
  const arcsOf = new Map<number, number[]>();
  for (const arc of arcs) for (const id of arc.preference) (arcsOf.get(id) ?? arcsOf.set(id, []).get(id)!).push(arc.index);
  const pool = new Piscina({ filename: DIGEST_ENTRY, maxThreads: 2, minThreads: 0, maxQueue: 1024 });
  try {
    const results = new Map<number, Map<number, RangeDigest>>();
    // allSettled, not all: the pool must not be destroyed while another task still runs
    // (piscina then throws on the late reply, outside any promise).
    const settled = await Promise.allSettled(
      [...arcsOf].map(async ([id, indexes]) => {
        const task: DigestTask = { path: pathOf(id), compressionThresholdBytes, groups: indexes.map((i) => arcRanges(arcs[i]!.start, arcs[i]!.end)) };
        const digests = (await pool.run(task)) as RangeDigest[];
        results.set(id, new Map(indexes.map((i, k) => [i, digests[k]!])));
      }),
    );
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
    const divergent: ReplicaComparison['divergent'] = [];
    const keysPerActor: Record<number, number> = {};
    for (const [id, m] of results) keysPerActor[id] = [...m.values()].reduce((s, d) => s + d.keys, 0);
    for (const arc of arcs) {
      const digests: Record<number, RangeDigest> = {};
      for (const id of arc.preference) digests[id] = results.get(id)!.get(arc.index)!;
      const hashes = new Set(Object.values(digests).map((d) => d.sha256));
      if (hashes.size > 1) divergent.push({ arc: arc.index, digests });
    }
    return { arcs: arcs.length, identical: arcs.length - divergent.length, divergent, keysPerActor };
  } finally {
    await pool.destroy();
  }
}
