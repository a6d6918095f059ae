import assert from 'node:assert/strict';
import { planIncrement } from '../coordinator/increment.js';
import { WriteQuorum } from '../coordinator/quorum.js';
import { planWriteTargets } from '../coordinator/write-targets.js';
import { asBuffer } from '../encoding/bytes.js';
import { ringKey } from '../storage/keys.js';
import { MsgType, type ClientPut, type Message } from '../transport/protocol.js';
import * as dvv from '../versioning/dvvset.js';
import { ValueKind, compareSiblings, decodeClock, decodeVV, encodeClock, encodeJoin, isDeleted, isExpired, isLive, newerSibling, type Clock as VClock, type Sibling } from '../versioning/sibling.js';
import type { LatencyWindow } from '../coordinator/throttle.js';
import { EMPTY, type ActorContext } from './context.js';
import { Coordinator } from './coordinator.js';
import type { DeadlineSweep } from './deadlines.js';
import type { ExpirySweep } from './expiry-sweep.js';
import type { Gossip } from './gossip.js';
import { FORWARD_OP, type AckReceiver, type OpView } from './op-table.js';
import { PutRequest } from './requests.js';

/**
 * Coordinating writes: mint the new version from what this replica holds,
 * send it to the replicas the sloppy-quorum planner picks (substitutes
 * hold hints), commit it locally, and answer once W replicas, this one
 * among them, have committed it. Whether to answer, and whether to re-send,
 * is the PutRequest's to say (requests.ts).
 */
export class PutCoordinator extends Coordinator<PutRequest> implements AckReceiver<PutRequest> {
  /** Writes that went to a sloppy substitute. */
  sloppyWrites = 0;
  /** Where a new clock entry of this writer starts (dvv.firstCounterAt), never lower than the last one used. */
  private firstCounter = 1;

  constructor(
    ctx: ActorContext,
    ops: OpView<PutRequest>,
    gossip: Gossip,
    sweep: DeadlineSweep,
    foreground: LatencyWindow,
    /** The id this actor's events carry in version clocks: its env's, not the actor id (see claimWriterId). */
    private readonly writerId: number,
    private readonly expiry: ExpirySweep,
  ) {
    super(ctx, ops, gossip, sweep, foreground);
  }

  /** A ClientPut the actor admitted; `pref` is the key's preference list, this actor on it. */
  coordinate(from: number, m: ClientPut, pref: readonly number[]): void {
    const { ctx } = this;
    this.coordinated++;
    let context: dvv.VersionVector;
    try {
      context = decodeVV(m.context);
    } catch (err) {
      return ctx.fail(from, m.req, 'INVALID_CONTEXT', 0, m.w, pref.length, (err as Error).message);
    }
    const key = ringKey(m.key, m.position);
    // the local copy must be writable before a dot is minted (see PutRequest.reply)
    if (ctx.store.full) {
      return ctx.fail(from, m.req, 'OVERLOADED', 0, m.w, pref.length, `actor ${ctx.id} has ${ctx.store.pendingWrites} writes waiting for a commit (maxPendingWritesPerActor)`);
    }
    const stored = ctx.store.peek(key);
    const local: VClock = stored === undefined ? dvv.empty() : decodeClock(stored);
    // An overwrite (a put or delete without a context) acts as if the client had read what this
    // replica holds. Reading the local clock and minting the write happen in this one synchronous
    // step, so no other write of this key on this actor can slip in between and become a sibling.
    // An increment is such an overwrite: it supersedes the local versions it folded into its counter.
    // (nothing held: nothing to supersede, and the first-write fast path below stays open)
    if ((m.overwrite || m.kind === ValueKind.Counter) && stored !== undefined) context = dvv.mergeVV(context, dvv.join(local));
    const nowMs = ctx.clock.now();
    const data = m.kind === ValueKind.Counter ? this.counterToWrite(from, m, local, pref.length, nowMs) : m.data;
    if (data === null) return;
    const next = this.mint(m, data, context, local, stored === undefined, nowMs);
    const siblings = dvv.size(next);
    if (siblings > ctx.config.maxSiblings) {
      return ctx.fail(from, m.req, 'TOO_MANY_SIBLINGS', siblings, ctx.config.maxSiblings, pref.length, '');
    }
    // Sloppy quorum (Dynamo), decided by the pure planner: dead replicas get
    // substitutes holding hints, suspected ones still get the write.
    const plan = planWriteTargets(ctx.id, pref, () => ctx.ring.walk(m.position), m.w, m.strict, this.gossip.health);
    if (!plan.ok) return ctx.fail(from, m.req, 'QUORUM_NOT_REACHED', 0, m.w, pref.length, plan.reason);
    const { owners, targets, hintFor } = plan;
    assert(owners.includes(ctx.id), "a coordinator is one of the key's replicas");
    const bytes = encodeClock(next);
    const monoMs = ctx.clock.monotonicMs();
    const existed = stored !== undefined && !isDeleted(local, nowMs); // a live value
    const counter = m.kind === ValueKind.Counter ? data : EMPTY;
    const p = new PutRequest(from, m.req, new WriteQuorum(targets, m.w), monoMs, monoMs + m.timeoutMs, encodeJoin(next), existed, counter, key, bytes, hintFor);
    const op = this.begin(p);
    this.sloppyWrites += hintFor.size;
    this.send(op, p, targets);
    this.forwardToPending(m.position, pref, key, bytes);
    ctx.store.write(key, asBuffer(bytes), (err) => this.progress(op, ctx.id, err === null));
    this.expiry.written(key, bytes);
    this.progress(op, -1, true);
  }

