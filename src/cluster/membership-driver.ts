/**
 * Membership changes while the cluster serves: plan, commit (stream the
 * ranges, switch the ring, decommission), roll back, and cleanup.
 */
import { rmSync } from 'node:fs';
import type { ActorConfig, CleanupReport } from '../actor/actor.js';
import { PassLedger } from '../antientropy/pass-plan.js';
import { walkTrees } from '../antientropy/trees.js';
import { InvalidOptionError, QuorumError } from '../errors.js';
import { applyChanges, MembershipError, planTransfers, splitPushRanges, type MembershipChange, type Transfer } from '../membership/plan.js';
import { arcRanges, Ring, type RingMember } from '../ring/ring.js';
import type { Clock, Timers } from '../runtime/services.js';
import { actorDataPath } from '../supervisor/metadata.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { MsgType } from '../transport/protocol.js';
import type { Transport } from '../transport/transport.js';
import type { Layout } from './layout.js';
import { sleep, type Liveness } from './liveness.js';
import type { ResolvedOptions } from './options.js';
import { slowestPushMs, type MerkleBuilds } from './repair-driver.js';
import type { Router } from './router.js';

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
/** Times one transfer push may be halved and sent again before the change fails (2^20 pieces: any data set). */
const MAX_PUSH_SPLITS = 20;
/** How long a leaving actor may take to hand off the hints it holds. */
const DECOMMISSION_HINTS_TIMEOUT_MS = 30_000;

/** Entries and bytes a change streamed. */
export interface Streamed {
  keys: number;
  bytes: number;
}

/** What the membership driver needs of the cluster. */
export interface MembershipDriverDeps {
  readonly options: ResolvedOptions;
  readonly layout: Layout;
  readonly supervisor: Supervisor;
  readonly transport: Transport;
  readonly router: Router;
  readonly liveness: Liveness;
  readonly builds: MerkleBuilds;
  readonly clock: Clock;
  readonly timers: Timers;
  /** An actor's settings under the current ring. */
  actorConfig(id: number): ActorConfig;
  closed(): boolean;
}

/** Membership changes: plan, commit (stream, switch the ring, decommission) or roll back, and cleanup. */
export class MembershipDriver {
  private inChange = false;
  /**
   * From the start of a change until its ring switch begins. Reads and
   * writes are still coordinated by the old ring then (writes are forwarded
   * to the new replicas, their acks not counted), so a direct read of the
   * old ring's replicas answers what a coordinator would: reads stay direct
   * while the ranges stream, and go to coordinators from the switch on.
   */
  private streaming = false;
  /** The cleanup a membership change started (cleanupAfterChange), if any. */
  private backgroundCleanup: Promise<void> | null = null;

  constructor(private readonly deps: MembershipDriverDeps) {}

  /** A membership change is running. */
  get changing(): boolean {
    return this.inChange;
  }

  /** Reads may not be served directly: a ring switch is under way, or a change is pending in the metadata. */
  get ringChanging(): boolean {
    return (this.inChange || this.deps.layout.meta.pending != null) && !this.streaming;
  }

  /** See Cluster.plan. */
  async plan(requested: readonly PlanChange[], estimate: boolean): Promise<MembershipPlan> {
    const { layout, liveness } = this.deps;
    if (!Array.isArray(requested)) throw new InvalidOptionError('plan takes an array of changes');
    const meta = layout.meta;
    const changes = withIds(requested, meta.members, meta.nextActorId);
    let after: Ring;
    try {
      after = Ring.build(applyChanges(meta.members, changes, meta.vnodes, meta.n), meta.n);
    } catch (err) {
      throw new InvalidOptionError(`plan: ${(err as MembershipError).message}`);
    }
    const ring = layout.ring;
    // estimates read every live actor's data (Merkle trees in the pool): worth it when asking, not when just doing
    const trees = estimate ? await this.treeCounts([...ring.members.keys()].filter((id) => liveness.isUp(id))) : new Map<number, Map<number, TreeCount>>();
    const { transfers, movedFraction } = planTransfers(ring, after, (arc, actor) => trees.get(actor)?.get(arc));
    return {
      ringVersion: layout.ringVersion,
      target: [...after.members.values()].map((m) => ({ id: m.id, zone: m.zone, tokens: [...m.tokens] })),
      changes: [...changes],
      members: [...after.members.values()].map((m) => ({ id: m.id, zone: m.zone, tokens: m.tokens.length, replicaShare: after.replicaShare(m.id) })),
      transfers,
      movedFraction,
      keys: transfers.reduce((s, t) => s + t.keys, 0),
      bytes: transfers.reduce((s, t) => s + t.bytes, 0),
    };
  }

