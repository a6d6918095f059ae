// `npm run bench:memory`: does memory stay flat while the data set grows?
// Loads BENCH_MEMORY_KEYS keys (default 2,000,000) with 100-byte values
// through the public Cluster API (5 actors, N=3, W=2) and samples every ~2 s
// the process's RSS split into anonymous and file-backed memory
// (/proc/self/status covers every worker thread of the process), plus the
// main thread's heap. Anonymous memory (JS heaps + native allocations) must
// not grow with the data; file-backed RSS (LMDB's mmapped pages) may, since
// the OS reclaims it under pressure. Not a test: exit code 0 whatever it finds.
//
// Knobs (env): BENCH_MEMORY_KEYS, BENCH_MEMORY_IN_FLIGHT (512),
// BENCH_MEMORY_SAMPLE_MS (2000), BENCH_MEMORY_IDLE_MS (60000: idle time
// sampled after the load, periodic anti-entropy passes included, and judged
// against the settled end of the load by the same 15% rule),
// BENCH_MEMORY_TTL_MS (every key written with this ttlMs: a workload of
// expiring keys only) and BENCH_MEMORY_GRACE_MS (the cluster's
// tombstoneGraceMs, which also delays collecting expired values),
// BENCH_MEMORY_BACKGROUND_MIN_PER_SEC (the cluster's backgroundMinPerSec),
// BENCH_MEMORY_CACHE_BYTES and
// BENCH_MEMORY_MAP_SIZE_MIB (Cluster's cacheBytes / mapSizeBytes; default:
// the cluster's own defaults), BENCH_MEMORY_KEEP_DIR=1 (keep the data dir).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type ClusterOptions } from '../src/index.js';
import { putWithRetry, type RetryCounts } from './put-with-retry.js';
import { diskUsage, fmt, intEnv, mib, MiB, optionalIntEnv, procMemory, type ProcMemory } from './measure.js';
import { flatLine, judgePhases } from './memory-verdict.js';

const KEYS = intEnv('BENCH_MEMORY_KEYS', 2_000_000);
const IN_FLIGHT = intEnv('BENCH_MEMORY_IN_FLIGHT', 512);
const SAMPLE_MS = Math.max(1, intEnv('BENCH_MEMORY_SAMPLE_MS', 2000));
const IDLE_MS = intEnv('BENCH_MEMORY_IDLE_MS', 60_000);
const CACHE_BYTES = optionalIntEnv('BENCH_MEMORY_CACHE_BYTES');
const MAP_SIZE_MIB = optionalIntEnv('BENCH_MEMORY_MAP_SIZE_MIB');
const TTL_MS = optionalIntEnv('BENCH_MEMORY_TTL_MS');
const GRACE_MS = optionalIntEnv('BENCH_MEMORY_GRACE_MS');
const BACKGROUND_MIN_PER_SEC = optionalIntEnv('BENCH_MEMORY_BACKGROUND_MIN_PER_SEC');
const FLAT_LIMIT = 0.15; // anonymous memory may grow < 15% between 25% and 100% of the load
const VALUE = Buffer.alloc(100, 0x61);

interface Sample extends ProcMemory {
  label: string;
  seconds: number;
  keys: number;
  heapUsed: number;
  /** Writes queued or uncommitted in the actors' stores (the pending overlay), summed. */
  pendingWrites: number;
  /** Replicas stored, summed over actors (~N x keys once settled). */
  storedReplicas: number;
}

/** BENCH_ANTI_ENTROPY_MS: the background anti-entropy interval (0 = off), to tell its memory from the load's. */
const ANTI_ENTROPY_MS = optionalIntEnv('BENCH_ANTI_ENTROPY_MS');
const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-bench-memory-'));
const options: ClusterOptions = {
  dataDir,
  actors: 5,
  n: 3,
  w: 2,
  ...(CACHE_BYTES !== undefined ? { cacheBytes: CACHE_BYTES } : {}),
  ...(MAP_SIZE_MIB !== undefined ? { mapSizeBytes: MAP_SIZE_MIB * MiB } : {}),
  ...(ANTI_ENTROPY_MS !== undefined ? { antiEntropyIntervalMs: ANTI_ENTROPY_MS } : {}),
  ...(GRACE_MS !== undefined ? { tombstoneGraceMs: GRACE_MS } : {}),
  ...(BACKGROUND_MIN_PER_SEC !== undefined ? { backgroundMinPerSec: BACKGROUND_MIN_PER_SEC } : {}),
};
const gc = (globalThis as { gc?: () => void }).gc;

console.log(`ringkv bench:memory: ${fmt(KEYS)} keys, 100-byte values${TTL_MS !== undefined ? `, each expiring after ${TTL_MS} ms` : ''}, 5 actors, N=3 W=2, ${IN_FLIGHT} requests in flight`);
console.log(
  `cacheBytes=${CACHE_BYTES ?? '(default)'} mapSize=${MAP_SIZE_MIB !== undefined ? `${MAP_SIZE_MIB} MiB` : '(default)'} ` +
    `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '(default 4)'} gc=${gc ? 'exposed' : 'not exposed (run with --expose-gc)'}`,
);
console.log(`dataDir=${dataDir}\n`);