  /** A replica's ReplicateAck, routed here by the op table. */
  acked(op: number, p: PutRequest, from: number, ok: boolean): void {
    this.advance(op, p, from, ok);
  }

  /** At a deadline sweep: re-send to replicas whose ack is missing (a lost Replicate or ack), or give up. */
  expire(op: number, p: PutRequest, nowMs: number): void {
    if (p.retryDue(nowMs, this.ctx.config.writeRetryMs, this.ctx.config.writeRetries)) this.send(op, p, p.quorum.unanswered());
    if (this.overdue(p, nowMs, p.quorum.acks, p.quorum.w)) this.ops.delete(op);
  }

  /**
   * The new version: this write's sibling on top of the context, later than
   * anything this replica holds for the key (`local`; `fresh`: it holds nothing).
   */
  private mint(m: ClientPut, data: Uint8Array, context: dvv.VersionVector, local: VClock, fresh: boolean, nowMs: number): VClock {
    // an increment keeps the expiry of what it counts on, as Redis's INCR keeps a key's TTL
    const expiresAtMs = m.kind === ValueKind.Counter ? keptExpiry(dvv.values(local), nowMs) : m.expiresAtMs;
    // Later than anything this replica holds for the key, even within one millisecond (as a hybrid
    // logical clock does): last-write-wins, and "newest first", then follow the order writes arrived in.
    let timestampMs = Math.floor(nowMs);
    if (!fresh) for (const v of dvv.values(local)) if (v.timestampMs >= timestampMs) timestampMs = v.timestampMs + 1;
    const sibling: Sibling = expiresAtMs > 0 ? { kind: m.kind, timestampMs, writer: this.writerId, data, expiresAtMs } : { kind: m.kind, timestampMs, writer: this.writerId, data };
    // never below one minted before in this run, should the wall clock step back
    this.firstCounter = Math.max(this.firstCounter, dvv.firstCounterAt(nowMs));
    // First write of a key without a context (the common case of a load): the one-event clock directly.
    const next: VClock =
      fresh && context.length === 0
        ? { entries: [{ id: this.writerId, counter: this.firstCounter, values: [sibling] }], anonymous: [] }
        : dvv.update(dvv.fromContext(context, sibling), local, this.writerId, compareSiblings, this.firstCounter);
    return this.ctx.config.lastWriteWins ? dvv.lww(next, newerSibling) : next;
  }

