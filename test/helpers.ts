import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { Cluster, type ClusterOptions } from '../src/index.js';
import { ringPosition } from '../src/ring/hash.js';

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

export { mulberry32 as prng } from './random.js';

/** Poll `check` until it holds; fail the test (naming `what`) after `timeoutMs`. */
export async function until(t: ExecutionContext, what: string, check: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.fail(`timed out waiting for: ${what}`);
  return -1;
}

/** The first key `${prefix}-${i}` whose preference list is exactly `pref` (at most 1,000,000 tried). */
export function keyWithPreference(c: Cluster, pref: readonly number[], prefix = 'probe'): string {
  for (let i = 0; i < 1_000_000; i++) {
    const k = `${prefix}-${i}`;
    if (c.ring.preferenceList(ringPosition(Buffer.from(k))).join() === pref.join()) return k;
  }
  throw new Error(`no key with preference list [${pref.join(', ')}] among 1,000,000 tried`);
}
