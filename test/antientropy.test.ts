import test from 'ava';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, InvalidOptionError } from '../src/index.js';
import { prng, startCluster, until, keyWithPreference } from './helpers.js';
import { PACE_INTERVAL_MS } from '../src/cluster/foreground-pacing.js';

const QUIET = { antiEntropyIntervalMs: 0, handoffIntervalMs: 50, gossipIntervalMs: 25, failAfterMs: 400 };

test.serial('a wiped actor converges back to holding every key it owns after repair', async (t) => {
  const c = await startCluster(t, QUIET);
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`wipe:${i}`, `v${i}`, { w: 'all' })));
  const before = (await c.compareReplicas()).keysPerActor;
  t.is((await c.compareReplicas()).divergent.length, 0);
  const victim = 2;
  await c.faults.wipe(victim);
  t.is((await c.stats()).find((s) => s.id === victim)!.keys, 0);
  const report = await c.repair();
  t.true(report.arcsDiffering > 0);
  t.true(report.keysSent >= before[victim]!, `sent ${report.keysSent} for ${before[victim]} lost keys`);
  const after = await c.compareReplicas();
  t.is(after.divergent.length, 0, 'every replica of every arc identical');
  t.deepEqual(after.keysPerActor, before);
  t.log(`wiped actor held ${before[victim]} keys; repair moved ${report.keysSent} keys / ${report.bytesSent} bytes in ${report.durationMs} ms`);
});

test.serial('a pass with a small memory budget holds at most its budget (trees and ranges counted), batch by batch, and still repairs a wiped replica', async (t) => {
  // 160 arcs x 3 replicas: 480 trees (~1.3 MB) and 6 MB of replicas, against a 64 KiB budget
  const budgetBytes = 64 * 1024;
  const c = await startCluster(t, { ...QUIET, vnodes: 32, antiEntropyMemoryBytes: budgetBytes });
  const value = Buffer.alloc(1000, 0x62);
  await Promise.all(Array.from({ length: 2000 }, (_, i) => c.put(`budget:${i}`, value, { w: 'all' })));
  const before = (await c.compareReplicas()).keysPerActor;
  const replicaBytes = Object.values(before).reduce((s, k) => s + k, 0) * value.length;
  t.true(replicaBytes > 50 * budgetBytes, `${replicaBytes} bytes of replicas`);
  const victim = 4;
  await c.faults.wipe(victim);
  const report = await c.repair();
  t.true(report.keysSent >= before[victim]!, `sent ${report.keysSent} for ${before[victim]} lost keys`);
  t.true(report.heldPeak.bytes <= budgetBytes, `held at most ${report.heldPeak.bytes} bytes`);
  t.true(report.heldPeak.trees > 0 && report.heldPeak.trees < c.ring.arcCount * 3, `held at most ${report.heldPeak.trees} of ${c.ring.arcCount * 3} trees`);
  t.true(report.heldPeak.ranges > 0, 'the pushes were counted too');
  t.deepEqual(c.antiEntropyHeldPeak, report.heldPeak);
  const after = await c.compareReplicas();
  t.is(after.divergent.length, 0, 'every replica of every arc identical');
  t.deepEqual(after.keysPerActor, before);
  const chunkPeaks = (await c.stats()).map((s) => s.backgroundChunkPeakBytes);
  t.true(chunkPeaks.every((b) => b <= 256 * 1024 + 2048), `pushers' largest chunks: ${chunkPeaks.join(', ')} bytes`);
  t.log(`${replicaBytes} bytes of replicas, budget ${budgetBytes}: a pass held at most ${report.heldPeak.bytes} bytes (${report.heldPeak.trees} trees, ${report.heldPeak.ranges} ranges); repair moved ${report.keysSent} keys`);
});

test('antiEntropyMemoryBytes is validated: below what one arc needs, or not an integer, is refused with InvalidOptionError', async (t) => {
  for (const bad of [0, 1000, 2.5, '1MiB' as unknown as number, -1]) {
    await t.throwsAsync(Cluster.start({ dataDir: join(tmpdir(), `ringkv-never-${bad}`), antiEntropyMemoryBytes: bad }), { instanceOf: InvalidOptionError, message: /antiEntropyMemoryBytes/ });
  }
});

