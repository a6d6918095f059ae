import test from 'ava';
import { Cluster } from '../src/index.js';
import { ringPosition } from '../src/ring/hash.js';
import { renderMetrics } from '../src/server/metrics.js';
import { startCluster, until, keyWithPreference } from './helpers.js';

const actorRepairs = async (c: Cluster): Promise<number> => (await c.stats()).reduce((s, a) => s + a.readRepairs, 0);

test.serial('acknowledged writes are read back by direct reads, including a read issued in the same turn as the acknowledgement', async (t) => {
  const c = await startCluster(t, { antiEntropyIntervalMs: 0 });
  const keys = Array.from({ length: 600 }, (_, i) => `same-turn-${i}`);
  const wrong: string[] = [];
  // 600 concurrent chains: each read is issued synchronously after its put resolved, so reads
  // share event-loop turns with acknowledgements of other writes to the same replicas
  await Promise.all(
    keys.map(async (k, i) => {
      for (let round = 0; round < 4; round++) {
        const value = `${i}-${round}`;
        await c.put(k, value, );
        const read = c.get(k); // no await in between
        const got = (await read).values;
        if (got.length !== 1 || got[0] !== value) wrong.push(`${k}: wrote ${value}, read ${JSON.stringify(got)}`);
      }
    }),
  );
  t.deepEqual(wrong.slice(0, 5), []);
  // overwrites through the read's context, and a read in the put's own .then callback
  for (const k of keys.slice(0, 100)) {
    const before = await c.get(k);
    const got = await c.put(k, { json: k }, { context: before.context }).then(() => c.get(k));
    t.deepEqual(got.values, [{ json: k }]);
  }
  const paths = c.readPaths();
  t.is(paths.direct, 600 * 4 + 200);
  t.is(paths.coordinated, 0);
});

test.serial('pause and partition send the reads of the touched keys to a coordinator; heal brings direct reads back', async (t) => {
  const c = await startCluster(t, { antiEntropyIntervalMs: 0, failAfterMs: 10_000 });
  const pref = c.ring.preferenceList(c.ring.arc(2).end);
  const key = keyWithPreference(c, pref);
  let other = 'other-0';
  for (let i = 1; c.ring.preferenceList(ringPosition(Buffer.from(other))).includes(pref[2]!); i++) other = `other-${i}`;
  await c.put(key, 'v', { w: 'all' });
  await c.put(other, 'o', { w: 'all' });
  const base = c.readPaths();
  c.faults.pause(pref[2]!, 800); // a replica the R=2 coordinator does not need: the read is answered at once
  t.deepEqual((await c.get(key)).values, ['v']);
  let p = c.readPaths();
  t.is(p.coordinatedBy.fault - base.coordinatedBy.fault, 1, 'the paused replica sent the read to a coordinator');
  t.is(p.direct, base.direct);
  t.deepEqual((await c.get(other)).values, ['o'], 'a key none of whose replicas is paused');
  t.is(c.readPaths().direct, base.direct + 1);
  await until(t, 'the pause ended', async () => {
    await c.get(key);
    return c.readPaths().direct > base.direct + 1;
  });
  const beforePartition = c.readPaths();
  await c.faults.partition([pref[2]!], [0, 1, 2, 3, 4].filter((id) => id !== pref[2]));
  t.deepEqual((await c.get(key)).values, ['v']);
  p = c.readPaths();
  t.is(p.coordinatedBy.fault - beforePartition.coordinatedBy.fault, 1);
  t.is(p.direct, beforePartition.direct);
  await c.faults.delay(pref[0]!, pref[1]!, 5); // a rule on one link touches both ends
  await c.faults.heal();
  await c.faults.delay(pref[1]!, pref[0]!, 5);
  t.deepEqual((await c.get(key)).values, ['v']);
  t.is(c.readPaths().coordinatedBy.fault - beforePartition.coordinatedBy.fault, 2);
  await c.faults.heal();
  t.deepEqual((await c.get(key)).values, ['v']);
  t.is(c.readPaths().direct, beforePartition.direct + 1, 'healed: direct again');
});

