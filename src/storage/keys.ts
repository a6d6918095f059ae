import { ringPosition } from '../ring/hash.js';

/**
 * Stored keys are in ring order: 4-byte big-endian ring position, then the
 * key's bytes. A token range is therefore one contiguous LMDB range, so
 * digests, handoff and repair are range scans.
 */
export const RING_PREFIX_BYTES = 4;

export function ringKey(key: Uint8Array, position = ringPosition(key)): Buffer {
  const out = Buffer.allocUnsafe(RING_PREFIX_BYTES + key.length);
  out.writeUInt32BE(position, 0);
  out.set(key, RING_PREFIX_BYTES);
  return out;
}

export function positionOf(storedKey: Uint8Array): number {
  return ((storedKey[0]! << 24) | (storedKey[1]! << 16) | (storedKey[2]! << 8) | storedKey[3]!) >>> 0;
}

export function userKeyOf(storedKey: Uint8Array): Uint8Array {
  return storedKey.subarray(RING_PREFIX_BYTES);
}

/** The smallest stored key at `position` (inclusive lower bound of a range scan). */
export function positionBound(position: number): Buffer {
  const out = Buffer.alloc(RING_PREFIX_BYTES);
  out.writeUInt32BE(position, 0);
  return out;
}
