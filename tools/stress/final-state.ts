// After the run and the heal: wait for the replicas to converge, then read
// every written key's final value (through the cluster, or the server).
import { Redis } from 'ioredis';
import type { Cluster } from '../../src/index.js';
import { checkConvergence } from './checker.js';
import { firstUrl, MAX_VIOLATIONS_LISTED, nowMs, type Harness } from './harness.js';
import type { ConvergenceVerdict } from './result.js';

/** What of the run's configuration these steps use (StressConfig has these). */
export interface FinalStateConfig {
  /** How long after the heal the replicas may take to converge. */
  readonly convergeTimeoutMs: number;
  /** Keys inspected replica by replica when they never converge. */
  readonly maxInspectKeys: number;
  readonly timeoutMs: number;
}

/** After heal: repair and compare until every replica of every arc is identical, or the deadline passes. */
export async function converge(h: Harness, c: FinalStateConfig, healMs: number, log: (line: string) => void): Promise<ConvergenceVerdict> {
  if (h.cluster === null) {
    if (!h.ringkv) return { valid: true, skipped: 'a single Redis-protocol server has no replicas to compare', checked: 0, violationCount: 0, violations: [], timeToConvergeMs: null, repairPasses: 0, divergentKeys: [] };
    return convergeServer(h, c, healMs);
  }
  const cluster = h.cluster;
  const deadlineMs = healMs + c.convergeTimeoutMs;
  let passes = 0;
  let arcs = 0;
  for (;;) {
    // hints first: a restarted owner gets its hinted writes by handoff; repair covers the rest
    const cmp = await cluster.compareReplicas();
    arcs = cmp.arcs;
    // a wiped replica refilled by hints and read repair can match the others before any pass has
    // marked it recovered: until one has, it does not count toward R, and the final R=all read fails
    const recovering = cmp.divergent.length === 0 && (await cluster.stats().catch(() => [])).some((s) => s.recovering);
    if (cmp.divergent.length === 0 && !recovering) {
      const timeToConvergeMs = Math.round(nowMs() - healMs);
      log(`converged ${timeToConvergeMs} ms after heal (${passes} repair passes)`);
      return { valid: true, checked: cmp.arcs, violationCount: 0, violations: [], timeToConvergeMs, repairPasses: passes, divergentKeys: [] };
    }
    if (nowMs() >= deadlineMs) break;
    await cluster.repair({ timeoutMs: Math.max(1000, Math.min(60_000, Math.round(deadlineMs - nowMs()))) }).catch(() => undefined);
    passes++;
  }
  // never converged: name the keys, replica by replica
  const snapshot = new Map<string, Map<number, string[]>>();
  const keys = await storedKeys(cluster, c.maxInspectKeys);
  for (const key of keys) {
    const views = await cluster.inspect(key).catch(() => []);
    const replicas = new Map<number, string[]>();
    for (const v of views) {
      if (v.role !== 'replica' || v.found === null) continue;
      replicas.set(
        v.actor,
        v.versions.map((x) => (x.deleted ? '(deleted)' : idOfValue(x.value))),
      );
    }
    snapshot.set(key, replicas);
  }
  const verdict = checkConvergence(snapshot);
  const divergentKeys = verdict.violations.slice(0, MAX_VIOLATIONS_LISTED).map((v) => v.key);
  return {
    valid: false,
    checked: arcs,
    violationCount: Math.max(1, verdict.violations.length),
    violations: verdict.violations.slice(0, MAX_VIOLATIONS_LISTED).map((v) => `${v.key}: ${[...v.replicas].map(([a, ids]) => `actor ${a} [${ids.join(', ')}]`).join('; ')}`),
    timeToConvergeMs: null,
    repairPasses: passes,
    divergentKeys,
  };
}

async function convergeServer(h: Harness, c: FinalStateConfig, healMs: number): Promise<ConvergenceVerdict> {
  const redis = new Redis(firstUrl(h.url), { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: Math.max(c.timeoutMs, 60_000) });
  redis.on('error', () => {});
  await redis.connect();
  let passes = 0;
  try {
    while (nowMs() < healMs + c.convergeTimeoutMs) {
      const reply = (await redis.call('RINGKV.REPAIR')) as (string | number)[];
      passes++;
      const m = new Map<string, number>();
      for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), Number(reply[i + 1]));
      if (m.get('arcs_differing') === 0) {
        return { valid: true, checked: passes, violationCount: 0, violations: [], timeToConvergeMs: Math.round(nowMs() - healMs), repairPasses: passes, divergentKeys: [] };
      }
    }
  } finally {
    redis.disconnect();
  }
  return { valid: false, checked: passes, violationCount: 1, violations: ['replicas still differ after the convergence deadline (RINGKV.REPAIR kept finding differing arcs)'], timeToConvergeMs: null, repairPasses: passes, divergentKeys: [] };
}

/** Up to `limit` keys the cluster stores, in ring order (a SCAN). */
async function storedKeys(cluster: Cluster, limit: number): Promise<string[]> {
  const keys: string[] = [];
  let cursor = 0;
  do {
    const page = await cluster.scan(cursor, { count: Math.min(1000, limit - keys.length) });
    for (const k of page.keys) keys.push(k.toString('utf8'));
    cursor = page.cursor;
  } while (cursor !== 0 && keys.length < limit);
  return keys;
}

function idOfValue(v: unknown): string {
  const s = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : JSON.stringify(v);
  const bar = s.indexOf('|');
  return bar < 0 ? s : s.slice(0, bar);
}

/** Every written key's final value (all siblings), after convergence. */
export async function readFinal(h: Harness, c: FinalStateConfig, isSet: boolean, keys: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const parse = (values: readonly string[]): string[] => {
    if (!isSet) return values.map(idOfValue);
    const elements = new Set<string>();
    for (const v of values) for (const e of JSON.parse(v) as unknown[]) elements.add(String(e));
    return [...elements];
  };
  const asString = (v: unknown): string => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : JSON.stringify(v));
  const BATCH = 256;
  if (h.cluster !== null) {
    const cluster = h.cluster;
    for (let i = 0; i < keys.length; i += BATCH) {
      await Promise.all(
        keys.slice(i, i + BATCH).map(async (key) => {
          const res = await cluster.get(key, { r: 'all', timeoutMs: Math.max(c.timeoutMs, 10_000) });
          out.set(key, parse(res.values.map(asString)));
        }),
      );
    }
    return out;
  }
  const redis = new Redis(firstUrl(h.url), { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: Math.max(c.timeoutMs, 10_000) });
  redis.on('error', () => {});
  await redis.connect();
  try {
    for (let i = 0; i < keys.length; i += BATCH) {
      const slice = keys.slice(i, i + BATCH);
      const pipeline = redis.pipeline();
      for (const key of slice) h.ringkv ? pipeline.call('RINGKV.GETALL', key) : pipeline.get(key);
      const replies = (await pipeline.exec()) ?? [];
      slice.forEach((key, j) => {
        const [error, value] = replies[j] ?? [new Error('no reply'), null];
        if (error) throw error;
        const values = h.ringkv ? (value as string[]).slice(1) : value === null ? [] : [value as string];
        out.set(key, parse(values));
      });
    }
  } finally {
    redis.disconnect();
  }
  return out;
}
