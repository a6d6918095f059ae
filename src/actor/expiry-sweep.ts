import { asBuffer } from '../encoding/bytes.js';
import { murmur3 } from '../ring/hash.js';
import type { Clock, Timers } from '../runtime/services.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import { RunNumbers } from './incarnation.js';
import { EXPIRY_DIGEST_BYTES, MsgType, type ExpiryCheck, type ExpiryCheckReply, type ExpiryReap, type Message } from '../transport/protocol.js';
import { decodeClock, expiryDueMs, reapable } from '../versioning/sibling.js';

/**
 * The expiry sweep: expired values collected about as fast as they are
 * written, without scanning the data set.
 *
 * The anti-entropy pass also collects expired values, but only where every
 * replica's Merkle leaf is identical, and a pass reads every key: under a
 * steady load of expiring writes it falls behind for good (measured: one
 * pass took the whole 60 s of a load, and the expired entries grew with
 * it). So the first replica of a key's preference list, when it stores
 * an entry of expiring values, also indexes it (ReplicaStore.indexExpiry)
 * under the time it becomes collectable; when that time comes, it asks
 * every peer, in batches, whether it holds exactly the same bytes (a
 * digest) and how many hints it holds. Only when every replica of a key matched and no actor
 * holds a hint is the entry removed everywhere — the conditions under which
 * the pass's reap removes it, checked per key instead of per leaf — so no
 * older version can come back. Anything else is looked at again later.
 * Only the first replica indexes: an index entry on every replica measured
 * 12 LMDB writes per expiring key instead of 8, and the pass's reap still
 * collects what a first replica missed (it was down when the write was
 * made, say).
 *
 * Bounded: one batch (batchKeys) in flight at a time, its replies awaited
 * for at most checkTimeoutMs.
 */
export interface ExpirySweepDeps {
  readonly id: number;
  readonly store: ReplicaStore;
  readonly clock: Clock;
  readonly timers: Timers;
  send(to: number, m: Message): void;
  /** The key's preference list in the current ring, or null while a membership change runs (nothing is collected then). */
  replicasOf(storedKey: Uint8Array): readonly number[] | null;
  /** Every other member of the current ring (any of them may hold a hint). */
  peers(): readonly number[];
  /** The peer's thread ended or its link is gone or cut: it cannot answer (and may hold hints), so nothing is collected meanwhile. */
  isDead(id: number): boolean;
  /** This run of the actor (its spawn's fresh writer id): check numbers are its own. */
  readonly run: number;
}

export interface ExpirySweepConfig {
  /** An expired value is collected no sooner than this after it expired (the cluster's tombstoneGraceMs). */
  readonly graceMs: number;
  /** How often due entries are looked for (0: the sweep is off; the pass's reap alone collects). */
  readonly intervalMs: number;
  /** Entries one check carries at most. */
  readonly batchKeys: number;
}

interface Candidate {
  readonly indexKey: Buffer;
  readonly key: Buffer;
  readonly digest: Uint8Array;
  readonly replicas: readonly number[];
}

interface Check {
  readonly req: number;
  readonly cutoffMs: number;
  readonly candidates: Candidate[];
  /** Peers that have not answered yet, and the answers so far. */
  readonly waiting: Set<number>;
  readonly matched: Map<number, Uint8Array>;
  hintsPending: number;
  /** The index had a full batch due: more may be waiting, so the next sweep starts as soon as this check ends. */
  readonly more: boolean;
  readonly deadline: { cancel(): void };
}

export interface ExpirySweepStats {
  /** Entries this actor removed: as the one that checked, or as a replica told to. */
  readonly expiredCollected: number;
  /** Entries looked at again later (a replica differed, did not answer, a hint was pending, the ring was changing). */
  readonly expiryRetries: number;
}

export class ExpirySweep {
  private readonly timer: { cancel(): void } | null;
  private check: Check | null = null;
  /**
   * Where a sweep that goes on at once (more was due) resumes: the last index
   * entry looked at. Its drops and moves are not committed yet, so reading
   * from the start would find them again. The interval's sweep starts over.
   */
  private resumeAfter: Buffer | null = null;
  /** Check numbers of this run only (see incarnation.ts). */
  private readonly checkNumbers: RunNumbers;
  private closed = false;
  private collected = 0;
  private retries = 0;
  private readonly retryMs: number;
  private readonly checkTimeoutMs: number;

