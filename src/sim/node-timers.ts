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
  private readonly handles = new Set<{ cancel(): void }>();

  constructor(
    private readonly time: VirtualTime,
    private readonly maxHandles = 100_000,
  ) {}

  get isAlive(): boolean {
    return this.alive;
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const inner = this.time.setTimeout(() => {
      this.handles.delete(handle);
      if (this.alive) fn();
    }, ms);
    const handle = this.track(inner);
    return handle;
  }

  setInterval(fn: () => void, ms: number): { cancel(): void } {
    return this.track(this.time.setInterval(() => this.alive && fn(), ms));
  }

  setImmediate(fn: () => void): void {
    if (this.alive) this.time.setImmediate(() => this.alive && fn());
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
