/**
 * Admission control for the requests the front end sends one coordinator
 * actor, pure (time comes in as an argument). A cluster that cannot keep up
 * must refuse work early and cheaply rather than let it queue until it times
 * out, so what is in flight to an actor is bounded two ways:
 * - by count: never more than `maxInFlight`;
 * - by time, as CoDel (Nichols & Jacobson) bounds a queue: when every
 *   request that finished during a whole `intervalMs` took longer than
 *   `targetMs` (a standing queue, not a burst), new requests are refused
 *   while more than `minInFlight` are still out — those few keep measuring,
 *   and the first one back under `targetMs` ends the refusals.
 * A request that is not answered at all counts too: one in flight for longer
 * than `targetMs` is as good as a slow answer.
 */
export interface AdmissionOptions {
  readonly targetMs: number;
  readonly intervalMs: number;
  readonly maxInFlight: number;
  /** Requests still admitted while refusing, so that latency keeps being measured. */
  readonly minInFlight: number;
}

export type Verdict = 'admit' | 'too-many' | 'too-slow';

export class Admission {
  private inFlightNow = 0;
  /** When latencies first went above target (null: they are not above it). */
  private aboveSinceMs: number | null = null;
  private refusing = false;
  refusedTooMany = 0;
  refusedTooSlow = 0;

  constructor(readonly options: AdmissionOptions) {
    const o = options;
    if (!(o.targetMs > 0) || !(o.intervalMs > 0)) throw new RangeError('targetMs and intervalMs must be positive');
    if (!Number.isInteger(o.maxInFlight) || o.maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${o.maxInFlight}`);
    if (!Number.isInteger(o.minInFlight) || o.minInFlight < 1 || o.minInFlight > o.maxInFlight) throw new RangeError(`minInFlight must be an integer in 1..maxInFlight, got ${o.minInFlight}`);
  }

  get inFlight(): number {
    return this.inFlightNow;
  }

  /** True while requests are being refused for time (a standing queue). */
  get overloaded(): boolean {
    return this.refusing;
  }

  /** May one more request go out now? Counts the refusal when not. */
  check(): Verdict {
    if (this.inFlightNow >= this.options.maxInFlight) {
      this.refusedTooMany++;
      return 'too-many';
    }
    if (this.refusing && this.inFlightNow >= this.options.minInFlight) {
      this.refusedTooSlow++;
      return 'too-slow';
    }
    return 'admit';
  }

  /** A request went out at `nowMs`. */
  started(nowMs: number): void {
    if (!(nowMs >= 0)) throw new RangeError('started: nowMs must be a time');
    this.inFlightNow++;
  }

  /** A request sent at `startedMs` ended (answered, failed or timed out) at `nowMs`. */
  finished(startedMs: number, nowMs: number): void {
    if (this.inFlightNow === 0) throw new Error('admission: finished() without started()');
    this.inFlightNow--;
    this.observe(nowMs - startedMs, nowMs);
  }

  private observe(latencyMs: number, nowMs: number): void {
    if (latencyMs <= this.options.targetMs) {
      this.aboveSinceMs = null;
      this.refusing = false;
      return;
    }
    if (this.aboveSinceMs === null) this.aboveSinceMs = nowMs;
    else if (nowMs - this.aboveSinceMs >= this.options.intervalMs) this.refusing = true;
  }

  /**
   * The oldest request still out is `ageMs` old: a latency sample too, since
   * a stalled actor answers nothing. The shell calls this from its sweep.
   */
  noteOldest(ageMs: number, nowMs: number): void {
    if (ageMs > this.options.targetMs) this.observe(ageMs, nowMs);
  }
}

/** One Admission per coordinator actor, created on first use (the front end's table of them). */
export class AdmissionTable {
  private readonly byActor = new Map<number, Admission>();

  constructor(private readonly options: AdmissionOptions) {}

  of(actor: number): Admission {
    let a = this.byActor.get(actor);
    if (a === undefined) {
      a = new Admission(this.options);
      this.byActor.set(actor, a);
    }
    return a;
  }

  /** Some actor is being refused work for time (the foreground is struggling). */
  anyOverloaded(): boolean {
    for (const a of this.byActor.values()) if (a.overloaded) return true;
    return false;
  }

  /** Refusals so far, over every actor: too many in flight, or a standing queue. */
  refused(): { tooMany: number; tooSlow: number } {
    let tooMany = 0;
    let tooSlow = 0;
    for (const a of this.byActor.values()) {
      tooMany += a.refusedTooMany;
      tooSlow += a.refusedTooSlow;
    }
    return { tooMany, tooSlow };
  }
}
