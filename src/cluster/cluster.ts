import 'reflect-metadata';
import { rmSync } from 'node:fs';
import type { ActorConfig, ActorStats, CleanupReport } from '../actor/actor.js';
import {
  ClusterClosedError,
  CounterOverflowError,
  InvalidValueError,
  NotACounterError,
  PairTooLargeError,
  InvalidContextError,
  InvalidOptionError,
  LayoutMismatchError,
  OverloadedError,
  QuorumError,
  RingkvError,
  TooManySiblingsError,
  UnknownActorError,
  type ErrorCode,
} from '../errors.js';
import { allocateTokens, arcRanges, Ring, RING_SIZE, type RingMember } from '../ring/ring.js';
import { ringPosition } from '../ring/hash.js';
import { systemClock, systemTimers, type Clock, type Timers } from '../runtime/services.js';
import { actorDataPath, loadMetadata, saveMetadata, type ClusterMetadata } from '../supervisor/metadata.js';
import { DataDirLock, destroyDataDir } from '../supervisor/data-dir-lock.js';
import { LAYOUT_VERSION } from '../storage/store.js';
import { Supervisor, type ActorStatus } from '../supervisor/supervisor.js';
import { clusterView } from '../membership/failure-detector.js';
import { MsgType, type Message } from '../transport/protocol.js';
import { MAIN_THREAD, Transport } from '../transport/transport.js';
import * as dvv from '../versioning/dvvset.js';
import { compareSiblings, contextOfEncodedVV, decodeClock, decodeContext, encodeContext, encodeVV, isExpired, isLive, isTombstone, ValueKind } from '../versioning/sibling.js';
import { compareReplicas, type ReplicaComparison } from '../antientropy/digests.js';
import { MerklePool } from '../antientropy/merkle-pool.js';
import { ScanPacer } from '../antientropy/scan-pace.js';
import { minimumPassBytes, PassLedger, type HeldPeak } from '../antientropy/pass-plan.js';
import { walkTrees, type TreeSource } from '../antientropy/trees.js';
import { runPass } from './repair-pass.js';
import { applyChanges, MembershipError, planTransfers, type MembershipChange, type Transfer } from '../membership/plan.js';
import { Autoscaler, type Decision } from '../membership/autoscaler.js';
import { AdmissionTable, type Admission } from '../coordinator/admission.js';
import { LatencyWindow } from '../coordinator/throttle.js';
import { actorConfigFrom, resolveConsistency, resolveOptions, type ClusterOptions, type Consistency, type ResolvedOptions } from './options.js';
import { checkPairSize, decodeValue, encodeKey, encodeValue, type Key, type Value } from './values.js';
import { DirectReads, type ReadPathStats } from './direct-reads.js';
import type { Clock as VersionClock } from '../versioning/sibling.js';
import { decodeCounter, encodeDelta, value as counterValue } from '../versioning/counter.js';

export interface PutOptions {
  /** Acks needed (default: the cluster's w). */
  readonly w?: Consistency;
  /**
   * The context of a previous get (or put): this write supersedes exactly what
   * that read saw, and versions it did not see stay as siblings. '' (a get of
   * a missing key) is a context too: it saw nothing, so it supersedes nothing.
   *
   * Without a context, the write supersedes every version the coordinating
   * replica holds when it applies the write (what Redis SET and DEL mean): a
   * put replaces, a delete deletes. Versions the coordinator has not seen —
   * writes coordinated elsewhere during a failure — still become siblings.
   */
  readonly context?: string;
  /**
   * put only: add this value beside whatever the key holds, superseding
   * nothing (a blind sibling; the same as `context: ''`). Takes no context.
   */
  readonly sibling?: boolean;
  /**
   * put only: the value expires this many ms from now (integer, 1..MAX_TTL_MS):
   * from then on no read shows it, and the tombstone GC collects it. The
   * expiry is part of the version: it replicates and repairs with the value.
   */
  readonly ttlMs?: number;
  /** put only: the value expires at this wall-clock instant (ms since the epoch; a past one writes a value no read shows). Not with ttlMs. */
  readonly expireAtMs?: number;
  /** Refuse sloppy substitutes for this write (default: the cluster's `strict`). */
  readonly strict?: boolean;
  /** Have this actor of the key's preference list coordinate (as a client connected to that node would); default: the first live one. */
  readonly via?: number;
  readonly timeoutMs?: number;
}

/** A delete takes a put's options but `sibling` (a blind tombstone would hide nothing) and expiry. */
export type DeleteOptions = Omit<PutOptions, 'sibling' | 'ttlMs' | 'expireAtMs'>;

/** The longest ttlMs a put takes: 100 years. */
export const MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000;

/** An increment takes a put's options but a context (it always folds in what its coordinator holds) or `sibling`. */
export interface IncrementOptions extends Omit<PutOptions, 'sibling' | 'context'> {
  /**
   * INCRBYFLOAT: `by` may be any finite number and the counter may become
   * fractional. Without it (INCR), `by` must be a safe integer and the
   * counter must hold an integer.
   */
  readonly float?: boolean;
}

export interface IncrementResult {
  /** The counter's value as the coordinator wrote it: its merged local copy plus `by`. */
  readonly value: number;
  /** Causal context of the counter just written. */
  readonly context: string;
}

export interface GetOptions {
  /** Replies needed (default: the cluster's r). */
  readonly r?: Consistency;
  /** Have this actor of the key's preference list coordinate; default: the first live one. */
  readonly via?: number;
  readonly timeoutMs?: number;
}

/** A read's checked arguments. */
interface ReadRequest {
  readonly keyBytes: Uint8Array;
  readonly r: number;
  readonly timeoutMs: number;
  readonly via: number | undefined;
}

/** How a callback-style write ends: `err` null and the result, or the typed error. */
export type WriteCallback = (err: Error | null, result?: PutResult) => void;

export interface PutResult {
  /** Causal context of the value just written; pass it to the next put/delete of this key. */
  readonly context: string;
  /** The coordinating replica held a live (not deleted) value for the key when it applied this write. */
  readonly existed: boolean;
}

export interface GetResult {
  /** Every concurrent sibling, newest first (empty when not found or deleted). */
  readonly values: Value[];
  /** When each of `values` expires (ms since the epoch; 0: never), in the same order. */
  readonly expiresAtMs: number[];
  /** Opaque causal context covering every sibling: pass it to a put to resolve them. */
  readonly context: string;
  readonly found: boolean;
}

/** What one replica stores for a key, as is (no quorum, no reconciliation). */
export interface ReplicaView {
  readonly actor: number;
  readonly status: ActorStatus;
  /** 'replica': the actor is in the key's preference list; 'hint': it holds a hint for `hintFor`. */
  readonly role: 'replica' | 'hint';
  readonly hintFor?: number;
  /** null when the actor could not be asked (down) or did not answer. */
  readonly found: boolean | null;
  /** Every stored version, tombstones and expired values included, newest first (expiresAtMs 0: never). */
  readonly versions: { value: Value | null; deleted: boolean; expired: boolean; expiresAtMs: number; timestampMs: number; writer: number }[];
  /** The causal context of what this replica holds ('' when nothing). */
  readonly context: string;
}

/** A change to plan: add an actor (id from the cluster; zone default: the zone with the fewest actors), or remove one. */
export type PlanChange = { readonly kind: 'add'; readonly zone?: string; readonly weight?: number } | { readonly kind: 'remove'; readonly id: number };

/** What a membership change would do (`plan`): nothing is changed by asking. */
export interface MembershipPlan {
  readonly changes: readonly MembershipChange[];
  /** The members the ring would have, with their tokens and share of the key space. */
  readonly members: readonly { readonly id: number; readonly zone: string; readonly tokens: number; readonly replicaShare: number }[];
  /** Ranges each actor would stream to each other, with keys and bytes estimated from the sources' Merkle trees. */
  readonly transfers: readonly Transfer[];
  /** Fraction of all key replicas that would move (ideally the changed actors' share). */
  readonly movedFraction: number;
  readonly keys: number;
  readonly bytes: number;
  /** The ring version the plan was made against: commit refuses it once the ring has changed. */
  readonly ringVersion: number;
  /** The members with their tokens, as commit will install them. */
  readonly target: readonly RingMember[];
}

/** What a cleanup removed, per actor and in all. */
export interface CleanupResult {
  readonly actors: readonly CleanupReport[];
  readonly removed: number;
  readonly failed: number;
}

/** What a carried-out membership change did. */
export interface MembershipResult {
  readonly ringVersion: number;
  readonly added: readonly number[];
  readonly removed: readonly number[];
  /** Entries streamed to the actors that gained ranges (each once per receiving actor). */
  readonly keysStreamed: number;
  readonly bytesStreamed: number;
  readonly durationMs: number;
  readonly movedFraction: number;
}

/** Ranges one SyncRanges push carries at most during a membership transfer (each range is a small slice of an arc). */
const TRANSFER_RANGES_PER_PUSH = 16;
/** How often the Merkle builds' scan rate is recomputed from the foreground's latency. */
const SCAN_PACE_INTERVAL_MS = 250;
/** How long a leaving actor may take to hand off the hints it holds. */
const DECOMMISSION_HINTS_TIMEOUT_MS = 30_000;

