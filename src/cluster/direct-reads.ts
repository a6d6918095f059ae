import { ReadQuorum } from '../coordinator/quorum.js';
import { decodeReply, readRepairs, reconcile } from '../coordinator/reconcile.js';
import { ringKey } from '../storage/keys.js';
import { createReadSignal, ReadSignal } from '../storage/read-signal.js';
import { ReplicaReader } from '../storage/replica-reader.js';
import type { LifecycleListener } from '../supervisor/supervisor.js';
import type { Clock } from '../versioning/sibling.js';
import { COORDINATED_REASONS, routeRead, type CoordinatedReason, type ReplicaHealth } from './read-route.js';

/** What the front end tells direct reads about the cluster (all synchronous). */
export interface DirectReadDeps {
  readonly enabled: boolean;
  readonly compressionThresholdBytes: number;
  pathOf(id: number): string;
  running(id: number): boolean;
  gossipDown(id: number): boolean;
  faulted(id: number): boolean;
  ringChanging(): boolean;
  /** Send a read repair to `actor` through the transport, as a coordinator does. */
  sendRepair(actor: number, storedKey: Buffer, clock: Uint8Array): void;
  monotonicMs(): number;
}

/** Counts of which path served reads, for stats() and metrics. */
export interface ReadPathStats {
  readonly direct: number;
  readonly coordinated: number;
  readonly coordinatedBy: Readonly<Record<CoordinatedReason, number>>;
  /** Read repairs sent by direct reads (coordinated reads count theirs in each actor's stats). */
  readonly directReadRepairs: number;
}

interface Handle {
  readonly reader: ReplicaReader;
  /** The actor spawn generation the env was opened under. */
  readonly generation: number;
  /** The actor's visible-write count when this snapshot was last renewed (NaN: never). */
  seen: number;
}

/** After an env fails to open, how long before trying again (a read meanwhile goes to a coordinator). */
const REOPEN_AFTER_MS = 1000;
const EMPTY = new Uint8Array(0);

/**
 * The front end's direct reads: read a key's replicas from their LMDB envs
 * on the main thread and reconcile them as a coordinator would, when
 * routeRead says that is equivalent. Keeps one read-only handle per actor
 * incarnation, renews its snapshot only when the actor's visible-write
 * counter moved, and closes it when the actor's thread ends or restarts.
 */
export class DirectReads implements LifecycleListener {
  private readonly signals = new Map<number, ReadSignal>();
  private readonly buffers = new Map<number, SharedArrayBuffer>();
  private readonly handles = new Map<number, Handle>();
  private readonly failedOpens = new Map<number, { generation: number; atMs: number }>();
  private direct = 0;
  private readonly coordinatedBy: Record<CoordinatedReason, number> = Object.fromEntries(COORDINATED_REASONS.map((r) => [r, 0])) as Record<CoordinatedReason, number>;
  private repairs = 0;
  /** Reused for every health query: routeRead reads it before asking for the next replica. */
  private readonly scratch = { running: false, gossipDown: false, recovering: false, open: false, faulted: false };

  constructor(private readonly deps: DirectReadDeps) {}

  /** The shared buffer actor `id` publishes into (one per actor id, kept across its restarts). */
  signalFor(id: number): SharedArrayBuffer {
    let buffer = this.buffers.get(id);
    if (buffer === undefined) {
      buffer = createReadSignal();
      this.buffers.set(id, buffer);
      this.signals.set(id, new ReadSignal(buffer));
    }
    return buffer;
  }

