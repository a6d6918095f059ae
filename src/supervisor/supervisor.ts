import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { ActorConfig, ActorControl, ActorStats, CleanupReport } from '../actor/actor.js';
import type { Transport } from '../transport/transport.js';
import type { RingMember } from '../ring/ring.js';
import { NO_FAULTS, touchedActors, type LinkFaults } from '../transport/faults.js';

export type ActorStatus = 'up' | 'down' | 'stopped';

/**
 * The actors (and main threads) of other nodes, for a node of a multi-node
 * cluster (src/nodes): each local actor is linked to every remote peer
 * through the node's gateway, and the control calls this supervisor makes
 * on its own actors go to the remote actor's node.
 */
export interface RemotePeers {
  /** Remote peers every local actor links to: the remote actors of the rings, and the other nodes' main threads. */
  peers(): readonly number[];
  /** A port through the gateway for local actor `local` to reach `remote`. */
  portFor(local: number, remote: number): MessagePort;
  /** A local actor's thread ended: its gateway channels close (new ones are made when it links again). */
  actorEnded(local: number): void;
  /** Status of a remote actor ('stopped': not one this cluster knows). */
  status(id: number): ActorStatus;
  stats(id: number): Promise<ActorStats>;
  cleanup(id: number): Promise<CleanupReport>;
  recovered(id: number): Promise<void>;
}
/** Told synchronously when an actor thread is about to start, and when one has ended or is ending. */
export interface LifecycleListener {
  spawning(id: number): void;
  ended(id: number): void;
}

interface ActorHandle {
  /** What a restart spawns it with (the ring is updated on membership changes). */
  config: ActorConfig;
  /** Rejects when the thread ends: a control call raced against it never waits on a dead actor. */
  readonly ended: Promise<never>;
  readonly worker: Worker;
  readonly control: Comlink.Remote<ActorControl>;
  readonly controlPort: MessagePort;
  status: ActorStatus;
}

const ACTOR_ENTRY = new URL('../../workers/actor.js', import.meta.url);

/**
 * Spawns one worker thread per actor, connects every pair of actors with a
 * direct MessageChannel (no hub), connects the main thread's transport to
 * each, and drives each actor's control plane over comlink.
 */
export class Supervisor {
  private readonly actors = new Map<number, ActorHandle>();
  /** Fault rules per actor, kept so that a restarted actor gets them again. */
  private readonly faults = new Map<number, LinkFaults>();
  /** Pauses in progress per actor (a pause call returns when the pause ends). */
  private readonly pauses = new Map<number, number>();
  /** Actors some fault touches (see touchedActors); recomputed on every change. */
  private touched: ReadonlySet<number> = new Set();
  private readonly listeners: LifecycleListener[] = [];
  private remote: RemotePeers | null = null;

  constructor(
    private readonly clientTransport: Transport,
    private readonly onActorExit: (id: number, code: number) => void,
    /** A fresh clock writer id for each spawn (used only if the actor's env turns out to be new). */
    private readonly allocateWriterId: () => number,
    /**
     * The young generation each actor thread's V8 heap may grow to. V8's own
     * default grows it to 3 x 16 MiB under a high allocation rate (a stream
     * of handoff entries) and never gives it back while the thread lives.
     */
    private readonly youngGenerationMiB?: number,
    /**
     * The old generation each actor thread's V8 heap may hold. Besides the
     * hard limit, it sets how much garbage V8 lets pile up before a full
     * collection: with V8's default limit (4 GiB on this machine) the old
     * generation may grow to 4x what is live before it is collected, with 1
     * GiB or less about 1.6x (at least live + 8 MiB).
     */
    private readonly oldGenerationMiB?: number,
  ) {}

  /** A node of a multi-node cluster: link local actors to the other nodes' actors and main threads too. */
  setRemote(remote: RemotePeers): void {
    this.remote = remote;
  }

  /** Link every running local actor to remote peer `peer` (an actor or main thread newly known). */
  async linkRemote(peer: number): Promise<void> {
    await Promise.all([...this.actors.values()].filter((h) => h.status === 'up').map((h) => this.linkRemoteOne(h, peer).catch(() => undefined)));
  }

  private async linkRemoteOne(h: ActorHandle, peer: number): Promise<void> {
    const port = this.remote!.portFor(h.config.id, peer);
    await Promise.race([h.control.connectPeer(peer, Comlink.transfer(port, [port])), h.ended]);
  }

  /** Link a local actor to every remote peer. */
  private async linkAllRemote(id: number): Promise<void> {
    if (this.remote === null) return;
    const h = this.handle(id);
    for (const peer of this.remote.peers()) await this.linkRemoteOne(h, peer);
  }

  /** Register a listener for actor threads starting and ending (the front end's direct reads). */
  addLifecycleListener(listener: LifecycleListener): void {
    this.listeners.push(listener);
  }

  private spawning(id: number): void {
    this.pauses.delete(id); // a paused thread that was killed never reports its pause's end
    this.recomputeTouched();
    for (const l of this.listeners) l.spawning(id);
  }