  /** Each live actor's keys and bytes per arc, from its Merkle trees: only each tree's counts are kept, however many keys. */
  private async treeCounts(live: readonly number[]): Promise<Map<number, Map<number, TreeCount>>> {
    const trees = new Map<number, Map<number, TreeCount>>();
    await walkTrees(this.deps.layout.ring, live, this.deps.builds.source, new PassLedger(this.deps.options.antiEntropyMemoryBytes), {
      arc(arc, arcTrees) {
        arc.preference.forEach((id, i) => {
          const t = arcTrees[i];
          if (t !== undefined) (trees.get(id) ?? trees.set(id, new Map()).get(id)!).set(arc.index, { keys: t.keys, bytes: t.bytes });
        });
      },
    });
    return trees;
  }

  /** See Cluster.addActor. */
  async addActor(options: { zone?: string; weight?: number }): Promise<MembershipResult> {
    return this.commit(await this.plan([{ kind: 'add', ...options }], false));
  }

  /** See Cluster.removeActor. */
  async removeActor(id: number): Promise<MembershipResult> {
    return this.commit(await this.plan([{ kind: 'remove', id }], false));
  }

  /** See Cluster.commit. */
  async commit(plan: MembershipPlan): Promise<MembershipResult> {
    const { layout, liveness, options, clock } = this.deps;
    this.checkPlan(plan);
    const current = layout.meta.members;
    const target = plan.target;
    const added = target.filter((m) => !current.some((c) => c.id === m.id));
    const removed = current.filter((m) => !target.some((t) => t.id === m.id));
    const down = await liveness.stillDown(
      current.map((m) => m.id),
      3 * options.failAfterMs,
    );
    if (down.length > 0) throw new QuorumError('repair', current.length - down.length, current.length, current.length, `a membership change needs every actor up; down: ${down.join(', ')}`);
    this.checkPlan(plan); // again after the wait: another change may have started or ended meanwhile
    const started = clock.monotonicMs();
    this.inChange = true;
    this.streaming = true;
    layout.save({ ...layout.meta, pending: { members: target }, nextActorId: Math.max(layout.meta.nextActorId, ...added.map((m) => m.id + 1)) });
    let streamed: Streamed;
    try {
      streamed = await this.carryOut(plan, current, added);
    } catch (err) {
      this.streaming = false;
      await this.rollBack(
        current,
        added.map((m) => m.id),
      ).catch(() => undefined);
      this.inChange = false;
      throw err;
    }
    try {
      for (const m of removed) await this.decommission(m.id);
    } finally {
      this.inChange = false;
    }
    liveness.recompute();
    if (options.cleanupAfterChange) this.cleanUpInBackground();
    return {
      ringVersion: layout.ringVersion,
      added: added.map((m) => m.id),
      removed: removed.map((m) => m.id),
      keysStreamed: streamed.keys,
      bytesStreamed: streamed.bytes,
      durationMs: Math.round(clock.monotonicMs() - started),
      movedFraction: plan.movedFraction,
    };
  }

  private checkPlan(plan: MembershipPlan): void {
    if (this.inChange) throw new InvalidOptionError('a membership change is already running');
    if (plan === null || typeof plan !== 'object' || !Array.isArray(plan.target)) throw new InvalidOptionError('commit takes a plan from plan()');
    const version = this.deps.layout.ringVersion;
    if (plan.ringVersion !== version) throw new InvalidOptionError(`the plan was made for ring version ${plan.ringVersion}; the ring is at ${version}: plan again`);
  }

