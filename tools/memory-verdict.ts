// How the memory benchmarks judge a run. Pure: figures in, verdicts out.

/** Anonymous memory may grow this much over its reference and still count as flat. */
export const FLAT_LIMIT = 0.15;
/** A phase's foreground p99 may be this many times the quiet phase's. */
export const P99_FACTOR = 2;

export interface PhaseFigures {
  readonly name: string;
  /** The highest anonymous memory sampled in the phase, bytes. */
  readonly maxAnonBytes: number;
  /** p99 of the light foreground load in the phase, ms (NaN: none measured). */
  readonly p99Ms: number;
}

export interface PhaseVerdict {
  readonly name: string;
  /** (max anonymous - reference) / reference. */
  readonly anonGrowth: number;
  readonly flat: boolean;
  /** p99 / the quiet phase's p99 (NaN when either is missing). */
  readonly p99Ratio: number;
  /** Within P99_FACTOR of quiet, or not measured. */
  readonly p99Ok: boolean;
}

/**
 * Judge each phase against the reference anonymous memory (the end of the
 * load) and the quiet phase's p99.
 */
export function judgePhases(referenceAnonBytes: number, quietP99Ms: number, phases: readonly PhaseFigures[], limit = FLAT_LIMIT, factor = P99_FACTOR): PhaseVerdict[] {
  if (!(referenceAnonBytes > 0)) throw new RangeError(`the reference must be positive, got ${referenceAnonBytes}`);
  return phases.map((p) => {
    const anonGrowth = (p.maxAnonBytes - referenceAnonBytes) / referenceAnonBytes;
    const p99Ratio = quietP99Ms > 0 && Number.isFinite(p.p99Ms) ? p.p99Ms / quietP99Ms : NaN;
    return { name: p.name, anonGrowth, flat: anonGrowth < limit, p99Ratio, p99Ok: Number.isNaN(p99Ratio) || p99Ratio <= factor };
  });
}

/** One line: FLAT when every phase is, else which are not. */
export function flatLine(verdicts: readonly PhaseVerdict[], limit = FLAT_LIMIT): string {
  const growing = verdicts.filter((v) => !v.flat);
  const worst = verdicts.reduce((m, v) => Math.max(m, v.anonGrowth), -Infinity);
  const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
  return growing.length === 0
    ? `FLAT: anonymous memory stayed within ${limit * 100}% of its reference in every phase (worst ${pct(worst)})`
    : `GROWING: anonymous memory rose ${limit * 100}% or more over its reference in ${growing.map((v) => `${v.name} (${pct(v.anonGrowth)})`).join(', ')}`;
}