  private ended(id: number): void {
    for (const l of this.listeners) l.ended(id);
    this.remote?.actorEnded(id);
  }

  private recomputeTouched(): void {
    this.touched = touchedActors(this.faults, [...this.pauses.keys()]);
  }

  /** Whether any injected fault (link rule, on either end, or a pause) touches actor `id`. */
  faultTouches(id: number): boolean {
    return this.touched.has(id);
  }

  async startAll(configs: readonly ActorConfig[]): Promise<void> {
    try {
      await Promise.all(configs.map((c) => this.spawn(c)));
      for (let i = 0; i < configs.length; i++) {
        for (let j = i + 1; j < configs.length; j++) await this.link(configs[i]!.id, configs[j]!.id);
      }
      for (const c of configs) await this.linkClient(c.id);
      for (const c of configs) await this.linkAllRemote(c.id);
      // Linking takes a while on a busy machine: count every peer up from now, so that no actor
      // starts out seeing the others down because their first heartbeats could not reach it yet.
      await Promise.all(configs.map((c) => Promise.all(configs.filter((o) => o.id !== c.id).map((o) => this.handle(c.id).control.peerUp(o.id)))));
    } catch (err) {
      await this.stopAll();
      throw err;
    }
  }

  private async spawn(base: ActorConfig, restarting = false): Promise<void> {
    const config: ActorConfig = { ...base, freshWriterId: this.allocateWriterId(), expectsData: base.expectsData || restarting };
    this.spawning(config.id);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(ACTOR_ENTRY, {
      workerData: { config, controlPort: port2 },
      transferList: [port2],
      resourceLimits: {
        ...(this.youngGenerationMiB !== undefined ? { maxYoungGenerationSizeMb: this.youngGenerationMiB } : {}),
        ...(this.oldGenerationMiB !== undefined ? { maxOldGenerationSizeMb: this.oldGenerationMiB } : {}),
      },
    });
    const control = Comlink.wrap<ActorControl>(nodeEndpoint(port1 as never));
    const ended = new Promise<never>((_, reject) => worker.once('exit', () => reject(new Error(`actor ${config.id}'s thread ended`))));
    ended.catch(() => undefined);
    const handle: ActorHandle = { config, ended, worker, control, controlPort: port1, status: 'up' };
    this.actors.set(config.id, handle);
    worker.on('error', () => undefined); // the exit event below is what we act on
    worker.on('exit', (code) => {
      if (handle.status !== 'up' || this.actors.get(config.id) !== handle) return;
      handle.status = 'down';
      this.ended(config.id);
      this.onActorExit(config.id, code);
      void this.announceDown(config.id);
    });
    await Promise.race([control.ping(), ended]);
  }