  constructor(
    private readonly deps: ExpirySweepDeps,
    private readonly config: ExpirySweepConfig,
  ) {
    this.checkNumbers = new RunNumbers(deps.run);
    this.retryMs = 10 * config.intervalMs;
    // generous: a loaded peer answers late, and a check given up is a batch put off (a dead peer is not asked at all)
    this.checkTimeoutMs = Math.max(10_000, 5 * config.intervalMs);
    this.timer = config.intervalMs > 0 ? deps.timers.setInterval(() => this.sweep(true), config.intervalMs) : null;
  }

  get stats(): ExpirySweepStats {
    return { expiredCollected: this.collected, expiryRetries: this.retries };
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.check?.deadline.cancel();
    this.check = null;
  }

  /** A value was written for `storedKey`: index it if it will become collectable and this actor is the key's first replica. */
  written(storedKey: Uint8Array, bytes: Uint8Array): void {
    if (this.timer === null) return;
    const dueMs = expiryDueMs(bytes);
    if (dueMs === 0) return;
    const atMs = collectableAtMs(dueMs, this.config.graceMs);
    // Any replica indexes a value that arrives already collectable: a push or repair read before the
    // key was collected elsewhere and delivered after it, which no first replica holds an entry for.
    if (this.deps.replicasOf(storedKey)?.[0] !== this.deps.id && atMs > this.deps.clock.now()) return;
    this.deps.store.indexExpiry(atMs, storedKey);
  }

  /** Look at the entries due now, and ask the peers about those still collectable. */
  private sweep(fromStart: boolean): void {
    if (this.closed || this.check !== null) return;
    if (fromStart) this.resumeAfter = null;
    const nowMs = this.deps.clock.now();
    const cutoffMs = nowMs - this.config.graceMs;
    const due = this.deps.store.dueExpiries(nowMs, this.config.batchKeys, this.resumeAfter);
    const more = due.length === this.config.batchKeys;
    this.resumeAfter = more ? due[due.length - 1]!.indexKey : null;
    const candidates: Candidate[] = [];
    for (const e of due) {
      const current = this.deps.store.peek(e.key);
      const dueMs = current === undefined ? 0 : expiryDueMs(current);
      // gone, or no longer collectable, or written again since (that write indexed itself): forget this entry
      if (current === undefined || dueMs === 0 || collectableAtMs(dueMs, this.config.graceMs) > e.atMs) {
        this.deps.store.dropExpiry(e.indexKey);
        continue;
      }
      const replicas = this.deps.replicasOf(e.key);
      if (replicas === null || !replicas.includes(this.deps.id) || !reapable(decodeClock(current), cutoffMs)) {
        this.later(e.indexKey, e.key, nowMs);
        continue;
      }
      candidates.push({ indexKey: e.indexKey, key: e.key, digest: digestOf(current), replicas });
    }
    if (candidates.length === 0) {
      if (more) this.deps.timers.setImmediate(() => this.sweep(false));
      return;
    }
    const peers = this.deps.peers();
    if (peers.some((id) => this.deps.isDead(id))) {
      // nothing can be collected until it is back: leave the index as it is and look again next interval
      this.retries += candidates.length;
      this.resumeAfter = null;
      return;
    }
    const req = this.checkNumbers.take();
    const check: Check = {
      req,
      cutoffMs,
      candidates,
      waiting: new Set(peers),
      matched: new Map(),
      hintsPending: this.deps.store.hintCount(),
      more,
      deadline: this.deps.timers.setTimeout(() => this.finish(req), this.checkTimeoutMs),
    };
    this.check = check;
    if (peers.length === 0) return this.finish(req);
    const keys = candidates.map((c) => c.key);
    const digests = concatDigests(candidates);
    for (const peer of peers) this.deps.send(peer, { type: MsgType.ExpiryCheck, req, keys, digests });
  }

  /** A peer asks: do you hold exactly these? */
  answer(from: number, m: ExpiryCheck): void {
    const matched = new Uint8Array(m.keys.length);
    m.keys.forEach((key, i) => {
      const current = this.deps.store.peek(asBuffer(key));
      // nothing held matches too: collected here already (a different version, newer or not, never matches)
      matched[i] = current === undefined || sameDigest(digestOf(current), m.digests, i) ? 1 : 0;
    });
    this.deps.send(from, { type: MsgType.ExpiryCheckReply, req: m.req, matched, hintsPending: this.deps.store.hintCount() });
  }

