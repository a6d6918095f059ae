import { seededRandom } from '../src/runtime/services.js';

/** A seeded PRNG (the same mulberry32 the runtime injects), so randomized tests replay. */
export function mulberry32(seed: number): () => number {
  const r = seededRandom(seed);
  return () => r.next();
}
