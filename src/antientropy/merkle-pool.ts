import { Piscina } from 'piscina';
import type { ArcTree } from './merkle.js';
import type { MerkleTask } from './merkle-task.js';
import { SharedRate } from '../coordinator/shared-rate.js';

const MERKLE_ENTRY = new URL('../../workers/merkle.js', import.meta.url).href;

/**
 * The cluster's one pool for Merkle builds, created at start() or on first
 * use and kept until close(). A pool per pass started fresh threads every pass, each
 * with its own V8 heap and malloc arena, and the arenas outlived the
 * threads: anonymous memory climbed pass after pass.
 */
export class MerklePool {
  private pool: Piscina | null = null;
  private closed = false;
  private readonly running = new Set<Promise<unknown>>();
  private buildEvents = 0;
  /** How fast builds scan, entries per second (0 = unpaced); the cluster's ForegroundPacing sets it, running builds follow it. */
  readonly rate = new SharedRate();

  /** Build threads running now. */
  get threadCount(): number {
    return this.pool?.threads.length ?? 0;
  }

  /** A build is running. */
  get busy(): boolean {
    return this.running.size > 0;
  }

  /** Builds started plus builds settled, ever: a reader that saw another value last time knows one ran in between. */
  get events(): number {
    return this.buildEvents;
  }

  /**
   * @param threads Build threads (default 1: builds are background work on
   *   a machine whose cores the actors need for the foreground).
   * @param maxQueuedTasks Tasks waiting for a thread at most; more are refused by piscina.
   */
  constructor(
    private readonly threads = 1,
    private readonly maxQueuedTasks = 1024,
  ) {}

  /**
   * Start the build thread now rather than at the first build. A cluster
   * with periodic passes does (see MerkleBuilds): the thread, its heap and
   * its arena are then part of the memory the cluster has from its start,
   * not a step up at the first pass.
   */
  start(): void {
    if (this.closed) throw new Error('the Merkle pool is closed');
    if (this.pool !== null) return;
    this.pool = this.createPool(this.threads);
    // A task with no arcs settles once the thread has loaded the task module (and lmdb's native
    // addon); close() waits for it, so a thread is never terminated halfway through its start.
    const warmup = this.pool.run({ path: '', compressionThresholdBytes: 0, arcs: [] } satisfies MerkleTask).then(
      () => undefined,
      () => undefined,
    );
    this.running.add(warmup);
    void warmup.then(() => this.running.delete(warmup));
  }

  /** Build the trees of `task.arcs` over a read-only snapshot of the env at `task.path`. */
  async build(unpaced: MerkleTask): Promise<ArcTree[]> {
    const task: MerkleTask = { ...unpaced, rate: this.rate.buffer };
    if (this.closed) throw new Error('the Merkle pool is closed');
    this.pool ??= this.createPool(0);
    const run = this.pool.run(task) as Promise<ArcTree[]>;
    this.running.add(run);
    this.buildEvents++;
    try {
      return await run;
    } finally {
      this.running.delete(run);
      this.buildEvents++;
    }
  }

  private createPool(minThreads: number): Piscina {
    return new Piscina({
      filename: MERKLE_ENTRY,
      minThreads,
      maxThreads: this.threads,
      // a thread lives as long as the pool: no thread (and arena) churn between passes
      idleTimeout: 2 ** 31 - 1,
      maxQueue: this.maxQueuedTasks,
      // A scan makes a Buffer per entry: a small young generation collects them often
      // instead of letting the thread's heap grow by tens of MiB; the old generation only
      // holds one task's trees, so its cap is a guard, not a working limit.
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 },
    });
  }

  /**
   * Refuse new builds, let the running ones settle (piscina throws, outside
   * any promise, on a reply that arrives after its pool is gone), then end
   * the threads.
   */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    const pool = this.pool;
    this.pool = null;
    await pool?.destroy();
  }
}