test.serial('a stale replica found by a direct read is repaired by a Repair message to it', async (t) => {
  const c = await startCluster(t, { antiEntropyIntervalMs: 0, strict: true, failAfterMs: 10_000 });
  const pref = c.ring.preferenceList(c.ring.arc(9).end);
  const key = keyWithPreference(c, pref);
  const stale = pref[2]!;
  await c.faults.partition([stale], [0, 1, 2, 3, 4].filter((id) => id !== stale));
  await c.put(key, 'missed', { w: 1 }); // strict: no hint; the partitioned replica never gets it
  await c.faults.heal();
  t.is((await c.inspect(key)).find((v) => v.actor === stale)!.found, false, 'the replica is stale');
  const before = c.readPaths();
  const repairsBefore = await actorRepairs(c);
  t.deepEqual((await c.get(key, { r: 'all' })).values, ['missed']);
  const after = c.readPaths();
  t.is(after.direct, before.direct + 1, 'served directly');
  t.true(after.directReadRepairs > before.directReadRepairs);
  await until(t, 'the stale replica was repaired', async () => (await c.inspect(key)).every((v) => v.found === true));
  t.is(await actorRepairs(c), repairsBefore, 'no coordinator was involved');
  // inspect() sees writes still waiting for their commit; a direct read sees only committed ones
  await until(t, 'every write committed', async () => (await c.stats()).every((s) => s.pendingWrites === 0));
  const settled = c.readPaths().directReadRepairs;
  t.deepEqual((await c.get(key, { r: 'all' })).values, ['missed']);
  t.is(c.readPaths().directReadRepairs, settled, 'nothing left to repair');
});

test.serial('a killed actor is read around, then read again through a reopened handle after its restart; a wiped one only after recovery', async (t) => {
  const c = await startCluster(t, { antiEntropyIntervalMs: 0, strict: true });
  const pref = c.ring.preferenceList(c.ring.arc(4).end);
  const key = keyWithPreference(c, pref);
  const victim = pref[0]!;
  await c.put(key, 'one', { w: 'all' });
  t.deepEqual((await c.get(key, { r: 'all' })).values, ['one']); // opens a handle on every replica
  // reads keep going while the actor is killed and restarted: none may touch a closed handle
  let reading = true;
  let readsDuring = 0;
  const reader = (async () => {
    while (reading) {
      t.deepEqual((await c.get(key, { r: 2 })).values.length, 1);
      readsDuring++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  for (let i = 0; i < 3; i++) {
    await c.faults.kill(victim);
    t.deepEqual((await c.get(key, { r: 2 })).values.length, 1);
    await c.faults.restart(victim);
  }
  reading = false;
  await reader;
  t.true(readsDuring > 0);
  // the restarted incarnation's env: a write acknowledged by all three is read back with R=all, directly
  const before = c.readPaths();
  await c.put(key, 'two', { w: 'all', context: (await c.get(key)).context });
  t.deepEqual((await c.get(key, { r: 'all' })).values, ['two']);
  t.is(c.readPaths().direct, before.direct + 2);
  // wiped: recovering, so R=all cannot be direct (nor coordinated); R=2 reads the other two directly
  await c.faults.wipe(victim);
  const w = c.readPaths();
  t.deepEqual((await c.get(key, { r: 2 })).values, ['two']);
  t.is(c.readPaths().direct, w.direct + 1);
  await t.throwsAsync(c.get(key, { r: 'all', timeoutMs: 300 }));
  t.is(c.readPaths().coordinatedBy.unhealthy, w.coordinatedBy.unhealthy + 1);
  await c.repair(); // refills it and ends its recovery
  await c.put(key, 'three', { w: 'all', context: (await c.get(key)).context });
  const r = c.readPaths();
  t.deepEqual((await c.get(key, { r: 'all' })).values, ['three']);
  t.is(c.readPaths().direct, r.direct + 1, 'the wiped actor\'s new env is read directly once recovered');
});

test.serial('directReads: false sends every read to a coordinator; metrics and stats show which path served', async (t) => {
  const off = await startCluster(t, { directReads: false, antiEntropyIntervalMs: 0 });
  await off.put('k', 'v');
  t.deepEqual((await off.get('k')).values, ['v']);
  t.like(off.readPaths(), { direct: 0, coordinated: 1, coordinatedBy: { disabled: 1 } });
  const on = await startCluster(t, { antiEntropyIntervalMs: 0 });
  await on.put('k', 'v');
  await on.get('k');
  await on.get('k', { via: on.ring.preferenceList(ringPosition(Buffer.from('k')))[1]! });
  t.like(on.readPaths(), { direct: 1, coordinated: 1, coordinatedBy: { via: 1 } });
  const text = await renderMetrics(on);
  t.regex(text, /ringkv_reads_total\{path="direct"\} 1/);
  t.regex(text, /ringkv_reads_total\{path="coordinated"\} 1/);
  t.regex(text, /ringkv_coordinated_reads_total\{reason="via"\} 1/);
  await t.throwsAsync(Cluster.start({ dataDir: off.options.dataDir + '-x', directReads: 'yes' as never }));
});
