// `npm run bench:detect`: how long until a paused, then a partitioned, actor
// is seen down (`members()` status), idle and with 256 puts in flight. The
// failure detector's bound, measured (5 actors, default detector options).
// Not a test: prints the figures; a detection that never comes prints -1.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../src/index.js';

const ROUNDS = Math.max(1, Number(process.env.BENCH_DETECT_ROUNDS ?? 4));
const WAIT_MS = 10_000;

async function waitFor(check: () => boolean, ms: number): Promise<number> {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > ms) return -1;
    await new Promise((r) => setTimeout(r, 10));
  }
  return Math.round(performance.now() - t0);
}

async function measure(loaded: boolean): Promise<{ pause: number[]; partition: number[]; failed: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-bench-detect-'));
  const c = await Cluster.start({ dataDir: dir, actors: 5, antiEntropyIntervalMs: 0 });
  let stop = false;
  let i = 0;
  let failed = 0;
  const value = Buffer.alloc(100, 0x61);
  const loaders = loaded
    ? Array.from({ length: 256 }, async () => {
        while (!stop) await c.put(`k${i++}`, value).catch(() => failed++);
      })
    : [];
  const status = (id: number) => c.members().find((m) => m.id === id)!.status;
  const healed = async (): Promise<void> => {
    await c.faults.heal();
    await waitFor(() => c.members().every((m) => m.status === 'up'), WAIT_MS);
    await new Promise((r) => setTimeout(r, 1500));
  };
  const out = { pause: [] as number[], partition: [] as number[], failed: 0 };
  try {
    await new Promise((r) => setTimeout(r, 2000));
    for (let round = 0; round < ROUNDS; round++) {
      const id = 1 + (round % 4);
      c.faults.pause(id, WAIT_MS);
      out.pause.push(await waitFor(() => status(id) === 'down', WAIT_MS));
      await healed();
      const t0 = performance.now();
      await c.faults.partition([id], [0, 1, 2, 3, 4].filter((x) => x !== id));
      const d = await waitFor(() => status(id) === 'down', WAIT_MS);
      out.partition.push(d < 0 ? -1 : Math.round(performance.now() - t0));
      await healed();
    }
  } finally {
    stop = true;
    await Promise.all(loaders);
    out.failed = failed;
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

for (const loaded of [false, true]) {
  const r = await measure(loaded);
  console.log(
    `${loaded ? 'with 256 puts in flight' : 'idle'}: paused actor seen down after ${r.pause.join(', ')} ms; ` +
      `partitioned actor after ${r.partition.join(', ')} ms${loaded ? ` (${r.failed} puts failed or refused meanwhile)` : ''}`,
  );
}
