import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { Cluster, type ClusterOptions } from '../src/index.js';

/** A fresh data directory, removed when the test ends. */
export function tempDir(t: ExecutionContext, prefix = 'ringkv-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Start a cluster in a fresh directory; it is closed when the test ends (before the directory is removed). */
export async function startCluster(t: ExecutionContext, options: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const dataDir = options.dataDir ?? tempDir(t);
  const cluster = await Cluster.start({ actors: 5, n: 3, r: 2, w: 2, ...options, dataDir });
  t.teardown(() => cluster.close());
  return cluster;
}

/** A small seeded PRNG so randomized tests replay. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
