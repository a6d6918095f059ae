import type { Ring } from '../ring/ring.js';
import { buildTrees } from './trees.js';

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
 * anti-entropy uses (built in the piscina pool over read-only snapshots),
 * and report the arcs whose replicas differ. Every actor is read, up or not.
 */
export async function compareReplicas(ring: Ring, pathOf: (id: number) => string, compressionThresholdBytes: number): Promise<ReplicaComparison> {
  const { trees, failed } = await buildTrees(ring, [...ring.members.keys()], pathOf, compressionThresholdBytes);
  const [firstFailure] = failed.values();
  if (firstFailure !== undefined) throw firstFailure;
  const keysPerActor: Record<number, number> = {};
  for (const [id, arcs] of trees) keysPerActor[id] = [...arcs.values()].reduce((s, t) => s + t.keys, 0);
  const divergent: ReplicaComparison['divergent'] = [];
  for (const arc of ring.arcs()) {
    const digests: Record<number, RangeDigest> = {};
    for (const id of arc.preference) {
      const t = trees.get(id)!.get(arc.index)!;
      digests[id] = { keys: t.keys, bytes: t.bytes, root: t.root };
    }
    if (new Set(Object.values(digests).map((d) => d.root)).size > 1) divergent.push({ arc: arc.index, digests });
  }
  return { arcs: ring.arcCount, identical: ring.arcCount - divergent.length, divergent, keysPerActor };
}