  replied(from: number, m: ExpiryCheckReply): void {
    const check = this.check;
    if (check === null || check.req !== m.req || !check.waiting.has(from)) return; // late: that check was given up
    if (m.matched.length !== check.candidates.length) throw new Error(`expiry check reply from ${from} answers ${m.matched.length} of ${check.candidates.length} keys`);
    check.waiting.delete(from);
    check.matched.set(from, m.matched);
    check.hintsPending += m.hintsPending;
    if (check.waiting.size === 0) this.finish(check.req);
  }

  /** Every replica held these: remove what is still the same here. */
  reap(m: ExpiryReap): void {
    m.keys.forEach((key, i) => {
      const k = asBuffer(key);
      if (this.deps.replicasOf(k) === null) return; // a membership change began since the check: its streams may carry older copies
      const current = this.deps.store.peek(k);
      if (current === undefined || !sameDigest(digestOf(current), m.digests, i) || !reapable(decodeClock(current), m.cutoffMs)) return;
      this.deps.store.write(k, null, IGNORE, true);
      this.collected++;
    });
  }

  /** All peers answered, or the deadline passed: collect what every replica matched, look at the rest later. */
  private finish(req: number): void {
    const check = this.check;
    if (check === null || check.req !== req) return;
    this.check = null;
    check.deadline.cancel();
    if (this.closed) return;
    const nowMs = this.deps.clock.now();
    const answeredAll = check.waiting.size === 0 && check.hintsPending === 0;
    const reaps = new Map<number, Candidate[]>();
    check.candidates.forEach((c, i) => {
      // (a membership change that began since the check may be streaming older copies to new replicas: wait for it)
      const agreed = answeredAll && this.deps.replicasOf(c.key) !== null && c.replicas.every((id) => id === this.deps.id || check.matched.get(id)?.[i] === 1);
      const current = agreed ? this.deps.store.peek(c.key) : undefined;
      if (current === undefined || !sameDigest(digestOf(current), c.digest, 0)) {
        if (agreed) this.deps.store.dropExpiry(c.indexKey); // changed here meanwhile: that write indexed itself
        else this.later(c.indexKey, c.key, nowMs);
        return;
      }
      this.deps.store.write(c.key, null, IGNORE, true);
      this.deps.store.dropExpiry(c.indexKey);
      this.collected++;
      for (const id of c.replicas) if (id !== this.deps.id) (reaps.get(id) ?? reaps.set(id, []).get(id)!).push(c);
    });
    for (const [peer, cs] of reaps) this.deps.send(peer, { type: MsgType.ExpiryReap, keys: cs.map((c) => c.key), digests: concatDigests(cs), cutoffMs: check.cutoffMs });
    // more may be due: go on at once rather than at the next interval
    if (check.more) this.deps.timers.setImmediate(() => this.sweep(false));
  }

  private later(indexKey: Buffer, key: Buffer, nowMs: number): void {
    this.retries++;
    this.deps.store.dropExpiry(indexKey);
    this.deps.store.indexExpiry(nowMs + this.retryMs, key);
  }
}

const IGNORE = (): void => undefined;

/** The first instant at which an entry due at `dueMs` is collectable: reapable() wants it strictly before now - grace. */
function collectableAtMs(dueMs: number, graceMs: number): number {
  return dueMs + graceMs + 1;
}

/** Length and two 32-bit hashes of an entry's stored bytes. */
export function digestOf(bytes: Uint8Array): Uint8Array {
  const d = Buffer.allocUnsafe(EXPIRY_DIGEST_BYTES);
  d.writeUInt32BE(bytes.length, 0);
  d.writeUInt32BE(murmur3(bytes, 0x45585031), 4);
  d.writeUInt32BE(murmur3(bytes, 0x45585032), 8);
  return d;
}

function sameDigest(digest: Uint8Array, digests: Uint8Array, index: number): boolean {
  const at = index * EXPIRY_DIGEST_BYTES;
  for (let i = 0; i < EXPIRY_DIGEST_BYTES; i++) if (digest[i] !== digests[at + i]) return false;
  return true;
}

function concatDigests(candidates: readonly Candidate[]): Uint8Array {
  const out = new Uint8Array(candidates.length * EXPIRY_DIGEST_BYTES);
  candidates.forEach((c, i) => out.set(c.digest, i * EXPIRY_DIGEST_BYTES));
  return out;
}
