import assert from 'node:assert/strict';
import { MsgType, type SyncRanges } from '../transport/protocol.js';
import { RangeCursor, type BackgroundBudget, type PacedJob } from './background-budget.js';
import type { ActorContext } from './context.js';
import type { DeadlineSweep, Expiring } from './deadlines.js';
import type { AckReceiver, OpView } from './op-table.js';

/** A push not acknowledged within this long counts as failed (the next pass retries it). */
const SYNC_PUSH_TIMEOUT_MS = 30_000;

/** One anti-entropy push (SyncRanges); every entry it sends to a peer is an op of it. */
export interface SyncJob {
  readonly kind: 'push';
  readonly client: number;
  readonly req: number;
  /** Pushes whose ack never comes (lost to a fault) are given up after this; moved on while the push progresses. */
  deadlineMs: number;
  readonly cursor: RangeCursor;
  readonly peers: readonly number[];
  pumping: boolean;
  /** A next chunk is already scheduled (so the throttle tick does not start a second chain). */
  scheduled: boolean;
  /** Entries sent and not acked, plus one held while the push is still being paced out. */
  outstanding: number;
  keys: number;
  bytes: number;
  failed: number;
}

/**
 * Anti-entropy pushes: every entry this replica holds in the given ranges
 * (the leaves whose Merkle hashes differ) goes to the other replicas as an
 * acked Replicate; they merge it as any replica write (siblings kept,
 * tombstones respected). Only differing leaves are named, so what moves is
 * proportional to the difference, not to the data. Paced by the background
 * budget, and by a window of unacknowledged entries.
 */
export class RangePush implements PacedJob, Expiring, AckReceiver<SyncJob> {
  private readonly jobs = new Set<SyncJob>();
  /** Entries pushed to other replicas (one per receiving peer). */
  keysSent = 0;

  constructor(
    private readonly ctx: ActorContext,
    private readonly ops: OpView<SyncJob>,
    private readonly budget: BackgroundBudget,
    private readonly sweep: DeadlineSweep,
  ) {}

  get busy(): boolean {
    return this.jobs.size > 0;
  }

  start(from: number, m: SyncRanges): void {
    if (this.jobs.size >= this.ctx.config.maxRepairPushesPerActor) {
      this.ctx.transport.send(from, { type: MsgType.SyncDone, req: m.req, keys: 0, bytes: 0, failed: 1 });
      return;
    }
    const job: SyncJob = {
      kind: 'push',
      client: from,
      req: m.req,
      deadlineMs: this.ctx.clock.monotonicMs() + SYNC_PUSH_TIMEOUT_MS,
      cursor: new RangeCursor(m.ranges),
      peers: m.peers,
      pumping: true,
      scheduled: false,
      outstanding: 1,
      keys: 0,
      bytes: 0,
      failed: 0,
    };
    this.jobs.add(job);
    this.sweep.arm();
    this.pump(job);
  }

  acked(op: number, job: SyncJob, _from: number, ok: boolean): void {
    assert(job.outstanding > (job.pumping ? 1 : 0), 'an ack is for an entry sent and not acked');
    this.ops.delete(op);
    if (!ok) job.failed++;
    if (--job.outstanding === 0) this.finish(job);
    else if (job.pumping && !job.scheduled && job.outstanding - 1 <= this.ctx.config.backgroundWindowEntries / 2) {
      // the window has room again: go on (the throttle tick would too, later)
      this.schedule(job);
    }
  }

  resume(): void {
    for (const job of this.jobs) if (job.pumping && !job.scheduled) this.pump(job);
  }

  waiting(): boolean {
    return this.jobs.size > 0;
  }

  /** Give up on the missing acks of a push past its deadline (rare: a fault ate them). */
  expire(nowMs: number): void {
    for (const job of this.jobs) {
      if (job.deadlineMs > nowMs) continue;
      this.jobs.delete(job);
      this.ops.dropWhere((j) => j === job);
      job.failed += job.outstanding;
      job.outstanding = 0;
      this.finish(job);
    }
  }

  /** Send as much of a push as the budget and the window allow now; acks and the throttle tick call again for the rest. */
  private pump(job: SyncJob): void {
    job.scheduled = false;
    if (!job.pumping || !this.jobs.has(job)) return;
    const config = this.ctx.config;
    while (!job.cursor.done) {
      if (job.keys >= config.maxRepairPushEntries) {
        job.failed++; // cut short: the cluster counts this push as incomplete, and the next pass sends the rest
        job.cursor.end();
        break;
      }
      const budget = this.budget.available();
      if (budget < 1) return; // resumed once budget accrues
      // every entry goes to each peer: send only as many as the window has room for (acks resume it)
      const room = Math.floor((config.backgroundWindowEntries - (job.outstanding - 1)) / Math.max(1, job.peers.length));
      if (room < 1) return;
      const chunk = job.cursor.read(this.budget, Math.min(budget, room, config.maxRepairPushEntries - job.keys));
      if (chunk.length === 0) continue;
      job.deadlineMs = this.ctx.clock.monotonicMs() + SYNC_PUSH_TIMEOUT_MS;
      for (const { key, value } of chunk) {
        job.keys++;
        this.budget.take();
        for (const peer of job.peers) this.send(job, peer, key, value);
      }
      this.budget.noteWindow(job.outstanding - 1);
      // one chunk per turn: requests waiting in this actor's queue get in between
      return this.schedule(job);
    }
    job.pumping = false;
    if (--job.outstanding === 0) this.finish(job);
  }

  private send(job: SyncJob, peer: number, key: Buffer, value: Buffer): void {
    const op = this.ops.add(job);
    if (this.ctx.transport.send(peer, { type: MsgType.Replicate, op, key, clock: value, background: true })) {
      job.outstanding++;
      job.bytes += key.length + value.length;
      this.keysSent++;
    } else {
      this.ops.delete(op);
      job.failed++;
    }
  }

  private schedule(job: SyncJob): void {
    job.scheduled = true;
    this.ctx.timers.setImmediate(() => this.pump(job));
  }

  private finish(job: SyncJob): void {
    this.jobs.delete(job);
    this.ctx.transport.send(job.client, { type: MsgType.SyncDone, req: job.req, keys: job.keys, bytes: job.bytes, failed: job.failed });
  }
}
