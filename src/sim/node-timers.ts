import type { Timers } from '../runtime/services.js';
import type { VirtualTime } from './virtual-time.js';

/**
 * One simulated node's timers over the shared virtual time. A crash stops
 * them all at once: nothing a dead node scheduled (a retry, a gossip round,
 * a group commit, a transport flush) ever runs, as nothing of a killed
 * thread does.
 */
export class NodeTimers implements Timers {
  private alive = true;
  /** While simulated time is before this, the node is frozen: what falls due runs when it thaws. */
  private frozenUntilMs = -Infinity;
  private readonly handles = new Set<{ cancel(): void }>();

  constructor(
    private readonly time: VirtualTime,
    private readonly maxHandles = 100_000,
  ) {}

  get isAlive(): boolean {
    return this.alive;
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    let cancelled = false;
    const inner = this.time.setTimeout(() => {
      this.handles.delete(handle);
      this.whenThawed(() => !cancelled && fn());
    }, ms);
    const handle = this.track({
      cancel: () => {
        cancelled = true;
        inner.cancel();
      },
    });
    return handle;
  }

  setInterval(fn: () => void, ms: number): { cancel(): void } {
    // a frozen thread's interval fires once when it thaws, not once per period missed
    let owed = false;
    let cancelled = false;
    const inner = this.time.setInterval(() => {
      if (owed) return;
      owed = true;
      this.whenThawed(() => {
        owed = false;
        if (!cancelled) fn();
      });
    }, ms);
    return this.track({
      cancel: () => {
        cancelled = true;
        inner.cancel();
      },
    });
  }

  setImmediate(fn: () => void): void {
    if (this.alive) this.time.setImmediate(() => this.whenThawed(fn));
  }

  /** Freeze the node for `ms` (a long GC, a stopped process): nothing it scheduled runs until then. */
  freeze(ms: number): void {
    this.frozenUntilMs = Math.max(this.frozenUntilMs, this.time.monotonicMs() + ms);
  }

  /** Run `fn` now, or when the node thaws; never on a dead node. */
  whenThawed(fn: () => void): void {
    if (!this.alive) return;
    if (this.time.monotonicMs() >= this.frozenUntilMs) return fn();
    this.time.at(this.frozenUntilMs, 'thaw', () => this.whenThawed(fn));
  }

  /** The node crashed: cancel everything it scheduled. */
  kill(): void {
    this.alive = false;
    for (const h of this.handles) h.cancel();
    this.handles.clear();
  }

  private track(inner: { cancel(): void }): { cancel(): void } {
    if (this.handles.size >= this.maxHandles) throw new RangeError(`a simulated node holds more than ${this.maxHandles} timers`);
    const handle = {
      cancel: () => {
        this.handles.delete(handle);
        inner.cancel();
      },
    };
    this.handles.add(handle);
    return handle;
  }
}
