/**
 * MurmurHash3 (x86, 32-bit) over raw bytes. Pure and allocation-free: it is
 * called for every request on the main thread to place a key on the ring, and
 * its output is persisted (as the ring-order prefix of every stored key), so
 * it must never change for a given layout version.
 */
export function murmur3(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const len = bytes.length;
  const blocks = len & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (len & 3) {
    case 3:
      k ^= bytes[i + 2]! << 16;
    // falls through
    case 2:
      k ^= bytes[i + 1]! << 8;
    // falls through
    case 1:
      k ^= bytes[i]!;
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const encoder = new TextEncoder();

/** Ring position (unsigned 32-bit) of a key's bytes. */
export function ringPosition(key: Uint8Array): number {
  return murmur3(key, 0x52494e47); // "RING"
}

/** Deterministic 32-bit hash of a label, used to derive token candidates. */
export function hashLabel(label: string): number {
  return murmur3(encoder.encode(label), 0x544f4b4e); // "TOKN"
}
