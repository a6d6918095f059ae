import 'reflect-metadata';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type { MessagePort } from 'node:worker_threads';
import { inject, injectable } from 'tsyringe';
import { ReadQuorum, WriteQuorum } from '../coordinator/quorum.js';
import { asBuffer } from '../encoding/bytes.js';
import { BackgroundThrottle, LatencyWindow, TokenBucket } from '../coordinator/throttle.js';
import { planWriteTargets, type PeerHealth } from '../coordinator/write-targets.js';
import type { ErrorCode } from '../errors.js';
import { foreignRanges, Ring, type PositionRange, type RingMember } from '../ring/ring.js';
import { ringPosition } from '../ring/hash.js';
import { TOKENS, type Clock, type Random, type Timers } from '../runtime/services.js';
import { detectorOptions, FailureDetector } from '../membership/failure-detector.js';
import type { LinkFaults } from '../transport/faults.js';
import { positionOf, ringKey, userKeyOf } from '../storage/keys.js';
import { hintKey, type ReplicaStore, type WriteDone } from '../storage/replica-store.js';
import { MsgType, type ClientGet, type ClientPut, type ClientScan, type ReapRanges, type SyncRanges, type Message, type ReadReply, type ReplicateAck } from '../transport/protocol.js';
import { Transport } from '../transport/transport.js';
import { ExpirySweep } from './expiry-sweep.js';
import type { ActorConfig, ActorControl, ActorStats, CleanupReport } from './config.js';
import { decodeReply, readRepairs, reconcile } from '../coordinator/reconcile.js';
import { planIncrement } from '../coordinator/increment.js';
import * as dvv from '../versioning/dvvset.js';
import { ValueKind, compareBytes, compareSiblings, decodeClock, decodeHistory, decodeVV, encodeClock, encodeJoin, isAllTombstonesOrExpiring, isDeleted, isExpired, isLive, reapable, newerSibling, syncClocks, type Clock as VClock, type Sibling } from '../versioning/sibling.js';

export type { ActorConfig, ActorControl, ActorStats, CleanupReport } from './config.js';

interface CleanupJob {
  readonly promise: Promise<CleanupReport>;
  readonly resolve: (r: CleanupReport) => void;
  /** The ring the spans were computed from; recomputed when the ring changes mid-job. */
  ring: Ring;
  spans: readonly PositionRange[];
  /** Next position to look at, and the last key handled at it (a chunk can end mid-position). */
  position: number;
  afterKey: Buffer | null;
  scheduled: boolean;
  scanning: boolean;
  outstanding: number;
  scanned: number;
  removed: number;
  failed: number;
}

/** A reap (ReapRanges) paced like a push: one chunk per turn, within the background budget. */
interface ReapJob {
  readonly client: number;
  readonly req: number;
  readonly ranges: readonly (readonly [number, number])[];
  readonly cutoffMs: number;
  rangeIndex: number;
  afterKey: Buffer | null;
  scheduled: boolean;
  reaped: number;
}

interface PendingPut {
  readonly kind: 'put';
  readonly client: number;
  readonly req: number;
  readonly quorum: WriteQuorum;
  readonly deadlineMs: number;
  readonly context: Uint8Array;
  /** The coordinator held a live value for the key before this write (PutOk.existed). */
  readonly existed: boolean;
  /** An increment's written counter (PutOk.counter); empty for other writes. */
  readonly counter: Uint8Array;
  answered: boolean;
  /** What was sent, for a retry to replicas whose ack is missing (a lost message). */
  readonly key: Buffer;
  readonly clock: Uint8Array;
  readonly hintFor: ReadonlyMap<number, number>;
  readonly startedMs: number;
  lastSentMs: number;
  retries: number;
}

interface PendingGet {
  readonly kind: 'get';
  readonly client: number;
  readonly req: number;
  readonly key: Buffer;
  readonly quorum: ReadQuorum;
  readonly startedMs: number;
  readonly deadlineMs: number;
  /** Raw replies, to skip reconciliation when all replicas agree byte for byte. */
  /** Who replied with which bytes (parallel arrays: at most n entries). */
  readonly rawFrom: number[];
  readonly raw: Uint8Array[];
  /** Replicas not asked yet (asked on failure or after speculativeRetryMs). */
  readonly spare: number[];
  /** Asked replicas that have not replied or failed. */
  outstanding: number;
  answered: boolean;
}

type PendingOp = PendingPut | PendingGet;

interface SyncJob {
  readonly client: number;
  readonly req: number;
  /** Pushes whose ack never comes (lost to a fault) are given up after this; moved on while the push progresses. */
  deadlineMs: number;
  readonly ranges: readonly (readonly [number, number])[];
  readonly peers: readonly number[];
  /** Where the paced push goes on: range index and the last key sent in it. */
  rangeIndex: number;
  afterKey: Buffer | null;
  pumping: boolean;
  /** A next chunk is already scheduled (so the throttle tick does not start a second chain). */
  scheduled: boolean;
  outstanding: number;
  keys: number;
  bytes: number;
  failed: number;
}

const EMPTY = new Uint8Array(0);

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

const IGNORE: WriteDone = () => undefined;
/** A stored hint: 8-byte creation time (ms, big-endian double), then the clock. */
const HINT_HEADER_BYTES = 8;
/** An anti-entropy push not acknowledged within this long counts as failed (the next pass retries it). */
/** The op of a forwarded write: its ack matches no request (ops start at 1) and is ignored. */
const FORWARD_OP = 0;
/** How often the background budget is recomputed from the foreground p99 (and paced pushes go on). */
const THROTTLE_INTERVAL_MS = 250;
/**
 * At most this many milliseconds' worth of background budget is spent back
 * to back: at 50 000 entries/s, 1000 entries (four chunks), then the next
 * chunk when its budget has accrued. Requests wait behind one burst, not
 * behind a whole throttle interval's worth.
 */
const BACKGROUND_BURST_MS = 20;
const SYNC_PUSH_TIMEOUT_MS = 30_000; // read repairs: best effort, anti-entropy catches the rest

/**
 * A partition-owner actor: it stores the replicas of the keys whose
 * preference list includes it, and coordinates the requests routed to it.
 * It wires the pure cores (ring, DVVSet, quorum bookkeeping) to its LMDB
 * store and the transport; it has no other state worth a name.
 */
