import { DEFAULT_POLICY, type AutoscalerPolicy } from '../membership/autoscaler.js';
import { availableParallelism } from 'node:os';
import { ImpossibleQuorumError, InvalidOptionError } from '../errors.js';
import type { NodeOptions } from '../nodes/node-options.js';
import { minimumPassBytes } from '../antientropy/pass-plan.js';
import type { ActorConfig } from '../actor/actor.js';
import type { RingMember } from '../ring/ring.js';
import type { BackgroundCapBuffers } from '../coordinator/shared-rate.js';
import { DEFAULT_MAX_BACKGROUND_WRITES_PER_COMMIT } from '../storage/replica-store.js';
import type { StoreOptions } from '../storage/store.js';
import { actorDataPath } from '../supervisor/metadata.js';

/** A replica count for a request: a number, or a named level relative to N. */
export type Consistency = number | 'one' | 'quorum' | 'all';

export interface ClusterOptions {
  /** Where every actor's LMDB env and the ring metadata live. */
  readonly dataDir: string;
  /** Run as one node of a multi-node cluster whose ring and members live in etcd (see src/nodes). */
  readonly node?: NodeOptions;
  /** Number of actors for a new data directory (default: max(n, cores)). A restart uses the persisted actors. */
  readonly actors?: number;
  /** Replicas per key (default 3). Fixed when the data directory is created. */
  readonly n?: number;
  /** Default read quorum (default 'quorum'). */
  readonly r?: Consistency;
  /** Default write quorum (default 'quorum'). */
  readonly w?: Consistency;
  /** Tokens per actor on the ring (default 256). */
  readonly vnodes?: number;
  /** Zone of actor i is zones[i % zones.length] (default: one zone). */
  readonly zones?: readonly string[];
  /** Default per-request deadline (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Largest key + value accepted, in bytes (default 10 KiB). */
  readonly maxPairBytes?: number;
  /** Largest key accepted, in bytes (default 1024; LMDB's hard key limit is ~1978 with the ring prefix). */
  readonly maxKeyBytes?: number;
  /** Siblings a coordinated write may leave before it is refused (default 64). */
  readonly maxSiblings?: number;
  /** Resolve concurrent writes by timestamp instead of keeping siblings (default false). */
  readonly lastWriteWins?: boolean;
  /** Requests in flight from this process before new ones are refused with OverloadedError (default 100 000). */
  readonly maxPendingRequests?: number;
  /** Requests one actor coordinates at once (default 100 000). */
  readonly maxPendingOpsPerActor?: number;
  /** LMDB map size per actor (default 8 GiB; virtual address space, not memory). */
  readonly mapSizeBytes?: number;
  /** Values above this are LZ4-compressed (default 1024; 0 = off). Fixed when the directory is created. */
  readonly compressionThresholdBytes?: number;
  /** Bytes of hot values each actor keeps in memory (LRU; default 8 MiB; 0 = off). */
  readonly cacheBytes?: number;
  /** A link's batch is posted early when it reaches this size (default 1 MiB). */
  readonly maxBatchBytes?: number;
  /**
   * When a write counts as durable. 'periodic' (default, like Cassandra's
   * commitlog default): acknowledged once committed in LMDB, so a crash of the
   * process loses nothing; the OS is made to flush to disk every
   * syncIntervalMs, the most a power loss can take. 'always': every group
   * commit is fsynced before its writes are acknowledged.
   */
  readonly sync?: 'always' | 'periodic';
  /** fsync interval for sync: 'periodic' (default 100 ms). */
  readonly syncIntervalMs?: number;
  /**
   * Refuse sloppy substitutes by default: only a key's own replicas may
   * acknowledge its writes, so W + R > N keeps its read-your-writes meaning
   * (default false: Dynamo-style sloppy quorum with hinted handoff).
   */
  readonly strict?: boolean;
  /** Hints one actor holds at most (default 100 000); a sloppy write beyond that is refused by that substitute. */
  readonly maxHints?: number;
  /** Hints older than this are dropped, counted, and left to anti-entropy (default 3 h, like Cassandra's hint window). */
  readonly maxHintAgeMs?: number;
  /** How often hints are handed off to owners that are back (default 100 ms), and how many per round (default 1024). */
  readonly handoffIntervalMs?: number;
  readonly maxHintsPerHandoff?: number;
  /** How often a background anti-entropy pass runs (default 60 000 ms; 0 = only when repair() is called). */
  readonly antiEntropyIntervalMs?: number;
  /**
   * A periodic pass is skipped while the foreground struggles (an actor's
   * background budget at its minimum, or a coordinator refusing work). After
   * this many skipped in a row the next one runs anyway, paced at the minimum
   * budget: repair, and the collection of tombstones and expired values, are
   * never starved for good by a sustained load (default 4; 0: never skip).
   */
  readonly maxSkippedAntiEntropyPasses?: number;
  /**
   * The most one anti-entropy pass (or a plan's estimate, or
   * compareReplicas) holds at once on the main thread, in bytes: Merkle
   * trees are built a batch of arcs at a time within half of it, and the
   * ranges a pass asks replicas to push or reap are sent before they outgrow
   * the other half. Independent of the number of keys (default 8 MiB; at
   * least minimumPassBytes(n), about 24 KiB for n=3).
   */
  readonly antiEntropyMemoryBytes?: number;
  /** A tombstone is reaped only after this long, and only when every replica holds it (default 1 h). An expired value, this long after it expired. */
  readonly tombstoneGraceMs?: number;
  /**
   * How often each actor looks in its expiry index for expired values due
   * for collection (default 1000 ms; 0: off, and only anti-entropy passes
   * collect them). The sweep removes a key's expired entry once every
   * replica holds exactly it and no actor holds a hint (checked with one
   * message per peer per batch), so it keeps up with a load of expiring
   * writes that a pass, which reads every key, cannot.
   */
  readonly expirySweepIntervalMs?: number;
  /** Entries one expiry-sweep check carries; one check per actor is in flight at a time (default 256). */
  readonly expirySweepBatchKeys?: number;
  /** How often each actor gossips its heartbeat table to a random peer (default 100 ms). */
  readonly gossipIntervalMs?: number;
  /**
   * Backpressure: the front end refuses a client request at once with
   * OverloadedError (RESP -BUSY, HTTP 503) when its coordinator actor has
   * maxInFlightPerActor requests out (default 10 000), or when every request
   * to that actor for overloadIntervalMs (default 1000 ms) took longer than
   * overloadTargetMs (default 500 ms): a standing queue, as CoDel sees one.
   * Reads go to another replica first.
   */
  readonly maxInFlightPerActor?: number;
  readonly overloadTargetMs?: number;
  readonly overloadIntervalMs?: number;
  /**
   * Failure detection: a member is suspected once its heartbeat has been
   * still for longer than about 9 of the gossip intervals its observers have
   * seen (phi accrual), but never before failAfterMs (default 1000 ms) and
   * always after maxFailAfterMs (default 4 × failAfterMs).
   */
  readonly failAfterMs?: number;
  readonly maxFailAfterMs?: number;
  /** Most writes one LMDB transaction carries (group commit; default 1000). */
  readonly maxWritesPerCommit?: number;
  /**
   * Most background writes (handoff and anti-entropy entries, cleanup and
   * reap deletes) one transaction carries on top of the foreground ones,
   * which go first (default 256): a request's write waits behind at most
   * that many, not behind everything a stream has queued.
   */
  readonly maxBackgroundWritesPerCommit?: number;
  /** A read short of R replies after this long also asks the other replicas (default 20 ms). */
  readonly speculativeRetryMs?: number;
  /** A write short of W acks after this long is sent again to the replicas that have not answered (default 200 ms); merging is idempotent. */
  readonly writeRetryMs?: number;
  /** How many times at most (default 2; 0 = never). */
  readonly writeRetries?: number;
  /** Writes an actor holds waiting for its next LMDB commit; beyond it a write is refused and counts as a failed replica (default 200000). */
  readonly maxPendingWritesPerActor?: number;
  /** Entries one anti-entropy push carries at most; the rest waits for the next pass (default 100000). */
  readonly maxRepairPushEntries?: number;
  /** Anti-entropy and transfer pushes one actor runs at once; more are refused and counted as incomplete (default 32). */
  readonly maxRepairPushesPerActor?: number;
  /**
   * Admission control: an actor's background work (hint handoff,
   * anti-entropy pushes) gets a budget of entries per second that halves
   * while its foreground p99 is above this (default 50 ms) and grows back
   * when it is not, between backgroundMinPerSec (default 1000) and
   * backgroundMaxPerSec (default 50000).
   */
  readonly backgroundTargetP99Ms?: number;
  readonly backgroundMinPerSec?: number;
  readonly backgroundMaxPerSec?: number;
  /**
   * The budget also halves while an actor's foreground p99 is above this
   * many times its quiet baseline (its p99 while it ran no background job;
   * default 1.5, 0 = backgroundTargetP99Ms alone), but never for a p99 below
   * backgroundP99FloorMs (default 2 ms). The same factor holds the
   * cluster's cap and the Merkle scan rate. Below the 2x a user may want:
   * the budget halves only after an interval over it and grows back step
   * by step, so it spends part of its time above what it aims at.
   */
  readonly backgroundP99Factor?: number;
  readonly backgroundP99FloorMs?: number;
  /**
   * What one background job may hold: entries (times receiving peers) a push
   * or a transfer may have sent and not had acknowledged, or deletes a
   * cleanup may have waiting for their commit (default 4096).
   */
  readonly backgroundWindowEntries?: number;
  /** Entries, and key + value bytes, a background job reads from LMDB in one event-loop turn (defaults 256 and 256 KiB). */
  readonly backgroundChunkEntries?: number;
  readonly backgroundChunkBytes?: number;
  /** Transfers (one source actor to one receiving actor) a membership change streams at once (default 2). */
  readonly transferConcurrency?: number;
  /**
   * The young generation of each actor thread's V8 heap, MiB (default 16).
   * Left to V8 it grows to 48 MiB in every actor that ever received a fast
   * stream (a load, a handoff) and stays there: memory per actor that no
   * data needs (an actor holds ~7 MiB of live objects).
   */
  readonly actorYoungGenerationMiB?: number;
  /**
   * The old generation of each actor thread's V8 heap, MiB (default 1024):
   * a hard limit (an actor that needs more ends, and is restarted, as a
   * crash would), and what sets how much garbage V8 lets an actor's heap
   * hold before a full collection. With V8's own limit (4 GiB on a machine
   * with 16 GiB or more) an actor's old generation grows to 4x its live
   * objects between collections; at 1 GiB or less, to about 1.6x, at least
   * live + 8 MiB. An actor holds ~7-15 MiB of live objects.
   */
  readonly actorOldGenerationMiB?: number;
  /**
   * How fast an anti-entropy pass's Merkle builds scan the actors' data,
   * entries per second: up to antiEntropyScanMaxPerSec (default 500000),
   * halved while the cluster's requests are slower than
   * backgroundP99Factor x their quiet p99 (or backgroundTargetP99Ms), never
   * below antiEntropyScanMinPerSec (default 20000).
   */
  readonly antiEntropyScanMinPerSec?: number;
  readonly antiEntropyScanMaxPerSec?: number;
  /**
   * Automatic scaling (off unless given): every sampleIntervalMs the
   * cluster samples each actor's event-loop utilisation, request rate and
   * queue depth and the p99 of its own requests; an actor is added when the
   * cluster has stayed hot for windowMs, one retired when it has stayed
   * cold, never within cooldownMs of the last change, never outside
   * minActors..maxActors or below n.
   */
  readonly autoscale?: {
    readonly minActors: number;
    readonly maxActors: number;
    readonly sampleIntervalMs?: number;
    readonly windowMs?: number;
    readonly cooldownMs?: number;
    readonly hotElu?: number;
    readonly coldElu?: number;
    readonly hotP99Ms?: number;
    readonly hotQueueDepth?: number;
  };
  /**
   * A read whose coordinator has not answered after this long is also sent
   * to the next live replica to coordinate; the first answer wins (default
   * 250 ms; 0 = never). Covers a coordinator that is cut off or frozen
   * before failure detection notices.
   */
  readonly hedgeReadsAfterMs?: number;
  /** At most this many hedged reads per second (default 1000), so an overloaded cluster is not asked twice for everything. */
  readonly maxHedgedReadsPerSec?: number;
  /**
   * After a membership change, every actor deletes (in the background,
   * paced) the copies of ranges it no longer replicates, as Riak does after
   * a handoff (default true). With false, `cluster.cleanup()` does it on
   * demand, like Cassandra's `nodetool cleanup`.
   */
  readonly cleanupAfterChange?: boolean;
  /**
   * Actors that clean up at once (default 1). A cleanup has no caller
   * waiting for it; several at once share the cores with the requests, and
   * each paces itself only by the requests it coordinates.
   */
  readonly cleanupConcurrency?: number;
  /**
   * Serve reads on the main thread by reading the replicas' LMDB snapshots
   * directly and reconciling them as a coordinator would, whenever that is
   * equivalent to a coordinated read: no membership change, no injected
   * fault on any of the key's replicas, the replicas read up and not
   * recovering, no `via` (default true). Other reads, and every read with
   * false, go to a coordinator actor.
   */
  readonly directReads?: boolean;
}

