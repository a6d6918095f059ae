/** The cluster's persisted layout (ringkv.json) and the ring built from it. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { InvalidOptionError, LayoutMismatchError } from '../errors.js';
import { minimumPassBytes } from '../antientropy/pass-plan.js';
import { allocateTokens, Ring, type RingMember } from '../ring/ring.js';
import { LAYOUT_VERSION } from '../storage/store.js';
import { actorDataPath, loadMetadata, saveMetadata, type ClusterMetadata } from '../supervisor/metadata.js';
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
    return id;
  }
}

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
function checkCompatible(o: ResolvedOptions, given: ClusterOptions, meta: ClusterMetadata): void {
  const clash = (what: string, want: unknown, have: unknown): never => {
    throw new LayoutMismatchError(`${o.dataDir} was created with ${what}=${String(have)}; got ${what}=${String(want)}. Omit the option or use a new data directory.`);
  };
  if (given.n !== undefined && given.n !== meta.n) clash('n', given.n, meta.n);
  if (o.actorsExplicit && o.actors !== meta.members.length) clash('actors', o.actors, meta.members.length);
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
