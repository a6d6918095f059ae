import 'reflect-metadata';
import assert from 'node:assert/strict';
import type { ActorConfig, ActorStats } from '../actor/actor.js';
import { compareReplicas, type ReplicaComparison } from '../antientropy/digests.js';
import type { HeldPeak } from '../antientropy/pass-plan.js';
import { ClusterClosedError, InvalidOptionError, LayoutMismatchError, UnknownActorError } from '../errors.js';
import { RING_SIZE, type Ring } from '../ring/ring.js';
import { systemClock, systemTimers, type Clock, type Timers } from '../runtime/services.js';
import { DataDirLock, destroyDataDir } from '../supervisor/data-dir-lock.js';
import { actorDataPath } from '../supervisor/metadata.js';
import { Supervisor, type ActorStatus } from '../supervisor/supervisor.js';
import { MsgType } from '../transport/protocol.js';
import { MAIN_THREAD, Transport } from '../transport/transport.js';
import { AutoscaleDriver, type AutoscaleEntry } from './autoscale-driver.js';
import { DirectReads, type ReadPathStats } from './direct-reads.js';
import { faultInjection, type Faults } from './faults.js';
import { inspectReplicas, type ReplicaView } from './inspect.js';
import { Layout } from './layout.js';
import { Liveness } from './liveness.js';
import { MembershipDriver, type CleanupResult, type MembershipPlan, type MembershipResult, type PlanChange } from './membership-driver.js';
import { actorConfigFrom, resolveOptions, type ClusterOptions, type ResolvedOptions } from './options.js';
import { MerkleBuilds, RepairDriver, type RepairReport } from './repair-driver.js';
import { ForegroundPacing } from './foreground-pacing.js';
import {
  checkRequestOptions,
  timeoutOf,
  type DeleteOptions,
  type GetOptions,
  type GetResult,
  type IncrementOptions,
  type IncrementResult,
  type PutOptions,
  type PutResult,
  type WriteCallback,
} from './requests.js';
import { RequestFront } from './request-front.js';
import { Router } from './router.js';
import { scanKeys } from './scan.js';
import { NodeRuntime, type NodesStatus } from '../nodes/node.js';
import { NodeChanges } from '../nodes/node-changes.js';
import { resolveNodeOptions } from '../nodes/node-options.js';
import { encodeKey, type Key, type Value } from './values.js';

export { MAX_TTL_MS } from './requests.js';
export type { DeleteOptions, GetOptions, GetResult, IncrementOptions, IncrementResult, PutOptions, PutResult, WriteCallback } from './requests.js';
export type { ReplicaView } from './inspect.js';
export type { RepairReport } from './repair-driver.js';
export type { CleanupResult, MembershipPlan, MembershipResult, PlanChange } from './membership-driver.js';
export type { Faults } from './faults.js';

export interface MemberInfo {
  readonly id: number;
  readonly zone: string;
  /** Virtual nodes (tokens) this actor owns on the ring. */
  readonly tokens: number;
  /** Fraction of the key space this actor holds a replica of. */
  readonly replicaShare: number;
  readonly status: ActorStatus;
}

/**
 * The public API. The main thread validates requests, places keys on the
 * ring and routes each request to an actor of the key's preference list,
 * which coordinates it. The one exception is a read it can serve itself,
 * exactly as a coordinator would, from the replicas' LMDB snapshots
 * (direct-reads.ts); it never writes data itself. The jobs behind it are
 * each in its own file: router.ts, liveness.ts, repair-driver.ts,
 * membership-driver.ts, autoscale-driver.ts, faults.ts.
 */
export class Cluster {
  private readonly transport: Transport;
  private readonly supervisor: Supervisor;
  private readonly liveness: Liveness;
  private readonly router: Router;
  /** Reads served on the main thread from the replicas' LMDB snapshots (see direct-reads.ts). */
  private readonly directReads: DirectReads;
  private readonly requests: RequestFront;
  private readonly builds: MerkleBuilds;
  /** Background work (Merkle scans, actors' background budgets) paced by the latency callers see. */
  private readonly pacing: ForegroundPacing;
  private readonly antiEntropy: RepairDriver;
  private readonly membership: MembershipDriver;
  private autoscale: AutoscaleDriver | null = null;
  private closed = false;
  /** Set for a node of a multi-node cluster (options.node): see src/nodes. */
  private node: NodeRuntime | null = null;
  private nodeChanges: NodeChanges | null = null;