/**
 * Every option with its default applied, r and w as replica counts: the
 * options are declared once, in ClusterOptions, and an option added there
 * must be resolved in resolveOptions (the compiler says so).
 */
export type ResolvedOptions = Readonly<Required<Omit<ClusterOptions, 'r' | 'w' | 'autoscale' | 'node'>>> & {
  readonly r: number;
  readonly w: number;
  /** `actors` was given (a restart must then agree with it), not defaulted. */
  readonly actorsExplicit: boolean;
  readonly autoscale: (AutoscalerPolicy & { readonly sampleIntervalMs: number }) | null;
};

/** What an actor's settings take besides the options: who it is, the ring it starts from, what it shares with the front end. */
export interface ActorPlace {
  readonly id: number;
  readonly members: readonly RingMember[];
  /** Data should exist (a restart, or a directory that held the cluster): an empty env then means a lost disk. */
  readonly expectsData: boolean;
  /** The store's signal to the front end's direct reads. */
  readonly readSignal: SharedArrayBuffer | null;
  /** The cluster's cap on the actor's background budget (ForegroundPacing). */
  readonly backgroundCap: BackgroundCapBuffers | null;
}

/** An actor's settings, derived from the cluster's options: the one place an option reaches an actor. */
export function actorConfigFrom(o: ResolvedOptions, place: ActorPlace): ActorConfig {
  return {
    id: place.id,
    n: o.n,
    members: place.members,
    freshWriterId: -1, // the supervisor allocates one for each spawn
    expectsData: place.expectsData,
    storage: storeOptionsFrom(o, actorDataPath(o.dataDir, place.id), place.readSignal),
    lastWriteWins: o.lastWriteWins,
    maxSiblings: o.maxSiblings,
    maxPendingOps: o.maxPendingOpsPerActor,
    sweepIntervalMs: Math.max(1, Math.min(10, Math.floor(o.timeoutMs / 10))),
    speculativeRetryMs: o.speculativeRetryMs,
    writeRetryMs: o.writeRetryMs,
    writeRetries: o.writeRetries,
    maxRepairPushEntries: o.maxRepairPushEntries,
    maxRepairPushesPerActor: o.maxRepairPushesPerActor,
    backgroundTargetP99Ms: o.backgroundTargetP99Ms,
    backgroundMinPerSec: o.backgroundMinPerSec,
    backgroundMaxPerSec: Math.max(o.backgroundMaxPerSec, o.backgroundMinPerSec),
    backgroundP99Factor: o.backgroundP99Factor,
    backgroundP99FloorMs: o.backgroundP99FloorMs,
    backgroundWindowEntries: o.backgroundWindowEntries,
    backgroundChunkEntries: o.backgroundChunkEntries,
    backgroundChunkBytes: o.backgroundChunkBytes,
    maxBatchBytes: o.maxBatchBytes,
    gossipIntervalMs: o.gossipIntervalMs,
    failAfterMs: o.failAfterMs,
    maxFailAfterMs: o.maxFailAfterMs,
    pauseSignal: new SharedArrayBuffer(4),
    backgroundCap: place.backgroundCap,
    maxHints: o.maxHints,
    maxPairBytes: o.maxPairBytes,
    maxHintAgeMs: o.maxHintAgeMs,
    handoffIntervalMs: o.handoffIntervalMs,
    maxHintsPerHandoff: o.maxHintsPerHandoff,
    expirySweep: { graceMs: o.tombstoneGraceMs, intervalMs: o.expirySweepIntervalMs, batchKeys: o.expirySweepBatchKeys },
  };
}

