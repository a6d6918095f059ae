import 'reflect-metadata';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type { MessagePort } from 'node:worker_threads';
import { inject, injectable } from 'tsyringe';
import { asBuffer } from '../encoding/bytes.js';
import { ringPosition } from '../ring/hash.js';
import { Ring, type RingMember } from '../ring/ring.js';
import { TOKENS, type Clock, type Random, type Timers } from '../runtime/services.js';
import { positionOf, ringKey, userKeyOf } from '../storage/keys.js';
import type { ReplicaStore, WriteDone } from '../storage/replica-store.js';
import type { LinkFaults } from '../transport/faults.js';
import { MsgType, type ClientGet, type ClientPut, type ClientScan, type Message } from '../transport/protocol.js';
import { Transport } from '../transport/transport.js';
import { decodeClock, isDeleted } from '../versioning/sibling.js';
import { BackgroundBudget, THROTTLE_INTERVAL_MS } from './background-budget.js';
import { Cleanup } from './cleanup.js';
import type { ActorConfig, ActorControl, ActorStats, CleanupReport } from './config.js';
import { ActorContext, EMPTY, IGNORE_WRITE } from './context.js';
import { DeadlineSweep } from './deadlines.js';
import { ExpirySweep } from './expiry-sweep.js';
import { GetCoordinator } from './get-coordinator.js';
import { Gossip } from './gossip.js';
import { Hints, type HandoffOp } from './hints.js';
import { OpTable } from './op-table.js';
import { PutCoordinator } from './put-coordinator.js';
import { RangePush, type SyncJob } from './range-push.js';
import { Reap } from './reap.js';
import { ReplicaMerge } from './replica-merge.js';
import type { GetRequest, PutRequest } from './requests.js';

export type { ActorConfig, ActorControl, ActorStats, CleanupReport } from './config.js';

/**
 * A partition-owner actor: it stores the replicas of the keys whose
 * preference list includes it, and coordinates the requests routed to it.
 * This is its shell: the control plane, the periodic timers, and the
 * dispatch of each message to the job that handles it (one file each:
 * put-coordinator, get-coordinator, replica-merge, hints, range-push,
 * cleanup, reap, gossip, expiry-sweep), all sharing one ActorContext.
 */
@injectable()
export class PartitionActor implements ActorControl {
  readonly id: number;
  private readonly ctx: ActorContext;
  private readonly ops: OpTable<PutRequest | GetRequest | HandoffOp | SyncJob>;
  private readonly sweep: DeadlineSweep;
  private readonly gossip: Gossip;
  private readonly budget: BackgroundBudget;
  private readonly expiry: ExpirySweep;
  private readonly merge: ReplicaMerge;
  private readonly puts: PutCoordinator;
  private readonly gets: GetCoordinator;
  private readonly hints: Hints;
  private readonly pushes: RangePush;
  private readonly cleanups: Cleanup;
  private readonly reaps: Reap;
  /** Periodic timers, stopped at close. */
  private readonly periodic: { cancel(): void }[];
  private replicaWrites = 0;
  private lastElu = performance.eventLoopUtilization();
  private recentUtilisation = 0;

