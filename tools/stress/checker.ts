/**
 * The stress lab's consistency checker: pure functions over a recorded
 * history (no I/O, no clock), in the spirit of Jepsen's checkers.
 *
 * A history is every operation a client invoked: when it started and
 * completed, on which key, what it wrote or read, and how it ended. Each
 * write names the write ids it superseded (the values its context had seen),
 * which gives the causal order the checks need without trusting the store.
 */
export type Outcome = 'ok' | 'fail' | 'info'; // info: unknown (timed out) — may or may not have happened

export interface WriteOp {
  readonly kind: 'write';
  readonly id: string; // unique value id written
  readonly key: string;
  readonly process: number;
  readonly invokeMs: number;
  readonly completeMs: number;
  readonly outcome: Outcome;
  /** Write ids this write's context had seen (it supersedes them). */
  readonly supersedes: readonly string[];
}

export interface ReadOp {
  readonly kind: 'read';
  readonly key: string;
  readonly process: number;
  readonly invokeMs: number;
  readonly completeMs: number;
  readonly outcome: Outcome;
  /** Write ids returned (all siblings). */
  readonly values: readonly string[];
}

export type Op = WriteOp | ReadOp;

/** What each replica holds per key after the run (e.g. from cluster.inspect): replica → write ids. */
export type ReplicaSnapshot = ReadonlyMap<string, ReadonlyMap<number, readonly string[]>>;

export interface Verdict<T> {
  readonly valid: boolean;
  readonly violations: readonly T[];
}

/** Every write id that is a (transitive) ancestor of `id`: what `id` superseded, directly or not. */
export function ancestors(writes: ReadonlyMap<string, WriteOp>, id: string, limit = 1_000_000): Set<string> {
  const out = new Set<string>();
  const stack = [...(writes.get(id)?.supersedes ?? [])];
  while (stack.length > 0) {
    if (out.size >= limit) throw new RangeError(`ancestry of ${id} exceeds ${limit} writes`);
    const a = stack.pop()!;
    if (out.has(a)) continue;
    out.add(a);
    for (const p of writes.get(a)?.supersedes ?? []) stack.push(p);
  }
  return out;
}

function indexWrites(history: readonly Op[]): Map<string, WriteOp> {
  const writes = new Map<string, WriteOp>();
  for (const op of history) {
    if (op.kind !== 'write') continue;
    if (writes.has(op.id)) throw new Error(`write id ${op.id} appears twice: ids must be unique`);
    writes.set(op.id, op);
  }
  return writes;
}

export interface LostWrite {
  readonly key: string;
  readonly write: WriteOp;
}

/**
 * No acknowledged write lost: after heal and repair, every write that was
 * acknowledged is in the final value of its key, or is an ancestor of
 * something that is (a causally later write of that key superseded it).
 */
export function checkNoLostWrites(history: readonly Op[], finalValues: ReadonlyMap<string, readonly string[]>): Verdict<LostWrite> {
  const writes = indexWrites(history);
  const accounted = new Set<string>();
  for (const values of finalValues.values()) {
    for (const v of values) {
      accounted.add(v);
      for (const a of ancestors(writes, v)) accounted.add(a);
    }
  }
  const violations: LostWrite[] = [];
  for (const w of writes.values()) {
    if (w.outcome !== 'ok' || accounted.has(w.id)) continue;
    // superseded by a write of the same key that is itself accounted for
    violations.push({ key: w.key, write: w });
  }
  return { valid: violations.length === 0, violations };
}

export interface StaleRead {
  readonly read: ReadOp;
  /** An acknowledged write that completed before the read began and that the read neither returned nor superseded. */
  readonly missed: WriteOp;
}

/**
 * Read-your-acknowledged-writes under strict W + R > N: a read that starts
 * after a write of its key was acknowledged returns that write, something
 * causally later, or something concurrent — never only older values.
 */
export function checkNoStaleReads(history: readonly Op[]): Verdict<StaleRead> {
  const writes = indexWrites(history);
  const byKey = new Map<string, WriteOp[]>();
  for (const w of writes.values()) if (w.outcome === 'ok') (byKey.get(w.key) ?? byKey.set(w.key, []).get(w.key)!).push(w);
  const violations: StaleRead[] = [];
  for (const op of history) {
    if (op.kind !== 'read' || op.outcome !== 'ok') continue;
    const before = (byKey.get(op.key) ?? []).filter((w) => w.completeMs < op.invokeMs);
    if (before.length === 0) continue;
    const returnedAncestry = new Set<string>();
    for (const v of op.values) for (const a of ancestors(writes, v)) returnedAncestry.add(a);
    for (const w of before) {
      if (op.values.includes(w.id) || returnedAncestry.has(w.id)) continue; // w itself, or superseded by what was read
      const wAncestry = ancestors(writes, w.id);
      // stale only if everything read is older than w (an ancestor of it), or nothing was read
      if (op.values.every((v) => wAncestry.has(v))) violations.push({ read: op, missed: w });
    }
  }
  return { valid: violations.length === 0, violations };
}

export interface DivergentKey {
  readonly key: string;
  readonly replicas: ReadonlyMap<number, readonly string[]>;
}

/** Convergence: after heal, every replica of every key holds the same set of versions. */
export function checkConvergence(snapshot: ReplicaSnapshot): Verdict<DivergentKey> {
  const violations: DivergentKey[] = [];
  for (const [key, replicas] of snapshot) {
    const states = [...replicas.values()].map((ids) => [...ids].sort().join('\u0000'));
    if (new Set(states).size > 1) violations.push({ key, replicas });
  }
  return { valid: violations.length === 0, violations };
}

export interface StalenessBucket {
  /** Lower bound of the time since the latest acknowledged write, ms. */
  readonly sinceWriteMs: number;
  readonly reads: number;
  readonly stale: number;
  readonly fraction: number;
}

/**
 * Staleness measured rather than judged (the PBS view): for each read, take
 * the latest write of its key acknowledged before the read began; the read
 * is stale if it returned neither that write nor anything that superseded
 * it. Reads are bucketed by how long after that acknowledgement they began.
 */
export function stalenessCurve(history: readonly Op[], bucketMs: readonly number[] = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]): StalenessBucket[] {
  const writes = indexWrites(history);
  const byKey = new Map<string, WriteOp[]>();
  for (const w of writes.values()) if (w.outcome === 'ok') (byKey.get(w.key) ?? byKey.set(w.key, []).get(w.key)!).push(w);
  for (const list of byKey.values()) list.sort((a, b) => a.completeMs - b.completeMs);
  const counts = bucketMs.map(() => ({ reads: 0, stale: 0 }));
  for (const op of history) {
    if (op.kind !== 'read' || op.outcome !== 'ok') continue;
    const list = byKey.get(op.key);
    if (list === undefined) continue;
    let latest: WriteOp | undefined;
    for (const w of list) if (w.completeMs < op.invokeMs) latest = w;
    if (latest === undefined) continue;
    const since = op.invokeMs - latest.completeMs;
    let b = 0;
    while (b + 1 < bucketMs.length && bucketMs[b + 1]! <= since) b++;
    counts[b]!.reads++;
    const seen = new Set(op.values);
    for (const v of op.values) for (const a of ancestors(writes, v)) seen.add(a);
    if (!seen.has(latest.id)) counts[b]!.stale++;
  }
  return bucketMs.map((sinceWriteMs, i) => ({ sinceWriteMs, reads: counts[i]!.reads, stale: counts[i]!.stale, fraction: counts[i]!.reads === 0 ? 0 : counts[i]!.stale / counts[i]!.reads }));
}