/** An actor's store settings, derived from the cluster's options. */
export function storeOptionsFrom(o: ResolvedOptions, path: string, readSignal: SharedArrayBuffer | null): StoreOptions {
  return {
    path,
    mapSizeBytes: o.mapSizeBytes,
    compressionThresholdBytes: o.compressionThresholdBytes,
    cacheBytes: o.cacheBytes,
    maxWritesPerCommit: o.maxWritesPerCommit,
    maxBackgroundWritesPerCommit: o.maxBackgroundWritesPerCommit,
    maxPendingWrites: o.maxPendingWritesPerActor,
    sync: o.sync,
    syncIntervalMs: o.syncIntervalMs,
    readSignal,
  };
}

function int(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

/** 0 (off), or a factor of at least 1: a target below the quiet baseline would halve the budget in every interval. */
function p99Factor(value: unknown): number {
  if (value === undefined) return 1.5;
  if (typeof value !== 'number' || !Number.isFinite(value) || !(value === 0 || (value >= 1 && value <= 1000))) {
    throw new InvalidOptionError(`backgroundP99Factor must be 0 or a number in 1..1000, got ${String(value)}`);
  }
  return value;
}

/** Turn a level or number into a replica count, refusing what N makes impossible. */
export function resolveConsistency(name: 'r' | 'w', value: Consistency | undefined, n: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === 'one') return 1;
  if (value === 'quorum') return Math.floor(n / 2) + 1;
  if (value === 'all') return n;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ImpossibleQuorumError(`${name} must be an integer or 'one' | 'quorum' | 'all', got ${JSON.stringify(value)}`);
  }
  if (value < 1) throw new ImpossibleQuorumError(`${name}=${value}: at least one replica must answer`);
  if (value > n) throw new ImpossibleQuorumError(`${name}=${value} is impossible with n=${n} replicas`);
  return value;
}