  constructor(
    @inject(TOKENS.actorConfig) config: ActorConfig,
    @inject(TOKENS.store) store: ReplicaStore,
    @inject(TOKENS.transport) transport: Transport,
    @inject(TOKENS.clock) clock: Clock,
    @inject(TOKENS.timers) timers: Timers,
    @inject(TOKENS.random) random: Random,
  ) {
    const ctx = new ActorContext(config, store, transport, clock, timers);
    this.ctx = ctx;
    this.id = ctx.id;
    this.ops = new OpTable(config.freshWriterId);
    const writerId = store.claim(this.id, config.freshWriterId, config.expectsData);
    transport.onMessage((from, m) => this.handleSafely(from, m));
    this.gossip = new Gossip(ctx, random);
    this.budget = new BackgroundBudget(ctx);
    this.sweep = new DeadlineSweep(ctx);
    this.hints = new Hints(ctx, this.ops.view('handoff'), this.budget, this.gossip);
    this.periodic = [
      timers.setInterval(() => this.gossip.round(), config.gossipIntervalMs),
      timers.setInterval(() => this.hints.round(), config.handoffIntervalMs),
      timers.setInterval(() => this.sampleUtilisation(), 1000),
      timers.setInterval(() => this.budget.tick(), THROTTLE_INTERVAL_MS),
    ];
    this.expiry = new ExpirySweep(
      {
        id: this.id,
        store,
        clock,
        timers,
        send: (to, m) => transport.send(to, m),
        replicasOf: (storedKey) => (ctx.pendingRing !== null ? null : ctx.ring.preferenceList(positionOf(storedKey))),
        peers: () => [...ctx.ring.members.keys()].filter((id) => id !== this.id),
        isDead: (id) => this.gossip.health.dead(id),
        run: config.freshWriterId,
      },
      config.expirySweep,
    );
    this.merge = new ReplicaMerge(this.id, store, this.expiry, config.lastWriteWins);
    this.puts = new PutCoordinator(ctx, this.ops.view('put'), this.gossip, this.sweep, this.budget.foreground, writerId, this.expiry);
    this.gets = new GetCoordinator(ctx, this.ops.view('get'), this.gossip, this.sweep, this.budget.foreground, this.merge);
    this.pushes = new RangePush(ctx, this.ops.view('push'), this.budget, this.sweep);
    this.cleanups = new Cleanup(ctx, this.budget);
    this.reaps = new Reap(ctx, this.budget);
    this.ops.routeAcksTo({ put: this.puts, handoff: this.hints, push: this.pushes });
    // the order paced jobs resume in, and deadlines are swept in
    this.budget.pace(this.pushes);
    this.budget.pace(this.reaps);
    this.budget.pace(this.cleanups);
    this.sweep.watch(this.pushes);
    this.sweep.watch({ waiting: () => this.ops.requestCount > 0, expire: (now) => this.expireRequests(now) });
  }

  // ---- control plane ----

  ping(): number {
    return this.id;
  }

  connectPeer(peer: number, port: MessagePort): void {
    const { ring, pendingRing } = this.ctx;
    // below -1: another node's main thread (src/nodes), which sends requests like the local one
    if (peer > -2 && !ring.members.has(peer) && !(pendingRing?.members.has(peer) ?? false)) throw new Error(`actor ${this.id}: unknown peer ${peer}`);
    this.ctx.transport.connect(peer, port);
  }

  connectClient(port: MessagePort): void {
    this.ctx.transport.connect(-1, port);
  }

  setRings(members: readonly RingMember[], pending: readonly RingMember[] | null): void {
    const { ctx } = this;
    const ring = Ring.build(members, ctx.config.n);
    const pendingRing = pending === null ? null : Ring.build(pending, ctx.config.n);
    ctx.ring = ring;
    ctx.pendingRing = pendingRing;
    const ids = new Set([...ring.members.keys(), ...(pendingRing?.members.keys() ?? [])]);
    this.gossip.setMembers([...ids]);
    for (const peer of ctx.transport.peers()) if (peer >= 0 && !ids.has(peer)) ctx.transport.disconnect(peer); // a removed actor (main threads, < 0, stay)
  }

  stats(): ActorStats {
    const { store, transport } = this.ctx;
    const t = transport.metrics;
    return {
      id: this.id,
      keys: store.count(),
      pendingOps: this.ops.requestCount,
      pendingWrites: store.pendingWrites,
      pendingWritesPeak: store.pendingWritesPeak,
      cachedBytes: store.cachedBytes,
      ...heapFigures(),
      coordinatedPuts: this.puts.coordinated,
      coordinatedGets: this.gets.coordinated,
      replicaWrites: this.replicaWrites,
      readRepairs: this.gets.readRepairs,
      antiEntropyKeysSent: this.pushes.keysSent,
      cleanupRemovedKeys: this.cleanups.removedKeys,
      cleanupRunning: this.cleanups.busy,
      backgroundChunkPeakBytes: this.budget.chunkPeakBytes,
      backgroundWindowPeakEntries: this.budget.windowPeakEntries,
      recovering: store.recovering,
      ...this.gossip.stats,
      eventLoopUtilization: this.recentUtilisation,
      backgroundBudgetPerSec: this.budget.perSec,
      hintsPending: store.hintCount(),
      hintsStored: this.hints.stored,
      hintsHandedOff: this.hints.handedOff,
      hintsDropped: this.hints.dropped,
      expiryIndexEntries: store.expiryIndexCount(),
      ...this.expiry.stats,
      sloppyWrites: this.puts.sloppyWrites,
      commits: store.commits,
      committedWrites: store.committedWrites,
      messagesSent: t.messagesSent,
      messagesReceived: t.messagesReceived,
      batchesSent: t.batchesSent,
      batchesReceived: t.batchesReceived,
    };
  }

