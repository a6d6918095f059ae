import assert from 'node:assert/strict';
import { foreignRanges, type PositionRange, type Ring } from '../ring/ring.js';
import { positionOf } from '../storage/keys.js';
import type { BackgroundBudget, PacedJob } from './background-budget.js';
import type { CleanupReport } from './config.js';
import type { ActorContext } from './context.js';

interface CleanupJob {
  readonly promise: Promise<CleanupReport>;
  readonly resolve: (r: CleanupReport) => void;
  /** The ring the spans were computed from; recomputed when the ring changes mid-job. */
  ring: Ring;
  spans: readonly PositionRange[];
  /** Next position to look at, and the last key handled at it (a chunk can end mid-position). */
  position: number;
  afterKey: Buffer | null;
  scheduled: boolean;
  scanning: boolean;
  /** Deletes not committed yet. */
  outstanding: number;
  scanned: number;
  removed: number;
  failed: number;
}

/**
 * Cleanup after a membership change: delete the entries this actor stores
 * for positions it no longer replicates (the change moved them to other
 * actors), paced by the background budget and a window of uncommitted
 * deletes. Positions it replicates under the current or the pending ring
 * are kept. One job at a time: a second call joins the first.
 */
export class Cleanup implements PacedJob {
  private job: CleanupJob | null = null;
  /** Entries deleted by cleanups. */
  removedKeys = 0;

  constructor(
    private readonly ctx: ActorContext,
    private readonly budget: BackgroundBudget,
  ) {}

  get busy(): boolean {
    return this.job !== null;
  }

  start(): Promise<CleanupReport> {
    if (this.job !== null) return this.job.promise;
    let resolve!: (r: CleanupReport) => void;
    const promise = new Promise<CleanupReport>((r) => (resolve = r));
    if (this.ctx.closing) {
      resolve({ id: this.ctx.id, scanned: 0, removed: 0, failed: 0 });
      return promise;
    }
    const ring = this.ctx.ring;
    const job: CleanupJob = { promise, resolve, ring, spans: foreignRanges(ring, this.ctx.id), position: 0, afterKey: null, scheduled: false, scanning: true, outstanding: 0, scanned: 0, removed: 0, failed: 0 };
    this.job = job;
    this.pump(job);
    return promise;
  }

  resume(): void {
    if (this.job !== null && this.job.scanning && !this.job.scheduled) this.pump(this.job);
  }

  /** The actor closes: stop reading; the job ends once its deletes are committed. */
  close(): void {
    if (this.job === null) return;
    this.job.scanning = false;
    this.finishIfDone(this.job);
  }

  /** One chunk per turn, as the background budget and the window allow; the throttle tick and commits resume it. */
  private pump(job: CleanupJob): void {
    job.scheduled = false;
    if (!job.scanning || this.ctx.closing) return;
    if (job.ring !== this.ctx.ring) {
      // the ring switched mid-job: go on from the same position with the new ring's spans
      job.ring = this.ctx.ring;
      job.spans = foreignRanges(job.ring, this.ctx.id);
    }
    const budget = this.budget.available();
    if (budget < 1) return; // resumed once budget accrues
    const room = this.ctx.config.backgroundWindowEntries - job.outstanding;
    if (room < 1) return; // commits resume it
    const span = job.spans.find((sp) => sp.to > job.position);
    if (span === undefined) {
      job.scanning = false;
      return this.finishIfDone(job);
    }
    const from = Math.max(span.from, job.position);
    if (from > job.position) job.afterKey = null;
    const chunk = this.budget.chunk(from, span.to, job.afterKey, Math.min(budget, room, this.ctx.config.backgroundChunkEntries));
    if (chunk.length === 0) {
      job.position = span.to;
      job.afterKey = null;
    } else {
      for (const { key } of chunk) {
        job.scanned++;
        this.budget.take();
        // checked now, not when the spans were computed: a pending ring may have given this position back
        if (!this.ctx.replicates(positionOf(key))) this.remove(job, key);
      }
      this.budget.noteWindow(job.outstanding);
      const last = chunk[chunk.length - 1]!.key;
      job.position = positionOf(last);
      job.afterKey = last;
    }
    this.schedule(job);
  }

  private remove(job: CleanupJob, key: Buffer): void {
    job.outstanding++;
    const committed = (err: Error | null): void => {
      assert(job.outstanding > 0, 'a commit is for a delete not committed yet');
      job.outstanding--;
      if (err === null) {
        job.removed++;
        this.removedKeys++;
      } else job.failed++;
      this.finishIfDone(job);
      // half the window committed: go on at once
      if (job.scanning && !job.scheduled && job.outstanding === Math.floor(this.ctx.config.backgroundWindowEntries / 2)) this.schedule(job);
    };
    this.ctx.store.write(key, null, committed, true);
  }

  private schedule(job: CleanupJob): void {
    job.scheduled = true;
    this.ctx.timers.setImmediate(() => this.pump(job));
  }

  private finishIfDone(job: CleanupJob): void {
    if (job.scanning || job.outstanding > 0 || this.job !== job) return;
    this.job = null;
    job.resolve({ id: this.ctx.id, scanned: job.scanned, removed: job.removed, failed: job.failed });
  }
}
