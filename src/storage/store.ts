import { open, type Database, type RootDatabase } from 'lmdb';
import { LRUCache } from 'lru-cache';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { positionBound } from './keys.js';
import { readCopy } from './read-copy.js';
import { WriteLanes, type LaneWrite } from './write-lanes.js';
import { ReadSignal } from './read-signal.js';
import { claimWriterId, DEFAULT_MAX_BACKGROUND_WRITES_PER_COMMIT, expiryKey, StorageError, type DueExpiry, type ReplicaStore, type StoredEntry, type WriteDone } from './replica-store.js';

export { StorageError, type StoredEntry, type WriteDone } from './replica-store.js';

/** Version of the on-disk layout; a directory written by another version is refused. */
// 2: every env records the clock writer id it was created with (see ClusterMetadata.nextWriterId)
export const LAYOUT_VERSION = 2;

export interface StoreOptions {
  readonly path: string;
  /** LMDB map size; set explicitly so lmdb-js never remaps (remaps keep old mappings alive). */
  readonly mapSizeBytes: number;
  /** Values larger than this are LZ4-compressed by lmdb-js; 0 disables compression. */
  readonly compressionThresholdBytes: number;
  /**
   * Bytes of hot values kept in memory (an LRU over recently read or written
   * keys); 0 disables it. lmdb-js's own cache skips Buffer keys, which is
   * what ring-order keys are, so the store keeps its own bounded one.
   */
  readonly cacheBytes: number;
  /** Upper bound on writes grouped into one LMDB transaction. */
  readonly maxWritesPerCommit: number;
  /**
   * Most background writes (handoff and anti-entropy entries, cleanup and
   * reap deletes) one transaction carries, after every waiting foreground
   * write (default DEFAULT_MAX_BACKGROUND_WRITES_PER_COMMIT). A request's
   * write then waits behind at most one such commit, not behind the
   * thousands of entries a stream has queued.
   */
  readonly maxBackgroundWritesPerCommit?: number;
  /** Writes waiting for a commit at most; more are refused at once (the writer counts it as a failed replica). */
  readonly maxPendingWrites: number;
  /**
   * 'always': every group commit is fsynced before its writes are acknowledged
   * (survives power loss). 'periodic': commits are acknowledged once committed
   * (a process crash loses nothing: the data is in the OS page cache) and the
   * env is fsynced every syncIntervalMs (a power loss can lose that window),
   * like Cassandra's default periodic commitlog sync.
   */
  readonly sync: 'always' | 'periodic';
  readonly syncIntervalMs: number;
  /**
   * Shared with the front end's direct reads (see read-signal.ts): the store
   * publishes that its env is open, whether it is recovering, and counts
   * every write as it becomes visible, before the write is acknowledged.
   */
  readonly readSignal?: SharedArrayBuffer | null;
}

interface QueuedWrite extends LaneWrite {
  readonly key: Buffer;
  readonly latin1: string;
  readonly value: Buffer | null;
  readonly done: WriteDone;
  settled: boolean;
  /** committed() callers waiting for it. */
  waiters: WriteDone[] | null;
}


/**
 * One actor's LMDB environment. Writes are async `put`/`remove` only (see
 * shared/notes/lmdb-in-worker-threads.md: sync writes hang or crash the
 * process when a worker ends mid-write), which lmdb-js batches into one
 * transaction per turn. Because reads do not see uncommitted puts, the store
 * keeps an overlay of pending values consulted before LMDB, so a
 * read-merge-write on one key sees the previous write of the same turn.
 */
