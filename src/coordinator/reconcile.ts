import { compareBytes, decodeClock, encodeClock, type Clock } from '../versioning/sibling.js';
import type { ReadQuorum } from './quorum.js';

/**
 * How a read's replica replies become its answer and its read repairs. Pure;
 * shared by the actor coordinator and the front end's direct reads, so both
 * answer a read identically. A read keeps its replies as parallel arrays
 * (who replied, with which stored bytes; empty = nothing stored) beside its
 * ReadQuorum, which holds the decoded clocks.
 */

const EMPTY = new Uint8Array(0);

export function allEqual(raws: readonly Uint8Array[]): boolean {
  for (let i = 1; i < raws.length; i++) if (compareBytes(raws[i]!, raws[0]!) !== 0) return false;
  return true;
}

/** Decode a reply, reusing an earlier reply's decoded clock when the bytes are identical (the common case). Throws on corrupt bytes. */
export function decodeReply(quorum: ReadQuorum, rawFrom: readonly number[], raw: readonly Uint8Array[], bytes: Uint8Array): Clock {
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i]!;
    if (r.length !== 0 && compareBytes(r, bytes) === 0) {
      const same = quorum.replyOf(rawFrom[i]!);
      if (same) return same;
    }
  }
  return decodeClock(bytes);
}

/**
 * The reconciled answer (descendants win, concurrent versions become
 * siblings): its bytes (empty when no replica holds the key) and its clock.
 * When every reply is byte-equal, the first reply as is.
 */
export function reconcile(quorum: ReadQuorum, rawFrom: readonly number[], raw: readonly Uint8Array[]): { bytes: Uint8Array; clock: Clock | null } {
  if (raw.length > 0 && allEqual(raw)) return { bytes: raw[0]!, clock: quorum.replyOf(rawFrom[0]!) ?? null };
  const merged = quorum.result();
  return { bytes: merged === null ? EMPTY : encodeClock(merged), clock: merged };
}

/** The replicas that replied with less than the reconciled clock (or nothing), and the clock bytes to send them; none when all agree. */
export function readRepairs(quorum: ReadQuorum, raw: readonly Uint8Array[]): { actors: number[]; clock: Uint8Array } {
  if (raw.length > 0 && allEqual(raw)) return { actors: [], clock: EMPTY };
  const repairs = quorum.repairs();
  if (repairs.length === 0) return { actors: [], clock: EMPTY };
  // every repair carries the same merged clock: encode it once
  return { actors: repairs.map((r) => r.actor), clock: encodeClock(repairs[0]!.clock) };
}
