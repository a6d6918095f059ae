import type { MessagePort } from 'node:worker_threads';
import type { RingMember } from '../ring/ring.js';
import type { StoreOptions } from '../storage/store.js';
import type { LinkFaults } from '../transport/faults.js';
import type { ExpirySweepConfig } from './expiry-sweep.js';
import type { BackgroundCapBuffers } from '../coordinator/shared-rate.js';

/** What the supervisor tells an actor when it starts it. Plain data (crosses threads). */
export interface ActorConfig {
  readonly id: number;
  readonly n: number;
  readonly members: readonly RingMember[];
  /** Where and how this actor's LMDB env is opened. */
  readonly storage: StoreOptions;
  /** The clock writer id this actor takes if its env is new or was wiped: never handed out before. */
  readonly freshWriterId: number;
  /** Data should exist for this actor (a restart, or a cluster that existed): a new env means the disk was lost. */
  readonly expectsData: boolean;
  readonly lastWriteWins: boolean;
  readonly maxSiblings: number;
  /** Requests this actor coordinates at once; more are refused with OVERLOADED. */
  readonly maxPendingOps: number;
  /** How often deadlines (and speculative read retries) are checked. */
  readonly sweepIntervalMs: number;
  /** A read still short of R replies after this long also asks the replicas it skipped. */
  readonly speculativeRetryMs: number;
  /** A write short of W acks after this long is re-sent to the replicas that have not answered, at most writeRetries times. */
  readonly writeRetryMs: number;
  readonly writeRetries: number;
  /** Entries one anti-entropy push (SyncRanges) sends at most; a push cut short reports it, and the next pass goes on. */
  readonly maxRepairPushEntries: number;
  /** Pushes (SyncRanges) this actor runs at once; one beyond it is refused at once as incomplete. */
  readonly maxRepairPushesPerActor: number;
  /** Background work (hint handoff, anti-entropy pushes) yields when this actor's foreground p99 is above this. */
  readonly backgroundTargetP99Ms: number;
  /** The background budget, entries per second, never below / above these. */
  readonly backgroundMinPerSec: number;
  readonly backgroundMaxPerSec: number;
  /** Background work also yields when the foreground p99 is above this many times its quiet baseline (0 = the absolute target alone), never below backgroundP99FloorMs. */
  readonly backgroundP99Factor: number;
  readonly backgroundP99FloorMs: number;
  /** Entries (times peers) a push, or deletes a cleanup, may have unacknowledged (uncommitted) at once. */
  readonly backgroundWindowEntries: number;
  /** Entries, and key + value bytes, a paced background job reads from LMDB at a time (one chunk per event-loop turn). */
  readonly backgroundChunkEntries: number;
  readonly backgroundChunkBytes: number;
  readonly maxBatchBytes: number;
  /** How often this actor gossips its heartbeat table to a random peer. */
  readonly gossipIntervalMs: number;
  /** Nobody is suspected before this much silence; anybody after maxFailAfterMs (the accrual detector adapts in between). */
  readonly failAfterMs: number;
  readonly maxFailAfterMs: number;
  /** Shared with the supervisor: `pause` blocks on it, `heal` wakes it early. */
  readonly pauseSignal: SharedArrayBuffer | null;
  /** The cluster's cap on this actor's background budget, set from the latency its callers see (null: none, the actor's own throttle alone). */
  readonly backgroundCap: BackgroundCapBuffers | null;
  /** Hints this actor holds at most; a sloppy write beyond it is refused (and counted as dropped). */
  readonly maxHints: number;
  /** Key + value bound (the cluster's maxPairBytes): a counter grown by increments is held to it too. */
  readonly maxPairBytes: number;
  /** Hints older than this are dropped (and counted): anti-entropy repairs what they carried. */
  readonly maxHintAgeMs: number;
  /** How often hints for owners that are back are handed off, and how many per round. */
  readonly handoffIntervalMs: number;
  readonly maxHintsPerHandoff: number;
  /** The expiry sweep (expiry-sweep.ts): collectable no sooner than graceMs after expiry, looked for every intervalMs (0: off), batchKeys per check. */
  readonly expirySweep: ExpirySweepConfig;
}

