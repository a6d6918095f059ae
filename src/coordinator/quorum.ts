import * as dvv from '../versioning/dvvset.js';
import { syncClocks, type Clock } from '../versioning/sibling.js';

export type QuorumOutcome = 'pending' | 'ok' | 'failed';

/**
 * Write quorum bookkeeping for one put: which replicas acknowledged a durable
 * commit, which failed. Pure state; the coordinator feeds it replies and asks
 * whether it is done.
 */
// Small arrays rather than Sets: at most n (≤ 64) entries, and one of these
// is created per request on the hottest path, where allocation costs show.
export class WriteQuorum {
  private readonly acked: number[] = [];
  private readonly failed: number[] = [];

  constructor(
    readonly replicas: readonly number[],
    readonly w: number,
  ) {
    if (!Number.isInteger(w) || w < 1 || w > replicas.length) throw new RangeError(`w=${w} impossible with ${replicas.length} replicas`);
  }

  ack(actor: number): void {
    this.assertReplica(actor);
    if (!this.failed.includes(actor) && !this.acked.includes(actor)) this.acked.push(actor);
  }

  fail(actor: number): void {
    this.assertReplica(actor);
    if (!this.acked.includes(actor) && !this.failed.includes(actor)) this.failed.push(actor);
  }

  get acks(): number {
    return this.acked.length;
  }

  /** `actor` acknowledged (committed) the write. */
  hasAcked(actor: number): boolean {
    return this.acked.includes(actor);
  }

  /** Replicas that have neither acked nor failed (a write retry goes to these). */
  unanswered(): number[] {
    return this.replicas.filter((r) => !this.acked.includes(r) && !this.failed.includes(r));
  }

  get outcome(): QuorumOutcome {
    if (this.acked.length >= this.w) return 'ok';
    if (this.replicas.length - this.failed.length < this.w) return 'failed';
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
  /** Actors that replied, in reply order, and what each replied (parallel arrays). */
  private readonly repliedBy: number[] = [];
  private readonly replied: (Clock | null)[] = [];
  private readonly failed: number[] = [];

  constructor(
    readonly replicas: readonly number[],
    readonly r: number,
  ) {
    if (!Number.isInteger(r) || r < 1 || r > replicas.length) throw new RangeError(`r=${r} impossible with ${replicas.length} replicas`);
  }

  /** A replica's stored clock, or null when it holds nothing for the key. */
  reply(actor: number, clock: Clock | null): void {
    if (!this.replicas.includes(actor)) throw new RangeError(`actor ${actor} is not a replica of this request`);
    if (this.failed.includes(actor)) return;
    const i = this.repliedBy.indexOf(actor);
    if (i >= 0) {
      this.replied[i] = clock;
    } else {
      this.repliedBy.push(actor);
      this.replied.push(clock);
    }
  }

  fail(actor: number): void {
    // Like reply(): a stray non-replica failure would otherwise count toward 'failed'.
    if (!this.replicas.includes(actor)) throw new RangeError(`actor ${actor} is not a replica of this request`);
    if (!this.repliedBy.includes(actor) && !this.failed.includes(actor)) this.failed.push(actor);
  }

  get answered(): number {
    return this.repliedBy.length;
  }

  /** The clock `actor` replied with (null: nothing stored; undefined: no reply). */
  replyOf(actor: number): Clock | null | undefined {
    const i = this.repliedBy.indexOf(actor);
    return i < 0 ? undefined : this.replied[i];
  }

  get outcome(): QuorumOutcome {
    if (this.repliedBy.length >= this.r) return 'ok';
    if (this.replicas.length - this.failed.length < this.r) return 'failed';
    return 'pending';
  }

  /** True once every replica has replied or failed: read repair can be decided. */
  get complete(): boolean {
    return this.repliedBy.length + this.failed.length === this.replicas.length;
  }

  /** Reconciliation of all replies so far: descendants win, concurrent versions become siblings. */
  result(): Clock | null {
    let merged: Clock | null = null;
    for (const c of this.replied) {
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
    for (let i = 0; i < this.repliedBy.length; i++) {
      const actor = this.repliedBy[i]!;
      const c = this.replied[i]!;
      if (c === null || !dvv.equalHistory(c, merged) || c.anonymous.length !== merged.anonymous.length) out.push({ actor, clock: merged });
    }
    return out;
  }
}
