import assert from 'node:assert/strict';
import { SharedActivity, SharedRate } from '../coordinator/shared-rate.js';
import { BackgroundThrottle, LatencyWindow, TokenBucket } from '../coordinator/throttle.js';
import type { StoredEntry } from '../storage/replica-store.js';
import type { ActorContext } from './context.js';

/** How often the background budget is recomputed from the foreground p99 (and paced jobs go on): the actor's timer calls tick(). */
export const THROTTLE_INTERVAL_MS = 250;
/**
 * At most this many milliseconds' worth of background budget is spent back
 * to back: at 50 000 entries/s, 1000 entries (four chunks), then the next
 * chunk when its budget has accrued. Requests wait behind one burst, not
 * behind a whole throttle interval's worth.
 */
const BACKGROUND_BURST_MS = 20;

/** A job paced by the budget: whether it runs, and how it goes on once budget accrues. */
export interface PacedJob {
  readonly busy: boolean;
  resume(): void;
}

/**
 * The pacing every background job of an actor shares (anti-entropy pushes,
 * cleanups, reaps; hint handoff takes its rate): foreground latencies go
 * in, a budget of background entries per second comes out (admission
 * control on the foreground p99, coordinator/throttle.ts), never above
 * the cluster's cap (set by the front end from the latency every caller
 * sees: cluster/foreground-pacing.ts), spent from a token bucket. A job out
 * of budget stops; one timer resumes them all.
 */
export class BackgroundBudget {
  /** Latencies of the requests this actor coordinated since the last throttle tick. */
  readonly foreground = new LatencyWindow();
  private readonly throttle: BackgroundThrottle;
  private readonly bucket = new TokenBucket(BACKGROUND_BURST_MS);
  /** Budget was taken since the last throttle tick (that interval does not teach the quiet baseline). */
  private used = false;
  /** A paced job out of budget waits for this (one timer for all of them). */
  private resumeTimer: { cancel(): void } | null = null;
  private readonly jobs: PacedJob[] = [];
  private chunkPeak = 0;
  /**
   * The most a push or cleanup had unacknowledged at once. The window
   * (backgroundWindowEntries) exists because a pusher paced only by its
   * budget outruns a slower receiver, and the difference waits in message
   * queues and pending overlays: memory that grows with the data moved.
   */
  private windowPeak = 0;
  /** The cluster's cap (0: none yet) and where this actor says its background work ran; null without a front end (the simulator). */
  private readonly cap: SharedRate | null;
  private readonly activity: SharedActivity | null;

  constructor(private readonly ctx: ActorContext) {
    const config = ctx.config;
    this.cap = config.backgroundCap === null ? null : new SharedRate(config.backgroundCap.rate);
    this.activity = config.backgroundCap === null ? null : new SharedActivity(config.backgroundCap.activity);
    this.throttle = new BackgroundThrottle({
      targetP99Ms: config.backgroundTargetP99Ms,
      minPerSec: config.backgroundMinPerSec,
      maxPerSec: config.backgroundMaxPerSec,
      stepPerSec: Math.max(1, Math.ceil(config.backgroundMaxPerSec / 20)),
      baselineFactor: config.backgroundP99Factor,
      floorMs: config.backgroundP99FloorMs,
    });
  }

  /** Jobs resumed in the order they were paced. */
  pace(job: PacedJob): void {
    this.jobs.push(job);
  }

  /** Background entries per second allowed now: the actor's own throttle, under the cluster's cap. */
  get perSec(): number {
    const own = this.throttle.perSec;
    const cap = this.cap === null ? 0 : this.cap.entriesPerSec;
    return cap > 0 ? Math.min(own, cap) : own;
  }

  /** Background entries that may go now (the bucket accrues at the throttle's rate); when none, a timer resumes the paced jobs. */
  available(): number {
    const perSec = this.perSec;
    const budget = Math.floor(this.bucket.available(this.ctx.clock.monotonicMs(), perSec));
    if (budget < 1 && this.resumeTimer === null && !this.ctx.closing) {
      this.resumeTimer = this.ctx.timers.setTimeout(() => {
        this.resumeTimer = null;
        this.resume();
      }, Math.max(1, this.bucket.waitMs(perSec)));
    }
    return budget;
  }

  /** One entry of budget spent. */
  take(): void {
    this.bucket.take(1);
    this.used = true;
  }

  /** Budget of another bucket at this rate was spent (hint handoff). */
  markUsed(): void {
    this.used = true;
  }

  /** One chunk of a paced background scan (copies, bounded in entries and bytes), its size remembered for stats. */
  chunk(fromPosition: number, toPosition: number, afterKey: Buffer | null, limit: number): StoredEntry[] {
    const config = this.ctx.config;
    const chunk = this.ctx.store.rangeAfter(fromPosition, toPosition, afterKey, Math.min(limit, config.backgroundChunkEntries), config.backgroundChunkBytes);
    let bytes = 0;
    for (const e of chunk) bytes += e.key.length + e.value.length;
    if (bytes > this.chunkPeak) this.chunkPeak = bytes;
    return chunk;
  }

  /** A job has this many entries unacknowledged (uncommitted) now. */
  noteWindow(unacknowledged: number): void {
    // the window is what bounds memory while data moves: never overrun
    assert(unacknowledged <= this.ctx.config.backgroundWindowEntries, `${unacknowledged} entries unacknowledged, over backgroundWindowEntries`);
    if (unacknowledged > this.windowPeak) this.windowPeak = unacknowledged;
  }

  /** The largest chunk (key + value bytes) a background job read at once. */
  get chunkPeakBytes(): number {
    return this.chunkPeak;
  }

  /** The most entries a push or cleanup had unacknowledged at once. */
  get windowPeakEntries(): number {
    return this.windowPeak;
  }

  close(): void {
    this.resumeTimer?.cancel();
    this.resumeTimer = null;
  }

  /** Every THROTTLE_INTERVAL_MS: a new budget from the foreground p99, and paced jobs go on. */
  tick(): void {
    // an interval in which a background job took budget does not teach the throttle the quiet baseline
    const ran = this.used || this.jobs.some((j) => j.busy);
    this.throttle.update(this.foreground.p99(), ran);
    if (ran) this.activity?.bump(); // nor the cluster's
    this.used = false;
    this.foreground.reset();
    this.resume();
  }

  /** Paced jobs waiting for budget (not for acks or commits) go on. */
  private resume(): void {
    if (this.ctx.closing) return;
    for (const job of this.jobs) job.resume();
  }
}

/**
 * Where a paced scan over position ranges goes on: the range, and the last
 * key read in it (a chunk can end mid-position).
 */
export class RangeCursor {
  private index = 0;
  private afterKey: Buffer | null = null;

  constructor(private readonly ranges: readonly (readonly [number, number])[]) {}

  get done(): boolean {
    return this.index >= this.ranges.length;
  }

  /** Stop here: the rest is left for another time. */
  end(): void {
    this.index = this.ranges.length;
  }

  /** The next chunk of at most `limit` entries of the current range; empty when that range is read out (the cursor moves to the next). */
  read(budget: BackgroundBudget, limit: number): StoredEntry[] {
    const [lo, hi] = this.ranges[this.index]!;
    const chunk = budget.chunk(lo, hi, this.afterKey, limit);
    if (chunk.length === 0) {
      this.index++;
      this.afterKey = null;
    } else {
      this.afterKey = chunk[chunk.length - 1]!.key;
    }
    return chunk;
  }
}
