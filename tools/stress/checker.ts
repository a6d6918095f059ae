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
  /**
   * A blind write: no context, it replaces whatever the store holds (a Redis
   * SET, a YCSB update or insert). Such writes are ordered against other
   * writes of their key by real time only, as a register's are: one that
   * completed before another began is older; overlapping ones may take
   * effect in either order.
   */
  readonly blind?: boolean;
  /**
   * The value may vanish on its own: it expires (a TTL), or it is a
   * tombstone a GC may collect once expired values beside it are. It is
   * never required in a final value or a later read, and neither is what it
   * may have superseded (it may have been the last value before it went).
   */
  readonly expires?: boolean;
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

/** An increment of a PN-counter (the counter workload): no value id, only an amount. */
export interface IncrementOp {
  readonly kind: 'increment';
  readonly key: string;
  readonly process: number;
  readonly invokeMs: number;
  readonly completeMs: number;
  /** ok: acknowledged; fail: refused before anything was written; info: unknown (timed out, connection lost). */
  readonly outcome: Outcome;
  readonly by: number;
}

export type Op = WriteOp | ReadOp | IncrementOp;

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

/**
 * The order the checks judge by. Causal: a write is older than every write
 * whose context saw it (transitively). Real time, when either write is
 * blind: a write that completed before the other began is older. An
 * indeterminate ('info') write may take effect at any time after it began,
 * so it is never known to be older than anything.
 */
/** A final value's causal closure, and the latest instants at which a write in it (a blind one; any) may have taken effect. */
interface Reach {
  readonly closure: ReadonlySet<string>;
  readonly latestBlindMs: number;
  readonly latestMs: number;
}

class WriteOrder {
  readonly writes = new Map<string, WriteOp>();
  /** Acknowledged writes per key, by completion time. */
  readonly acknowledged = new Map<string, WriteOp[]>();
  private readonly ancestry = new Map<string, Set<string>>();
  private readonly vanishingByKey = new Map<string, string[]>();

  constructor(history: readonly Op[]) {
    for (const op of history) {
      if (op.kind !== 'write') continue;
      if (this.writes.has(op.id)) throw new Error(`write id ${op.id} appears twice: ids must be unique`);
      this.writes.set(op.id, op);
      if (op.expires === true && op.outcome !== 'fail') (this.vanishingByKey.get(op.key) ?? this.vanishingByKey.set(op.key, []).get(op.key)!).push(op.id);
      if (op.outcome === 'ok') (this.acknowledged.get(op.key) ?? this.acknowledged.set(op.key, []).get(op.key)!).push(op);
    }
    for (const list of this.acknowledged.values()) list.sort((a, b) => a.completeMs - b.completeMs);
  }

  ancestors(id: string): Set<string> {
    let a = this.ancestry.get(id);
    if (a === undefined) {
      a = ancestors(this.writes, id);
      this.ancestry.set(id, a);
    }
    return a;
  }

  /** The values and everything they superseded, causally. */
  closure(values: readonly string[]): Set<string> {
    const out = new Set<string>(values);
    for (const v of values) for (const a of this.ancestors(v)) out.add(a);
    return out;
  }

  /** `v` certainly took effect before `w`: an ancestor of it, or (blind) completed before `w` began. */
  definitelyOlder(v: string, w: WriteOp): boolean {
    const vw = this.writes.get(v);
    if (vw === undefined) return false; // not written in this history: nothing known
    if (this.ancestors(w.id).has(v)) return true;
    return (vw.blind === true || w.blind === true) && vw.outcome === 'ok' && vw.completeMs < w.invokeMs;
  }

  /** Ids of the writes of `key` that may vanish on their own (WriteOp.expires), whatever their outcome. */
  vanishing(key: string): readonly string[] {
    return this.vanishingByKey.get(key) ?? [];
  }

  /** What a final value `v` may have superseded: its causal closure, and when the writes in it may have taken effect. */
  reach(v: string): Reach {
    const closure = this.closure([v]);
    let latestBlindMs = -Infinity;
    let latestMs = -Infinity;
    for (const id of closure) {
      const u = this.writes.get(id);
      if (u === undefined) continue;
      const effectMs = u.outcome === 'ok' ? u.completeMs : Infinity; // an unknown write may take effect at any time
      latestMs = Math.max(latestMs, effectMs);
      if (u.blind === true) latestBlindMs = Math.max(latestBlindMs, effectMs);
    }
    return { closure, latestBlindMs, latestMs };
  }

  /**
   * A value with this reach keeps `w`: it is `w` or supersedes it causally,
   * or a write it descends from (itself included) may have taken effect after
   * `w` began where either is blind (a blind write replaces what the
   * coordinator holds, so what it replaced is ordered by real time only).
   */
  keeps(reach: Reach, w: WriteOp): boolean {
    if (reach.closure.has(w.id)) return true;
    if (reach.latestBlindMs > w.invokeMs) return true;
    return w.blind === true && reach.latestMs > w.invokeMs;
  }

