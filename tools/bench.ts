// `npm run bench`: throughput and latency of put/get through Cluster beside
// raw lmdb-js in one thread, plus ring spread and movement. Not a test: the
// numbers depend on the machine. Several runs each (min/median/max), because
// on 2 cores the OS scheduler makes single runs bimodal.
// BENCH_QUICK=1: only the Cluster put/get rows (sync: 'periodic') and raw
// lmdb-js with ring-ordered keys, which the get targets are measured against.
// BENCH_ACTORS: actors of the put/get rows (default 5). `node dist/tools/bench-put.js`
// compares put cost across actor counts (BENCH_ACTORS=5,4,3).
import hdr from 'hdr-histogram-js';
import { open } from 'lmdb'; // the raw baseline only; ringkv itself reaches lmdb through src/storage
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../src/index.js';
import { ringPosition } from '../src/ring/hash.js';
import { ringKey } from '../src/storage/keys.js';
import { allocateTokens, Ring, type RingMember } from '../src/ring/ring.js';
import { benchRedisProtocol } from './bench-redis.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 100_000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 256);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SPREAD_KEYS = Number(process.env.BENCH_SPREAD_KEYS ?? 1_000_000);
const VALUE = Buffer.alloc(100, 0x61);
const QUICK = process.env.BENCH_QUICK === '1';
/** Actors of the put/get rows: 5 by default (the figures the README and issues compare); the library's own default is max(N, cores). */
const ACTORS = Number(process.env.BENCH_ACTORS ?? 5);

interface RunResult {
  opsPerSec: number;
  /** CPU time of the whole process (every thread: actors, LMDB writers, GC) per operation: the capacity figure on a saturated machine. */
  cpuUsPerOp: number;
  p50Ms: number;
  p99Ms: number;
}

/** Drive `op` over KEYS keys with IN_FLIGHT concurrent callers, recording each latency. */
async function drive(op: (i: number) => Promise<unknown> | unknown): Promise<RunResult> {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let next = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const caller = async (): Promise<void> => {
    while (next < KEYS) {
      const i = next++;
      const s = performance.now();
      await op(i);
      h.recordValue(Math.max(1, Math.round((performance.now() - s) * 1000))); // µs
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, caller));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const r = { opsPerSec: KEYS / seconds, cpuUsPerOp: (cpu.user + cpu.system) / KEYS, p50Ms: h.getValueAtPercentile(50) / 1000, p99Ms: h.getValueAtPercentile(99) / 1000 };
  h.destroy();
  return r;
}

function summary(runs: RunResult[]): { min: number; median: number; max: number; p50Ms: number; p99Ms: number; cpuUsPerOp: number } {
  const ops = runs.map((r) => r.opsPerSec).sort((a, b) => a - b);
  const mid = runs.slice().sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor(runs.length / 2)]!;
  return { min: ops[0]!, median: ops[Math.floor(ops.length / 2)]!, max: ops[ops.length - 1]!, p50Ms: mid.p50Ms, p99Ms: mid.p99Ms, cpuUsPerOp: mid.cpuUsPerOp };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * Each run loads the keys, then reads them all twice over the same data:
 * served directly (the default) and by coordinator actors (directReads:
 * false, the cluster restarted on the same directory). The order alternates
 * between runs, so neither path always gets the warmer page cache.
 */
