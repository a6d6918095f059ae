/**
 * The autoscaler's decisions, pure: feed it load samples (time comes in
 * with each), ask what to do. It adds an actor when the cluster has stayed
 * hot for a whole window, retires one when it has stayed cold for a whole
 * window, waits a cooldown after every change so one change's own
 * disturbance cannot trigger the next (no flapping), and never leaves the
 * bounds or goes below what N replicas in distinct zones need. Carrying a
 * decision out (plan, stream, switch the ring) belongs to the shell.
 */

/** One actor's figures over the last sampling interval. */
export interface ActorLoad {
  readonly id: number;
  readonly zone: string;
  /** Event-loop utilisation of its thread, 0..1. */
  readonly elu: number;
  /** Requests it coordinated per second. */
  readonly requestsPerSec: number;
  /** Requests it is coordinating right now. */
  readonly queueDepth: number;
}

export interface LoadSample {
  readonly atMs: number;
  readonly actors: readonly ActorLoad[];
  /** p99 request latency over the interval, ms (as clients see it). */
  readonly p99Ms: number;
}

export interface AutoscalerPolicy {
  readonly minActors: number;
  readonly maxActors: number;
  /** How long the cluster must stay hot (or cold) before a change. */
  readonly windowMs: number;
  /** No change within this long after the previous one. */
  readonly cooldownMs: number;
  /** Hot: mean event-loop utilisation at least this, or p99 at least hotP99Ms, or queue depth per actor at least hotQueueDepth. */
  readonly hotElu: number;
  readonly hotP99Ms: number;
  readonly hotQueueDepth: number;
  /** Cold: mean utilisation at most this and p99 under half of hotP99Ms. */
  readonly coldElu: number;
  /** Share of the window's samples that must agree (tolerates a stray sample). */
  readonly agreement: number;
  /** Samples kept at most (a bound on memory whatever the sampling rate). */
  readonly maxSamples: number;
}

export const DEFAULT_POLICY: Omit<AutoscalerPolicy, 'minActors' | 'maxActors'> = {
  windowMs: 30_000,
  cooldownMs: 120_000,
  hotElu: 0.75,
  hotP99Ms: 50,
  hotQueueDepth: 1000,
  coldElu: 0.2,
  agreement: 0.9,
  maxSamples: 10_000,
};

export interface Figures {
  readonly actors: number;
  readonly meanElu: number;
  readonly p99Ms: number;
  readonly queueDepthPerActor: number;
  readonly requestsPerSec: number;
  /** Share of the window's samples that were hot, and cold. */
  readonly hotShare: number;
  readonly coldShare: number;
}

export type Decision =
  | { readonly action: 'hold'; readonly reason: string; readonly figures: Figures }
  | { readonly action: 'add'; readonly zone: string; readonly reason: string; readonly figures: Figures }
  | { readonly action: 'remove'; readonly id: number; readonly reason: string; readonly figures: Figures };

export class AutoscalerError extends Error {
  override readonly name = 'AutoscalerError';
}

export class Autoscaler {
  private readonly samples: LoadSample[] = [];
  private lastChangeMs = -Infinity;
  private lastAtMs = -Infinity;

  constructor(
    readonly policy: AutoscalerPolicy,
    /** Replicas per key: the cluster never shrinks below this many actors. */
    readonly n: number,
  ) {
    const p = policy;
    if (!Number.isInteger(n) || n < 1) throw new AutoscalerError(`n must be a positive integer, got ${n}`);
    if (!Number.isInteger(p.minActors) || p.minActors < n) throw new AutoscalerError(`minActors must be an integer >= n (${n}), got ${p.minActors}`);
    if (!Number.isInteger(p.maxActors) || p.maxActors < p.minActors) throw new AutoscalerError(`maxActors must be an integer >= minActors, got ${p.maxActors}`);
    if (!(p.coldElu >= 0 && p.coldElu < p.hotElu && p.hotElu <= 1)) throw new AutoscalerError(`need 0 <= coldElu < hotElu <= 1, got ${p.coldElu} and ${p.hotElu}`);
    if (!(p.windowMs > 0 && p.cooldownMs >= 0 && p.hotP99Ms > 0 && p.hotQueueDepth > 0)) throw new AutoscalerError('windowMs, hotP99Ms and hotQueueDepth must be positive, cooldownMs not negative');
    if (!(p.agreement > 0 && p.agreement <= 1)) throw new AutoscalerError(`agreement must be in (0, 1], got ${p.agreement}`);
    if (!Number.isInteger(p.maxSamples) || p.maxSamples < 2) throw new AutoscalerError(`maxSamples must be an integer >= 2, got ${p.maxSamples}`);
  }

