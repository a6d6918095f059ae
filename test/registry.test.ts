import test from 'ava';
import { Registry } from '../src/nodes/registry.js';
import { abandonChange, actorRings, beginChange, finishChange, firstRing, parseRing, RegistryRecordError, settingsClashes, toSwitch, type NodeRingMember } from '../src/nodes/records.js';
import { startEtcd, type EtcdServer } from './etcd-fixture.js';

// ---- the records (pure) ----

const A: NodeRingMember = { id: 0, zone: 'a', node: 'a', tokens: [1, 2] };
const B: NodeRingMember = { id: 1, zone: 'b', node: 'b', tokens: [3] };

test('records: a change goes stream -> switch -> done, one version on; the actors hold the right rings in each phase', (t) => {
  const r1 = firstRing([A]);
  t.deepEqual(actorRings(r1), { members: [A], pending: null });
  const s = beginChange(r1, [A, B], 'b', 'c1');
  t.deepEqual(actorRings(s), { members: [A], pending: [A, B] }, 'streaming: coordinate by the old ring, forward writes to the new');
  t.throws(() => beginChange(s, [A], 'c', 'c2'), { instanceOf: RegistryRecordError, message: /already in progress/ });
  const w = toSwitch(s);
  t.deepEqual(actorRings(w), { members: [A, B], pending: [A] }, 'switching: coordinate by the new ring, still forward to the old');
  t.throws(() => abandonChange(w), { instanceOf: RegistryRecordError });
  const done = finishChange(w);
  t.is(done.version, 2);
  t.deepEqual(done.members, [A, B]);
  t.is(done.pending, null);
  t.deepEqual(abandonChange(s), r1);
  t.throws(() => finishChange(s), { instanceOf: RegistryRecordError });
  t.throws(() => toSwitch(r1), { instanceOf: RegistryRecordError });
});

test('records: a malformed ring record fails loudly, naming it', (t) => {
  for (const raw of ['{', 'null', '{"version":0,"members":[],"pending":null}', '{"version":1,"members":[{"id":0}],"pending":null}', '{"version":1,"members":[{"id":0,"zone":"a","node":"a","tokens":[1]}],"pending":{"phase":"x"}}', '{"version":1,"members":[{"id":0,"zone":"a","node":"a","tokens":[1]}],"pending":{"phase":"stream","by":"a","members":[{"id":0,"zone":"a","node":"a","tokens":[1]}]}}']) {
    t.throws(() => parseRing(raw), { instanceOf: RegistryRecordError, message: /ring record/ }, raw);
  }
  t.is(parseRing(JSON.stringify(firstRing([A]))).version, 1);
});

test('records: settings a joining node brings are compared with the cluster\'s', (t) => {
  const s = { layoutVersion: 1, n: 3, vnodes: 64, lastWriteWins: false, compressionThresholdBytes: 0 };
  t.deepEqual(settingsClashes(s, s), []);
  t.deepEqual(settingsClashes(s, { ...s, n: 2 }), ['n: the cluster has 3, this node 2']);
});

// ---- against a real etcd ----

let etcd: EtcdServer;
test.before(async () => {
  etcd = await startEtcd();
});
test.after.always(async () => {
  await etcd?.destroy();
});

function registry(cluster: string, over: Partial<ConstructorParameters<typeof Registry>[0]> = {}): Registry {
  return new Registry({ endpoints: [etcd.endpoint], cluster, leaseTtlS: 2, callTimeoutMs: 3000, log: () => undefined, ...over });
}

