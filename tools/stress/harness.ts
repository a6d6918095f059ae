// What the stress lab's shell and its end-of-run checks share: the target it
// drives, and small helpers.
import type { Cluster } from '../../src/index.js';

/** Violations listed in a verdict at most (all are counted). */
export const MAX_VIOLATIONS_LISTED = 50;

/** Wall-clock milliseconds with sub-millisecond resolution. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** The actors and ring the nemesis needs, or null for a server target (no fault injection there). */
export interface Harness {
  readonly kind: 'local' | 'redis';
  readonly cluster: Cluster | null;
  readonly ringkv: boolean;
  readonly url: string;
  /** n, r, w, strict as they apply to the run (for a server: what it reports). */
  readonly consistency: { n: number; r: number; w: number; strict: boolean } | null;
  close(): Promise<void>;
}

/** The first server of a redis target listing several (comma-separated): admin calls and samples go there. */
export function firstUrl(target: string): string {
  return target.split(',')[0]!;
}
