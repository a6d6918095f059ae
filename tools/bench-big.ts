// `npm run bench:big`: does memory stay flat, and latency steady, with a
// data set far larger than memory, through every background job? Loads
// --keys keys (default 20 M, 100-byte values) through the public Cluster
// API, then, with a light foreground load (gets and overwrites of loaded
// keys at --light-rate ops/s) running throughout:
//   quiet   --quiet-s seconds with no background job,
//   pass 1, pass 2  two full anti-entropy passes (cluster.repair(): the
//           code a periodic pass runs; driven here so each has a phase),
//   add     an actor added (streaming handoff) and the cleanup after it,
//   remove  that actor decommissioned, and the cleanup after it.
// Memory (anonymous and file-backed, /proc/self/status, every thread) is
// sampled every --sample-ms; the goal is anonymous memory within 15% of its
// end-of-load value in every later phase, and the light load's p99 in the
// passes and handoffs within 2x of the quiet phase. Not a test: the verdict
// is printed, the exit code is 0 unless a request failed.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { Command, InvalidArgumentError } from 'commander';
import { Cluster } from '../src/index.js';
import { putWithRetry, type RetryCounts } from './put-with-retry.js';
import { anonBreakdown, diskUsage, fmt, Latencies, mib, procMemory, type ProcMemory } from './measure.js';
import { flatLine, judgePhases, FLAT_LIMIT, P99_FACTOR } from './memory-verdict.js';

function nonNegativeInt(raw: string): number {
  const v = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return v;
}

function collectOption(raw: string, into: Record<string, unknown>): Record<string, unknown> {
  const eq = raw.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError('expected name=value');
  const text = raw.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text; // a bare word is a string
  }
  return { ...into, [raw.slice(0, eq)]: value };
}

const o = new Command('bench:big')
  .option('--keys <n>', 'keys to load', nonNegativeInt, 20_000_000)
  .option('--actors <n>', 'actors', nonNegativeInt, 5)
  .option('--in-flight <n>', 'concurrent callers while loading', nonNegativeInt, 512)
  .option('--light-rate <n>', 'foreground ops/s after the load (half gets, half overwrites)', nonNegativeInt, 200)
  .option('--quiet-s <s>', 'seconds of the quiet phase (no background job)', nonNegativeInt, 30)
  .option('--sample-ms <ms>', 'memory sampling interval', nonNegativeInt, 2000)
  .option('--max-retries <n>', 'retries of one refused put before it counts as failed', nonNegativeInt, 50)
  .option('--anti-entropy-memory-mib <n>', "a pass's memory budget (Cluster's antiEntropyMemoryBytes; default: the cluster's)", nonNegativeInt)
  .option('--actor-young-mib <n>', "each actor thread's V8 young generation (Cluster's actorYoungGenerationMiB; default: the cluster's)", nonNegativeInt)
  .option('--actor-old-mib <n>', "each actor thread's V8 old-generation limit (Cluster's actorOldGenerationMiB; default: the cluster's)", nonNegativeInt)
  .option('--chunk-entries <n>', "entries a background job reads and sends in one actor turn (Cluster's backgroundChunkEntries; default: the cluster's)", nonNegativeInt)
  .option('--set <name=value>', 'any other Cluster option, its value as JSON (repeatable): --set backgroundMaxPerSec=5000', collectOption, {})
  .option('--skip-passes', 'no anti-entropy phases: quiet, then add and remove')
  .option('--skip-handoff', 'no add and remove: quiet, then the passes')
  .option('--keep-dir', 'keep the data directory')
  .option('--timeline <file>', 'write every sample as a JSON line: anonymous memory by kind (/proc/self/smaps: malloc arenas, stacks, other), each actor\'s V8 heap, and the light load\'s p99 since the last sample, gets and puts apart')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<{ keys: number; actors: number; inFlight: number; lightRate: number; quietS: number; sampleMs: number; maxRetries: number; antiEntropyMemoryMib?: number; actorYoungMib?: number; actorOldMib?: number; chunkEntries?: number; set: Record<string, unknown>; skipPasses?: boolean; skipHandoff?: boolean; keepDir?: boolean; timeline?: string }>();

