// The checkers' findings as a StressResult reports them: counted, the first
// MAX_VIOLATIONS_LISTED spelled out.
import { checkCounters, checkNoLostWrites, checkNoStaleReads, type Op, type WriteOp } from './checker.js';
import { MAX_VIOLATIONS_LISTED, type Harness } from './harness.js';
import type { CheckerVerdict } from './result.js';

export function lostWritesVerdict(history: readonly Op[], finalValues: Map<string, string[]>, isSet: boolean, runStartMs: number): CheckerVerdict {
  // A set add's "supersedes" is what its read saw; the set must keep those elements too, so each add is judged on its own.
  const judged = isSet ? history.map((o) => (o.kind === 'write' ? ({ ...o, supersedes: [] } satisfies WriteOp) : o)) : history;
  const verdict = checkNoLostWrites(judged, finalValues);
  const acknowledged = history.filter((o) => o.kind === 'write' && o.outcome === 'ok').length;
  return {
    valid: verdict.valid,
    checked: acknowledged,
    violationCount: verdict.violations.length,
    violations: verdict.violations
      .slice(0, MAX_VIOLATIONS_LISTED)
      .map(
        (v) =>
          `${isSet ? 'add' : 'write'} ${v.write.id} to ${v.key} by client ${v.write.process}, acknowledged at ${(v.write.completeMs - runStartMs).toFixed(1)} ms, is gone: final value [${(finalValues.get(v.key) ?? []).slice(0, 10).join(', ')}]`,
      ),
  };
}

/** Counters: each final value must be its acknowledged increments plus a subset of the unknown ones. */
export function counterVerdict(history: readonly Op[], finalValues: Map<string, string[]>): CheckerVerdict {
  const finals = new Map<string, number | null>();
  for (const [key, values] of finalValues) finals.set(key, values.length === 1 ? Number(values[0]) : values.length === 0 ? null : Number.NaN);
  const verdict = checkCounters(history, finals);
  return {
    valid: verdict.valid,
    checked: history.filter((o) => o.kind === 'increment' && o.outcome === 'ok').length,
    violationCount: verdict.violations.length,
    violations: verdict.violations
      .slice(0, MAX_VIOLATIONS_LISTED)
      .map((v) => `counter ${v.key}: final value ${v.final === null ? '(missing)' : v.final} [${(finalValues.get(v.key) ?? []).join(', ')}], acknowledged increments sum to ${v.acknowledged}, so it must lie in ${v.min}..${v.max}`),
  };
}

export function staleReadsVerdict(history: readonly Op[], h: Harness, runStartMs: number): CheckerVerdict {
  const reads = history.filter((o) => o.kind === 'read' && o.outcome === 'ok').length;
  const c = h.consistency;
  if (h.kind === 'redis' && !h.ringkv) {
    // one server: every read should see every acknowledged write
  } else if (c === null || !c.strict || c.r + c.w <= c.n) {
    const why = c === null ? 'consistency unknown' : !c.strict ? 'sloppy quorums (not --strict)' : `R+W=${c.r + c.w} <= N=${c.n}`;
    return { valid: true, skipped: `${why}: stale reads are allowed; see the staleness curve`, checked: reads, violationCount: 0, violations: [] };
  }
  const verdict = checkNoStaleReads(history);
  return {
    valid: verdict.valid,
    checked: reads,
    violationCount: verdict.violations.length,
    violations: verdict.violations
      .slice(0, MAX_VIOLATIONS_LISTED)
      .map(
        (v) =>
          `read of ${v.read.key} by client ${v.read.process} at ${(v.read.invokeMs - runStartMs).toFixed(1)} ms returned [${v.read.values.slice(0, 10).join(', ')}], missing ${v.missed.id} acknowledged at ${(v.missed.completeMs - runStartMs).toFixed(1)} ms`,
      ),
  };
}
