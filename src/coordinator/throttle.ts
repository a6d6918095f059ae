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
  /** Foreground p99 above this halves the background budget. */
  readonly targetP99Ms: number;
  readonly minPerSec: number;
  readonly maxPerSec: number;
  /** Added to the budget per update while the foreground is within its target. */
  readonly stepPerSec: number;
}

export class BackgroundThrottle {
  private budget: number;

  constructor(readonly options: ThrottleOptions) {
    const o = options;
    if (!(o.targetP99Ms > 0)) throw new RangeError(`targetP99Ms must be positive, got ${o.targetP99Ms}`);
    if (!(Number.isInteger(o.minPerSec) && o.minPerSec >= 1 && Number.isInteger(o.maxPerSec) && o.maxPerSec >= o.minPerSec)) {
      throw new RangeError(`need integers 1 <= minPerSec <= maxPerSec, got ${o.minPerSec} and ${o.maxPerSec}`);
    }
    if (!(Number.isInteger(o.stepPerSec) && o.stepPerSec >= 1)) throw new RangeError(`stepPerSec must be a positive integer, got ${o.stepPerSec}`);
    this.budget = o.maxPerSec;
  }

  /** Background entries allowed per second now. */
  get perSec(): number {
    return this.budget;
  }

  /** One control step from the foreground p99 of the last interval (null: no foreground requests). */
  update(foregroundP99Ms: number | null): number {
    const o = this.options;
    if (foregroundP99Ms === null) this.budget = o.maxPerSec;
    else if (foregroundP99Ms > o.targetP99Ms) this.budget = Math.max(o.minPerSec, Math.floor(this.budget / 2));
    else this.budget = Math.min(o.maxPerSec, this.budget + o.stepPerSec);
    return this.budget;
  }
}