const VALUE = Buffer.alloc(100, 0x61);
const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-bench-big-'));
console.log(`ringkv bench:big: ${fmt(o.keys)} keys, 100-byte values, ${o.actors} actors, N=3 W=2; then ${o.lightRate} ops/s of light load through quiet, two passes, add and remove`);
console.log(`UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '(default 4)'} MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '(glibc default: 8 x cores)'} dataDir=${dataDir}\n`);

const cluster = await Cluster.start({
  dataDir,
  actors: o.actors,
  n: 3,
  w: 2,
  // Periodic passes on, as in a deployment (so the Merkle thread starts with the cluster), but
  // never due during a run: the passes are driven below, one phase each.
  antiEntropyIntervalMs: 24 * 3600_000,
  ...(o.antiEntropyMemoryMib !== undefined ? { antiEntropyMemoryBytes: o.antiEntropyMemoryMib * 1024 * 1024 } : {}),
  ...(o.actorYoungMib !== undefined ? { actorYoungGenerationMiB: o.actorYoungMib } : {}),
  ...(o.actorOldMib !== undefined ? { actorOldGenerationMiB: o.actorOldMib } : {}),
  ...(o.chunkEntries !== undefined ? { backgroundChunkEntries: o.chunkEntries } : {}),
  ...o.set,
});

// ---- phases and what is measured in each ----

interface Phase {
  readonly name: string;
  readonly startMs: number;
  endMs: number;
  ops: number;
  readonly latency: Latencies;
  readonly memory: ProcMemory[];
  /** V8 heaps sampled with the memory: every actor's together, and the main thread's (the rest of anonymous memory is native: malloc, LMDB, thread stacks). */
  readonly heaps: { actors: number; main: number; actorCount: number }[];
  /**
   * Anonymous memory less the V8 heaps of actors started after the load (an
   * added actor: its heap is measured, by its own stats, at the same moment
   * as the memory). Its native memory (thread, Node environment, LMDB env)
   * is not taken out: that stays in.
   */
  readonly withoutAdded: number[];
  /** The added actors' V8 heaps at those moments. */
  readonly addedHeaps: number[];
  note: string;
}
const phases: Phase[] = [];
const t0 = performance.now();
if (o.timeline !== undefined) writeFileSync(o.timeline, '');
let phase: Phase;
function startPhase(name: string): Phase {
  const now = performance.now();
  if (phases.length > 0) phases[phases.length - 1]!.endMs = now;
  const p: Phase = { name, startMs: now, endMs: now, ops: 0, latency: new Latencies(), memory: [procMemory()], heaps: [], withoutAdded: [], addedHeaps: [], note: '' };
  phases.push(p);
  phase = p;
  return p;
}

phase = startPhase('load');
let loaded = 0;
let failed = 0;
const failures = new Map<string, number>();
const counts: RetryCounts = { refusals: 0, retriedPuts: 0 };
function fail(err: unknown): void {
  failed++;
  const name = (err as Error).name ?? 'Error';
  failures.set(name, (failures.get(name) ?? 0) + 1);
  if (failures.get(name) === 1) console.log(`\n  first ${name} (${phase.name}): ${(err as Error).message}`);
}

/** The light load's latencies since the last timeline sample, gets and puts apart (at most lightRate x sampleMs each). */
const lightWindow = { get: [] as number[], put: [] as number[] };
const windowP99 = (ms: number[]): number | null => (ms.length === 0 ? null : ms.sort((a, b) => a - b)[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))]!);