export class ActorStore implements ReplicaStore {
  /** Uncommitted values by key (latin1 of the stored key): reads see their own writes. */
  private readonly pending = new Map<string, QueuedWrite>();
  private readonly cache: LRUCache<string, Buffer> | null;
  /** Writes waiting for a commit. */
  private readonly lanes: WriteLanes<QueuedWrite>;
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
    private readonly hints: Database<Buffer, Buffer>,
    private readonly expiry: Database<Buffer, Buffer>,
    maxWritesPerCommit: number,
    maxBackgroundWritesPerCommit: number,
    private readonly maxPendingWrites: number,
    cacheBytes: number,
    private readonly signal: ReadSignal | null,
  ) {
    this.lanes = new WriteLanes(maxWritesPerCommit, maxBackgroundWritesPerCommit);
    this.cache = cacheBytes > 0 ? new LRUCache<string, Buffer>({ maxSize: cacheBytes, sizeCalculation: (v, k) => v.length + k.length + 64 }) : null;
  }

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
    } as never);
    const meta = root.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
    const hints = root.openDB<Buffer, Buffer>({ name: 'hints', encoding: 'binary', keyEncoding: 'binary' });
    const expiry = root.openDB<Buffer, Buffer>({ name: 'expiry', encoding: 'binary', keyEncoding: 'binary' });
    const signal = options.readSignal ? new ReadSignal(options.readSignal) : null;
    const store = new ActorStore(options.path, root, data, meta, hints, expiry, options.maxWritesPerCommit, options.maxBackgroundWritesPerCommit ?? DEFAULT_MAX_BACKGROUND_WRITES_PER_COMMIT, options.maxPendingWrites, options.cacheBytes, signal);
    // Counted now, while the env opens, not lazily from the handoff timer: a sync native read that a
    // worker.terminate() (the kill fault) interrupts aborts the whole process (seen once in CI).
    store.hintCount();
    if (options.sync === 'periodic') store.startPeriodicSync(options.syncIntervalMs);
    return store;
  }

  /**
   * Claim the env for `actorId` and return the clock writer id its events
   * carry: the one recorded when the env was created, or — for a new (or
   * wiped) env — `freshWriterId`, recorded now. Then direct readers may open
   * it (recovering is published first, so none counts a recovering replica).
   */
  claim(actorId: number, freshWriterId: number, expectsData: boolean): number {
    const writerId = this.claimEnv(actorId, freshWriterId, expectsData);
    this.signal?.setRecovering(this.recoveringFlag);
    this.signal?.opened();
    return writerId;
  }

  /** Check (or, for a new env, record) which actor and layout this env belongs to (the decision: claimWriterId). */
  private claimEnv(actorId: number, freshWriterId: number, expectsData: boolean): number {
    const meta = {
      layoutVersion: this.meta.get('layoutVersion'),
      actorId: this.meta.get('actorId'),
      writerId: this.meta.get('writerId'),
      recovering: this.meta.get('recovering'),
      uncleanShutdown: false,
    };
    const isNew = meta.layoutVersion === undefined && meta.actorId === undefined;
    // the marker is checked (and left) before anything is minted; a refused env is not marked
    const decision = claimWriterId({ ...meta, uncleanShutdown: !isNew && existsSync(join(this.path, RUNNING_MARKER)) }, LAYOUT_VERSION, actorId, freshWriterId, expectsData, this.path);
    this.markRunning();
    this.recoveringFlag = decision.recovering;
    if (decision.kind === 'new') {
      // Async puts (a sync write on a worker that gets killed hangs the process); they commit before any
      // data write issued after them, so no event under this writer id outlives the record of it.
      if (decision.recovering) void this.meta.put('recovering', true);
      void this.meta.put('layoutVersion', LAYOUT_VERSION);
      void this.meta.put('actorId', actorId);
      void this.meta.put('writerId', decision.writerId);
    } else if (decision.writerIdChanged) {
      void this.meta.put('writerId', decision.writerId);
    }
    return decision.writerId;
  }

  private recoveringFlag = false;

  /** This env was created empty where data should have been; true until an anti-entropy pass has filled it (persisted). */
  get recovering(): boolean {
    return this.recoveringFlag;
  }

  markRecovered(): void {
    if (!this.recoveringFlag) return;
    this.recoveringFlag = false;
    this.signal?.setRecovering(false);
    void this.meta.put('recovering', false);
  }

  /** What the key holds now, its uncommitted write included; a read makes the key hot (see peek). */
  get(key: Buffer): Buffer | undefined {
    return this.read(key, true);
  }

  /**
   * What get() returns, without making the key hot: writes read through here
   * (a replica's read-merge-write, a coordinator minting a version), so only
   * reads fill the cache. Through get(), every anti-entropy push and handoff
   * entry merged into an existing key went into the cache: background jobs
   * filled every actor's cache to cacheBytes (which counts value and key
   * bytes, not the ~400 bytes of objects each entry also holds), and that
   * memory stayed.
   */
  peek(key: Buffer): Buffer | undefined {
    return this.read(key, false);
  }

  private read(key: Buffer, makeHot: boolean): Buffer | undefined {
    const k = key.toString('latin1');
    const p = this.pending.get(k);
    if (p !== undefined) return p.value ?? undefined;
    const hot = makeHot ? this.cache?.get(k) : this.cache?.peek(k);
    if (hot !== undefined) return hot;
    const stored = readCopy(this.data, key, makeHot && this.cache !== null);
    if (makeHot && stored !== undefined) this.cache?.set(k, stored);
    return stored;
  }

  /** What the cache holds, as cacheBytes counts it (values, keys and 64 bytes each). */
  get cachedBytes(): number {
    return this.cache?.calculatedSize ?? 0;
  }

  /** Resolves once the write is committed (and, with sync 'always', flushed to disk). */
  put(key: Buffer, value: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.write(key, value, (err) => (err ? reject(err) : resolve())));
  }


  /**
   * Queue a write (value null = remove); `done` runs once it is committed.
   * Group commit: at most one LMDB transaction is in flight per env; every
   * write that arrives meanwhile goes into the next one. A commit has a fixed
   * cost (measured here: ~55 µs CPU with noSync, ~170 µs with fsync) on top of
   * ~4 µs per write, so many writes per transaction is where put throughput
   * comes from. Callbacks rather than promises: this is the hottest path.
   *
   * `background`: a write no request waits for (see
   * maxBackgroundWritesPerCommit). Writes to one key still commit in the
   * order they were made: a write to a key whose latest write still waits
   * for a commit joins that write's lane, behind it.
   */
  write(key: Buffer, value: Buffer | null, done: WriteDone, background = false): void {
    if (this.closed) {
      done(new StorageError('store is closed'));
      return;
    }
    if (this.full) {
      this.refusedWrites++;
      done(new StorageError(`${this.pendingCount} writes wait for a commit (maxPendingWrites): refused`));
      return;
    }
    const latin1 = key.toString('latin1');
    this.pendingCount++;
    if (this.pendingCount > this.pendingWritesPeak) this.pendingWritesPeak = this.pendingCount;
    const w: QueuedWrite = { key, latin1, value, done, background: WriteLanes.laneFor(background, this.pending.get(latin1)), taken: false, settled: false, waiters: null };
    this.pending.set(latin1, w);
    this.lanes.push(w);
    if (!this.committing && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.commitQueued);
    }
  }

  private readonly commitQueued = (): void => {
    this.flushScheduled = false;
    if (this.committing || this.lanes.empty) return;
    const writes = this.lanes.take();
    this.committing = true;
    this.dirtySinceSync = true;
    // Issued in one turn, lmdb-js puts these in one transaction. Each write
    // still gets its own outcome, in case lmdb-js splits the batch.
    let left = writes.length;
    for (const w of writes) {
      const op = w.value === null ? this.data.remove(w.key) : this.data.put(w.key, w.value);
      op.then(
        () => {
          this.signal?.visible(); // before settle() acknowledges it: a direct read then renews its snapshot
          this.settle(w, null);
          if (--left === 0) this.batchDone(writes.length);
        },
        (err: unknown) => {
          this.settle(w, err instanceof Error ? err : new StorageError(String(err)));
          if (--left === 0) this.batchDone(writes.length);
        },
      );
    }
  };

  private settle(w: QueuedWrite, err: Error | null): void {
    this.pendingCount--;
    w.settled = true;
    if (this.pending.get(w.latin1) === w) {
      this.pending.delete(w.latin1);
      // Keep a cached (hot) key current; writes alone do not make a key hot.
      if (this.cache !== null && this.cache.has(w.latin1)) {
        if (err === null && w.value !== null) this.cache.set(w.latin1, w.value);
        else this.cache.delete(w.latin1);
      }
    } else if (this.cache !== null) {
      this.cache.delete(w.latin1); // a newer write is pending; reads see it in the overlay
    }
    w.done(err);
    if (w.waiters !== null) for (const waiter of w.waiters) waiter(null);
  }

  private batchDone(writes: number): void {
    this.commits++;
    this.committedWrites += writes;
    this.committing = false;
    if (!this.lanes.empty) this.commitQueued();
  }

  /** `done` once what `get(key)` returns now is committed (at the end of this turn if nothing is pending). */
  committed(key: Buffer, done: WriteDone): void {
    const w = this.pending.get(key.toString('latin1'));
    if (w === undefined) {
      queueMicrotask(() => done(null));
      return;
    }
    (w.waiters ??= []).push(done); // settle() calls it, whichever commit takes the write
  }

  /** Writes refused because maxPendingWrites were already waiting. */
  refusedWrites = 0;

  /** The most writes that waited for a commit at once since the env was opened: what a stream into this actor made it hold. */
  pendingWritesPeak = 0;

  /** Writes not yet committed (at most maxPendingWrites). */
  get pendingWrites(): number {
    return this.pendingCount;
  }

  /** A write now would be refused (maxPendingWrites writes already wait for a commit). */
  get full(): boolean {
    return this.pendingCount >= this.maxPendingWrites;
  }

  /**
   * Up to `limit` entries with ring position in [fromPosition, toPosition),
   * after `afterKey` (exclusive) when given: a paced scan picks up where it
   * left off without holding a read transaction open between steps. The
   * chunk also ends once its keys and values reach `maxBytes` (at least one
   * entry is returned).
   */
  rangeAfter(fromPosition: number, toPosition: number, afterKey: Buffer | null, limit: number, maxBytes = Infinity): StoredEntry[] {
    const options: { start: Buffer; end?: Buffer; limit: number } = { start: afterKey ?? positionBound(fromPosition), limit: limit + (afterKey === null ? 0 : 1) };
    if (toPosition < 2 ** 32) options.end = positionBound(toPosition);
    const out: StoredEntry[] = [];
    let bytes = 0;
    for (const { key, value } of this.data.getRange(options)) {
      const k = key as Buffer;
      if (afterKey !== null && k.equals(afterKey)) continue;
      out.push({ key: Buffer.from(k), value: Buffer.from(value as Buffer) });
      bytes += k.length + (value as Buffer).length;
      if (out.length >= limit || bytes >= maxBytes) break;
    }
    return out;
  }

  /** Entries with ring position in [fromPosition, toPosition) (toPosition 2^32 = to the end). */
  *range(fromPosition: number, toPosition: number): Generator<StoredEntry> {
    const options: { start: Buffer; end?: Buffer } = { start: positionBound(fromPosition) };
    if (toPosition < 2 ** 32) options.end = positionBound(toPosition);
    for (const { key, value } of this.data.getRange(options)) yield { key: key as Buffer, value: value as Buffer };
  }

  // ---- hints: writes held for an owner that was down (sloppy quorum) ----
  // Stored under 4-byte owner id + stored key; value = 8-byte creation time (ms) + clock.
  // Few and rarely read-before-write in the same turn, but a hint for one
  // (owner, key) is merged on arrival, so they get their own small overlay.
  private readonly pendingHints = new Map<string, Buffer | null>();
  private hintCountCache: number | null = null;

  getHint(hintKey: Buffer): Buffer | undefined {
    const p = this.pendingHints.get(hintKey.toString('latin1'));
    if (p !== undefined) return p ?? undefined;
    return this.hints.get(hintKey) ?? undefined;
  }

  /** Store (value) or delete (null) a hint; `done` once committed. */
  writeHint(hintKey: Buffer, value: Buffer | null, done: WriteDone): void {
    if (this.closed) {
      done(new StorageError('store is closed'));
      return;
    }
    const k = hintKey.toString('latin1');
    const existed = this.getHint(hintKey) !== undefined;
    if (this.hintCountCache !== null) this.hintCountCache += (value !== null ? 1 : 0) - (existed ? 1 : 0);
    this.pendingHints.set(k, value);
    const op = value === null ? this.hints.remove(hintKey) : this.hints.put(hintKey, value);
    this.dirtySinceSync = true;
    op.then(
      () => {
        if (this.pendingHints.get(k) === value) this.pendingHints.delete(k);
        done(null);
      },
      (err: unknown) => {
        if (this.pendingHints.get(k) === value) this.pendingHints.delete(k);
        this.hintCountCache = null;
        done(err instanceof Error ? err : new StorageError(String(err)));
      },
    );
  }

  /** Committed hints, oldest owner/key order; at most `limit`. */
  hintEntries(limit: number): StoredEntry[] {
    const out: StoredEntry[] = [];
    for (const { key, value } of this.hints.getRange({ limit })) out.push({ key: Buffer.from(key as Buffer), value: Buffer.from(value as Buffer) });
    return out;
  }

  hintCount(): number {
    this.hintCountCache ??= (this.hints.getStats() as { entryCount: number }).entryCount;
    return this.hintCountCache;
  }

  // ---- the expiry index: when to look at an entry of expiring values again ----
  // Keyed 8-byte big-endian time (ms) + stored key, empty value, so a range read
  // from the start yields what is due first. A hint for the expiry sweep, not
  // a source of truth: an entry may point at a key overwritten or gone since
  // (the sweep drops it), and one lost (a crash before its commit) leaves the
  // key to the anti-entropy pass's reap.

  /** Look at `storedKey` again at `atMs`. Committed with the next lmdb-js batch; nothing waits for it. */
  indexExpiry(atMs: number, storedKey: Uint8Array): void {
    if (this.closed) return;
    this.dirtySinceSync = true;
    this.expiry.put(expiryKey(atMs, storedKey), EMPTY_VALUE).catch(IGNORE_ERROR);
  }

  dropExpiry(indexKey: Buffer): void {
    if (this.closed) return;
    this.dirtySinceSync = true;
    this.expiry.remove(indexKey).catch(IGNORE_ERROR);
  }

  /**
   * Index entries due at or before `nowMs`, earliest first, after `afterKey`
   * (exclusive) when given; at most `limit`. (An entry dropped a moment ago
   * is still read until its removal commits: a caller going on at once
   * passes the last key it saw.)
   */
  dueExpiries(nowMs: number, limit: number, afterKey: Buffer | null = null): DueExpiry[] {
    const out: DueExpiry[] = [];
    const end = expiryKey(nowMs + 1, EMPTY_VALUE);
    const options: { end: Buffer; limit: number; start?: Buffer } = { end, limit: limit + (afterKey === null ? 0 : 1) };
    if (afterKey !== null) options.start = afterKey;
    for (const key of this.expiry.getKeys(options)) {
      if (afterKey !== null && (key as Buffer).equals(afterKey)) continue;
      if (out.length === limit) break;
      const indexKey = Buffer.from(key as Buffer);
      assert(indexKey.length > 8, 'an expiry index key holds a time and a stored key');
      out.push({ indexKey, atMs: indexKey.readUIntBE(2, 6), key: indexKey.subarray(8) });
    }
    return out;
  }

  /** Entries in the expiry index (LMDB's B-tree header: O(1)). */
  expiryIndexCount(): number {
    return (this.expiry.getStats() as { entryCount: number }).entryCount;
  }

  /** Entries stored, from LMDB's own B-tree header: O(1). (getCount() walks every entry: ~100 ms per million, a stall on every stats call.) */
  count(): number {
    return (this.data.getStats() as { entryCount: number }).entryCount;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signal?.closing();
    while (this.committing || !this.lanes.empty) {
      if (!this.committing) this.commitQueued();
      await new Promise((r) => setTimeout(r, 1));
    }
    if (this.syncTimer !== undefined) clearInterval(this.syncTimer);
    await new Promise<void>((resolve) => (this.root as unknown as { sync(cb: () => void): void }).sync(() => resolve()));
    await this.root.flushed;
    await this.root.close();
    // every event this run minted is committed now: the next start may keep the writer id
    rmSync(join(this.path, RUNNING_MARKER), { force: true });
  }

  /**
   * Leave a marker that this env is in use until close() removes it (one
   * found at open: the previous run ended without closing). Plain fs, synced: the marker must exist before any event is minted.
   */
  private markRunning(): void {
    const marker = join(this.path, RUNNING_MARKER);
    const fd = openSync(marker, 'w');
    try {
      writeSync(fd, `${process.pid}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

const EMPTY_VALUE = Buffer.alloc(0);
const IGNORE_ERROR = (): void => undefined; // an index write that fails leaves the key to the anti-entropy reap

/** In an actor's env directory while an actor runs on it (see ActorStore.markRunning). */
const RUNNING_MARKER = 'running';

/**
 * Open an actor's env read-only, for background digests in the piscina pool.
 * Call resetReadTxn() before each task: an idle pool thread otherwise keeps
 * reading an old snapshot.
 */
export function openReadOnlyData(
  path: string,
  compressionThresholdBytes: number,
): { data: Database<Buffer, Buffer>; resetReadTxn(): void; close(): Promise<void> } {
  const { root, data } = openReadOnlyEnv(path, compressionThresholdBytes);
  return {
    data,
    resetReadTxn: () => root.resetReadTxn(),
    close: () => root.close(),
  };
}

/** An actor's env opened read-only, its data database with the writer's own settings. */
export function openReadOnlyEnv(path: string, compressionThresholdBytes: number): { root: RootDatabase; data: Database<Buffer, Buffer> } {
  const root = open({ path, readOnly: true, maxDbs: 8 });
  try {
    const data = root.openDB<Buffer, Buffer>({
      name: 'data',
      encoding: 'binary',
      keyEncoding: 'binary',
      // must match ActorStore.open, or compressed values read back garbled
      compression: compressionThresholdBytes > 0 ? { threshold: compressionThresholdBytes } : false,
    } as never);
    return { root, data };
  } catch (err) {
    void root.close();
    throw err;
  }
}