@injectable()
export class PartitionActor implements ActorControl {
  readonly id: number;
  private ring: Ring;
  /** The ring a membership change is moving to, while its transfers run (writes are forwarded to its new replicas). */
  private pendingRing: Ring | null = null;
  private readonly ops = new Map<number, PendingOp>();
  private nextOp = 1;
  private closing = false;
  /** The deadline sweep runs only while something waits (requests or pushes), so an idle actor does not wake every few ms. */
  private sweep: { cancel(): void } | null = null;
  private readonly gossip: { cancel(): void };
  private readonly detector: FailureDetector;
  private reportedDown = '';
  /** Peers this actor's failure detector suspects (refreshed every gossip round): asked last, but still asked. */
  private downPeers = new Set<number>();
  /**
   * Suspicion is not evidence: only a peer whose thread ended (the
   * supervisor said so) or whose link is gone or cut by a fault is dead, and
   * only a dead peer is left out of a write.
   */
  private readonly health: PeerHealth = {
    dead: (id) => this.detector.hasEnded(id) || !this.transport.isConnected(id) || this.transport.isBlocked(id),
    suspected: (id) => this.downPeers.has(id),
  };
  private readonly handoff: { cancel(): void };
  private readonly expiry: ExpirySweep;
  private readonly utilisationTimer: { cancel(): void };
  private readonly throttleTimer: { cancel(): void };
  private readonly foreground = new LatencyWindow();
  private readonly throttle: BackgroundThrottle;
  /** The background budget as it accrues (streams, cleanups, reaps share it); hint handoff rounds have their own at the same rate. */
  private readonly backgroundBucket = new TokenBucket(BACKGROUND_BURST_MS);
  private readonly hintBucket: TokenBucket;
  /** Budget was taken since the last throttle tick (that interval does not teach the quiet baseline). */
  private backgroundUsed = false;
  /** A paced job out of budget waits for this (one timer for all of them). */
  private backgroundResume: { cancel(): void } | null = null;
  /** Handoffs in flight: op → the hint sent and its exact bytes (deleted only if unchanged when acked). */
  private readonly handoffs = new Map<number, { hintKey: Buffer; bytes: Buffer }>();
  private hintsStored = 0;
  private hintsHandedOff = 0;
  private hintsDropped = 0;
  private sloppyWrites = 0;
  private handoffWaits = 0;
  /** Anti-entropy pushes in flight: op → the sync request it belongs to. */
  private readonly syncs = new Map<number, SyncJob>();
  private readonly syncJobs = new Set<SyncJob>();
  private readonly reapJobs = new Set<ReapJob>();
  /** The largest chunk (key + value bytes) a background job read at once. */
  private backgroundChunkPeakBytes = 0;
  /**
   * The most a push or cleanup had unacknowledged at once. The window
   * (backgroundWindowEntries) exists because a pusher paced only by its
   * budget outruns a slower receiver, and the difference waits in message
   * queues and pending overlays: memory that grows with the data moved.
   */
  private backgroundWindowPeakEntries = 0;
  private cleanupJob: CleanupJob | null = null;
  private cleanupRemovedKeys = 0;
  private gossipRounds = 0;
  /** Times a gossip round began suspecting a member it did not suspect before. */
  private suspicionsRaised = 0;
  private coordinatedPuts = 0;
  private coordinatedGets = 0;
  private replicaWrites = 0;
  private readRepairs = 0;
  private antiEntropyKeysSent = 0;
  /** The id this actor's events carry in version clocks: its env's, not the actor id (see claimWriterId). */
  private readonly writerId: number;

  constructor(
    @inject(TOKENS.actorConfig) private readonly config: ActorConfig,
    @inject(TOKENS.store) private readonly store: ReplicaStore,
    @inject(TOKENS.transport) private readonly transport: Transport,
    @inject(TOKENS.clock) private readonly clock: Clock,
    @inject(TOKENS.timers) private readonly timers: Timers,
    @inject(TOKENS.random) private readonly random: Random,
  ) {
    this.id = config.id;
    this.ring = Ring.build(config.members, config.n);
    if (!this.ring.members.has(this.id)) throw new Error(`actor ${this.id} is not a ring member`);
    this.writerId = store.claim(this.id, config.freshWriterId, config.expectsData);
    transport.onMessage((from, m) => this.handleSafely(from, m));
    // Heartbeats start at the wall clock (in µs) so a restarted actor's counter is above its old one.
    this.detector = new FailureDetector(
      this.id,
      [...this.ring.members.keys()],
      detectorOptions(config.gossipIntervalMs, config.failAfterMs, { maxFailAfterMs: config.maxFailAfterMs }),
      clock.monotonicMs(),
      Math.floor(clock.now()) * 1000,
    );
    this.gossip = timers.setInterval(() => this.gossipRound(), config.gossipIntervalMs);
    this.handoff = timers.setInterval(() => this.handoffRound(), config.handoffIntervalMs);
    this.utilisationTimer = timers.setInterval(() => this.sampleUtilisation(), 1000);
    this.throttle = new BackgroundThrottle({
      targetP99Ms: config.backgroundTargetP99Ms,
      minPerSec: config.backgroundMinPerSec,
      maxPerSec: config.backgroundMaxPerSec,
      stepPerSec: Math.max(1, Math.ceil(config.backgroundMaxPerSec / 20)),
      baselineFactor: config.backgroundP99Factor,
      floorMs: config.backgroundP99FloorMs,
    });
    this.hintBucket = new TokenBucket(config.handoffIntervalMs);
    this.throttleTimer = timers.setInterval(() => this.throttleTick(), THROTTLE_INTERVAL_MS);
    this.expiry = new ExpirySweep(
      {
        id: this.id,
        store,
        clock,
        timers,
        send: (to, m) => this.transport.send(to, m),
        replicasOf: (storedKey) => (this.pendingRing !== null ? null : this.ring.preferenceList(positionOf(storedKey))),
        peers: () => [...this.ring.members.keys()].filter((id) => id !== this.id),
        isDead: (id) => this.health.dead(id),
      },
      config.expirySweep,
    );
  }

  // ---- control plane ----

  ping(): number {
    return this.id;
  }

  connectPeer(peer: number, port: MessagePort): void {
    if (!this.ring.members.has(peer) && !(this.pendingRing?.members.has(peer) ?? false)) throw new Error(`actor ${this.id}: unknown peer ${peer}`);
    this.transport.connect(peer, port);
  }

  connectClient(port: MessagePort): void {
    this.transport.connect(-1, port);
  }

  setRings(members: readonly RingMember[], pending: readonly RingMember[] | null): void {
    const ring = Ring.build(members, this.config.n);
    const pendingRing = pending === null ? null : Ring.build(pending, this.config.n);
    this.ring = ring;
    this.pendingRing = pendingRing;
    const now = this.clock.monotonicMs();
    const ids = new Set([...ring.members.keys(), ...(pendingRing?.members.keys() ?? [])]);
    this.detector.setMembers([...ids], now);
    this.downPeers = new Set(this.detector.down(now));
    for (const peer of this.transport.peers()) if (peer >= 0 && !ids.has(peer)) this.transport.disconnect(peer); // a removed actor
  }