test.serial('a push is bounded by maxRepairPushEntries: a wiped actor is refilled over several passes, and recovers only when complete', async (t) => {
  const c = await startCluster(t, { ...QUIET, maxRepairPushEntries: 40 });
  await Promise.all(Array.from({ length: 1500 }, (_, i) => c.put(`bounded:${i}`, i, { w: 'all' })));
  const before = (await c.compareReplicas()).keysPerActor;
  const victim = 3;
  await c.faults.wipe(victim);
  const first = await c.repair();
  t.true(first.keysSent > 0);
  const stats = (await c.stats()).find((s) => s.id === victim)!;
  t.true(stats.keys < before[victim]!, `one pass moved ${stats.keys} of ${before[victim]} keys`);
  t.true(stats.recovering, 'a pass cut short does not end the recovery');
  let passes = 1;
  while ((await c.stats()).find((s) => s.id === victim)!.recovering && passes < 100) {
    await c.repair();
    passes++;
  }
  t.false((await c.stats()).find((s) => s.id === victim)!.recovering);
  t.deepEqual((await c.compareReplicas()).keysPerActor, before);
  t.true(passes > 1);
  t.log(`${before[victim]} keys refilled in ${passes} passes of at most 40 entries per push`);
});

test.serial('background work is paced by its budget, and the budget shrinks while foreground requests are slow', async (t) => {
  // a fixed budget of 400 entries/s per actor: the four others refilling a wiped one cannot go faster than 4 × 400/s
  const c = await startCluster(t, { ...QUIET, backgroundMinPerSec: 400, backgroundMaxPerSec: 400 });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`paced:${i}`, i, { w: 'all' })));
  const before = (await c.compareReplicas()).keysPerActor;
  const victim = 1;
  await c.faults.wipe(victim);
  const report = await c.repair();
  const pushed = before[victim]!;
  const firstTickAllowance = 4 * 100; // each pusher starts with a quarter second's budget
  t.true(report.durationMs >= ((pushed - firstTickAllowance) / (4 * 400)) * 1000, `${pushed} entries at 4 × 400/s took ${report.durationMs} ms`);
  t.deepEqual((await c.compareReplicas()).keysPerActor, before);

  // admission control: with a 1 ms target, a loaded actor's budget falls below its maximum
  const loaded = await startCluster(t, { ...QUIET, backgroundTargetP99Ms: 1, backgroundMinPerSec: 100, backgroundMaxPerSec: 100_000 });
  const stopAt = Date.now() + 1500;
  let i = 0;
  while (Date.now() < stopAt) await Promise.all(Array.from({ length: 256 }, () => loaded.put(`load:${i++}`, 'v')));
  const budgets = (await loaded.stats()).map((s) => s.backgroundBudgetPerSec);
  t.true(budgets.some((b) => b < 100_000), `budgets under load: ${budgets.join(', ')}`);
  // idle: an actor's own throttle is back at its maximum at its next tick (every 250 ms), the front end's cap at its next
  // (every PACE_INTERVAL_MS); a loaded test machine may run those timers late, so wait up to a few intervals
  const idleSince = Date.now();
  let idleBudgets: number[] = [];
  do {
    await new Promise((r) => setTimeout(r, 250));
    idleBudgets = (await loaded.stats()).map((s) => s.backgroundBudgetPerSec);
  } while (idleBudgets.some((b) => b !== 100_000) && Date.now() - idleSince < 5 * PACE_INTERVAL_MS);
  t.deepEqual(idleBudgets, idleBudgets.map(() => 100_000), 'idle again: the whole budget');
  t.log(`${pushed} entries paced at 400/s per pusher in ${report.durationMs} ms; budgets under load: ${budgets.join(', ')}`);
});

test.serial('pushes per actor are bounded: a second pass at once is refused rather than piled on, and passes still converge', async (t) => {
  // default gossip: the load below must not make a busy actor look down (no sloppy writes, no hints)
  const c = await startCluster(t, { ...QUIET, gossipIntervalMs: 100, failAfterMs: 2000, maxRepairPushesPerActor: 1, backgroundMinPerSec: 400, backgroundMaxPerSec: 400 });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => c.put(`busy:${i}`, i, { w: 'all' })));
  const before = (await c.compareReplicas()).keysPerActor;
  const victim = 2;
  await c.faults.wipe(victim);
  // both passes find the same differences and send every pusher a push while its first is still paced out
  const [a, b] = await Promise.all([c.repair(), c.repair()]);
  t.true(a.pushesIncomplete + b.pushesIncomplete > 0, `incomplete pushes: ${a.pushesIncomplete} + ${b.pushesIncomplete}`);
  for (let passes = 0; (await c.stats()).find((s) => s.id === victim)!.recovering && passes < 20; passes++) await c.repair();
  t.deepEqual((await c.compareReplicas()).keysPerActor, before);
});