  /** Start the added actors, stream the planned ranges, then switch the ring in every actor and here. */
  private async carryOut(plan: MembershipPlan, current: readonly RingMember[], added: readonly RingMember[]): Promise<Streamed> {
    const { supervisor, layout } = this.deps;
    const target = plan.target;
    await supervisor.setRings(current, target); // existing actors forward writes to the new replicas from now on
    for (const m of added) await supervisor.add({ ...this.deps.actorConfig(m.id), members: target, expectsData: false });
    await supervisor.setRings(current, target); // and the new ones know both rings
    const streamed = await this.stream(plan.transfers);
    // switch: coordinate by the new ring (still forwarding to the old replicas while the others switch), persist, settle
    this.streaming = false; // before the first actor switches: from now on a read goes to a coordinator
    await supervisor.setRings(target, current);
    layout.switchTo(target);
    await supervisor.setRings(target, null);
    return streamed;
  }

  private stream(transfers: readonly Transfer[]): Promise<Streamed> {
    return streamTransfers(this.deps.router, this.deps.options, transfers);
  }

  private async rollBack(current: readonly RingMember[], added: readonly number[]): Promise<void> {
    const { supervisor, layout } = this.deps;
    if (this.deps.closed()) return; // the next start rolls back from the metadata
    await supervisor.setRings(current, null).catch(() => undefined);
    for (const id of added) {
      await supervisor.remove(id).catch(() => undefined);
      this.deps.transport.disconnect(id);
      rmSync(actorDataPath(this.deps.options.dataDir, id), { recursive: true, force: true });
    }
    layout.save({ ...layout.meta, pending: null });
  }

  /** A removed actor: its hints handed off first (bounded wait), then its thread ends and its directory goes. */
  private async decommission(id: number): Promise<void> {
    const { clock, liveness, supervisor } = this.deps;
    const deadline = clock.monotonicMs() + DECOMMISSION_HINTS_TIMEOUT_MS;
    for (;;) {
      const s = (await liveness.stats(5000)).find((x) => x.id === id);
      if (s === undefined || s.hintsPending === 0 || clock.monotonicMs() > deadline) {
        if (s !== undefined && s.hintsPending > 0) console.error(`ringkv: actor ${id} leaves with ${s.hintsPending} hints its owners did not take in time; anti-entropy repairs what they carried`);
        break;
      }
      await sleep(this.deps.timers, 50);
    }
    await supervisor.remove(id);
    this.deps.transport.disconnect(id);
    liveness.forget(id);
    rmSync(actorDataPath(this.deps.options.dataDir, id), { recursive: true, force: true });
  }

  private cleanUpInBackground(): void {
    this.backgroundCleanup = this.cleanup().then(
      () => undefined,
      (err: unknown) => {
        if (!this.deps.closed()) console.error(`ringkv: cleanup after the membership change did not finish (cluster.cleanup() runs it again): ${(err as Error).message}`);
      },
    );
  }

  /** See Cluster.cleanup. */
  async cleanup(): Promise<CleanupResult> {
    const { layout, liveness, supervisor, options } = this.deps;
    const ids = [...layout.ring.members.keys()];
    const down = await liveness.stillDown(ids, 3 * options.failAfterMs);
    if (down.length > 0) throw new QuorumError('repair', ids.length - down.length, ids.length, ids.length, `cleanup needs every actor up; down: ${down.join(', ')}`);
    // cleanupConcurrency actors at a time; a later call joins each actor's running job as it comes to it
    const actors: CleanupReport[] = [];
    const queue = [...ids];
    // an actor a change has taken (or is taking) out of the ring by its turn is skipped: its directory goes with it
    const staying = (id: number): boolean => layout.ring.members.has(id) && (layout.meta.pending == null || layout.meta.pending.members.some((m) => m.id === id));
    await drainQueue(queue, options.cleanupConcurrency, async (id) => {
      if (staying(id)) actors.push(await supervisor.cleanup(id));
    }, this.deps.closed);
    actors.sort((a, b) => a.id - b.id);
    return { actors, removed: actors.reduce((s, a) => s + a.removed, 0), failed: actors.reduce((s, a) => s + a.failed, 0) };
  }

