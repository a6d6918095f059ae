// A separate process for the data directory lock tests (not a test file itself).
//   node lock-fixture.js cluster <dir>: start a Cluster on <dir>, write one key,
//     print `ready <pid>`; close and exit when stdin ends.
//   node lock-fixture.js lock <dir>: on the line `go` on stdin, try to take
//     <dir>'s lock and print `won <pid>` or `locked <holder pid>`; release and
//     exit when stdin ends.
import { createInterface } from 'node:readline';
import { Cluster, DataDirLockedError } from '../src/index.js';
import { DataDirLock } from '../src/supervisor/data-dir-lock.js';

const [mode, dir] = process.argv.slice(2) as [string, string];
const lines = createInterface({ input: process.stdin });
const stdinEnded = new Promise<void>((resolve) => lines.once('close', resolve));

if (mode === 'cluster') {
  const cluster = await Cluster.start({ dataDir: dir, actors: 3, antiEntropyIntervalMs: 0 });
  await cluster.put('written-by', 'the first process', { w: 'all' });
  process.stdout.write(`ready ${process.pid}\n`);
  await stdinEnded;
  await cluster.close();
} else {
  await new Promise<void>((resolve) => lines.on('line', (l) => l === 'go' && resolve()));
  let lock: DataDirLock | null = null;
  try {
    lock = DataDirLock.acquire(dir);
    process.stdout.write(`won ${process.pid}\n`);
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err;
    process.stdout.write(`locked ${String(err.holderPid)}\n`);
  }
  await stdinEnded;
  lock?.release();
}