test.serial('a periodic pass is skipped while requests are slow, and runs again once they are not', async (t) => {
  // a 1 ms p99 target: any real load sends the budget down to its minimum within a few 250 ms ticks
  const c = await startCluster(t, { ...QUIET, antiEntropyIntervalMs: 1000, backgroundTargetP99Ms: 1, backgroundMinPerSec: 100, backgroundMaxPerSec: 800 });
  const stopAt = Date.now() + 3500; // the first pass is due at 1 s, when the budget is already down at its minimum
  let i = 0;
  while (Date.now() < stopAt) await Promise.all(Array.from({ length: 256 }, () => c.put(`slow:${i++}`, 'v')));
  t.true(c.antiEntropyPassesSkipped > 0, 'passes were skipped under load');
  const passes = c.repairs;
  await until(t, 'a pass once idle', () => c.repairs > passes);
});

test.serial('a sustained load never starves the periodic pass: after maxSkippedAntiEntropyPasses skipped in a row, one runs anyway', async (t) => {
  // as the test above: the budget is at its minimum by the first pass, due at 1 s
  const c = await startCluster(t, { ...QUIET, antiEntropyIntervalMs: 1000, maxSkippedAntiEntropyPasses: 1, backgroundTargetP99Ms: 1, backgroundMinPerSec: 100, backgroundMaxPerSec: 800 });
  let i = 0;
  // load until a pass has been skipped and the next one forced (bounded: 20 s)
  const stopAt = Date.now() + 20_000;
  while (Date.now() < stopAt && c.antiEntropyPassesForced === 0) await Promise.all(Array.from({ length: 256 }, () => c.put(`starve:${i++}`, 'v')));
  t.true(c.antiEntropyPassesSkipped > 0, 'passes were skipped under load');
  t.true(c.antiEntropyPassesForced > 0, `a pass ran although the load went on (${c.antiEntropyPassesSkipped} skipped)`);
});

test('maxSkippedAntiEntropyPasses is validated', async (t) => {
  for (const bad of [-1, 1.5, 1001, 'x']) {
    await t.throwsAsync(startCluster(t, { maxSkippedAntiEntropyPasses: bad as never }), { instanceOf: InvalidOptionError }, String(bad));
  }
});

test.serial('repairing one missed key moves a handful of keys, not the range', async (t) => {
  const c = await startCluster(t, QUIET);
  await Promise.all(Array.from({ length: 5000 }, (_, i) => c.put(`bulk:${i}`, `v${i}`, { w: 'all' })));
  const pref = c.ring.preferenceList(c.ring.arc(9).end);
  const key = keyWithPreference(c, pref, 'missed');
  await c.faults.drop(pref[0]!, pref[2]!, 1);
  // strict: no sloppy substitute (and so no hint reaching the victim later), however gossip sees it under load
  await c.put(key, 'only-two', { w: 2, strict: true });
  await c.faults.heal();
  t.false((await c.inspect(key)).find((v) => v.actor === pref[2])!.found!);
  const report = await c.repair();
  t.is(report.arcsDiffering, 1);
  t.is(report.leavesDiffering, 1);
  t.true(report.keysSent <= 12, `moved ${report.keysSent} keys`);
  t.true(report.keysSent * 100 < report.keysCompared, `moved ${report.keysSent} of ${report.keysCompared} compared`);
  t.true((await c.inspect(key)).filter((v) => v.role === 'replica').every((v) => v.versions[0]?.value === 'only-two'));
  t.is((await c.compareReplicas()).divergent.length, 0);
  t.log(`one missing key: repair moved ${report.keysSent} keys / ${report.bytesSent} bytes; compared ${report.keysCompared} keys / ${report.bytesCompared} bytes`);
  const again = await c.repair();
  t.is(again.keysSent, 0, 'a second pass finds nothing to do');
});

test.serial('partition a minority, write on both sides with W=1, heal and repair: siblings hold both writes', async (t) => {
  const c = await startCluster(t, QUIET);
  const pref = c.ring.preferenceList(c.ring.arc(21).end);
  const key = keyWithPreference(c, pref, 'split');
  const base = await c.put(key, 'base', { w: 'all' });
  const minority = [pref[0]!];
  const majority = [0, 1, 2, 3, 4].filter((id) => !minority.includes(id));
  await c.faults.partition(minority, majority);
  await until(t, 'minority detected', () => c.members().find((m) => m.id === minority[0])!.status === 'down');
  // Clients on each side write through an actor on their side, from the same context.
  await c.put(key, 'majority-side', { w: 1, context: base.context, via: pref[1]! });
  await c.put(key, 'minority-side', { w: 1, context: base.context, via: pref[0]! });
  const acknowledged = ['majority-side', 'minority-side'];
  t.deepEqual((await c.get(key, { r: 1, via: pref[0]! })).values, ['minority-side'], 'the minority sees only its own write');
  await c.faults.heal();
  await until(t, 'healed', () => c.members().every((m) => m.status === 'up'));
  await c.repair();
  // every actor must answer: one left out (busy) could still hold the only copies, as hints (W=2 met by two substitutes)
  await until(t, 'hints handed off', async () => {
    const stats = await c.stats({ timeoutMs: 5000 });
    return stats.length === 5 && stats.every((s) => s.hintsPending === 0);
  }, 20_000);
  await c.repair();
  const res = await c.get(key, { r: 'all' });
  t.deepEqual([...res.values].sort(), [...acknowledged].sort());
  const replicas = (await c.inspect(key)).filter((v) => v.role === 'replica');
  t.is(new Set(replicas.map((v) => v.context)).size, 1, 'all replicas identical');
});