function autoscaleOptions(a: ClusterOptions['autoscale'], n: number): ResolvedOptions['autoscale'] {
  if (a === undefined) return null;
  if (a === null || typeof a !== 'object') throw new InvalidOptionError('autoscale must be an object with minActors and maxActors');
  const num = (name: string, v: unknown, def: number, min: number, max: number): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !(v >= min && v <= max)) throw new InvalidOptionError(`autoscale.${name} must be a number in ${min}..${max}, got ${String(v)}`);
    return v;
  };
  const minActors = int('autoscale.minActors', a.minActors, n, n, 1024);
  const policy = {
    ...DEFAULT_POLICY,
    minActors,
    maxActors: int('autoscale.maxActors', a.maxActors, minActors, minActors, 1024),
    sampleIntervalMs: int('autoscale.sampleIntervalMs', a.sampleIntervalMs, 1000, 10, 600_000),
    windowMs: int('autoscale.windowMs', a.windowMs, DEFAULT_POLICY.windowMs, 10, 86_400_000),
    cooldownMs: int('autoscale.cooldownMs', a.cooldownMs, DEFAULT_POLICY.cooldownMs, 0, 86_400_000),
    hotElu: num('hotElu', a.hotElu, DEFAULT_POLICY.hotElu, 0, 1),
    coldElu: num('coldElu', a.coldElu, DEFAULT_POLICY.coldElu, 0, 1),
    hotP99Ms: num('hotP99Ms', a.hotP99Ms, DEFAULT_POLICY.hotP99Ms, 0.001, 600_000),
    hotQueueDepth: num('hotQueueDepth', a.hotQueueDepth, DEFAULT_POLICY.hotQueueDepth, 1, 100_000_000),
  };
  if (!(policy.coldElu < policy.hotElu)) throw new InvalidOptionError(`autoscale.coldElu (${policy.coldElu}) must be below hotElu (${policy.hotElu})`);
  return policy;
}

