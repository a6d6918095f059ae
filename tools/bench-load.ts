// `npm run bench:load`: does a bulk load on a busy machine finish without a
// single failed or timed-out request? Loads --keys new keys (default 2 M,
// 100-byte values) through the public Cluster API with --in-flight callers
// (default 512), optionally while --busy processes spin on the CPU for the
// first --busy-seconds (the neighbours that made gossip call busy actors
// dead). A refusal (OverloadedError: the cluster pushing back) is counted and
// retried after a short backoff, as a well-behaved client does; anything else
// (QuorumError, a timeout) is a failure. Not a test: the verdict is printed,
// and the exit code is 1 only when a put failed.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import hdr from 'hdr-histogram-js';
import { Cluster } from '../src/index.js';
import { putWithRetry, type RetryCounts } from './put-with-retry.js';

function positiveInt(raw: string): number {
  const v = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return v;
}

// A forked copy of this file with this argument only spins.
if (process.argv[2] === '--spin') {
  for (;;) Math.sqrt(Math.random());
}

const program = new Command('bench:load')
  .option('--keys <n>', 'keys to load', positiveInt, 2_000_000)
  .option('--in-flight <n>', 'concurrent callers', positiveInt, 512)
  .option('--actors <n>', 'actors', positiveInt, 5)
  .option('--busy <n>', 'busy-looping neighbour processes', positiveInt, 0)
  .option('--busy-seconds <s>', 'how long the neighbours spin', positiveInt, 60)
  .option('--timeout-ms <ms>', 'request timeout', positiveInt, 5000)
  .option('--anti-entropy-ms <ms>', 'background anti-entropy interval (0 = off)', positiveInt, 60_000)
  .option('--max-retries <n>', 'retries of one refused put before it counts as failed', positiveInt, 50)
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse();
const o = program.opts<{ keys: number; inFlight: number; actors: number; busy: number; busySeconds: number; timeoutMs: number; antiEntropyMs: number; maxRetries: number }>();

const VALUE = Buffer.alloc(100, 0x61);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const neighbours: ChildProcess[] = [];
function startNeighbours(): void {
  for (let i = 0; i < o.busy; i++) neighbours.push(fork(process.argv[1]!, ['--spin'], { stdio: 'ignore' }));
  setTimeout(stopNeighbours, o.busySeconds * 1000).unref();
}
function stopNeighbours(): void {
  for (const c of neighbours.splice(0)) c.kill('SIGKILL');
}
process.on('exit', stopNeighbours);

const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-bench-load-'));
console.log(`ringkv bench:load: ${fmt(o.keys)} keys, 100-byte values, ${o.actors} actors, N=3 W=2, ${o.inFlight} in flight, timeout ${o.timeoutMs} ms, anti-entropy every ${o.antiEntropyMs} ms`);
console.log(`neighbours: ${o.busy} busy-looping processes for the first ${o.busySeconds} s; UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '(default 4)'}`);

const cluster = await Cluster.start({ dataDir, actors: o.actors, n: 3, w: 2, timeoutMs: o.timeoutMs, antiEntropyIntervalMs: o.antiEntropyMs });
startNeighbours();

const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
let acked = 0;
const counts: RetryCounts = { refusals: 0, retriedPuts: 0 };
const failures = new Map<string, number>();
let failed = 0;
let next = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();

const progress = setInterval(() => {
  const secs = (performance.now() - t0) / 1000;
  const line = `  ${secs.toFixed(0)} s: ${fmt(acked)} / ${fmt(o.keys)} (${((acked / o.keys) * 100).toFixed(1)}%), ${fmt(acked / secs)}/s, refused ${fmt(counts.refusals)}, failed ${fmt(failed)}, anti-entropy passes ${cluster.repairs} run / ${cluster.antiEntropyPassesSkipped} skipped`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line}   `);
  else console.log(line);
}, process.stderr.isTTY ? 1000 : 10_000);

const caller = async (): Promise<void> => {
  while (next < o.keys) {
    const i = next++;
    const started = performance.now();
    try {
      await putWithRetry(cluster, `load:${i}`, VALUE, o.maxRetries, counts);
      acked++;
      histogram.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
    } catch (err) {
      failed++;
      const name = (err as Error).name ?? 'Error';
      failures.set(name, (failures.get(name) ?? 0) + 1);
      if (failures.get(name) === 1) console.log(`\n  first ${name}: ${(err as Error).message}`);
    }
  }
};
await Promise.all(Array.from({ length: Math.min(o.inFlight, o.keys) }, caller));
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
clearInterval(progress);
if (process.stderr.isTTY) process.stderr.write('\n');
stopNeighbours();
await cluster.close();
rmSync(dataDir, { recursive: true, force: true });

const ms = (p: number): string => (histogram.getValueAtPercentile(p) / 1000).toFixed(1);
console.log(
  `\nloaded ${fmt(acked)} keys in ${seconds.toFixed(1)} s (${fmt(acked / seconds)} puts/s, ${((cpu.user + cpu.system) / Math.max(1, acked)).toFixed(0)} CPU µs/put); ` +
    `latency p50 ${ms(50)} ms, p99 ${ms(99)} ms, p99.9 ${ms(99.9)} ms, max ${(histogram.maxValue / 1000).toFixed(0)} ms`,
);
console.log(`refused (OverloadedError) ${fmt(counts.refusals)} times, ${fmt(counts.retriedPuts)} puts needed a retry`);
console.log(failed === 0 ? 'PASS: 0 failed or timed-out puts' : `FAIL: ${fmt(failed)} puts failed (${[...failures].map(([k, v]) => `${k}: ${fmt(v)}`).join(', ')})`);
histogram.destroy();
process.exitCode = failed === 0 ? 0 : 1;
