import 'reflect-metadata';
import test from 'ava';
import { MessageChannel } from 'node:worker_threads';
import { PartitionActor, type ActorConfig } from '../src/actor/actor.js';
import { buildActorContainer } from '../src/actor/container.js';
import { ringPosition } from '../src/ring/hash.js';
import { allocateTokens, Ring, type RingMember } from '../src/ring/ring.js';
import { TOKENS, systemTimers } from '../src/runtime/services.js';
import { ActorStore, type WriteDone } from '../src/storage/store.js';
import { MsgType, type Message } from '../src/transport/protocol.js';
import { decodeClock } from '../src/versioning/sibling.js';
import { MAIN_THREAD, Transport } from '../src/transport/transport.js';
import { tempDir } from './helpers.js';

// One actor in this thread, its peers and its client played by the test
// through real transports: the coordinator's own LMDB write is held back
// while its peers ack at once.

function members(count: number): RingMember[] {
  const out: RingMember[] = [];
  for (let id = 0; id < count; id++) out.push({ id, zone: 'z', tokens: allocateTokens(out, id, 16) });
  return out;
}

function config(dataDir: string, ring: readonly RingMember[], freshWriterId = 7): ActorConfig {
  return {
    id: 0,
    n: 3,
    members: ring,
    storage: { path: dataDir, mapSizeBytes: 64 * 1024 * 1024, compressionThresholdBytes: 0, cacheBytes: 0, maxWritesPerCommit: 1000, maxPendingWrites: 1000, sync: 'periodic', syncIntervalMs: 100 },
    freshWriterId,
    expectsData: false,
    lastWriteWins: false,
    maxSiblings: 64,
    maxPendingOps: 1000,
    sweepIntervalMs: 10,
    speculativeRetryMs: 20,
    writeRetryMs: 10_000,
    writeRetries: 0,
    maxRepairPushEntries: 1000,
    maxRepairPushesPerActor: 4,
    backgroundTargetP99Ms: 50,
    backgroundMinPerSec: 100,
    backgroundMaxPerSec: 1000,
    maxBatchBytes: 1024 * 1024,
    gossipIntervalMs: 100,
    failAfterMs: 60_000,
    maxFailAfterMs: 60_000,
    pauseSignal: null,
    backgroundCap: null,
    maxHints: 100,
    maxPairBytes: 10_240,
    maxHintAgeMs: 60_000,
    handoffIntervalMs: 60_000,
    maxHintsPerHandoff: 10,
    expirySweep: { graceMs: 0, intervalMs: 0, batchKeys: 16 },
  } as ActorConfig;
}

test('a put is acknowledged only after the coordinator committed its own copy, however fast the other replicas ack', async (t) => {
  const ring = members(3);
  const cfg = config(tempDir(t), ring);
  const store = ActorStore.open(cfg.storage);
  // hold back the actor's own writes until the test lets them go
  const held: (() => void)[] = [];
  const write = store.write.bind(store);
  let holding = true;
  store.write = (key: Buffer, value: Buffer | null, done: WriteDone): void => {
    if (holding) held.push(() => write(key, value, done));
    else write(key, value, done);
  };
  const c = buildActorContainer(cfg);
  c.register(TOKENS.store, { useValue: store });
  const actor = c.resolve(PartitionActor);
  t.teardown(() => actor.close());

  // peers 1 and 2: ack every Replicate at once
  const peers = [1, 2].map((id) => {
    const tr = new Transport(id, systemTimers, { maxBatchBytes: 1024 * 1024 });
    const ch = new MessageChannel();
    actor.connectPeer(id, ch.port1);
    tr.connect(0, ch.port2);
    tr.onMessage((from, m) => {
      if (m.type === MsgType.Replicate) tr.send(from, { type: MsgType.ReplicateAck, op: m.op, ok: true });
    });
    t.teardown(() => tr.close());
    return tr;
  });
  t.is(peers.length, 2);
  const client = new Transport(MAIN_THREAD, systemTimers, { maxBatchBytes: 1024 * 1024 });
  const ch = new MessageChannel();
  actor.connectClient(ch.port1);
  client.connect(0, ch.port2);
  t.teardown(() => client.close());
  const replies: Message[] = [];
  client.onMessage((_from, m) => replies.push(m));

  const r = Ring.build(ring, 3);
  let key = Buffer.from('k');
  for (let i = 0; r.preferenceList(ringPosition(key))[0] !== 0; i++) key = Buffer.from(`k${i}`);
  client.send(0, { type: MsgType.ClientPut, req: 1, key, position: ringPosition(key), kind: 1, data: Buffer.from('v'), context: new Uint8Array(0), w: 2, timeoutMs: 10_000, overwrite: false, strict: false, expiresAtMs: 0 });
  // both peers acked (W=2 is met by them alone) but the coordinator's copy is not committed
  const until = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !check(); i++) await new Promise((res) => setTimeout(res, 10));
  };
  await until(() => actor.stats().messagesReceived >= 3);
  t.is(actor.stats().messagesReceived, 2 + 1, 'the put and both acks arrived');
  await new Promise((res) => setTimeout(res, 100));
  t.deepEqual(replies, [], 'no answer while its own copy waits');
  holding = false;
  for (const go of held.splice(0)) go();
  await until(() => replies.length > 0);
  t.is(replies[0]?.type, MsgType.PutOk);
});

