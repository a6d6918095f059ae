import test, { type ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, InvalidOptionError, QuorumError, type ClusterOptions } from '../src/index.js';
import { checkNoLostWrites, type Op } from '../tools/stress/checker.js';
import { tempDir, until } from './helpers.js';

const QUIET: Partial<ClusterOptions> = { antiEntropyIntervalMs: 0, handoffIntervalMs: 50 };

/** Clients that write (blind overwrites, as SET) and read continuously until stopped, recording every operation. */
function clients(c: Cluster, count: number, keys: number) {
  const history: Op[] = [];
  let stop = false;
  let readErrors = 0;
  let reads = 0;
  const now = (): number => performance.now();
  const loops = Array.from({ length: count }, async (_, p) => {
    for (let i = 0; !stop; i++) {
      const key = `k${(p * 7919 + i * 104729) % keys}`;
      const id = `c${p}.${i}`;
      const invokeMs = now();
      try {
        await c.put(key, id, );
        history.push({ kind: 'write', id, key, process: p, invokeMs, completeMs: now() + 1, outcome: 'ok', supersedes: [], blind: true });
      } catch {
        history.push({ kind: 'write', id, key, process: p, invokeMs, completeMs: now() + 1, outcome: 'info', supersedes: [], blind: true });
      }
      try {
        reads++;
        await c.get(key);
      } catch {
        readErrors++;
      }
    }
  });
  return {
    history,
    stats: () => ({ reads, readErrors }),
    stop: async () => {
      stop = true;
      await Promise.all(loops);
    },
  };
}

async function finalValues(c: Cluster, history: readonly Op[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const key of new Set(history.map((o) => o.key))) out.set(key, (await c.get(key, { r: 'all' })).values as string[]);
  return out;
}

async function start(t: ExecutionContext, options: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const dataDir = options.dataDir ?? tempDir(t);
  const c = await Cluster.start({ actors: 5, n: 3, ...QUIET, ...options, dataDir });
  t.teardown(() => c.close());
  return c;
}

test.serial('adding an actor while clients write and read: nothing acknowledged is lost, about 1/6 moves, replicas converge', async (t) => {
  const c = await start(t);
  await Promise.all(Array.from({ length: 2000 }, (_, i) => c.put(`k${i}`, `load${i}`, { w: 'all' })));
  const load = clients(c, 6, 2000);
  await new Promise((r) => setTimeout(r, 200));
  const result = await c.addActor();
  await new Promise((r) => setTimeout(r, 200));
  await load.stop();
  t.deepEqual(result.added, [5]);
  t.is(c.members().length, 6);
  t.true(result.movedFraction > 0.9 / 6 && result.movedFraction < 1.1 / 6, `${result.movedFraction}`);
  const verdict = checkNoLostWrites(load.history, await finalValues(c, load.history));
  t.deepEqual(verdict.violations.map((v) => `${v.key}:${v.write.id}`), [], 'every acknowledged write is there');
  const { reads, readErrors } = load.stats();
  t.true(readErrors <= reads * 0.01, `${readErrors} of ${reads} reads failed during the change`);
  // the new actor holds what consistent hashing gives it, and every replica agrees after a repair pass
  await c.repair();
  const cmp = await c.compareReplicas();
  t.is(cmp.divergent.length, 0);
  const share = cmp.keysPerActor[5]! / (2000 * 3);
  t.true(share > 0.12 && share < 0.21, `the new actor holds ${(share * 100).toFixed(1)}% of replicas`);
  // the change's background cleanup (joined here) left exactly n copies of every key
  await c.cleanup();
  const stored = (await c.stats({ timeoutMs: 5000 })).reduce((sum, s) => sum + s.keys, 0);
  t.is(stored, 2000 * 3);
  t.log(`added actor 5 under load: moved ${(result.movedFraction * 100).toFixed(2)}% (${result.keysStreamed} entries streamed in ${result.durationMs} ms); ${readErrors}/${reads} reads failed`);
});

