/**
 * What an actor needs of its storage: the contract ActorStore (LMDB) keeps
 * in the real runtime and MemoryStore (src/sim/memory-store.ts) keeps in the
 * simulator. The semantics both must keep, which the actor relies on:
 *
 * - `write` is acknowledged (`done(null)`) only once the write is committed:
 *   a crash after the acknowledgement keeps it, one before may lose it.
 * - `get`/`peek` see this store's own uncommitted writes (the overlay), so a
 *   read-merge-write of one key sees the previous write of the same turn;
 *   range reads (`range`, `rangeAfter`, `hintEntries`, `dueExpiries`) see
 *   committed data only, as LMDB readers do.
 * - Index entries (`indexExpiry`/`dropExpiry`) commit with the next batch and
 *   nothing waits for them: a crash may lose them.
 */
export type WriteDone = (err: Error | null) => void;

export interface StoredEntry {
  readonly key: Buffer;
  readonly value: Buffer;
}

export interface DueExpiry {
  readonly indexKey: Buffer;
  readonly atMs: number;
  readonly key: Buffer;
}

/** Background writes one commit carries on top of the foreground ones (StoreOptions.maxBackgroundWritesPerCommit). */
export const DEFAULT_MAX_BACKGROUND_WRITES_PER_COMMIT = 256;

export interface ReplicaStore {
  /** Claim the env for `actorId`; the clock writer id its events carry (see claimWriterId). */
  claim(actorId: number, freshWriterId: number, expectsData: boolean): number;
  /** Created empty where data should have been: its reads do not count toward R until repaired. */
  readonly recovering: boolean;
  markRecovered(): void;

  /** What the key holds now, its uncommitted write included; a read makes the key hot. */
  get(key: Buffer): Buffer | undefined;
  /** As get(), without making the key hot (writes and background jobs read through here). */
  peek(key: Buffer): Buffer | undefined;
  /**
   * Queue a write (null = remove); `done` once committed or failed.
   * `background`: no request waits for it (a handoff or anti-entropy entry,
   * a cleanup or reap delete): it may commit after foreground writes queued
   * later; writes to one key always commit in the order they were made.
   */
  write(key: Buffer, value: Buffer | null, done: WriteDone, background?: boolean): void;
  /** `done` once what get(key) returns now is committed; never synchronously (callers may still be mid-turn). */
  committed(key: Buffer, done: WriteDone): void;
  readonly pendingWrites: number;
  readonly pendingWritesPeak: number;
  /** A write now would be refused (maxPendingWrites already wait). */
  readonly full: boolean;
  readonly cachedBytes: number;
  readonly commits: number;
  readonly committedWrites: number;

  /** Committed entries with position in [fromPosition, toPosition), after afterKey; at most limit, stopping once maxBytes are reached. Copies. */
  rangeAfter(fromPosition: number, toPosition: number, afterKey: Buffer | null, limit: number, maxBytes?: number): StoredEntry[];
  /** Committed entries with position in [fromPosition, toPosition) (toPosition 2^32: to the end). */
  range(fromPosition: number, toPosition: number): Iterable<StoredEntry>;
  /** Entries stored (committed). */
  count(): number;

  getHint(hintKey: Buffer): Buffer | undefined;
  writeHint(hintKey: Buffer, value: Buffer | null, done: WriteDone): void;
  /** Committed hints in key order, at most limit. */
  hintEntries(limit: number): StoredEntry[];
  hintCount(): number;

  indexExpiry(atMs: number, storedKey: Uint8Array): void;
  dropExpiry(indexKey: Buffer): void;
  dueExpiries(nowMs: number, limit: number, afterKey?: Buffer | null): DueExpiry[];
  expiryIndexCount(): number;

  close(): Promise<void>;
}

/** A hint's key: 4-byte owner id, then the stored key (so one owner's hints are one range). */
export function hintKey(owner: number, storedKey: Uint8Array): Buffer {
  const k = Buffer.allocUnsafe(4 + storedKey.length);
  k.writeUInt32BE(owner, 0);
  k.set(storedKey, 4);
  return k;
}

/** An expiry index key: 8-byte big-endian time (ms), then the stored key, so what is due first comes first. */
export function expiryKey(atMs: number, storedKey: Uint8Array): Buffer {
  const k = Buffer.allocUnsafe(8 + storedKey.length);
  k.writeUIntBE(Math.max(0, Math.floor(atMs)), 2, 6);
  k.writeUInt16BE(0, 0);
  k.set(storedKey, 8);
  return k;
}

/** The key-value records an env keeps about itself (which actor, which writer id, clean shutdown). */
export interface EnvMeta {
  readonly layoutVersion: unknown;
  readonly actorId: unknown;
  readonly writerId: unknown;
  readonly recovering: unknown;
  /** The previous run did not close cleanly (its running marker is still there). */
  readonly uncleanShutdown: boolean;
}

export type ClaimDecision =
  | { readonly kind: 'new'; readonly writerId: number; readonly recovering: boolean }
  | { readonly kind: 'existing'; readonly writerId: number; readonly recovering: boolean; readonly writerIdChanged: boolean };

export class StorageError extends Error {
  override readonly name = 'StorageError';
}

/**
 * Which clock writer id an env's events carry (pure; both stores apply it).
 * A new env takes `freshWriterId` (and is recovering when data was expected:
 * the disk was lost). An env whose last run did not close cleanly also takes
 * `freshWriterId`: events it minted may sit on other replicas while its own
 * copy never committed, so its counters cannot be trusted to be fresh, and
 * minting again under the old id could repeat a dot for another value.
 */
export function claimWriterId(meta: EnvMeta, layoutVersion: number, actorId: number, freshWriterId: number, expectsData: boolean, where: string): ClaimDecision {
  if (meta.layoutVersion === undefined && meta.actorId === undefined) return { kind: 'new', writerId: freshWriterId, recovering: expectsData };
  if (meta.layoutVersion !== layoutVersion) throw new StorageError(`env at ${where} has layout version ${String(meta.layoutVersion)}, this build reads ${layoutVersion}`);
  if (meta.actorId !== actorId) throw new StorageError(`env at ${where} belongs to actor ${String(meta.actorId)}, not ${actorId}`);
  const recovering = meta.recovering === true;
  const writerId = meta.writerId;
  if (typeof writerId !== 'number' || !Number.isSafeInteger(writerId) || writerId < 0) throw new StorageError(`env at ${where} has no valid writer id (${String(writerId)})`);
  if (meta.uncleanShutdown) return { kind: 'existing', writerId: freshWriterId, recovering, writerIdChanged: true };
  return { kind: 'existing', writerId, recovering, writerIdChanged: false };
}