  /** During a transfer: the replicas the pending ring adds for this position get the write too (acks not counted). */
  private forwardToPending(position: number, pref: readonly number[], key: Buffer, clock: Uint8Array): void {
    if (this.pendingRing === null) return;
    for (const id of this.pendingRing.preferenceList(position)) {
      if (id === this.id || pref.includes(id) || this.downPeers.has(id) || !this.transport.isConnected(id)) continue;
      this.transport.send(id, { type: MsgType.Replicate, op: FORWARD_OP, key, clock });
    }
  }

  private lastElu = performance.eventLoopUtilization();
  private recentUtilisation = 0;

  /** Once a second, so every reader of stats() sees the same figure. */
  private sampleUtilisation(): void {
    const now = performance.eventLoopUtilization();
    this.recentUtilisation = Math.round(performance.eventLoopUtilization(now, this.lastElu).utilization * 1000) / 1000;
    this.lastElu = now;
  }

  stats(): ActorStats {
    const t = this.transport.metrics;
    return {
      id: this.id,
      keys: this.store.count(),
      pendingOps: this.ops.size,
      pendingWrites: this.store.pendingWrites,
      pendingWritesPeak: this.store.pendingWritesPeak,
      cachedBytes: this.store.cachedBytes,
      ...heapFigures(),
      coordinatedPuts: this.coordinatedPuts,
      coordinatedGets: this.coordinatedGets,
      replicaWrites: this.replicaWrites,
      readRepairs: this.readRepairs,
      antiEntropyKeysSent: this.antiEntropyKeysSent,
      cleanupRemovedKeys: this.cleanupRemovedKeys,
      backgroundChunkPeakBytes: this.backgroundChunkPeakBytes,
      backgroundWindowPeakEntries: this.backgroundWindowPeakEntries,
      recovering: this.store.recovering,
      suspects: [...this.downPeers].sort((a, b) => a - b),
      suspicionsRaised: this.suspicionsRaised,
      localStalls: this.detector.stalls,
      eventLoopUtilization: this.recentUtilisation,
      backgroundBudgetPerSec: this.throttle.perSec,
      hintsPending: this.store.hintCount(),
      hintsStored: this.hintsStored,
      hintsHandedOff: this.hintsHandedOff,
      hintsDropped: this.hintsDropped,
      expiryIndexEntries: this.store.expiryIndexCount(),
      ...this.expiry.stats,
      sloppyWrites: this.sloppyWrites,
      commits: this.store.commits,
      committedWrites: this.store.committedWrites,
      messagesSent: t.messagesSent,
      messagesReceived: t.messagesReceived,
      batchesSent: t.batchesSent,
      batchesReceived: t.batchesReceived,
    };
  }

