import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Cluster, DataDirLockedError, LayoutMismatchError } from '../src/index.js';
import { resolveServerConfig } from '../src/server/config.js';
import { startServer } from '../src/server/server.js';
import { DataDirLock, LOCK_FILE } from '../src/supervisor/data-dir-lock.js';
import { formatLockRecord, type LockRecord } from '../src/supervisor/lock-record.js';
import { tempDir } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./lock-fixture.js', import.meta.url));

interface Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  output(): string;
}

/** A node process running `args`; killed when the test ends if it still runs. */
function spawnNode(t: ExecutionContext, args: string[]): Child {
  const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += String(d)));
  proc.stderr.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    await exited;
  });
  return { proc, exited, output: () => out };
}

/** Resolves when the child's output matches `re` (no deadline: the test's timeout is the bound); rejects if it exits first. */
function waitForOutput(child: Child, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const m = re.exec(child.output());
      if (m === null) return false;
      child.proc.stdout.off('data', check);
      child.proc.stderr.off('data', check);
      resolve(m);
      return true;
    };
    child.proc.stdout.on('data', check);
    child.proc.stderr.on('data', check);
    void child.exited.then(() => check() || reject(new Error(`exited before printing ${String(re)}:\n${child.output()}`)));
    check();
  });
}

/** Stop every thread of `pid` (SIGSTOP) and wait until they all are: then nothing of it touches the disk. */
async function freeze(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const stopped = (): boolean =>
    readdirSync(`/proc/${pid}/task`).every((task) => {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
    });
  while (!stopped()) await new Promise((r) => setTimeout(r, 10));
}

