/**
 * What the cluster's nodes agree on through etcd, and the pure rules for
 * changing it. No I/O: registry.ts stores these records; a record read
 * back that does not parse fails loudly (RegistryRecordError) instead of
 * being guessed at.
 *
 * The ring record is the one thing two nodes must never disagree on: it is
 * replaced only by a compare-and-swap on its exact stored bytes, so of two
 * nodes that read version v and propose a change, one wins and the other
 * reads again.
 */
import type { RingMember } from '../ring/ring.js';

export class RegistryRecordError extends Error {
  override readonly name = 'RegistryRecordError';
}

/** Settings every node of a cluster must share (set by the node that creates it). */
export interface ClusterSettings {
  readonly layoutVersion: number;
  readonly n: number;
  readonly vnodes: number;
  readonly lastWriteWins: boolean;
  readonly compressionThresholdBytes: number;
}

/** A ring member and the node that runs it. */
export interface NodeRingMember extends RingMember {
  readonly node: string;
}

/**
 * The ring, its version and a membership change in progress. A change moves
 * through phases every node applies to its actors, in order: `stream` (the
 * actors forward writes to the target's new replicas while ranges stream)
 * and `switch` (coordinate by the target ring, still forwarding to the old);
 * the change ends when the record moves to version + 1 with the target as
 * its members.
 */
export interface RingRecord {
  readonly version: number;
  readonly members: readonly NodeRingMember[];
  readonly pending: {
    readonly members: readonly NodeRingMember[];
    readonly phase: 'stream' | 'switch';
    readonly by: string;
    /** Unique to this attempt: acknowledgements name it, so an abandoned change's acks never count for the next one at the same version. */
    readonly id: string;
  } | null;
}

/** A node as it registers itself (under its lease). */
export interface NodeRecord {
  readonly name: string;
  readonly nodeNo: number;
  /** Where its inter-node listener is (--advertise). */
  readonly host: string;
  readonly port: number;
  /** Where clients reach it (RESP, HTTP), for `status`. */
  readonly clientAddresses: readonly string[];
  /** Actors it runs now. */
  readonly actors: readonly number[];
}

function fail(what: string, raw: string): never {
  throw new RegistryRecordError(`the cluster's ${what} record in etcd is malformed: ${raw.slice(0, 200)}`);
}

/** `raw` as a JSON object, or the record is malformed. */
function parseObject(what: string, raw: string): Record<string, unknown> {
  let r: unknown;
  try {
    r = JSON.parse(raw);
  } catch {
    return fail(what, raw);
  }
  if (r === null || typeof r !== 'object' || Array.isArray(r)) fail(what, raw);
  return r as Record<string, unknown>;
}

function isInt(v: unknown, min = 0): v is number {
  return Number.isSafeInteger(v) && (v as number) >= min;
}

function parseMembers(v: unknown): NodeRingMember[] | null {
  if (!Array.isArray(v) || v.length === 0) return null;
  for (const m of v as Record<string, unknown>[]) {
    if (m === null || typeof m !== 'object' || !isInt(m['id']) || typeof m['zone'] !== 'string' || typeof m['node'] !== 'string') return null;
    if (!Array.isArray(m['tokens']) || !(m['tokens'] as unknown[]).every((t) => isInt(t))) return null;
  }
  return v as NodeRingMember[];
}

export function parseRing(raw: string): RingRecord {
  const r = parseObject('ring', raw);
  if (!isInt(r['version'], 1)) fail('ring', raw);
  const members = parseMembers(r['members']);
  if (members === null) fail('ring', raw);
  const p = r['pending'] as Record<string, unknown> | null;
  if (p !== null) {
    if (p === undefined || typeof p !== 'object' || (p['phase'] !== 'stream' && p['phase'] !== 'switch') || typeof p['by'] !== 'string' || typeof p['id'] !== 'string' || parseMembers(p['members']) === null) fail('ring', raw);
  }
  return r as unknown as RingRecord;
}

export function parseSettings(raw: string): ClusterSettings {
  const s = parseObject('settings', raw);
  if (!isInt(s['layoutVersion'], 1) || !isInt(s['n'], 1) || !isInt(s['vnodes'], 1) || typeof s['lastWriteWins'] !== 'boolean' || !isInt(s['compressionThresholdBytes'])) fail('settings', raw);
  return s as unknown as ClusterSettings;
}

export function parseNode(raw: string): NodeRecord {
  const r = parseObject('node', raw);
  if (typeof r['name'] !== 'string' || !isInt(r['nodeNo']) || typeof r['host'] !== 'string' || !isInt(r['port'], 1)) fail('node', raw);
  if (!Array.isArray(r['actors']) || !(r['actors'] as unknown[]).every((a) => isInt(a)) || !Array.isArray(r['clientAddresses'])) fail('node', raw);
  return r as unknown as NodeRecord;
}

/** Settings a joining node brings that clash with the cluster's, as readable lines (empty: compatible). */
export function settingsClashes(cluster: ClusterSettings, mine: ClusterSettings): string[] {
  const out: string[] = [];
  for (const k of ['layoutVersion', 'n', 'vnodes', 'lastWriteWins', 'compressionThresholdBytes'] as const) {
    if (cluster[k] !== mine[k]) out.push(`${k}: the cluster has ${String(cluster[k])}, this node ${String(mine[k])}`);
  }
  return out;
}

/** The first ring of a cluster: the creating node's actors. */
export function firstRing(members: readonly NodeRingMember[]): RingRecord {
  if (members.length === 0) throw new RangeError('a ring needs members');
  return { version: 1, members, pending: null };
}

/** Begin a change to `target` (refused while another is pending: the record is the cluster's one change lock). */
export function beginChange(r: RingRecord, target: readonly NodeRingMember[], by: string, id: string): RingRecord {
  if (r.pending !== null) throw new RegistryRecordError(`a membership change by ${r.pending.by} is already in progress at ring version ${r.version}`);
  return { ...r, pending: { members: target, phase: 'stream', by, id } };
}

/** From streaming to the switch. */
export function toSwitch(r: RingRecord): RingRecord {
  if (r.pending === null || r.pending.phase !== 'stream') throw new RegistryRecordError('no streaming change to switch');
  return { ...r, pending: { ...r.pending, phase: 'switch' } };
}

/** The change done: the target is the ring, one version on. */
export function finishChange(r: RingRecord): RingRecord {
  if (r.pending === null || r.pending.phase !== 'switch') throw new RegistryRecordError('no switching change to finish');
  return { version: r.version + 1, members: r.pending.members, pending: null };
}

/** A change given up (before its switch): the ring as it was. */
export function abandonChange(r: RingRecord): RingRecord {
  if (r.pending === null) throw new RegistryRecordError('no change to abandon');
  if (r.pending.phase === 'switch') throw new RegistryRecordError('a change past its switch cannot be abandoned; finish it');
  return { ...r, pending: null };
}

/** The rings a node's actors are to hold under `r`: the one they coordinate by, and the one writes also go to. */
export function actorRings(r: RingRecord): { members: readonly NodeRingMember[]; pending: readonly NodeRingMember[] | null } {
  if (r.pending === null) return { members: r.members, pending: null };
  return r.pending.phase === 'stream' ? { members: r.members, pending: r.pending.members } : { members: r.pending.members, pending: r.members };
}

/** Every actor id either ring of `r` names, with the node that runs it. */
export function actorOwners(r: RingRecord): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of r.members) out.set(m.id, m.node);
  for (const m of r.pending?.members ?? []) out.set(m.id, m.node);
  return out;
}