  /** Record a sample and decide. A change is reported once; call `changed(atMs)` when it was carried out (or `observe` assumes it was). */
  observe(sample: LoadSample): Decision {
    if (!(sample.atMs > this.lastAtMs)) throw new AutoscalerError(`samples must come in time order (${sample.atMs} after ${this.lastAtMs})`);
    if (sample.actors.length === 0) throw new AutoscalerError('a sample needs at least one actor');
    this.lastAtMs = sample.atMs;
    this.samples.push(sample);
    while (this.samples.length > this.policy.maxSamples || this.samples[0]!.atMs < sample.atMs - this.policy.windowMs) this.samples.shift();
    const figures = this.figures(sample);
    const actors = sample.actors.length;
    if (sample.atMs - this.lastChangeMs < this.policy.cooldownMs) return { action: 'hold', reason: `cooling down after the last change`, figures };
    // a full window only: the first sample must be about windowMs old
    const oldest = this.samples[0]!.atMs;
    if (sample.atMs - oldest < this.policy.windowMs * 0.9) return { action: 'hold', reason: 'not a full window of samples yet', figures };
    if (figures.hotShare >= this.policy.agreement) {
      if (actors >= this.policy.maxActors) return { action: 'hold', reason: `hot, but already at maxActors (${this.policy.maxActors})`, figures };
      this.changeAt(sample.atMs);
      return { action: 'add', zone: this.zoneToGrow(sample), reason: `hot for ${this.policy.windowMs} ms: ${describe(figures)}`, figures };
    }
    if (figures.coldShare >= this.policy.agreement) {
      const floor = Math.max(this.policy.minActors, this.n);
      if (actors <= floor) return { action: 'hold', reason: `cold, but already at the floor (${floor} actors: minActors and n)`, figures };
      const id = this.actorToRetire(sample);
      if (id === null) return { action: 'hold', reason: 'cold, but no actor can leave without losing a zone the replicas need', figures };
      this.changeAt(sample.atMs);
      return { action: 'remove', id, reason: `cold for ${this.policy.windowMs} ms: ${describe(figures)}`, figures };
    }
    return { action: 'hold', reason: `neither hot nor cold for a whole window: ${describe(figures)}`, figures };
  }

  /** A change happened (by this autoscaler or by hand): start the cooldown, forget the samples taken before it. */
  changeAt(atMs: number): void {
    this.lastChangeMs = atMs;
    this.samples.length = 0;
  }

  private hot(s: LoadSample): boolean {
    const mean = s.actors.reduce((a, x) => a + x.elu, 0) / s.actors.length;
    const queue = s.actors.reduce((a, x) => a + x.queueDepth, 0) / s.actors.length;
    return mean >= this.policy.hotElu || s.p99Ms >= this.policy.hotP99Ms || queue >= this.policy.hotQueueDepth;
  }

  private cold(s: LoadSample): boolean {
    const mean = s.actors.reduce((a, x) => a + x.elu, 0) / s.actors.length;
    return mean <= this.policy.coldElu && s.p99Ms < this.policy.hotP99Ms / 2;
  }

  private figures(latest: LoadSample): Figures {
    const actors = latest.actors.length;
    let hot = 0;
    let cold = 0;
    for (const s of this.samples) {
      if (this.hot(s)) hot++;
      else if (this.cold(s)) cold++;
    }
    return {
      actors,
      meanElu: round(latest.actors.reduce((a, x) => a + x.elu, 0) / actors),
      p99Ms: round(latest.p99Ms),
      queueDepthPerActor: round(latest.actors.reduce((a, x) => a + x.queueDepth, 0) / actors),
      requestsPerSec: round(latest.actors.reduce((a, x) => a + x.requestsPerSec, 0)),
      hotShare: round(hot / this.samples.length),
      coldShare: round(cold / this.samples.length),
    };
  }

  /** The zone with the fewest actors (ties: by name), so zones stay balanced. */
  private zoneToGrow(s: LoadSample): string {
    const counts = zoneCounts(s);
    return [...counts].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]![0];
  }

  /**
   * The least busy actor of the zone with the most actors, if removing it
   * keeps at least min(n, zones) distinct zones (what zone-aware preference
   * lists need).
   */
  private actorToRetire(s: LoadSample): number | null {
    const counts = zoneCounts(s);
    const needZones = Math.min(this.n, counts.size);
    const candidates = s.actors
      .filter((a) => counts.get(a.zone)! > 1 || counts.size - 1 >= needZones)
      .sort((a, b) => counts.get(b.zone)! - counts.get(a.zone)! || a.elu - b.elu || a.id - b.id);
    return candidates[0]?.id ?? null;
  }
}

function zoneCounts(s: LoadSample): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of s.actors) counts.set(a.zone, (counts.get(a.zone) ?? 0) + 1);
  return counts;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function describe(f: Figures): string {
  return `mean ELU ${f.meanElu}, p99 ${f.p99Ms} ms, queue ${f.queueDepthPerActor}/actor, ${f.requestsPerSec} req/s over ${f.actors} actors (hot ${f.hotShare}, cold ${f.coldShare} of the window)`;
}