export interface ActorStats {
  readonly id: number;
  readonly keys: number;
  readonly pendingOps: number;
  readonly pendingWrites: number;
  /** This actor's V8 heap: bytes the thread holds for it (live objects and garbage not yet collected) and bytes live after the last GC; plus memory outside the heap that JS objects own (Buffers). */
  readonly heapBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  /** Of heapBytes, what the young generation (new_space) and the old generation (old_space) hold: tells garbage promoted by a fast stream from a young generation at its bound. */
  readonly heapNewSpaceBytes: number;
  readonly heapOldSpaceBytes: number;
  /** The most this thread's V8 heap may hold (set by actorOldGenerationMiB and actorYoungGenerationMiB). */
  readonly heapLimitBytes: number;
  /** What this actor's hot-key cache holds, as cacheBytes counts it; only reads fill it. */
  readonly cachedBytes: number;
  /** The most writes that waited for a commit at once since the actor started (a stream into it is bounded by the senders' windows). */
  readonly pendingWritesPeak: number;
  readonly coordinatedPuts: number;
  readonly coordinatedGets: number;
  readonly replicaWrites: number;
  readonly readRepairs: number;
  /** Entries this actor pushed to other replicas in anti-entropy passes (one per receiving peer). */
  readonly antiEntropyKeysSent: number;
  /** Entries deleted by cleanup passes: copies of ranges a membership change moved to other actors. */
  readonly cleanupRemovedKeys: number;
  /** A cleanup runs on this actor now (the cluster runs cleanupConcurrency of them at a time). */
  readonly cleanupRunning: boolean;
  /** The most entries (times peers) one push, or deletes one cleanup, had unacknowledged at once: at most backgroundWindowEntries. */
  readonly backgroundWindowPeakEntries: number;
  /** The largest chunk (key + value bytes) a background job (push, cleanup, reap) held at once: at most about backgroundChunkBytes plus one entry. */
  readonly backgroundChunkPeakBytes: number;
  /**
   * Its disk was lost and anti-entropy has not refilled it yet: it takes
   * writes but its reads do not count toward R (an empty replica would make
   * a quorum read miss acknowledged writes).
   */
  readonly recovering: boolean;
  /** Members this actor's failure detector suspects now, times it began suspecting one, and its own loop's stalls (after which it judged nobody new for a while). */
  readonly suspects: readonly number[];
  readonly suspicionsRaised: number;
  readonly localStalls: number;
  /** Event-loop utilisation of this actor's thread over the last second (0..1): how busy it is. */
  readonly eventLoopUtilization: number;
  /** Background entries per second it allows itself now (admission control on foreground p99). */
  readonly backgroundBudgetPerSec: number;
  /** Hints held now, ever stored, handed off to their owner, and dropped (store full or too old). */
  readonly hintsPending: number;
  readonly hintsStored: number;
  readonly hintsHandedOff: number;
  readonly hintsDropped: number;
  /** Entries in the expiry index, expired entries collected by the expiry sweep here, and entries it looked at again later. */
  readonly expiryIndexEntries: number;
  readonly expiredCollected: number;
  readonly expiryRetries: number;
  /** Writes this actor coordinated that went to a sloppy substitute. */
  readonly sloppyWrites: number;
  /** LMDB transactions committed, and the writes they carried (group commit). */
  readonly commits: number;
  readonly committedWrites: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  readonly batchesSent: number;
  readonly batchesReceived: number;
}

/** The control plane the supervisor drives over comlink (never per-request traffic). */
export interface ActorControl {
  ping(): number;
  connectPeer(peer: number, port: MessagePort): void;
  connectClient(port: MessagePort): void;
  stats(): ActorStats;
  close(): Promise<void>;
  /** Install fault rules for this actor's outgoing links. */
  setFaults(faults: LinkFaults): void;
  /** The supervisor saw `peer`'s thread end: treat it as down at once (the fast path before gossip notices). */
  peerDown(peer: number): void;
  /** The supervisor (re)started `peer`: count it up now, without waiting for its heartbeat to travel. */
  peerUp(peer: number): void;
  /**
   * Membership change: coordinate by `members`; while `pending` is set (a
   * transfer is on), also forward every write to the replicas `pending`
   * adds, so nothing written during the transfer is missing after it.
   */
  setRings(members: readonly RingMember[], pending: readonly RingMember[] | null): void;
  /** Freeze this actor's thread for `ms` (no messages, no timers), as a hung process or a long GC would. */
  pause(ms: number): void;
  /** An anti-entropy pass compared and filled every range this recovering actor replicates. */
  recovered(): void;
  /**
   * Delete the entries this actor stores for positions it no longer
   * replicates (a membership change moved them to other actors), paced by
   * the background budget. Positions it replicates under the current or the
   * pending ring are kept. One job at a time: a second call joins the first.
   */
  cleanup(): Promise<CleanupReport>;
}

export interface CleanupReport {
  readonly id: number;
  /** Entries read in the ranges this actor does not replicate. */
  readonly scanned: number;
  /** Entries deleted (committed). */
  readonly removed: number;
  /** Deletes that failed (left in place; the next cleanup tries again). */
  readonly failed: number;
}