  private constructor(
    readonly options: ResolvedOptions,
    private readonly layout: Layout,
    /** Held from start to the end of close(): one owner per data directory. */
    private readonly dirLock: DataDirLock,
    /** Every clock read and timer of the front end (the system's, unless a simulation brings its own). */
    private readonly clock: Clock = systemClock,
    private readonly timers: Timers = systemTimers,
  ) {
    this.transport = new Transport(MAIN_THREAD, timers, { maxBatchBytes: options.maxBatchBytes });
    this.transport.onMessage((from, m) => (m.type === MsgType.MemberView ? this.liveness.onMemberView(from, m.down) : this.router.onReply(m)));
    this.supervisor = new Supervisor(this.transport, (id) => this.router.coordinatorEnded(id), () => layout.allocateWriterId(), options.actorYoungGenerationMiB, options.actorOldGenerationMiB);
    this.liveness = new Liveness(this.supervisor, layout, clock, timers);
    this.builds = new MerkleBuilds(options);
    this.pacing = new ForegroundPacing(options, timers, this.builds.rate, this.builds);
    this.router = new Router(options, this.transport, this.liveness, this.pacing, clock, timers);
    this.directReads = this.createDirectReads();
    this.requests = new RequestFront({ options, layout, router: this.router, directReads: this.directReads, clock, assertOpen: () => this.assertOpen() });
    const drivers = { options, layout, supervisor: this.supervisor, liveness: this.liveness, router: this.router, builds: this.builds, clock, closed: () => this.closed };
    this.membership = new MembershipDriver({ ...drivers, transport: this.transport, timers, actorConfig: (id) => this.actorConfig(id) });
    this.antiEntropy = new RepairDriver({ ...drivers, changing: () => this.membership.changing });
    this.faults = faultInjection({
      dataDir: options.dataDir,
      supervisor: this.supervisor,
      liveness: this.liveness,
      repair: this.antiEntropy,
      assertOpen: () => this.assertOpen(),
      assertActor: (id) => this.assertActor(id),
    });
  }

