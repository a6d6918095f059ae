import { asBuffer } from '../encoding/bytes.js';
import type { ReplicaStore, WriteDone } from '../storage/replica-store.js';
import * as dvv from '../versioning/dvvset.js';
import { compareBytes, decodeClock, decodeHistory, encodeClock, newerSibling, syncClocks, type Clock as VClock } from '../versioning/sibling.js';
import type { ExpirySweep } from './expiry-sweep.js';

/** Two versions of one key as one (`local` null: nothing held): descendants win, concurrent values become siblings (or the newest alone, last-write-wins). */
export function mergeVersions(local: VClock | null, incoming: VClock, lastWriteWins: boolean): VClock {
  const merged = local === null ? incoming : syncClocks(local, incoming);
  return lastWriteWins ? dvv.lww(merged, newerSibling) : merged;
}

/**
 * The one way a replica takes a version from elsewhere: a replica write
 * (Replicate), a read repair (this coordinator's own or a Repair), a hint
 * handed off, an anti-entropy push. Merge the incoming clock into what is
 * stored for the key, commit the result, call back once durable.
 * Idempotent: replays and retries are safe.
 */
export class ReplicaMerge {
  constructor(
    private readonly id: number,
    private readonly store: ReplicaStore,
    private readonly expiry: ExpirySweep,
    private readonly lastWriteWins: boolean,
  ) {}

  /** `background`: a handoff or anti-entropy entry, which no request waits for (ReplicaStore.write). */
  merge(key: Buffer, incomingBytes: Uint8Array, done: WriteDone, background = false): void {
    try {
      this.mergeOrThrow(key, incomingBytes, done, background);
    } catch (err) {
      console.error(`ringkv actor ${this.id}: cannot merge a replica write:`, err);
      done(err as Error);
    }
  }

  private mergeOrThrow(key: Buffer, incomingBytes: Uint8Array, done: WriteDone, background: boolean): void {
    const stored = this.store.peek(key); // a write does not make a key hot
    const incomingBuffer = asBuffer(incomingBytes);
    // Nothing stored: take the coordinator's clock as is (it was encoded by our own codec).
    // Common case: the incoming version descends from ours. Histories alone decide that.
    if (stored === undefined || dvv.less(decodeHistory(stored), decodeHistory(incomingBytes))) {
      this.store.write(key, incomingBuffer, done, background);
      this.expiry.written(key, incomingBuffer);
      return;
    }
    const bytes = encodeClock(mergeVersions(decodeClock(stored), decodeClock(incomingBytes), this.lastWriteWins));
    if (compareBytes(bytes, stored) === 0) {
      this.store.committed(key, done);
      return;
    }
    this.store.write(key, asBuffer(bytes), done, background);
    this.expiry.written(key, bytes);
  }
}
