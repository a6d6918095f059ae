/** The cluster's persisted layout (ringkv.json) and the ring built from it. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { InvalidOptionError, LayoutMismatchError } from '../errors.js';
import { minimumPassBytes } from '../antientropy/pass-plan.js';
import { allocateTokens, Ring, type RingMember } from '../ring/ring.js';
import { LAYOUT_VERSION } from '../storage/store.js';
import { actorDataPath, loadMetadata, saveMetadata, type ClusterMetadata, type NodeIdentity } from '../supervisor/metadata.js';
import { resolveConsistency, type ClusterOptions, type ResolvedOptions } from './options.js';

/**
 * What the data directory persists of the cluster (ringkv.json) and the ring
 * built from it: every change is saved before anything relies on it.
 */
export class Layout {
  private current: ClusterMetadata;
  private currentRing: Ring;

  private constructor(
    private readonly dataDir: string,
    meta: ClusterMetadata,
    /** The directory held this cluster before this start: an empty actor env then means a lost disk. */
    readonly existedBefore: boolean,
  ) {
    this.current = meta;
    this.currentRing = Ring.build(meta.members, meta.n);
  }

  /**
   * The layout in `o.dataDir`, or a new one. A membership change a crash
   * interrupted is rolled back: its writes went to the old replicas, and
   * were counted there.
   */
  static open(o: ResolvedOptions, given: ClusterOptions): Layout {
    const persisted = loadMetadata(o.dataDir);
    if (persisted?.node !== undefined) {
      // its members include other nodes' actors: started alone it would make empty envs for them
      throw new LayoutMismatchError(`${o.dataDir} is node ${persisted.node.name} of multi-node cluster ${persisted.node.cluster}: start it with --join (node options), not as a single-machine store`);
    }
    let meta = persisted ?? createMetadata(o);
    checkCompatible(o, given, meta);
    if (meta.pending) {
      for (const m of meta.pending.members) if (!meta.members.some((x) => x.id === m.id)) rmSync(actorDataPath(o.dataDir, m.id), { recursive: true, force: true });
      meta = { ...meta, pending: null };
      saveMetadata(o.dataDir, meta);
      console.error(`ringkv: ${o.dataDir}: a membership change was interrupted; rolled back to ring version ${meta.ringVersion ?? 1}`);
    }
    if (persisted === null) saveMetadata(o.dataDir, meta);
    return new Layout(o.dataDir, meta, persisted !== null);
  }

  get meta(): ClusterMetadata {
    return this.current;
  }

  /** The ring requests are routed by (replaced when a membership change switches). */
  get ring(): Ring {
    return this.currentRing;
  }

  get ringVersion(): number {
    return this.current.ringVersion ?? 1;
  }

  /** Persist a change of the metadata; the ring is replaced only by switchTo. */
  save(meta: ClusterMetadata): void {
    assert.equal(meta.members, this.current.members, 'the members change only with the ring (switchTo)');
    this.current = meta;
    saveMetadata(this.dataDir, meta);
  }

  /** A membership change's ring switch: route by `members` from now on, as the next ring version, persisted. */
  switchTo(members: readonly RingMember[]): void {
    // a crash after the switch began must find the change in the metadata (the next start rolls it back)
    assert.ok(this.current.pending != null, 'a ring switch ends a change persisted as pending');
    this.currentRing = Ring.build(members, this.current.n);
    this.current = { ...this.current, members, ringVersion: this.ringVersion + 1, pending: null };
    saveMetadata(this.dataDir, this.current);
  }

  /** A clock writer id never handed out before, persisted before it is used. */
  allocateWriterId(): number {
    const id = this.current.nextWriterId;
    this.save({ ...this.current, nextWriterId: id + 1 });
    const node = this.current.node;
    // on a node of a multi-node cluster, unique across nodes: interleaved by node number
    return node === undefined ? id : id * MAX_NODES + node.nodeNo;
  }