  /** Resolves once a cleanup the last change started has ended (actors end a running cleanup when they close). */
  async settled(): Promise<void> {
    await this.backgroundCleanup;
  }
}

/**
 * Stream every planned range from the replica that keeps it, transferConcurrency pushes at a time (Riak's transfer limit):
 * a SyncRanges push to each source actor, wherever it runs.
 */
export async function streamTransfers(router: Router, options: ResolvedOptions, transfers: readonly Transfer[]): Promise<Streamed> {
  const pushes: { from: number; to: number; ranges: [number, number][] }[] = [];
  for (const t of transfers) {
    for (let i = 0; i < t.ranges.length; i += TRANSFER_RANGES_PER_PUSH) {
      pushes.push({ from: t.from, to: t.to, ranges: t.ranges.slice(i, i + TRANSFER_RANGES_PER_PUSH).map(([a, b]) => [a, b] as [number, number]) });
    }
  }
  const timeoutMs = Math.max(options.timeoutMs, 120_000, slowestPushMs(options));
  const streamed: Streamed = { keys: 0, bytes: 0 };
  // A push cut short (its ranges held more than maxRepairPushEntries, as they do at large data sets:
  // at 20 M keys every add failed) goes again as two halves; merges are idempotent. Any other loss fails the change.
  const queue = pushes.map((p) => ({ ...p, splits: 0 }));
  await drainQueue(queue, options.transferConcurrency, async (p) => {
    // ranges as (start, end]: SyncRanges takes positions [from, to)
    const ranges = p.ranges.flatMap(([a, b]) => arcRanges(a, b).map((r) => [r.from, r.to] as [number, number]));
    const reply = await router.sendTo(p.from, 'repair', 1, 1, timeoutMs, (req) => ({ type: MsgType.SyncRanges, req, ranges, peers: [p.to] }));
    if (reply.type !== MsgType.SyncDone) throw new Error('internal: unexpected reply');
    if (reply.failed > 0) {
      const cutShort = reply.keys >= options.maxRepairPushEntries;
      const halves = cutShort && p.splits < MAX_PUSH_SPLITS ? splitPushRanges(p.ranges) : null;
      if (halves === null) throw new QuorumError('repair', 0, 1, 1, `streaming to actor ${p.to} from ${p.from} lost ${reply.failed} entries`);
      queue.unshift(...halves.map((half) => ({ from: p.from, to: p.to, ranges: half, splits: p.splits + 1 })));
      return;
    }
    streamed.keys += reply.keys;
    streamed.bytes += reply.bytes;
  });
  return streamed;
}

/**
 * Take items from the front of `queue`, at most `concurrency` in progress at
 * once, until it is empty (a step may put items back at its front) or
 * `stop()` says so.
 */
async function drainQueue<T>(queue: T[], concurrency: number, step: (item: T) => Promise<void>, stop: () => boolean = () => false): Promise<void> {
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined && !stop(); item = queue.shift()) await step(item);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

interface TreeCount {
  readonly keys: number;
  readonly bytes: number;
}

/** The requested changes with the ids (and default zones) of the actors they add. */
function withIds(requested: readonly PlanChange[], members: readonly RingMember[], nextActorId: number): MembershipChange[] {
  let nextId = nextActorId;
  const zoneCounts = new Map<string, number>();
  for (const m of members) zoneCounts.set(m.zone, (zoneCounts.get(m.zone) ?? 0) + 1);
  return requested.map((c) => {
    if (c === null || typeof c !== 'object' || c.kind !== 'add') return c as MembershipChange;
    const zone = c.zone ?? [...zoneCounts].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]![0];
    zoneCounts.set(zone, (zoneCounts.get(zone) ?? 0) + 1);
    return { kind: 'add', id: nextId++, zone, ...(c.weight !== undefined ? { weight: c.weight } : {}) };
  });
}