/** The actors there at the end of the load (set then). */
let loadedActors: Set<number> | null = null;
let sampling = false;
const sampler = setInterval(() => {
  phase.memory.push(procMemory());
  if (sampling) return; // a busy cluster answers stats late: one request at a time
  sampling = true;
  const p = phase;
  cluster
    .stats({ timeoutMs: o.sampleMs * 5 })
    .then((stats) => {
      p.heaps.push({ actors: stats.reduce((sum, a) => sum + a.heapBytes, 0), main: getHeapStatistics().total_physical_size, actorCount: stats.length });
      const m = procMemory();
      if (loadedActors !== null) {
        const added = stats.filter((a) => !loadedActors!.has(a.id)).reduce((sum, a) => sum + a.heapBytes, 0);
        p.withoutAdded.push(m.anon - added);
        p.addedHeaps.push(added);
      }
      if (o.timeline === undefined) return;
      const main = getHeapStatistics();
      const light = { gets: lightWindow.get.length, puts: lightWindow.put.length, getP99Ms: windowP99(lightWindow.get), putP99Ms: windowP99(lightWindow.put) };
      lightWindow.get.length = 0;
      lightWindow.put.length = 0;
      appendFileSync(
        o.timeline,
        `${JSON.stringify({
          t: Math.round(performance.now() - t0),
          phase: p.name,
          anon: m.anon,
          file: m.file,
          threads: m.threads,
          ...anonBreakdown(),
          mainHeap: main.total_physical_size,
          mainExternal: (main as { external_memory?: number }).external_memory ?? 0,
          light,
          actors: stats.map((a) => ({ id: a.id, keys: a.keys, heap: a.heapBytes, used: a.heapUsedBytes, ext: a.externalBytes, young: a.heapNewSpaceBytes, old: a.heapOldSpaceBytes, cached: a.cachedBytes, pendingWrites: a.pendingWrites, budgetPerSec: a.backgroundBudgetPerSec })),
        })}\n`,
      );
    })
    .catch(() => undefined)
    .finally(() => (sampling = false));
}, o.sampleMs);

// ---- progress line ----

const bar = new cliProgress.SingleBar(
  {
    format: ' {phase} |{bar}| {value}/{total} keys  {elapsed}s  {rate}  anon {anon} MiB  file {file} MiB  p99 {p99} ms  failed {failed}',
    hideCursor: true,
    noTTYOutput: true, // a log file gets a line every notTTYSchedule ms
    notTTYSchedule: 15_000,
    clearOnComplete: false,
    etaBuffer: 50,
  },
  cliProgress.Presets.shades_classic,
);
bar.start(o.keys, 0, { phase: 'load'.padEnd(7), elapsed: 0, rate: '', anon: '', file: '', p99: '', failed: 0 });
const ticker = setInterval(() => {
  const m = phase.memory[phase.memory.length - 1]!;
  const secs = (performance.now() - phase.startMs) / 1000;
  const rate = phase.name === 'load' ? `${fmt(loaded / Math.max(secs, 0.001))} puts/s` : `${fmt(phase.ops / Math.max(secs, 0.001))} ops/s`;
  const p99 = phase.latency.percentileMs(99);
  bar.update(loaded, { phase: phase.name.padEnd(7), elapsed: ((performance.now() - t0) / 1000).toFixed(0), rate, anon: mib(m.anon), file: mib(m.file), p99: Number.isNaN(p99) ? '-' : p99.toFixed(1), failed });
}, 1000);

// ---- the load ----

let next = 0;
await Promise.all(
  Array.from({ length: Math.min(o.inFlight, o.keys) }, async () => {
    while (next < o.keys) {
      const i = next++;
      const started = performance.now();
      try {
        await putWithRetry(cluster, `big:${i}`, VALUE, o.maxRetries, counts);
        loaded++;
        phase.ops++;
        phase.latency.recordMs(performance.now() - started);
      } catch (err) {
        fail(err);
      }
    }
  }),
);
// settle: the third replicas' writes (W=2 acknowledged before them) commit
for (const settleStart = performance.now(); performance.now() - settleStart < 120_000; await new Promise((r) => setTimeout(r, 200))) {
  const stats = await cluster.stats({ timeoutMs: 5000 });
  if (stats.every((a) => a.pendingWrites === 0 && a.pendingOps === 0)) break;
}
phase.memory.push(procMemory());
const endOfLoad = procMemory();
loadedActors = new Set((await cluster.stats({ timeoutMs: 5000 })).map((a) => a.id));

// ---- light foreground load for every later phase ----

