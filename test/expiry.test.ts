import test from 'ava';
import { InvalidOptionError } from '../src/errors.js';
import { Cluster } from '../src/index.js';
import { keyWithPreference, startCluster, tempDir, until } from './helpers.js';

/** Background passes off: the test runs each one itself. */
const QUIET = { antiEntropyIntervalMs: 0 };
/** Passes only: the expiry sweep off, so what a pass collects can be counted. */
const PASSES_ONLY = { ...QUIET, expirySweepIntervalMs: 0 };
/** The expiry sweep only, looking often: no anti-entropy pass runs unless a test asks for one. */
// The expiry sweep's timing tests run on simulated time: test/sim-scenarios.test.ts.

/** Keys sharing one preference list, written (W=2, expiring after ttlMs) while the replica at `downPlace` is killed. */
async function writeWhileDown(c: Cluster, prefix: string, count: number, downPlace: number, ttlMs: number): Promise<{ keys: string[]; down: number }> {
  const pref = c.ring.preferenceList(c.ring.arc(30).end);
  const keys = Array.from({ length: count }, (_, i) => keyWithPreference(c, pref, `${prefix}${i}`));
  const down = pref[downPlace]!;
  await c.faults.kill(down);
  for (const k of keys) await c.put(k, 'v', { ttlMs, w: 2 });
  return { keys, down };
}

test.serial('a value with ttlMs is visible until it expires, then invisible to every read path; the expiry replicates with it', async (t) => {
  const c = await startCluster(t, { ...QUIET, actors: 5 });
  const pref = c.ring.preferenceList(c.ring.arc(10).end);
  const key = keyWithPreference(c, pref, 'ttl');
  const before = Date.now();
  await c.put(key, 'soon gone', { ttlMs: 400, w: 'all' });
  await c.put('forever', 'stays');
  const live = await c.get(key);
  t.deepEqual(live.values, ['soon gone']);
  t.true(live.expiresAtMs[0]! >= before + 400 && live.expiresAtMs[0]! <= Date.now() + 400);
  // every replica holds the same expiry (it is part of the version)
  const views = await c.inspect(key);
  t.deepEqual(new Set(views.filter((v) => v.role === 'replica').map((v) => v.versions[0]!.expiresAtMs)).size, 1);
  await until(t, 'expired', async () => Date.now() > live.expiresAtMs[0]!, 2000);
  t.false((await c.get(key)).found, 'a direct read');
  t.false((await c.get(key, { via: pref[1]! })).found, 'a read coordinated by an actor');
  t.false((await c.get(key, { r: 'all' })).found);
  const after = await c.inspect(key);
  t.true(after.filter((v) => v.role === 'replica').every((v) => v.found === false && v.versions[0]!.expired));
  const page = await c.scan(0, { count: 1000 });
  t.false(page.keys.some((k) => k.toString() === key), 'a scan leaves it out');
  t.true((await c.get('forever')).found);
  // a write without a context replaces it, without its expiry
  await c.put(key, 'back');
  const back = await c.get(key);
  t.deepEqual([back.values, back.expiresAtMs], [['back'], [0]]);
});

test.serial('expiry is carried by hinted handoff and anti-entropy, and expired values are collected by the tombstone GC', async (t) => {
  const c = await startCluster(t, { ...PASSES_ONLY, actors: 5, tombstoneGraceMs: 0 });
  // long enough for the handoff and a pass to finish before it expires, on a loaded machine
  const { keys, down } = await writeWhileDown(c, 'exp', 20, 2, 4000);
  await c.faults.restart(down);
  await until(t, 'hints handed off', async () => (await c.stats()).every((s) => s.hintsPending === 0));
  await c.repair();
  const views = await c.inspect(keys[0]!);
  const held = views.filter((v) => v.role === 'replica' && v.actor === down)[0]!;
  t.true(held.versions.length === 1 && held.versions[0]!.expiresAtMs > 0, 'the replica that was down holds the value with its expiry');
  // the last key was written last (on a loaded machine, seconds after the first): wait for it to expire too
  await until(t, 'every key expired', async () => !(await c.get(keys[keys.length - 1]!)).found, 15_000);
  let reaped = 0;
  // a pass reaps within its background budget (a loaded machine lowers it): a few more passes collect what one left
  for (let pass = 0; pass < 8 && reaped < keys.length * 3; pass++) reaped += (await c.repair()).tombstonesReaped;
  t.is(reaped, keys.length * 3, 'every copy of every expired value collected');
  for (const v of await c.inspect(keys[5]!)) t.is(v.versions.length, 0);
  t.false((await c.get(keys[5]!, { r: 'all' })).found, 'and nothing brings it back');
});