async function clusterRuns(sync: 'always' | 'periodic'): Promise<{ put: RunResult[]; get: RunResult[]; getActor: RunResult[]; directShare: number }> {
  const put: RunResult[] = [];
  const get: RunResult[] = [];
  const getActor: RunResult[] = [];
  let direct = 0;
  let reads = 0;
  for (let run = 0; run < RUNS; run++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-bench-'));
    try {
      const order = run % 2 === 0 ? [true, false] : [false, true];
      for (const [i, directReads] of order.entries()) {
        const cluster = await Cluster.start({ dataDir, actors: ACTORS, n: 3, r: 2, w: 2, sync, directReads });
        try {
          if (i === 0) put.push(await drive((k) => cluster.put(`key:${k}`, VALUE)));
          (directReads ? get : getActor).push(await drive((k) => cluster.get(`key:${k}`)));
          if (directReads) {
            direct += cluster.readPaths().direct;
            reads += KEYS;
          }
        } finally {
          await cluster.close();
        }
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return { put, get, getActor, directShare: direct / reads };
}

/**
 * `ringOrder`: store each key as ringkv does (4-byte ring position + key), so
 * consecutive puts land on random B-tree pages as they do in an actor's env,
 * instead of the near-sequential order of `key:${i}` strings, where one
 * commit dirties few pages.
 */
async function rawRuns(noSync: boolean, ringOrder = false): Promise<{ put: RunResult[]; get: RunResult[] }> {
  const put: RunResult[] = [];
  const get: RunResult[] = [];
  const keyOf = ringOrder ? (i: number): Buffer => ringKey(Buffer.from(`key:${i}`)) : (i: number): string => `key:${i}`;
  for (let run = 0; run < RUNS; run++) {
    const path = mkdtempSync(join(tmpdir(), 'ringkv-bench-raw-'));
    // Same durability choices as an actor's env: fsync every commit, or commit only (noSync).
    const db = open<Buffer, string | Buffer>({ path, mapSize: 8 * 1024 ** 3, overlappingSync: false, noSync, encoding: 'binary', keyEncoding: ringOrder ? 'binary' : 'ordered-binary' });
    try {
      put.push(await drive((i) => db.put(keyOf(i), VALUE)));
      get.push(await drive((i) => db.get(keyOf(i))));
    } finally {
      await db.close();
      rmSync(path, { recursive: true, force: true });
    }
  }
  return { put, get };
}

function spreadAndMovement(): { maxOverMean: number; movedFraction: number; movedToNewOnly: boolean } {
  const members: RingMember[] = [];
  for (let id = 0; id < 5; id++) members.push({ id, zone: 'default', tokens: allocateTokens(members, id, 256) });
  const ring = Ring.build(members, 3);
  const ring6 = Ring.build([...members, { id: 5, zone: 'default', tokens: allocateTokens(members, 5, 256) }], 3);
  const held = new Array<number>(5).fill(0);
  let moved = 0;
  let movedToNewOnly = true;
  for (let i = 0; i < SPREAD_KEYS; i++) {
    const p = ringPosition(Buffer.from(`key:${i}`));
    const before = ring.preferenceList(p);
    const after = ring6.preferenceList(p);
    for (const a of before) held[a]!++;
    for (const a of after) {
      if (!before.includes(a)) {
        moved++;
        if (a !== 5) movedToNewOnly = false;
      }
    }
  }
  const mean = (SPREAD_KEYS * 3) / 5;
  return { maxOverMean: Math.max(...held) / mean, movedFraction: moved / (SPREAD_KEYS * 3), movedToNewOnly };
}

console.log(`ringkv bench: ${fmt(KEYS)} keys, 100-byte values, ${IN_FLIGHT} requests in flight, ${RUNS} runs each`);
console.log(`UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '(default 4)'}\n`);
const c = await clusterRuns('periodic');
const rawRing = await rawRuns(true, true);
const table = (rows: readonly (readonly [string, ReturnType<typeof summary>])[]): void =>
  console.table(
    Object.fromEntries(
      rows.map(([name, s]) => [name, { 'ops/s min': fmt(s.min), 'ops/s median': fmt(s.median), 'ops/s max': fmt(s.max), 'p50 ms': s.p50Ms.toFixed(2), 'p99 ms': s.p99Ms.toFixed(2), 'CPU µs/op': s.cpuUsPerOp.toFixed(1) }]),
    ),
  );
const direct = summary(c.get);
const ringGet = summary(rawRing.get);
const medianCpu = (runs: RunResult[]): number => runs.map((r) => r.cpuUsPerOp).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
const getRows = [
  [`Cluster get R=2, direct path (${ACTORS} actors, N=3)`, direct],
  ['Cluster get R=2, actor path (directReads: false)', summary(c.getActor)],
  ['raw lmdb-js get, ring-ordered keys (1 env, 1 thread)', ringGet],
] as const;
if (QUICK) {
  table([[`Cluster put (N=3 W=2, ${ACTORS} actors)`, summary(c.put)], ...getRows, ['raw lmdb-js put (1 env, 1 thread, noSync), ring-ordered keys', summary(rawRing.put)]]);
}
const getReport = (): void => {
  console.log(`direct path served ${(c.directShare * 100).toFixed(1)}% of the direct-path rows' reads`);
  console.log(
    `get R=2: direct ${medianCpu(c.get).toFixed(1)} CPU µs/op (median of runs; target <= 15), actor path ${medianCpu(c.getActor).toFixed(1)}; ` +
      `direct / raw ring-ordered get: ${(direct.median / ringGet.median).toFixed(3)}x ops/s, ${(medianCpu(rawRing.get) / medianCpu(c.get)).toFixed(3)}x CPU per op (target >= 0.25x)`,
  );
};
const putReport = (): void => {
  const put = summary(c.put);
  const raw = summary(rawRing.put);
  console.log(
    `put W=2 (${ACTORS} actors): ${medianCpu(c.put).toFixed(1)} CPU µs/op (median of runs; target <= 60); ` +
      `/ raw ring-ordered put: ${(put.median / raw.median).toFixed(3)}x ops/s (target >= 0.2x), ${(medianCpu(rawRing.put) / medianCpu(c.put)).toFixed(3)}x CPU per op`,
  );
};
if (QUICK) {
  getReport();
  putReport();
  process.exit(0);
}
const always = await clusterRuns('always');
const raw = await rawRuns(false);
const rawNoSync = await rawRuns(true);
table([
  [`Cluster put (N=3 W=2, ${ACTORS} actors)`, summary(c.put)],
  ...getRows,
  ['Cluster put, sync: always', summary(always.put)],
  ['Cluster get, sync: always (direct path)', summary(always.get)],
  ['raw lmdb-js put (1 env, 1 thread, fsync)', summary(raw.put)],
  ['raw lmdb-js put (1 env, 1 thread, noSync)', summary(rawNoSync.put)],
  ['raw lmdb-js put (1 env, 1 thread, noSync), ring-ordered keys', summary(rawRing.put)],
  ['raw lmdb-js get (sync, 1 thread)', summary(raw.get)],
]);
getReport();
putReport();
const putRatio = summary(c.put).median / summary(rawNoSync.put).median;
const getRatio = summary(c.get).median / summary(raw.get).median;
console.log(`ratio cluster/raw (median): put ${putRatio.toFixed(3)}x (vs raw noSync), put sync:always ${(summary(always.put).median / summary(raw.put).median).toFixed(3)}x (vs raw fsync), get ${getRatio.toFixed(3)}x`);
console.log(`ratio cluster put / raw put with ring-ordered keys (what an actor's env sees): ${(summary(c.put).median / summary(rawRing.put).median).toFixed(3)}x`);
console.log(`targets: cluster put >= 40,000/s and >= raw put; cluster get >= 80,000/s; get R=2 <= 15 CPU µs/op and >= 0.25x raw ring-ordered gets`);
console.log(`(CPU µs/op: CPU time of every thread of this process per operation; on a saturated 2-core machine, ops/s ≈ 2e6 / that.)`);
console.log(`(Cluster rows use the default sync: 'periodic' — acknowledged once committed, fsync every 100 ms;`);
console.log(` 'sync: always' fsyncs every group commit before acknowledging; raw lmdb-js fsyncs every commit.)`);

const s = spreadAndMovement();
console.log(`\nspread: 5 actors x 256 vnodes, N=3, ${fmt(SPREAD_KEYS)} keys: most loaded actor holds ${s.maxOverMean.toFixed(3)}x the mean (target <= 1.10)`);
console.log(`movement: adding a 6th actor moves ${(s.movedFraction * 100).toFixed(2)}% of key replicas (ideal 1/6 = 16.67%, bound 1.1/6 = 18.33%); all moves go to the new actor: ${s.movedToNewOnly}`);

/** Failures: throughput with one actor down (sloppy quorum + hints) beside healthy, and a wiped actor's convergence. */
async function failureBench(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-bench-faults-'));
  const cluster = await Cluster.start({ dataDir, actors: 5, n: 3, r: 2, w: 2, antiEntropyIntervalMs: 0 });
  try {
    const healthyPut = await drive((i) => cluster.put(`key:${i}`, VALUE));
    const healthyGet = await drive((i) => cluster.get(`key:${i}`));
    await cluster.faults.kill(2);
    const downPut = await drive((i) => cluster.put(`key:${i}`, VALUE, ));
    const downGet = await drive((i) => cluster.get(`key:${i}`));
    const hints = (await cluster.stats()).reduce((s, a) => s + a.hintsPending, 0);
    const handoffStart = performance.now();
    await cluster.faults.restart(2);
    while ((await cluster.stats()).reduce((s, a) => s + a.hintsPending, 0) > 0) await new Promise((r) => setTimeout(r, 50));
    const handoffMs = performance.now() - handoffStart;
    console.table({
      'put, healthy': { 'ops/s': fmt(healthyPut.opsPerSec), 'p99 ms': healthyPut.p99Ms.toFixed(2) },
      'put, actor 2 down (sloppy quorum, hints)': { 'ops/s': fmt(downPut.opsPerSec), 'p99 ms': downPut.p99Ms.toFixed(2) },
      'get, healthy': { 'ops/s': fmt(healthyGet.opsPerSec), 'p99 ms': healthyGet.p99Ms.toFixed(2) },
      'get, actor 2 down': { 'ops/s': fmt(downGet.opsPerSec), 'p99 ms': downGet.p99Ms.toFixed(2) },
    });
    console.log(`hints held while actor 2 was down: ${fmt(hints)}; handed off in ${(handoffMs / 1000).toFixed(2)} s after its restart`);
    const victimKeys = (await cluster.stats()).find((a) => a.id === 3)!.keys;
    await cluster.faults.wipe(3);
    const t0 = performance.now();
    const report = await cluster.repair();
    const seconds = (performance.now() - t0) / 1000;
    const cmp = await cluster.compareReplicas();
    console.log(
      `wiped actor 3 (held ${fmt(victimKeys)} keys): one repair pass in ${seconds.toFixed(2)} s moved ${fmt(report.keysSent)} keys / ${fmt(report.bytesSent)} bytes ` +
        `(of ${fmt(report.keysCompared)} keys compared); replicas identical afterwards: ${cmp.divergent.length === 0}`,
    );
  } finally {
    await cluster.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

console.log(`\nfailures: ${fmt(KEYS)} keys, 5 actors, N=3 R=2 W=2`);
await failureBench();

await benchRedisProtocol();
