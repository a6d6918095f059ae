import { createHash, type Hash } from 'node:crypto';
import type { Clock, Timers } from '../runtime/services.js';

/**
 * Simulated time for the deterministic simulator: the runtime's Clock and
 * Timers over one event queue, ordered by (time, order of scheduling). No
 * wall clock and no real timer is ever consulted, so a run is a pure
 * function of its inputs: the same seed replays the same events in the same
 * order, on any machine (FoundationDB's simulation and TigerBeetle's VOPR
 * rest on the same property).
 *
 * `setImmediate` runs after everything already due at the current instant,
 * as Node's check phase runs after the I/O already polled. Every event run
 * is folded into a trace digest (its time and label), which is how two runs
 * are compared.
 */
export class VirtualTime implements Clock, Timers {
  private nowMs: number;
  private readonly startMs: number;
  private seq = 0;
  /** A binary heap of pending events, earliest (then first scheduled) on top. */
  private readonly heap: SimEvent[] = [];
  private readonly trace: Hash = createHash('sha256');
  private eventsRun = 0;

  /** `epochMs`: what now() answers at the start (wall-clock ms since the epoch, for LWW timestamps and expiry). */
  constructor(
    epochMs: number,
    private readonly limits: { maxPendingEvents: number } = { maxPendingEvents: 1_000_000 },
  ) {
    if (!Number.isSafeInteger(epochMs) || epochMs < 0) throw new RangeError(`epochMs must be a non-negative integer, got ${epochMs}`);
    this.nowMs = epochMs;
    this.startMs = epochMs;
  }

  now(): number {
    return this.nowMs;
  }

  monotonicMs(): number {
    return this.nowMs - this.startMs;
  }

  /** Events run so far, and still pending. */
  get executed(): number {
    return this.eventsRun;
  }

  get pending(): number {
    return this.heap.length;
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const e = this.schedule(this.nowMs + delayOf(ms), fn, 'timeout');
    return { cancel: () => (e.cancelled = true) };
  }

  setInterval(fn: () => void, ms: number): { cancel(): void } {
    const every = Math.max(1, delayOf(ms)); // an interval of 0 would never let time move
    let current: SimEvent;
    let cancelled = false;
    const tick = (): void => {
      if (cancelled) return;
      current = this.schedule(this.nowMs + every, tick, 'interval');
      fn();
    };
    current = this.schedule(this.nowMs + every, tick, 'interval');
    return {
      cancel: () => {
        cancelled = true;
        current.cancelled = true;
      },
    };
  }

  setImmediate(fn: () => void): void {
    this.schedule(this.nowMs, fn, 'immediate');
  }

  /** Schedule `fn` at `atMonotonicMs` (simulated ms since the start; not before now) under a label that goes into the trace. */
  at(atMonotonicMs: number, label: string, fn: () => void): { cancel(): void } {
    const e = this.schedule(Math.max(this.nowMs, this.startMs + atMonotonicMs), fn, label);
    return { cancel: () => (e.cancelled = true) };
  }

  /**
   * Run the next event, moving time to it. False when none is left. An event
   * that throws stops the run: the simulator reports it with the seed.
   */
  step(): boolean {
    for (;;) {
      const e = this.pop();
      if (e === undefined) return false;
      if (e.cancelled) continue;
      if (e.atMs < this.nowMs) throw new Error(`internal: event at ${e.atMs} ms runs after ${this.nowMs} ms`);
      this.nowMs = e.atMs;
      this.eventsRun++;
      this.trace.update(`${e.atMs - this.startMs}:${e.label};`);
      e.fn();
      return true;
    }
  }

  /**
   * Run events until simulated time passes `untilMonotonicMs` (ms since the
   * start; events at it run) or none is left, then move time there; at most
   * `maxEvents` (time then stays at the last event run). Returns how many ran.
   */
  runUntil(untilMonotonicMs: number, maxEvents = Number.MAX_SAFE_INTEGER): number {
    const untilMs = this.startMs + untilMonotonicMs;
    let ran = 0;
    while (ran < maxEvents) {
      const next = this.peekLive();
      if (next === undefined || next.atMs > untilMs) break;
      this.step();
      ran++;
    }
    if (ran < maxEvents && this.nowMs < untilMs) this.nowMs = untilMs;
    return ran;
  }

  /** When the next pending event runs (simulated ms since the start; Infinity when none is pending). */
  nextEventMs(): number {
    const next = this.peekLive();
    return next === undefined ? Infinity : next.atMs - this.startMs;
  }

  /** Fold a label of the caller's into the trace (a request's outcome, say) without scheduling anything. */
  record(label: string): void {
    this.trace.update(`${this.nowMs - this.startMs}:${label};`);
  }

  /** Hex digest of everything run and recorded so far. */
  digest(): string {
    return this.trace.copy().digest('hex').slice(0, 16);
  }

  private schedule(atMs: number, fn: () => void, label: string): SimEvent {
    if (this.heap.length >= this.limits.maxPendingEvents) throw new RangeError(`more than ${this.limits.maxPendingEvents} simulated events pending (maxPendingEvents)`);
    const e: SimEvent = { atMs, seq: this.seq++, fn, label, cancelled: false };
    this.heap.push(e);
    this.siftUp(this.heap.length - 1);
    return e;
  }

  private peekLive(): SimEvent | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0];
  }

  private pop(): SimEvent | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (top !== undefined && last !== undefined && this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

interface SimEvent {
  readonly atMs: number;
  readonly seq: number;
  readonly fn: () => void;
  readonly label: string;
  cancelled: boolean;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

/** A delay that is not a positive finite number runs at the current instant, after what is already due there. */
function delayOf(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}
