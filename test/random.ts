import { seededRandom } from '../src/runtime/services.js';

/** A seeded PRNG (the same mulberry32 the runtime injects), so randomized tests replay. */
export function mulberry32(seed: number): () => number {
  const r = seededRandom(seed);
  return () => r.next();
}

/** Every ordering of `xs` (for small exhaustive checks). */
export function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  const out: T[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...rest]);
  });
  return out;
}