export function resolveOptions(o: ClusterOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new InvalidOptionError('Cluster.start needs an options object with dataDir');
  if (typeof o.dataDir !== 'string' || o.dataDir.length === 0) throw new InvalidOptionError('dataDir must be a non-empty string');
  const n = int('n', o.n, 3, 1, 64);
  const actors = int('actors', o.actors, Math.max(n, availableParallelism()), 1, 1024);
  // a node of a multi-node cluster needs n actors only in all (the first node checks its own)
  if (actors < n && o.node === undefined) throw new ImpossibleQuorumError(`n=${n} replicas need at least ${n} actors, got actors=${actors}`);
  const zones = o.zones ?? ['default'];
  if (!Array.isArray(zones) || zones.length === 0 || zones.some((z) => typeof z !== 'string' || z.length === 0 || z.length > 64)) {
    throw new InvalidOptionError('zones must be a non-empty array of non-empty strings (max 64 chars)');
  }
  if (o.lastWriteWins !== undefined && typeof o.lastWriteWins !== 'boolean') throw new InvalidOptionError('lastWriteWins must be a boolean');
  return {
    dataDir: o.dataDir,
    actors,
    actorsExplicit: o.actors !== undefined,
    n,
    r: resolveConsistency('r', o.r, n, Math.floor(n / 2) + 1),
    w: resolveConsistency('w', o.w, n, Math.floor(n / 2) + 1),
    vnodes: int('vnodes', o.vnodes, 256, 1, 4096),
    zones,
    lastWriteWins: o.lastWriteWins ?? false,
    autoscale: autoscaleOptions(o.autoscale, n),
    ...failureDetection(o),
    ...requestOptions(o),
    ...storageOptions(o),
    ...hintAndExpiryOptions(o),
    ...backgroundOptions(o, n),
  };
}