test.serial('a handoff under small bounds holds at most them: each push and each cleanup its window, each read its chunk, the new actor the windows of the transfers streaming into it; nothing is lost', async (t) => {
  const bounds = { backgroundWindowEntries: 64, backgroundChunkEntries: 16, backgroundChunkBytes: 2048, transferConcurrency: 2, actorOldGenerationMiB: 96, actorYoungGenerationMiB: 8 };
  const c = await start(t, { ...bounds, cleanupAfterChange: false });
  const value = 'v'.repeat(200);
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`k${i}`, `${value}${i}`, { w: 'all' })));
  const added = await c.addActor();
  const cleaned = await c.cleanup();
  t.true(added.keysStreamed > 20 * bounds.backgroundWindowEntries, `${added.keysStreamed} entries streamed, many windows' worth`);
  t.true(cleaned.removed > 20 * bounds.backgroundWindowEntries, `${cleaned.removed} copies cleaned up`);
  const stats = await c.stats({ timeoutMs: 5000 });
  for (const s of stats) {
    t.true(s.backgroundWindowPeakEntries <= bounds.backgroundWindowEntries, `actor ${s.id}: ${s.backgroundWindowPeakEntries} unacknowledged at most`);
    // a chunk ends once its bytes reach the bound: at most one entry (~230 bytes here) beyond it
    t.true(s.backgroundChunkPeakBytes <= bounds.backgroundChunkBytes + 512, `actor ${s.id}: a chunk of ${s.backgroundChunkPeakBytes} bytes at most`);
  }
  t.true(stats.some((s) => s.backgroundWindowPeakEntries > 0), 'the windows were used');
  // every actor's V8 heap, the added one's too, runs under the configured limits (V8 adds the young generation's 1.5x)
  const MiB = 1024 * 1024;
  for (const s of stats) {
    t.true(s.heapLimitBytes >= 96 * MiB && s.heapLimitBytes <= (96 + 1.5 * 8) * MiB, `actor ${s.id}: heap limit ${(s.heapLimitBytes / MiB).toFixed(1)} MiB`);
    t.true(s.heapNewSpaceBytes <= 8 * MiB, `actor ${s.id}: young generation ${(s.heapNewSpaceBytes / MiB).toFixed(1)} MiB`);
  }
  const newcomer = stats.find((s) => s.id === added.added[0])!;
  t.true(newcomer.pendingWritesPeak <= bounds.transferConcurrency * bounds.backgroundWindowEntries, `the new actor had ${newcomer.pendingWritesPeak} writes waiting at most`);
  t.is(stats.reduce((sum, s) => sum + s.keys, 0), 3000 * 3, 'exactly n copies after the cleanup');
  t.deepEqual((await c.compareReplicas()).divergent, []);
  for (let i = 0; i < 3000; i += 7) t.deepEqual((await c.get(`k${i}`, { r: 'all' })).values, [`${value}${i}`]);
  t.log(`streamed ${added.keysStreamed} entries in ${added.durationMs} ms; window peaks ${stats.map((s) => s.backgroundWindowPeakEntries).join(', ')}; chunk peaks ${stats.map((s) => s.backgroundChunkPeakBytes).join(', ')} bytes; new actor's pending peak ${newcomer.pendingWritesPeak}`);
});

test.serial('a transfer whose ranges hold more than maxRepairPushEntries completes: pushes cut short go again in halves (at 20 M keys every add failed)', async (t) => {
  // 3000 keys over 5 actors: each transfer push of 16 arc ranges holds far more than 20 entries
  const c = await start(t, { maxRepairPushEntries: 20, cleanupAfterChange: false });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`k${i}`, `v${i}`, { w: 'all' })));
  const added = await c.addActor();
  t.true(added.keysStreamed >= 3000 * 3 / 6 * 0.5, `${added.keysStreamed} entries streamed`);
  t.deepEqual((await c.compareReplicas()).divergent, []);
  for (let i = 0; i < 3000; i += 7) t.deepEqual((await c.get(`k${i}`, { r: 'all' })).values, [`v${i}`]);
});

