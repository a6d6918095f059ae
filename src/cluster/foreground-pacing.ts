/**
 * Background work paced by what the cluster's callers see: every
 * coordinated request's latency, from its dispatch to its reply, sets two
 * shared rates. One is the Merkle builds' scan rate. The other caps every
 * actor's background budget (handoff and anti-entropy pushes, cleanups,
 * reaps, hint handoff). An actor's own throttle hears only the requests it
 * coordinates, from their arrival: at a light load a handful per interval,
 * too few for a p99, and none of the time a request waits in queues before
 * and after. The front end hears them all.
 */
import { RatePacer, SharedActivity, SharedRate, type BackgroundCapBuffers } from '../coordinator/shared-rate.js';
import type { ThrottleOptions } from '../coordinator/throttle.js';
import type { Timers } from '../runtime/services.js';
import type { ResolvedOptions } from './options.js';
import type { LatencySink } from './router.js';

/** How often the Merkle builds' scan rate is recomputed (a build reads the rate every SCAN_PACE_ENTRIES). */
export const SCAN_PACE_INTERVAL_MS = 250;
/**
 * How often the actors' cap is recomputed: long enough for a p99 at a light
 * load (100 requests a second give 100 latencies, not 25).
 */
export const BACKGROUND_CAP_INTERVAL_MS = 1000;
/**
 * The cap grows back by this fraction of backgroundMaxPerSec per interval
 * while requests are within their target (it halves when they are not): a
 * hundred seconds from the minimum to the maximum. Faster growth (a
 * twentieth) kept the cap above what the foreground could bear for a few
 * seconds after every halving.
 */
export const BACKGROUND_CAP_STEP_FRACTION = 1 / 100;

export class ForegroundPacing implements LatencySink {
  private readonly scan: RatePacer;
  private readonly background: RatePacer;
  private readonly activity = new SharedActivity();
  private readonly timers: { cancel(): void }[];

  /**
   * @param scanRate The Merkle builds' rate (MerkleBuilds.rate).
   * @param building A build is running now.
   */
  constructor(o: ResolvedOptions, timers: Timers, scanRate: SharedRate, building: () => boolean) {
    const shared = { targetP99Ms: o.backgroundTargetP99Ms, baselineFactor: o.backgroundP99Factor, floorMs: o.backgroundP99FloorMs };
    this.scan = new RatePacer(scanRate, { ...shared, ...limits(Math.min(o.antiEntropyScanMinPerSec, o.antiEntropyScanMaxPerSec), o.antiEntropyScanMaxPerSec) });
    this.background = new RatePacer(new SharedRate(), { ...shared, ...limits(o.backgroundMinPerSec, Math.max(o.backgroundMinPerSec, o.backgroundMaxPerSec), BACKGROUND_CAP_STEP_FRACTION) });
    this.timers = [
      timers.setInterval(() => this.scan.tick(building()), SCAN_PACE_INTERVAL_MS),
      timers.setInterval(() => this.background.tick(this.activity.ranSinceLastLook()), BACKGROUND_CAP_INTERVAL_MS),
    ];
  }

  record(ms: number): void {
    this.scan.record(ms);
    this.background.record(ms);
  }

  /** For every actor's config: the cap and the activity counter. */
  get capBuffers(): BackgroundCapBuffers {
    return { rate: this.background.rate.buffer, activity: this.activity.buffer };
  }

  /** The actors' cap now, entries per second. */
  get backgroundCapPerSec(): number {
    return this.background.rate.entriesPerSec;
  }

  close(): void {
    for (const t of this.timers) t.cancel();
  }
}

function limits(minPerSec: number, maxPerSec: number, stepFraction = 1 / 20): Pick<ThrottleOptions, 'minPerSec' | 'maxPerSec' | 'stepPerSec'> {
  return { minPerSec, maxPerSec, stepPerSec: Math.max(1, Math.ceil(maxPerSec * stepFraction)) };
}