const before = procMemory();
const t0 = performance.now();
const cluster = await Cluster.start(options);
const started = procMemory();

let acked = 0;
let failed = 0;
const counts: RetryCounts = { refusals: 0, retriedPuts: 0 };
const MAX_RETRIES = 50;
const failures = new Map<string, number>();
const samples: Sample[] = [];
let sampling = false;

async function sample(label: string): Promise<Sample> {
  gc?.(); // main thread only: makes heapUsed the live heap, not garbage
  let pendingWrites = NaN;
  let storedReplicas = NaN;
  try {
    const stats = await cluster.stats();
    pendingWrites = stats.reduce((s, a) => s + a.pendingWrites, 0);
    storedReplicas = stats.reduce((s, a) => s + a.keys, 0);
  } catch {
    // a stats call that fails (actor down) leaves NaN in the table
  }
  const s: Sample = { label, seconds: (performance.now() - t0) / 1000, keys: acked, heapUsed: process.memoryUsage().heapUsed, pendingWrites, storedReplicas, ...procMemory() };
  samples.push(s);
  return s;
}

let lastLineMs = 0;
function progress(): void {
  const secs = (performance.now() - t0) / 1000;
  const line = `  ${fmt(acked)} / ${fmt(KEYS)} keys (${((acked / KEYS) * 100).toFixed(1)}%), ${fmt(acked / secs)}/s, refused ${fmt(counts.refusals)}, failed ${fmt(failed)}`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line}   `);
  else if (performance.now() - lastLineMs >= 10_000) {
    // not a terminal (CI, a log file): a line every 10 s, so a long run never looks stuck
    lastLineMs = performance.now();
    console.log(line);
  }
}

const timer = setInterval(() => {
  progress();
  if (sampling) return; // a stats round trip still running (overloaded actors): skip this tick
  sampling = true;
  sample('').finally(() => (sampling = false));
}, SAMPLE_MS);

// The 25% mark is sampled exactly when the 25%-th key is acknowledged.
const quarter = Math.max(1, Math.floor(KEYS / 4));
let quarterSample: Promise<Sample> | undefined;

let next = 0;
const loadStart = performance.now();
const caller = async (): Promise<void> => {
  while (next < KEYS) {
    const i = next++;
    try {
      await putWithRetry(cluster, `mem:${i}`, VALUE, MAX_RETRIES, counts, TTL_MS !== undefined ? { ttlMs: TTL_MS } : {});
      acked++;
      if (acked === quarter) quarterSample = sample('25%');
    } catch (err) {
      failed++;
      const name = (err as Error).name ?? 'Error';
      failures.set(name, (failures.get(name) ?? 0) + 1);
    }
  }
};
await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, KEYS) }, caller));
const loadSeconds = (performance.now() - loadStart) / 1000;
clearInterval(timer);
if (process.stderr.isTTY) process.stderr.write('\n');
while (sampling) await new Promise((r) => setTimeout(r, 10));
const q = await (quarterSample ?? sample('25%'));
const full = await sample('100%');

// Settle: let the third replicas' writes (W=2 acknowledges before them) commit.
const settleStart = performance.now();
while (performance.now() - settleStart < 60_000) {
  const stats = await cluster.stats();
  if (stats.every((a) => a.pendingWrites === 0 && a.pendingOps === 0)) break;
  await new Promise((r) => setTimeout(r, 100));
}
const settled = await sample('settled');
// Idle: no requests, but the periodic anti-entropy passes run. Sampled all
// through (at SAMPLE_MS) and judged like the load: the background must not
// grow anonymous memory either.
const idleStart = performance.now();
const passesBefore = cluster.repairs;
let idle = settled;
let idleMaxAnon = settled.anon;
let idleSeconds = 0;
while (performance.now() - idleStart < IDLE_MS) {
  await new Promise((r) => setTimeout(r, Math.min(SAMPLE_MS, IDLE_MS)));
  idle = await sample('idle');
  idleMaxAnon = Math.max(idleMaxAnon, idle.anon);
  idleSeconds = (performance.now() - idleStart) / 1000;
  const line = `  idle ${idleSeconds.toFixed(0)} / ${(IDLE_MS / 1000).toFixed(0)} s: anon ${mib(idle.anon)} MiB (max ${mib(idleMaxAnon)}), file ${mib(idle.file)} MiB, anti-entropy passes ${cluster.repairs - passesBefore}`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line}   `);
  else if (performance.now() - lastLineMs >= 10_000) {
    lastLineMs = performance.now();
    console.log(line);
  }
}
if (process.stderr.isTTY) process.stderr.write('\n');
const idlePasses = cluster.repairs - passesBefore;
const heldPeak = cluster.antiEntropyHeldPeak;

await cluster.close();
const closed = procMemory();
const disk = diskUsage(dataDir);
if (process.env.BENCH_MEMORY_KEEP_DIR === '1') console.log(`kept ${dataDir}`);
else rmSync(dataDir, { recursive: true, force: true });
const totalSeconds = (performance.now() - t0) / 1000;