test.serial('while a change streams its ranges, reads stay direct and see every acknowledged write; they are coordinated from the ring switch on', async (t) => {
  // slow streams: the change lasts long enough for many writes and reads in the middle of it
  const c = await start(t, { backgroundMaxPerSec: 1000, backgroundMinPerSec: 500 });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`k${i}`, `load${i}`, { w: 'all' })));
  const before = c.readPaths();
  let done = false;
  const change = c.addActor().finally(() => (done = true));
  let checked = 0;
  for (let i = 0; !done; i++) {
    const key = `k${(i * 7919) % 3000}`;
    await c.put(key, `w${i}`);
    t.deepEqual((await c.get(key)).values, [`w${i}`], `${key} read back after its acknowledged write ${i}`);
    checked++;
  }
  const result = await change;
  const after = c.readPaths();
  const direct = after.direct - before.direct;
  const switching = after.coordinatedBy['ring-changing'] - before.coordinatedBy['ring-changing'];
  t.true(checked > 50, `${checked} writes read back during the change`);
  t.true(direct >= checked * 0.8, `${direct} of ${checked} reads during the change were direct`);
  t.true(result.keysStreamed > 1000, `${result.keysStreamed} entries streamed`);
  t.log(`${checked} writes read back during a ${result.durationMs} ms change: ${direct} direct, ${switching} coordinated while the ring switched`);
});

test.serial('cleanup deletes only the copies of ranges an actor gave away: exactly n copies stay, nothing is lost, a second pass removes nothing', async (t) => {
  const dataDir = tempDir(t);
  let c = await start(t, { dataDir, cleanupAfterChange: false });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`k${i}`, `v${i}`, { w: 'all' })));
  await c.addActor();
  await c.addActor({ zone: 'default' });
  const storedKeys = async (): Promise<number[]> => (await c.stats({ timeoutMs: 5000 })).sort((a, b) => a.id - b.id).map((s) => s.keys);
  const before = await storedKeys();
  const surplus = before.reduce((a, b) => a + b, 0) - 3000 * 3;
  t.true(surplus > 3000 * 3 * 0.2, `the old actors still hold the ranges they gave away (${surplus} extra copies)`);
  const result = await c.cleanup();
  t.is(result.failed, 0);
  t.is(result.removed, surplus);
  t.is(result.actors.find((a) => a.id === 6)!.removed, 0, 'the actor added last has nothing to give away');
  const after = await storedKeys();
  t.is(after.reduce((a, b) => a + b, 0), 3000 * 3);
  t.deepEqual((await c.compareReplicas()).divergent, []);
  for (let i = 0; i < 3000; i += 7) t.deepEqual((await c.get(`k${i}`, { r: 'all' })).values, [`v${i}`]);
  t.is((await c.cleanup()).removed, 0);
  // the deletes are durable and the ring is what decides: a restart keeps n copies and every key
  await c.close();
  c = await Cluster.start({ dataDir, ...QUIET });
  t.teardown(() => c.close());
  t.deepEqual(await storedKeys(), after);
  for (let i = 1; i < 3000; i += 11) t.true((await c.get(`k${i}`, { r: 'all' })).found);
});

/** Most actors seen cleaning up at once while `cleanup` runs (stats polled), and the result. */
async function cleanupOverlap(t: ExecutionContext, cleanupConcurrency: number): Promise<{ most: number; removedBy: number }> {
  // a small budget makes each actor's cleanup take a while, so the polls see who runs
  const c = await start(t, { cleanupAfterChange: false, cleanupConcurrency, backgroundMinPerSec: 1500, backgroundMaxPerSec: 1500 });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`k${i}`, `v${i}`, { w: 'all' })));
  await c.addActor();
  let done = false;
  const cleaning = c.cleanup().finally(() => (done = true));
  let most = 0;
  while (!done) {
    const stats = await c.stats({ timeoutMs: 5000 });
    most = Math.max(most, stats.filter((s) => s.cleanupRunning).length);
    await new Promise((r) => setTimeout(r, 10));
  }
  const result = await cleaning;
  t.is(result.failed, 0);
  t.is((await c.stats({ timeoutMs: 5000 })).reduce((sum, s) => sum + s.keys, 0), 3000 * 3, 'exactly n copies after the cleanup');
  return { most, removedBy: result.actors.filter((a) => a.removed > 0).length };
}