  /**
   * An increment's counter: this writer's entry of the merged local counter
   * plus the delta (coordinator/increment.ts). Null after replying with why
   * it is refused (not a number, overflow, grown past maxPairBytes).
   */
  private counterToWrite(from: number, m: ClientPut, local: VClock, replicas: number, nowMs: number): Uint8Array | null {
    // an expired counter (or number) is gone: the increment starts from what is still live
    const plan = planIncrement(dvv.values(local).filter((s) => !isExpired(s, nowMs)), encodeJoin(local), this.writerId, m.data);
    if (!plan.ok) {
      this.ctx.fail(from, m.req, plan.code, 0, m.w, replicas, plan.detail);
      return null;
    }
    const pairBytes = m.key.length + plan.data.length;
    if (pairBytes > this.ctx.config.maxPairBytes) {
      this.ctx.fail(from, m.req, 'PAIR_TOO_LARGE', pairBytes, this.ctx.config.maxPairBytes, replicas, 'the counter has grown past maxPairBytes');
      return null;
    }
    return plan.data;
  }

  /** Replicate (or, to a substitute, ReplicateHint) to each of `to`, except this actor's own copy. */
  private send(op: number, p: PutRequest, to: readonly number[]): void {
    for (const replica of to) {
      if (replica === this.ctx.id) continue;
      const owner = p.hintFor.get(replica);
      const m: Message =
        owner === undefined ? { type: MsgType.Replicate, op, key: p.key, clock: p.clock, background: false } : { type: MsgType.ReplicateHint, op, key: p.key, clock: p.clock, owner };
      if (!this.ctx.transport.send(replica, m)) p.quorum.fail(replica);
    }
  }

  /** During a transfer: the replicas the pending ring adds for this position get the write too (acks not counted). */
  private forwardToPending(position: number, pref: readonly number[], key: Buffer, clock: Uint8Array): void {
    const { ctx } = this;
    if (ctx.pendingRing === null) return;
    for (const id of ctx.pendingRing.preferenceList(position)) {
      if (id === ctx.id || pref.includes(id) || this.gossip.suspects.has(id) || !ctx.transport.isConnected(id)) continue;
      ctx.transport.send(id, { type: MsgType.Replicate, op: FORWARD_OP, key, clock, background: false });
    }
  }

  /** This actor's own commit (or -1: nothing new, only look) for `op`, if the put is still open. */
  private progress(op: number, actor: number, ok: boolean): void {
    const p = this.ops.get(op);
    if (p !== undefined) this.advance(op, p, actor, ok);
  }

  private advance(op: number, p: PutRequest, actor: number, ok: boolean): void {
    const { ctx } = this;
    switch (p.reply(ctx.id, actor, ok)) {
      case 'none':
        break;
      case 'ok':
        this.answeredAfter(p);
        ctx.transport.send(p.client, { type: MsgType.PutOk, req: p.req, context: p.context, existed: p.existed, counter: p.counter });
        break;
      case 'own-write-failed':
        ctx.fail(p.client, p.req, 'QUORUM_NOT_REACHED', p.quorum.acks, p.quorum.w, p.quorum.replicas.length, "the coordinator's own write failed");
        break;
      case 'replicas-failed':
        ctx.fail(p.client, p.req, 'QUORUM_NOT_REACHED', p.quorum.acks, p.quorum.w, p.quorum.replicas.length, 'replicas failed');
        break;
    }
    if (p.answered) this.ops.delete(op);
  }
}

/** The expiry an increment keeps: none if any live value it counts on has none, else the latest (0: none). */
function keptExpiry(siblings: readonly Sibling[], nowMs: number): number {
  let latest = 0;
  for (const s of siblings) {
    if (!isLive(s, nowMs)) continue;
    if ((s.expiresAtMs ?? 0) === 0) return 0;
    latest = Math.max(latest, s.expiresAtMs!);
  }
  return latest;
}
