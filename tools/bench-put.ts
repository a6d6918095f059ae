// `node dist/tools/bench-put.js`: Cluster.put cost only, beside raw lmdb-js
// puts of ring-ordered keys with the same number in flight, runs alternating
// so a drift in machine load hits every row alike. Prints each run, then the
// median per row: ops/s, CPU µs/op (every thread of the process), writes per
// group commit, and the ratio to the raw row (CPU per op and ops/s).
// BENCH_ACTORS=5,3 (actor counts to compare, one row each), BENCH_RUNS,
// BENCH_KEYS, BENCH_IN_FLIGHT, BENCH_SYNC_MS (the periodic fsync interval).
import { open } from 'lmdb'; // the raw baseline only
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../src/index.js';
import { ringKey } from '../src/storage/keys.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 100_000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 256);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ACTORS = (process.env.BENCH_ACTORS ?? '5').split(',').map(Number);
const VALUE = Buffer.alloc(100, 0x61);
const SYNC_MS = process.env.BENCH_SYNC_MS === undefined ? undefined : Number(process.env.BENCH_SYNC_MS);

interface Run {
  opsPerSec: number;
  cpuUsPerOp: number;
  writesPerCommit: number;
}

async function drive(op: (i: number) => Promise<unknown>): Promise<{ opsPerSec: number; cpuUsPerOp: number }> {
  let next = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const caller = async (): Promise<void> => {
    while (next < KEYS) await op(next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, caller));
  const cpu = process.cpuUsage(cpu0);
  return { opsPerSec: KEYS / ((performance.now() - t0) / 1000), cpuUsPerOp: (cpu.user + cpu.system) / KEYS };
}

async function clusterRun(actors: number): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-bench-put-'));
  try {
    const cluster = await Cluster.start({ dataDir, actors, n: 3, r: 2, w: 2, sync: 'periodic', ...(SYNC_MS === undefined ? {} : { syncIntervalMs: SYNC_MS }) });
    try {
      const r = await drive((k) => cluster.put(`key:${k}`, VALUE));
      const stats = await cluster.stats();
      const commits = stats.reduce((s, a) => s + a.commits, 0);
      const writes = stats.reduce((s, a) => s + a.committedWrites, 0);
      return { ...r, writesPerCommit: writes / commits };
    } finally {
      await cluster.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function rawRun(): Promise<Run> {
  const path = mkdtempSync(join(tmpdir(), 'ringkv-bench-put-raw-'));
  const db = open<Buffer, Buffer>({ path, mapSize: 8 * 1024 ** 3, overlappingSync: false, noSync: true, encoding: 'binary', keyEncoding: 'binary' });
  try {
    return { ...(await drive((i) => db.put(ringKey(Buffer.from(`key:${i}`)), VALUE))), writesPerCommit: NaN };
  } finally {
    await db.close();
    rmSync(path, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows = new Map<string, Run[]>();
const record = (name: string, r: Run): void => {
  rows.set(name, [...(rows.get(name) ?? []), r]);
  console.log(`${name}: ${Math.round(r.opsPerSec)} ops/s, ${r.cpuUsPerOp.toFixed(1)} CPU µs/op, ${r.writesPerCommit.toFixed(0)} writes/commit`);
};
console.log(`bench-put: ${KEYS} keys, 100-byte values, ${IN_FLIGHT} in flight, N=3 W=2, actors ${ACTORS.join('/')}, ${RUNS} runs`);
for (let run = 0; run < RUNS; run++) {
  record('raw lmdb-js put, ring-ordered keys', await rawRun());
  const order = run % 2 === 0 ? ACTORS : ACTORS.slice().reverse();
  for (const a of order) record(`Cluster put, ${a} actors`, await clusterRun(a));
}
const raw = rows.get('raw lmdb-js put, ring-ordered keys')!;
const rawCpu = median(raw.map((r) => r.cpuUsPerOp));
const rawOps = median(raw.map((r) => r.opsPerSec));
console.log('\nmedians:');
for (const [name, runs] of rows) {
  const cpu = median(runs.map((r) => r.cpuUsPerOp));
  const ops = median(runs.map((r) => r.opsPerSec));
  const cpus = runs.map((r) => r.cpuUsPerOp.toFixed(0)).join('/');
  console.log(
    `${name}: ${Math.round(ops)} ops/s, ${cpu.toFixed(1)} CPU µs/op (runs ${cpus}), ${median(runs.map((r) => r.writesPerCommit)).toFixed(0)} writes/commit; ` +
      `vs raw: ${(rawCpu / cpu).toFixed(3)}x CPU per op, ${(ops / rawOps).toFixed(3)}x ops/s`,
  );
}