  /**
   * Start a cluster on `dataDir`: a new one, or the one persisted there (same
   * actors, ring and data). Fails with DataDirLockedError, having written
   * nothing, while another process or another open Cluster here has the
   * directory; a failed start removes a directory it created.
   */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const o = resolveOptions(options);
    const nodeOptions = options.node === undefined ? null : resolveNodeOptions(options.node);
    // before anything reads or writes the directory: two owners would corrupt each other
    const lock = DataDirLock.acquire(o.dataDir);
    try {
      if (nodeOptions !== null) return await Cluster.openNode(o, options, lock, await NodeRuntime.prepare(o, options, nodeOptions));
      return await Cluster.open(o, options, lock);
    } catch (err) {
      lock.abandon();
      throw err;
    }
  }

  private static async open(o: ResolvedOptions, options: ClusterOptions, lock: DataDirLock): Promise<Cluster> {
    const layout = Layout.open(o, options);
    const meta = layout.meta;
    // the layout's own settings are the directory's, whatever the options said
    const cluster = new Cluster({ ...o, n: meta.n, lastWriteWins: meta.lastWriteWins, compressionThresholdBytes: meta.compressionThresholdBytes }, layout, lock);
    try {
      await cluster.supervisor.startAll(meta.members.map((m) => cluster.actorConfig(m.id)));
    } catch (err) {
      await cluster.abandonStart();
      const message = (err as Error).message;
      if (/layout version|belongs to actor/.test(message)) throw new LayoutMismatchError(message);
      throw err;
    }
    cluster.antiEntropy.start(cluster.timers);
    const policy = cluster.options.autoscale;
    const latency = cluster.router.requestLatency;
    if (policy !== null) {
      assert.ok(latency !== null, 'the router measures request latency when an autoscaler runs');
      cluster.autoscale = new AutoscaleDriver({ policy, layout, liveness: cluster.liveness, membership: cluster.membership, latency, clock: cluster.clock, timers: cluster.timers, closed: () => cluster.closed });
    }
    if (layout.existedBefore) cluster.antiEntropy.repairSoonIfRecovering();
    return cluster;
  }

  /**
   * A node of a multi-node cluster: the ring is etcd's, the actors started
   * here are this node's; a node not yet in the ring joins it (streaming
   * handoff) before this resolves.
   */
  private static async openNode(o: ResolvedOptions, options: ClusterOptions, lock: DataDirLock, node: NodeRuntime): Promise<Cluster> {
    let cluster: Cluster | null = null;
    try {
      const s = node.settings;
      const shaped: ResolvedOptions = { ...o, n: s.n, vnodes: s.vnodes, lastWriteWins: s.lastWriteWins, compressionThresholdBytes: s.compressionThresholdBytes };
      const layout = Layout.openNode(shaped, options, node.identity, node.routingMembers, node.ring.version);
      cluster = new Cluster(shaped, layout, lock);
      cluster.node = node;
      const c = cluster;
      const deps = { options: shaped, layout, supervisor: c.supervisor, transport: c.transport, router: c.router, liveness: c.liveness, builds: c.builds, closed: () => c.closed };
      await node.attach(deps);
      await c.supervisor.startAll(node.localActorsInRing().map((id) => c.actorConfig(id)));
      await node.started();
      c.nodeChanges = new NodeChanges(node, deps, (id) => c.actorConfig(id));
      if (node.localActorsInRing().length === 0) await c.nodeChanges.join();
      c.antiEntropy.start(c.timers);
      return c;
    } catch (err) {
      await node.close().catch(() => undefined);
      await cluster?.abandonStart();
      throw err;
    }
  }

  /** Undo a start that failed: stop what the constructor and the start began (the caller releases the lock). */
  private async abandonStart(): Promise<void> {
    this.router.stop();
    await this.supervisor.stopAll().catch(() => undefined);
    this.pacing.close();
    await this.builds.close();
    this.transport.close();
  }

  /** A node of a multi-node cluster: the nodes, their actors and etcd's state; null for a single-machine store. */
  nodes(): NodesStatus | null {
    return this.node?.nodesStatus() ?? null;
  }

  /** A node of a multi-node cluster leaves it: its actors hand their ranges to the others' and stop (then close() the cluster). */
  async leave(): Promise<MembershipResult> {
    this.assertOpen();
    if (this.nodeChanges === null) throw new InvalidOptionError('leave is for a node of a multi-node cluster (started with node options)');
    return this.nodeChanges.leave();
  }

  /** A node of a multi-node cluster removes another that is gone for good (its lease expired): its ranges stream to their new owners from the replicas that keep them. */
  async forgetNode(name: string): Promise<MembershipResult> {
    this.assertOpen();
    if (this.nodeChanges === null) throw new InvalidOptionError('forgetNode is for a node of a multi-node cluster (started with node options)');
    if (typeof name !== 'string') throw new InvalidOptionError('forgetNode takes a node name');
    return this.nodeChanges.forget(name);
  }

  /**
   * Node-level fault injection (a node of a multi-node cluster): every
   * message to and from the nodes named is cut (partitioned), lost with a
   * probability, or delayed, in this node's transport gateway. Empty heals.
   */
  setNodeFaults(faults: { partitioned?: readonly string[]; drop?: readonly (readonly [string, number])[]; delayMs?: readonly (readonly [string, number])[] }): void {
    this.assertOpen();
    if (this.node === null) throw new InvalidOptionError('node faults are for a node of a multi-node cluster');
    try {
      this.node.setFaults(faults);
    } catch (err) {
      throw new InvalidOptionError((err as Error).message);
    }
  }

  private createDirectReads(): DirectReads {
    const reads = new DirectReads({
      enabled: this.options.directReads,
      compressionThresholdBytes: this.options.compressionThresholdBytes,
      pathOf: (id) => actorDataPath(this.options.dataDir, id),
      running: (id) => this.liveness.isRunning(id),
      gossipDown: (id) => this.liveness.isGossipDown(id),
      faulted: (id) => this.supervisor.faultTouches(id),
      ringChanging: () => this.membership.ringChanging || (this.node?.switching ?? false),
      sendRepair: (actor, key, clock) => void this.transport.send(actor, { type: MsgType.Repair, key, clock }),
      monotonicMs: () => this.clock.monotonicMs(),
    });
    this.supervisor.addLifecycleListener(reads);
    return reads;
  }

  private actorConfig(id: number): ActorConfig {
    return actorConfigFrom(this.options, { id, members: this.layout.meta.members, expectsData: this.layout.existedBefore, readSignal: this.directReads.signalFor(id), backgroundCap: this.pacing.capBuffers });
  }

  /** Which path served reads: direct (main thread) or coordinated (an actor), with why, and direct reads' repairs. */
  readPaths(): ReadPathStats {
    return this.directReads.stats();
  }

  /** The ring requests are routed by (replaced by a membership change). */
  get ring(): Ring {
    return this.layout.ring;
  }

  get n(): number {
    return this.layout.meta.n;
  }

  /**
   * Write `value` under `key`; resolves once W replicas committed it durably.
   * Without a context it replaces what the coordinating replica holds; with
   * one it supersedes what that context saw; `sibling: true` supersedes nothing.
   */
  put(key: Key, value: Value, options: PutOptions = {}): Promise<PutResult> {
    return new Promise((resolve, reject) => this.requests.write('put', key, value, options, (err, result) => (err === null ? resolve(result!) : reject(err))));
  }

  /**
   * Delete `key`: a tombstone superseding what `context` saw or, without a
   * context, everything the coordinating replica holds.
   */
  delete(key: Key, options: DeleteOptions = {}): Promise<PutResult> {
    return new Promise((resolve, reject) => this.requests.write('delete', key, undefined, options, (err, result) => (err === null ? resolve(result!) : reject(err))));
  }

  /**
   * Add `by` (negative: subtract) to the PN-counter at `key`; resolves with
   * the new value once W replicas committed it. The coordinator adds to its
   * own writer's entry of the counter it holds, merged with any concurrent
   * copies, so increments coordinated anywhere — both sides of a partition —
   * all count once versions meet. A missing key starts at 0; a plain value
   * holding a number (Redis's INCR of "10") becomes the counter's base; any
   * other value is refused with NotACounterError, and a result outside
   * ±(2^53−1) (or infinite, with `float`) with CounterOverflowError, nothing
   * written. A timed-out increment may or may not have been applied.
   */
  increment(key: Key, by: number, options: IncrementOptions = {}): Promise<IncrementResult> {
    return new Promise((resolve, reject) => {
      try {
        this.incrementWithCallback(key, by, options, (err, result) => (err === null ? resolve(result!) : reject(err)));
      } catch (err) {
        reject(err as Error);
      }
    });
  }

  /** `increment` with a callback; bad input throws here, `done` runs exactly once, later. */
  incrementWithCallback(key: Key, by: number, options: IncrementOptions, done: (err: Error | null, result?: IncrementResult) => void): void {
    this.requests.increment(key, by, options, done);
  }

  /**
   * `put` with a callback instead of a promise, for front ends on their hot
   * path (a RESP SET allocates no promise). `done` runs exactly once, never
   * before this returns; bad input throws here, as `put` rejects.
   */
  putWithCallback(key: Key, value: Value, options: PutOptions, done: WriteCallback): void {
    this.requests.write('put', key, value, options, done);
  }

  /** `delete` with a callback instead of a promise (see putWithCallback). */
  deleteWithCallback(key: Key, options: DeleteOptions, done: WriteCallback): void {
    this.requests.write('delete', key, undefined, options, done);
  }

  /**
   * The read `get` would serve without a message, answered now: the
   * reconciled value when the replicas may be read directly (see
   * read-route.ts), or undefined when the read must go to a coordinator
   * (then call `get`). Lets a front end answer a read in the turn it
   * arrived, with no promise. Bad input throws, as `get` rejects.
   */
  getDirect(key: Key, options: GetOptions = {}): GetResult | undefined {
    return this.requests.directGet(this.requests.readRequest(key, options));
  }

  /**
   * The read `get` sends to a coordinator actor, without trying the direct
   * path first: for a front end whose `getDirect` just answered undefined
   * (so the read is routed, and counted by reason, once).
   */
  getCoordinated(key: Key, options: GetOptions = {}): Promise<GetResult> {
    try {
      return this.requests.coordinatedGet(this.requests.readRequest(key, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async get(key: Key, options: GetOptions = {}): Promise<GetResult> {
    const request = this.requests.readRequest(key, options);
    // Served here, synchronously, when equivalent to a coordinated read; else by a coordinator actor.
    return this.requests.directGet(request) ?? this.requests.coordinatedGet(request);
  }

  /** Reads hedged so far (see hedgeReadsAfterMs). */
  get hedgedReads(): number {
    return this.router.hedgedReads;
  }

  /** Requests refused by admission control so far (too many in flight to one actor, or a standing queue). */
  get refusedRequests(): { tooMany: number; tooSlow: number } {
    return this.router.admissions.refused();
  }

  /** Anti-entropy passes finished (by repair() or the periodic timer). */
  get repairs(): number {
    return this.antiEntropy.repairs;
  }

  /** The most any anti-entropy pass of this cluster held at once (see RepairReport.heldPeak). */
  get antiEntropyHeldPeak(): HeldPeak {
    return this.antiEntropy.heldPeak;
  }

  /** Periodic passes left out because the foreground was struggling (see antiEntropyIntervalMs, maxSkippedAntiEntropyPasses). */
  get antiEntropyPassesSkipped(): number {
    return this.antiEntropy.passesSkipped;
  }

  /** Periodic passes run although the foreground was struggling, maxSkippedAntiEntropyPasses having been skipped before them. */
  get antiEntropyPassesForced(): number {
    return this.antiEntropy.passesForced;
  }

  /** The autoscaler's state: its policy, and its latest decisions (at most 50) with the figures behind them. */
  autoscalerStatus(): { enabled: boolean; minActors?: number; maxActors?: number; decisions: readonly AutoscaleEntry[] } {
    const a = this.options.autoscale;
    return a === null || this.autoscale === null ? { enabled: false, decisions: [] } : { enabled: true, minActors: a.minActors, maxActors: a.maxActors, decisions: this.autoscale.decisions };
  }

  /** Fault injection: see faults.ts. */
  readonly faults: Faults;

  private assertActor(id: unknown): void {
    if (typeof id !== 'number' || !this.layout.ring.members.has(id)) throw new UnknownActorError(id);
  }

  /**
   * What each actor of the key's preference list stores for it, read
   * directly from each replica (no quorum, no repair): for checking
   * convergence in tests and tools.
   */
  async inspect(key: Key, options: { timeoutMs?: number } = {}): Promise<ReplicaView[]> {
    this.assertOpen();
    checkRequestOptions(options, ['timeoutMs']);
    const keyBytes = encodeKey(key, this.options.maxKeyBytes);
    const timeoutMs = timeoutOf(options.timeoutMs, this.options.timeoutMs);
    return inspectReplicas(this.layout.ring, this.liveness, this.router, keyBytes, timeoutMs, this.clock.now());
  }

  /**
   * One full anti-entropy pass over every ring arc. Each live replica's
   * Merkle trees are built in the piscina pool over read-only snapshots;
   * for each arc, replicas whose roots differ compare leaves, and only the
   * differing leaves' entries are exchanged between them (actor to actor,
   * merged as any replica write is). Then tombstones are reaped where it is
   * safe: every replica of the arc up and identical, no hint pending
   * anywhere, and the tombstone older than `tombstoneGraceMs`. Resolves when
   * the pass has finished.
   */
  async repair(options: { tombstoneGraceMs?: number; timeoutMs?: number } = {}): Promise<RepairReport> {
    this.assertOpen();
    checkRequestOptions(options, ['tombstoneGraceMs', 'timeoutMs']);
    const graceMs = options.tombstoneGraceMs ?? this.options.tombstoneGraceMs;
    if (!Number.isInteger(graceMs) || graceMs < 0) throw new InvalidOptionError(`tombstoneGraceMs must be a non-negative integer, got ${String(graceMs)}`);
    const timeoutMs = options.timeoutMs === undefined ? this.antiEntropy.defaultTimeoutMs : timeoutOf(options.timeoutMs, this.options.timeoutMs);
    return this.antiEntropy.run(graceMs, timeoutMs);
  }

  /**
   * Iterate over every live key, Redis-SCAN style: pass the returned cursor
   * back until it is 0 again. The cursor is a ring position, so a full pass
   * returns every key that existed throughout it (keys written or deleted
   * during the pass may or may not appear). Each ring arc is read from one
   * live replica, so a key that reached only other replicas shows up once
   * repair has brought it there.
   */
  async scan(cursor = 0, options: { count?: number; timeoutMs?: number } = {}): Promise<{ cursor: number; keys: Buffer[] }> {
    this.assertOpen();
    checkRequestOptions(options, ['count', 'timeoutMs']);
    if (!Number.isInteger(cursor) || cursor < 0 || cursor >= RING_SIZE) throw new InvalidOptionError(`scan cursor must be an integer in 0..${RING_SIZE - 1}, got ${String(cursor)}`);
    const count = options.count ?? 10;
    if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new InvalidOptionError(`scan count must be an integer in 1..100000, got ${String(count)}`);
    return scanKeys(this.ring, this.liveness, this.router, cursor, count, timeoutOf(options.timeoutMs, this.options.timeoutMs));
  }

  /**
   * What adding or removing actors would do, without doing it: the ring
   * after the changes, and the ranges that would stream from which actor to
   * which (only ranges whose replicas change move, each from a replica that
   * keeps it), with keys and bytes estimated from each source's Merkle
   * trees (built in the piscina pool over read-only snapshots).
   */
  async plan(requested: readonly PlanChange[], options: { estimate?: boolean } = {}): Promise<MembershipPlan> {
    this.assertOpen();
    return this.membership.plan(requested, options.estimate !== false);
  }

  /** Add an actor online: plan, stream it its ranges, switch the ring. */
  async addActor(options: { zone?: string; weight?: number } = {}): Promise<MembershipResult> {
    this.assertOpen();
    this.assertSingleMachine('addActor');
    return this.membership.addActor(options);
  }

  /** Decommission an actor online: its ranges stream to the actors that gain them, its hints are handed off, then its thread ends and its directory is deleted. */
  async removeActor(id: number): Promise<MembershipResult> {
    this.assertOpen();
    this.assertSingleMachine('removeActor');
    return this.membership.removeActor(id);
  }

  /**
   * Carry out a plan while the cluster serves. Every actor forwards the
   * writes it coordinates to the replicas the new ring adds, the planned
   * ranges stream from the replicas that keep them (paced by the background
   * budget, transferConcurrency at a time), and only then does the ring
   * switch — in every actor and here — and get persisted. A change that
   * fails is rolled back; one interrupted by a crash is rolled back at the
   * next start.
   */
  async commit(plan: MembershipPlan): Promise<MembershipResult> {
    this.assertOpen();
    this.assertSingleMachine('commit');
    return this.membership.commit(plan);
  }

  /**
   * Every actor deletes the copies of ranges it no longer replicates (a
   * membership change moved them to other actors), paced by its background
   * budget; positions it replicates under the current or a pending ring are
   * kept, so this is safe to run at any time. Resolves with what each actor
   * removed. Needs every actor up.
   */
  async cleanup(): Promise<CleanupResult> {
    this.assertOpen();
    return this.membership.cleanup();
  }

  /** Each actor: id, zone, tokens owned, share of the key space replicated, status. */
  members(): MemberInfo[] {
    return this.layout.meta.members.map((m) => ({
      id: m.id,
      zone: m.zone,
      tokens: m.tokens.length,
      replicaShare: this.ring.replicaShare(m.id),
      status: this.closed ? 'stopped' : this.liveness.statusOf(m.id),
    }));
  }

  /**
   * Per-actor counters (keys stored, requests coordinated, messages, hints)
   * of every live actor, from its control plane. An actor that does not
   * answer within `timeoutMs` (a paused one, say) is left out rather than
   * holding the caller.
   */
  async stats(options: { timeoutMs?: number } = {}): Promise<ActorStats[]> {
    this.assertOpen();
    return this.liveness.stats(options.timeoutMs ?? 1000);
  }

  /**
   * Compare every replica of every ring arc by content digest, computed in
   * the piscina pool over read-only snapshots of each actor's env. Pending
   * writes are not waited for: call it when the cluster is quiet.
   */
  async compareReplicas(): Promise<ReplicaComparison> {
    this.assertOpen();
    return compareReplicas(this.layout.ring, this.builds.source, this.options.antiEntropyMemoryBytes);
  }

  /** Flush and close every actor's LMDB env and end every thread. Pending requests fail with ClusterClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    // a node leaves etcd first: its lease revoked, the other nodes stop routing here at once
    await this.node?.close();
    await this.antiEntropy.stop(); // its pool reads the actors' envs: let it finish first
    this.closed = true;
    await this.builds.close(); // after the builds still running (a plan, a comparison) settle
    this.pacing.close();
    this.autoscale?.stop();
    this.router.stop();
    try {
      await this.supervisor.stopAll();
      await this.membership.settled(); // actors end a running cleanup when they close; this only settles its promise
      this.router.failAll();
      this.transport.close();
    } finally {
      // the threads are ended (stopAll terminates what does not stop): the directory is free
      this.dirLock.release();
    }
  }

  /**
   * Delete a cluster's data directory (for tests and tools). Refuses, with
   * DataDirLockedError, a directory that is open: in another process, or in
   * a Cluster of this one that is not closed yet.
   */
  static destroy(dataDir: string): void {
    destroyDataDir(dataDir);
  }

  /** On a multi-node cluster actors join and leave with their node. */
  private assertSingleMachine(what: string): void {
    if (this.node !== null) throw new InvalidOptionError(`${what}: on a multi-node cluster actors join and leave with their node (start a node, or leave())`);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClusterClosedError();
  }
}
