/**
 * Admission control for background work (hint handoff, anti-entropy
 * pushes), pure: foreground latency goes in, a budget of background entries
 * per second comes out. As Dynamo describes, background tasks get what the
 * foreground leaves: the budget halves while foreground p99 is above its
 * target and grows back step by step when it is not (AIMD), and is at its
 * maximum when there is no foreground traffic at all.
 */

const FIRST_BOUND_MS = 0.05;
const GROWTH = 1.35;

/** p99 of the latencies recorded since the last reset, from log-spaced buckets (no samples kept). */
export class LatencyWindow {
  /** Bucket i holds latencies up to BOUNDS_MS[i]; the last one everything above. */
  static readonly BOUNDS_MS: readonly number[] = Array.from({ length: 40 }, (_, i) => FIRST_BOUND_MS * GROWTH ** i);
  private readonly counts = new Uint32Array(LatencyWindow.BOUNDS_MS.length + 1);
  private total = 0;

  record(ms: number): void {
    if (!(ms >= 0)) return; // NaN or negative: a clock oddity, not a latency
    // recorded for every request an actor coordinates: the bucket by arithmetic, then nudged past float error
    const bounds = LatencyWindow.BOUNDS_MS;
    let i = ms <= FIRST_BOUND_MS ? 0 : Math.min(bounds.length, Math.ceil(Math.log(ms / FIRST_BOUND_MS) / Math.log(GROWTH)));
    while (i > 0 && ms <= bounds[i - 1]!) i--;
    while (i < bounds.length && ms > bounds[i]!) i++;
    this.counts[i]!++;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  /** Upper bound of the bucket holding the 99th percentile; null with nothing recorded. */
  p99(): number | null {
    if (this.total === 0) return null;
    const rank = Math.ceil(this.total * 0.99);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return i < LatencyWindow.BOUNDS_MS.length ? LatencyWindow.BOUNDS_MS[i]! : Infinity;
    }
    return Infinity;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
  }
}

export interface ThrottleOptions {
  /** Foreground p99 above this halves the background budget, whatever the baseline. */
  readonly targetP99Ms: number;
  readonly minPerSec: number;
  readonly maxPerSec: number;
  /** Added to the budget per update while the foreground is within its target. */
  readonly stepPerSec: number;
  /**
   * Relative target: the foreground p99 may grow to this many times its
   * baseline (its p99 while no background job ran) before the budget
   * halves; 0 = the absolute target alone. A fixed target of tens of ms
   * lets background work multiply a sub-millisecond foreground p99 many
   * times over before it reacts.
   */
  readonly baselineFactor?: number;
  /** The relative target is never below this: a baseline of a fraction of a ms would halve the budget on any scheduling hiccup. */
  readonly floorMs?: number;
}

/** Weight of one quiet interval's p99 in the baseline (an exponential average: a slow drift is followed, one odd interval is not). */
const BASELINE_WEIGHT = 0.2;

/**
 * The target one update compares the foreground p99 with: the absolute
 * target, lowered to `baselineFactor` times the quiet baseline (never below
 * `floorMs`) once a baseline is known.
 */
export function effectiveTargetMs(o: ThrottleOptions, baselineP99Ms: number | null): number {
  const factor = o.baselineFactor ?? 0;
  if (factor <= 0 || baselineP99Ms === null) return o.targetP99Ms;
  return Math.min(o.targetP99Ms, Math.max(o.floorMs ?? 0, factor * baselineP99Ms));
}

export class BackgroundThrottle {
  private budget: number;
  private baseline: number | null = null;

  constructor(readonly options: ThrottleOptions) {
    const o = options;
    if (!(o.targetP99Ms > 0)) throw new RangeError(`targetP99Ms must be positive, got ${o.targetP99Ms}`);
    if (!(Number.isInteger(o.minPerSec) && o.minPerSec >= 1 && Number.isInteger(o.maxPerSec) && o.maxPerSec >= o.minPerSec)) {
      throw new RangeError(`need integers 1 <= minPerSec <= maxPerSec, got ${o.minPerSec} and ${o.maxPerSec}`);
    }
    if (!(Number.isInteger(o.stepPerSec) && o.stepPerSec >= 1)) throw new RangeError(`stepPerSec must be a positive integer, got ${o.stepPerSec}`);
    if (o.baselineFactor !== undefined && !(o.baselineFactor === 0 || o.baselineFactor >= 1)) throw new RangeError(`baselineFactor must be 0 (off) or at least 1, got ${o.baselineFactor}`);
    if (o.floorMs !== undefined && !(o.floorMs >= 0)) throw new RangeError(`floorMs must be non-negative, got ${o.floorMs}`);
    this.budget = o.maxPerSec;
  }

  /** Background entries allowed per second now. */
  get perSec(): number {
    return this.budget;
  }

  /** The foreground p99 while no background job ran (null until one such interval had requests). */
  get baselineP99Ms(): number | null {
    return this.baseline;
  }

  /** What the foreground p99 is held to now. */
  get targetMs(): number {
    return effectiveTargetMs(this.options, this.baseline);
  }

  /**
   * One control step from the foreground p99 of the last interval (null: no
   * foreground requests). `backgroundRan`: a background job used budget in
   * that interval; intervals without one teach the baseline.
   */
  update(foregroundP99Ms: number | null, backgroundRan = false): number {
    const o = this.options;
    if (foregroundP99Ms !== null && !backgroundRan && Number.isFinite(foregroundP99Ms)) {
      this.baseline = this.baseline === null ? foregroundP99Ms : this.baseline + BASELINE_WEIGHT * (foregroundP99Ms - this.baseline);
    }
    if (foregroundP99Ms === null) this.budget = o.maxPerSec;
    else if (foregroundP99Ms > this.targetMs) this.budget = Math.max(o.minPerSec, Math.floor(this.budget / 2));
    else this.budget = Math.min(o.maxPerSec, this.budget + o.stepPerSec);
    return this.budget;
  }
}

/**
 * The background budget handed out as time passes rather than in one lump
 * per control interval: a lump of a quarter second at 50 000 entries/s is
 * 12 500 entries sent back to back, and every request that arrives
 * meanwhile waits behind them. Pure: the caller passes the time.
 */
export class TokenBucket {
  private tokens = 0;
  private lastMs: number | null = null;

  /** @param burstMs At most this many milliseconds' worth of budget accumulates while unused. */
  constructor(readonly burstMs: number) {
    if (!(burstMs > 0)) throw new RangeError(`burstMs must be positive, got ${burstMs}`);
  }

  /** Entries that may go now, at `perSec`. */
  available(nowMs: number, perSec: number): number {
    const capacity = Math.max(1, (perSec * this.burstMs) / 1000);
    if (this.lastMs === null) this.tokens = capacity;
    else this.tokens = Math.min(capacity, this.tokens + (perSec * Math.max(0, nowMs - this.lastMs)) / 1000);
    this.lastMs = nowMs;
    return this.tokens;
  }

  take(entries: number): void {
    this.tokens -= entries;
  }

  /** Milliseconds until one entry is available at `perSec` (0 if one is). */
  waitMs(perSec: number): number {
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / perSec);
  }
}