console.table(
  samples
    .slice()
    .sort((a, b) => a.seconds - b.seconds)
    .map((s) => ({
      mark: s.label,
      't s': s.seconds.toFixed(1),
      keys: fmt(s.keys),
      '% load': ((s.keys / KEYS) * 100).toFixed(1),
      'RSS MiB': mib(s.rss),
      'anon MiB': mib(s.anon),
      'file MiB': mib(s.file),
      'shmem MiB': mib(s.shmem),
      'heapUsed MiB': mib(s.heapUsed),
      'pending writes': Number.isNaN(s.pendingWrites) ? '?' : fmt(s.pendingWrites),
      replicas: Number.isNaN(s.storedReplicas) ? '?' : fmt(s.storedReplicas),
    })),
);

console.log(`\nprocess before Cluster.start: RSS ${mib(before.rss)} MiB (anon ${mib(before.anon)}, file ${mib(before.file)})`);
console.log(`after Cluster.start:          RSS ${mib(started.rss)} MiB (anon ${mib(started.anon)}, file ${mib(started.file)})`);
console.log(`after close:                  RSS ${mib(closed.rss)} MiB (anon ${mib(closed.anon)}, file ${mib(closed.file)})`);
console.log(
  `load: ${fmt(acked)} keys acknowledged, ${fmt(failed)} failed${failed > 0 ? ` (${[...failures].map(([k, v]) => `${k}: ${fmt(v)}`).join(', ')})` : ''}, ` +
    `${loadSeconds.toFixed(1)} s (${fmt(acked / loadSeconds)} puts/s); total run ${totalSeconds.toFixed(1)} s`,
);
console.log(`refused (OverloadedError, retried after a backoff) ${fmt(counts.refusals)} times; ${fmt(counts.retriedPuts)} puts needed a retry; ${fmt(failed)} failed or timed out`);
console.log(`data dir on disk: ${mib(disk.allocated)} MiB allocated (du), ${mib(disk.apparent)} MiB apparent, ${fmt(settled.storedReplicas)} replicas stored`);

// Verdict: anonymous memory between the 25% and 100% marks.
const loadedMillions = (full.keys - q.keys) / 1e6;
const anonGrowth = full.anon - q.anon;
const anonRatio = anonGrowth / q.anon;
const fileGrowth = full.file - q.file;
const perMillion = (bytes: number): string => (loadedMillions > 0 ? (bytes / MiB / loadedMillions).toFixed(1) : 'n/a');
console.log(`\nverdict (25% mark at ${fmt(q.keys)} keys vs 100% mark at ${fmt(full.keys)} keys):`);
console.log(
  `  anonymous (JS heaps + native): ${mib(q.anon)} -> ${mib(full.anon)} MiB: ${anonGrowth >= 0 ? '+' : ''}${mib(anonGrowth)} MiB ` +
    `(${(anonRatio * 100).toFixed(1)}%), ${perMillion(anonGrowth)} MiB per million keys; ` +
    `settled: ${mib(settled.anon)} MiB; after ${idleSeconds.toFixed(0)} s idle: ${mib(idle.anon)} MiB`,
);
console.log(
  `  file-backed (mmapped LMDB pages, reclaimable): ${mib(q.file)} -> ${mib(full.file)} MiB: ${fileGrowth >= 0 ? '+' : ''}${mib(fileGrowth)} MiB, ` +
    `${perMillion(fileGrowth)} MiB per million keys`,
);
console.log(`  main-thread heapUsed: ${mib(q.heapUsed)} -> ${mib(full.heapUsed)} MiB`);
// Idle: the highest anonymous memory sampled while idle against the settled end of the load.
const [idleVerdict] = judgePhases(settled.anon, NaN, [{ name: 'idle', maxAnonBytes: idleMaxAnon, p99Ms: NaN }]);
console.log(
  `  idle (${idleSeconds.toFixed(0)} s, ${idlePasses} anti-entropy passes, each holding at most ${mib(heldPeak.bytes)} MiB of trees and ranges): ` +
    `anonymous ${mib(settled.anon)} MiB settled, at most ${mib(idleMaxAnon)} MiB while idle`,
);
console.log(`  ${flatLine([idleVerdict!]).replace('in every phase', 'while idle')}${idlePasses === 0 ? ' (no pass finished: raise BENCH_MEMORY_IDLE_MS)' : ''}`);
console.log(
  anonRatio < FLAT_LIMIT
    ? `  FLAT: anonymous memory grew ${(anonRatio * 100).toFixed(1)}% (< ${FLAT_LIMIT * 100}%) while the data grew ${(full.keys / Math.max(1, q.keys)).toFixed(1)}x`
    : `  GROWING: anonymous memory grew ${(anonRatio * 100).toFixed(1)}% (>= ${FLAT_LIMIT * 100}%) while the data grew ${(full.keys / Math.max(1, q.keys)).toFixed(1)}x`,
);
process.exitCode = 0;
