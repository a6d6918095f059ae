/**
 * Rates one thread sets and others follow, through shared memory: the front
 * end hears every caller's latency and turns it into a rate (AIMD against
 * a multiple of the quiet baseline, throttle.ts); Merkle build threads and
 * actors read it between steps, so a change reaches work already running.
 */
import { BackgroundThrottle, LatencyWindow, type ThrottleOptions } from './throttle.js';

/** One rate, entries per second, in an Int32 of a SharedArrayBuffer (0: unpaced, or no cap). */
export class SharedRate {
  readonly buffer: SharedArrayBuffer;
  private readonly cell: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.buffer = buffer;
    this.cell = new Int32Array(buffer, 0, 1);
  }

  get entriesPerSec(): number {
    return Atomics.load(this.cell, 0);
  }

  set entriesPerSec(v: number) {
    Atomics.store(this.cell, 0, Math.max(0, Math.min(2 ** 31 - 1, Math.floor(v))));
  }
}

/**
 * A counter other threads bump when they did background work, and the
 * setting thread looks at: did any run since my last look? An interval in
 * which one ran must not teach the quiet baseline.
 */
export class SharedActivity {
  readonly buffer: SharedArrayBuffer;
  private readonly cell: Int32Array;
  private seen = 0;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.buffer = buffer;
    this.cell = new Int32Array(buffer, 0, 1);
  }

  /** Background work ran in this thread (once per interval is enough). */
  bump(): void {
    Atomics.add(this.cell, 0, 1);
  }

  /** Some thread bumped since the last call. */
  ranSinceLastLook(): boolean {
    const now = Atomics.load(this.cell, 0);
    const ran = now !== this.seen;
    this.seen = now;
    return ran;
  }
}

/** What an actor needs to follow the cluster's cap on its background work (ActorConfig.backgroundCap). */
export interface BackgroundCapBuffers {
  /** SharedRate: entries per second each actor's background work may take at most. */
  readonly rate: SharedArrayBuffer;
  /** SharedActivity: actors bump it in an interval their background work ran. */
  readonly activity: SharedArrayBuffer;
}

/**
 * The setting side: foreground latencies go in, the shared rate comes out,
 * once per tick.
 */
export class RatePacer {
  private readonly window = new LatencyWindow();
  private readonly throttle: BackgroundThrottle;

  constructor(
    readonly rate: SharedRate,
    options: ThrottleOptions,
  ) {
    this.throttle = new BackgroundThrottle(options);
    rate.entriesPerSec = this.throttle.perSec;
  }

  /** A foreground request's latency. */
  record(ms: number): void {
    this.window.record(ms);
  }

  /** One control step; `backgroundRan`: the paced work ran in the interval (its latencies do not teach the baseline). */
  tick(backgroundRan: boolean): number {
    const perSec = this.throttle.update(this.window.p99(), backgroundRan);
    this.window.reset();
    this.rate.entriesPerSec = perSec;
    return perSec;
  }

  get baselineP99Ms(): number | null {
    return this.throttle.baselineP99Ms;
  }
}