  /** Stop taking requests, let in-flight writes commit, flush and close the env. */
  async close(): Promise<void> {
    const { ctx } = this;
    if (ctx.closing) return;
    ctx.closing = true;
    this.sweep.close();
    for (const timer of this.periodic) timer.cancel();
    this.expiry.close();
    this.budget.close();
    this.cleanups.close();
    for (const [, p] of this.ops.openRequests()) if (!p.answered) ctx.fail(p.client, p.req, 'CLUSTER_CLOSED', 0, 0, 0, 'actor is shutting down');
    this.ops.clearRequests();
    ctx.transport.flush();
    await ctx.store.close();
    ctx.transport.close();
  }

  setFaults(faults: LinkFaults): void {
    this.ctx.transport.setFaults(faults);
  }

  peerDown(peer: number): void {
    this.gossip.ended(peer);
  }

  peerUp(peer: number): void {
    this.gossip.reset(peer);
  }

  recovered(): void {
    this.ctx.store.markRecovered();
  }

  pause(ms: number): void {
    if (this.ctx.config.pauseSignal === null) throw new Error('this actor was started without a pause signal');
    const signal = new Int32Array(this.ctx.config.pauseSignal);
    // The whole thread stops while the signal says paused (1); heal() clears it and notifies. It used to
    // be the other way round, and a heal left every unpaused actor's signal set: its next pause returned at once.
    Atomics.wait(signal, 0, 1, ms);
    Atomics.store(signal, 0, 0);
  }

  cleanup(): Promise<CleanupReport> {
    return this.cleanups.start();
  }

  /** Once a second, so every reader of stats() sees the same figure. */
  private sampleUtilisation(): void {
    const now = performance.eventLoopUtilization();
    this.recentUtilisation = Math.round(performance.eventLoopUtilization(now, this.lastElu).utilization * 1000) / 1000;
    this.lastElu = now;
  }

  // ---- message handling ----

  /**
   * A message that cannot be handled (a corrupt stored clock, a protocol
   * violation) fails its request loudly with INTERNAL and is logged; it does
   * not take the whole actor, and every other key it owns, down with it.
   */
  private handleSafely(from: number, m: Message): void {
    try {
      this.handle(from, m);
    } catch (err) {
      console.error(`ringkv actor ${this.id}: failed to handle message type ${m.type} from ${from}:`, err);
      if (m.type === MsgType.ClientPut || m.type === MsgType.ClientGet) this.ctx.fail(from, m.req, 'INTERNAL', 0, 0, 0, (err as Error).message);
    }
  }

  private handle(from: number, m: Message): void {
    const { store, transport } = this.ctx;
    switch (m.type) {
      case MsgType.ClientPut: {
        const pref = this.admit(from, m, m.w);
        if (pref !== null) this.puts.coordinate(from, m, pref);
        return;
      }
      case MsgType.ClientGet: {
        const pref = this.admit(from, m, m.r);
        if (pref !== null) this.gets.coordinate(from, m, pref);
        return;
      }
      case MsgType.Replicate:
        this.replicaWrites++;
        return this.merge.merge(asBuffer(m.key), m.clock, this.ackOnCommit(from, m.op), m.background);
      case MsgType.ReplicateAck:
        return this.ops.ack(m.op, from, m.ok);
      case MsgType.Read:
        // a recovering replica answers, but as not counting: the coordinator asks another
        transport.send(from, { type: MsgType.ReadReply, op: m.op, ok: !store.recovering, clock: store.get(asBuffer(m.key)) ?? EMPTY });
        return;
      case MsgType.ReadReply:
        return this.gets.replied(m.op, from, m.ok, m.clock);
      case MsgType.Repair:
        this.merge.merge(asBuffer(m.key), m.clock, IGNORE_WRITE);
        return;
      case MsgType.ClientScan:
        return this.scan(from, m);
      case MsgType.ClientInspect: {
        const key = ringKey(m.key, m.position);
        transport.send(from, { type: MsgType.InspectOk, req: m.req, clock: store.get(key) ?? EMPTY, hints: this.hints.heldFor(key) });
        return;
      }
      case MsgType.ReplicateHint:
        return this.hints.store(asBuffer(m.key), m.owner, m.clock, this.ackOnCommit(from, m.op));
      case MsgType.SyncRanges:
        return this.pushes.start(from, m);
      case MsgType.ReapRanges:
        return this.reaps.start(from, m);
      case MsgType.ExpiryCheck:
        return this.expiry.answer(from, m);
      case MsgType.ExpiryCheckReply:
        return this.expiry.replied(from, m);
      case MsgType.ExpiryReap:
        return this.expiry.reap(m);
      case MsgType.Gossip:
        return this.gossip.merge(m.heartbeats);
      case MsgType.InspectOk:
      case MsgType.SyncDone:
      case MsgType.ReapDone:
        throw new Error(`actor ${this.id}: unexpected reply type ${m.type} from ${from}`);
      case MsgType.MemberView:
        throw new Error(`actor ${this.id}: unexpected member view from ${from}`);
      case MsgType.PutOk:
      case MsgType.GetOk:
      case MsgType.ScanOk:
      case MsgType.Fail:
        throw new Error(`actor ${this.id}: unexpected client reply type ${m.type} from ${from}`);
    }
  }

