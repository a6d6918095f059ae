import { open, type Database, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { positionBound } from './keys.js';

/** Version of the on-disk layout; a directory written by another version is refused. */
export const LAYOUT_VERSION = 1;

export interface StoreOptions {
  readonly path: string;
  /** LMDB map size; set explicitly so lmdb-js never remaps (remaps keep old mappings alive). */
  readonly mapSizeBytes: number;
  /** Values larger than this are LZ4-compressed by lmdb-js; 0 disables compression. */
  readonly compressionThresholdBytes: number;
  /** Entries kept strongly in lmdb-js's LRFU cache (hot keys); 0 disables the cache. */
  readonly cacheEntries: number;
  /** Upper bound on writes grouped into one LMDB transaction. */
  readonly maxWritesPerCommit: number;
  /**
   * 'always': every group commit is fsynced before its writes are acknowledged
   * (survives power loss). 'periodic': commits are acknowledged once committed
   * (a process crash loses nothing: the data is in the OS page cache) and the
   * env is fsynced every syncIntervalMs (a power loss can lose that window),
   * like Cassandra's default periodic commitlog sync.
   */
  readonly sync: 'always' | 'periodic';
  readonly syncIntervalMs: number;
}

interface QueuedWrite {
  readonly key: Buffer;
  readonly value: Buffer | null;
  resolve(): void;
  reject(err: unknown): void;
}

export class StorageError extends Error {
  override readonly name = 'StorageError';
}

export interface StoredEntry {
  readonly key: Buffer;
  readonly value: Buffer;
}

/**
 * One actor's LMDB environment. Writes are async `put`/`remove` only (see
 * shared/notes/lmdb-in-worker-threads.md: sync writes hang or crash the
 * process when a worker ends mid-write), which lmdb-js batches into one
 * transaction per turn. Because reads do not see uncommitted puts, the store
 * keeps an overlay of pending values consulted before LMDB, so a
 * read-merge-write on one key sees the previous write of the same turn.
 */
export class ActorStore {
  private readonly pending = new Map<string, { value: Buffer | null; write: Promise<void> }>();
  /** Writes waiting for the next group commit. */
  private queue: QueuedWrite[] = [];
  private committing = false;
  private flushScheduled = false;
  private pendingCount = 0;
  private closed = false;
  /** Transactions committed and writes in them, for stats. */
  commits = 0;
  committedWrites = 0;

  private syncTimer: NodeJS.Timeout | undefined;
  private dirtySinceSync = false;
  syncs = 0;

  private startPeriodicSync(intervalMs: number): void {
    this.syncTimer = setInterval(() => {
      if (!this.dirtySinceSync || this.closed) return;
      this.dirtySinceSync = false;
      this.syncs++;
      (this.root as unknown as { sync(cb: (err: unknown) => void): void }).sync((err: unknown) => {
        if (err) this.dirtySinceSync = true; // try again next interval
      });
    }, intervalMs);
    this.syncTimer.unref();
  }

  private constructor(
    private readonly path: string,
    private readonly root: RootDatabase,
    readonly data: Database<Buffer, Buffer>,
    private readonly meta: Database<unknown, string>,
    private readonly maxWritesPerCommit: number,
  ) {}

  static open(options: StoreOptions): ActorStore {
    mkdirSync(options.path, { recursive: true });
    const root = open({
      path: options.path,
      mapSize: options.mapSizeBytes,
      maxDbs: 8,
      // 'always': a resolved put is fsynced, not just committed. 'periodic': see StoreOptions.sync.
      overlappingSync: false,
      noSync: options.sync === 'periodic',
    });
    const data = root.openDB<Buffer, Buffer>({
      name: 'data',
      encoding: 'binary',
      keyEncoding: 'binary',
      compression: options.compressionThresholdBytes > 0 ? { threshold: options.compressionThresholdBytes } : false,
      cache: options.cacheEntries > 0 ? { cacheSize: options.cacheEntries } : false,
    } as never);
    const meta = root.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
    const store = new ActorStore(options.path, root, data, meta, options.maxWritesPerCommit);
    if (options.sync === 'periodic') store.startPeriodicSync(options.syncIntervalMs);
    return store;
  }

  /** Check (or, for a new env, record) which actor and layout this env belongs to. */
  claim(actorId: number): void {
    const layout = this.meta.get('layoutVersion');
    const owner = this.meta.get('actorId');
    if (layout === undefined && owner === undefined) {
      void this.meta.put('layoutVersion', LAYOUT_VERSION);
      void this.meta.put('actorId', actorId);
      return;
    }
    if (layout !== LAYOUT_VERSION) throw new StorageError(`env at ${this.path} has layout version ${String(layout)}, this build reads ${LAYOUT_VERSION}`);
    if (owner !== actorId) throw new StorageError(`env at ${this.path} belongs to actor ${String(owner)}, not ${actorId}`);
  }

  get(key: Buffer): Buffer | undefined {
    const p = this.pending.get(key.toString('latin1'));
    if (p !== undefined) return p.value ?? undefined;
    return this.data.get(key) ?? undefined;
  }

  /** Resolves once the write is committed and flushed to disk. */
  put(key: Buffer, value: Buffer): Promise<void> {
    return this.enqueue(key, value);
  }

  remove(key: Buffer): Promise<void> {
    return this.enqueue(key, null);
  }

  /**
   * Group commit: at most one LMDB transaction is in flight per env; every
   * write that arrives meanwhile goes into the next one. A durable commit
   * costs about the same for 10 writes as for 200 (measured: 28 µs CPU per
   * write at 8 per transaction, 7 µs at 256), so this is where put
   * throughput comes from.
   */
  private enqueue(key: Buffer, value: Buffer | null): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('store is closed'));
    const k = key.toString('latin1');
    this.pendingCount++;
    let entry!: QueuedWrite;
    const done = new Promise<void>((resolve, reject) => {
      entry = { key, value, resolve, reject };
    });
    const forget = (): void => {
      this.pendingCount--;
      if (this.pending.get(k)?.write === done) this.pending.delete(k);
    };
    const tracked = done.then(forget, (err: unknown) => {
      forget();
      throw err;
    });
    this.pending.set(k, { value, write: done });
    this.queue.push(entry);
    if (!this.committing && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.commitQueued());
    }
    return tracked;
  }

  private commitQueued(): void {
    this.flushScheduled = false;
    if (this.committing || this.queue.length === 0) return;
    const batch = this.queue.length <= this.maxWritesPerCommit ? this.queue : this.queue.slice(0, this.maxWritesPerCommit);
    this.queue = batch === this.queue ? [] : this.queue.slice(this.maxWritesPerCommit);
    this.committing = true;
    // Issued in one turn, lmdb-js puts these in one transaction.
    const writes = batch.map((w) => (w.value === null ? this.data.remove(w.key) : this.data.put(w.key, w.value)));
    let left = writes.length;
    this.dirtySinceSync = true;
    const finish = (): void => {
      if (--left > 0) return;
      this.commits++;
      this.committedWrites += batch.length;
      this.committing = false;
      if (this.queue.length > 0) this.commitQueued();
    };
    writes.forEach((p, i) => {
      const w = batch[i]!;
      p.then(
        () => {
          w.resolve();
          finish();
        },
        (err: unknown) => {
          w.reject(err);
          finish();
        },
      );
    });
  }

  /** Resolves when what `get(key)` returns now is committed (at once if nothing is pending). */
  committed(key: Buffer): Promise<void> {
    const p = this.pending.get(key.toString('latin1'));
    return p === undefined ? Promise.resolve() : p.write.then(() => undefined);
  }

  /** Writes not yet committed (bounded by the actor's admission limit). */
  get pendingWrites(): number {
    return this.pendingCount;
  }

  /** Entries with ring position in [fromPosition, toPosition) (toPosition 2^32 = to the end). */
  *range(fromPosition: number, toPosition: number): Generator<StoredEntry> {
    const options: { start: Buffer; end?: Buffer } = { start: positionBound(fromPosition) };
    if (toPosition < 2 ** 32) options.end = positionBound(toPosition);
    for (const { key, value } of this.data.getRange(options)) yield { key: key as Buffer, value: value as Buffer };
  }

  count(): number {
    return this.data.getCount();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.committing || this.queue.length > 0) {
      if (!this.committing) this.commitQueued();
      await new Promise((r) => setTimeout(r, 1));
    }
    if (this.syncTimer !== undefined) clearInterval(this.syncTimer);
    await new Promise<void>((resolve) => (this.root as unknown as { sync(cb: () => void): void }).sync(() => resolve()));
    await this.root.flushed;
    await this.root.close();
  }
}

/**
 * Open an actor's env read-only, for background digests in the piscina pool.
 * Call resetReadTxn() before each task: an idle pool thread otherwise keeps
 * reading an old snapshot.
 */
export function openReadOnlyData(
  path: string,
  compressionThresholdBytes: number,
): { data: Database<Buffer, Buffer>; resetReadTxn(): void; close(): Promise<void> } {
  // Compression settings must match the writer's, or values read back garbled.
  const root = open({ path, readOnly: true, maxDbs: 8 });
  const data = root.openDB<Buffer, Buffer>({
    name: 'data',
    encoding: 'binary',
    keyEncoding: 'binary',
    compression: compressionThresholdBytes > 0 ? { threshold: compressionThresholdBytes } : false,
  } as never);
  return {
    data,
    resetReadTxn: () => root.resetReadTxn(),
    close: () => root.close(),
  };
}