let lightRunning = true;
const light = (async () => {
  const intervalMs = o.lightRate > 0 ? 1000 / o.lightRate : 0;
  let n = 0;
  let due = performance.now();
  const inFlight = new Set<Promise<void>>();
  while (lightRunning && o.lightRate > 0 && loaded > 0) {
    due += intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const key = `big:${Math.floor(Math.random() * loaded)}`;
    const p = phase;
    const started = performance.now();
    const isGet = n++ % 2 === 0;
    const op = (isGet ? cluster.get(key).then(() => undefined) : putWithRetry(cluster, key, VALUE, o.maxRetries, counts)).then(
      () => {
        const ms = performance.now() - started;
        p.ops++;
        p.latency.recordMs(ms);
        const w = isGet ? lightWindow.get : lightWindow.put;
        if (o.timeline !== undefined && w.length < 100_000) w.push(ms);
      },
      fail,
    );
    inFlight.add(op);
    void op.finally(() => inFlight.delete(op));
    if (inFlight.size >= 256) await Promise.race(inFlight); // a stalled cluster does not pile up requests
  }
  await Promise.all(inFlight);
})();

/** The add (its stream, then its cleanup as a phase of its own) and the remove of that actor. */
async function handoffPhases(): Promise<void> {
  const p = startPhase('add');
  const r = await cluster.addActor();
  p.note = `actor ${r.added.join()} streamed ${fmt(r.keysStreamed)} entries in ${(r.durationMs / 1000).toFixed(0)} s`;
  // the cleanup the change started (cleanupAfterChange) is a phase of its own: it loads other threads than the stream
  const pc = startPhase('add: cleanup');
  const c = await cluster.cleanup(); // joins the cleanup the change started
  pc.note = `removed ${fmt(c.removed)} entries`;
  const q = startPhase('remove');
  const rr = await cluster.removeActor(r.added[0]!);
  const cc = await cluster.cleanup(); // removes little or nothing: the removed actor's copies went with it
  q.note = `streamed ${fmt(rr.keysStreamed)} entries in ${(rr.durationMs / 1000).toFixed(0)} s; cleanup removed ${fmt(cc.removed)}`;
}

startPhase('quiet');
await new Promise((r) => setTimeout(r, o.quietS * 1000));
// A phase that fails (a change refused, a pass cut short) ends the run's phases, not the run: what was
// measured is still printed, and the data directory is still removed.
let phaseError: Error | null = null;
try {
  for (const name of o.skipPasses === true ? [] : ['pass 1', 'pass 2']) {
    const p = startPhase(name);
    const r = await cluster.repair();
    p.note = `compared ${fmt(r.keysCompared)} entries, held ${mib(r.heldPeak.bytes)} MiB (${fmt(r.heldPeak.trees)} trees), pushed ${fmt(r.keysSent)}`;
  }
  if (o.skipHandoff !== true) await handoffPhases();
} catch (err) {
  phaseError = err as Error;
  phase.note = `FAILED: ${phaseError.message}`;
}
phase.memory.push(procMemory());
phase.endMs = performance.now();
lightRunning = false;
await light;
clearInterval(sampler);
clearInterval(ticker);
bar.stop();
const stats = await cluster.stats();
await cluster.close();
const closed = procMemory();
const disk = diskUsage(dataDir);
if (o.keepDir) console.log(`kept ${dataDir}`);
else rmSync(dataDir, { recursive: true, force: true });

// ---- summary ----

