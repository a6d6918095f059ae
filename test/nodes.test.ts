// Three (then four) ringkv node processes on loopback, their ring in a real etcd: a write workload
// through every node's RESP port while nodes are killed, paused, partitioned, added and removed;
// then the stress lab's checker: no acknowledged write lost, every replica converged.
import test from 'ava';
import type { Redis } from 'ioredis';
import { checkConvergence, checkNoLostWrites, type Op, type WriteOp } from '../tools/stress/checker.js';
import { startEtcd, type EtcdServer } from './etcd-fixture.js';
import { nodeProcess, CLUSTER_SECRET, type NodeProcess } from './node-fixture.js';
import net from 'node:net';
import { encodeValue } from '../src/cluster/values.js';
import { ByteWriter } from '../src/encoding/bytes.js';
import { encodeBatchFrame, encodeJsonFrame, FrameKind } from '../src/nodes/frames.js';
import { ringPosition } from '../src/ring/hash.js';
import { encodeMessage, MsgType } from '../src/transport/protocol.js';

let etcd: EtcdServer;
const nodes: NodeProcess[] = [];
test.before(async () => {
  etcd = await startEtcd();
});
test.after.always(async () => {
  for (const n of nodes) await n.destroy();
  await etcd?.destroy();
});

async function node(name: string, cluster: string, actors: number): Promise<NodeProcess> {
  const n = await nodeProcess(name, etcd.endpoint, cluster, actors);
  nodes.push(n);
  await n.start();
  return n;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A RESP2 map reply as an object. */
function asMap(flat: unknown): Record<string, string> {
  const a = flat as unknown[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < a.length; i += 2) out[String(a[i])] = String(a[i + 1]);
  return out;
}

/** Blind SETs of unique values over a few keys through one node, recorded for the checker. */
function writer(process: number, redis: Redis, keys: number, history: Op[], stop: { done: boolean }, t0: number): Promise<void> {
  let seq = 0;
  return (async () => {
    while (!stop.done) {
      const key = `k${Math.floor(Math.random() * keys)}`;
      const id = `p${process}-${seq++}`;
      const invokeMs = Date.now() - t0;
      let outcome: WriteOp['outcome'] = 'ok';
      try {
        await redis.set(key, id);
      } catch {
        outcome = 'info'; // refused, timed out or cut off: it may or may not have been written
        await sleep(20);
      }
      history.push({ kind: 'write', id, key, process, invokeMs, completeMs: Date.now() - t0, outcome, supersedes: [], blind: true });
    }
  })();
}

test.serial('three nodes under a write workload through all of them survive kill -9 and restart, a real pause, a partition, and a node added and one removed: nothing acknowledged lost, replicas converge', async (t) => {
  t.timeout(300_000);
  const a = await node('a', 'chaos', 3);
  const b = await node('b', 'chaos', 1);
  const c = await node('c', 'chaos', 1);
  const nodesOf = asMap(await a.client().call('RINGKV.NODES'));
  t.is(nodesOf.ring_version, '3', 'a created the ring (1); b and c joined (2, 3)');
  t.regex(nodesOf['node:c']!, /actors=4,.*registered=yes,connected=yes/);

  const KEYS = 24;
  const history: Op[] = [];
  const stop = { done: false };
  const t0 = Date.now();
  const workers = [a, a, b, b, c, c].map((n, i) => writer(i, n.client(), KEYS, history, stop, t0));
  const steps: string[] = [];
  const step = (s: string): void => void steps.push(`${Date.now() - t0} ms: ${s}`);

  await sleep(1500);
  step('kill -9 c');
  await c.kill9();
  await sleep(2000);
  await c.start();
  step('c restarted');
  await sleep(1500);
  step('SIGSTOP b for longer than its lease (5 s)');
  b.pause();
  const statusA = a.client();
  const registered = async (name: string): Promise<boolean> => /registered=yes/.test(asMap(await statusA.call('RINGKV.NODES'))[`node:${name}`] ?? '');
  // its lease expires: the others count it down for routing, at once
  let gone = false;
  for (let i = 0; i < 90 && !gone; i++) if (!(gone = !(await registered('b')))) await sleep(100);
  t.true(gone, "a paused node's record goes with its lease");
  b.resume();
  step('b resumed');
  // it finds its lease lost and registers again
  let back = false;
  for (let i = 0; i < 100 && !back; i++) if (!(back = await registered('b'))) await sleep(100);
  t.true(back, 'the resumed node registers again');
  await sleep(1500);
  step('partition c from a and b (in c\'s gateway) for 3 s');
  t.is(String(await c.client().call('RINGKV.NODEFAULTS', 'PARTITION', 'a', 'b')), 'OK');
  const cutFrom = Date.now() - t0;
  await sleep(3000);
  const cutTo = Date.now() - t0;
  t.is(String(await c.client().call('RINGKV.NODEFAULTS')), 'OK');
  await sleep(1500);
  step('add node d');
  const d = await node('d', 'chaos', 1);
  await sleep(1500);
  step('b leaves');
  const left = asMap(await b.client().call('RINGKV.LEAVE'));
  t.is(left.removed, '3', "b's one actor left the ring");
  await b.stop();
  await sleep(1500);
  step('kill -9 d for good; a forgets it once its lease is gone');
  const dActors = asMap(await a.client().call('RINGKV.NODES'))['node:d']!;
  await d.kill9();
  await t.throwsAsync(() => a.client().call('RINGKV.FORGETNODE', 'a'), { message: /cannot forget itself/ });
  let forgotten: Record<string, string> | null = null;
  for (let i = 0; i < 100 && forgotten === null; i++) {
    forgotten = await a
      .client()
      .call('RINGKV.FORGETNODE', 'd')
      .then(asMap, (err: Error) => {
        if (!/holds its lease/.test(err.message)) throw err;
        return null;
      });
    if (forgotten === null) await sleep(200);
  }
  t.is(forgotten?.removed, /actors=(\d+)/.exec(dActors)![1], "d's actor left the ring");
  stop.done = true;
  await Promise.all(workers);
  step('workload stopped');

  // heal, hand off hints, repair: every remaining node compares the arcs whose first live replica it runs
  await sleep(3000);
  for (const n of [a, c]) await n.client().call('RINGKV.REPAIR');
  const inspector = a.client();
  const snapshot = new Map<string, Map<number, string[]>>();
  const finals = new Map<string, string[]>();
  for (let k = 0; k < KEYS; k++) {
    const key = `k${k}`;
    const views = ((await inspector.call('RINGKV.INSPECT', key)) as unknown[]).map(asMap);
    const replicas = new Map<number, string[]>();
    for (const v of views) if (v.role !== undefined && !v.role.startsWith('hint')) replicas.set(Number(v.actor), v.versions === '' ? [] : v.versions.split(' | ').sort());
    snapshot.set(key, replicas);
    finals.set(key, [...new Set([...replicas.values()].flat())]);
  }
  const acked = history.filter((o) => o.kind === 'write' && o.outcome === 'ok').length;
  // the partition meant something: c holds at most one replica of a key, so no write through it is acknowledged (W=2) while it is cut off
  const throughC = history.filter((o) => (o.process === 4 || o.process === 5) && o.completeMs > cutFrom + 100 && o.invokeMs < cutTo);
  t.true(throughC.length > 0, 'writes through c were in flight during the partition');
  t.deepEqual(throughC.filter((o) => o.outcome === 'ok' && o.completeMs < cutTo), [], 'none of them was acknowledged before the partition healed');
  t.log(steps.join('\n'));
  t.log(`${history.length} writes, ${acked} acknowledged`);
  t.true(acked > 200, 'the workload made progress through the faults');
  const lost = checkNoLostWrites(history, finals);
  t.deepEqual(lost.violations.slice(0, 5), [], 'no acknowledged write lost');
  const converged = checkConvergence(snapshot);
  t.deepEqual(converged.violations.slice(0, 5), [], 'every replica of every key holds the same versions');
  const status = asMap(await a.client().call('RINGKV.NODES'));
  t.is(status.change, 'none');
  t.false('node:b' in status, 'b left: no actor of the ring, no record');
  t.false('node:d' in status, 'd was forgotten');
});

test.serial('any node answers HTTP for any key; a stranger on the inter-node port is refused, logged, and reaches no actor; an etcd outage stops no read or write (only membership changes need it), and status shows it', async (t) => {
  t.timeout(120_000);
  const a = await node('x', 'outage', 3);
  const b = await node('y', 'outage', 1);
  const ra = a.client();
  const rb = b.client();
  await ra.set('before', '1');
  // `ringkv status` shows the nodes and their actors
  const { execFileSync } = await import('node:child_process');
  const printed = execFileSync(process.execPath, [new URL('../src/cli/main.js', import.meta.url).pathname, 'status', '--port', String(b.respPort)], { encoding: 'utf8' });
  t.regex(printed, /cluster outage, this node y, ring version 2, change: none, etcd reachable/);
  t.regex(printed, /'x'.*'0\/1\/2'/);
  t.regex(printed, /'y'.*'3'/);
  // any node answers HTTP for any key too
  const httpX = await httpPortOf(a);
  const httpY = await httpPortOf(b);
  t.is((await fetch(`http://127.0.0.1:${httpX}/kv/h1`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'over http' })).ok, true);
  t.is(await (await fetch(`http://127.0.0.1:${httpY}/kv/h1`)).text(), 'over http');

  // a stranger on y's inter-node port: a forged client write straight away, and a hello without the secret
  const key = Buffer.from('forged');
  const { kind, data } = encodeValue('by a stranger');
  const w = new ByteWriter();
  encodeMessage(w, { type: MsgType.ClientPut, req: 1, key, position: ringPosition(key), kind, data, context: new Uint8Array(0), w: 1, timeoutMs: 1000, overwrite: true, strict: false, expiresAtMs: 0 });
  const forged = encodeBatchFrame(3, 0, w.finish());
  for (const attempt of [[forged], [encodeJsonFrame(FrameKind.Hello, { version: 1, cluster: 'outage', node: 'x', nonce: '0'.repeat(32), proof: 'f'.repeat(64) }), forged]]) {
    const raw = net.connect({ host: '127.0.0.1', port: b.nodePort });
    raw.on('error', () => undefined);
    raw.on('data', () => undefined);
    await new Promise((r) => raw.once('connect', r));
    for (const frame of attempt) raw.write(frame);
    await new Promise((r) => raw.once('close', r));
  }
  t.regex(b.output(), /refused an inter-node connection from 127\.0\.0\.1:\d+: frame kind 10 before the handshake/);
  t.regex(b.output(), /refused an inter-node connection from 127\.0\.0\.1:\d+: x did not prove the cluster secret/);
  t.false(b.output().includes(CLUSTER_SECRET), 'the secret is never logged');
  t.is(await rb.get('forged'), null, 'nothing the stranger sent reached an actor');
  t.is(await ra.get('forged'), null);

  await etcd.stop();
  try {
    for (let i = 0; i < 50; i++) {
      await ra.set(`k${i}`, `a${i}`);
      await rb.set(`j${i}`, `b${i}`);
    }
    for (let i = 0; i < 50; i++) {
      t.is(await rb.get(`k${i}`), `a${i}`);
      t.is(await ra.get(`j${i}`), `b${i}`);
    }
    let shown = '';
    for (let i = 0; i < 100 && !shown.startsWith('unreachable'); i++) {
      shown = asMap(await ra.call('RINGKV.NODES')).etcd ?? '';
      if (!shown.startsWith('unreachable')) await sleep(100);
    }
    t.regex(shown, /^unreachable/, 'RINGKV.NODES says etcd cannot be reached');
    const http = await fetch(`http://127.0.0.1:${await httpPortOf(a)}/status`).then((r) => r.json() as Promise<{ nodes: { etcd: { reachable: boolean } } }>);
    t.false(http.nodes.etcd.reachable, '/status says so too');
  } finally {
    await etcd.start();
  }
  let back = '';
  for (let i = 0; i < 200 && back !== 'reachable'; i++) {
    back = asMap(await ra.call('RINGKV.NODES')).etcd ?? '';
    if (back !== 'reachable') await sleep(100);
  }
  t.is(back, 'reachable');
  t.is(await rb.get('before'), '1');
});

async function httpPortOf(n: NodeProcess): Promise<number> {
  return Number(/http:\/\/127\.0\.0\.1:(\d+)\/status/.exec(n.output())![1]);
}
