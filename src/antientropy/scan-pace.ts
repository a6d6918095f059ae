/**
 * Pacing of a Merkle build's scan, pure: how long the scanning thread
 * should sleep so that it reads no more than a given number of entries per
 * second. A build scans every entry an actor holds; unpaced it takes as
 * much CPU and disk as it can get, which the foreground pays for in
 * latency. The rate comes from the main thread (see ScanRate), which
 * lowers it while foreground requests are slower than their quiet baseline.
 */
import { BackgroundThrottle, LatencyWindow, type ThrottleOptions } from '../coordinator/throttle.js';

/** Entries scanned between two looks at the clock and the rate. */
export const SCAN_PACE_ENTRIES = 512;
/** The longest single sleep: a raised rate (the foreground went quiet) is seen within this long. */
export const MAX_SCAN_PAUSE_MS = 100;

/**
 * Milliseconds to sleep now, after `entries` entries in `elapsedMs`, to stay
 * at `entriesPerSec` (0 or less: unpaced), at most MAX_SCAN_PAUSE_MS.
 */
export function scanPauseMs(entries: number, elapsedMs: number, entriesPerSec: number): number {
  if (!(entriesPerSec > 0) || entries <= 0) return 0;
  const dueMs = (entries * 1000) / entriesPerSec;
  return Math.min(MAX_SCAN_PAUSE_MS, Math.max(0, dueMs - elapsedMs));
}

/**
 * The current scan rate, shared between the main thread (which sets it) and
 * the build threads (which read it between steps): one Int32 in a
 * SharedArrayBuffer, so a change reaches a build already running.
 */
export class ScanRate {
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
 * The main thread's side: foreground request latencies go in, the shared
 * scan rate comes out, once per tick. It is the actors' background throttle
 * (AIMD against a multiple of the quiet baseline) applied to Merkle builds,
 * whose only foreground signal is the latency the cluster's callers see.
 */
export class ScanPacer {
  private readonly window = new LatencyWindow();
  private readonly throttle: BackgroundThrottle;

  constructor(
    readonly rate: ScanRate,
    options: ThrottleOptions,
  ) {
    this.throttle = new BackgroundThrottle(options);
    rate.entriesPerSec = this.throttle.perSec;
  }

  /** A foreground request's latency. */
  record(ms: number): void {
    this.window.record(ms);
  }

  /** One control step; `building`: a build ran in the interval (its latencies do not teach the baseline). */
  tick(building: boolean): number {
    const perSec = this.throttle.update(this.window.p99(), building);
    this.window.reset();
    this.rate.entriesPerSec = perSec;
    return perSec;
  }

  get baselineP99Ms(): number | null {
    return this.throttle.baselineP99Ms;
  }
}
