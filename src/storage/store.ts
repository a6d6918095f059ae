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
  private pendingCount = 0;
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly root: RootDatabase,
    readonly data: Database<Buffer, Buffer>,
    private readonly meta: Database<unknown, string>,
  ) {}

  static open(options: StoreOptions): ActorStore {
    mkdirSync(options.path, { recursive: true });
    const root = open({
      path: options.path,
      mapSize: options.mapSizeBytes,
      maxDbs: 8,
      // A resolved put is then durable (fsynced), not just committed.
      overlappingSync: false,
    });
    const data = root.openDB<Buffer, Buffer>({
      name: 'data',
      encoding: 'binary',
      keyEncoding: 'binary',
      compression: options.compressionThresholdBytes > 0 ? { threshold: options.compressionThresholdBytes } : false,
      cache: options.cacheEntries > 0 ? { cacheSize: options.cacheEntries } : false,
    } as never);
    const meta = root.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
    return new ActorStore(options.path, root, data, meta);
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
    return this.track(key, value, this.data.put(key, value));
  }

  remove(key: Buffer): Promise<void> {
    return this.track(key, null, this.data.remove(key));
  }

  private track(key: Buffer, value: Buffer | null, write: Promise<boolean>): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('store is closed'));
    const k = key.toString('latin1');
    this.pendingCount++;
    const done = write.then(
      () => {
        this.pendingCount--;
        if (this.pending.get(k)?.write === done) this.pending.delete(k);
      },
      (err: unknown) => {
        this.pendingCount--;
        if (this.pending.get(k)?.write === done) this.pending.delete(k);
        throw err;
      },
    );
    this.pending.set(k, { value, write: done });
    return done;
  }

  /** Resolves when what `get(key)` returns now is committed (at once if nothing is pending). */
  committed(key: Buffer): Promise<void> {
    return this.pending.get(key.toString('latin1'))?.write ?? Promise.resolve();
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
