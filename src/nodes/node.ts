/**
 * A node of a multi-node cluster: the shell that joins this process's
 * Cluster to the others. It keeps the node registered in etcd under a lease,
 * follows etcd's ring record (each new version or phase is applied to the
 * local actors exactly as a single machine's membership change applies it,
 * then acknowledged), links every local actor and the main thread to the
 * other nodes' actors through the gateway, answers the other nodes' control
 * calls about its actors, and says which remote actors are up: those whose
 * node holds its lease, lists them, and is connected.
 *
 * Joining and leaving (streaming handoff) are node-changes.ts.
 */
import type { ActorStats, CleanupReport } from '../actor/actor.js';
import type { ArcTree } from '../antientropy/merkle.js';
import type { ArcSpan, TreeSource } from '../antientropy/trees.js';
import type { ResolvedOptions } from '../cluster/options.js';
import type { MerkleBuilds } from '../cluster/repair-driver.js';
import type { MembershipDriverDeps } from '../cluster/membership-driver.js';
import type { Arc } from '../ring/ring.js';
import type { NodeIdentity } from '../supervisor/metadata.js';
import type { ActorStatus, RemotePeers, Supervisor } from '../supervisor/supervisor.js';
import type { MessagePort } from 'node:worker_threads';
import type { LinkFaults } from '../transport/faults.js';
import { FrameKind } from './frames.js';
import { mainThreadId, NodeGateway } from './gateway.js';
import { NodeControl } from './node-control.js';
import { NODE_LINK_DEFAULTS, NodeLinks } from './node-links.js';
import type { ResolvedNodeOptions } from './node-options.js';
import { actorOwners, actorRings, type ClusterSettings, type NodeRecord, type NodeRingMember, type RingRecord } from './records.js';
import { settleNode, type ExplicitSettings } from './node-start.js';
import type { Registry, RingRead } from './registry.js';

/** What the node needs of the Cluster it is part of (what its membership driver needs, less the clock). */
export type NodeDeps = Pick<MembershipDriverDeps, 'options' | 'layout' | 'supervisor' | 'transport' | 'router' | 'liveness' | 'builds' | 'closed'>;

/** What `status` shows of the nodes. */
export interface NodesStatus {
  readonly cluster: string;
  readonly node: string;
  readonly nodeNo: number;
  readonly ringVersion: number;
  readonly change: { readonly by: string; readonly phase: string } | null;
  readonly etcd: { readonly reachable: boolean; readonly lastError: string };
  readonly nodes: readonly { readonly name: string; readonly nodeNo: number; readonly address: string; readonly clientAddresses: readonly string[]; readonly actors: readonly number[]; readonly registered: boolean; readonly connected: boolean }[];
}

const CONTROL_TIMEOUT_MS = 10_000;
/** A remote Merkle build scans an actor's arcs at the background pace: give it time. */
const TREES_TIMEOUT_MS = 10 * 60_000;

export class NodeRuntime implements RemotePeers {
  readonly links: NodeLinks;
  readonly gateway: NodeGateway;
  readonly control: NodeControl;
  private deps: NodeDeps | null = null;
  /** Live nodes by name, as registered in etcd. */
  private nodes = new Map<string, NodeRecord>();
  /** Every node number ever seen, by name (fixed for a node's life). */
  private readonly nodeNos = new Map<string, number>();
  private ringRead: RingRead;
  /** Which node runs each actor of the ring record (either ring): kept with the record, read on every routing decision. */
  private owners: Map<number, string>;
  /** The rings the local actors hold now. */
  private applied: { members: readonly NodeRingMember[]; pending: readonly NodeRingMember[] | null };
  /** Remote ids (actors and main threads) the local actors and the main thread are linked to. */
  private readonly linked = new Set<number>();
  /** Ring records are applied one at a time, in order. */
  private applying: Promise<void> = Promise.resolve();
  private closing = false;

