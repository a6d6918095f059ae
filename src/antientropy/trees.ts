import { Piscina } from 'piscina';
import type { Ring } from '../ring/ring.js';
import type { ArcTree } from './merkle.js';
import type { MerkleTask } from './merkle-task.js';

const MERKLE_ENTRY = new URL('../../workers/merkle.js', import.meta.url).href;

/**
 * Build the Merkle tree of every arc each given actor replicates, in a
 * piscina pool over read-only LMDB snapshots (off every actor's event loop).
 * The pool lives for the call; one task per actor.
 */
export async function buildTrees(ring: Ring, actors: readonly number[], pathOf: (id: number) => string, compressionThresholdBytes: number): Promise<Map<number, Map<number, ArcTree>>> {
  const arcs = ring.arcs();
  const pool = new Piscina({ filename: MERKLE_ENTRY, maxThreads: 2, minThreads: 0, maxQueue: 1024 });
  try {
    const out = new Map<number, Map<number, ArcTree>>();
    await Promise.all(
      actors.map(async (id) => {
        const mine = arcs.filter((a) => a.preference.includes(id)).map((a) => ({ index: a.index, start: a.start, end: a.end }));
        const task: MerkleTask = { path: pathOf(id), compressionThresholdBytes, arcs: mine };
        try {
          const trees = (await pool.run(task)) as ArcTree[];
          out.set(id, new Map(trees.map((t) => [t.arc, t])));
        } catch (err) {
          // e.g. the actor was wiped meanwhile: leave it out of this pass; the next one includes it
          console.error(`ringkv: cannot build actor ${id}'s Merkle trees this pass: ${(err as Error).message}`);
        }
      }),
    );
    return out;
  } finally {
    await pool.destroy();
  }
}
