/**
 * The shape of a stress run's `result.json`: what the runner writes, what
 * the HTML report draws and what tests read. Plain data (JSON-able) only.
 * Times inside a run are milliseconds since the run phase began (`tMs`).
 */
import type { StalenessBucket } from './checker.js';

export const RESULT_FORMAT_VERSION = 1;

/** Operation names as reported: YCSB's, plus the set workload's `add` and the counter workload's `incr`. */
export type OpName = 'read' | 'update' | 'insert' | 'scan' | 'rmw' | 'add' | 'incr';

export interface LatencySummary {
  readonly count: number;
  /** Milliseconds; from the HDR histogram (3 significant digits). */
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

/** One second (or `windowMs`) of the run phase. */
export interface TimelinePoint {
  /** Start of the window, ms since the run phase began. */
  readonly tMs: number;
  /**
   * The window's real length, ms: windowMs, except the last one, cut short by
   * the run's end (absent in results written before it was recorded).
   */
  readonly lengthMs?: number;
  /** Operations completed in this window (all kinds), successful or not. */
  readonly ops: number;
  readonly errors: number;
  /** ops over the window's real length (lengthMs), not over windowMs. */
  readonly opsPerSec: number;
  /** Latency over every operation completed in the window, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** A fault as it was carried out: when it began and ended (tMs), on what. */
export interface FaultWindow {
  readonly kind: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly targets: readonly number[];
  /** Human-readable, e.g. "partition [0,1] | [2,3,4]". */
  readonly description: string;
}

/** Cluster-side figures sampled during the run (local target, or a ringkv server). */
export interface ClusterSample {
  readonly tMs: number;
  readonly hintsPending: number;
  /** Cumulative keys pushed by anti-entropy and read repairs since the run began. */
  readonly repairKeysSent: number;
  readonly readRepairs: number;
  readonly actorsUp: number;
}

export interface CheckerVerdict {
  readonly valid: boolean;
  /** Set when the check does not apply to this run (e.g. stale reads with R+W<=N); then `valid` is true. */
  readonly skipped?: string;
  /** How many items were checked (writes, reads, keys). */
  readonly checked: number;
  readonly violationCount: number;
  /** The first violations, readable (bounded). */
  readonly violations: readonly string[];
}

export interface ConvergenceVerdict extends CheckerVerdict {
  /** From heal until every replica of every key was identical; null when it never happened within the deadline. */
  readonly timeToConvergeMs: number | null;
  readonly repairPasses: number;
  /** Keys still divergent at the deadline (bounded). */
  readonly divergentKeys: readonly string[];
}

export interface StressResult {
  readonly formatVersion: typeof RESULT_FORMAT_VERSION;
  readonly startedAt: string;
  /** Every setting the run used, flags and defaults resolved (seed included). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Length of the run phase (load phase excluded), ms. */
  readonly durationMs: number;
  readonly load: { readonly records: number; readonly durationMs: number; readonly opsPerSec: number };
  readonly throughput: { readonly operations: number; readonly opsPerSec: number; readonly byOp: Readonly<Partial<Record<OpName, number>>> };
  readonly latency: Readonly<Partial<Record<OpName, LatencySummary>>>;
  /** Error counts by type (error class or Redis error prefix), run phase. */
  readonly errors: Readonly<Record<string, number>>;
  readonly timeline: readonly TimelinePoint[];
  readonly faults: readonly FaultWindow[];
  readonly cluster: readonly ClusterSample[];
  readonly staleness: readonly StalenessBucket[];
  readonly checkers: {
    readonly lostWrites: CheckerVerdict;
    readonly staleReads: CheckerVerdict;
    readonly convergence: ConvergenceVerdict;
  };
  /** Every checker valid. */
  readonly valid: boolean;
}
