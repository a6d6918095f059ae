import { createHash, hash } from 'node:crypto';
import { RING_SIZE, arcLength, inArc } from '../ring/ring.js';
import { RING_PREFIX_BYTES, positionOf } from '../storage/keys.js';
import type { PositionRange } from '../ring/ring.js';

/**
 * Merkle trees for anti-entropy. Pure: no I/O, only hashing.
 *
 * Each arc (start, end] gets a two-level tree: LEAVES_PER_ARC leaves, each
 * covering an equal slice of the arc's positions, and a root over the leaves.
 * Replicas exchange roots first and then only the leaves that differ, so a
 * repair scans 1/64 of an arc instead of all of it. A leaf hash is the XOR of
 * its entries' 64-bit hashes: order-independent (a scan in any order gives
 * the same tree).
 */
export const LEAVES_PER_ARC = 64;

export interface ArcTree {
  readonly arc: number;
  /** Hash of the leaf hashes in order, 16 hex chars. */
  readonly root: string;
  /** One hash per leaf, 16 hex chars each; an empty leaf is all zeros. */
  readonly leaves: readonly string[];
  /** Entries in the arc, and their total key + value bytes. */
  readonly keys: number;
  readonly bytes: number;
  /** Entries whose every sibling is a tombstone or an expiring value (what a reap may remove); 0 when not counted. */
  readonly tombstones: number;
}

function checkLeaves(leaves: number): void {
  if (!Number.isInteger(leaves) || leaves < 1) throw new RangeError(`leaves must be a positive integer, got ${leaves}`);
}

/**
 * Offset where leaf `i` of an arc of `length` positions begins: floor(i * length / leaves).
 * Products stay below 2^38, so the float arithmetic is exact.
 */
function leafStart(i: number, length: number, leaves: number): number {
  return Math.floor((i * length) / leaves);
}

/**
 * Which leaf of the arc (start, end] a position falls in: the arc is cut into
 * `leaves` equal sub-ranges by offset from start (wrapping). Throws
 * RangeError if the position is not in the arc.
 */
export function leafIndex(arcStart: number, arcEnd: number, position: number, leaves = LEAVES_PER_ARC): number {
  checkLeaves(leaves);
  if (!Number.isInteger(position) || position < 0 || position >= RING_SIZE || !inArc(position, arcStart, arcEnd)) {
    throw new RangeError(`position ${position} is not in arc (${arcStart}, ${arcEnd}]`);
  }
  const length = arcLength(arcStart, arcEnd);
  const offset = (position - arcStart - 1 + RING_SIZE) % RING_SIZE;
  // The last leaf i with leafStart(i) <= offset, i.e. i * length < (offset + 1) * leaves.
  // Computed from the same boundaries as leafRanges so the two always agree.
  return Math.floor(((offset + 1) * leaves - 1) / length);
}

/**
 * The position ranges [from, to) covering leaf `leaf` of the arc: one, or
 * two when the leaf wraps past 2^32 (`to` may be 2^32). The leaves of an arc
 * partition it exactly. An arc shorter than `leaves` positions has empty
 * leaves; their list is empty.
 */
export function leafRanges(arcStart: number, arcEnd: number, leaf: number, leaves = LEAVES_PER_ARC): PositionRange[] {
  checkLeaves(leaves);
  if (!Number.isInteger(leaf) || leaf < 0 || leaf >= leaves) throw new RangeError(`leaf must be 0..${leaves - 1}, got ${leaf}`);
  const length = arcLength(arcStart, arcEnd);
  const lo = leafStart(leaf, length, leaves);
  const size = leafStart(leaf + 1, length, leaves) - lo;
  if (size === 0) return [];
  const from = (arcStart + 1 + lo) % RING_SIZE;
  const to = from + size;
  if (to <= RING_SIZE) return [{ from, to }];
  return [
    { from, to: RING_SIZE },
    { from: 0, to: to - RING_SIZE },
  ];
}

/**
 * 64-bit hash of one stored entry: the first 8 bytes of sha256 over
 * len(key) key len(value) value, lengths as 4-byte big-endian, so moving a
 * byte across the key/value boundary changes the hash.
 */
export function entryHash(key: Uint8Array, value: Uint8Array): bigint {
  // One-shot hash over a reused buffer: a Hash object per entry leaves native
  // memory behind until V8 collects its wrapper, millions of them per pass.
  const size = 8 + key.length + value.length;
  if (scratch.length < size) scratch = Buffer.allocUnsafe(Math.max(size, 2 * scratch.length));
  scratch.writeUInt32BE(key.length, 0);
  scratch.set(key, 4);
  scratch.writeUInt32BE(value.length, 4 + key.length);
  scratch.set(value, 8 + key.length);
  return (hash('sha256', scratch.subarray(0, size), 'buffer') as unknown as Buffer).readBigUInt64BE(0);
}

let scratch = Buffer.allocUnsafe(4096);

const hex64 = (h: bigint): string => h.toString(16).padStart(16, '0');

/** sha256 of the leaf hashes as 8-byte big-endian words, in order; first 8 bytes. */
function rootOf(leafHashes: readonly bigint[]): string {
  const buf = Buffer.allocUnsafe(8 * leafHashes.length);
  leafHashes.forEach((h, i) => buf.writeBigUInt64BE(h, 8 * i));
  return createHash('sha256').update(buf).digest().subarray(0, 8).toString('hex');
}

/**
 * Build the tree of arc `arc` = (arcStart, arcEnd] from its stored entries
 * (ring-prefixed keys, any order). An entry whose position is outside the
 * arc means the caller scanned the wrong range: RangeError.
 */
export function buildArcTree(
  arc: number,
  arcStart: number,
  arcEnd: number,
  entries: Iterable<{ key: Uint8Array; value: Uint8Array }>,
  leaves = LEAVES_PER_ARC,
  isTombstone: (value: Uint8Array) => boolean = () => false,
): ArcTree {
  checkLeaves(leaves);
  const hashes = new Array<bigint>(leaves).fill(0n);
  let keys = 0;
  let bytes = 0;
  let tombstones = 0;
  // Each entry is hashed before the next is read: lmdb-js may reuse its buffers between iterations.
  for (const { key, value } of entries) {
    if (key.length < RING_PREFIX_BYTES) throw new RangeError(`stored key of ${key.length} bytes has no ring position`);
    const i = leafIndex(arcStart, arcEnd, positionOf(key), leaves);
    hashes[i] = hashes[i]! ^ entryHash(key, value);
    keys++;
    bytes += key.length + value.length;
    if (isTombstone(value)) tombstones++;
  }
  return { arc, root: rootOf(hashes), leaves: hashes.map(hex64), keys, bytes, tombstones };
}

/**
 * Indexes of the leaves on which the replicas' trees of one arc do not all
 * agree; empty when the roots agree. Trees of different arcs or leaf counts
 * cannot be compared: RangeError.
 */
export function differingLeaves(trees: readonly ArcTree[]): number[] {
  const first = trees[0];
  if (first === undefined) return [];
  for (const t of trees) {
    if (t.arc !== first.arc) throw new RangeError(`cannot compare trees of arcs ${first.arc} and ${t.arc}`);
    if (t.leaves.length !== first.leaves.length) {
      throw new RangeError(`cannot compare trees of arc ${first.arc} with ${first.leaves.length} and ${t.leaves.length} leaves`);
    }
  }
  if (trees.every((t) => t.root === first.root)) return [];
  const out: number[] = [];
  for (let i = 0; i < first.leaves.length; i++) {
    if (trees.some((t) => t.leaves[i] !== first.leaves[i])) out.push(i);
  }
  return out;
}