/** An actor in this thread on `cfg`, its own writes held back while `hold()` says so; peers 1 and 2 ack at once and record what they got. */
function harness(t: import('ava').ExecutionContext, cfg: ActorConfig, hold: () => boolean, clock?: { now(): number; monotonicMs(): number }) {
  const store = ActorStore.open(cfg.storage);
  const held: (() => void)[] = [];
  const write = store.write.bind(store);
  store.write = (key: Buffer, value: Buffer | null, done: WriteDone): void => {
    if (hold()) held.push(() => write(key, value, done));
    else write(key, value, done);
  };
  const c = buildActorContainer(cfg);
  c.register(TOKENS.store, { useValue: store });
  if (clock !== undefined) c.register(TOKENS.clock, { useValue: clock });
  const actor = c.resolve(PartitionActor);
  const replicated: Uint8Array[] = [];
  const transports: Transport[] = [];
  for (const id of [1, 2]) {
    const tr = new Transport(id, systemTimers, { maxBatchBytes: 1024 * 1024 });
    const ch = new MessageChannel();
    actor.connectPeer(id, ch.port1);
    tr.connect(0, ch.port2);
    tr.onMessage((from, m) => {
      if (m.type !== MsgType.Replicate) return;
      if (id === 1) replicated.push(Uint8Array.from(m.clock));
      tr.send(from, { type: MsgType.ReplicateAck, op: m.op, ok: true });
    });
    transports.push(tr);
  }
  const client = new Transport(MAIN_THREAD, systemTimers, { maxBatchBytes: 1024 * 1024 });
  const ch = new MessageChannel();
  actor.connectClient(ch.port1);
  client.connect(0, ch.port2);
  transports.push(client);
  const replies: Message[] = [];
  client.onMessage((_from, m) => replies.push(m));
  t.teardown(() => {
    for (const tr of transports) tr.close();
  });
  return { actor, store, held, replicated, replies, client };
}

