/**
 * Anti-entropy as the cluster drives it: passes on demand and periodic
 * (skipped while the foreground struggles), and the Merkle pool with its
 * scan pacing. One pass's comparison is repair-pass.ts.
 */
import { MerklePool } from '../antientropy/merkle-pool.js';
import type { HeldPeak } from '../antientropy/pass-plan.js';
import type { ArcTree } from '../antientropy/merkle.js';
import type { ArcSpan, TreeSource } from '../antientropy/trees.js';
import type { SharedRate } from '../coordinator/shared-rate.js';
import type { Clock, Timers } from '../runtime/services.js';
import { actorDataPath } from '../supervisor/metadata.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { MsgType } from '../transport/protocol.js';
import type { Layout } from './layout.js';
import type { Liveness } from './liveness.js';
import type { ResolvedOptions } from './options.js';
import { runPass, type PassDeps, type PassOutcome } from './repair-pass.js';
import type { Router } from './router.js';

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

/**
 * The Merkle builds of the cluster's life (passes, plans, comparisons): one
 * pool, whose scans are paced by the latency of the requests the cluster
 * sends (ForegroundPacing sets `rate`).
 */
export class MerkleBuilds {
  private readonly pool = new MerklePool();
  /** Where trees are built from: each actor's env, read-only (replaced for a node of a multi-node cluster: withRemote). */
  source: TreeSource;

  constructor(o: ResolvedOptions) {
    this.source = { build: (id, arcs) => this.buildLocal(id, arcs) };
    this.compressionThresholdBytes = o.compressionThresholdBytes;
    this.dataDir = o.dataDir;
  }

  private readonly compressionThresholdBytes: number;
  private readonly dataDir: string;

  /** The trees of local actor `id`'s arcs, built in the pool over a read-only snapshot of its env. */
  buildLocal(id: number, arcs: readonly ArcSpan[]): Promise<ArcTree[]> {
    return this.pool.build({ path: actorDataPath(this.dataDir, id), compressionThresholdBytes: this.compressionThresholdBytes, arcs });
  }

  /** Start the pool's thread now (periodic passes will need it): see MerklePool.start. */
  startPool(): void {
    this.pool.start();
  }

  /** How fast builds scan (entries per second, shared with the build threads). */
  get rate(): SharedRate {
    return this.pool.rate;
  }

  /** A build is running. */
  get busy(): boolean {
    return this.pool.busy;
  }

  /** Builds started plus settled (MerklePool.events). */
  get events(): number {
    return this.pool.events;
  }

