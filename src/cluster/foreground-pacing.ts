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

/**
 * How often both rates are recomputed (a build reads the scan rate every
 * SCAN_PACE_ENTRIES, an actor the cap every turn). Long enough for a p99
 * at a light load: 100 requests a second give 100 latencies, not the 25 of
 * a quarter second, whose p99 is the one slowest request.
 */
export const PACE_INTERVAL_MS = 1000;
/**
 * The cap grows back by this fraction of backgroundMaxPerSec per interval
 * while requests are within their target (it halves when they are not): a
 * hundred seconds from the minimum to the maximum. Faster growth (a
 * twentieth) kept the cap above what the foreground could bear for a few
 * seconds after every halving.
 */
export const BACKGROUND_CAP_STEP_FRACTION = 1 / 100;
/**
 * The scan rate grows back by this fraction of antiEntropyScanMaxPerSec
 * per interval. A scan entry costs far less than a streamed one (a read in
 * a niced thread, no write), and a pass over 60 M entries at the scan's
 * minimum would take most of an hour; so it grows back five times faster
 * than the cap.
 */
export const SCAN_STEP_FRACTION = 1 / 20;

/** The Merkle builds as the pacing sees them (MerkleBuilds). */
export interface BuildActivity {
  /** A build is running now. */
  readonly busy: boolean;
  /** Builds started plus builds settled, ever. */
  readonly events: number;
}

/**
 * Did any background work run since this reader last looked: an actor's
 * (the shared counter they bump) or a Merkle build (running now, or started
 * or settled since)? An interval in which any ran teaches neither rate's
 * quiet baseline: a build slows requests as a stream does.
 */
class BackgroundSeen {
  private buildEventsSeen = -1;

  constructor(
    /** The counter actors bump; this is its one reader. */
    private readonly actors: SharedActivity,
    private readonly builds: BuildActivity,
  ) {}

  sinceLastLook(): boolean {
    const events = this.builds.events;
    const buildRan = this.builds.busy || (this.buildEventsSeen !== -1 && events !== this.buildEventsSeen);
    this.buildEventsSeen = events;
    const actorRan = this.actors.ranSinceLastLook();
    return buildRan || actorRan;
  }
}

export class ForegroundPacing implements LatencySink {
  private readonly scan: RatePacer;
  private readonly background: RatePacer;
  private readonly activity = new SharedActivity();
  private readonly timer: { cancel(): void };

  /**
   * @param scanRate The Merkle builds' rate (MerkleBuilds.rate).
   * @param builds The Merkle builds, to know whether one ran in an interval.
   */
  constructor(o: ResolvedOptions, timers: Timers, scanRate: SharedRate, builds: BuildActivity) {
    const shared = { targetP99Ms: o.backgroundTargetP99Ms, baselineFactor: o.backgroundP99Factor, floorMs: o.backgroundP99FloorMs };
    this.scan = new RatePacer(scanRate, { ...shared, ...limits(Math.min(o.antiEntropyScanMinPerSec, o.antiEntropyScanMaxPerSec), o.antiEntropyScanMaxPerSec, SCAN_STEP_FRACTION) });
    this.background = new RatePacer(new SharedRate(), { ...shared, ...limits(o.backgroundMinPerSec, Math.max(o.backgroundMinPerSec, o.backgroundMaxPerSec), BACKGROUND_CAP_STEP_FRACTION) });
    const seen = new BackgroundSeen(this.activity, builds);
    this.timer = timers.setInterval(() => {
      const backgroundRan = seen.sinceLastLook();
      this.scan.tick(backgroundRan);
      this.background.tick(backgroundRan);
    }, PACE_INTERVAL_MS);
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
    this.timer.cancel();
  }
}

function limits(minPerSec: number, maxPerSec: number, stepFraction: number): Pick<ThrottleOptions, 'minPerSec' | 'maxPerSec' | 'stepPerSec'> {
  return { minPerSec, maxPerSec, stepPerSec: Math.max(1, Math.ceil(maxPerSec * stepFraction)) };
}