test('after an unclean stop the actor mints under a new writer id: an event it sent but never committed is never minted again for another value', async (t) => {
  const ring = members(3);
  const dir = tempDir(t);
  const r = Ring.build(ring, 3);
  let key = Buffer.from('k');
  for (let i = 0; r.preferenceList(ringPosition(key))[0] !== 0; i++) key = Buffer.from(`k${i}`);
  const put = (client: Transport, req: number, value: string): boolean =>
    client.send(0, { type: MsgType.ClientPut, req, key, position: ringPosition(key), kind: 1, data: Buffer.from(value), context: new Uint8Array(0), w: 2, timeoutMs: 10_000, overwrite: false, strict: false, expiresAtMs: 0 });
  const until = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !check(); i++) await new Promise((res) => setTimeout(res, 10));
  };
  // first run: the value reaches the other replicas, its own copy never commits, and the run ends without close()
  const first = harness(t, config(dir, ring, 7), () => true);
  put(first.client, 1, 'sent, never committed here');
  await until(() => first.replicated.length === 1);
  t.is(first.replicated.length, 1);
  t.deepEqual(first.replies, [], 'not acknowledged');
  // second run on the same env (the supervisor hands every start a fresh id: 8)
  const second = harness(t, config(dir, ring, 8), () => false);
  t.teardown(() => second.actor.close());
  put(second.client, 2, 'acknowledged');
  await until(() => second.replies.length === 1);
  t.is(second.replies[0]?.type, MsgType.PutOk);
  const dot = (bytes: Uint8Array) => decodeClock(bytes).entries.map((e) => [e.id, e.counter]);
  t.notDeepEqual(dot(second.replicated[0]!), dot(first.replicated[0]!), 'two values, two different events');
  t.deepEqual(dot(second.replicated[0]!).map(([id]) => id), [8]);
  // a clean close keeps the writer id
  await second.actor.close();
  const third = harness(t, config(dir, ring, 9), () => false);
  t.teardown(() => third.actor.close());
  put(third.client, 3, 'after a clean restart');
  await until(() => third.replies.length === 1);
  t.is(third.replies[0]?.type, MsgType.PutOk);
  t.deepEqual(
    decodeClock(third.replicated[0]!).entries.map((e) => e.id),
    [8],
    'same writer id after a clean close (its clock builds on its own stored event)',
  );
});

test('last-write-wins: two writes in the same millisecond keep the later one (the coordinator stamps past what it holds)', async (t) => {
  const ring = members(3);
  const frozen = { now: () => 1_700_000_000_000, monotonicMs: () => performance.now() };
  const h = harness(t, { ...config(tempDir(t), ring), lastWriteWins: true }, () => false, frozen);
  t.teardown(() => h.actor.close());
  const r = Ring.build(ring, 3);
  let key = Buffer.from('k');
  for (let i = 0; r.preferenceList(ringPosition(key))[0] !== 0; i++) key = Buffer.from(`k${i}`);
  const put = (req: number, value: string): boolean =>
    h.client.send(0, { type: MsgType.ClientPut, req, key, position: ringPosition(key), kind: 1, data: Buffer.from(value), context: new Uint8Array(0), w: 2, timeoutMs: 10_000, overwrite: false, strict: false, expiresAtMs: 0 });
  const until = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !check(); i++) await new Promise((res) => setTimeout(res, 10));
  };
  put(1, 'z-first');
  await until(() => h.replies.length === 1);
  put(2, 'a-second'); // blind, same millisecond, and smaller bytes: only the order can make it win
  await until(() => h.replies.length === 2);
  const values = decodeClock(h.replicated[1]!).entries.flatMap((e) => e.values.map((v) => Buffer.from(v.data).toString()));
  const anonymous = decodeClock(h.replicated[1]!).anonymous.map((v) => Buffer.from(v.data).toString());
  t.deepEqual([...values, ...anonymous], ['a-second']);
});

test('a request routed to an actor that is not a replica of its key (the other side of a ring switch) is refused as NOT_A_REPLICA, and nothing is written', async (t) => {
  const ring = members(5);
  const h = harness(t, config(tempDir(t), ring), () => false);
  t.teardown(() => h.actor.close());
  const r = Ring.build(ring, 3);
  let key = Buffer.from('k');
  for (let i = 0; r.preferenceList(ringPosition(key)).includes(0); i++) key = Buffer.from(`k${i}`);
  const position = ringPosition(key);
  h.client.send(0, { type: MsgType.ClientPut, req: 1, key, position, kind: 1, data: Buffer.from('v'), context: new Uint8Array(0), w: 2, timeoutMs: 10_000, overwrite: true, strict: false, expiresAtMs: 0 });
  h.client.send(0, { type: MsgType.ClientGet, req: 2, key, position, r: 2, timeoutMs: 10_000 });
  for (let i = 0; i < 500 && h.replies.length < 2; i++) await new Promise((res) => setTimeout(res, 10));
  t.deepEqual(
    h.replies.map((m) => (m.type === MsgType.Fail ? [m.req, m.code] : [m.type])),
    [
      [1, 'NOT_A_REPLICA'],
      [2, 'NOT_A_REPLICA'],
    ],
  );
  t.is(h.store.count(), 0, 'nothing written');
  t.deepEqual(h.replicated, [], 'nothing sent to a replica');
});
