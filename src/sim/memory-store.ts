import assert from 'node:assert/strict';
import type { Random, Timers } from '../runtime/services.js';
import { positionOf } from '../storage/keys.js';
import { claimWriterId, expiryKey, StorageError, type DueExpiry, type ReplicaStore, type StoredEntry, type WriteDone } from '../storage/replica-store.js';

/** The layout version the simulated disk claims to be (any constant: it never meets a real env). */
const SIM_LAYOUT_VERSION = 1;

/**
 * What survives a simulated crash: the committed tables and the env's own
 * records. A crash keeps the disk; a wipe replaces it with a new one.
 */
export class SimDisk {
  /** Keys as latin1 strings: their order is the byte order of the keys, as in LMDB. */
  readonly data = new Map<string, Buffer>();
  readonly hints = new Map<string, Buffer>();
  readonly expiry = new Map<string, Buffer>();
  readonly meta = new Map<string, unknown>();
  /** The running marker: set while a store is open on this disk, cleared by a clean close. */
  running = false;
}

export interface MemoryStoreOptions {
  readonly maxPendingWrites: number;
  readonly maxWritesPerCommit: number;
  /** A group commit happens 0..commitDelayMaxMs after the first write it carries (seeded): commits interleave with messages. */
  readonly commitDelayMaxMs: number;
  /**
   * A planted bug, for showing that the simulator catches one: acknowledge a
   * write on the next turn, before it is committed (a crash in between loses
   * an acknowledged write). Never set outside tests of the simulator.
   */
  readonly ackBeforeCommit?: boolean;
}

type Table = 'data' | 'hints' | 'expiry';

interface QueuedWrite {
  readonly table: Table;
  readonly key: string;
  readonly value: Buffer | null;
  readonly done: WriteDone | null;
  waiters: WriteDone[] | null;
}

/**
 * A ReplicaStore in memory with LMDB's commit semantics, for the simulator:
 * writes are acknowledged only when their group commit applies them to the
 * SimDisk (atomically); reads of a key see its pending write (the overlay);
 * range reads see committed entries only. Commits run on the node's timers,
 * so a crashed node's pending writes never commit: they are lost, as in a
 * process crash before LMDB's commit.
 */
export class MemoryStore implements ReplicaStore {
  private readonly overlay = new Map<string, QueuedWrite>();
  private readonly hintOverlay = new Map<string, QueuedWrite>();
  private queue: QueuedWrite[] = [];
  private commitScheduled = false;
  private pendingCount = 0;
  private closed = false;
  private recoveringFlag = false;
  pendingWritesPeak = 0;
  commits = 0;
  committedWrites = 0;
  readonly cachedBytes = 0;

  constructor(
    readonly disk: SimDisk,
    private readonly timers: Timers,
    private readonly random: Random,
    private readonly options: MemoryStoreOptions,
  ) {}

  claim(actorId: number, freshWriterId: number, expectsData: boolean): number {
    const m = this.disk.meta;
    const isNew = !m.has('layoutVersion') && !m.has('actorId');
    const decision = claimWriterId(
      { layoutVersion: m.get('layoutVersion'), actorId: m.get('actorId'), writerId: m.get('writerId'), recovering: m.get('recovering'), uncleanShutdown: !isNew && this.disk.running },
      SIM_LAYOUT_VERSION,
      actorId,
      freshWriterId,
      expectsData,
      `simulated disk of actor ${actorId}`,
    );
    this.disk.running = true;
    this.recoveringFlag = decision.recovering;
    // The env's records are committed before any write this run makes (ActorStore: async puts issued first).
    if (decision.kind === 'new') {
      m.set('layoutVersion', SIM_LAYOUT_VERSION);
      m.set('actorId', actorId);
      m.set('recovering', decision.recovering);
    }
    m.set('writerId', decision.writerId);
    return decision.writerId;
  }

  get recovering(): boolean {
    return this.recoveringFlag;
  }

  markRecovered(): void {
    this.recoveringFlag = false;
    this.disk.meta.set('recovering', false);
  }

  get(key: Buffer): Buffer | undefined {
    return this.peek(key);
  }

  peek(key: Buffer): Buffer | undefined {
    const k = key.toString('latin1');
    const p = this.overlay.get(k);
    if (p !== undefined) return p.value ?? undefined;
    return this.disk.data.get(k);
  }

  get pendingWrites(): number {
    return this.pendingCount;
  }

  /** Writes of every kind (index entries too) waiting for a commit. */
  get queued(): number {
    return this.queue.length;
  }

  get full(): boolean {
    return this.pendingCount >= this.options.maxPendingWrites;
  }

  /** One lane: `background` writes commit in arrival order like the rest (a legal order for ReplicaStore). */
  write(key: Buffer, value: Buffer | null, done: WriteDone, _background = false): void {
    if (this.closed) return done(new StorageError('store is closed'));
    if (this.full) return done(new StorageError(`${this.pendingCount} writes wait for a commit (maxPendingWrites): refused`));
    const w = this.enqueue('data', key.toString('latin1'), value === null ? null : Buffer.from(value), done);
    this.overlay.set(w.key, w);
  }

  committed(key: Buffer, done: WriteDone): void {
    const w = this.overlay.get(key.toString('latin1'));
    if (w === undefined) this.timers.setImmediate(() => done(null));
    else (w.waiters ??= []).push(done);
  }