test.serial('cleanupConcurrency: by default one actor cleans up at a time, every one in turn; a larger value runs them together', async (t) => {
  const one = await cleanupOverlap(t, 1);
  t.is(one.most, 1, 'never two actors cleaning up at once');
  t.true(one.removedBy >= 4, `${one.removedBy} of the 5 old actors removed copies`);
  const three = await cleanupOverlap(t, 3);
  t.true(three.most >= 2 && three.most <= 3, `${three.most} at once with cleanupConcurrency 3`);
});

test.serial('a cleanup while a change gives ranges back keeps them: nothing is lost, no repair needed', async (t) => {
  // a small background budget makes the handoff of actor 5's ranges take seconds, so the cleanup runs while it is pending
  const c = await start(t, { cleanupAfterChange: false, backgroundMinPerSec: 400, backgroundMaxPerSec: 400 });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`k${i}`, `v${i}`, { w: 'all' })));
  await c.addActor();
  // the old actors still hold copies of what they gave actor 5; removing 5 makes them its replicas again
  let removed = false;
  const removal = c.removeActor(5).then((r) => ((removed = true), r));
  await new Promise((r) => setTimeout(r, 1000));
  t.false(removed, 'the change is still streaming');
  const cleaned = await c.cleanup();
  t.is(cleaned.removed, 0, 'every copy the pending ring gives back is kept');
  t.false(cleaned.actors.some((a) => a.id === 5), 'the leaving actor is not cleaned: its directory goes with it');
  t.deepEqual((await removal).removed, [5]);
  t.deepEqual((await c.compareReplicas()).divergent, [], 'every replica has every key without a repair pass');
  for (let i = 0; i < 3000; i += 3) t.deepEqual((await c.get(`k${i}`, { r: 'all' })).values, [`v${i}`], `k${i}`);
  t.is((await c.stats({ timeoutMs: 5000 })).reduce((sum, s) => sum + s.keys, 0), 3000 * 3);
});

test.serial('removing an actor while clients write and read: nothing lost, its directory is gone, the ring persists', async (t) => {
  const dataDir = tempDir(t);
  let c = await start(t, { dataDir });
  await Promise.all(Array.from({ length: 1500 }, (_, i) => c.put(`k${i}`, `load${i}`, { w: 'all' })));
  const load = clients(c, 6, 1500);
  await new Promise((r) => setTimeout(r, 200));
  const result = await c.removeActor(2);
  await load.stop();
  t.deepEqual(result.removed, [2]);
  t.deepEqual(c.members().map((m) => m.id), [0, 1, 3, 4]);
  t.false(existsSync(join(dataDir, 'actors', '2')));
  t.deepEqual(checkNoLostWrites(load.history, await finalValues(c, load.history)).violations, []);
  // a restart comes back with the new ring
  await c.close();
  c = await Cluster.start({ dataDir, ...QUIET });
  t.teardown(() => c.close());
  t.deepEqual(c.members().map((m) => m.id), [0, 1, 3, 4]);
  for (let i = 0; i < 1500; i += 97) t.true((await c.get(`k${i}`)).found);
});

test.serial('a stale plan, a second change at once, or a change with an actor down are refused', async (t) => {
  const c = await start(t);
  const plan = await c.plan([{ kind: 'add' }]);
  await c.commit(plan);
  await t.throwsAsync(c.commit(plan), { message: /plan again/ });
  await c.faults.kill(1);
  await t.throwsAsync(c.addActor(), { instanceOf: QuorumError, message: /needs every actor up; down: 1/ });
  await c.faults.restart(1);
  const next = await c.plan([{ kind: 'add' }]);
  const first = c.commit(next);
  await t.throwsAsync(c.commit(next), { message: /already running/ });
  await first;
  t.is(c.members().length, 7);
});