  private constructor(
    readonly o: ResolvedNodeOptions,
    readonly identity: NodeIdentity,
    readonly registry: Registry,
    readonly settings: ClusterSettings,
    ring: RingRead,
  ) {
    this.ringRead = ring;
    this.owners = actorOwners(ring.record);
    // what the local actors are started with; the watch applies a pending change on top
    this.applied = { members: actorRings(ring.record).members, pending: null };
    this.nodeNos.set(identity.name, identity.nodeNo);
    const log = (line: string): void => console.error(line);
    this.links = new NodeLinks({ node: o.name, cluster: o.cluster, secret: o.secret, host: o.host, port: o.port, ...NODE_LINK_DEFAULTS, maxSendBufferBytes: o.maxSendBufferBytes, log });
    this.gateway = new NodeGateway(this.links, mainThreadId(identity.nodeNo), (id) => this.deps?.supervisor.isLocal(id) ?? false);
    this.control = new NodeControl(this.links, {
      stats: async ([id]) => this.localOnly(id).stats(id as number),
      cleanup: async ([id]) => this.localOnly(id).cleanup(id as number),
      recovered: async ([id]) => this.localOnly(id).recovered(id as number),
      trees: async ([id, arcs]) => {
        this.localOnly(id);
        return this.deps!.builds.buildLocal(id as number, arcs as ArcSpan[]);
      },
    });
    this.links.onFrame((node, f) => (f.kind === FrameKind.Batch ? this.gateway.received(node, f) : this.control.received(node, f)));
    this.links.onPeerState((node, up) => {
      if (!up) this.control.nodeDown(node);
      this.deps?.liveness.recompute();
    });
  }

  /** Connect to etcd and settle who this node is (see node-start.ts). */
  static async prepare(o: ResolvedOptions, given: ExplicitSettings, node: ResolvedNodeOptions): Promise<NodeRuntime> {
    const { registry, settings, identity, ring } = await settleNode(o, given, node);
    return new NodeRuntime(node, identity, registry, settings, ring);
  }

  /** The ring etcd holds, as this node last read it. */
  get ring(): RingRecord {
    return this.ringRead.record;
  }

  /** The members routing uses now (the target, once a change switches). */
  get routingMembers(): readonly NodeRingMember[] {
    return actorRings(this.ring).members;
  }

  /** This node's actors in the ring (or a change's target): the ones to start. */
  localActorsInRing(): number[] {
    const owners = this.owners;
    return this.identity.actors.filter((id) => owners.get(id) === this.identity.name);
  }

  /** A change is switching rings: reads go to coordinators (see MembershipDriver.ringChanging). */
  get switching(): boolean {
    return this.ring.pending?.phase === 'switch';
  }

  /** Wire to the cluster; then listen and learn the other nodes, before the local actors start. */
  async attach(deps: NodeDeps): Promise<void> {
    this.deps = deps;
    deps.supervisor.setRemote(this);
    deps.router.preferLocalCoordinators((id) => deps.supervisor.isLocal(id));
    deps.builds.source = this.treeSource(deps.builds);
    await this.links.listen();
    this.setNodes(await this.registry.nodes());
    this.linkMainToRemotes();
  }

  /** Once the local actors run: register, follow etcd. */
  async started(): Promise<void> {
    // the supervisor linked the local actors to every peer as it started them: the first ring applied links none again
    for (const id of this.peers()) this.linked.add(id);
    await this.register();
    await this.registry.watchNodes((nodes) => this.setNodes(nodes));
    await this.registry.watchRing((read) => {
      this.applying = this.applying.then(() => this.applyRing(read)).catch((err: unknown) => {
        if (!this.closing) console.error(`ringkv node ${this.o.name}: applying ring version ${read.record.version}: ${(err as Error).message}`);
      });
    });
  }

  /** Whether node `name` holds its lease now (as this node last heard from etcd). */
  isRegistered(name: string): boolean {
    return this.nodes.has(name);
  }

  /** Put this node's record (its running actors) under its lease. */
  async register(): Promise<void> {
    const d = this.deps!;
    await this.registry.register({
      name: this.o.name,
      nodeNo: this.identity.nodeNo,
      host: this.o.host,
      port: this.o.port,
      clientAddresses: this.o.clientAddresses,
      actors: d.supervisor.ids().filter((id) => d.supervisor.status(id) === 'up'),
    });
  }

  /** Wait until every ring record seen so far is applied. */
  async settled(): Promise<void> {
    await this.applying;
  }

  // ---- RemotePeers (for the supervisor) ----

