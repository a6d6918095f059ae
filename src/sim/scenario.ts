import type { ActorStats } from '../actor/actor.js';
import { resolveOptions, type ClusterOptions } from '../cluster/options.js';
import { ringPosition } from '../ring/hash.js';
import { seededRandom } from '../runtime/services.js';
import { ringKey } from '../storage/keys.js';
import { MsgType } from '../transport/protocol.js';
import * as dvv from '../versioning/dvvset.js';
import { decodeClock, encodeJoin, isLive, ValueKind } from '../versioning/sibling.js';
import { SimClient, type Reply } from './client.js';
import { SimNetwork } from './network.js';
import { fullRepair } from './run.js';
import { SimCluster } from './sim-cluster.js';
import { VirtualTime } from './virtual-time.js';

export interface ScenarioOptions {
  readonly seed?: number;
  readonly actors?: number;
  readonly vnodes?: number;
  /** The cluster's options (dataDir is not needed): the actors' settings derive from them. */
  readonly cluster?: Omit<ClusterOptions, 'dataDir'>;
}

export interface ScenarioRead {
  readonly ok: boolean;
  /** Live values (neither deleted nor expired), as strings. */
  readonly values: readonly string[];
  /** The context a write that supersedes this read carries. */
  readonly context: Uint8Array;
  readonly code: string;
}

/**
 * A step-by-step driver of the simulator for tests: a request runs the
 * simulated cluster until its reply (or its deadline) and returns it, time
 * only moves when asked. A test of timing then waits simulated time, not wall
 * time, and cannot flake on a slow machine.
 */
export class Scenario {
  readonly time: VirtualTime;
  readonly cluster: SimCluster;
  private readonly client: SimClient;
  private readonly timeoutMs: number;

  constructor(options: ScenarioOptions = {}) {
    const seed = options.seed ?? 1;
    const actors = options.actors ?? 5;
    this.time = new VirtualTime(Date.UTC(2026, 0, 1));
    const net = new SimNetwork<Uint8Array>(this.time, seededRandom(seed));
    const resolved = resolveOptions({ ...options.cluster, actors, dataDir: 'simulated' });
    this.timeoutMs = resolved.timeoutMs;
    this.cluster = new SimCluster(this.time, net, {
      actors,
      vnodes: options.vnodes ?? 8,
      resolved,
      seed,
      store: { maxPendingWrites: resolved.maxPendingWritesPerActor, maxWritesPerCommit: resolved.maxWritesPerCommit, commitDelayMaxMs: 1 },
    });
    this.cluster.startAll();
    this.client = new SimClient(this.time, net, seededRandom(seed + 1), this.cluster.ids, this.cluster.ring, (id) => this.cluster.isUp(id));
  }

  /** The key's preference list. */
  preference(key: string): readonly number[] {
    return this.cluster.ring.preferenceList(ringPosition(Buffer.from(key)));
  }

  /** A key (prefix-0, prefix-1, …) whose preference list is `pref`. */
  keyWithPreference(pref: readonly number[], prefix: string): string {
    for (let i = 0; i < 1_000_000; i++) if (this.preference(`${prefix}-${i}`).join() === pref.join()) return `${prefix}-${i}`;
    throw new Error(`no key with preference list [${pref.join(', ')}]`);
  }

  put(key: string, value: string, o: { w?: number; ttlMs?: number; context?: Uint8Array; strict?: boolean } = {}): Reply {
    const expiresAtMs = o.ttlMs === undefined ? 0 : this.time.now() + o.ttlMs;
    const put = { key, kind: ValueKind.String, data: Buffer.from(value), context: o.context ?? null, w: o.w ?? 2, strict: o.strict ?? false, timeoutMs: this.timeoutMs, expiresAtMs };
    return this.run((done) => this.client.put(put, done));
  }

  get(key: string, o: { r?: number } = {}): ScenarioRead {
    const reply = this.run((done) => this.client.get(key, o.r ?? 2, this.timeoutMs, done));
    if (reply.kind !== 'ok' || reply.message.type !== MsgType.GetOk) return { ok: false, values: [], context: new Uint8Array(0), code: reply.kind === 'ok' ? 'UNEXPECTED' : reply.code };
    const bytes = reply.message.clock;
    if (bytes.length === 0) return { ok: true, values: [], context: new Uint8Array(0), code: 'OK' };
    const clock = decodeClock(bytes);
    const nowMs = this.time.now();
    const values = dvv.values(clock).filter((s) => isLive(s, nowMs)).map((s) => Buffer.from(s.data).toString());
    return { ok: true, values, context: encodeJoin(clock), code: 'OK' };
  }

  /** What each actor's disk holds for `key` (committed): actor → its stored bytes. */
  held(key: string): Map<number, Buffer> {
    const stored = ringKey(Buffer.from(key)).toString('latin1');
    const out = new Map<number, Buffer>();
    for (const id of this.cluster.ids) {
      const bytes = this.cluster.disk(id).data.get(stored);
      if (bytes !== undefined) out.set(id, bytes);
    }
    return out;
  }

  /** Entries stored on every actor's disk (committed). */
  storedEntries(): number {
    let n = 0;
    for (const id of this.cluster.ids) n += this.cluster.disk(id).data.size;
    return n;
  }

  stats(): ActorStats[] {
    const out: ActorStats[] = [];
    for (const id of this.cluster.ids) {
      const s = this.cluster.actor(id)?.stats();
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  /** A full anti-entropy round (every replica pushes every arc it holds to the arc's other replicas); true when every push finished. */
  repair(): boolean {
    return fullRepair(this.cluster, this.client);
  }

  /** Let `ms` of simulated time pass. */
  advance(ms: number): void {
    this.time.runUntil(this.time.monotonicMs() + ms);
  }

  /** Advance until `done()` holds, in steps of `stepMs`; the simulated ms it took, or -1 if not within `limitMs`. */
  advanceUntil(done: () => boolean, limitMs: number, stepMs = 10): number {
    const start = this.time.monotonicMs();
    while (!done()) {
      if (this.time.monotonicMs() - start >= limitMs) return -1;
      this.advance(stepMs);
    }
    return this.time.monotonicMs() - start;
  }

  close(): void {
    this.client.close();
    for (const id of this.cluster.ids) this.cluster.crash(id, false);
  }

  /** Run simulated time until the request `send` starts has its reply (the client's own deadline guarantees one). */
  private run(send: (done: (reply: Reply) => void) => void): Reply {
    let reply: Reply | null = null;
    send((r) => (reply = r));
    while (reply === null && this.time.step()) {
      // one event at a time
    }
    return reply!;
  }
}
