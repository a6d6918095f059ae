import type { Ring } from '../ring/ring.js';
import { PassLedger } from './pass-plan.js';
import { walkTrees, type TreeSource } from './trees.js';

/** What one replica holds of one arc. */
export interface RangeDigest {
  readonly keys: number;
  readonly bytes: number;
  /** Root of the replica's Merkle tree of the arc (hex): equal roots, equal contents. */
  readonly root: string;
}

export interface ReplicaComparison {
  readonly arcs: number;
  /** Arcs whose replicas agree. */
  readonly identical: number;
  readonly divergent: { arc: number; digests: Record<number, RangeDigest> }[];
  /** Total keys held per actor (each key once per replica). */
  readonly keysPerActor: Record<number, number>;
}

/**
 * Compare every replica of every arc by the roots of the same Merkle trees
 * anti-entropy uses (built in the pool over read-only snapshots, a batch of
 * arcs at a time within `maxBytes`), and report the arcs whose replicas
 * differ. Every actor is read, up or not.
 */
export async function compareReplicas(ring: Ring, source: TreeSource, maxBytes: number): Promise<ReplicaComparison> {
  const keysPerActor: Record<number, number> = {};
  const divergent: ReplicaComparison['divergent'] = [];
  const failed = await walkTrees(ring, [...ring.members.keys()], source, new PassLedger(maxBytes), {
    arc(arc, trees) {
      const digests: Record<number, RangeDigest> = {};
      arc.preference.forEach((id, i) => {
        const t = trees[i];
        if (t === undefined) return;
        digests[id] = { keys: t.keys, bytes: t.bytes, root: t.root };
        keysPerActor[id] = (keysPerActor[id] ?? 0) + t.keys;
      });
      if (new Set(Object.values(digests).map((d) => d.root)).size > 1) divergent.push({ arc: arc.index, digests });
    },
  });
  const [firstFailure] = failed.values();
  if (firstFailure !== undefined) throw firstFailure;
  return { arcs: ring.arcCount, identical: ring.arcCount - divergent.length, divergent, keysPerActor };
}