  peers(): readonly number[] {
    const out = this.remoteActorIds();
    for (const [name, rec] of this.nodes) if (name !== this.o.name) out.push(mainThreadId(rec.nodeNo));
    return out;
  }

  portFor(local: number, remote: number): MessagePort {
    return this.gateway.portFor(local, remote);
  }

  actorEnded(local: number): void {
    this.gateway.dropActor(local);
  }

  status(id: number): ActorStatus {
    const node = this.owners.get(id);
    if (node === undefined || node === this.o.name) return 'stopped';
    const rec = this.nodes.get(node);
    return rec !== undefined && rec.actors.includes(id) && this.links.isConnected(node) ? 'up' : 'down';
  }

  stats(id: number): Promise<ActorStats> {
    return this.control.call(this.ownerOf(id), 'stats', [id], CONTROL_TIMEOUT_MS);
  }

  cleanup(id: number): Promise<CleanupReport> {
    return this.control.call(this.ownerOf(id), 'cleanup', [id], TREES_TIMEOUT_MS);
  }

  recovered(id: number): Promise<void> {
    return this.control.call(this.ownerOf(id), 'recovered', [id], CONTROL_TIMEOUT_MS);
  }

  // ---- faults, status, close ----

  /** Node-level fault rules (by node name): every batch to and from the nodes named is cut, lost or late. */
  setFaults(f: { partitioned?: readonly string[]; drop?: readonly (readonly [string, number])[]; delayMs?: readonly (readonly [string, number])[] }): void {
    const no = (name: string): number => {
      const n = this.nodeNos.get(name);
      if (n === undefined) throw new RangeError(`unknown node ${name}`);
      return n;
    };
    const faults: LinkFaults = {
      blocked: (f.partitioned ?? []).map(no),
      drop: (f.drop ?? []).map(([n, p]) => [no(n), p] as const),
      delayMs: (f.delayMs ?? []).map(([n, ms]) => [no(n), ms] as const),
    };
    this.gateway.setFaults(faults);
  }

  nodesStatus(): NodesStatus {
    const owners = this.owners;
    const names = new Set([...this.nodes.keys(), ...owners.values()]);
    return {
      cluster: this.o.cluster,
      node: this.o.name,
      nodeNo: this.identity.nodeNo,
      ringVersion: this.ring.version,
      change: this.ring.pending === null ? null : { by: this.ring.pending.by, phase: this.ring.pending.phase },
      etcd: { reachable: this.registry.reachable, lastError: this.registry.reachable ? '' : this.registry.lastErrorMessage },
      nodes: [...names].sort().map((name) => {
        const rec = this.nodes.get(name);
        return {
          name,
          nodeNo: this.nodeNos.get(name) ?? -1,
          address: rec === undefined ? '' : `${rec.host}:${rec.port}`,
          clientAddresses: rec?.clientAddresses ?? [],
          actors: [...owners].filter(([, n]) => n === name).map(([id]) => id),
          registered: rec !== undefined,
          connected: name === this.o.name || this.links.isConnected(name),
        };
      }),
    };
  }

  /** Leave etcd first (the lease is revoked: the others stop routing here at once), then the connections. */
  async close(): Promise<void> {
    this.closing = true;
    await this.registry.close();
    this.control.close();
    this.gateway.close();
    await this.links.close();
  }

  // ---- following etcd ----

  private setNodes(list: readonly NodeRecord[]): void {
    const before = this.nodes;
    this.nodes = new Map(list.map((r) => [r.name, r]));
    for (const r of list) this.nodeNos.set(r.name, r.nodeNo);
    this.links.setPeers(new Map(list.filter((r) => r.name !== this.o.name).map((r) => [r.name, { host: r.host, port: r.port }])));
    this.updateDirectory();
    const d = this.deps;
    if (d === null) return;
    // a node's main thread newly seen: every local actor answers its requests
    for (const r of list) {
      const id = mainThreadId(r.nodeNo);
      if (r.name === this.o.name || this.linked.has(id)) continue;
      this.linked.add(id);
      void d.supervisor.linkRemote(id);
    }
    // a node gone (lease expired or revoked): requests its actors coordinate fail now, not at their deadlines
    for (const [name, r] of before) if (!this.nodes.has(name)) for (const id of r.actors) d.router.coordinatorEnded(id);
    d.liveness.recompute();
  }