  /**
   * Serve a read directly if that is equivalent to a coordinated one: the
   * reconciled clock (null when no replica holds the key), or undefined
   * when it must go to a coordinator (counted by reason).
   */
  read(key: Uint8Array, position: number, pref: readonly number[], r: number, via: boolean): Clock | null | undefined {
    const route = routeRead({ enabled: this.deps.enabled, ringChanging: this.deps.ringChanging(), via, r, pref }, this.health);
    if (!route.direct) {
      this.coordinatedBy[route.reason]++;
      return undefined;
    }
    const storedKey = ringKey(key, position);
    const quorum = new ReadQuorum(pref, r);
    const rawFrom: number[] = [];
    const raw: Uint8Array[] = [];
    try {
      for (const id of route.replicas) {
        const bytes = this.readReplica(id, storedKey) ?? EMPTY;
        // a corrupt value throws here: a coordinator would count that replica failed and ask a spare, so let one do it
        quorum.reply(id, bytes.length === 0 ? null : decodeReply(quorum, rawFrom, raw, bytes));
        rawFrom.push(id);
        raw.push(bytes);
      }
    } catch {
      this.coordinatedBy.error++;
      return undefined;
    }
    const { clock } = reconcile(quorum, rawFrom, raw);
    const repairs = readRepairs(quorum, raw);
    for (const actor of repairs.actors) {
      this.repairs++;
      this.deps.sendRepair(actor, storedKey, repairs.clock);
    }
    this.direct++;
    return clock;
  }

  stats(): ReadPathStats {
    const coordinated = COORDINATED_REASONS.reduce((s, r) => s + this.coordinatedBy[r], 0);
    return { direct: this.direct, coordinated, coordinatedBy: { ...this.coordinatedBy }, directReadRepairs: this.repairs };
  }

  private readonly health = (id: number): ReplicaHealth => {
    const s = this.scratch;
    const signal = this.signals.get(id);
    s.running = this.deps.running(id);
    s.gossipDown = this.deps.gossipDown(id);
    s.faulted = this.deps.faulted(id);
    s.open = signal !== undefined && signal.openGeneration() !== 0 && this.mayOpen(id, signal.openGeneration());
    s.recovering = signal === undefined || signal.recovering();
    return s;
  };

  private mayOpen(id: number, generation: number): boolean {
    const failed = this.failedOpens.get(id);
    return failed === undefined || failed.generation !== generation || this.deps.monotonicMs() - failed.atMs >= REOPEN_AFTER_MS;
  }

  /** One replica's stored bytes, from a snapshot at least as new as its last visible write. */
  private readReplica(id: number, storedKey: Buffer): Buffer | undefined {
    const signal = this.signals.get(id)!;
    const generation = signal.openGeneration();
    let h = this.handles.get(id);
    if (h !== undefined && h.generation !== generation) {
      this.close(id); // the actor restarted (or is closing): that handle is another incarnation's
      h = undefined;
    }
    if (generation === 0) throw new Error(`actor ${id}'s env is not open`);
    if (h === undefined) h = this.open(id, generation);
    // Read the counter before renewing: the new snapshot holds at least every write counted so far.
    const visible = signal.visibleWrites();
    try {
      if (visible !== h.seen) {
        h.reader.renew();
        h.seen = visible;
      }
      return h.reader.get(storedKey);
    } catch (err) {
      this.close(id); // reopened on a later read
      throw err;
    }
  }

  private open(id: number, generation: number): Handle {
    try {
      const h: Handle = { reader: ReplicaReader.open(this.deps.pathOf(id), this.deps.compressionThresholdBytes), generation, seen: NaN };
      this.handles.set(id, h);
      this.failedOpens.delete(id);
      return h;
    } catch (err) {
      this.failedOpens.set(id, { generation, atMs: this.deps.monotonicMs() });
      throw err;
    }
  }

  private close(id: number): void {
    const h = this.handles.get(id);
    if (h === undefined) return;
    this.handles.delete(id);
    h.reader.close();
  }

  /** Before a spawn: the previous incarnation's publications stop counting, and its handle goes. */
  spawning(id: number): void {
    this.close(id);
    this.signals.get(id)?.nextGeneration();
  }

  /** The thread ended, or is being stopped (close() stops every actor, so every handle goes). */
  ended(id: number): void {
    this.close(id);
  }
}
