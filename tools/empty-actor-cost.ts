// What does an actor cost before it holds a key? Starts a cluster with no
// data, then adds and removes an actor `--cycles` times, sampling anonymous
// memory (by kind, /proc/self/smaps) and every actor's V8 heap a few
// seconds after each step. Not a test: prints a table.
import { mkdtempSync, rmSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { Cluster } from '../src/index.js';
import { anonBreakdown, mib, procMemory } from './measure.js';

const o = new Command('empty-actor-cost')
  .option('--actors <n>', 'actors to start with', (v) => Number(v), 5)
  .option('--cycles <n>', 'add/remove cycles', (v) => Number(v), 3)
  .option('--settle-ms <ms>', 'wait after each step before sampling', (v) => Number(v), 5000)
  .parse()
  .opts<{ actors: number; cycles: number; settleMs: number }>();

const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-empty-actor-'));
const cluster = await Cluster.start({ dataDir, actors: o.actors, n: 3, w: 2, antiEntropyIntervalMs: 0 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function sample(step: string): Promise<void> {
  await sleep(o.settleMs);
  const stats = await cluster.stats();
  const m = procMemory();
  const b = anonBreakdown();
  const heaps = stats.map((a) => `${a.id}:${mib(a.heapBytes)}`).join(' ');
  console.log(
    `${step.padEnd(14)} anon ${mib(m.anon).padStart(6)}  arenas ${mib(b.arenas).padStart(5)}  brk ${mib(b.brk).padStart(5)}  stacks ${mib(b.stacks).padStart(5)}  other ${mib(b.other).padStart(6)}  threads ${m.threads}  main heap ${mib(getHeapStatistics().total_physical_size)}  actor heaps ${heaps}`,
  );
}

await sample('started');
await cluster.repair();
await sample('after a pass');
for (let i = 0; i < o.cycles; i++) {
  const r = await cluster.addActor();
  await sample(`added ${r.added[0]}`);
  await cluster.removeActor(r.added[0]!);
  await sample(`removed ${r.added[0]}`);
}
await cluster.close();
const closed = procMemory();
console.log(`closed         anon ${mib(closed.anon)}`);
rmSync(dataDir, { recursive: true, force: true });