  /** A replica write (or hint) is acked to its sender once committed, or as failed. */
  private ackOnCommit(from: number, op: number): WriteDone {
    return (err) => this.ctx.transport.send(from, { type: MsgType.ReplicateAck, op, ok: err === null });
  }

  /** Checks common to both request kinds; returns the preference list or null after replying with a failure. */
  private admit(from: number, m: ClientPut | ClientGet, needed: number): readonly number[] | null {
    const { ctx } = this;
    if (ctx.closing) {
      ctx.fail(from, m.req, 'CLUSTER_CLOSED', 0, needed, 0, 'actor is shutting down');
      return null;
    }
    if (this.ops.requestCount >= ctx.config.maxPendingOps) {
      ctx.fail(from, m.req, 'OVERLOADED', 0, needed, 0, `actor ${this.id} coordinates ${this.ops.requestCount} requests (maxPendingOps)`);
      return null;
    }
    if (ringPosition(m.key) !== m.position) {
      ctx.fail(from, m.req, 'INTERNAL', 0, needed, 0, 'ring position does not match key');
      return null;
    }
    const pref = ctx.ring.preferenceList(m.position);
    if (!pref.includes(this.id)) {
      // the front end routed with the other side of a ring switch: nothing was done, so it may ask another replica
      ctx.fail(from, m.req, 'NOT_A_REPLICA', 0, needed, 0, `actor ${this.id} is not a replica of this key in its ring`);
      return null;
    }
    return pref;
  }

  /** At a deadline sweep: each open request, in the order they began, to its coordinator. */
  private expireRequests(nowMs: number): void {
    for (const [op, p] of this.ops.openRequests()) {
      if (p.kind === 'put') this.puts.expire(op, p, nowMs);
      else this.gets.expire(op, p, nowMs);
    }
  }

  /**
   * Live keys this actor stores in [fromPosition, toPosition], in ring order,
   * stopping after `limit` keys but never in the middle of a ring position
   * (so a cursor that is a position never skips a key). Deleted keys (only
   * tombstones) are left out.
   */
  private scan(from: number, m: ClientScan): void {
    const keys: Uint8Array[] = [];
    let next = m.toPosition + 1;
    let lastPosition = -1;
    const nowMs = this.ctx.clock.now(); // an expired value is left out as a deleted one is
    for (const { key, value } of this.ctx.store.range(m.fromPosition, m.toPosition + 1)) {
      const position = positionOf(key);
      if (keys.length >= m.limit && position !== lastPosition) {
        next = position;
        break;
      }
      lastPosition = position;
      if (!isDeleted(decodeClock(value), nowMs)) keys.push(Buffer.from(userKeyOf(key))); // a copy: range buffers may be reused
    }
    this.ctx.transport.send(from, { type: MsgType.ScanOk, req: m.req, keys, nextPosition: next });
  }
}

/** This thread's V8 heap, for stats: what a benchmark needs to tell heap growth from native (malloc, LMDB) growth. */
function heapFigures(): { heapBytes: number; heapUsedBytes: number; externalBytes: number; heapNewSpaceBytes: number; heapOldSpaceBytes: number; heapLimitBytes: number } {
  const h = getHeapStatistics();
  const spaces = getHeapSpaceStatistics();
  const space = (name: string): number => spaces.find((s) => s.space_name === name)?.physical_space_size ?? 0;
  return {
    heapBytes: h.total_physical_size,
    heapUsedBytes: h.used_heap_size,
    externalBytes: (h as { external_memory?: number }).external_memory ?? 0,
    heapNewSpaceBytes: space('new_space'),
    heapOldSpaceBytes: space('old_space'),
    heapLimitBytes: h.heap_size_limit,
  };
}
