import 'reflect-metadata';
import { container as rootContainer } from 'tsyringe';
import { PartitionActor, type ActorConfig } from '../actor/actor.js';
import { buildActorContainer } from '../actor/container.js';
import { actorConfigFrom, type ResolvedOptions } from '../cluster/options.js';
import { allocateTokens, Ring, type RingMember } from '../ring/ring.js';
import { seededRandom, TOKENS, type Random } from '../runtime/services.js';
import { MAIN_THREAD, Transport } from '../transport/transport.js';
import { MemoryStore, SimDisk, type MemoryStoreOptions } from './memory-store.js';
import type { SimNetwork } from './network.js';
import { NodeTimers } from './node-timers.js';
import { SimEndpoint } from './ports.js';
import type { VirtualTime } from './virtual-time.js';

/** One run of one actor: what a crash throws away (its timers, links, pending writes) and what it keeps (its disk). */
interface Incarnation {
  readonly timers: NodeTimers;
  readonly endpoint: SimEndpoint;
  readonly store: MemoryStore;
  readonly actor: PartitionActor;
}

export interface SimClusterOptions {
  readonly actors: number;
  readonly vnodes: number;
  /** The cluster's resolved options: the actors' settings are derived from them as the real cluster derives them. */
  readonly resolved: ResolvedOptions;
  readonly store: MemoryStoreOptions;
  readonly seed: number;
}

/**
 * N real PartitionActors in one thread, on simulated time, network and
 * storage: the supervisor's part in the simulator. It starts actors, kills
 * them (their committed storage kept or lost), restarts them, and tells the
 * others, as the real supervisor does when a thread ends or starts.
 */
export class SimCluster {
  readonly ring: Ring;
  readonly members: readonly RingMember[];
  private readonly disks = new Map<number, SimDisk>();
  private readonly live = new Map<number, Incarnation>();
  /** Actors whose disk was lost and that no full repair has refilled since. */
  readonly wiped = new Set<number>();
  private nextWriterId: number;
  private readonly random: Random;

  constructor(
    readonly time: VirtualTime,
    readonly net: SimNetwork<Uint8Array>,
    private readonly options: SimClusterOptions,
  ) {
    const members: RingMember[] = [];
    for (let id = 0; id < options.actors; id++) members.push({ id, zone: 'default', tokens: allocateTokens(members, id, options.vnodes) });
    this.members = members;
    this.ring = Ring.build(members, options.resolved.n);
    this.nextWriterId = options.actors;
    this.random = seededRandom(options.seed ^ 0x5eed);
    for (let id = 0; id < options.actors; id++) this.disks.set(id, new SimDisk());
  }

  get ids(): number[] {
    return this.members.map((m) => m.id);
  }

  isUp(id: number): boolean {
    return this.live.has(id);
  }

  actor(id: number): PartitionActor | undefined {
    return this.live.get(id)?.actor;
  }

  disk(id: number): SimDisk {
    return this.disks.get(id)!;
  }

  /** Start every actor on a new cluster. */
  startAll(): void {
    for (const id of this.ids) this.start(id, false);
    // started one by one: each one's peers were not live yet when it started
    for (const [id, inc] of this.live) for (const peer of this.ids) if (peer !== id) inc.actor.peerUp(peer);
  }

  /** Kill `id` (its timers, links and uncommitted writes are gone); `wipe`: its disk too. */
  crash(id: number, wipe: boolean): void {
    const inc = this.live.get(id);
    if (inc === undefined) return;
    inc.timers.kill();
    inc.endpoint.down();
    this.live.delete(id);
    if (wipe) {
      this.disks.set(id, new SimDisk());
      this.wiped.add(id);
    }
    for (const other of this.live.values()) other.actor.peerDown(id);
    this.time.record(`crash ${id}${wipe ? ' wiped' : ''}`);
  }

  restart(id: number): void {
    if (this.live.has(id)) return;
    this.start(id, true);
    for (const [other, inc] of this.live) if (other !== id) inc.actor.peerUp(id);
    this.time.record(`restart ${id}`);
  }

  /**
   * Nothing is on its way: no message in flight, no write waiting for a
   * commit, nothing due at this instant (a transport flush, a commit). What
   * the disks hold now is what the replicas hold, with no reap or repair
   * half done between them.
   */
  quiescent(): boolean {
    if (this.net.inFlightCount > 0 || this.time.nextEventMs() <= this.time.monotonicMs()) return false;
    for (const inc of this.live.values()) if (inc.store.queued > 0) return false;
    return true;
  }

  /** Freeze `id` for `ms`: no timer and no message runs on it until then (a GC pause, SIGSTOP); the others notice only by its silence. */
  freeze(id: number, ms: number): void {
    const inc = this.live.get(id);
    if (inc === undefined) return;
    inc.timers.freeze(ms);
    this.time.record(`freeze ${id} ${ms}`);
  }

  /** A full repair refilled every range of the wiped actors: their reads count again. */
  markRepaired(): void {
    for (const id of this.wiped) this.live.get(id)?.actor.recovered();
    this.wiped.clear();
  }

  /** Stop every live actor cleanly. */
  async close(): Promise<void> {
    for (const [id, inc] of [...this.live]) {
      await inc.actor.close();
      inc.timers.kill();
      inc.endpoint.down();
      this.live.delete(id);
    }
  }

  private start(id: number, expectsData: boolean): void {
    const timers = new NodeTimers(this.time);
    const endpoint = new SimEndpoint(this.net, id, (deliver) => timers.whenThawed(deliver));
    const store = new MemoryStore(this.disks.get(id)!, timers, seededRandom(Math.floor(this.random.next() * 2 ** 32)), this.options.store);
    const random = seededRandom(Math.floor(this.random.next() * 2 ** 32));
    const transport = new Transport(id, timers, { maxBatchBytes: this.options.resolved.maxBatchBytes }, random);
    const parent = rootContainer.createChildContainer();
    parent.register(TOKENS.clock, { useValue: this.time });
    parent.register(TOKENS.timers, { useValue: timers });
    parent.register(TOKENS.random, { useValue: random });
    parent.register(TOKENS.store, { useValue: store });
    parent.register(TOKENS.transport, { useValue: transport });
    const config = simActorConfig(this.options.resolved, id, this.members, this.nextWriterId++, expectsData);
    const actor = buildActorContainer(config, parent).resolve(PartitionActor);
    for (const peer of this.ids) if (peer !== id) transport.connect(peer, endpoint.portTo(peer));
    transport.connect(MAIN_THREAD, endpoint.portTo(MAIN_THREAD));
    this.live.set(id, { timers, endpoint, store, actor });
    // a restarted actor learns at once which peers are down, as the supervisor tells a new thread
    for (const peer of this.ids) if (peer !== id && !this.live.has(peer)) actor.peerDown(peer);
  }
}

/** An actor's settings in the simulator: the real cluster's (actorConfigFrom), with no pause signal. */
function simActorConfig(o: ResolvedOptions, id: number, members: readonly RingMember[], freshWriterId: number, expectsData: boolean): ActorConfig {
  return { ...actorConfigFrom(o, { id, members, expectsData, readSignal: null, backgroundCap: null }), freshWriterId, pauseSignal: null };
}
