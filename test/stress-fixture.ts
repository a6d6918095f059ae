import type { StressConfig } from '../tools/stress/runner.js';

/**
 * A short stress run as CI can afford: seconds, small, an open loop at a
 * modest rate (other test files run alongside on two cores). Each test file
 * overrides what it is about.
 */
export function shortStressConfig(overrides: Partial<StressConfig> = {}): StressConfig {
  return {
    target: 'local',
    workload: 'a',
    records: 1000,
    durationMs: 3000,
    operations: 0,
    clients: 8,
    threads: 2,
    ratePerSec: 2000,
    valueBytes: 100,
    setKeys: 4,
    seed: 11,
    nemesis: { kind: 'none' },
    actors: 5,
    n: 3,
    r: 2,
    w: 2,
    strict: false,
    lww: false,
    timeoutMs: 2000,
    convergeTimeoutMs: 60_000,
    windowMs: 500,
    maxHistoryOps: 2_000_000,
    maxInspectKeys: 10_000,
    ...overrides,
  };
}