test.serial('a tombstone is reaped only once every replica holds it: delete with a replica down, reap, restart, repair', async (t) => {
  const c = await startCluster(t, { ...QUIET, tombstoneGraceMs: 0 });
  const pref = c.ring.preferenceList(c.ring.arc(30).end);
  const key = keyWithPreference(c, pref, 'tomb');
  const w = await c.put(key, 'alive', { w: 'all' });
  const down = pref[2]!;
  await c.faults.kill(down);
  await c.delete(key, { context: w.context, w: 2 });
  const whileDown = await c.repair();
  t.is(whileDown.tombstonesReaped, 0, 'nothing reaped while a replica is down (and a hint is pending)');
  await c.faults.restart(down);
  await until(t, 'hint handed off', async () => (await c.stats()).every((s) => s.hintsPending === 0));
  let reaped = 0;
  for (let pass = 0; pass < 3 && reaped === 0; pass++) reaped += (await c.repair()).tombstonesReaped;
  t.true(reaped >= 3, `reaped ${reaped}`);
  const views = await c.inspect(key);
  t.deepEqual(
    views.map((v) => [v.found, v.versions.length]),
    [
      [false, 0],
      [false, 0],
      [false, 0],
    ],
    'the tombstone is gone from every replica',
  );
  t.false((await c.get(key, { r: 'all' })).found, 'the key stays deleted');
  await c.repair();
  t.false((await c.get(key, { r: 'all' })).found, 'and nothing brings it back');
});

test.serial('mixed workload from concurrent clients under kills, pauses and partitions: after heal and repair nothing acknowledged is lost and replicas are identical', async (t) => {
  const c = await startCluster(t, { ...QUIET, timeoutMs: 1000 });
  const random = prng(2026);
  const keys = Array.from({ length: 60 }, (_, i) => `mix:${i}`);
  const acked = new Map<string, Set<string>>(keys.map((k) => [k, new Set()]));
  let stop = false;
  let ok = 0;
  let failed = 0;
  const client = async (id: number): Promise<void> => {
    for (let op = 0; !stop; op++) {
      const key = keys[Math.floor(random() * keys.length)]!;
      try {
        const current = await c.get(key, { r: 1 });
        const union = new Set<string>();
        for (const v of current.values) for (const e of v as string[]) union.add(e);
        const element = `${id}-${op}`;
        union.add(element);
        await c.put(key, [...union], { context: current.context, w: 2 });
        acked.get(key)!.add(element);
        ok++;
      } catch {
        failed++;
      }
    }
  };
  const clients = Array.from({ length: 8 }, (_, i) => client(i));
  const nemesis = async (): Promise<void> => {
    await new Promise((r) => setTimeout(r, 300));
    await c.faults.kill(1);
    await new Promise((r) => setTimeout(r, 600));
    await c.faults.restart(1);
    c.faults.pause(3, 800);
    await new Promise((r) => setTimeout(r, 1000));
    await c.faults.partition([0, 4], [1, 2, 3]);
    await new Promise((r) => setTimeout(r, 800));
    await c.faults.heal();
    await new Promise((r) => setTimeout(r, 300));
  };
  await nemesis();
  stop = true;
  await Promise.all(clients);
  t.true(ok > 100, `${ok} acknowledged writes (${failed} failed)`);
  await until(t, 'everyone up', () => c.members().every((m) => m.status === 'up'));
  await until(t, 'hints handed off', async () => (await c.stats()).every((s) => s.hintsPending === 0));
  await c.repair();
  let lost = 0;
  for (const key of keys) {
    const seen = new Set<string>();
    for (const v of (await c.get(key, { r: 'all' })).values) for (const e of v as string[]) seen.add(e);
    for (const e of acked.get(key)!) if (!seen.has(e)) lost++;
  }
  t.is(lost, 0, 'every acknowledged add is readable');
  await c.repair();
  t.is((await c.compareReplicas()).divergent.length, 0, 'all replicas identical');
  t.log(`${ok} acknowledged writes, ${failed} failed during faults`);
});