  private updateDirectory(): void {
    const dir = new Map<number, { node: string; nodeNo: number }>();
    for (const [id, node] of this.owners) if (node !== this.o.name) dir.set(id, { node, nodeNo: this.nodeNos.get(node) ?? -1 });
    for (const [name, no] of this.nodeNos) if (name !== this.o.name) dir.set(mainThreadId(no), { node: name, nodeNo: no });
    this.gateway.setDirectory(dir);
  }

  private remoteActorIds(): number[] {
    const out: number[] = [];
    for (const m of [...this.applied.members, ...(this.applied.pending ?? [])]) if (m.node !== this.o.name && !out.includes(m.id)) out.push(m.id);
    return out;
  }

  /** The main thread's transport reaches every remote actor of the applied rings through the gateway. */
  private linkMainToRemotes(): void {
    const d = this.deps!;
    for (const id of this.remoteActorIds()) if (!d.transport.isConnected(id)) d.transport.connect(id, this.gateway.mainLink(id));
  }

  /** Apply one ring record: the local actors' rings, links to new remote actors, the routing ring; then acknowledge its phase. */
  private async applyRing(read: RingRead): Promise<void> {
    const d = this.deps!;
    if (this.closing || d.closed()) return;
    const previous = this.ringRead.record;
    this.ringRead = read;
    this.owners = actorOwners(read.record);
    const r = read.record;
    this.updateDirectory();
    const rings = actorRings(r);
    const before = new Set(this.remoteActorIds());
    if (JSON.stringify(rings) !== JSON.stringify(this.applied)) {
      await d.supervisor.setRings(rings.members, rings.pending);
      this.applied = rings;
    }
    const after = new Set(this.remoteActorIds());
    this.linkMainToRemotes();
    for (const id of after) {
      if (this.linked.has(id)) continue;
      this.linked.add(id);
      await d.supervisor.linkRemote(id);
    }
    for (const id of before) {
      if (after.has(id)) continue;
      this.linked.delete(id);
      this.gateway.dropPeer(id);
      d.transport.disconnect(id);
      d.liveness.forget(id);
    }
    if (r.version !== d.layout.ringVersion || JSON.stringify(rings.members) !== JSON.stringify(d.layout.meta.members)) d.layout.adopt(rings.members, r.version);
    d.liveness.recompute();
    if (r.pending !== null && r.pending.by !== this.o.name) await this.registry.ack(r.version, r.pending.id, r.pending.phase, this.o.name);
    const finished = previous.pending !== null && r.pending === null && r.version > previous.version;
    if (finished && d.options.cleanupAfterChange) this.cleanupLocal();
  }

  /** After a change: each local actor drops the ranges it no longer replicates (as a single machine's cleanup does). */
  private cleanupLocal(): void {
    const d = this.deps!;
    for (const id of d.supervisor.ids()) {
      d.supervisor.cleanup(id).catch((err: unknown) => {
        if (!this.closing) console.error(`ringkv node ${this.o.name}: cleanup of actor ${id} after the change: ${(err as Error).message}`);
      });
    }
  }

  // ---- trees and control ----

  private treeSource(builds: MerkleBuilds): TreeSource {
    return {
      build: (id, arcs): Promise<ArcTree[]> => (this.deps!.supervisor.isLocal(id) ? builds.buildLocal(id, arcs) : this.control.call(this.ownerOf(id), 'trees', [id, arcs], TREES_TIMEOUT_MS)),
      // each arc is compared by one node: the one running its first replica that is up
      covers: (arc: Arc): boolean => {
        const s = this.deps!.supervisor;
        const first = arc.preference.find((id) => s.status(id) === 'up');
        return first !== undefined && s.isLocal(first);
      },
    };
  }

  private ownerOf(id: number): string {
    const node = this.owners.get(id);
    if (node === undefined) throw new RangeError(`actor ${id} is in no ring`);
    return node;
  }

  private localOnly(id: unknown): Supervisor {
    const s = this.deps?.supervisor;
    if (s === undefined || typeof id !== 'number' || !s.isLocal(id)) throw new Error(`actor ${String(id)} does not run on node ${this.o.name}`);
    return s;
  }
}