  rangeAfter(fromPosition: number, toPosition: number, afterKey: Buffer | null, limit: number, maxBytes = Infinity): StoredEntry[] {
    const after = afterKey === null ? null : afterKey.toString('latin1');
    const out: StoredEntry[] = [];
    let bytes = 0;
    for (const e of this.range(fromPosition, toPosition)) {
      if (after !== null && e.key.toString('latin1') <= after) continue;
      out.push(e);
      bytes += e.key.length + e.value.length;
      if (out.length >= limit || bytes >= maxBytes) break;
    }
    return out;
  }

  range(fromPosition: number, toPosition: number): StoredEntry[] {
    const out: StoredEntry[] = [];
    for (const k of sortedKeys(this.disk.data)) {
      const key = Buffer.from(k, 'latin1');
      const position = positionOf(key);
      if (position >= fromPosition && position < toPosition) out.push({ key, value: Buffer.from(this.disk.data.get(k)!) });
    }
    return out;
  }

  count(): number {
    return this.disk.data.size;
  }

  getHint(hintKey: Buffer): Buffer | undefined {
    const k = hintKey.toString('latin1');
    const p = this.hintOverlay.get(k);
    if (p !== undefined) return p.value ?? undefined;
    return this.disk.hints.get(k);
  }

  writeHint(hintKey: Buffer, value: Buffer | null, done: WriteDone): void {
    if (this.closed) return done(new StorageError('store is closed'));
    const w = this.enqueue('hints', hintKey.toString('latin1'), value === null ? null : Buffer.from(value), done);
    this.hintOverlay.set(w.key, w);
  }

  hintEntries(limit: number): StoredEntry[] {
    return sortedKeys(this.disk.hints)
      .slice(0, limit)
      .map((k) => ({ key: Buffer.from(k, 'latin1'), value: Buffer.from(this.disk.hints.get(k)!) }));
  }

  hintCount(): number {
    let n = this.disk.hints.size;
    for (const [k, w] of this.hintOverlay) n += (w.value !== null ? 1 : 0) - (this.disk.hints.has(k) ? 1 : 0);
    return n;
  }

  indexExpiry(atMs: number, storedKey: Uint8Array): void {
    if (!this.closed) this.enqueue('expiry', expiryKey(atMs, storedKey).toString('latin1'), EMPTY, null);
  }

  dropExpiry(indexKey: Buffer): void {
    if (!this.closed) this.enqueue('expiry', indexKey.toString('latin1'), null, null);
  }

  dueExpiries(nowMs: number, limit: number, afterKey: Buffer | null = null): DueExpiry[] {
    const end = expiryKey(nowMs + 1, EMPTY).toString('latin1');
    const after = afterKey === null ? null : afterKey.toString('latin1');
    const out: DueExpiry[] = [];
    for (const k of sortedKeys(this.disk.expiry)) {
      if (k >= end || out.length === limit) break;
      if (after !== null && k <= after) continue;
      const indexKey = Buffer.from(k, 'latin1');
      out.push({ indexKey, atMs: indexKey.readUIntBE(2, 6), key: indexKey.subarray(8) });
    }
    return out;
  }

  expiryIndexCount(): number {
    return this.disk.expiry.size;
  }

  /** A clean stop: everything queued commits, and the disk is marked closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.queue.length > 0) this.commit();
    this.closed = true;
    this.disk.running = false;
  }

  private enqueue(table: Table, key: string, value: Buffer | null, done: WriteDone | null): QueuedWrite {
    const w: QueuedWrite = { table, key, value, done, waiters: null };
    this.queue.push(w);
    if (done !== null) {
      this.pendingCount++;
      this.pendingWritesPeak = Math.max(this.pendingWritesPeak, this.pendingCount);
      if (this.options.ackBeforeCommit === true) this.timers.setImmediate(() => done(null)); // the planted bug
    }
    if (!this.commitScheduled) {
      this.commitScheduled = true;
      const delayMs = Math.floor(this.random.next() * (this.options.commitDelayMaxMs + 1));
      // with the planted bug, commits lag well behind their acknowledgements
      this.timers.setTimeout(() => this.commitQueued(), this.options.ackBeforeCommit === true ? delayMs + 20 : delayMs);
    }
    return w;
  }

  private commitQueued(): void {
    this.commitScheduled = false;
    this.commit();
    if (this.queue.length > 0 && !this.commitScheduled) {
      this.commitScheduled = true;
      this.timers.setImmediate(() => this.commitQueued());
    }
  }

  /** One group commit: up to maxWritesPerCommit writes applied at once, then acknowledged in order. */
  private commit(): void {
    const batch = this.queue.slice(0, this.options.maxWritesPerCommit);
    this.queue = this.queue.slice(batch.length);
    if (batch.length === 0) return;
    for (const w of batch) {
      const table = this.disk[w.table];
      if (w.value === null) table.delete(w.key);
      else table.set(w.key, w.value);
    }
    this.commits++;
    this.committedWrites += batch.length;
    for (const w of batch) {
      const overlay = w.table === 'data' ? this.overlay : w.table === 'hints' ? this.hintOverlay : null;
      if (overlay !== null && overlay.get(w.key) === w) overlay.delete(w.key);
      if (w.done === null) continue;
      this.pendingCount--;
      assert(this.pendingCount >= 0, 'more writes settled than were queued');
      if (this.options.ackBeforeCommit !== true) w.done(null);
      if (w.waiters !== null) for (const waiter of w.waiters) waiter(null);
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Keys in byte order (latin1 strings compare as their bytes do). */
function sortedKeys(table: ReadonlyMap<string, unknown>): string[] {
  return [...table.keys()].sort();
}
