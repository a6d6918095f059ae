import * as dvv from '../versioning/dvvset.js';
import { syncClocks, type Clock } from '../versioning/sibling.js';

export type QuorumOutcome = 'pending' | 'ok' | 'failed';

/**
 * Write quorum bookkeeping for one put: which replicas acknowledged a durable
 * commit, which failed. Pure state; the coordinator feeds it replies and asks
 * whether it is done.
 */
export class WriteQuorum {
  private readonly acked = new Set<number>();
  private readonly failed = new Set<number>();

  constructor(
    readonly replicas: readonly number[],
    readonly w: number,
  ) {
    if (!Number.isInteger(w) || w < 1 || w > replicas.length) throw new RangeError(`w=${w} impossible with ${replicas.length} replicas`);
  }

  ack(actor: number): void {
    this.assertReplica(actor);
    if (!this.failed.has(actor)) this.acked.add(actor);
  }

  fail(actor: number): void {
    this.assertReplica(actor);
    if (!this.acked.has(actor)) this.failed.add(actor);
  }

  get acks(): number {
    return this.acked.size;
  }

  get outcome(): QuorumOutcome {
    if (this.acked.size >= this.w) return 'ok';
    if (this.replicas.length - this.failed.size < this.w) return 'failed';
    return 'pending';
  }

  private assertReplica(actor: number): void {
    if (!this.replicas.includes(actor)) throw new RangeError(`actor ${actor} is not a replica of this request`);
  }
}

/**
 * Read quorum bookkeeping, Riak get-FSM style: add replies, ask `enough`,
 * take the reconciled `result`, and once every replica has answered (or the
 * request ended), ask which replicas need a read repair and with what.
 */
export class ReadQuorum {
  private readonly replies = new Map<number, Clock | null>();
  private readonly failed = new Set<number>();

  constructor(
    readonly replicas: readonly number[],
    readonly r: number,
  ) {
    if (!Number.isInteger(r) || r < 1 || r > replicas.length) throw new RangeError(`r=${r} impossible with ${replicas.length} replicas`);
  }

  /** A replica's stored clock, or null when it holds nothing for the key. */
  reply(actor: number, clock: Clock | null): void {
    if (!this.replicas.includes(actor)) throw new RangeError(`actor ${actor} is not a replica of this request`);
    if (!this.failed.has(actor)) this.replies.set(actor, clock);
  }

  fail(actor: number): void {
    // Like reply(): a stray non-replica failure would otherwise count toward 'failed'.
    if (!this.replicas.includes(actor)) throw new RangeError(`actor ${actor} is not a replica of this request`);
    if (!this.replies.has(actor)) this.failed.add(actor);
  }

  get answered(): number {
    return this.replies.size;
  }

  /** The clock `actor` replied with (null: nothing stored; undefined: no reply). */
  replyOf(actor: number): Clock | null | undefined {
    return this.replies.get(actor);
  }

  get outcome(): QuorumOutcome {
    if (this.replies.size >= this.r) return 'ok';
    if (this.replicas.length - this.failed.size < this.r) return 'failed';
    return 'pending';
  }

  /** True once every replica has replied or failed: read repair can be decided. */
  get complete(): boolean {
    return this.replies.size + this.failed.size === this.replicas.length;
  }

  /** Reconciliation of all replies so far: descendants win, concurrent versions become siblings. */
  result(): Clock | null {
    let merged: Clock | null = null;
    for (const c of this.replies.values()) {
      if (c === null) continue;
      merged = merged === null ? c : syncClocks(merged, c);
    }
    return merged;
  }

  /** Replicas that replied with less than the reconciled clock (or nothing), and the clock to send them. */
  repairs(): { actor: number; clock: Clock }[] {
    const merged = this.result();
    if (merged === null) return [];
    const out: { actor: number; clock: Clock }[] = [];
    for (const [actor, c] of this.replies) {
      if (c === null || !dvv.equalHistory(c, merged) || c.anonymous.length !== merged.anonymous.length) out.push({ actor, clock: merged });
    }
    return out;
  }
}
