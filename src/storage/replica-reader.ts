import type { Database, RootDatabase } from 'lmdb';
import { readCopy } from './read-copy.js';
import { openReadOnlyEnv } from './store.js';

/**
 * A read-only handle on an actor's env for the front end's direct reads.
 * Opened with the same data-database settings as ActorStore (binary keys
 * and values, the same compression threshold), so a value reads back
 * exactly as the actor stored it. lmdb-js shares one native env per file
 * inside a process, so this is a second reader of the actor's own env.
 */
export class ReplicaReader {
  private closed = false;

  private constructor(
    private readonly root: RootDatabase,
    private readonly data: Database<Buffer, Buffer>,
  ) {}

  /** Open only while the actor holds the env open: a first opener's read-only flags would be shared with it. */
  static open(path: string, compressionThresholdBytes: number): ReplicaReader {
    const { root, data } = openReadOnlyEnv(path, compressionThresholdBytes);
    return new ReplicaReader(root, data);
  }

  /**
   * Make the next read take a new snapshot. lmdb-js keeps a thread's read
   * transaction for the rest of the event-loop turn (reset on a
   * setTimeout(0)), so without this a read can miss a commit that became
   * visible earlier in the same turn.
   */
  renew(): void {
    this.root.resetReadTxn();
  }

  /** The stored value (a copy), or undefined. */
  get(storedKey: Buffer): Buffer | undefined {
    if (this.closed) throw new Error('replica reader is closed');
    return readCopy(this.data, storedKey);
  }

  /** Synchronous for a read-only env (it has no writes to wait for): no read can touch it afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.root.close();
  }
}
