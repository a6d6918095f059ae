import { Piscina } from 'piscina';
import type { Ring } from '../ring/ring.js';
import type { ArcTree } from './merkle.js';
import type { MerkleTask } from './merkle-task.js';

const MERKLE_ENTRY = new URL('../../workers/merkle.js', import.meta.url).href;

export interface ActorTrees {
  /** actor → arc index → that replica's tree of the arc. */
  readonly trees: Map<number, Map<number, ArcTree>>;
  /** Actors whose trees could not be built (e.g. wiped meanwhile), and why. */
  readonly failed: Map<number, Error>;
}

/**
 * Build the Merkle tree of every arc each given actor replicates, in a
 * piscina pool over read-only LMDB snapshots (off every actor's event loop).
 * The pool lives for the call; one task per actor. Every task is awaited
 * before the pool is destroyed: piscina throws, outside any promise, on a
 * reply that arrives after its pool is gone.
 */
export async function buildTrees(ring: Ring, actors: readonly number[], pathOf: (id: number) => string, compressionThresholdBytes: number): Promise<ActorTrees> {
  const arcs = ring.arcs();
  const pool = new Piscina({ filename: MERKLE_ENTRY, maxThreads: 2, minThreads: 0, maxQueue: 1024 });
  try {
    const trees = new Map<number, Map<number, ArcTree>>();
    const failed = new Map<number, Error>();
    await Promise.all(
      actors.map(async (id) => {
        const mine = arcs.filter((a) => a.preference.includes(id)).map((a) => ({ index: a.index, start: a.start, end: a.end }));
        const task: MerkleTask = { path: pathOf(id), compressionThresholdBytes, arcs: mine };
        try {
          const built = (await pool.run(task)) as ArcTree[];
          trees.set(id, new Map(built.map((t) => [t.arc, t])));
        } catch (err) {
          failed.set(id, err as Error);
        }
      }),
    );
    return { trees, failed };
  } finally {
    await pool.destroy();
  }
}