const quiet = phases.find((p) => p.name === 'quiet')!;
const later = phases.filter((p) => p.name !== 'load');
const verdicts = judgePhases(
  endOfLoad.anon,
  quiet.latency.percentileMs(99),
  later.map((p) => ({ name: p.name, maxAnonBytes: Math.max(...p.memory.map((m) => m.anon)), p99Ms: p.latency.percentileMs(99) })),
);
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const colour = process.stdout.isTTY === true && (process.env.NO_COLOR ?? '') === '';
const table = new Table({
  head: ['phase', 's', 'ops', 'ops/s', 'p50 ms', 'p99 ms', 'p99 / quiet', 'anon MiB min-max', 'vs end of load', 'without added actors\' heaps (their max MiB)', 'V8 heaps MiB max: actors (n) / main', 'file MiB max', 'note'],
  ...(colour ? {} : { style: { head: [] as string[], border: [] as string[] } }),
});
for (const p of phases) {
  const secs = (p.endMs - p.startMs) / 1000;
  const anon = p.memory.map((m) => m.anon);
  const v = verdicts.find((x) => x.name === p.name);
  table.push([
    p.name,
    secs.toFixed(0),
    fmt(p.ops),
    fmt(p.ops / Math.max(secs, 0.001)),
    p.latency.percentileMs(50).toFixed(1),
    p.latency.percentileMs(99).toFixed(1),
    v === undefined || Number.isNaN(v.p99Ratio) ? '' : `${v.p99Ratio.toFixed(2)}x${v.p99Ok ? '' : ' !'}`,
    `${mib(Math.min(...anon))}-${mib(Math.max(...anon))}`,
    v === undefined ? '(reference)' : `${v.anonGrowth >= 0 ? '+' : ''}${(v.anonGrowth * 100).toFixed(1)}%${v.flat ? '' : ' !'}`,
    p.addedHeaps.length === 0 || Math.max(...p.addedHeaps) === 0 ? '' : `${pct(Math.max(...p.withoutAdded) / endOfLoad.anon - 1)} (${mib(Math.max(...p.addedHeaps))})`,
    p.heaps.length === 0 ? '' : `${mib(Math.max(...p.heaps.map((h) => h.actors)))} (${Math.max(...p.heaps.map((h) => h.actorCount))}) / ${mib(Math.max(...p.heaps.map((h) => h.main)))}`,
    mib(Math.max(...p.memory.map((m) => m.file))),
    p.note,
  ]);
}
console.log(`\n${table.toString()}`);
const loadPhase = phases[0]!;
const loadSecs = (loadPhase.endMs - loadPhase.startMs) / 1000;
console.log(`load: ${fmt(loaded)} keys in ${loadSecs.toFixed(0)} s (${fmt(loaded / loadSecs)} puts/s); refused ${fmt(counts.refusals)} times (retried); ${fmt(failed)} failed${failed > 0 ? ` (${[...failures].map(([k, v]) => `${k}: ${fmt(v)}`).join(', ')})` : ''}`);
console.log(`end of load: anon ${mib(endOfLoad.anon)} MiB, file ${mib(endOfLoad.file)} MiB, ${endOfLoad.threads} threads; after close: anon ${mib(closed.anon)} MiB, file ${mib(closed.file)} MiB`);
console.log(`disk: ${mib(disk.allocated)} MiB allocated; ${fmt(stats.reduce((s, a) => s + a.keys, 0))} replicas; largest background chunk an actor held: ${mib(Math.max(...stats.map((s) => s.backgroundChunkPeakBytes)))} MiB`);
console.log(flatLine(verdicts));
{
  const withAdded = phases.filter((p) => p.addedHeaps.some((h) => h > 0));
  if (withAdded.length > 0) {
    console.log(
      `without the added actor's own V8 heap (its stats, sampled with the memory; its thread's native memory stays in): ${withAdded.map((p) => `${p.name} ${pct(Math.max(...p.withoutAdded) / endOfLoad.anon - 1)} (its heap up to ${mib(Math.max(...p.addedHeaps))} MiB)`).join(', ')}`,
    );
  }
}
const slow = verdicts.filter((v) => v.name !== 'quiet' && !v.p99Ok);
console.log(
  slow.length === 0
    ? `STEADY: the light load's p99 stayed within ${P99_FACTOR}x of the quiet phase's in every phase`
    : `SLOW: p99 above ${P99_FACTOR}x the quiet phase's in ${slow.map((v) => `${v.name} (${v.p99Ratio.toFixed(2)}x)`).join(', ')}`,
);
console.log(`(flat: below +${FLAT_LIMIT * 100}% of the end-of-load anonymous memory; the reference is ${mib(endOfLoad.anon)} MiB)`);
for (const p of phases) p.latency.destroy();
if (phaseError !== null) console.log(`a phase failed: ${phaseError.message}`);
process.exitCode = failed === 0 && phaseError === null ? 0 : 1;