  /**
   * The acknowledged writes of `key` that completed before `beforeMs`, minus
   * blind writes certainly older than another of them (judging a read
   * against the newest is enough: whatever keeps that keeps the older ones).
   */
  acknowledgedBefore(key: string, beforeMs: number): WriteOp[] {
    const list = this.acknowledged.get(key);
    if (list === undefined) return [];
    let end = 0;
    let newestBlindInvokeMs = -Infinity;
    while (end < list.length && list[end]!.completeMs < beforeMs) {
      if (list[end]!.blind === true) newestBlindInvokeMs = Math.max(newestBlindInvokeMs, list[end]!.invokeMs);
      end++;
    }
    const out: WriteOp[] = [];
    for (let i = end - 1; i >= 0; i--) {
      const w = list[i]!;
      if (w.blind === true && w.completeMs < newestBlindInvokeMs) continue;
      out.push(w);
    }
    return out;
  }
}

export interface LostWrite {
  readonly key: string;
  readonly write: WriteOp;
}

/**
 * No acknowledged write lost: after heal and repair, every write that was
 * acknowledged is in the final value of its key, or is an ancestor of
 * something that is (a causally later write of that key superseded it), or
 * — for blind writes — something in the final value may have been written
 * after it.
 */
export function checkNoLostWrites(history: readonly Op[], finalValues: ReadonlyMap<string, readonly string[]>): Verdict<LostWrite> {
  const order = new WriteOrder(history);
  const violations: LostWrite[] = [];
  for (const [key, list] of order.acknowledged) {
    const final = finalValues.get(key) ?? [];
    const reaches = [...final, ...order.vanishing(key)].map((v) => order.reach(v));
    for (const w of list) {
      if (w.expires === true) continue;
      if (!reaches.some((reach) => order.keeps(reach, w))) violations.push({ key, write: w });
    }
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
  const order = new WriteOrder(history);
  const violations: StaleRead[] = [];
  for (const op of history) {
    if (op.kind !== 'read' || op.outcome !== 'ok') continue;
    const before = order.acknowledgedBefore(op.key, op.invokeMs);
    if (before.length === 0) continue;
    const returned = order.closure(op.values);
    for (const w of before) {
      if (returned.has(w.id)) continue; // w itself, or superseded by what was read
      // gone by itself, or possibly replaced by a value that then did
      if (w.expires === true || order.vanishing(op.key).some((x) => order.writes.get(x)!.invokeMs < op.completeMs && order.keeps(order.reach(x), w))) continue;
      // stale only if everything read is certainly older than w, or nothing was read
      if (op.values.every((v) => order.definitelyOlder(v, w))) violations.push({ read: op, missed: w });
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
  const order = new WriteOrder(history);
  const counts = bucketMs.map(() => ({ reads: 0, stale: 0 }));
  for (const op of history) {
    if (op.kind !== 'read' || op.outcome !== 'ok') continue;
    const list = order.acknowledged.get(op.key);
    if (list === undefined) continue;
    let latest: WriteOp | undefined;
    for (const w of list) {
      if (w.completeMs >= op.invokeMs) break; // sorted by completion
      latest = w;
    }
    if (latest === undefined) continue;
    const since = op.invokeMs - latest.completeMs;
    let b = 0;
    while (b + 1 < bucketMs.length && bucketMs[b + 1]! <= since) b++;
    counts[b]!.reads++;
    const fresh = op.values.some((v) => order.keeps(order.reach(v), latest));
    if (!fresh) counts[b]!.stale++;
  }
  return bucketMs.map((sinceWriteMs, i) => ({ sinceWriteMs, reads: counts[i]!.reads, stale: counts[i]!.stale, fraction: counts[i]!.reads === 0 ? 0 : counts[i]!.stale / counts[i]!.reads }));
}

export interface CounterViolation {
  readonly key: string;
  /** The counter's final value (null: the key was not found). */
  readonly final: number | null;
  /** Sum of the acknowledged increments. */
  readonly acknowledged: number;
  /** The range the final value may lie in: acknowledged plus any subset of the indeterminate increments. */
  readonly min: number;
  readonly max: number;
}

/**
 * No increment lost, none invented: after heal and repair, each counter's
 * final value is the sum of its acknowledged increments plus some subset of
 * those whose outcome is unknown (timed out: each may or may not have been
 * applied) — so it lies in [acknowledged + Σ negative unknown, acknowledged
 * + Σ positive unknown]. Refused increments (outcome fail) count for nothing.
 */
export function checkCounters(history: readonly Op[], finalValues: ReadonlyMap<string, number | null>): Verdict<CounterViolation> {
  const sums = new Map<string, { acknowledged: number; down: number; up: number }>();
  for (const op of history) {
    if (op.kind !== 'increment' || op.outcome === 'fail') continue;
    const s = sums.get(op.key) ?? { acknowledged: 0, down: 0, up: 0 };
    if (op.outcome === 'ok') s.acknowledged += op.by;
    else if (op.by < 0) s.down += op.by;
    else s.up += op.by;
    sums.set(op.key, s);
  }
  const violations: CounterViolation[] = [];
  for (const [key, s] of sums) {
    const final = finalValues.get(key) ?? null;
    const min = s.acknowledged + s.down;
    const max = s.acknowledged + s.up;
    // a key never acknowledged may be missing (0), if no unknown increment took effect
    const value = final ?? 0; // NaN (siblings that are not one counter) is a violation too
    if (!Number.isFinite(value) || value < min || value > max) violations.push({ key, final, acknowledged: s.acknowledged, min, max });
  }
  return { valid: violations.length === 0, violations };
}