  /**
   * A node of a multi-node cluster: this directory's layout under the ring
   * etcd holds (`members`, version `ringVersion`). A directory of another
   * node or cluster, or of a single-machine store, is refused.
   */
  static openNode(o: ResolvedOptions, given: ClusterOptions, identity: NodeIdentity, members: readonly RingMember[], ringVersion: number): Layout {
    if (identity.nodeNo >= MAX_NODES) throw new LayoutMismatchError(`node number ${identity.nodeNo} is beyond the ${MAX_NODES} nodes a cluster may ever have had`);
    const persisted = loadMetadata(o.dataDir);
    if (persisted !== null && (persisted.node?.cluster !== identity.cluster || persisted.node.name !== identity.name)) {
      const was = persisted.node === undefined ? 'a single-machine store' : `node ${persisted.node.name} of cluster ${persisted.node.cluster}`;
      throw new LayoutMismatchError(`${o.dataDir} holds ${was}, not node ${identity.name} of cluster ${identity.cluster}: use a new data directory`);
    }
    const meta: ClusterMetadata = {
      ...(persisted ?? createMetadata(o)),
      members,
      ringVersion,
      pending: null,
      node: identity,
      nextActorId: 0, // actor ids come from etcd
    };
    checkCompatible(o, given, meta, false);
    saveMetadata(o.dataDir, meta);
    return new Layout(o.dataDir, meta, persisted !== null);
  }

  /** A node follows etcd's ring: route by `members`, version `ringVersion`, from now on (persisted). */
  adopt(members: readonly RingMember[], ringVersion: number): void {
    assert.ok(this.current.node !== undefined, 'only a node of a multi-node cluster adopts a ring');
    this.currentRing = Ring.build(members, this.current.n);
    this.current = { ...this.current, members, ringVersion };
    saveMetadata(this.dataDir, this.current);
  }

  /** This directory's node identity (a node of a multi-node cluster). */
  get node(): NodeIdentity | undefined {
    return this.current.node;
  }
}

/** Node numbers a multi-node cluster may ever hand out (writer ids interleave by node number). */
export const MAX_NODES = 4096;

function createMetadata(o: ResolvedOptions): ClusterMetadata {
  const members: RingMember[] = [];
  for (let id = 0; id < o.actors; id++) {
    members.push({ id, zone: o.zones[id % o.zones.length]!, tokens: allocateTokens(members, id, o.vnodes) });
  }
  return {
    layoutVersion: LAYOUT_VERSION,
    n: o.n,
    vnodes: o.vnodes,
    lastWriteWins: o.lastWriteWins,
    compressionThresholdBytes: o.compressionThresholdBytes,
    members,
    nextActorId: o.actors,
    nextWriterId: 0,
  };
}

/** Options that shape the layout must agree with what the directory was created with. */
function checkCompatible(o: ResolvedOptions, given: ClusterOptions, meta: ClusterMetadata, checkActors = true): void {
  const clash = (what: string, want: unknown, have: unknown): never => {
    throw new LayoutMismatchError(`${o.dataDir} was created with ${what}=${String(have)}; got ${what}=${String(want)}. Omit the option or use a new data directory.`);
  };
  if (given.n !== undefined && given.n !== meta.n) clash('n', given.n, meta.n);
  if (checkActors && o.actorsExplicit && o.actors !== meta.members.length) clash('actors', o.actors, meta.members.length);
  if (given.vnodes !== undefined && given.vnodes !== meta.vnodes) clash('vnodes', given.vnodes, meta.vnodes);
  if (given.lastWriteWins !== undefined && given.lastWriteWins !== meta.lastWriteWins) clash('lastWriteWins', given.lastWriteWins, meta.lastWriteWins);
  if (given.compressionThresholdBytes !== undefined && given.compressionThresholdBytes !== meta.compressionThresholdBytes) {
    clash('compressionThresholdBytes', given.compressionThresholdBytes, meta.compressionThresholdBytes);
  }
  if (given.r !== undefined) resolveConsistency('r', given.r, meta.n, 1);
  if (given.w !== undefined) resolveConsistency('w', given.w, meta.n, 1);
  // checked against the n the directory has (resolveOptions could only assume the default)
  if (o.antiEntropyMemoryBytes < minimumPassBytes(meta.n)) {
    throw new InvalidOptionError(`antiEntropyMemoryBytes must be at least ${minimumPassBytes(meta.n)} with n=${meta.n} (one arc's trees and ranges), got ${o.antiEntropyMemoryBytes}`);
  }
}