/** What one anti-entropy pass found and moved. */
export interface RepairReport {
  readonly arcs: number;
  /** Arcs whose replicas were all up, so compared in full (others compare their live replicas only). */
  readonly arcsComplete: number;
  readonly arcsDiffering: number;
  readonly leavesDiffering: number;
  /** Entries pushed between replicas, and their bytes (keys + stored clocks), each counted once per receiving peer. */
  readonly keysSent: number;
  readonly bytesSent: number;
  /** Keys held by the replicas compared (each replica's copy counted): the size the exchange is measured against. */
  readonly keysCompared: number;
  readonly bytesCompared: number;
  readonly tombstonesReaped: number;
  /** Pushes cut short (maxRepairPushEntries, lost acks) or refused (the pusher already runs maxRepairPushesPerActor): the next pass goes on. */
  readonly pushesIncomplete: number;
  /** The most the pass held at once: Merkle trees and push/reap ranges, with their estimated bytes (never above antiEntropyMemoryBytes). */
  readonly heldPeak: HeldPeak;
  readonly durationMs: number;
}

export interface MemberInfo {
  readonly id: number;
  readonly zone: string;
  /** Virtual nodes (tokens) this actor owns on the ring. */
  readonly tokens: number;
  /** Fraction of the key space this actor holds a replica of. */
  readonly replicaShare: number;
  readonly status: ActorStatus;
}

interface PendingRequest {
  readonly operation: 'get' | 'put' | 'delete' | 'increment' | 'scan' | 'repair';
  /** The actor coordinating it: if its thread ends, the request is answered at once. */
  readonly coordinator: number;
  readonly startedMs: number;
  /** Called once if the request is still unanswered at `slowAtMs` (a read then hedges). */
  onSlow: (() => void) | undefined;
  readonly slowAtMs: number;
  readonly needed: number;
  readonly replicas: number;
  readonly deadlineMs: number;
  /** The coordinator's admission control, for client requests (put, get, delete); told when the request ends. */
  readonly admission: Admission | null;
  resolve(m: Message): void;
  reject(e: Error): void;
}

/** How long past a request's own deadline the main thread waits for its coordinator's answer (which says who replied). */
const coordinatorGraceMs = (timeoutMs: number): number => Math.min(1000, Math.max(100, Math.round(timeoutMs / 4)));

/**
 * The coordinator's thread ended before it answered. Still a QuorumError to
 * callers (a write may or may not have reached replicas); a read is
 * re-routed to another replica instead.
 */
class CoordinatorEndedError extends QuorumError {}

/**
 * The public API. The main thread validates requests, places keys on the
 * ring and routes each request to an actor of the key's preference list,
 * which coordinates it. The one exception is a read it can serve itself,
 * exactly as a coordinator would, from the replicas' LMDB snapshots
 * (direct-reads.ts); it never writes data itself.
 */
export class Cluster {
  private readonly transport: Transport;
  private readonly supervisor: Supervisor;
  private readonly pending = new Map<number, PendingRequest>();
  /** Anti-entropy passes finished (by repair() or the periodic timer). */
  repairs = 0;
  /** The most any anti-entropy pass of this cluster held at once (see RepairReport.heldPeak). */
  antiEntropyHeldPeak: HeldPeak = { bytes: 0, trees: 0, ranges: 0 };
  /** One pool for every Merkle build of the cluster's life (passes, plans, comparisons). */
  private readonly merklePool = new MerklePool();
  /** Paces the pool's scans by the latency of the requests this cluster sends (see scan-pace.ts). */
  private readonly scanPacer: ScanPacer;
  private readonly scanPacing: { cancel(): void };
  private antiEntropy: { cancel(): void } | null = null;
  /** The background anti-entropy pass in progress, if any (close() waits for it). */
  private backgroundRepair: Promise<unknown> | null = null;
  /** Each live actor's latest gossip verdict: the members it considers down. */
  private readonly views = new Map<number, readonly number[]>();
  private gossipDown = new Set<number>();
  private nextReq = 1;
  private closed = false;
  private readonly sweeper: { cancel(): void };

  private constructor(
    readonly options: ResolvedOptions,
    private meta: ClusterMetadata,
    private currentRing: Ring,
    /** Held from start to the end of close(): one owner per data directory. */
    private readonly dirLock: DataDirLock,
    /** Every clock read and timer of the front end (the system's, unless a simulation brings its own). */
    private readonly clock: Clock = systemClock,
    private readonly timers: Timers = systemTimers,
  ) {
    this.transport = new Transport(MAIN_THREAD, this.timers, { maxBatchBytes: options.maxBatchBytes });
    this.transport.onMessage((from, m) => (m.type === MsgType.MemberView ? this.onMemberView(from, m.down) : this.onReply(m)));
    this.supervisor = new Supervisor(this.transport, (id) => this.coordinatorEnded(id), () => this.allocateWriterId(), options.actorYoungGenerationMiB, options.actorOldGenerationMiB);
    this.directReads = this.createDirectReads();
    this.admissions = new AdmissionTable({
      targetMs: options.overloadTargetMs,
      intervalMs: options.overloadIntervalMs,
      maxInFlight: options.maxInFlightPerActor,
      minInFlight: Math.min(options.maxInFlightPerActor, 8),
    });
    this.sweeper = this.timers.setInterval(() => this.expire(), 50);
    this.scanPacer = new ScanPacer(this.merklePool.rate, {
      targetP99Ms: options.backgroundTargetP99Ms,
      minPerSec: Math.min(options.antiEntropyScanMinPerSec, options.antiEntropyScanMaxPerSec),
      maxPerSec: options.antiEntropyScanMaxPerSec,
      stepPerSec: Math.max(1, Math.ceil(options.antiEntropyScanMaxPerSec / 20)),
      baselineFactor: options.backgroundP99Factor,
      floorMs: options.backgroundP99FloorMs,
    });
    this.scanPacing = this.timers.setInterval(() => this.scanPacer.tick(this.merklePool.busy), SCAN_PACE_INTERVAL_MS);
  }

