import test from 'ava';
import { Cluster } from '../src/index.js';
import { ringPosition } from '../src/ring/hash.js';
import { startCluster, tempDir, until } from './helpers.js';

/** Keys whose preference list contains `actor` but is not coordinated by it. */
function keysReplicatedBy(c: Cluster, actor: number, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const k = `h${i}`;
    const pref = c.ring.preferenceList(ringPosition(Buffer.from(k)));
    if (pref.includes(actor) && pref[0] !== actor) out.push(k);
  }
  return out;
}

const sum = async (c: Cluster, field: 'hintsPending' | 'hintsHandedOff' | 'hintsDropped' | 'sloppyWrites'): Promise<number> =>
  (await c.stats({ timeoutMs: 5000 })).reduce((s, a) => s + a[field], 0); // generous: a busy actor must not drop out of the sum

test.serial('W=2 succeeds with a replica killed; the hint reaches the owner after restart; all three replicas end equal', async (t) => {
  const c = await startCluster(t, { handoffIntervalMs: 50 });
  const owner = 3;
  const keys = keysReplicatedBy(c, owner, 40);
  await c.faults.kill(owner);
  for (const k of keys) await c.put(k, `while-${owner}-down`, { w: 2 });
  t.true((await sum(c, 'sloppyWrites')) >= keys.length, 'every write took a sloppy substitute for the dead owner');
  await until(t, 'every hint stored', async () => (await sum(c, 'hintsPending')) === keys.length);
  const held = (await c.inspect(keys[0]!)).filter((v) => v.role === 'hint');
  t.is(held.length, 1);
  t.is(held[0]!.hintFor, owner);
  t.deepEqual(held[0]!.versions.map((v) => v.value), [`while-${owner}-down`]);
  await c.faults.restart(owner);
  await until(t, 'hints handed off', async () => (await sum(c, 'hintsPending')) === 0);
  t.is(await sum(c, 'hintsHandedOff'), keys.length);
  for (const k of keys) {
    const views = await c.inspect(k);
    t.deepEqual(views.filter((v) => v.role === 'hint'), [], 'no hint left');
    const replicas = views.filter((v) => v.role === 'replica');
    t.is(replicas.length, 3);
    t.deepEqual(new Set(replicas.map((v) => v.context)).size, 1, `${k}: all three replicas hold the same version`);
    t.true(replicas.every((v) => v.versions[0]?.value === `while-${owner}-down`));
  }
});

test.serial('hints are durable: they survive a restart of the whole cluster and are handed off afterwards', async (t) => {
  const dataDir = tempDir(t);
  let c = await Cluster.start({ dataDir, actors: 5, handoffIntervalMs: 50 });
  const owner = 1;
  const keys = keysReplicatedBy(c, owner, 20);
  await c.faults.kill(owner);
  for (const k of keys) await c.put(k, 'durable-hint', { w: 2 });
  // W=2 may be met by the two live owners before the substitute commits its hint. At least: under CPU load
  // gossip may briefly suspect a live actor too, and its extra hints are handed off like any other.
  const waitedMs = await until(t, 'every hint stored', async () => (await sum(c, 'hintsPending')) >= keys.length, 20_000);
  if (waitedMs < 0) {
    // seen rarely in full-suite runs only: say where the hints went
    const stats = await c.stats({ timeoutMs: 5000 });
    t.log(JSON.stringify(stats.map((s) => ({ id: s.id, pending: s.hintsPending, stored: s.hintsStored, handedOff: s.hintsHandedOff, dropped: s.hintsDropped, sloppy: s.sloppyWrites }))));
    t.log(JSON.stringify(c.members().map((m) => [m.id, m.status])));
    for (const k of keys.slice(0, 3)) t.log(k, JSON.stringify((await c.inspect(k)).map((v) => [v.actor, v.role, v.hintFor, v.found])));
  }
  await c.close();
  c = await Cluster.start({ dataDir, handoffIntervalMs: 50 });
  t.teardown(() => c.close());
  await until(t, 'hints handed off after restart', async () => (await sum(c, 'hintsPending')) === 0);
  for (const k of keys) t.true((await c.inspect(k)).find((v) => v.actor === owner)!.found === true, k);
});

test.serial('hint storage is bounded: beyond maxHints a substitute refuses, and the drop is counted', async (t) => {
  const c = await startCluster(t, { maxHints: 3, handoffIntervalMs: 50, timeoutMs: 500 });
  const owner = 2;
  await c.faults.kill(owner);
  const keys = keysReplicatedBy(c, owner, 60);
  const results = await Promise.allSettled(keys.map((k) => c.put(k, 'x', { w: 3 })));
  const stats = await c.stats();
  for (const s of stats) t.true(s.hintsPending <= 3, `actor ${s.id} holds ${s.hintsPending} hints`);
  t.true((await sum(c, 'hintsDropped')) > 0);
  t.true(results.some((r) => r.status === 'rejected'), 'W=3 writes fail when their substitute is full');
});
