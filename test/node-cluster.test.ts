// Two nodes of a multi-node cluster in one process, through the library API (real etcd on loopback).
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../src/index.js';
import { freePort, startEtcd, type EtcdServer } from './etcd-fixture.js';

let etcd: EtcdServer;
const dirs: string[] = [];
test.before(async () => {
  etcd = await startEtcd();
});
test.after.always(async () => {
  await etcd?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function node(cluster: string, name: string, actors: number, over: { dataDir?: string; changeTimeoutMs?: number } = {}): Promise<Cluster> {
  const dataDir = over.dataDir ?? mkdtempSync(join(tmpdir(), `ringkv-lib-node-${name}-`));
  dirs.push(dataDir);
  const changeTimeoutMs = over.changeTimeoutMs;
  return Cluster.start({ dataDir, actors, antiEntropyIntervalMs: 0, node: { etcd: [etcd.endpoint], cluster, advertise: `127.0.0.1:${await freePort()}`, secret: 'library-secret', name, ...(changeTimeoutMs !== undefined ? { changeTimeoutMs } : {}) } });
}

test.serial('a wiped actor on one node is refilled by that node\'s anti-entropy pass, which compares every arc it replicates, and is then marked recovered', async (t) => {
  const a = await node('wipe', 'a', 3);
  t.teardown(() => a.close());
  for (let i = 0; i < 300; i++) await a.put(`k${i}`, `v${i}`);
  const b = await node('wipe', 'b', 2);
  t.teardown(() => b.close());
  t.deepEqual(b.nodes()!.nodes.map((n) => [n.name, n.actors.length]), [['a', 3], ['b', 2]]);
  const victim = b.nodes()!.nodes.find((n) => n.name === 'b')!.actors[0]!;
  const keysBefore = (await b.stats()).find((s) => s.id === victim)!.keys;
  t.true(keysBefore > 0, 'the joined actor took over keys');
  await b.faults.wipe(victim);
  const after = (await b.stats()).find((s) => s.id === victim)!;
  t.is(after.keys, 0);
  t.true(after.recovering, 'an empty env where data was expected: recovering');
  // a's pass alone does not cover all of the victim's arcs; b's does, and b marks it recovered
  const report = await b.repair();
  t.true(report.keysSent >= keysBefore, `${report.keysSent} entries pushed`);
  const refilled = (await b.stats()).find((s) => s.id === victim)!;
  t.is(refilled.keys, keysBefore);
  t.false(refilled.recovering);
  for (let i = 0; i < 300; i++) t.deepEqual((await a.get(`k${i}`)).values.map(String), [`v${i}`]);
  // a's view of b's actor comes over the control channel
  t.is((await a.stats()).find((s) => s.id === victim)?.keys, keysBefore);
});

test.serial('a single-machine option that means nothing on a node is refused', async (t) => {
  const a = await node('refuse', 'solo', 3);
  t.teardown(() => a.close());
  await t.throwsAsync(() => a.addActor(), { message: /actors join and leave with their node/ });
  await t.throwsAsync(() => a.removeActor(0), { message: /actors join and leave with their node/ });
  t.throws(() => a.setNodeFaults({ partitioned: ['nobody'] }), { message: /unknown node nobody/ });
  await t.throwsAsync(() => a.forgetNode('solo'), { message: /cannot forget itself/ });
  await t.throwsAsync(() => a.leave(), { message: /leaves 0 actors; n=3 needs at least 3/ });
});

test.serial('a join that a node of the ring never acknowledges is abandoned (the ring as it was); once that node is forgotten the same node joins', async (t) => {
  const a = await node('abandon', 'a', 3);
  t.teardown(() => a.close());
  for (let i = 0; i < 100; i++) await a.put(`k${i}`, `v${i}`);
  const b = await node('abandon', 'b', 1);
  await b.close(); // gone: its lease revoked, its actor still in the ring
  const version = a.nodes()!.ringVersion;
  const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-lib-node-c-'));
  await t.throwsAsync(() => node('abandon', 'c', 1, { dataDir, changeTimeoutMs: 1500 }), { message: /nodes b did not take up phase stream/ });
  for (let i = 0; i < 50 && a.nodes()!.change !== null; i++) await new Promise((r) => setTimeout(r, 50));
  t.is(a.nodes()!.change, null, 'the change was abandoned');
  t.is(a.nodes()!.ringVersion, version, 'the ring as it was');
  for (let i = 0; i < 100 && a.nodes()!.nodes.some((n) => n.name === 'c'); i++) await new Promise((r) => setTimeout(r, 50));
  t.false(a.nodes()!.nodes.some((n) => n.name === 'c'), 'the failed node left no record (its lease revoked) and no actor in the ring');
  const forgotten = await a.forgetNode('b');
  t.is(forgotten.removed.length, 1);
  const c = await node('abandon', 'c', 1, { dataDir });
  t.teardown(() => c.close());
  t.deepEqual(c.nodes()!.nodes.map((n) => n.name), ['a', 'c']);
  for (let i = 0; i < 100; i++) t.deepEqual((await c.get(`k${i}`)).values.map(String), [`v${i}`]);
});

test.serial('a membership change needs etcd: tried during an outage it fails, while reads and writes go on; the ring is as it was', async (t) => {
  const a = await node('needs-etcd', 'a', 3);
  t.teardown(() => a.close());
  const b = await node('needs-etcd', 'b', 1);
  t.teardown(() => b.close());
  const version = a.nodes()!.ringVersion;
  await etcd.stop();
  try {
    await t.throwsAsync(() => b.leave());
    await b.put('during', 'outage');
    t.deepEqual((await a.get('during')).values.map(String), ['outage']);
  } finally {
    await etcd.start();
  }
  for (let i = 0; i < 100 && !a.nodes()!.etcd.reachable; i++) await new Promise((r) => setTimeout(r, 100));
  t.is(a.nodes()!.ringVersion, version);
  t.is(a.nodes()!.change, null);
  t.deepEqual(b.nodes()!.nodes.find((n) => n.name === 'b')!.actors.length, 1, 'b is still in the ring');
});