test.serial('registry: two nodes racing to change the ring: exactly one compare-and-swap wins', async (t) => {
  const a = registry('race');
  const b = registry('race');
  t.teardown(() => a.close());
  t.teardown(() => b.close());
  t.true(await a.swapRing(null, firstRing([A])));
  t.false(await b.swapRing(null, firstRing([B])), 'the ring exists: a second creation fails');
  const readA = (await a.ring())!;
  const readB = (await b.ring())!;
  const [wa, wb] = await Promise.all([a.swapRing(readA, beginChange(readA.record, [A, B], 'a', 'ca')), b.swapRing(readB, beginChange(readB.record, [A], 'b', 'cb'))]);
  t.is(Number(wa) + Number(wb), 1, 'one of two conflicting changes commits');
  const after = (await a.ring())!;
  t.is(after.record.pending!.by, wa ? 'a' : 'b');
});

test.serial('registry: acknowledgements belong to one change: another change at the same version does not see them, and they are cleared', async (t) => {
  const r = registry('acks');
  t.teardown(() => r.close());
  await r.ack(4, 'first', 'stream', 'a');
  await r.ack(4, 'first', 'stream', 'b');
  t.deepEqual((await r.acks(4, 'first', 'stream')).sort(), ['a', 'b']);
  t.deepEqual(await r.acks(4, 'second', 'stream'), [], 'an abandoned change\'s acks do not count for the next one at the same version');
  t.deepEqual(await r.acks(4, 'first', 'switch'), []);
  await r.clearAcks(4, 'first');
  t.deepEqual(await r.acks(4, 'first', 'stream'), []);
});

test.serial('registry: counters hand out disjoint numbers to concurrent callers', async (t) => {
  const regs = [registry('count'), registry('count'), registry('count')];
  t.teardown(() => Promise.all(regs.map((r) => r.close())));
  const firsts = await Promise.all(regs.flatMap((r) => [r.allocate('actorId', 3), r.allocate('actorId', 3)]));
  const taken = firsts.flatMap((f) => [f, f + 1, f + 2]).sort((x, y) => x - y);
  t.deepEqual(taken, [...Array(18).keys()]);
});

test.serial('registry: settings are set once by the first node; watchers see ring changes; a node is gone when its lease ends', async (t) => {
  const a = registry('watch');
  const b = registry('watch');
  t.teardown(() => b.close());
  const s = { layoutVersion: 1, n: 3, vnodes: 64, lastWriteWins: false, compressionThresholdBytes: 0 };
  t.deepEqual(await a.settings(s), s);
  t.deepEqual(await b.settings({ ...s, n: 5 }), s, 'the second node reads the first one\'s settings');
  const versions: number[] = [];
  await b.watchRing((r) => versions.push(r.record.version));
  const seen: string[][] = [];
  await b.watchNodes((nodes) => seen.push(nodes.map((n) => n.name).sort()));
  await a.swapRing(null, firstRing([A]));
  const r1 = (await a.ring())!;
  const r2 = beginChange(r1.record, [A, B], 'a', 'c3');
  await a.swapRing(r1, r2);
  const r2read = (await a.ring())!;
  await a.swapRing(r2read, finishChange(toSwitch(r2)));
  await a.register({ name: 'a', nodeNo: 0, host: '127.0.0.1', port: 1, clientAddresses: [], actors: [0] });
  const until = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  };
  await until(() => versions.includes(2) && seen.some((x) => x.includes('a')));
  t.true(versions.includes(2));
  t.true(seen.some((x) => x.join() === 'a'));
  await a.close(); // revokes the lease: the node's record goes at once
  await until(() => seen.at(-1)?.length === 0);
  t.deepEqual(seen.at(-1), []);
});

test.serial('registry: while etcd is down calls fail and reachable says so; it recovers when etcd is back', async (t) => {
  const a = registry('outage', { callTimeoutMs: 500 });
  t.teardown(() => a.close());
  await a.swapRing(null, firstRing([A]));
  t.true(a.reachable);
  await etcd.stop();
  await t.throwsAsync(() => a.ring());
  t.false(a.reachable);
  t.truthy(a.lastErrorMessage);
  await etcd.start();
  let ok = false;
  for (let i = 0; i < 100 && !ok; i++) {
    ok = await a.ring().then(() => true, () => false);
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  t.true(ok);
  t.true(a.reachable);
});
