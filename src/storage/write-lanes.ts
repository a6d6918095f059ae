import { strict as assert } from 'node:assert';

/** What the lanes need to know of a queued write. */
export interface LaneWrite {
  /** The lane it waits in (set by laneFor when it was queued). */
  readonly background: boolean;
  /** A commit has taken it. */
  taken: boolean;
}

/**
 * The two queues of writes waiting for a group commit (pure: no I/O).
 * Foreground writes (a request waits for them) go first in every commit;
 * background writes (handoff and anti-entropy entries, cleanup, reap and
 * expiry deletes) follow, at most `maxBackground` a commit, on top of the
 * foreground ones so that a busy foreground never starves them. A request's
 * write then waits behind at most one commit's worth of background writes,
 * not behind everything a stream has queued.
 */
export class WriteLanes<W extends LaneWrite> {
  private foreground: W[] = [];
  private background: W[] = [];

  constructor(
    private readonly maxForeground: number,
    private readonly maxBackground: number,
  ) {
    assert(Number.isInteger(maxForeground) && maxForeground >= 1, 'maxWritesPerCommit must be a positive integer');
    assert(Number.isInteger(maxBackground) && maxBackground >= 1, 'maxBackgroundWritesPerCommit must be a positive integer');
  }

  /**
   * The lane a write joins: that of its key's latest write while that one
   * still waits (so a key's waiting writes are all in one lane, and commit
   * in the order they were made), else its own.
   */
  static laneFor(background: boolean, latestOfKey: LaneWrite | undefined): boolean {
    return latestOfKey !== undefined && !latestOfKey.taken ? latestOfKey.background : background;
  }

  push(w: W): void {
    (w.background ? this.background : this.foreground).push(w);
  }

  get empty(): boolean {
    return this.foreground.length === 0 && this.background.length === 0;
  }

  /** The next commit's writes, marked taken: foreground first, each lane in order. */
  take(): W[] {
    const fg = takeFront(this.foreground, this.maxForeground);
    this.foreground = fg.rest;
    const bg = takeFront(this.background, this.maxBackground);
    this.background = bg.rest;
    const writes = bg.taken.length === 0 ? fg.taken : fg.taken.length === 0 ? bg.taken : fg.taken.concat(bg.taken);
    assert(writes.length > 0, 'a commit carries at least one write');
    for (const w of writes) w.taken = true;
    return writes;
  }
}

function takeFront<T>(queue: T[], max: number): { taken: T[]; rest: T[] } {
  return queue.length <= max ? { taken: queue, rest: [] } : { taken: queue.slice(0, max), rest: queue.slice(max) };
}
