import { isMainThread } from 'node:worker_threads';
import { lowerThreadPriority } from '../runtime/thread-priority.js';
import { positionBound } from '../storage/keys.js';
import { openReadOnlyData } from '../storage/store.js';
import { arcRanges } from '../ring/ring.js';
import { isAllTombstonesOrExpiring } from '../versioning/sibling.js';
import { buildArcTree, LEAVES_PER_ARC, type ArcTree } from './merkle.js';
import { SharedRate } from '../coordinator/shared-rate.js';
import { scanPauseMs, SCAN_PACE_ENTRIES } from './scan-pace.js';

/** Nice value of a pool thread: it yields to the actors without starving when the machine is busy. */
export const MERKLE_THREAD_NICE = 10;
if (!isMainThread) lowerThreadPriority(MERKLE_THREAD_NICE);

export interface MerkleTask {
  readonly path: string;
  readonly compressionThresholdBytes: number;
  readonly arcs: readonly { index: number; start: number; end: number }[];
  /** The shared scan rate (SharedRate.buffer): entries per second, 0 = unpaced. */
  readonly rate?: SharedArrayBuffer;
}

/** A cell to sleep on: Atomics.wait blocks this pool thread (never the main one) without spinning. */
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs in a piscina thread: one range scan per arc over a read-only
 * snapshot, one tree per arc (in `arcs` order). Entries stream through the
 * hash one at a time; what the task holds is its arcs' trees.
 */
export default async function merkleTask(task: MerkleTask): Promise<ArcTree[]> {
  if (task.arcs.length === 0) return []; // nothing to read (MerklePool.start's warm-up): no env opened
  const env = openReadOnlyData(task.path, task.compressionThresholdBytes);
  try {
    env.resetReadTxn(); // an idle pool thread would otherwise read an old snapshot
    const rate = task.rate === undefined ? null : new SharedRate(task.rate);
    const pace = { startedMs: performance.now(), entries: 0, perSec: 0 };
    return task.arcs.map((arc) => buildArcTree(arc.index, arc.start, arc.end, paced(scanArc(env.data, arc.start, arc.end), rate, pace), LEAVES_PER_ARC, isAllTombstonesOrExpiring));
  } finally {
    await env.close();
  }
}

type Data = ReturnType<typeof openReadOnlyData>['data'];

/** Entries as they come, with a sleep every SCAN_PACE_ENTRIES when the scan is ahead of the shared rate. */
function* paced<T>(entries: Iterable<T>, rate: SharedRate | null, pace: { startedMs: number; entries: number; perSec: number }): Generator<T> {
  for (const e of entries) {
    yield e;
    if (rate === null || ++pace.entries % SCAN_PACE_ENTRIES !== 0) continue;
    const perSec = rate.entriesPerSec;
    if (perSec !== pace.perSec) {
      // a new rate counts from now: no burst to catch up with a raised one, no long stall behind a lowered one
      pace.perSec = perSec;
      pace.startedMs = performance.now();
      pace.entries = 0;
      continue;
    }
    if (perSec <= 0) continue;
    const pauseMs = scanPauseMs(pace.entries, performance.now() - pace.startedMs, perSec);
    if (pauseMs >= 1) Atomics.wait(sleepCell, 0, 0, pauseMs);
  }
}

/** The arc's entries in ring order; a wrapping arc is two scans. */
function* scanArc(data: Data, start: number, end: number): Generator<{ key: Buffer; value: Buffer }> {
  for (const r of arcRanges(start, end)) {
    const options: { start: Buffer; end?: Buffer } = { start: positionBound(r.from) };
    if (r.to < 2 ** 32) options.end = positionBound(r.to);
    for (const { key, value } of data.getRange(options)) yield { key: key as Buffer, value: value as Buffer };
  }
}