test('bad expiry options are refused and write nothing', async (t) => {
  const c = await startCluster(t, QUIET);
  for (const options of [{ ttlMs: 0 }, { ttlMs: -5 }, { ttlMs: 1.5 }, { ttlMs: 'soon' }, { ttlMs: 1e20 }, { expireAtMs: 0 }, { expireAtMs: 2 ** 60 }, { ttlMs: 10, expireAtMs: Date.now() + 10 }]) {
    await t.throwsAsync(c.put('k', 'v', options as never), { instanceOf: InvalidOptionError }, JSON.stringify(options));
  }
  await t.throwsAsync(c.delete('k', { ttlMs: 10 } as never), { instanceOf: InvalidOptionError });
  t.false((await c.get('k')).found);
  // an instant already past writes a value no read shows (Redis: SET … PXAT <past> leaves no key)
  await c.put('k', 'v');
  await c.put('k', 'gone', { expireAtMs: Date.now() - 1000 });
  t.false((await c.get('k')).found);
});

test.serial('a workload that writes only expiring keys stays bounded: passes alone collect what expired, round after round', async (t) => {
  const c = await startCluster(t, { ...PASSES_ONLY, tombstoneGraceMs: 0 });
  const perRound = 300;
  const stored: number[] = [];
  for (let round = 0; round < 5; round++) {
    await Promise.all(Array.from({ length: perRound }, (_, i) => c.put(`round${round}:${i}`, 'x'.repeat(100), { ttlMs: 150, w: 'all' })));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await c.repair();
    stored.push((await c.stats()).reduce((s, a) => s + a.keys, 0));
  }
  // without collection the store would hold 5 rounds x 300 keys x 3 replicas = 4500 entries
  t.true(stored.every((n) => n <= perRound * 3), `entries stored after each round: ${stored.join(', ')}`);
  // a pass reaps within its background budget: a few more passes collect what the last one left
  let left = stored[stored.length - 1]!;
  for (let pass = 0; pass < 5 && left > 0; pass++) {
    await c.repair();
    left = (await c.stats()).reduce((s, a) => s + a.keys, 0);
  }
  t.is(left, 0, 'everything written has expired and been collected');
});

test.serial('expiry across a partition and a restart: writes on both sides keep their own expiries as siblings; after heal, repair and a restart every replica agrees', async (t) => {
  const dataDir = tempDir(t);
  const c = await Cluster.start({ dataDir, actors: 5, n: 3, r: 1, w: 1, antiEntropyIntervalMs: 0 });
  const pref = c.ring.preferenceList(c.ring.arc(40).end);
  const key = keyWithPreference(c, pref, 'split');
  const others = [0, 1, 2, 3, 4].filter((id) => id !== pref[0]);
  await c.faults.partition([pref[0]!], others);
  const farMs = Date.now() + 3_600_000;
  await c.put(key, 'left', { via: pref[0]!, expireAtMs: farMs });
  await c.put(key, 'right', { via: pref[1]!, ttlMs: 7_200_000 });
  await c.faults.heal();
  await c.repair();
  const read = await c.get(key, { r: 'all' });
  t.deepEqual([...read.values].sort(), ['left', 'right'], 'concurrent writes: siblings, each with its own expiry');
  t.true(read.expiresAtMs.includes(farMs));
  await c.close();
  const again = await Cluster.start({ dataDir, antiEntropyIntervalMs: 0 });
  t.teardown(() => again.close());
  const views = (await again.inspect(key)).filter((v) => v.role === 'replica');
  t.is(views.length, 3);
  t.is(new Set(views.map((v) => JSON.stringify(v.versions.map((x) => [x.value, x.expiresAtMs])))).size, 1, 'every replica holds the same versions with the same expiries');
  t.true(views[0]!.versions.some((x) => x.expiresAtMs === farMs));
});