  /** After the builds still running (a plan, a comparison) settle. */
  async close(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * How long one paced push may take at worst: maxRepairPushEntries at the
 * smallest background budget, twice over. A pass waits that long rather
 * than giving up on pushes that are still moving (which would let the next
 * pass pile new pushes on top of them).
 */
export function slowestPushMs(o: ResolvedOptions): number {
  return Math.ceil((2 * 1000 * o.maxRepairPushEntries) / o.backgroundMinPerSec);
}

/** What the repair driver needs of the cluster. */
export interface RepairDriverDeps {
  readonly options: ResolvedOptions;
  readonly layout: Layout;
  readonly liveness: Liveness;
  readonly router: Router;
  readonly supervisor: Supervisor;
  readonly builds: MerkleBuilds;
  readonly clock: Clock;
  closed(): boolean;
  /** A membership change is running: periodic passes wait for it. */
  changing(): boolean;
}

/** Anti-entropy passes: on demand, periodic in the background (unless the foreground struggles), and soon after a lost disk. */
export class RepairDriver {
  /** Anti-entropy passes finished (on demand or periodic). */
  repairs = 0;
  /** The most any pass held at once (see RepairReport.heldPeak). */
  heldPeak: HeldPeak = { bytes: 0, trees: 0, ranges: 0 };
  /** Periodic passes left out because the foreground was struggling (see backgroundPass). */
  passesSkipped = 0;
  /** Periodic passes run although the foreground was struggling, maxSkippedAntiEntropyPasses having been skipped before them. */
  passesForced = 0;
  /** Periodic passes skipped since the last one that ran (at most maxSkippedAntiEntropyPasses). */
  private skippedInARow = 0;
  private periodic: { cancel(): void } | null = null;
  /** The background pass in progress, if any (stop() waits for it). */
  private background: Promise<unknown> | null = null;

  constructor(private readonly deps: RepairDriverDeps) {}

  /** Periodic passes (antiEntropyIntervalMs; 0 = only on demand). */
  start(timers: Timers): void {
    if (this.deps.options.antiEntropyIntervalMs === 0) return;
    this.deps.builds.startPool();
    this.periodic = timers.setInterval(() => this.backgroundPass(), this.deps.options.antiEntropyIntervalMs);
  }

  /** No new periodic pass; resolves once the one running, if any, has ended (its pool reads the actors' envs). */
  async stop(): Promise<void> {
    this.periodic?.cancel();
    await this.background;
  }

  /** How long a pass's pushes and reaps may take unless told: a minute at least, and the slowest paced push. */
  get defaultTimeoutMs(): number {
    return Math.max(this.deps.options.timeoutMs, 60_000, slowestPushMs(this.deps.options));
  }

  /** One full pass: see Cluster.repair. */
  async run(graceMs: number, timeoutMs: number): Promise<RepairReport> {
    const { layout, liveness, supervisor, clock } = this.deps;
    const started = clock.monotonicMs();
    const ring = layout.ring;
    const live = [...ring.members.keys()].filter((id) => liveness.isUp(id));
    const stats = await liveness.stats(1000);
    // a recovering actor is recovered by this pass only if every arc it replicates is compared in full and filled
    let recovering = new Set(stats.filter((s) => s.recovering).map((s) => s.id));
    let source = this.deps.builds.source;
    const covers = source.covers;
    if (covers !== undefined) {
      // a node of a multi-node cluster compares only its share of the arcs; it also compares every arc of a
      // recovering actor it runs (so it can tell that one was refilled in full), and only those it marks recovered
      recovering = new Set([...recovering].filter((id) => supervisor.isLocal(id)));
      source = { ...source, covers: (arc) => covers(arc) || arc.preference.some((id) => recovering.has(id)) };
    }
    const pass = await runPass({
      ring,
      live,
      source,
      maxBytes: this.deps.options.antiEntropyMemoryBytes,
      hintsPending: stats.reduce((s, a) => s + a.hintsPending, 0),
      ...this.requests(graceMs, timeoutMs),
    });
    // an actor whose trees cannot be built (wiped meanwhile, say) sits this pass out; the next one includes it
    for (const [id, err] of pass.failed) console.error(`ringkv: cannot build actor ${id}'s Merkle trees this pass: ${err.message}`);
    for (const id of recovering) {
      if (pass.notFilled.has(id) || !liveness.isRunning(id)) continue;
      // bounded: a thread that ends meanwhile never answers a control call (it stays recovering; the next pass retries).
      // An unref'd global timer: Timers has no unref, and this wait must not keep a process from exiting.
      await Promise.race([supervisor.recovered(id).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    }
    this.repairs++;
    if (pass.peak.bytes > this.heldPeak.bytes) this.heldPeak = pass.peak;
    return report(pass, layout.ring.arcCount, Math.round(clock.monotonicMs() - started));
  }

  /** How a pass asks an actor to push ranges to its peers, and to reap tombstones older than `graceMs`. */
  private requests(graceMs: number, timeoutMs: number): Pick<PassDeps, 'push' | 'reap'> {
    const { router, clock } = this.deps;
    return {
      push: async (job) => {
        const reply = await router.sendTo(job.pusher, 'repair', 1, 1, timeoutMs, (req) => ({ type: MsgType.SyncRanges, req, ranges: [...job.ranges], peers: [...job.peers] }));
        if (reply.type !== MsgType.SyncDone) throw new Error('internal: unexpected reply');
        return reply;
      },
      reap: async (id, ranges) => {
        const cutoffMs = Math.max(0, Math.floor(clock.now()) - graceMs);
        const reply = await router.sendTo(id, 'repair', 1, 1, timeoutMs, (req) => ({ type: MsgType.ReapRanges, req, ranges, cutoffMs }));
        if (reply.type !== MsgType.ReapDone) throw new Error('internal: unexpected reply');
        return reply.reaped;
      },
    };
  }

  /**
   * A periodic anti-entropy pass, unless an actor's background budget is down
   * at its minimum (its requests' p99 is above backgroundTargetP99Ms) or the
   * front end is refusing an actor work (backpressure): under
   * a saturating load a pass compares snapshots full of writes still in
   * flight, pushes entries that are converging anyway, and holds read
   * snapshots that keep LMDB from reusing pages. An actor that lost its disk
   * is refilled regardless.
   */
  backgroundPass(): void {
    const { options, router } = this.deps;
    if (this.background !== null || this.deps.closed() || this.deps.changing()) return;
    this.background = this.deps.liveness
      .stats(5000)
      .then((stats) => {
        const recovering = stats.some((s) => s.recovering);
        const struggling = stats.some((s) => s.backgroundBudgetPerSec <= options.backgroundMinPerSec) || router.admissions.anyOverloaded();
        if (!recovering && struggling && this.skippedInARow < options.maxSkippedAntiEntropyPasses) {
          this.passesSkipped++;
          this.skippedInARow++;
          return;
        }
        if (!recovering && struggling) this.passesForced++;
        this.skippedInARow = 0;
        return this.run(options.tombstoneGraceMs, this.defaultTimeoutMs).then(() => undefined);
      })
      .catch((err: unknown) => {
        if (!this.deps.closed()) console.error('ringkv: anti-entropy pass failed:', (err as Error).message);
      })
      .finally(() => (this.background = null));
  }

  /** An actor came back with a lost disk: refill it now rather than at the next periodic pass (its reads do not count until then). */
  repairSoonIfRecovering(): void {
    if (this.deps.options.antiEntropyIntervalMs === 0) return; // anti-entropy only on demand
    void this.deps.liveness.stats(5000).then((stats) => {
      if (stats.some((s) => s.recovering)) this.backgroundPass();
    });
  }
}

function report(pass: PassOutcome, arcs: number, durationMs: number): RepairReport {
  return {
    arcs,
    arcsComplete: pass.arcsComplete,
    arcsDiffering: pass.arcsDiffering,
    leavesDiffering: pass.leavesDiffering,
    keysSent: pass.keysSent,
    bytesSent: pass.bytesSent,
    keysCompared: pass.keysCompared,
    bytesCompared: pass.bytesCompared,
    tombstonesReaped: pass.tombstonesReaped,
    pushesIncomplete: pass.pushesIncomplete,
    heldPeak: pass.peak,
    durationMs,
  };
}
