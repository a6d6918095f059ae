// `npm run bench:membership`: a steady open-loop workload (half reads, half
// writes) before, during and after adding a sixth actor to five; reports
// throughput and p99 per phase (the dip), the time the handoff took and the
// fraction of replicas that moved. Not a test: numbers depend on the machine.
import hdr from 'hdr-histogram-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../src/index.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const RATE = Number(process.env.BENCH_RATE ?? 8000); // ops/s offered during the steady workload
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 10_000);
const CLIENTS = 64;
const VALUE = Buffer.alloc(100, 0x62);

interface Phase {
  name: string;
  ops: number;
  errors: number;
  startMs: number;
  endMs: number;
  histogram: hdr.Histogram;
}

const newPhase = (name: string): Phase => ({ name, ops: 0, errors: 0, startMs: performance.now(), endMs: 0, histogram: hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 }) });

const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-bench-membership-'));
const cluster = await Cluster.start({
  dataDir,
  actors: 5,
  n: 3,
  r: 2,
  w: 2,
  antiEntropyIntervalMs: 0,
  ...(process.env.BENCH_BACKGROUND_MAX !== undefined ? { backgroundMaxPerSec: Number(process.env.BENCH_BACKGROUND_MAX) } : {}),
});
try {
  console.log(`ringkv membership bench: ${KEYS.toLocaleString('en-US')} keys of 100 bytes, steady ${RATE} ops/s (half reads, half writes), phases of ${PHASE_MS / 1000} s`);
  const loadStart = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < KEYS) {
        const i = next++;
        await cluster.put(`key:${i}`, VALUE, );
      }
    }),
  );
  console.log(`loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);

  // open loop: operation i is due at start + i / RATE; latency counts from then (no coordinated omission)
  let phase = newPhase('before');
  const phases: Phase[] = [phase];
  let stop = false;
  const start = performance.now();
  let issued = 0;
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (!stop) {
      const i = issued++;
      const dueMs = start + (i * 1000) / RATE;
      const waitMs = dueMs - performance.now();
      if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
      if (stop) return;
      const key = `key:${(i * 7919) % KEYS}`;
      const current = phase;
      try {
        if (i % 2 === 0) await cluster.get(key);
        else await cluster.put(key, VALUE, );
      } catch {
        current.errors++;
      }
      current.ops++;
      current.histogram.recordValue(Math.max(1, Math.round((performance.now() - dueMs) * 1000)));
    }
  });
  const switchTo = (name: string): void => {
    phase.endMs = performance.now();
    phase = newPhase(name);
    phases.push(phase);
  };
  await new Promise((r) => setTimeout(r, PHASE_MS));
  switchTo('during');
  const result = await cluster.addActor();
  switchTo('after');
  await new Promise((r) => setTimeout(r, PHASE_MS));
  phase.endMs = performance.now();
  stop = true;
  await Promise.all(clients);

  console.table(
    phases.map((p) => ({
      phase: p.name,
      's': ((p.endMs - p.startMs) / 1000).toFixed(1),
      'ops/s': Math.round((p.ops * 1000) / (p.endMs - p.startMs)),
      errors: p.errors,
      'p50 ms': (p.histogram.getValueAtPercentile(50) / 1000).toFixed(2),
      'p99 ms': (p.histogram.getValueAtPercentile(99) / 1000).toFixed(2),
      'max ms': (p.histogram.maxValue / 1000).toFixed(1),
    })),
  );
  console.log(
    `adding actor ${result.added.join(',')}: ${result.keysStreamed.toLocaleString('en-US')} entries (${(result.bytesStreamed / 1e6).toFixed(1)} MB) streamed, ` +
      `whole change ${(result.durationMs / 1000).toFixed(1)} s; moved fraction ${(result.movedFraction * 100).toFixed(2)}% (ideal 1/6 = 16.67%, bound 1.1/6 = 18.33%)`,
  );
} finally {
  await cluster.close();
  Cluster.destroy(dataDir);
}
