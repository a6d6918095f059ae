import type { ActorContext } from './context.js';

/** A job with deadlines: whether anything of it waits, and what to do with what is due at `nowMs`. */
export interface Expiring {
  waiting(): boolean;
  expire(nowMs: number): void;
}

/**
 * The deadline sweep: every sweepIntervalMs while something waits
 * (requests, pushes), each watched job handles what is due: retries,
 * speculative reads, deadlines. An idle actor does not wake every few ms.
 */
export class DeadlineSweep {
  private timer: { cancel(): void } | null = null;
  private readonly watched: Expiring[] = [];

  constructor(private readonly ctx: ActorContext) {}

  /** Jobs are swept in the order they are watched. */
  watch(job: Expiring): void {
    this.watched.push(job);
  }

  /** Something began to wait: sweep until nothing does. */
  arm(): void {
    if (this.timer === null && !this.ctx.closing) this.timer = this.ctx.timers.setInterval(() => this.run(), this.ctx.config.sweepIntervalMs);
  }

  close(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private run(): void {
    if (!this.anyWaiting()) return this.close();
    const now = this.ctx.clock.monotonicMs();
    for (const job of this.watched) job.expire(now);
  }

  private anyWaiting(): boolean {
    for (const job of this.watched) if (job.waiting()) return true;
    return false;
  }
}
