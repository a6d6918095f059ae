/**
 * A node's start, before it runs anything: connect to etcd and settle who
 * this node is — the cluster's settings (the first node sets them; a clash
 * with options given explicitly is refused), this node's number and actor
 * ids (allocated once in etcd, then kept in its data directory), and the
 * ring (the first node creates it with its actors). A change this node
 * started and did not finish is undone (streaming) or finished (switching).
 */
import type { ResolvedOptions } from '../cluster/options.js';
import { LayoutMismatchError } from '../errors.js';
import { allocateTokens } from '../ring/ring.js';
import { LAYOUT_VERSION } from '../storage/store.js';
import { loadMetadata, type NodeIdentity } from '../supervisor/metadata.js';
import type { ResolvedNodeOptions } from './node-options.js';
import { abandonChange, finishChange, firstRing, settingsClashes, type ClusterSettings, type NodeRingMember } from './records.js';
import type { Registry, RingRead } from './registry.js';

/** The layout-shaping options the caller gave explicitly (the rest follow the cluster's settings). */
export interface ExplicitSettings {
  readonly n?: number;
  readonly vnodes?: number;
  readonly lastWriteWins?: boolean;
  readonly compressionThresholdBytes?: number;
}

export interface SettledNode {
  readonly registry: Registry;
  readonly settings: ClusterSettings;
  readonly identity: NodeIdentity;
  readonly ring: RingRead;
}

export async function settleNode(o: ResolvedOptions, given: ExplicitSettings, node: ResolvedNodeOptions): Promise<SettledNode> {
  // loaded only here: a single-machine store never loads the etcd client (gRPC)
  const { Registry } = await import('./registry.js');
  const registry = new Registry({
    endpoints: node.etcd,
    cluster: node.cluster,
    ...(node.etcdUsername !== undefined ? { username: node.etcdUsername } : {}),
    ...(node.etcdPassword !== undefined ? { password: node.etcdPassword } : {}),
    leaseTtlS: node.leaseTtlS,
    callTimeoutMs: 5000,
    log: (line) => console.error(line),
  });
  try {
    const mine: ClusterSettings = { layoutVersion: LAYOUT_VERSION, n: o.n, vnodes: o.vnodes, lastWriteWins: o.lastWriteWins, compressionThresholdBytes: o.compressionThresholdBytes };
    const settings = await registry.settings(mine);
    const clashes = settingsClashes(settings, { ...settings, ...definedOnly(given), layoutVersion: LAYOUT_VERSION });
    if (clashes.length > 0) throw new LayoutMismatchError(`this node's settings do not match cluster ${node.cluster}'s: ${clashes.join('; ')}`);
    const identity = await nodeIdentity(o, node, registry);
    const live = (await registry.nodes()).find((r) => r.name === node.name);
    if (live !== undefined && live.nodeNo !== identity.nodeNo) throw new LayoutMismatchError(`a live node of cluster ${node.cluster} is already named ${node.name}`);
    let ring = await registry.ring();
    if (ring === null) {
      if (identity.actors.length < settings.n) throw new LayoutMismatchError(`the first node of a cluster needs at least n=${settings.n} actors, got ${identity.actors.length}`);
      const members: NodeRingMember[] = [];
      for (const id of identity.actors) members.push({ id, zone: node.name, node: node.name, tokens: allocateTokens(members, id, settings.vnodes) });
      await registry.swapRing(null, firstRing(members));
      ring = (await registry.ring())!;
    }
    return { registry, settings, identity, ring: await undoOwnChange(registry, ring, node.name) };
  } catch (err) {
    await registry.close();
    throw err;
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Who this node is: from its data directory, or (first start) allocated in etcd. */
async function nodeIdentity(o: ResolvedOptions, node: ResolvedNodeOptions, registry: Registry): Promise<NodeIdentity> {
  const persisted = loadMetadata(o.dataDir)?.node;
  if (persisted !== undefined) {
    if (persisted.cluster !== node.cluster || persisted.name !== node.name) {
      throw new LayoutMismatchError(`${o.dataDir} holds node ${persisted.name} of cluster ${persisted.cluster}, not node ${node.name} of cluster ${node.cluster}: use a new data directory`);
    }
    return persisted;
  }
  const nodeNo = await registry.allocate('nodeNo', 1);
  const first = await registry.allocate('actorId', o.actors);
  return { cluster: node.cluster, name: node.name, nodeNo, actors: Array.from({ length: o.actors }, (_, i) => first + i) };
}

/** A change this node began and did not finish (it crashed): streaming ones are abandoned, switching ones finished. */
async function undoOwnChange(registry: Registry, ring: RingRead, name: string): Promise<RingRead> {
  let read = ring;
  for (let attempt = 0; attempt < 10 && read.record.pending?.by === name; attempt++) {
    const next = read.record.pending.phase === 'stream' ? abandonChange(read.record) : finishChange(read.record);
    await registry.swapRing(read, next);
    read = (await registry.ring())!;
  }
  return read;
}
