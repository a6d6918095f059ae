import { ReadQuorum } from '../coordinator/quorum.js';
import type { LatencyWindow } from '../coordinator/throttle.js';
import { ringKey } from '../storage/keys.js';
import { MsgType, type ClientGet } from '../transport/protocol.js';
import { EMPTY, IGNORE_WRITE, type ActorContext } from './context.js';
import { Coordinator } from './coordinator.js';
import type { DeadlineSweep } from './deadlines.js';
import type { Gossip } from './gossip.js';
import type { OpView } from './op-table.js';
import type { ReplicaMerge } from './replica-merge.js';
import { GetRequest, sparesFor } from './requests.js';

/**
 * Coordinating reads. A read asks only R replicas (this one and R-1
 * others, as Cassandra does), not all N: a third fewer messages and LMDB
 * reads. A replica that fails is replaced at once by a spare, a slow one
 * after speculativeRetryMs; once every asked replica answered, the stale
 * ones get a read repair. What to ask and answer is the GetRequest's to
 * say (requests.ts).
 */
export class GetCoordinator extends Coordinator<GetRequest> {
  readRepairs = 0;

  constructor(ctx: ActorContext, ops: OpView<GetRequest>, gossip: Gossip, sweep: DeadlineSweep, foreground: LatencyWindow, private readonly merge: ReplicaMerge) {
    super(ctx, ops, gossip, sweep, foreground);
  }

  /** A ClientGet the actor admitted; `pref` is the key's preference list, this actor on it. */
  coordinate(from: number, m: ClientGet, pref: readonly number[]): void {
    const { ctx } = this;
    this.coordinated++;
    const key = ringKey(m.key, m.position);
    const now = ctx.clock.monotonicMs();
    const p = new GetRequest(from, m.req, key, new ReadQuorum(pref, m.r), now, now + m.timeoutMs, sparesFor(ctx.id, pref, this.gossip.suspects));
    const op = this.begin(p);
    // a recovering replica's own copy does not count: one more is asked instead
    const selfCounts = !ctx.store.recovering;
    for (let asked = selfCounts ? 1 : 0; asked < m.r && p.hasSpare; ) if (this.askSpare(op, p)) asked++;
    const stored = ctx.store.get(key);
    this.advance(op, p, ctx.id, selfCounts, stored ?? EMPTY);
  }

  /** A replica's ReadReply, if the read is still open. */
  replied(op: number, from: number, ok: boolean, clockBytes: Uint8Array): void {
    const p = this.ops.get(op);
    if (p !== undefined) this.advance(op, p, from, ok, clockBytes);
  }

  /** At a deadline sweep: ask every spare once speculativeRetryMs passed, or give up. */
  expire(op: number, p: GetRequest, nowMs: number): void {
    if (p.speculativeDue(nowMs, this.ctx.config.speculativeRetryMs)) while (p.hasSpare) this.askSpare(op, p);
    if (this.overdue(p, nowMs, p.quorum.answered, p.quorum.r)) this.finish(op, p);
  }

  private advance(op: number, p: GetRequest, actor: number, ok: boolean, clockBytes: Uint8Array): void {
    const { ctx } = this;
    p.reply(actor, ok, clockBytes);
    while (p.wantsSpare) this.askSpare(op, p);
    switch (p.answer()) {
      case 'none':
        break;
      case 'ok':
        this.answeredAfter(p);
        ctx.transport.send(p.client, { type: MsgType.GetOk, req: p.req, clock: p.result() });
        break;
      case 'failed':
        ctx.fail(p.client, p.req, 'QUORUM_NOT_REACHED', p.quorum.answered, p.quorum.r, p.quorum.replicas.length, 'replicas failed');
        break;
    }
    if (p.finished) this.finish(op, p);
  }

  /** Ask the next unasked replica; false (and counted as failed) when it cannot be reached. */
  private askSpare(op: number, p: GetRequest): boolean {
    const replica = p.nextSpare();
    if (replica === undefined) return false;
    if (this.ctx.transport.send(replica, { type: MsgType.Read, op, key: p.key })) {
      p.asked();
      return true;
    }
    p.unreachable(replica);
    return false;
  }

  /** All asked replicas answered (or the deadline passed): send read repairs to the stale ones. */
  private finish(op: number, p: GetRequest): void {
    this.ops.delete(op);
    const repairs = p.repairs();
    for (const actor of repairs.actors) {
      this.readRepairs++;
      if (actor === this.ctx.id) this.merge.merge(p.key, repairs.clock, IGNORE_WRITE);
      else this.ctx.transport.send(actor, { type: MsgType.Repair, key: p.key, clock: repairs.clock });
    }
  }
}