/** Gossip and the failure detector's bounds. */
function failureDetection(o: ClusterOptions) {
  const gossipIntervalMs = int('gossipIntervalMs', o.gossipIntervalMs, 100, 5, 60_000);
  const failAfterMs = int('failAfterMs', o.failAfterMs, 1000, 10, 600_000);
  if (failAfterMs < 3 * gossipIntervalMs) throw new InvalidOptionError(`failAfterMs (${failAfterMs}) must be at least 3 gossip rounds (3 x gossipIntervalMs = ${3 * gossipIntervalMs})`);
  const maxFailAfterMs = int('maxFailAfterMs', o.maxFailAfterMs, 4 * failAfterMs, 10, 3_600_000);
  if (maxFailAfterMs < failAfterMs) throw new InvalidOptionError(`maxFailAfterMs (${maxFailAfterMs}) must be at least failAfterMs (${failAfterMs})`);
  return { gossipIntervalMs, failAfterMs, maxFailAfterMs };
}

/** Requests: their bounds, deadlines, retries and hedges, and backpressure. */
function requestOptions(o: ClusterOptions) {
  const maxPairBytes = int('maxPairBytes', o.maxPairBytes, 10 * 1024, 16, 64 * 1024 * 1024);
  return {
    maxPairBytes,
    timeoutMs: int('timeoutMs', o.timeoutMs, 5000, 1, 3_600_000),
    maxKeyBytes: int('maxKeyBytes', o.maxKeyBytes, Math.min(1024, maxPairBytes), 1, 1900),
    maxSiblings: int('maxSiblings', o.maxSiblings, 64, 1, 10_000),
    maxPendingRequests: int('maxPendingRequests', o.maxPendingRequests, 100_000, 1, 10_000_000),
    maxPendingOpsPerActor: int('maxPendingOpsPerActor', o.maxPendingOpsPerActor, 100_000, 1, 10_000_000),
    maxBatchBytes: int('maxBatchBytes', o.maxBatchBytes, 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxInFlightPerActor: int('maxInFlightPerActor', o.maxInFlightPerActor, 10_000, 1, 10_000_000),
    overloadTargetMs: int('overloadTargetMs', o.overloadTargetMs, 500, 1, 3_600_000),
    overloadIntervalMs: int('overloadIntervalMs', o.overloadIntervalMs, 1000, 1, 3_600_000),
    strict: bool('strict', o.strict, false),
    speculativeRetryMs: int('speculativeRetryMs', o.speculativeRetryMs, 20, 1, 3_600_000),
    writeRetryMs: int('writeRetryMs', o.writeRetryMs, 200, 1, 3_600_000),
    writeRetries: int('writeRetries', o.writeRetries, 2, 0, 10),
    hedgeReadsAfterMs: int('hedgeReadsAfterMs', o.hedgeReadsAfterMs, 250, 0, 3_600_000),
    maxHedgedReadsPerSec: int('maxHedgedReadsPerSec', o.maxHedgedReadsPerSec, 1000, 0, 1_000_000),
    directReads: bool('directReads', o.directReads, true),
  };
}

/** Each actor's store and thread. */
function storageOptions(o: ClusterOptions) {
  return {
    mapSizeBytes: int('mapSizeBytes', o.mapSizeBytes, 8 * 1024 ** 3, 1024 ** 2, 2 ** 50),
    compressionThresholdBytes: int('compressionThresholdBytes', o.compressionThresholdBytes, 1024, 0, 64 * 1024 * 1024),
    cacheBytes: int('cacheBytes', o.cacheBytes, 8 * 1024 * 1024, 0, 2 ** 40),
    sync: syncMode(o.sync),
    syncIntervalMs: int('syncIntervalMs', o.syncIntervalMs, 100, 1, 60_000),
    maxWritesPerCommit: int('maxWritesPerCommit', o.maxWritesPerCommit, 1000, 1, 1_000_000),
    maxBackgroundWritesPerCommit: int('maxBackgroundWritesPerCommit', o.maxBackgroundWritesPerCommit, DEFAULT_MAX_BACKGROUND_WRITES_PER_COMMIT, 1, 1_000_000),
    maxPendingWritesPerActor: int('maxPendingWritesPerActor', o.maxPendingWritesPerActor, 200_000, 1, 100_000_000),
    actorYoungGenerationMiB: int('actorYoungGenerationMiB', o.actorYoungGenerationMiB, 16, 2, 1024),
    actorOldGenerationMiB: int('actorOldGenerationMiB', o.actorOldGenerationMiB, 1024, 64, 1024 * 1024),
  };
}

/** Hinted handoff, and the collection of tombstones and expired values. */
function hintAndExpiryOptions(o: ClusterOptions) {
  return {
    maxHints: int('maxHints', o.maxHints, 100_000, 0, 100_000_000),
    maxHintAgeMs: int('maxHintAgeMs', o.maxHintAgeMs, 3 * 3600_000, 1000, 30 * 24 * 3600_000),
    handoffIntervalMs: int('handoffIntervalMs', o.handoffIntervalMs, 100, 5, 600_000),
    maxHintsPerHandoff: int('maxHintsPerHandoff', o.maxHintsPerHandoff, 1024, 1, 100_000),
    tombstoneGraceMs: int('tombstoneGraceMs', o.tombstoneGraceMs, 3600_000, 0, 365 * 24 * 3600_000),
    expirySweepIntervalMs: int('expirySweepIntervalMs', o.expirySweepIntervalMs, 1000, 0, 3_600_000),
    expirySweepBatchKeys: int('expirySweepBatchKeys', o.expirySweepBatchKeys, 256, 1, 100_000),
  };
}

/** Background work: anti-entropy, its pacing, transfers and cleanup. */
function backgroundOptions(o: ClusterOptions, n: number) {
  return {
    antiEntropyIntervalMs: int('antiEntropyIntervalMs', o.antiEntropyIntervalMs, 60_000, 0, 24 * 3600_000),
    maxSkippedAntiEntropyPasses: int('maxSkippedAntiEntropyPasses', o.maxSkippedAntiEntropyPasses, 4, 0, 1000),
    antiEntropyMemoryBytes: int('antiEntropyMemoryBytes', o.antiEntropyMemoryBytes, 8 * 1024 * 1024, minimumPassBytes(n), 2 ** 40),
    maxRepairPushEntries: int('maxRepairPushEntries', o.maxRepairPushEntries, 100_000, 1, 100_000_000),
    maxRepairPushesPerActor: int('maxRepairPushesPerActor', o.maxRepairPushesPerActor, 32, 1, 10_000),
    backgroundTargetP99Ms: int('backgroundTargetP99Ms', o.backgroundTargetP99Ms, 50, 1, 600_000),
    backgroundMinPerSec: int('backgroundMinPerSec', o.backgroundMinPerSec, 1000, 4, 100_000_000),
    backgroundMaxPerSec: int('backgroundMaxPerSec', o.backgroundMaxPerSec, 50_000, 4, 100_000_000),
    backgroundP99Factor: p99Factor(o.backgroundP99Factor),
    backgroundP99FloorMs: int('backgroundP99FloorMs', o.backgroundP99FloorMs, 2, 0, 600_000),
    // a push sends each entry to every receiving peer (at most n - 1): the window must fit one entry to each
    backgroundWindowEntries: int('backgroundWindowEntries', o.backgroundWindowEntries, 4096, n, 10_000_000),
    backgroundChunkEntries: int('backgroundChunkEntries', o.backgroundChunkEntries, 256, 1, 1_000_000),
    backgroundChunkBytes: int('backgroundChunkBytes', o.backgroundChunkBytes, 256 * 1024, 1024, 1024 ** 3),
    transferConcurrency: int('transferConcurrency', o.transferConcurrency, 2, 1, 64),
    antiEntropyScanMinPerSec: int('antiEntropyScanMinPerSec', o.antiEntropyScanMinPerSec, 20_000, 1, 2 ** 31 - 1),
    antiEntropyScanMaxPerSec: int('antiEntropyScanMaxPerSec', o.antiEntropyScanMaxPerSec, 500_000, 1, 2 ** 31 - 1),
    cleanupAfterChange: bool('cleanupAfterChange', o.cleanupAfterChange, true),
    cleanupConcurrency: int('cleanupConcurrency', o.cleanupConcurrency, 1, 1, 1024),
  };
}

function syncMode(v: unknown): 'always' | 'periodic' {
  if (v === undefined) return 'periodic';
  if (v === 'always' || v === 'periodic') return v;
  throw new InvalidOptionError(`sync must be 'always' or 'periodic', got ${JSON.stringify(v)}`);
}

function bool(name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new InvalidOptionError(`${name} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}