test.serial('a change waits out an actor that gossip briefly sees down while its thread runs', async (t) => {
  // a fixed 400 ms detector (maxFailAfterMs = failAfterMs), so a 700 ms pause is surely seen: the test is about the change's wait
  const c = await start(t, { gossipIntervalMs: 25, failAfterMs: 400, maxFailAfterMs: 400 });
  await Promise.all(Array.from({ length: 300 }, (_, i) => c.put(`k${i}`, i, { w: 'all' })));
  c.faults.pause(1, 700); // frozen: no heartbeats, as in a long GC pause
  await until(t, 'actor 1 seen down', () => c.members().find((m) => m.id === 1)!.status === 'down');
  const result = await c.addActor(); // waits up to 3 × failAfterMs for it to come back
  t.deepEqual(result.added, [5]);
  for (let i = 0; i < 300; i += 7) t.deepEqual((await c.get(`k${i}`, { r: 'all' })).values, [i]);
});

test.serial('a restart in the middle of a transfer rolls the change back cleanly', async (t) => {
  const dataDir = tempDir(t);
  // a slow transfer: 200 entries/s per source
  let c = await Cluster.start({ dataDir, actors: 5, ...QUIET, backgroundMinPerSec: 200, backgroundMaxPerSec: 200 });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`k${i}`, `v${i}`, { w: 'all' })));
  const change = c.addActor();
  change.catch(() => undefined);
  await until(t, 'the new actor exists', () => existsSync(join(dataDir, 'actors', '5')));
  await c.close(); // the process stops mid-transfer
  await t.throwsAsync(change);
  c = await Cluster.start({ dataDir, ...QUIET });
  t.teardown(() => c.close());
  t.is(c.members().length, 5, 'rolled back to the old ring');
  t.false(existsSync(join(dataDir, 'actors', '5')), "the half-filled actor's directory is gone");
  for (let i = 0; i < 3000; i += 61) t.deepEqual((await c.get(`k${i}`)).values, [`v${i}`]);
  const again = await c.addActor();
  t.deepEqual(again.added, [6], 'and the change can be made again (actor ids are never reused)');
  t.is(c.members().length, 6);
});

test.serial('killing a source in the middle of a transfer fails the change and rolls it back; nothing is lost', async (t) => {
  const c = await start(t, { backgroundMinPerSec: 200, backgroundMaxPerSec: 200, timeoutMs: 2000 });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`k${i}`, `v${i}`, { w: 'all' })));
  const plan = await c.plan([{ kind: 'add' }]);
  const change = c.commit(plan);
  change.catch(() => undefined);
  await until(t, 'the new actor exists', () => existsSync(join(c.options.dataDir, 'actors', '5')));
  await c.faults.kill(plan.transfers[0]!.from);
  await t.throwsAsync(change);
  t.is(c.members().length, 5);
  t.false(existsSync(join(c.options.dataDir, 'actors', '5')));
  await c.faults.restart(plan.transfers[0]!.from);
  for (let i = 0; i < 3000; i += 61) t.deepEqual((await c.get(`k${i}`)).values, [`v${i}`]);
});

test.serial('decommissioning the actor that holds hints hands them off first', async (t) => {
  const c = await start(t, { handoffIntervalMs: 50 });
  const owner = 1;
  await c.faults.kill(owner);
  const keys = Array.from({ length: 200 }, (_, i) => `h${i}`);
  for (const k of keys) await c.put(k, 'hinted', { w: 2 });
  const holders = (await c.stats()).filter((s) => s.hintsPending > 0);
  t.true(holders.length > 0, 'some actor holds hints for the dead owner');
  const holder = holders[0]!.id;
  await c.faults.restart(owner);
  await c.removeActor(holder);
  t.false(c.members().some((m) => m.id === holder));
  for (const k of keys) t.deepEqual((await c.get(k, { r: 2 })).values, ['hinted']);
});