/** Every entry under `dir`: kind, mtime and, for files, a hash of the bytes. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': `dir ${statSync(dir).mtimeMs}` };
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    const st = statSync(path);
    out[name] = st.isDirectory() ? `dir ${st.mtimeMs}` : `file ${st.mtimeMs} ${st.size} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
  }
  return out;
}

/** A pid no process has: one that just exited and was reaped. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

function lockRecord(over: Partial<LockRecord>): LockRecord {
  // start time '1' is no real process's: even if the pid were reused, this record would be stale
  return { pid: deadPid(), startTime: '1', bootId: null, hostname: hostname(), token: 'deadbeef', acquiredAt: '2026-01-01T00:00:00.000Z', ...over };
}

test('a second process cannot open a directory another has open: DataDirLockedError names the holder, and nothing in the directory changes', async (t) => {
  const dir = tempDir(t);
  const holder = spawnNode(t, [FIXTURE, 'cluster', dir]);
  const pid = Number((await waitForOutput(holder, /ready (\d+)/))[1]);
  t.is(pid, holder.proc.pid!);
  // frozen, the holder cannot change its own files (LMDB's reader table, say) while we compare
  await freeze(pid);
  t.teardown(() => holder.proc.kill('SIGCONT'));
  const before = snapshot(dir);
  t.true(LOCK_FILE in before && 'ringkv.json' in before, Object.keys(before).join(', '));

  const err = await t.throwsAsync(Cluster.start({ dataDir: dir, actors: 3 }), { instanceOf: DataDirLockedError });
  t.is(err?.code, 'DATA_DIR_LOCKED');
  t.is(err?.holderPid, pid);
  t.is(err?.dataDir, dir);
  t.true(err?.message.includes(`pid ${pid}`) && err.message.includes(dir), err?.message);
  t.regex(err?.message ?? '', /another ringkv process/);
  t.throws(() => Cluster.destroy(dir), { instanceOf: DataDirLockedError });
  t.deepEqual(snapshot(dir), before, 'the failed start and the refused destroy wrote nothing');

  holder.proc.kill('SIGCONT');
  holder.proc.stdin.end(); // the holder closes its cluster and exits
  t.is(await holder.exited, 0, holder.output());
  t.false(existsSync(join(dir, LOCK_FILE)), 'close() released the lock');
  const cluster = await Cluster.start({ dataDir: dir });
  t.teardown(() => cluster.close());
  t.deepEqual((await cluster.get('written-by')).values, ['the first process']);
});

test('a lock left by a process killed with SIGKILL does not block the next start', async (t) => {
  const dir = tempDir(t);
  const holder = spawnNode(t, [FIXTURE, 'cluster', dir]);
  const pid = Number((await waitForOutput(holder, /ready (\d+)/))[1]);
  holder.proc.kill('SIGKILL');
  await holder.exited;
  t.is(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, pid, 'the crash left its lock behind');

  const cluster = await Cluster.start({ dataDir: dir });
  t.teardown(() => cluster.close());
  t.is(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid, 'taken over');
  t.deepEqual((await cluster.get('written-by', { r: 'all' })).values, ['the first process']);
});

test('processes racing to take over one stale lock (and a takeover guard left by a crash): exactly one wins', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, LOCK_FILE), formatLockRecord(lockRecord({ token: 'deadbeef' })));
  // a process that crashed while taking over that lock left its guard
  writeFileSync(join(dir, `${LOCK_FILE}.takeover-deadbeef`), formatLockRecord(lockRecord({ token: 'c0ffee' })));
  const racers = Array.from({ length: 4 }, () => spawnNode(t, [FIXTURE, 'lock', dir]));
  for (const r of racers) r.proc.stdin.write('go\n');
  const results = await Promise.all(racers.map((r) => waitForOutput(r, /(won|locked) (\S+)/)));
  const pids = racers.map((r) => r.proc.pid);
  const winners = results.filter((m) => m[1] === 'won').map((m) => Number(m[2]));
  t.is(winners.length, 1, results.map((m) => m[0]).join(', '));
  t.is(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, winners[0]);
  // a loser names the winner, or a racer that was taking the lock over at that moment
  for (const m of results.filter((r) => r[1] === 'locked')) t.true(pids.includes(Number(m[2])), m[0]);
  for (const r of racers) r.proc.stdin.end();
  for (const r of racers) t.is(await r.exited, 0, r.output());
  t.deepEqual(readdirSync(dir), [], 'the winner released its lock; no guard or temp file is left');
});

test('an unreadable lock file is kept while it is young (it may be being written) and taken over once old', (t) => {
  const dir = tempDir(t);
  const path = join(dir, LOCK_FILE);
  writeFileSync(path, '{"pid": 12');
  const err = t.throws(() => DataDirLock.acquire(dir), { instanceOf: DataDirLockedError });
  t.is(err?.holderPid, null);
  t.regex(err?.message ?? '', /cannot be read/);
  t.is(readFileSync(path, 'utf8'), '{"pid": 12');
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  const lock = DataDirLock.acquire(dir);
  t.is(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
  lock.release();
  t.deepEqual(readdirSync(dir), []);
});

test('a lock taken on another host is never taken over: the error says how to remove it', (t) => {
  const dir = tempDir(t);
  const record = lockRecord({ hostname: 'elsewhere' });
  writeFileSync(join(dir, LOCK_FILE), formatLockRecord(record));
  const err = t.throws(() => DataDirLock.acquire(dir), { instanceOf: DataDirLockedError });
  t.is(err?.holderPid, record.pid);
  t.regex(err?.message ?? '', /on host elsewhere.*delete .*ringkv\.lock/);
});

test.serial('in one process: a second Cluster.start on an open directory fails; after close() it succeeds; destroy refuses an open directory', async (t) => {
  const dir = tempDir(t);
  const first = await Cluster.start({ dataDir: dir, actors: 3 });
  t.teardown(() => first.close());
  for (const spelling of [dir, `${dir}/./`]) {
    const err = await t.throwsAsync(Cluster.start({ dataDir: spelling, actors: 3 }), { instanceOf: DataDirLockedError });
    t.is(err?.holderPid, process.pid);
    t.regex(err?.message ?? '', /another Cluster in this process/);
  }
  t.throws(() => Cluster.destroy(dir), { instanceOf: DataDirLockedError });
  // another thread of this process has its own copy of the modules: the lock's start time says it is this process
  const fromWorker = await new Promise<unknown>((resolve, reject) => {
    const code = `import { parentPort, workerData } from 'node:worker_threads';
      const { Cluster } = await import(workerData.index);
      Cluster.start({ dataDir: workerData.dir, actors: 3 }).then(
        (c) => c.close().then(() => parentPort.postMessage({ started: true })),
        (e) => parentPort.postMessage({ name: e.name, holderPid: e.holderPid }),
      );`;
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: { dir, index: new URL('../src/index.js', import.meta.url).href } });
    t.teardown(() => worker.terminate());
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  t.deepEqual(fromWorker, { name: 'DataDirLockedError', holderPid: process.pid });
  await first.put('k', 'v', { w: 'all' }); // the failed starts left the open cluster alone
  await first.close();

  const second = await Cluster.start({ dataDir: dir });
  t.deepEqual((await second.get('k')).values, ['v']);
  await second.close();
  Cluster.destroy(dir);
  t.false(existsSync(dir));
});

test.serial('the server does not listen when its directory is locked', async (t) => {
  const dir = tempDir(t);
  const holder = await Cluster.start({ dataDir: dir, actors: 3 });
  t.teardown(() => holder.close());
  const listeners = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
  const before = listeners();
  await t.throwsAsync(startServer(resolveServerConfig({ dataDir: dir, port: 0, httpPort: 0 })), { instanceOf: DataDirLockedError });
  t.is(listeners(), before);
});

test('a failed start removes the directory it created, and keeps one that existed', async (t) => {
  const root = tempDir(t);
  const fresh = join(root, 'new', 'data');
  DataDirLock.acquire(fresh).abandon();
  t.false(existsSync(join(root, 'new')), 'the directory and the parent it created are gone');

  const existing = join(root, 'existing');
  mkdirSync(existing);
  writeFileSync(join(existing, 'keep'), 'x');
  DataDirLock.acquire(existing).abandon();
  t.deepEqual(readdirSync(existing), ['keep'], 'only the lock is gone');

  // through Cluster.start: a layout clash on an existing directory releases the lock and changes nothing
  const dir = join(root, 'cluster');
  const c = await Cluster.start({ dataDir: dir, actors: 3 });
  await c.close();
  const files = (): Record<string, string> => {
    const { '.': _dirItself, ...rest } = snapshot(dir); // taking and releasing the lock touches the directory's own mtime
    return rest;
  };
  const before = files();
  await t.throwsAsync(Cluster.start({ dataDir: dir, actors: 4 }), { instanceOf: LayoutMismatchError });
  t.deepEqual(files(), before);
  const again = await Cluster.start({ dataDir: dir });
  await again.close();
});
