import { open, type Database, type RootDatabase } from 'lmdb';

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
    const root = open({ path, readOnly: true, maxDbs: 8 });
    try {
      const data = root.openDB<Buffer, Buffer>({
        name: 'data',
        encoding: 'binary',
        keyEncoding: 'binary',
        // must match ActorStore.open, or compressed values read back garbled
        compression: compressionThresholdBytes > 0 ? { threshold: compressionThresholdBytes } : false,
      } as never);
      return new ReplicaReader(root, data);
    } catch (err) {
      void root.close();
      throw err;
    }
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
    return this.data.get(storedKey) ?? undefined;
  }

  /** Synchronous for a read-only env (it has no writes to wait for): no read can touch it afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.root.close();
  }
}