  /** Stop taking requests, let in-flight writes commit, flush and close the env. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sweep?.cancel();
    this.sweep = null;
    this.gossip.cancel();
    this.handoff.cancel();
    this.utilisationTimer.cancel();
    this.throttleTimer.cancel();
    this.expiry.close();
    this.backgroundResume?.cancel();
    this.backgroundResume = null;
    if (this.cleanupJob !== null) {
      this.cleanupJob.scanning = false;
      this.finishCleanupIfDone(this.cleanupJob);
    }
    for (const [op, p] of this.ops) {
      if (!p.answered) this.fail(p.client, p.req, 'CLUSTER_CLOSED', 0, 0, 0, 'actor is shutting down');
      this.ops.delete(op);
    }
    this.transport.flush();
    await this.store.close();
    this.transport.close();
  }

  setFaults(faults: LinkFaults): void {
    this.transport.setFaults(faults);
  }

  peerDown(peer: number): void {
    const now = this.clock.monotonicMs();
    this.detector.ended(peer, now);
    this.downPeers = new Set(this.detector.down(now));
  }

  peerUp(peer: number): void {
    const now = this.clock.monotonicMs();
    this.detector.reset(peer, now);
    this.downPeers = new Set(this.detector.down(now));
  }

  recovered(): void {
    this.store.markRecovered();
  }

  pause(ms: number): void {
    if (this.config.pauseSignal === null) throw new Error('this actor was started without a pause signal');
    const signal = new Int32Array(this.config.pauseSignal);
    // The whole thread stops while the signal says paused (1); heal() clears it and notifies. It used to
    // be the other way round, and a heal left every unpaused actor's signal set: its next pause returned at once.
    Atomics.wait(signal, 0, 1, ms);
    Atomics.store(signal, 0, 0);
  }

  /**
   * One gossip round: bump our heartbeat, send the table to one random
   * connected peer, and tell the main thread which members we now consider
   * down (on change, and every 10 rounds in case a report was missed).
   */
  private gossipRound(): void {
    const now = this.clock.monotonicMs();
    this.detector.tick(now);
    const peers = this.transport.peers().filter((p) => p >= 0);
    if (peers.length > 0) {
      const peer = peers[Math.floor(this.random.next() * peers.length)]!;
      this.transport.send(peer, { type: MsgType.Gossip, heartbeats: this.detector.heartbeats() });
    }
    const down = this.detector.down(now);
    for (const id of down) if (!this.downPeers.has(id)) this.suspicionsRaised++;
    this.downPeers = new Set(down);
    const key = down.join(',');
    if (key !== this.reportedDown || ++this.gossipRounds % 10 === 0) {
      this.reportedDown = key;
      this.transport.send(-1, { type: MsgType.MemberView, down });
    }
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
      if (m.type === MsgType.ClientPut || m.type === MsgType.ClientGet) this.fail(from, m.req, 'INTERNAL', 0, 0, 0, (err as Error).message);
    }
  }

  private handle(from: number, m: Message): void {
    switch (m.type) {
      case MsgType.ClientPut:
        return this.coordinatePut(from, m);
      case MsgType.ClientGet:
        return this.coordinateGet(from, m);
      case MsgType.Replicate:
        this.replicaWrites++;
        this.mergeLocal(asBuffer(m.key), m.clock, (err) => {
          this.transport.send(from, { type: MsgType.ReplicateAck, op: m.op, ok: err === null });
        });
        return;
      case MsgType.ReplicateAck:
        return this.onReplicateAck(from, m);
      case MsgType.Read: {
        const stored = this.store.get(asBuffer(m.key));
        // a recovering replica answers, but as not counting: the coordinator asks another
        this.transport.send(from, { type: MsgType.ReadReply, op: m.op, ok: !this.store.recovering, clock: stored ?? EMPTY });
        return;
      }
      case MsgType.ReadReply:
        return this.onReadReply(from, m);
      case MsgType.Repair:
        this.mergeLocal(asBuffer(m.key), m.clock, IGNORE);
        return;
      case MsgType.ClientScan:
        return this.scan(from, m);
      case MsgType.ClientInspect: {
        const key = ringKey(m.key, m.position);
        const hints: [number, Uint8Array][] = [];
        for (const owner of this.ring.members.keys()) {
          const hint = this.store.getHint(hintKey(owner, key));
          if (hint !== undefined) hints.push([owner, hint.subarray(HINT_HEADER_BYTES)]);
        }
        this.transport.send(from, { type: MsgType.InspectOk, req: m.req, clock: this.store.get(key) ?? EMPTY, hints });
        return;
      }
      case MsgType.ReplicateHint:
        this.storeHint(asBuffer(m.key), m.owner, m.clock, (err) => {
          this.transport.send(from, { type: MsgType.ReplicateAck, op: m.op, ok: err === null });
        });
        return;
      case MsgType.SyncRanges:
        return this.syncRanges(from, m);
      case MsgType.ReapRanges:
        return this.reapRanges(from, m);
      case MsgType.ExpiryCheck:
        return this.expiry.answer(from, m);
      case MsgType.ExpiryCheckReply:
        return this.expiry.replied(from, m);
      case MsgType.ExpiryReap:
        return this.expiry.reap(m);
      case MsgType.InspectOk:
      case MsgType.SyncDone:
      case MsgType.ReapDone:
        throw new Error(`actor ${this.id}: unexpected reply type ${m.type} from ${from}`);
      case MsgType.Gossip:
        this.detector.merge(m.heartbeats, this.clock.monotonicMs());
        return;
      case MsgType.MemberView:
        throw new Error(`actor ${this.id}: unexpected member view from ${from}`);
      case MsgType.PutOk:
      case MsgType.GetOk:
      case MsgType.ScanOk:
      case MsgType.Fail:
        throw new Error(`actor ${this.id}: unexpected client reply type ${m.type} from ${from}`);
    }
  }

  /** Checks common to both request kinds; returns the preference list or null after replying with a failure. */
  private admit(from: number, m: ClientPut | ClientGet, needed: number): readonly number[] | null {
    if (this.closing) {
      this.fail(from, m.req, 'CLUSTER_CLOSED', 0, needed, 0, 'actor is shutting down');
      return null;
    }
    if (this.ops.size >= this.config.maxPendingOps) {
      this.fail(from, m.req, 'OVERLOADED', 0, needed, 0, `actor ${this.id} coordinates ${this.ops.size} requests (maxPendingOps)`);
      return null;
    }
    if (ringPosition(m.key) !== m.position) {
      this.fail(from, m.req, 'INTERNAL', 0, needed, 0, 'ring position does not match key');
      return null;
    }
    const pref = this.ring.preferenceList(m.position);
    if (!pref.includes(this.id)) {
      // the front end routed with the other side of a ring switch: nothing was done, so it may ask another replica
      this.fail(from, m.req, 'NOT_A_REPLICA', 0, needed, 0, `actor ${this.id} is not a replica of this key in its ring`);
      return null;
    }
    return pref;
  }

  private coordinatePut(from: number, m: ClientPut): void {
    const pref = this.admit(from, m, m.w);
    if (pref === null) return;
    this.coordinatedPuts++;
    let context: dvv.VersionVector;
    try {
      context = decodeVV(m.context);
    } catch (err) {
      return this.fail(from, m.req, 'INVALID_CONTEXT', 0, m.w, pref.length, (err as Error).message);
    }
    const key = ringKey(m.key, m.position);
    // the local copy must be writable before a dot is minted (see putProgress)
    if (this.store.full) {
      return this.fail(from, m.req, 'OVERLOADED', 0, m.w, pref.length, `actor ${this.id} has ${this.store.pendingWrites} writes waiting for a commit (maxPendingWritesPerActor)`);
    }
    const stored = this.store.peek(key);
    const local: VClock = stored === undefined ? dvv.empty() : decodeClock(stored);
    // An overwrite (a put or delete without a context) acts as if the client had read what this
    // replica holds. Reading the local clock and minting the write happen in this one synchronous
    // step, so no other write of this key on this actor can slip in between and become a sibling.
    // An increment is such an overwrite: it supersedes the local versions it folded into its counter.
    // (nothing held: nothing to supersede, and the first-write fast path below stays open)
    if ((m.overwrite || m.kind === ValueKind.Counter) && stored !== undefined) context = dvv.mergeVV(context, dvv.join(local));
    const nowMs = this.clock.now();
    const existed = stored !== undefined && !isDeleted(local, nowMs); // a live value
    const data = m.kind === ValueKind.Counter ? this.counterToWrite(from, m, local, pref.length, nowMs) : m.data;
    if (data === null) return;
    // an increment keeps the expiry of what it counts on, as Redis's INCR keeps a key's TTL
    const expiresAtMs = m.kind === ValueKind.Counter ? keptExpiry(dvv.values(local), nowMs) : m.expiresAtMs;
    // Later than anything this replica holds for the key, even within one millisecond (as a hybrid
    // logical clock does): last-write-wins, and "newest first", then follow the order writes arrived in.
    let timestampMs = Math.floor(nowMs);
    if (stored !== undefined) for (const v of dvv.values(local)) if (v.timestampMs >= timestampMs) timestampMs = v.timestampMs + 1;
    const sibling: Sibling = expiresAtMs > 0 ? { kind: m.kind, timestampMs, writer: this.writerId, data, expiresAtMs } : { kind: m.kind, timestampMs, writer: this.writerId, data };
    // First write of a key without a context (the common case of a load): the one-event clock directly.
    let next: VClock =
      stored === undefined && context.length === 0
        ? { entries: [{ id: this.writerId, counter: 1, values: [sibling] }], anonymous: [] }
        : dvv.update(dvv.fromContext(context, sibling), local, this.writerId, compareSiblings);
    if (this.config.lastWriteWins) next = dvv.lww(next, newerSibling);
    const siblings = dvv.size(next);
    if (siblings > this.config.maxSiblings) {
      return this.fail(from, m.req, 'TOO_MANY_SIBLINGS', siblings, this.config.maxSiblings, pref.length, '');
    }
    // Sloppy quorum (Dynamo), decided by the pure planner: dead replicas get
    // substitutes holding hints, suspected ones still get the write.
    const plan = planWriteTargets(this.id, pref, () => this.ring.walk(m.position), m.w, m.strict, this.health);
    if (!plan.ok) return this.fail(from, m.req, 'QUORUM_NOT_REACHED', 0, m.w, pref.length, plan.reason);
    const { owners, targets, hintFor } = plan;
    const bytes = encodeClock(next);
    const op = this.nextOp++;
    const monoMs = this.clock.monotonicMs();
    const pending: PendingPut = {
      kind: 'put',
      client: from,
      req: m.req,
      quorum: new WriteQuorum(targets, m.w),
      deadlineMs: monoMs + m.timeoutMs,
      context: encodeJoin(next),
      existed,
      counter: m.kind === ValueKind.Counter ? data : EMPTY,
      answered: false,
      key,
      clock: bytes,
      hintFor,
      startedMs: monoMs,
      lastSentMs: monoMs,
      retries: 0,
    };
    this.ops.set(op, pending);
    this.armSweep();
    this.sloppyWrites += hintFor.size;
    this.sendReplicas(op, pending, targets);
    this.forwardToPending(m.position, pref, key, bytes);
    assert(owners.includes(this.id), 'a coordinator is one of the key\'s replicas');
    this.store.write(key, asBuffer(bytes), (err) => this.putProgress(op, this.id, err === null));
    this.expiry.written(key, bytes);
    this.putProgress(op, -1, true);
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
      this.fail(from, m.req, plan.code, 0, m.w, replicas, plan.detail);
      return null;
    }
    const pairBytes = m.key.length + plan.data.length;
    if (pairBytes > this.config.maxPairBytes) {
      this.fail(from, m.req, 'PAIR_TOO_LARGE', pairBytes, this.config.maxPairBytes, replicas, 'the counter has grown past maxPairBytes');
      return null;
    }
    return plan.data;
  }

  /** Replicate (or, to a substitute, ReplicateHint) to each of `to`, except this actor's own copy. */
  private sendReplicas(op: number, p: PendingPut, to: readonly number[]): void {
    for (const replica of to) {
      if (replica === this.id) continue;
      const owner = p.hintFor.get(replica);
      const m: Message =
        owner === undefined ? { type: MsgType.Replicate, op, key: p.key, clock: p.clock } : { type: MsgType.ReplicateHint, op, key: p.key, clock: p.clock, owner };
      if (!this.transport.send(replica, m)) p.quorum.fail(replica);
    }
  }

  private onReplicateAck(from: number, m: ReplicateAck): void {
    const sync = this.syncs.get(m.op);
    if (sync !== undefined) {
      this.syncs.delete(m.op);
      if (!m.ok) sync.failed++;
      if (--sync.outstanding === 0) this.syncFinished(sync);
      else if (sync.pumping && !sync.scheduled && sync.outstanding - 1 <= this.config.backgroundWindowEntries / 2) {
        // the window has room again: go on (the throttle tick would too, later)
        sync.scheduled = true;
        this.timers.setImmediate(() => this.pumpSync(sync));
      }
      return;
    }
    const handoff = this.handoffs.get(m.op);
    if (handoff !== undefined) return this.handoffAcked(m.op, handoff, m.ok);
    this.putProgress(m.op, from, m.ok);
  }

  // ---- hinted handoff ----

  /** Keep a write for `owner` as a durable hint, merged with any hint already held for that key. */
  private storeHint(key: Buffer, owner: number, clockBytes: Uint8Array, done: WriteDone): void {
    try {
      const held = hintKey(owner, key);
      const existing = this.store.getHint(held);
      if (existing === undefined && this.store.hintCount() >= this.config.maxHints) {
        this.hintsDropped++;
        return done(new Error(`actor ${this.id} holds ${this.config.maxHints} hints (maxHints)`));
      }
      let clock = decodeClock(clockBytes);
      if (existing !== undefined) clock = syncClocks(decodeClock(existing.subarray(HINT_HEADER_BYTES)), clock);
      if (this.config.lastWriteWins) clock = dvv.lww(clock, newerSibling);
      const encoded = encodeClock(clock);
      const value = Buffer.allocUnsafe(HINT_HEADER_BYTES + encoded.length);
      value.writeDoubleBE(existing === undefined ? this.clock.now() : existing.readDoubleBE(0), 0);
      value.set(encoded, HINT_HEADER_BYTES);
      this.hintsStored++;
      this.store.writeHint(held, value, done);
    } catch (err) {
      done(err as Error);
    }
  }

  /**
   * Hand hints to owners that are back, in bounded batches: each goes as a
   * Replicate (an idempotent merge on the owner) and is deleted only after
   * the owner committed it, and only if no newer hint replaced it meanwhile.
   */
  private handoffRound(): void {
    // A handoff round waits for the previous one's acks; one lost ack only delays (the owner's merge is idempotent).
    if (this.handoffs.size > 0 && ++this.handoffWaits < 10) return;
    this.handoffs.clear();
    this.handoffWaits = 0;
    if (this.closing || this.store.hintCount() === 0) return;
    const now = this.clock.now();
    const limit = Math.min(this.config.maxHintsPerHandoff, Math.floor(this.hintBucket.available(this.clock.monotonicMs(), this.throttle.perSec)));
    if (limit < 1) return; // background budget spent: the next round goes on
    for (const { key: hintKey, value } of this.store.hintEntries(limit)) {
      const owner = hintKey.readUInt32BE(0);
      if (now - value.readDoubleBE(0) > this.config.maxHintAgeMs || !this.ring.members.has(owner)) {
        this.hintsDropped++;
        this.store.writeHint(hintKey, null, IGNORE);
        continue;
      }
      if (this.downPeers.has(owner) || !this.transport.isConnected(owner)) continue;
      const op = this.nextOp++;
      this.hintBucket.take(1);
      this.backgroundUsed = true;
      this.handoffs.set(op, { hintKey, bytes: value });
      this.transport.send(owner, { type: MsgType.Replicate, op, key: hintKey.subarray(4), clock: value.subarray(HINT_HEADER_BYTES) });
    }
  }

  private handoffAcked(op: number, h: { hintKey: Buffer; bytes: Buffer }, ok: boolean): void {
    this.handoffs.delete(op);
    if (!ok) return;
    const current = this.store.getHint(h.hintKey);
    if (current !== undefined && compareBytes(current, h.bytes) === 0) {
      this.hintsHandedOff++;
      this.store.writeHint(h.hintKey, null, IGNORE);
    }
  }

  private putProgress(op: number, actor: number, ok: boolean): void {
    const p = this.ops.get(op);
    if (p === undefined || p.kind !== 'put') return; // late ack of a finished request
    if (actor >= 0) {
      if (ok) p.quorum.ack(actor);
      else p.quorum.fail(actor);
    }
    // A put is acknowledged only once this coordinator's own copy is committed: the next event it
    // mints for the key builds on its stored clock, so a crash that lost an uncommitted copy (which
    // other replicas acked) would mint the same dot again for another value, and one would vanish.
    if (actor === this.id && !ok && !p.answered) {
      p.answered = true;
      this.fail(p.client, p.req, 'QUORUM_NOT_REACHED', p.quorum.acks, p.quorum.w, p.quorum.replicas.length, "the coordinator's own write failed");
    }
    const outcome = p.quorum.outcome;
    if (!p.answered && outcome === 'ok' && p.quorum.hasAcked(this.id)) {
      p.answered = true;
      this.foreground.record(this.clock.monotonicMs() - p.startedMs);
      this.transport.send(p.client, { type: MsgType.PutOk, req: p.req, context: p.context, existed: p.existed, counter: p.counter });
    } else if (!p.answered && outcome === 'failed') {
      p.answered = true;
      this.fail(p.client, p.req, 'QUORUM_NOT_REACHED', p.quorum.acks, p.quorum.w, p.quorum.replicas.length, 'replicas failed');
    }
    if (p.answered) this.ops.delete(op);
  }

  /**
   * Reads ask only R replicas (this one and R-1 others, as Cassandra does),
   * not all N: a third fewer messages and LMDB reads. A replica that fails
   * is replaced at once by a spare; a slow one after speculativeRetryMs.
   */
  private coordinateGet(from: number, m: ClientGet): void {
    const pref = this.admit(from, m, m.r);
    if (pref === null) return;
    this.coordinatedGets++;
    const key = ringKey(m.key, m.position);
    const op = this.nextOp++;
    const now = this.clock.monotonicMs();
    const pending: PendingGet = {
      kind: 'get',
      client: from,
      req: m.req,
      key,
      quorum: new ReadQuorum(pref, m.r),
      startedMs: now,
      deadlineMs: now + m.timeoutMs,
      rawFrom: [],
      raw: [],
      // replicas this actor sees down are asked last, so a dead one does not cost a speculative retry
      spare: this.sparesFor(pref),
      outstanding: 1,
      answered: false,
    };
    this.ops.set(op, pending);
    this.armSweep();
    const selfCounts = !this.store.recovering;
    for (let asked = selfCounts ? 1 : 0; asked < m.r && pending.spare.length > 0; ) if (this.askSpare(op, pending)) asked++;
    const stored = this.store.get(key);
    this.getProgress(op, this.id, selfCounts, stored ?? EMPTY);
  }

  private sparesFor(pref: readonly number[]): number[] {
    const out: number[] = [];
    for (const id of pref) if (id !== this.id && !this.downPeers.has(id)) out.push(id);
    if (this.downPeers.size > 0) for (const id of pref) if (id !== this.id && this.downPeers.has(id)) out.push(id);
    return out;
  }

  /** Ask the next unasked replica; false (and counted as failed) when it cannot be reached. */
  private askSpare(op: number, p: PendingGet): boolean {
    const replica = p.spare.shift();
    if (replica === undefined) return false;
    if (this.transport.send(replica, { type: MsgType.Read, op, key: p.key })) {
      p.outstanding++;
      return true;
    }
    p.quorum.fail(replica);
    return false;
  }

  private onReadReply(from: number, m: ReadReply): void {
    this.getProgress(m.op, from, m.ok, m.clock);
  }

  private getProgress(op: number, actor: number, ok: boolean, clockBytes: Uint8Array): void {
    const p = this.ops.get(op);
    if (p === undefined || p.kind !== 'get') return;
    p.outstanding--;
    if (ok) {
      try {
        p.quorum.reply(actor, clockBytes.length === 0 ? null : decodeReply(p.quorum, p.rawFrom, p.raw, clockBytes));
        p.rawFrom.push(actor);
        p.raw.push(clockBytes);
      } catch {
        p.quorum.fail(actor); // a corrupt replica counts as not answering; never as an empty one
      }
    } else {
      p.quorum.fail(actor);
    }
    // replace a failed replica with a spare while the quorum is still reachable that way
    while (!p.answered && p.quorum.answered + p.outstanding < p.quorum.r && p.spare.length > 0) this.askSpare(op, p);
    const outcome = p.quorum.outcome;
    if (!p.answered && outcome === 'ok') {
      p.answered = true;
      this.foreground.record(this.clock.monotonicMs() - p.startedMs);
      this.transport.send(p.client, { type: MsgType.GetOk, req: p.req, clock: reconcile(p.quorum, p.rawFrom, p.raw).bytes });
    } else if (!p.answered && (outcome === 'failed' || (p.quorum.answered + p.outstanding < p.quorum.r && p.spare.length === 0))) {
      p.answered = true;
      this.fail(p.client, p.req, 'QUORUM_NOT_REACHED', p.quorum.answered, p.quorum.r, p.quorum.replicas.length, 'replicas failed');
    }
    if (p.answered && p.outstanding === 0) this.finishGet(op, p);
  }

  /** All replicas answered (or the deadline passed): send read repairs to the stale ones. */
  private finishGet(op: number, p: PendingGet): void {
    this.ops.delete(op);
    const repairs = readRepairs(p.quorum, p.raw);
    for (const actor of repairs.actors) {
      this.readRepairs++;
      if (actor === this.id) this.mergeLocal(p.key, repairs.clock, IGNORE);
      else this.transport.send(actor, { type: MsgType.Repair, key: p.key, clock: repairs.clock });
    }
  }

  /**
   * Merge an incoming clock into what this actor stores for `key`, commit
   * the result, resolve once durable. Idempotent: replays and retries are safe.
   */
  private mergeLocal(key: Buffer, incomingBytes: Uint8Array, done: WriteDone): void {
    try {
      this.mergeLocalOrThrow(key, incomingBytes, done);
    } catch (err) {
      console.error(`ringkv actor ${this.id}: cannot merge a replica write:`, err);
      done(err as Error);
    }
  }

  private mergeLocalOrThrow(key: Buffer, incomingBytes: Uint8Array, done: WriteDone): void {
    const stored = this.store.peek(key); // a write does not make a key hot
    const incomingBuffer = asBuffer(incomingBytes);
    // Nothing stored: take the coordinator's clock as is (it was encoded by our own codec).
    // Common case: the incoming version descends from ours. Histories alone decide that.
    if (stored === undefined || dvv.less(decodeHistory(stored), decodeHistory(incomingBytes))) {
      this.store.write(key, incomingBuffer, done);
      this.expiry.written(key, incomingBuffer);
      return;
    }
    const incoming = decodeClock(incomingBytes);
    const local = decodeClock(stored);
    let merged = syncClocks(local, incoming);
    if (this.config.lastWriteWins) merged = dvv.lww(merged, newerSibling);
    const bytes = encodeClock(merged);
    if (compareBytes(bytes, stored) === 0) {
      this.store.committed(key).then(() => done(null), done);
      return;
    }
    this.store.write(key, asBuffer(bytes), done);
    this.expiry.written(key, bytes);
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
    const nowMs = this.clock.now(); // an expired value is left out as a deleted one is
    for (const { key, value } of this.store.range(m.fromPosition, m.toPosition + 1)) {
      const position = positionOf(key);
      if (keys.length >= m.limit && position !== lastPosition) {
        next = position;
        break;
      }
      lastPosition = position;
      if (!isDeleted(decodeClock(value), nowMs)) keys.push(Buffer.from(userKeyOf(key))); // a copy: range buffers may be reused
    }
    this.transport.send(from, { type: MsgType.ScanOk, req: m.req, keys, nextPosition: next });
  }

  // ---- anti-entropy ----

  /**
   * Push every entry this replica holds in the given ranges (the leaves whose
   * Merkle hashes differ) to the other replicas as acked Replicate messages;
   * they merge as any replica write does (siblings kept, tombstones
   * respected). Only differing leaves are named, so what moves is
   * proportional to the difference, not to the data.
   */
  private syncRanges(from: number, m: SyncRanges): void {
    if (this.syncJobs.size >= this.config.maxRepairPushesPerActor) {
      this.transport.send(from, { type: MsgType.SyncDone, req: m.req, keys: 0, bytes: 0, failed: 1 });
      return;
    }
    const job: SyncJob = {
      client: from,
      req: m.req,
      deadlineMs: this.clock.monotonicMs() + SYNC_PUSH_TIMEOUT_MS,
      ranges: m.ranges,
      peers: m.peers,
      rangeIndex: 0,
      afterKey: null,
      pumping: true,
      scheduled: false,
      outstanding: 1, // held while the push is still being paced out
      keys: 0,
      bytes: 0,
      failed: 0,
    };
    this.syncJobs.add(job);
    this.armSweep();
    this.pumpSync(job);
  }

  /** Send as much of a push as the background budget allows now; the throttle tick calls again for the rest. */
  private pumpSync(job: SyncJob): void {
    job.scheduled = false;
    if (!job.pumping || !this.syncJobs.has(job)) return;
    while (job.rangeIndex < job.ranges.length) {
      if (job.keys >= this.config.maxRepairPushEntries) {
        job.failed++; // cut short: the cluster counts this push as incomplete, and the next pass sends the rest
        job.rangeIndex = job.ranges.length;
        break;
      }
      const budget = this.backgroundBudget();
      if (budget < 1) return; // resumed once budget accrues
      // every entry goes to each peer: send only as many as the window has room for (acks resume it)
      const room = Math.floor((this.config.backgroundWindowEntries - (job.outstanding - 1)) / Math.max(1, job.peers.length));
      if (room < 1) return;
      const [lo, hi] = job.ranges[job.rangeIndex]!;
      const chunk = this.backgroundChunk(lo, hi, job.afterKey, Math.min(budget, room, this.config.maxRepairPushEntries - job.keys));
      if (chunk.length === 0) {
        job.rangeIndex++;
        job.afterKey = null;
        continue;
      }
      job.deadlineMs = this.clock.monotonicMs() + SYNC_PUSH_TIMEOUT_MS;
      for (const { key, value } of chunk) {
        job.keys++;
        this.takeBackground();
        for (const peer of job.peers) {
          const op = this.nextOp++;
          if (this.transport.send(peer, { type: MsgType.Replicate, op, key, clock: value })) {
            this.syncs.set(op, job);
            job.outstanding++;
            job.bytes += key.length + value.length;
            this.antiEntropyKeysSent++;
          } else {
            job.failed++;
          }
        }
      }
      this.noteWindow(job.outstanding - 1);
      job.afterKey = chunk[chunk.length - 1]!.key;
      // one chunk per turn: requests waiting in this actor's queue get in between
      job.scheduled = true;
      this.timers.setImmediate(() => this.pumpSync(job));
      return;
    }
    job.pumping = false;
    if (--job.outstanding === 0) this.syncFinished(job);
  }

  /** Every THROTTLE_INTERVAL_MS: a new background budget from the foreground p99, and paced pushes go on. */
  private throttleTick(): void {
    // an interval in which a background job took budget does not teach the throttle the quiet baseline
    this.throttle.update(this.foreground.p99(), this.backgroundUsed || this.syncJobs.size > 0 || this.reapJobs.size > 0 || this.cleanupJob !== null);
    this.backgroundUsed = false;
    this.foreground.reset();
    this.resumeBackground();
  }

  /** Background entries that may go now (the bucket accrues at the throttle's rate); when none, a timer resumes the paced jobs. */
  private backgroundBudget(): number {
    const perSec = this.throttle.perSec;
    const budget = Math.floor(this.backgroundBucket.available(this.clock.monotonicMs(), perSec));
    if (budget < 1 && this.backgroundResume === null && !this.closing) {
      this.backgroundResume = this.timers.setTimeout(() => {
        this.backgroundResume = null;
        this.resumeBackground();
      }, Math.max(1, this.backgroundBucket.waitMs(perSec)));
    }
    return budget;
  }

  private takeBackground(): void {
    this.backgroundBucket.take(1);
    this.backgroundUsed = true;
  }

  /** Paced jobs waiting for budget (not for acks or commits) go on. */
  private resumeBackground(): void {
    if (this.closing) return;
    for (const job of this.syncJobs) if (job.pumping && !job.scheduled) this.pumpSync(job);
    for (const job of this.reapJobs) if (!job.scheduled) this.pumpReap(job);
    if (this.cleanupJob !== null && this.cleanupJob.scanning && !this.cleanupJob.scheduled) this.pumpCleanup(this.cleanupJob);
  }

  private syncFinished(job: SyncJob): void {
    this.syncJobs.delete(job);
    this.transport.send(job.client, { type: MsgType.SyncDone, req: job.req, keys: job.keys, bytes: job.bytes, failed: job.failed });
  }

  // ---- cleanup after a membership change ----

  cleanup(): Promise<CleanupReport> {
    if (this.cleanupJob !== null) return this.cleanupJob.promise;
    let resolve!: (r: CleanupReport) => void;
    const promise = new Promise<CleanupReport>((r) => (resolve = r));
    if (this.closing) {
      resolve({ id: this.id, scanned: 0, removed: 0, failed: 0 });
      return promise;
    }
    const job: CleanupJob = { promise, resolve, ring: this.ring, spans: foreignRanges(this.ring, this.id), position: 0, afterKey: null, scheduled: false, scanning: true, outstanding: 0, scanned: 0, removed: 0, failed: 0 };
    this.cleanupJob = job;
    this.pumpCleanup(job);
    return promise;
  }

  /** Whether this actor replicates `position` under the current ring or the one a change is moving to. */
  private replicates(position: number): boolean {
    return this.ring.preferenceList(position).includes(this.id) || (this.pendingRing?.preferenceList(position).includes(this.id) ?? false);
  }

  /** One chunk of a cleanup per turn, as the background budget allows; the throttle tick resumes it. */
  private pumpCleanup(job: CleanupJob): void {
    job.scheduled = false;
    if (!job.scanning || this.closing) return;
    if (job.ring !== this.ring) {
      // the ring switched mid-job: go on from the same position with the new ring's spans
      job.ring = this.ring;
      job.spans = foreignRanges(this.ring, this.id);
    }
    const budget = this.backgroundBudget();
    if (budget < 1) return; // resumed once budget accrues
    const room = this.config.backgroundWindowEntries - job.outstanding;
    if (room < 1) return; // commits resume it
    const span = job.spans.find((sp) => sp.to > job.position);
    if (span === undefined) {
      job.scanning = false;
      return this.finishCleanupIfDone(job);
    }
    const from = Math.max(span.from, job.position);
    if (from > job.position) job.afterKey = null;
    const chunk = this.backgroundChunk(from, span.to, job.afterKey, Math.min(budget, room, this.config.backgroundChunkEntries));
    if (chunk.length === 0) {
      job.position = span.to;
      job.afterKey = null;
    } else {
      for (const { key } of chunk) {
        job.scanned++;
        this.takeBackground();
        // checked now, not when the spans were computed: a pending ring may have given this position back
        if (this.replicates(positionOf(key))) continue;
        job.outstanding++;
        this.store.write(key, null, (err) => {
          job.outstanding--;
          if (err === null) {
            job.removed++;
            this.cleanupRemovedKeys++;
          } else job.failed++;
          this.finishCleanupIfDone(job);
          if (job.scanning && !job.scheduled && job.outstanding === Math.floor(this.config.backgroundWindowEntries / 2)) {
            job.scheduled = true;
            this.timers.setImmediate(() => this.pumpCleanup(job));
          }
        });
      }
      this.noteWindow(job.outstanding);
      const last = chunk[chunk.length - 1]!.key;
      job.position = positionOf(last);
      job.afterKey = last;
    }
    job.scheduled = true;
    this.timers.setImmediate(() => this.pumpCleanup(job));
  }

  private finishCleanupIfDone(job: CleanupJob): void {
    if (job.scanning || job.outstanding > 0 || this.cleanupJob !== job) return;
    this.cleanupJob = null;
    job.resolve({ id: this.id, scanned: job.scanned, removed: job.removed, failed: job.failed });
  }

  /**
   * Remove tombstone-only entries whose tombstones are all older than the
   * cutoff. The main thread asks only for arcs whose replicas were all up
   * and identical, held tombstones, and no hint was pending anywhere; the
   * check is repeated here on the current value, so a write that raced in
   * is never removed. Paced: a chunk per turn within the background budget.
   */
  private reapRanges(from: number, m: ReapRanges): void {
    const job: ReapJob = { client: from, req: m.req, ranges: m.ranges, cutoffMs: m.cutoffMs, rangeIndex: 0, afterKey: null, scheduled: false, reaped: 0 };
    this.reapJobs.add(job);
    this.pumpReap(job);
  }

  private pumpReap(job: ReapJob): void {
    job.scheduled = false;
    if (this.closing || !this.reapJobs.has(job)) return;
    const budget = this.backgroundBudget();
    if (budget < 1) return; // resumed once budget accrues
    while (job.rangeIndex < job.ranges.length) {
      const [lo, hi] = job.ranges[job.rangeIndex]!;
      const chunk = this.backgroundChunk(lo, hi, job.afterKey, Math.min(budget, this.config.backgroundChunkEntries));
      if (chunk.length === 0) {
        job.rangeIndex++;
        job.afterKey = null;
        continue;
      }
      for (const { key, value } of chunk) {
        this.takeBackground();
        if (!isAllTombstonesOrExpiring(value)) continue; // most entries: no decoding, no read
        const current = this.store.peek(key);
        if (current === undefined || compareBytes(current, value) !== 0) continue;
        if (!reapable(decodeClock(value), job.cutoffMs)) continue;
        this.store.write(key, null, IGNORE);
        job.reaped++;
      }
      job.afterKey = chunk[chunk.length - 1]!.key;
      job.scheduled = true;
      this.timers.setImmediate(() => this.pumpReap(job));
      return;
    }
    this.reapJobs.delete(job);
    this.transport.send(job.client, { type: MsgType.ReapDone, req: job.req, reaped: job.reaped });
  }

  /** One chunk of a paced background scan (copies, bounded in entries and bytes), its size remembered for stats. */
  private backgroundChunk(fromPosition: number, toPosition: number, afterKey: Buffer | null, limit: number): { key: Buffer; value: Buffer }[] {
    const chunk = this.store.rangeAfter(fromPosition, toPosition, afterKey, Math.min(limit, this.config.backgroundChunkEntries), this.config.backgroundChunkBytes);
    let bytes = 0;
    for (const e of chunk) bytes += e.key.length + e.value.length;
    if (bytes > this.backgroundChunkPeakBytes) this.backgroundChunkPeakBytes = bytes;
    return chunk;
  }

  private noteWindow(unacknowledged: number): void {
    if (unacknowledged > this.backgroundWindowPeakEntries) this.backgroundWindowPeakEntries = unacknowledged;
  }

  private armSweep(): void {
    if (this.sweep === null && !this.closing) this.sweep = this.timers.setInterval(() => this.expire(), this.config.sweepIntervalMs);
  }

  /** Deadlines: fail unanswered requests with the count of replicas that did answer. */
  private expire(): void {
    if (this.ops.size === 0 && this.syncJobs.size === 0) {
      this.sweep?.cancel();
      this.sweep = null;
      return;
    }
    const now = this.clock.monotonicMs();
    for (const job of this.syncJobs) {
      if (job.deadlineMs > now) continue;
      // Give up on this job's missing acks (rare: a fault ate them): one pass over its pushes.
      this.syncJobs.delete(job);
      for (const [op, j] of this.syncs) if (j === job) this.syncs.delete(op);
      job.failed += job.outstanding;
      job.outstanding = 0;
      this.syncFinished(job);
    }
    for (const [op, p] of this.ops) {
      if (p.kind === 'get' && !p.answered && p.spare.length > 0 && now - p.startedMs >= this.config.speculativeRetryMs) {
        while (p.spare.length > 0) this.askSpare(op, p);
      }
      if (p.kind === 'put' && !p.answered && p.retries < this.config.writeRetries && now - p.lastSentMs >= this.config.writeRetryMs) {
        // a lost Replicate or ack: merging the same clock again is harmless
        p.retries++;
        p.lastSentMs = now;
        this.sendReplicas(op, p, p.quorum.unanswered());
      }
      if (p.deadlineMs > now) continue;
      if (!p.answered) {
        p.answered = true;
        this.foreground.record(now - p.startedMs); // a timed-out request is the slowest foreground of all
        if (p.kind === 'put') this.fail(p.client, p.req, 'QUORUM_NOT_REACHED', p.quorum.acks, p.quorum.w, p.quorum.replicas.length, 'deadline passed');
        else this.fail(p.client, p.req, 'QUORUM_NOT_REACHED', p.quorum.answered, p.quorum.r, p.quorum.replicas.length, 'deadline passed');
      }
      if (p.kind === 'get') this.finishGet(op, p);
      else this.ops.delete(op);
    }
  }

  private fail(client: number, req: number, code: ErrorCode, answered: number, needed: number, replicas: number, detail: string): void {
    this.transport.send(client, { type: MsgType.Fail, req, code, answered, needed, replicas, detail });
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
