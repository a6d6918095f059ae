import { MsgType, type ReapRanges } from '../transport/protocol.js';
import { compareBytes, decodeClock, isAllTombstonesOrExpiring, reapable } from '../versioning/sibling.js';
import { RangeCursor, type BackgroundBudget, type PacedJob } from './background-budget.js';
import { IGNORE_WRITE, type ActorContext } from './context.js';

/** A reap (ReapRanges) paced like a push: one chunk per turn, within the background budget. */
interface ReapJob {
  readonly client: number;
  readonly req: number;
  readonly cursor: RangeCursor;
  readonly cutoffMs: number;
  scheduled: boolean;
  reaped: number;
}

/**
 * Tombstone reaping: remove tombstone-only entries whose tombstones are all
 * older than the cutoff. The main thread asks only for arcs whose replicas
 * were all up and identical, held tombstones, and no hint was pending
 * anywhere; the check is repeated here on the current value, so a write
 * that raced in is never removed.
 */
export class Reap implements PacedJob {
  private readonly jobs = new Set<ReapJob>();

  constructor(
    private readonly ctx: ActorContext,
    private readonly budget: BackgroundBudget,
  ) {}

  get busy(): boolean {
    return this.jobs.size > 0;
  }

  start(from: number, m: ReapRanges): void {
    const job: ReapJob = { client: from, req: m.req, cursor: new RangeCursor(m.ranges), cutoffMs: m.cutoffMs, scheduled: false, reaped: 0 };
    this.jobs.add(job);
    this.pump(job);
  }

  resume(): void {
    for (const job of this.jobs) if (!job.scheduled) this.pump(job);
  }

  private pump(job: ReapJob): void {
    job.scheduled = false;
    if (this.ctx.closing || !this.jobs.has(job)) return;
    const budget = this.budget.available();
    if (budget < 1) return; // resumed once budget accrues
    while (!job.cursor.done) {
      const chunk = job.cursor.read(this.budget, Math.min(budget, this.ctx.config.backgroundChunkEntries));
      if (chunk.length === 0) continue;
      for (const { key, value } of chunk) {
        this.budget.take();
        if (this.reapable(key, value, job.cutoffMs)) {
          this.ctx.store.write(key, null, IGNORE_WRITE, true);
          job.reaped++;
        }
      }
      job.scheduled = true;
      this.ctx.timers.setImmediate(() => this.pump(job));
      return;
    }
    this.jobs.delete(job);
    this.ctx.transport.send(job.client, { type: MsgType.ReapDone, req: job.req, reaped: job.reaped });
  }

  /** Still exactly what was read, and nothing but tombstones (or expired values) older than the cutoff. */
  private reapable(key: Buffer, value: Buffer, cutoffMs: number): boolean {
    if (!isAllTombstonesOrExpiring(value)) return false; // most entries: no decoding, no read
    const current = this.ctx.store.peek(key);
    if (current === undefined || compareBytes(current, value) !== 0) return false;
    return reapable(decodeClock(value), cutoffMs);
  }
}