test.serial('membership over the Redis protocol and HTTP: plan, add and remove actors', async (t) => {
  const { startRespServer } = await import('../src/server/resp/server.js');
  const { startHttpServer } = await import('../src/server/http/server.js');
  const { Redis } = await import('ioredis');
  const c = await start(t);
  const resp = await startRespServer(c, {
    host: '127.0.0.1',
    port: 0,
    password: null,
    maxClients: 10,
    maxPipelineDepth: 1024,
    limits: { maxBulkBytes: 1 << 20, maxArgs: 1024, maxInlineBytes: 64 << 10, maxQueryBufferBytes: 1 << 20 },
  });
  t.teardown(() => resp.close());
  const http = await startHttpServer(c, { host: '127.0.0.1', port: 0, allowedHosts: ['127.0.0.1'], bodyLimitBytes: 1 << 20 });
  t.teardown(() => http.close());
  const r = new Redis({ host: '127.0.0.1', port: resp.port, lazyConnect: true });
  await r.connect();
  t.teardown(() => r.disconnect());

  const plan = (await r.call('RINGKV.PLAN', 'ADD', 'ZONE', 'z2')) as (string | number)[];
  t.true(plan.includes('moved_fraction'));
  const added = (await r.call('RINGKV.ADDACTOR', 'ZONE', 'z2')) as (string | number)[];
  t.is(added[added.indexOf('added') + 1], '5');
  t.is(c.members().length, 6);
  await t.throwsAsync(r.call('RINGKV.REMOVEACTOR', '42'), { message: /cannot remove actor 42/ });

  const base = `http://127.0.0.1:${http.port}`;
  const planned = (await (await fetch(`${base}/plan`, { method: 'POST', body: JSON.stringify({ changes: [{ kind: 'remove', id: 5 }] }) })).json()) as { movedFraction: number; transfers: unknown[] };
  t.true(planned.movedFraction > 0 && planned.transfers.length > 0);
  const removed = await fetch(`${base}/actors/5`, { method: 'DELETE' });
  t.is(removed.status, 200);
  t.deepEqual(((await removed.json()) as { removed: number[] }).removed, [5]);
  const viaHttp = await fetch(`${base}/actors`, { method: 'POST', body: JSON.stringify({ zone: 'z3' }) });
  t.is(viaHttp.status, 200);
  t.deepEqual(((await viaHttp.json()) as { added: number[] }).added, [6]);
  const bad = await fetch(`${base}/actors`, { method: 'POST', body: JSON.stringify({ colour: 'red' }) });
  t.is(bad.status, 400);
  t.deepEqual(c.members().map((m) => m.id), [0, 1, 2, 3, 4, 6]);

  // cleanup: the background passes after each change already ran, so an explicit one finds nothing left
  const cleaned = (await r.call('RINGKV.CLEANUP')) as (string | number)[];
  t.is(cleaned[cleaned.indexOf('removed') + 1], 0);
  t.true(cleaned.includes('actor6'));
  const viaHttpCleanup = await fetch(`${base}/cleanup`, { method: 'POST' });
  t.is(viaHttpCleanup.status, 200);
  t.deepEqual(((await viaHttpCleanup.json()) as { removed: number; actors: unknown[] }).actors.length, 6);
  await t.throwsAsync(r.call('RINGKV.CLEANUP', 'now'), { message: /wrong number of arguments/ });
});

test('background bounds are validated: a window that cannot fit one entry per replica, a zero chunk or concurrency, a factor between 0 and 1 are refused', async (t) => {
  const bad: Partial<ClusterOptions>[] = [
    { n: 3, backgroundWindowEntries: 2 },
    { backgroundChunkEntries: 0 },
    { backgroundChunkBytes: 100 },
    { transferConcurrency: 0 },
    { backgroundP99Factor: 0.5 },
    { backgroundP99Factor: Number.NaN },
    { backgroundP99FloorMs: -1 },
    { actorYoungGenerationMiB: 1 },
    { actorOldGenerationMiB: 16 },
  ];
  for (const options of bad) {
    const name = Object.keys(options).find((k) => k !== 'n')!;
    await t.throwsAsync(Cluster.start({ dataDir: join(tempDir(t), 'never'), ...options }), { instanceOf: InvalidOptionError, message: new RegExp(name) }, name);
  }
});