  /**
   * Start a cluster on `dataDir`: a new one, or the one persisted there (same
   * actors, ring and data). Fails with DataDirLockedError, having written
   * nothing, while another process or another open Cluster here has the
   * directory; a failed start removes a directory it created.
   */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const o = resolveOptions(options);
    // before anything reads or writes the directory: two owners would corrupt each other
    const lock = DataDirLock.acquire(o.dataDir);
    try {
      return await Cluster.open(o, options, lock);
    } catch (err) {
      lock.abandon();
      throw err;
    }
  }

  private static async open(o: ResolvedOptions, options: ClusterOptions, lock: DataDirLock): Promise<Cluster> {
    const persisted = loadMetadata(o.dataDir);
    let meta = persisted ?? createMetadata(o);
    checkCompatible(o, options, meta);
    if (meta.pending) {
      // stopped in the middle of a membership change: roll it back (writes went to the old replicas, counted there)
      for (const m of meta.pending.members) if (!meta.members.some((x) => x.id === m.id)) rmSync(actorDataPath(o.dataDir, m.id), { recursive: true, force: true });
      meta = { ...meta, pending: null };
      saveMetadata(o.dataDir, meta);
      console.error(`ringkv: ${o.dataDir}: a membership change was interrupted; rolled back to ring version ${meta.ringVersion ?? 1}`);
    }
    if (persisted === null) saveMetadata(o.dataDir, meta);
    const ring = Ring.build(meta.members, meta.n);
    const cluster = new Cluster({ ...o, n: meta.n, lastWriteWins: meta.lastWriteWins, compressionThresholdBytes: meta.compressionThresholdBytes }, meta, ring, lock);
    cluster.existedBefore = persisted !== null;
    try {
      await cluster.supervisor.startAll(meta.members.map((m) => cluster.actorConfig(m.id)));
    } catch (err) {
      cluster.sweeper.cancel();
      cluster.scanPacing.cancel();
      cluster.transport.close();
      const message = (err as Error).message;
      if (/layout version|belongs to actor/.test(message)) throw new LayoutMismatchError(message);
      throw err;
    }
    cluster.startAntiEntropy();
    cluster.startAutoscaler();
    if (cluster.existedBefore) cluster.repairSoonIfRecovering();
    return cluster;
  }

  /** Reads served on the main thread from the replicas' LMDB snapshots (see direct-reads.ts). */
  private readonly directReads: DirectReads;

  private createDirectReads(): DirectReads {
    const reads = new DirectReads({
      enabled: this.options.directReads,
      compressionThresholdBytes: this.meta.compressionThresholdBytes,
      pathOf: (id) => actorDataPath(this.options.dataDir, id),
      running: (id) => this.supervisor.status(id) === 'up',
      gossipDown: (id) => this.gossipDown.has(id),
      faulted: (id) => this.supervisor.faultTouches(id),
      ringChanging: () => (this.changing || this.meta.pending != null) && !this.changeStreaming,
      sendRepair: (actor, key, clock) => void this.transport.send(actor, { type: MsgType.Repair, key, clock }),
      monotonicMs: () => this.clock.monotonicMs(),
    });
    this.supervisor.addLifecycleListener(reads);
    return reads;
  }

  /** Which path served reads: direct (main thread) or coordinated (an actor), with why, and direct reads' repairs. */
  readPaths(): ReadPathStats {
    return this.directReads.stats();
  }

  /** The ring requests are routed by (replaced by a membership change). */
  get ring(): Ring {
    return this.currentRing;
  }

  /** The data directory held this cluster before this start: an empty actor env then means a lost disk. */
  private existedBefore = false;

  /** A clock writer id never handed out before, persisted before it is used. */
  private allocateWriterId(): number {
    const id = this.meta.nextWriterId;
    this.meta = { ...this.meta, nextWriterId: id + 1 };
    saveMetadata(this.options.dataDir, this.meta);
    return id;
  }

  private actorConfig(id: number): ActorConfig {
    return actorConfigFrom(this.options, { id, members: this.meta.members, expectsData: this.existedBefore, readSignal: this.directReads.signalFor(id) });
  }

  get n(): number {
    return this.meta.n;
  }

  /**
   * Write `value` under `key`; resolves once W replicas committed it durably.
   * Without a context it replaces what the coordinating replica holds; with
   * one it supersedes what that context saw; `sibling: true` supersedes nothing.
   */
  put(key: Key, value: Value, options: PutOptions = {}): Promise<PutResult> {
    return new Promise((resolve, reject) => this.write('put', key, value, options, (err, result) => (err === null ? resolve(result!) : reject(err))));
  }

  /**
   * Delete `key`: a tombstone superseding what `context` saw or, without a
   * context, everything the coordinating replica holds.
   */
  delete(key: Key, options: DeleteOptions = {}): Promise<PutResult> {
    return new Promise((resolve, reject) => this.write('delete', key, undefined, options, (err, result) => (err === null ? resolve(result!) : reject(err))));
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
    this.assertOpen();
    checkRequestOptions(options, INCREMENT_OPTIONS);
    if (options.float !== undefined && typeof options.float !== 'boolean') throw new InvalidOptionError('float must be a boolean');
    const integer = options.float !== true;
    if (typeof by !== 'number' || (integer ? !Number.isSafeInteger(by) : !Number.isFinite(by))) {
      throw new InvalidValueError(integer ? `increment must be an integer within ±(2^53-1), got ${String(by)}` : `increment must be a finite number, got ${String(by)}`);
    }
    if (options.strict !== undefined && typeof options.strict !== 'boolean') throw new InvalidOptionError('strict must be a boolean');
    const strict = options.strict ?? this.options.strict;
    const keyBytes = encodeKey(key, this.options.maxKeyBytes);
    const data = encodeDelta({ by, integer });
    const w = resolveConsistency('w', options.w, this.meta.n, this.options.w);
    const timeoutMs = this.timeout(options.timeoutMs);
    const position = ringPosition(keyBytes);
    const context = new Uint8Array(0);
    const build = (req: number): Message => ({ type: MsgType.ClientPut, req, key: keyBytes, position, kind: ValueKind.Counter, data, context, w, timeoutMs, overwrite: true, strict, expiresAtMs: 0 });
    const pref = this.ring.preferenceList(position);
    const coordinator = this.chooseCoordinator(pref, 'increment', w, options.via);
    if (coordinator instanceof Error) {
      this.timers.setImmediate(() => done(coordinator)); // as in dispatchTo: after waiting I/O
      return;
    }
    const onReply = (reply: Message): void => {
      if (reply.type !== MsgType.PutOk || reply.counter.length === 0) done(new Error('internal: unexpected reply to an increment'));
      else done(null, { value: counterValue(decodeCounter(reply.counter)), context: contextOfEncodedVV(reply.context) });
    };
    this.dispatchTo(coordinator, 'increment', w, pref.length, timeoutMs, build, undefined, this.admissions.of(coordinator), onReply, done);
  }

  /**
   * `put` with a callback instead of a promise, for front ends on their hot
   * path (a RESP SET allocates no promise). `done` runs exactly once, never
   * before this returns; bad input throws here, as `put` rejects.
   */
  putWithCallback(key: Key, value: Value, options: PutOptions, done: WriteCallback): void {
    this.write('put', key, value, options, done);
  }

  /** `delete` with a callback instead of a promise (see putWithCallback). */
  deleteWithCallback(key: Key, options: DeleteOptions, done: WriteCallback): void {
    this.write('delete', key, undefined, options, done);
  }

  /**
   * The read `get` would serve without a message, answered now: the
   * reconciled value when the replicas may be read directly (see
   * read-route.ts), or undefined when the read must go to a coordinator
   * (then call `get`). Lets a front end answer a read in the turn it
   * arrived, with no promise. Bad input throws, as `get` rejects.
   */
  getDirect(key: Key, options: GetOptions = {}): GetResult | undefined {
    return this.directGet(this.readRequest(key, options));
  }

  /**
   * The read `get` sends to a coordinator actor, without trying the direct
   * path first: for a front end whose `getDirect` just answered undefined
   * (so the read is routed, and counted by reason, once).
   */
  getCoordinated(key: Key, options: GetOptions = {}): Promise<GetResult> {
    try {
      return this.coordinatedGet(this.readRequest(key, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async get(key: Key, options: GetOptions = {}): Promise<GetResult> {
    const request = this.readRequest(key, options);
    // Served here, synchronously, when equivalent to a coordinated read; else by a coordinator actor.
    return this.directGet(request) ?? this.coordinatedGet(request);
  }

  /** A read's arguments, checked (bad input throws). */
  private readRequest(key: Key, options: GetOptions): ReadRequest {
    this.assertOpen();
    checkRequestOptions(options, GET_OPTIONS);
    const keyBytes = encodeKey(key, this.options.maxKeyBytes);
    return { keyBytes, r: resolveConsistency('r', options.r, this.meta.n, this.options.r), timeoutMs: this.timeout(options.timeoutMs), via: options.via };
  }

  private directGet(q: ReadRequest): GetResult | undefined {
    // an overloaded front end refuses reads as it refuses everything else: the coordinated path says so
    if (this.pending.size >= this.options.maxPendingRequests) return undefined;
    const position = ringPosition(q.keyBytes);
    const direct = this.directReads.read(q.keyBytes, position, this.ring.preferenceList(position), q.r, q.via !== undefined);
    return direct === undefined ? undefined : getResult(direct, this.clock.now());
  }

  private async coordinatedGet(q: ReadRequest): Promise<GetResult> {
    const { keyBytes, r, timeoutMs } = q;
    const position = ringPosition(keyBytes);
    const reply = await this.send('get', r, timeoutMs, position, q.via, (req) => ({ type: MsgType.ClientGet, req, key: keyBytes, position, r, timeoutMs }));
    if (reply.type !== MsgType.GetOk) throw new Error('internal: unexpected reply');
    return getResult(reply.clock.length === 0 ? null : decodeClock(reply.clock), this.clock.now());
  }

  /** Validate a write (throwing on bad input) and send it to a coordinator; `done` runs once, later. */
  private write(operation: 'put' | 'delete', key: Key, value: Value | undefined, options: PutOptions | DeleteOptions, done: WriteCallback): void {
    this.assertOpen();
    checkRequestOptions(options, operation === 'put' ? PUT_OPTIONS : DELETE_OPTIONS);
    const sibling = (options as PutOptions).sibling;
    if (sibling !== undefined && typeof sibling !== 'boolean') throw new InvalidOptionError('sibling must be a boolean');
    if (sibling === true && options.context !== undefined) throw new InvalidOptionError('sibling: true writes beside everything and takes no context (a context already says what to supersede)');
    if (options.strict !== undefined && typeof options.strict !== 'boolean') throw new InvalidOptionError('strict must be a boolean');
    const strict = options.strict ?? this.options.strict;
    const keyBytes = encodeKey(key, this.options.maxKeyBytes);
    const { kind, data } = operation === 'delete' ? { kind: ValueKind.Tombstone, data: new Uint8Array(0) } : encodeValue(value);
    checkPairSize(keyBytes, data, this.options.maxPairBytes);
    const w = resolveConsistency('w', options.w, this.meta.n, this.options.w);
    const timeoutMs = this.timeout(options.timeoutMs);
    let context: Uint8Array = new Uint8Array(0);
    if (options.context !== undefined) {
      if (typeof options.context !== 'string') throw new InvalidContextError('context must be the string a get or put returned');
      try {
        context = encodeVV(decodeContext(options.context));
      } catch (err) {
        throw new InvalidContextError(`context is malformed: ${(err as Error).message}`);
      }
    }
    // No context and no sibling: the coordinator supersedes what it holds, in the same step as it
    // writes (one path for put, delete, SET and DEL; a read here first could not be atomic).
    const overwrite = options.context === undefined && sibling !== true;
    const expiresAtMs = expiryOf(options as PutOptions, this.clock.now());
    const position = ringPosition(keyBytes);
    const build = (req: number): Message => ({ type: MsgType.ClientPut, req, key: keyBytes, position, kind, data, context, w, timeoutMs, overwrite, strict, expiresAtMs });
    const pref = this.ring.preferenceList(position);
    const coordinator = this.chooseCoordinator(pref, operation, w, options.via);
    if (coordinator instanceof Error) {
      this.timers.setImmediate(() => done(coordinator)); // never before this returns, and after waiting I/O (see dispatchTo)
      return;
    }
    const onReply = (reply: Message): void => {
      if (reply.type !== MsgType.PutOk) done(new Error('internal: unexpected reply'));
      else done(null, { context: contextOfEncodedVV(reply.context), existed: reply.existed });
    };
    this.dispatchTo(coordinator, operation, w, pref.length, timeoutMs, build, undefined, this.admissions.of(coordinator), onReply, done);
  }

  private timeout(t: number | undefined): number {
    if (t === undefined) return this.options.timeoutMs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3_600_000) throw new InvalidOptionError(`timeoutMs must be an integer in 1..3600000, got ${String(t)}`);
    return t;
  }

  /** Route to the first live actor of the key's preference list, which coordinates the request. */
  private send(operation: PendingRequest['operation'], needed: number, timeoutMs: number, position: number, via: number | undefined, build: (req: number) => Message): Promise<Message> {
    const pref = this.ring.preferenceList(position);
    const coordinator = this.chooseCoordinator(pref, operation, needed, via);
    if (coordinator instanceof Error) return Promise.reject(coordinator);
    if (operation !== 'get' || via !== undefined) return this.sendTo(coordinator, operation, needed, pref.length, timeoutMs, build, undefined, this.admissions.of(coordinator));
    return this.sendRead(pref, coordinator, needed, timeoutMs, build);
  }

  /** The actor that coordinates a request on `pref`: `via` if given, else the first live replica not refusing work. */
  private chooseCoordinator(pref: readonly number[], operation: PendingRequest['operation'], needed: number, via: number | undefined): number | Error {
    if (via !== undefined) {
      if (!pref.includes(via)) return new InvalidOptionError(`via: actor ${String(via)} is not in this key's preference list [${pref.join(', ')}]`);
      return via;
    }
    const coordinator =
      pref.find((id) => this.isUp(id) && !this.admissions.of(id).overloaded) ??
      pref.find((id) => this.isUp(id)) ??
      pref.find((id) => this.supervisor.status(id) === 'up');
    return coordinator ?? new QuorumError(operation, 0, needed, pref.length, 'no replica of this key is up');
  }

  /**
   * A read is safe to ask twice, so it is not left waiting on one
   * coordinator: when that coordinator's thread ends the next live replica
   * coordinates it, and when it is slow (cut off or frozen before failure
   * detection says so) the next one is asked too (a hedged request, as in
   * "The Tail at Scale"); the first answer wins.
   */
  private sendRead(pref: readonly number[], first: number, needed: number, timeoutMs: number, build: (req: number) => Message): Promise<Message> {
    const startedMs = this.clock.monotonicMs();
    const tried = [first];
    let outstanding = 0;
    let settled = false;
    return new Promise<Message>((resolve, reject) => {
      const next = (): boolean => {
        const c = pref.find((id) => !tried.includes(id) && this.isUp(id));
        const leftMs = Math.round(timeoutMs - (this.clock.monotonicMs() - startedMs));
        if (c === undefined || leftMs < 1) return false;
        tried.push(c);
        launch(c, leftMs, false);
        return true;
      };
      const hedge = (): void => {
        if (settled || !this.hedgeAllowed()) return;
        if (next()) this.hedgedReadCount++;
      };
      const launch = (c: number, leftMs: number, mayHedge: boolean): void => {
        outstanding++;
        this.sendTo(c, 'get', needed, pref.length, leftMs, build, mayHedge ? hedge : undefined, this.admissions.of(c)).then(
          (m) => {
            outstanding--;
            if (settled) return;
            settled = true;
            resolve(m);
          },
          (err: unknown) => {
            outstanding--;
            if (settled) return;
            // another replica can coordinate it: its coordinator ended, or refused it as overloaded
            if ((err instanceof CoordinatorEndedError || err instanceof OverloadedError) && next()) return;
            if (outstanding > 0) return; // a hedge is still out: its answer may yet come
            settled = true;
            reject(err);
          },
        );
      };
      launch(first, timeoutMs, this.options.hedgeReadsAfterMs > 0);
    });
  }

  private hedgedReadCount = 0;

  /** Reads hedged so far (see hedgeReadsAfterMs). */
  get hedgedReads(): number {
    return this.hedgedReadCount;
  }
  private hedgeWindow = { startMs: 0, count: 0 };

  private hedgeAllowed(): boolean {
    const now = this.clock.monotonicMs();
    if (now - this.hedgeWindow.startMs >= 1000) this.hedgeWindow = { startMs: now, count: 0 };
    if (this.hedgeWindow.count >= this.options.maxHedgedReadsPerSec) return false;
    this.hedgeWindow.count++;
    return true;
  }

  /** Actor `id`'s thread ended: what it was coordinating is answered now, not at the deadline. */
  private coordinatorEnded(id: number): void {
    for (const [req, p] of this.pending) {
      if (p.coordinator !== id) continue;
      this.settle(req, p);
      p.reject(new CoordinatorEndedError(p.operation, 0, p.needed, p.replicas, `coordinator actor ${id} ended before answering`));
    }
  }

  private sendTo(
    coordinator: number,
    operation: PendingRequest['operation'],
    needed: number,
    replicas: number,
    timeoutMs: number,
    build: (req: number) => Message,
    onSlow?: () => void,
    admission: Admission | null = null,
  ): Promise<Message> {
    return new Promise<Message>((resolve, reject) => this.dispatchTo(coordinator, operation, needed, replicas, timeoutMs, build, onSlow, admission, resolve, reject));
  }

  /** sendTo with callbacks: exactly one of them runs, never before this returns. */
  private dispatchTo(
    coordinator: number,
    operation: PendingRequest['operation'],
    needed: number,
    replicas: number,
    timeoutMs: number,
    build: (req: number) => Message,
    onSlow: (() => void) | undefined,
    admission: Admission | null,
    resolve: (m: Message) => void,
    reject: (e: Error) => void,
  ): void {
    const refusal = this.refusal(coordinator, operation, needed, replicas, admission);
    if (refusal !== null) {
      // After the I/O already waiting, not as a microtask: a caller that retries a refusal at once, in a
      // loop, would otherwise never let the replies that end the overload in (measured: a livelock).
      this.timers.setImmediate(() => reject(refusal));
      return;
    }
    const now = this.clock.monotonicMs();
    admission?.started(now);
    const req = this.nextReq++;
    this.pending.set(req, {
      admission,
      operation,
      coordinator,
      startedMs: now,
      onSlow,
      slowAtMs: now + this.options.hedgeReadsAfterMs,
      needed,
      replicas,
      deadlineMs: now + timeoutMs + coordinatorGraceMs(timeoutMs),
      resolve,
      reject,
    });
    this.transport.send(coordinator, build(req));
  }

  /** Why a request may not be sent to `coordinator` now, or null when it may. */
  private refusal(coordinator: number, operation: PendingRequest['operation'], needed: number, replicas: number, admission: Admission | null): Error | null {
    if (this.pending.size >= this.options.maxPendingRequests) {
      return new OverloadedError(`${this.pending.size} requests in flight (maxPendingRequests ${this.options.maxPendingRequests})`);
    }
    // a thread known to have ended would never answer: fail now (a read is re-routed by sendRead)
    if (this.supervisor.status(coordinator) !== 'up') {
      return new CoordinatorEndedError(operation, 0, needed, replicas, `coordinator actor ${coordinator} is not running`);
    }
    if (admission !== null) {
      const verdict = admission.check();
      if (verdict !== 'admit') return overloaded(coordinator, verdict, admission);
    }
    return null;
  }

  /** Periodic anti-entropy in the background (antiEntropyIntervalMs; 0 = only on demand). */
  private startAntiEntropy(): void {
    if (this.options.antiEntropyIntervalMs === 0) return;
    this.antiEntropy = this.timers.setInterval(() => this.backgroundPass(), this.options.antiEntropyIntervalMs);
  }

  /**
   * How long one paced push may take at worst: maxRepairPushEntries at the
   * smallest background budget, twice over. A pass waits that long rather
   * than giving up on pushes that are still moving (which would let the next
   * pass pile new pushes on top of them).
   */
  private slowestPushMs(): number {
    return Math.ceil((2 * 1000 * this.options.maxRepairPushEntries) / this.options.backgroundMinPerSec);
  }

  /** Periodic passes left out because the foreground was struggling (see backgroundPass). */
  antiEntropyPassesSkipped = 0;
  /** Periodic passes run although the foreground was struggling, maxSkippedAntiEntropyPasses having been skipped before them. */
  antiEntropyPassesForced = 0;
  /** Periodic passes skipped since the last one that ran (at most maxSkippedAntiEntropyPasses). */
  private skippedInARow = 0;

  /**
   * A periodic anti-entropy pass, unless an actor's background budget is down
   * at its minimum (its requests' p99 is above backgroundTargetP99Ms) or the
   * front end is refusing an actor work (backpressure): under
   * a saturating load a pass compares snapshots full of writes still in
   * flight, pushes entries that are converging anyway, and holds read
   * snapshots that keep LMDB from reusing pages. An actor that lost its disk
   * is refilled regardless.
   */
  private backgroundPass(): void {
    if (this.backgroundRepair !== null || this.closed || this.changing) return;
    this.backgroundRepair = this.stats({ timeoutMs: 5000 })
      .then((stats) => {
        const recovering = stats.some((s) => s.recovering);
        const struggling = stats.some((s) => s.backgroundBudgetPerSec <= this.options.backgroundMinPerSec) || this.admissions.anyOverloaded();
        if (!recovering && struggling && this.skippedInARow < this.options.maxSkippedAntiEntropyPasses) {
          this.antiEntropyPassesSkipped++;
          this.skippedInARow++;
          return;
        }
        if (!recovering && struggling) this.antiEntropyPassesForced++;
        this.skippedInARow = 0;
        return this.repair().then(() => undefined);
      })
      .catch((err: unknown) => {
        if (!this.closed) console.error('ringkv: anti-entropy pass failed:', (err as Error).message);
      })
      .finally(() => (this.backgroundRepair = null));
  }

  // ---- automatic scaling ----

  private autoscaler: Autoscaler | null = null;
  private autoscaleTimer: { cancel(): void } | null = null;
  /** Latency of the requests this process sent (p99 per sample goes to the autoscaler). */
  private readonly requestLatency = new LatencyWindow();
  private readonly coordinatedBefore = new Map<number, number>();
  private readonly decisions: (Decision & { atMs: number; outcome: string })[] = [];

  /** The autoscaler's state: its policy, and its latest decisions (at most 50) with the figures behind them. */
  autoscalerStatus(): { enabled: boolean; minActors?: number; maxActors?: number; decisions: readonly (Decision & { atMs: number; outcome: string })[] } {
    const a = this.options.autoscale;
    return a === null ? { enabled: false, decisions: [] } : { enabled: true, minActors: a.minActors, maxActors: a.maxActors, decisions: [...this.decisions] };
  }

  private startAutoscaler(): void {
    const policy = this.options.autoscale;
    if (policy === null) return;
    this.autoscaler = new Autoscaler(policy, this.meta.n);
    this.autoscaleTimer = this.timers.setInterval(() => void this.autoscaleTick(policy.sampleIntervalMs).catch(() => undefined), policy.sampleIntervalMs);
  }

  private async autoscaleTick(intervalMs: number): Promise<void> {
    if (this.autoscaler === null || this.changing || this.closed) return;
    const stats = await this.stats({ timeoutMs: intervalMs });
    if (stats.length === 0 || this.changing || this.closed) return;
    const zones = new Map(this.meta.members.map((m) => [m.id, m.zone]));
    const actors = stats.map((s) => {
      const coordinated = s.coordinatedGets + s.coordinatedPuts;
      const before = this.coordinatedBefore.get(s.id) ?? coordinated;
      this.coordinatedBefore.set(s.id, coordinated);
      return { id: s.id, zone: zones.get(s.id) ?? 'default', elu: s.eventLoopUtilization, requestsPerSec: (Math.max(0, coordinated - before) * 1000) / intervalMs, queueDepth: s.pendingOps };
    });
    const p99Ms = this.requestLatency.p99() ?? 0;
    this.requestLatency.reset();
    const decision = this.autoscaler.observe({ atMs: this.clock.monotonicMs(), actors, p99Ms: Number.isFinite(p99Ms) ? p99Ms : 600_000 });
    if (decision.action === 'hold') return;
    const entry = { ...decision, atMs: this.clock.now(), outcome: 'running' };
    this.decisions.push(entry);
    if (this.decisions.length > 50) this.decisions.shift();
    console.error(`ringkv autoscaler: ${decision.action === 'add' ? `adding an actor in zone ${decision.zone}` : `retiring actor ${decision.id}`}: ${decision.reason}`);
    const change = decision.action === 'add' ? this.addActor({ zone: decision.zone }) : this.removeActor(decision.id);
    change.then(
      (r) => {
        entry.outcome = `done: ring version ${r.ringVersion}, ${r.keysStreamed} entries streamed in ${r.durationMs} ms`;
        this.autoscaler?.changeAt(this.clock.monotonicMs()); // the cooldown runs from the end of the change
      },
      (err: unknown) => {
        entry.outcome = `failed: ${(err as Error).message}`;
        if (!this.closed) console.error(`ringkv autoscaler: the change failed: ${(err as Error).message}`);
      },
    );
  }

  /** An actor came back with a lost disk: refill it now rather than at the next periodic pass (its reads do not count until then). */
  private repairSoonIfRecovering(): void {
    if (this.options.antiEntropyIntervalMs === 0) return; // anti-entropy only on demand
    void this.stats({ timeoutMs: 5000 }).then((stats) => {
      if (stats.some((s) => s.recovering)) this.backgroundPass();
    });
  }

  private onMemberView(from: number, down: readonly number[]): void {
    if (!this.ring.members.has(from) && this.supervisor.status(from) !== 'up') return; // a removed actor's last report
    this.views.set(from, down);
    this.recomputeView();
  }

  private recomputeView(): void {
    const live = new Map([...this.views].filter(([id]) => this.supervisor.status(id) === 'up'));
    this.gossipDown = clusterView(live, [...this.ring.members.keys()]);
  }

  /** Up as the cluster sees it: its thread runs (supervisor) and the gossip majority hears its heartbeat. */
  private isUp(id: number): boolean {
    return this.supervisor.status(id) === 'up' && !this.gossipDown.has(id);
  }

  private statusOf(id: number): ActorStatus {
    const s = this.supervisor.status(id);
    return s === 'up' && this.gossipDown.has(id) ? 'down' : s;
  }

  private onReply(m: Message): void {
    if (m.type !== MsgType.PutOk && m.type !== MsgType.GetOk && m.type !== MsgType.ScanOk && m.type !== MsgType.InspectOk && m.type !== MsgType.SyncDone && m.type !== MsgType.ReapDone && m.type !== MsgType.Fail) throw new Error(`main thread got unexpected message type ${m.type}`);
    const p = this.pending.get(m.req);
    if (p === undefined) return; // already timed out
    this.settle(m.req, p);
    if (p.operation === 'put' || p.operation === 'get' || p.operation === 'delete') this.scanPacer.record(this.clock.monotonicMs() - p.startedMs);
    // only the autoscaler reads it: no work on every reply otherwise
    if (this.autoscaler !== null && p.operation !== 'repair' && p.operation !== 'scan') this.requestLatency.record(this.clock.monotonicMs() - p.startedMs);
    if (m.type === MsgType.Fail) p.reject(toError(p.operation, m.code, m.answered, m.needed, m.replicas, m.detail));
    else p.resolve(m);
  }

  /** A request ends (answered, failed, timed out): forget it, and tell its coordinator's admission control how long it took. */
  private settle(req: number, p: PendingRequest): void {
    this.pending.delete(req);
    p.admission?.finished(p.startedMs, this.clock.monotonicMs());
  }

  /** Backpressure: one admission control per coordinator actor (see coordinator/admission.ts). */
  private readonly admissions: AdmissionTable;

  /** Requests refused by admission control so far (too many in flight to one actor, or a standing queue). */
  get refusedRequests(): { tooMany: number; tooSlow: number } {
    return this.admissions.refused();
  }

  private expire(): void {
    const now = this.clock.monotonicMs();
    const oldestSeen = new Set<Admission>();
    for (const [req, p] of this.pending) {
      // the map is in send order: the first request met per coordinator is its oldest
      if (p.admission !== null && !oldestSeen.has(p.admission)) {
        oldestSeen.add(p.admission);
        p.admission.noteOldest(now - p.startedMs, now);
      }
      if (p.onSlow !== undefined && p.slowAtMs <= now) {
        const onSlow = p.onSlow;
        p.onSlow = undefined;
        onSlow();
      }
      if (p.deadlineMs > now) continue;
      this.settle(req, p);
      p.reject(new QuorumError(p.operation, 0, p.needed, p.replicas, 'the coordinator did not answer'));
    }
  }

  /**
   * Fault injection. Every fault acts in the one transport all actor
   * messages pass through (or on an actor's thread as a whole): coordinators,
   * gossip and repair only ever see lost, late or unanswered messages.
   */
  readonly faults = {
    /** End actor `id`'s thread abruptly; its data stays on disk. */
    kill: async (id: number): Promise<void> => {
      this.assertOpen();
      this.assertActor(id);
      this.views.delete(id);
      await this.supervisor.kill(id);
      this.recomputeView();
    },
    /** Bring a killed actor back from its data directory. */
    restart: async (id: number): Promise<void> => {
      this.assertOpen();
      this.assertActor(id);
      await this.supervisor.restart(id);
      this.forgetDownVotes(id);
      this.repairSoonIfRecovering();
    },
    /** Freeze actor `id` for `ms` (no messages, no timers, no gossip); it is not told. */
    pause: (id: number, ms: number): void => {
      this.assertOpen();
      this.assertActor(id);
      if (!Number.isInteger(ms) || ms < 1 || ms > 3_600_000) throw new InvalidOptionError(`pause ms must be an integer in 1..3600000, got ${String(ms)}`);
      this.supervisor.pause(id, ms);
    },
    /** Cut every link between the two groups, both ways. */
    partition: async (groupA: readonly number[], groupB: readonly number[]): Promise<void> => {
      this.assertOpen();
      for (const id of [...groupA, ...groupB]) this.assertActor(id);
      if (groupA.some((id) => groupB.includes(id))) throw new InvalidOptionError('partition groups must not overlap');
      const cut = async (from: number, others: readonly number[]): Promise<void> => {
        const f = this.supervisor.faultsOf(from);
        await this.supervisor.setFaults(from, { ...f, blocked: [...new Set([...f.blocked, ...others])] });
      };
      for (const a of groupA) await cut(a, groupB);
      for (const b of groupB) await cut(b, groupA);
    },
    /** Lose `fraction` (0..1) of the messages `from` sends to `to`. */
    drop: async (from: number, to: number, fraction: number): Promise<void> => {
      this.assertOpen();
      this.assertActor(from);
      this.assertActor(to);
      if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) throw new InvalidOptionError(`drop fraction must be in 0..1, got ${String(fraction)}`);
      const f = this.supervisor.faultsOf(from);
      await this.supervisor.setFaults(from, { ...f, drop: [...f.drop.filter(([p]) => p !== to), [to, fraction]] });
    },
    /** Deliver the messages `from` sends to `to` `ms` late. */
    delay: async (from: number, to: number, ms: number): Promise<void> => {
      this.assertOpen();
      this.assertActor(from);
      this.assertActor(to);
      if (!Number.isInteger(ms) || ms < 0 || ms > 600_000) throw new InvalidOptionError(`delay ms must be an integer in 0..600000, got ${String(ms)}`);
      const f = this.supervisor.faultsOf(from);
      await this.supervisor.setFaults(from, { ...f, delayMs: [...f.delayMs.filter(([p]) => p !== to), [to, ms]] });
    },
    /** Restore every link and wake every paused actor (killed actors stay down until restarted). */
    heal: async (): Promise<void> => {
      this.assertOpen();
      await this.supervisor.heal();
    },
    /** A permanent disk loss: the actor restarts with an empty data directory. */
    wipe: async (id: number): Promise<void> => {
      this.assertOpen();
      this.assertActor(id);
      this.views.delete(id);
      await this.supervisor.kill(id);
      rmSync(actorDataPath(this.options.dataDir, id), { recursive: true, force: true });
      await this.supervisor.restart(id);
      this.forgetDownVotes(id);
      this.repairSoonIfRecovering();
    },
  };

  /** A restarted actor is up: drop the stale "down" votes the others sent before they were told. */
  private forgetDownVotes(id: number): void {
    for (const [observer, down] of this.views) if (down.includes(id)) this.views.set(observer, down.filter((x) => x !== id));
    this.views.delete(id);
    this.recomputeView();
  }

  private assertActor(id: unknown): void {
    if (typeof id !== 'number' || !this.ring.members.has(id)) throw new UnknownActorError(id);
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
    const timeoutMs = this.timeout(options.timeoutMs);
    const position = ringPosition(keyBytes);
    const pref = this.ring.preferenceList(position);
    const nowMs = this.clock.now();
    const toVersions = (bytes: Uint8Array): { versions: ReplicaView['versions']; context: string } => {
      const clock = decodeClock(bytes);
      const versions = dvv
        .values(clock)
        .sort((a, b) => compareSiblings(b, a))
        .map((s) => ({ value: isTombstone(s) ? null : decodeValue(s), deleted: isTombstone(s), expired: isExpired(s, nowMs), expiresAtMs: s.expiresAtMs ?? 0, timestampMs: s.timestampMs, writer: s.writer }));
      return { versions, context: encodeContext(dvv.join(clock)) };
    };
    // Ask every live actor: the replicas for what they store, every actor for hints it holds.
    const views = await Promise.all(
      [...this.ring.members.keys()].map(async (actor): Promise<ReplicaView[]> => {
        const status = this.statusOf(actor);
        const isReplica = pref.includes(actor);
        const unknown: ReplicaView = { actor, status, role: 'replica', found: null, versions: [], context: '' };
        if (this.supervisor.status(actor) !== 'up') return isReplica ? [unknown] : [];
        let reply: Message;
        try {
          reply = await this.sendTo(actor, 'get', 1, pref.length, timeoutMs, (req) => ({ type: MsgType.ClientInspect, req, key: keyBytes, position }));
        } catch (err) {
          if (err instanceof QuorumError) return isReplica ? [unknown] : [];
          throw err;
        }
        if (reply.type !== MsgType.InspectOk) throw new Error('internal: unexpected reply');
        const out: ReplicaView[] = [];
        if (isReplica) {
          if (reply.clock.length === 0) out.push({ actor, status, role: 'replica', found: false, versions: [], context: '' });
          else {
            const v = toVersions(reply.clock);
            out.push({ actor, status, role: 'replica', found: v.versions.some((x) => !x.deleted && !x.expired), ...v });
          }
        }
        for (const [owner, clock] of reply.hints) {
          const v = toVersions(clock);
          out.push({ actor, status, role: 'hint', hintFor: owner, found: v.versions.some((x) => !x.deleted && !x.expired), ...v });
        }
        return out;
      }),
    );
    const all = views.flat();
    // replicas in preference-list order, then hint holders
    return [...pref.map((id) => all.find((v) => v.actor === id && v.role === 'replica')!), ...all.filter((v) => v.role === 'hint')];
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
    const timeoutMs = options.timeoutMs === undefined ? Math.max(this.options.timeoutMs, 60_000, this.slowestPushMs()) : this.timeout(options.timeoutMs);
    const started = this.clock.monotonicMs();
    const live = [...this.ring.members.keys()].filter((id) => this.isUp(id));
    const stats = await this.stats();
    const hintsPending = stats.reduce((s, a) => s + a.hintsPending, 0);
    // a recovering actor is recovered by this pass only if every arc it replicates is compared in full and filled
    const recovering = new Set(stats.filter((s) => s.recovering).map((s) => s.id));
    const pass = await runPass({
      ring: this.ring,
      live,
      source: this.treeSource(),
      maxBytes: this.options.antiEntropyMemoryBytes,
      hintsPending,
      push: async (job) => {
        const reply = await this.sendTo(job.pusher, 'repair', 1, 1, timeoutMs, (req) => ({ type: MsgType.SyncRanges, req, ranges: [...job.ranges], peers: [...job.peers] }));
        if (reply.type !== MsgType.SyncDone) throw new Error('internal: unexpected reply');
        return reply;
      },
      reap: async (id, ranges) => {
        const cutoffMs = Math.max(0, Math.floor(this.clock.now()) - graceMs);
        const reply = await this.sendTo(id, 'repair', 1, 1, timeoutMs, (req) => ({ type: MsgType.ReapRanges, req, ranges, cutoffMs }));
        if (reply.type !== MsgType.ReapDone) throw new Error('internal: unexpected reply');
        return reply.reaped;
      },
    });
    // an actor whose trees cannot be built (wiped meanwhile, say) sits this pass out; the next one includes it
    for (const [id, err] of pass.failed) console.error(`ringkv: cannot build actor ${id}'s Merkle trees this pass: ${err.message}`);
    for (const id of recovering) {
      if (pass.notFilled.has(id) || this.supervisor.status(id) !== 'up') continue;
      // bounded: a thread that ends meanwhile never answers a control call (it stays recovering; the next pass retries).
      // An unref'd global timer: Timers has no unref, and this wait must not keep a process from exiting.
      await Promise.race([this.supervisor.recovered(id).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    }
    this.repairs++;
    const peak = pass.peak;
    if (peak.bytes > this.antiEntropyHeldPeak.bytes) this.antiEntropyHeldPeak = peak;
    return {
      arcs: this.ring.arcCount,
      arcsComplete: pass.arcsComplete,
      arcsDiffering: pass.arcsDiffering,
      leavesDiffering: pass.leavesDiffering,
      keysSent: pass.keysSent,
      bytesSent: pass.bytesSent,
      keysCompared: pass.keysCompared,
      bytesCompared: pass.bytesCompared,
      tombstonesReaped: pass.tombstonesReaped,
      pushesIncomplete: pass.pushesIncomplete,
      heldPeak: peak,
      durationMs: Math.round(this.clock.monotonicMs() - started),
    };
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
    const timeoutMs = this.timeout(options.timeoutMs);
    const keys: Buffer[] = [];
    let position = cursor;
    while (keys.length < count && position < RING_SIZE) {
      const index = this.ring.arcIndex(position);
      const arc = this.ring.arc(index);
      // arc 0 wraps: above the last token it runs to the end of the ring
      const end = index === 0 && position > arc.end ? RING_SIZE - 1 : arc.end;
      const owner = arc.preference.find((id) => this.isUp(id)) ?? arc.preference.find((id) => this.supervisor.status(id) === 'up');
      if (owner === undefined) throw new QuorumError('get', 0, 1, arc.preference.length, 'no replica of this ring range is up');
      const from = position;
      const reply = await this.sendTo(owner, 'scan', 1, arc.preference.length, timeoutMs, (req) => ({ type: MsgType.ClientScan, req, fromPosition: from, toPosition: end, limit: count - keys.length }));
      if (reply.type !== MsgType.ScanOk) throw new Error('internal: unexpected reply');
      for (const k of reply.keys) keys.push(Buffer.from(k));
      if (reply.nextPosition <= position) throw new Error(`internal: scan did not advance at position ${position}`);
      position = reply.nextPosition;
    }
    return { cursor: position >= RING_SIZE ? 0 : position, keys };
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
    if (!Array.isArray(requested)) throw new InvalidOptionError('plan takes an array of changes');
    let nextId = this.meta.nextActorId;
    const zoneCounts = new Map<string, number>();
    for (const m of this.meta.members) zoneCounts.set(m.zone, (zoneCounts.get(m.zone) ?? 0) + 1);
    const changes: MembershipChange[] = requested.map((c) => {
      if (c === null || typeof c !== 'object' || c.kind !== 'add') return c as MembershipChange;
      const zone = c.zone ?? [...zoneCounts].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]![0];
      zoneCounts.set(zone, (zoneCounts.get(zone) ?? 0) + 1);
      return { kind: 'add', id: nextId++, zone, ...(c.weight !== undefined ? { weight: c.weight } : {}) };
    });
    let after: Ring;
    try {
      after = Ring.build(applyChanges(this.meta.members, changes, this.meta.vnodes, this.meta.n), this.meta.n);
    } catch (err) {
      throw new InvalidOptionError(`plan: ${(err as MembershipError).message}`);
    }
    // estimates read every live actor's data (Merkle trees in the pool): worth it when asking, not when just doing
    const live = [...this.ring.members.keys()].filter((id) => this.isUp(id));
    const trees = new Map<number, Map<number, { keys: number; bytes: number }>>();
    if (options.estimate !== false) {
      // only each tree's counts are kept: a few numbers per arc and replica, however many keys
      await walkTrees(this.ring, live, this.treeSource(), new PassLedger(this.options.antiEntropyMemoryBytes), {
        arc(arc, arcTrees) {
          arc.preference.forEach((id, i) => {
            const t = arcTrees[i];
            if (t !== undefined) (trees.get(id) ?? trees.set(id, new Map()).get(id)!).set(arc.index, { keys: t.keys, bytes: t.bytes });
          });
        },
      });
    }
    const { transfers, movedFraction } = planTransfers(this.ring, after, (arc, actor) => trees.get(actor)?.get(arc));
    return {
      ringVersion: this.meta.ringVersion ?? 1,
      target: [...after.members.values()].map((m) => ({ id: m.id, zone: m.zone, tokens: [...m.tokens] })),
      changes: [...changes],
      members: [...after.members.values()].map((m) => ({ id: m.id, zone: m.zone, tokens: m.tokens.length, replicaShare: after.replicaShare(m.id) })),
      transfers,
      movedFraction,
      keys: transfers.reduce((s, t) => s + t.keys, 0),
      bytes: transfers.reduce((s, t) => s + t.bytes, 0),
    };
  }

  /** Add an actor online: plan, stream it its ranges, switch the ring. */
  async addActor(options: { zone?: string; weight?: number } = {}): Promise<MembershipResult> {
    return this.commit(await this.plan([{ kind: 'add', ...options }], { estimate: false }));
  }

  /** Decommission an actor online: its ranges stream to the actors that gain them, its hints are handed off, then its thread ends and its directory is deleted. */
  async removeActor(id: number): Promise<MembershipResult> {
    return this.commit(await this.plan([{ kind: 'remove', id }], { estimate: false }));
  }

  private changing = false;
  /**
   * From the start of a change until its ring switch begins. Reads and
   * writes are still coordinated by the old ring then (writes are forwarded
   * to the new replicas, their acks not counted), so a direct read of the
   * old ring's replicas answers what a coordinator would: reads stay direct
   * while the ranges stream, and go to coordinators from the switch on.
   */
  private changeStreaming = false;

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
    if (this.changing) throw new InvalidOptionError('a membership change is already running');
    if (plan === null || typeof plan !== 'object' || !Array.isArray(plan.target)) throw new InvalidOptionError('commit takes a plan from plan()');
    if (plan.ringVersion !== (this.meta.ringVersion ?? 1)) throw new InvalidOptionError(`the plan was made for ring version ${plan.ringVersion}; the ring is at ${this.meta.ringVersion ?? 1}: plan again`);
    const current = this.meta.members;
    const target = plan.target;
    const added = target.filter((m) => !current.some((c) => c.id === m.id));
    const removed = current.filter((m) => !target.some((t) => t.id === m.id));
    const down = await this.stillDown(current.map((m) => m.id));
    if (down.length > 0) throw new QuorumError('repair', current.length - down.length, current.length, current.length, `a membership change needs every actor up; down: ${down.join(', ')}`);
    // checked again after the wait: another change may have started or ended meanwhile
    if (this.changing) throw new InvalidOptionError('a membership change is already running');
    if (plan.ringVersion !== (this.meta.ringVersion ?? 1)) throw new InvalidOptionError(`the plan was made for ring version ${plan.ringVersion}; the ring is at ${this.meta.ringVersion ?? 1}: plan again`);
    const started = this.clock.monotonicMs();
    this.changing = true;
    this.changeStreaming = true;
    this.meta = { ...this.meta, pending: { members: target }, nextActorId: Math.max(this.meta.nextActorId, ...added.map((m) => m.id + 1)) };
    saveMetadata(this.options.dataDir, this.meta);
    let keysStreamed = 0;
    let bytesStreamed = 0;
    try {
      await this.supervisor.setRings(current, target); // existing actors forward writes to the new replicas from now on
      for (const m of added) await this.supervisor.add({ ...this.actorConfig(m.id), members: target, expectsData: false });
      await this.supervisor.setRings(current, target); // and the new ones know both rings
      const pushes: { from: number; to: number; ranges: [number, number][] }[] = [];
      for (const t of plan.transfers) {
        for (let i = 0; i < t.ranges.length; i += TRANSFER_RANGES_PER_PUSH) {
          pushes.push({ from: t.from, to: t.to, ranges: t.ranges.slice(i, i + TRANSFER_RANGES_PER_PUSH).map(([a, b]) => [a, b] as [number, number]) });
        }
      }
      const timeoutMs = Math.max(this.options.timeoutMs, 120_000, this.slowestPushMs());
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < pushes.length) {
          const p = pushes[next++]!;
          // ranges as (start, end]: SyncRanges takes positions [from, to)
          const ranges = p.ranges.flatMap(([a, b]) => arcRanges(a, b).map((r) => [r.from, r.to] as [number, number]));
          const reply = await this.sendTo(p.from, 'repair', 1, 1, timeoutMs, (req) => ({ type: MsgType.SyncRanges, req, ranges, peers: [p.to] }));
          if (reply.type !== MsgType.SyncDone) throw new Error('internal: unexpected reply');
          if (reply.failed > 0) throw new QuorumError('repair', 0, 1, 1, `streaming to actor ${p.to} from ${p.from} lost ${reply.failed} entries`);
          keysStreamed += reply.keys;
          bytesStreamed += reply.bytes;
        }
      };
      await Promise.all(Array.from({ length: this.options.transferConcurrency }, worker)); // Riak's transfer limit
      // switch: coordinate by the new ring (still forwarding to the old replicas while the others switch), persist, settle
      this.changeStreaming = false; // before the first actor switches: from now on a read goes to a coordinator
      await this.supervisor.setRings(target, current);
      this.currentRing = Ring.build(target, this.meta.n);
      this.meta = { ...this.meta, members: target, ringVersion: (this.meta.ringVersion ?? 1) + 1, pending: null };
      saveMetadata(this.options.dataDir, this.meta);
      await this.supervisor.setRings(target, null);
    } catch (err) {
      this.changeStreaming = false;
      await this.rollBack(current, added.map((m) => m.id)).catch(() => undefined);
      this.changing = false;
      throw err;
    }
    try {
      for (const m of removed) await this.decommission(m.id);
    } finally {
      this.changing = false;
    }
    this.recomputeView();
    if (this.options.cleanupAfterChange) {
      this.backgroundCleanup = this.cleanup().then(
        () => undefined,
        (err: unknown) => {
          if (!this.closed) console.error(`ringkv: cleanup after the membership change did not finish (cluster.cleanup() runs it again): ${(err as Error).message}`);
        },
      );
    }
    return {
      ringVersion: this.meta.ringVersion ?? 1,
      added: added.map((m) => m.id),
      removed: removed.map((m) => m.id),
      keysStreamed,
      bytesStreamed,
      durationMs: Math.round(this.clock.monotonicMs() - started),
      movedFraction: plan.movedFraction,
    };
  }

  /**
   * The actors of `ids` not up, after waiting up to three failure-detection
   * periods for ones whose threads run but that gossip sees down: a busy
   * moment's late heartbeat should not refuse an admin operation that needs
   * every actor.
   */
  private async stillDown(ids: readonly number[]): Promise<number[]> {
    const deadline = this.clock.monotonicMs() + 3 * this.options.failAfterMs;
    for (;;) {
      const down = ids.filter((id) => !this.isUp(id));
      const mayComeBack = down.some((id) => this.supervisor.status(id) === 'up');
      if (down.length === 0 || !mayComeBack || this.clock.monotonicMs() >= deadline) return down;
      await sleep(this.timers, 50);
    }
  }

  /** The cleanup a membership change started (cleanupAfterChange), if any. */
  private backgroundCleanup: Promise<void> | null = null;

  /**
   * Every actor deletes the copies of ranges it no longer replicates (a
   * membership change moved them to other actors), paced by its background
   * budget; positions it replicates under the current or a pending ring are
   * kept, so this is safe to run at any time. Resolves with what each actor
   * removed. Needs every actor up.
   */
  async cleanup(): Promise<CleanupResult> {
    this.assertOpen();
    const ids = [...this.ring.members.keys()];
    const down = await this.stillDown(ids);
    if (down.length > 0) throw new QuorumError('repair', ids.length - down.length, ids.length, ids.length, `cleanup needs every actor up; down: ${down.join(', ')}`);
    const actors = await Promise.all(ids.map((id) => this.supervisor.cleanup(id)));
    return { actors, removed: actors.reduce((s, a) => s + a.removed, 0), failed: actors.reduce((s, a) => s + a.failed, 0) };
  }

  private async rollBack(current: readonly RingMember[], added: readonly number[]): Promise<void> {
    if (this.closed) return; // the next start rolls back from the metadata
    await this.supervisor.setRings(current, null).catch(() => undefined);
    for (const id of added) {
      await this.supervisor.remove(id).catch(() => undefined);
      this.transport.disconnect(id);
      rmSync(actorDataPath(this.options.dataDir, id), { recursive: true, force: true });
    }
    this.meta = { ...this.meta, pending: null };
    saveMetadata(this.options.dataDir, this.meta);
  }

  /** A removed actor: its hints handed off first (bounded wait), then its thread ends and its directory goes. */
  private async decommission(id: number): Promise<void> {
    const deadline = this.clock.monotonicMs() + DECOMMISSION_HINTS_TIMEOUT_MS;
    for (;;) {
      const s = (await this.stats({ timeoutMs: 5000 })).find((x) => x.id === id);
      if (s === undefined || s.hintsPending === 0 || this.clock.monotonicMs() > deadline) {
        if (s !== undefined && s.hintsPending > 0) console.error(`ringkv: actor ${id} leaves with ${s.hintsPending} hints its owners did not take in time; anti-entropy repairs what they carried`);
        break;
      }
      await sleep(this.timers, 50);
    }
    await this.supervisor.remove(id);
    this.transport.disconnect(id);
    this.views.delete(id);
    rmSync(actorDataPath(this.options.dataDir, id), { recursive: true, force: true });
  }

  /** Each actor: id, zone, tokens owned, share of the key space replicated, status. */
  members(): MemberInfo[] {
    return this.meta.members.map((m) => ({
      id: m.id,
      zone: m.zone,
      tokens: m.tokens.length,
      replicaShare: this.ring.replicaShare(m.id),
      status: this.closed ? 'stopped' : this.statusOf(m.id),
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
    const timeoutMs = options.timeoutMs ?? 1000;
    const live = this.supervisor.ids().filter((id) => this.supervisor.status(id) === 'up');
    const answers = await Promise.all(
      live.map(
        (id) =>
          new Promise<ActorStats | null>((resolve) => {
            const timer = this.timers.setTimeout(() => resolve(null), timeoutMs);
            this.supervisor.stats(id).then(
              (s) => {
                timer.cancel();
                resolve(s);
              },
              () => {
                timer.cancel();
                resolve(null);
              },
            );
          }),
      ),
    );
    return answers.filter((s): s is ActorStats => s !== null);
  }

  /**
   * Compare every replica of every ring arc by content digest, computed in
   * the piscina pool over read-only snapshots of each actor's env. Pending
   * writes are not waited for: call it when the cluster is quiet.
   */
  async compareReplicas(): Promise<ReplicaComparison> {
    this.assertOpen();
    return compareReplicas(this.ring, this.treeSource(), this.options.antiEntropyMemoryBytes);
  }

  private treeSource(): TreeSource {
    return { pool: this.merklePool, pathOf: (id) => actorDataPath(this.options.dataDir, id), compressionThresholdBytes: this.meta.compressionThresholdBytes };
  }

  /** Flush and close every actor's LMDB env and end every thread. Pending requests fail with ClusterClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.antiEntropy?.cancel();
    await this.backgroundRepair; // its pool reads the actors' envs: let it finish first
    this.closed = true;
    await this.merklePool.close(); // after the builds still running (a plan, a comparison) settle
    this.autoscaleTimer?.cancel();
    this.sweeper.cancel();
    this.scanPacing.cancel();
    try {
      await this.supervisor.stopAll();
      await this.backgroundCleanup; // actors end a running cleanup when they close; this only settles its promise
      for (const p of this.pending.values()) p.reject(new ClusterClosedError());
      this.pending.clear();
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

  private assertOpen(): void {
    if (this.closed) throw new ClusterClosedError();
  }
}

/** Wait `ms` on `timers` (a poll's pause in async control flow). */
function sleep(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => timers.setTimeout(resolve, ms));
}

/** A read's answer from its reconciled clock (null: no replica holds the key). */
function getResult(clock: VersionClock | null, nowMs: number): GetResult {
  if (clock === null) return { values: [], expiresAtMs: [], context: '', found: false };
  // Newest first (coordinator timestamp, then actor id): front ends that can
  // show only one value (a Redis GET) show the newest, deterministically.
  // Expired values are hidden at once, by this one clock, whatever the replicas' state.
  const live = dvv
    .values(clock)
    .filter((s) => isLive(s, nowMs))
    .sort((a, b) => compareSiblings(b, a));
  return { values: live.map(decodeValue), expiresAtMs: live.map((s) => s.expiresAtMs ?? 0), context: encodeContext(dvv.join(clock)), found: live.length > 0 };
}

/** A put's expiry as an instant (0: none), from ttlMs or expireAtMs; bad values throw InvalidOptionError. */
function expiryOf(options: PutOptions, nowMs: number): number {
  const { ttlMs, expireAtMs } = options;
  if (ttlMs !== undefined && expireAtMs !== undefined) throw new InvalidOptionError('give ttlMs or expireAtMs, not both');
  if (ttlMs !== undefined) {
    if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TTL_MS) throw new InvalidOptionError(`ttlMs must be an integer in 1..${MAX_TTL_MS}, got ${String(ttlMs)}`);
    return Math.floor(nowMs) + ttlMs;
  }
  if (expireAtMs !== undefined) {
    if (typeof expireAtMs !== 'number' || !Number.isSafeInteger(expireAtMs) || expireAtMs < 1) throw new InvalidOptionError(`expireAtMs must be a positive integer (ms since the epoch), got ${String(expireAtMs)}`);
    return expireAtMs;
  }
  return 0;
}

function createMetadata(o: ResolvedOptions): ClusterMetadata {
  const members: RingMember[] = [];
  for (let id = 0; id < o.actors; id++) {
    members.push({ id, zone: o.zones[id % o.zones.length]!, tokens: allocateTokens(members, id, o.vnodes) });
  }
  return {
    layoutVersion: LAYOUT_VERSION,
    n: o.n,
    vnodes: o.vnodes,
    lastWriteWins: o.lastWriteWins,
    compressionThresholdBytes: o.compressionThresholdBytes,
    members,
    nextActorId: o.actors,
    nextWriterId: 0,
  };
}

/** Options that shape the layout must agree with what the directory was created with. */
function checkCompatible(o: ResolvedOptions, given: ClusterOptions, meta: ClusterMetadata): void {
  const clash = (what: string, want: unknown, have: unknown): never => {
    throw new LayoutMismatchError(`${o.dataDir} was created with ${what}=${String(have)}; got ${what}=${String(want)}. Omit the option or use a new data directory.`);
  };
  if (given.n !== undefined && given.n !== meta.n) clash('n', given.n, meta.n);
  if (o.actorsExplicit && o.actors !== meta.members.length) clash('actors', o.actors, meta.members.length);
  if (given.vnodes !== undefined && given.vnodes !== meta.vnodes) clash('vnodes', given.vnodes, meta.vnodes);
  if (given.lastWriteWins !== undefined && given.lastWriteWins !== meta.lastWriteWins) clash('lastWriteWins', given.lastWriteWins, meta.lastWriteWins);
  if (given.compressionThresholdBytes !== undefined && given.compressionThresholdBytes !== meta.compressionThresholdBytes) {
    clash('compressionThresholdBytes', given.compressionThresholdBytes, meta.compressionThresholdBytes);
  }
  if (given.r !== undefined) resolveConsistency('r', given.r, meta.n, 1);
  if (given.w !== undefined) resolveConsistency('w', given.w, meta.n, 1);
  // checked against the n the directory has (resolveOptions could only assume the default)
  if (o.antiEntropyMemoryBytes < minimumPassBytes(meta.n)) {
    throw new InvalidOptionError(`antiEntropyMemoryBytes must be at least ${minimumPassBytes(meta.n)} with n=${meta.n} (one arc's trees and ranges), got ${o.antiEntropyMemoryBytes}`);
  }
}

function checkRequestOptions(options: object, allowed: readonly string[]): void {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('request options must be an object');
  for (const k in options) {
    if (!Object.hasOwn(options, k)) continue;
    if (!allowed.includes(k)) throw new InvalidOptionError(`unknown request option '${k}' (allowed: ${allowed.join(', ')})`);
  }
}

// Allowed request options, allocated once (these checks run on every request).
const GET_OPTIONS = ['r', 'timeoutMs', 'via'] as const;
const PUT_OPTIONS = ['w', 'timeoutMs', 'context', 'sibling', 'strict', 'via', 'ttlMs', 'expireAtMs'] as const;
// A blind tombstone would be a sibling no read shows: delete takes no `sibling`.
const DELETE_OPTIONS = ['w', 'timeoutMs', 'context', 'strict', 'via'] as const;
const INCREMENT_OPTIONS = ['w', 'timeoutMs', 'strict', 'via', 'float'] as const;

function overloaded(coordinator: number, verdict: 'too-many' | 'too-slow', a: Admission): OverloadedError {
  const o = a.options;
  return verdict === 'too-many'
    ? new OverloadedError(`actor ${coordinator} has ${a.inFlight} requests in flight (maxInFlightPerActor ${o.maxInFlight}); retry later`)
    : new OverloadedError(`actor ${coordinator} is behind: its requests have taken over ${o.targetMs} ms for ${o.intervalMs} ms (overloadTargetMs); retry later`);
}

function toError(operation: PendingRequest['operation'], code: ErrorCode, answered: number, needed: number, replicas: number, detail: string): Error {
  switch (code) {
    case 'QUORUM_NOT_REACHED':
      return new QuorumError(operation, answered, needed, replicas, detail);
    case 'TOO_MANY_SIBLINGS':
      return new TooManySiblingsError(answered, needed);
    case 'OVERLOADED':
      return new OverloadedError(detail);
    case 'INVALID_CONTEXT':
      return new InvalidContextError(detail);
    case 'CLUSTER_CLOSED':
      return new ClusterClosedError();
    case 'PAIR_TOO_LARGE':
      return new PairTooLargeError(answered, needed);
    case 'INVALID_VALUE':
      return new InvalidValueError(detail);
    case 'NOT_A_COUNTER':
      return new NotACounterError(detail !== 'not-float');
    case 'COUNTER_OVERFLOW':
      return new CounterOverflowError(detail !== 'not-finite');
    case 'NOT_A_REPLICA':
      // routed across a ring switch and not applied: retryable, as a refusal is (a read goes to the next replica)
      return new OverloadedError(`${operation}: ${detail}; nothing was done, retry`);
    default:
      return new RingkvError(code, `${operation}: ${detail}`);
  }
}
