import { isMainThread } from 'node:worker_threads';
import { lowerThreadPriority } from '../runtime/thread-priority.js';
import { positionBound } from '../storage/keys.js';
import { openReadOnlyData } from '../storage/store.js';
import { arcRanges } from '../ring/ring.js';
import { isAllTombstonesOrExpiring } from '../versioning/sibling.js';
import { buildArcTree, LEAVES_PER_ARC, type ArcTree } from './merkle.js';

/** Nice value of a pool thread: it yields to the actors without starving when the machine is busy. */
export const MERKLE_THREAD_NICE = 10;
if (!isMainThread) lowerThreadPriority(MERKLE_THREAD_NICE);

export interface MerkleTask {
  readonly path: string;
  readonly compressionThresholdBytes: number;
  readonly arcs: readonly { index: number; start: number; end: number }[];
}

/**
 * Runs in a piscina thread: one range scan per arc over a read-only
 * snapshot, one tree per arc (in `arcs` order). Entries stream through the
 * hash one at a time; what the task holds is its arcs' trees.
 */
export default async function merkleTask(task: MerkleTask): Promise<ArcTree[]> {
  const env = openReadOnlyData(task.path, task.compressionThresholdBytes);
  try {
    env.resetReadTxn(); // an idle pool thread would otherwise read an old snapshot
    return task.arcs.map((arc) => buildArcTree(arc.index, arc.start, arc.end, scanArc(env.data, arc.start, arc.end), LEAVES_PER_ARC, isAllTombstonesOrExpiring));
  } finally {
    await env.close();
  }
}

type Data = ReturnType<typeof openReadOnlyData>['data'];

/** The arc's entries in ring order; a wrapping arc is two scans. */
function* scanArc(data: Data, start: number, end: number): Generator<{ key: Buffer; value: Buffer }> {
  for (const r of arcRanges(start, end)) {
    const options: { start: Buffer; end?: Buffer } = { start: positionBound(r.from) };
    if (r.to < 2 ** 32) options.end = positionBound(r.to);
    for (const { key, value } of data.getRange(options)) yield { key: key as Buffer, value: value as Buffer };
  }
}