  private async link(a: number, b: number): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const ha = this.handle(a);
    const hb = this.handle(b);
    await Promise.race([ha.control.connectPeer(b, Comlink.transfer(port1, [port1])), ha.ended, hb.ended]);
    await Promise.race([hb.control.connectPeer(a, Comlink.transfer(port2, [port2])), ha.ended, hb.ended]);
  }

  private async linkClient(id: number): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const h = this.handle(id);
    await Promise.race([h.control.connectClient(Comlink.transfer(port2, [port2])), h.ended]);
    this.clientTransport.connect(id, port1);
  }

  /** End an actor's thread abruptly (its LMDB data stays on disk), as a crash would. */
  async kill(id: number): Promise<void> {
    const h = this.handle(id);
    if (h.status !== 'up') return;
    h.status = 'down';
    this.ended(id);
    h.control[Comlink.releaseProxy]();
    h.controlPort.close();
    await h.worker.terminate();
    this.onActorExit(id, 1);
    await this.announceDown(id);
  }

  /** Tell every live actor that `id`'s thread ended (the fast path; gossip would notice too, later). */
  private async announceDown(id: number): Promise<void> {
    await Promise.all(
      [...this.actors.values()].filter((o) => o.status === 'up' && o.config.id !== id).map((o) => o.control.peerDown(id).catch(() => undefined)),
    );
  }

  /** Start a stopped or killed actor again from its data directory and re-link it to every live peer. */
  async restart(id: number): Promise<void> {
    const h = this.handle(id);
    if (h.status === 'up') return;
    await this.spawn(h.config, true);
    for (const other of this.actors.values()) {
      if (other.config.id !== id && other.status === 'up') await this.link(id, other.config.id);
    }
    await this.linkClient(id);
    await this.linkAllRemote(id);
    await Promise.all(
      [...this.actors.values()].filter((o) => o.status === 'up' && o.config.id !== id).map((o) => o.control.peerUp(id).catch(() => undefined)),
    );
    const faults = this.faults.get(id);
    if (faults !== undefined) await this.handle(id).control.setFaults(faults);
  }

  /** Replace actor `id`'s outgoing fault rules (kept across its restarts). */
  async setFaults(id: number, faults: LinkFaults): Promise<void> {
    this.faults.set(id, faults);
    this.recomputeTouched(); // before the actor applies it: reads leave its keys alone from now
    const h = this.handle(id);
    if (h.status === 'up') await h.control.setFaults(faults);
  }

  faultsOf(id: number): LinkFaults {
    return this.faults.get(id) ?? NO_FAULTS;
  }

  /** Freeze actor `id`'s thread for `ms`; it is not told and cannot answer meanwhile. */
  pause(id: number, ms: number): void {
    const h = this.handle(id);
    if (h.status !== 'up') return;
    // The signal says "stay paused" (1) until heal() clears it: set before the request, so a heal
    // that overtakes the request still ends the pause, and nothing stale is left for a later one.
    if (h.config.pauseSignal !== null) Atomics.store(new Int32Array(h.config.pauseSignal), 0, 1);
    this.pauses.set(id, (this.pauses.get(id) ?? 0) + 1);
    this.recomputeTouched();
    const ended = (): void => {
      if (this.actors.get(id) !== h) return; // a later incarnation: spawning() reset the count
      const left = (this.pauses.get(id) ?? 1) - 1;
      if (left > 0) this.pauses.set(id, left);
      else this.pauses.delete(id);
      this.recomputeTouched();
    };
    // Not awaited: the call returns only when the pause ends.
    h.control.pause(ms).then(ended, ended);
  }

  /** Wake every paused actor and clear every fault rule. */
  async heal(): Promise<void> {
    for (const h of this.actors.values()) {
      if (h.config.pauseSignal !== null) {
        const signal = new Int32Array(h.config.pauseSignal);
        Atomics.store(signal, 0, 0);
        Atomics.notify(signal, 0);
      }
    }
    this.faults.clear();
    try {
      await Promise.all([...this.actors.values()].filter((h) => h.status === 'up').map((h) => h.control.setFaults(NO_FAULTS)));
    } finally {
      this.recomputeTouched(); // once the actors dropped their rules; paused actors count until their pause calls return
    }
  }

  private handle(id: number): ActorHandle {
    const h = this.actors.get(id);
    if (h === undefined) throw new Error(`no actor ${id}`);
    return h;
  }

  /** 'stopped' for an actor this supervisor does not run (never started, or removed by a membership change). */
  status(id: number): ActorStatus {
    return this.actors.get(id)?.status ?? this.remote?.status(id) ?? 'stopped';
  }

  /** Whether this supervisor runs actor `id` (not another node). */
  isLocal(id: number): boolean {
    return this.actors.has(id);
  }

  /** The actors this supervisor runs. */
  ids(): number[] {
    return [...this.actors.keys()];
  }

  async stats(id: number): Promise<ActorStats> {
    const h = this.actors.get(id);
    if (h === undefined && this.remote !== null) return this.remote.stats(id);
    return this.handle(id).control.stats();
  }

  /** Drop the ranges an actor no longer replicates; rejects if its thread ends first. */
  async cleanup(id: number): Promise<CleanupReport> {
    const h = this.actors.get(id);
    if (h === undefined && this.remote !== null) return this.remote.cleanup(id);
    return Promise.race([this.handle(id).control.cleanup(), this.handle(id).ended]);
  }

  async recovered(id: number): Promise<void> {
    if (!this.actors.has(id) && this.remote !== null) return this.remote.recovered(id);
    await this.handle(id).control.recovered();
  }

  /** Membership change: spawn a new actor and link it with every live actor and with the client transport. */
  async add(config: ActorConfig): Promise<void> {
    await this.spawn(config);
    for (const other of [...this.actors.values()]) {
      if (other.config.id !== config.id && other.status === 'up') await this.link(config.id, other.config.id);
    }
    await this.linkClient(config.id);
    await this.linkAllRemote(config.id);
  }

  /** Membership change: stop one actor gracefully (it flushes and closes its env) and forget it. */
  async remove(id: number): Promise<void> {
    await this.stop(this.handle(id));
    this.actors.delete(id);
    this.faults.delete(id);
    this.pauses.delete(id);
    this.recomputeTouched();
  }

  /** Graceful stop of one actor: it flushes and closes its LMDB env, then its thread ends. */
  private async stop(h: ActorHandle): Promise<void> {
    const wasUp = h.status === 'up';
    h.status = 'stopped';
    this.ended(h.config.id);
    if (wasUp) {
      try {
        await withTimeout(h.control.close(), 30_000);
      } catch {
        // a dead or hung actor: its env is closed when the thread ends
      }
      h.control[Comlink.releaseProxy]();
      h.controlPort.close();
    }
    await h.worker.terminate();
  }

  /** Tell every live actor the ring (and the one a transfer moves to); restarts use `members` from now on. */
  async setRings(members: readonly RingMember[], pending: readonly RingMember[] | null): Promise<void> {
    for (const h of this.actors.values()) {
      h.config = { ...h.config, members };
      if (h.status === 'up') await Promise.race([withTimeout(h.control.setRings(members, pending), 30_000), h.ended]);
    }
  }

  /** Graceful stop of every actor: each flushes and closes its LMDB env, then its thread ends. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.actors.values()].map((h) => this.stop(h)));
    this.actors.clear();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e as Error);
      },
    );
  });
}
