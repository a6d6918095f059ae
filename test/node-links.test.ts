import test from 'ava';
import net from 'node:net';
import { ByteWriter } from '../src/encoding/bytes.js';
import { decodeFrame, encodeBatchFrame, encodeJsonFrame, FrameKind, FrameReader, NodeWireError, type Frame } from '../src/nodes/frames.js';
import { NodeGateway, mainThreadId } from '../src/nodes/gateway.js';
import { acceptProof, checkHello, dialProof, HANDSHAKE_VERSION, newNonce, proofMatches } from '../src/nodes/handshake.js';
import { NODE_LINK_DEFAULTS, NodeLinks, type NodeLinksOptions } from '../src/nodes/node-links.js';
import { decodeBatch, encodeMessage, MsgType, type Message } from '../src/transport/protocol.js';
import { MAIN_THREAD, Transport } from '../src/transport/transport.js';
import { systemTimers } from '../src/runtime/services.js';

// ---- frames (pure) ----

test('frames: a stream cut at every byte gives back the same frames', (t) => {
  const batch = Uint8Array.from([1, 2, 3, 4, 5]);
  const bytes = Buffer.concat([encodeJsonFrame(FrameKind.Hello, { a: 1 }), encodeBatchFrame(7, -3, batch), encodeJsonFrame(FrameKind.Control, ['x'])]);
  for (let cut = 1; cut < bytes.length; cut++) {
    const r = new FrameReader(1024);
    const got: Frame[] = [];
    r.push(bytes.subarray(0, cut), (f) => got.push(f));
    r.push(bytes.subarray(cut), (f) => got.push(f));
    t.is(got.length, 3);
    t.deepEqual((got[0] as { body: unknown }).body, { a: 1 });
    const b = got[1]!;
    if (b.kind !== FrameKind.Batch) return t.fail('second frame is not a batch');
    t.is(b.to, 7);
    t.is(b.from, -3);
    t.deepEqual([...b.batch], [1, 2, 3, 4, 5]);
    t.deepEqual((got[2] as { body: unknown }).body, ['x']);
    t.is(r.bufferedBytes, 0);
  }
});

test('frames: a batch frame owns its bytes (its buffer can be transferred without touching anything else)', (t) => {
  const r = new FrameReader(1024);
  const got: Frame[] = [];
  r.push(Buffer.concat([encodeBatchFrame(1, 2, Uint8Array.from([9])), encodeBatchFrame(1, 2, Uint8Array.from([8]))]), (f) => got.push(f));
  const [a, b] = got as [Extract<Frame, { kind: FrameKind.Batch }>, Extract<Frame, { kind: FrameKind.Batch }>];
  t.not(a.batch.buffer, b.batch.buffer);
  structuredClone(a.batch.buffer, { transfer: [a.batch.buffer as ArrayBuffer] });
  t.deepEqual([...b.batch], [8]);
});

test('frames: oversized, unknown, truncated and non-JSON frames are refused with NodeWireError', (t) => {
  const tooBig = Buffer.alloc(8);
  tooBig.writeUInt32BE(5000, 0);
  t.throws(() => new FrameReader(1024).push(tooBig, () => t.fail()), { instanceOf: NodeWireError, message: /frame of 5000 bytes/ });
  const empty = Buffer.alloc(4);
  t.throws(() => new FrameReader(1024).push(empty, () => t.fail()), { instanceOf: NodeWireError });
  t.throws(() => decodeFrame(Buffer.from([99, 1, 2])), { instanceOf: NodeWireError, message: /unknown frame kind 99/ });
  t.throws(() => decodeFrame(Buffer.from([FrameKind.Batch, 0, 0, 0, 1])), { instanceOf: NodeWireError, message: /truncated/ });
  t.throws(() => decodeFrame(Buffer.from([FrameKind.Hello, 0x7b])), { instanceOf: NodeWireError, message: /valid JSON/ });
});

// ---- handshake (pure) ----

test('handshake: proofs match only with the same secret, cluster, names and nonces', (t) => {
  const nL = newNonce();
  const nD = newNonce();
  const good = dialProof('s3cret', 'c', 'a', 'b', nL, nD);
  t.true(proofMatches(good, dialProof('s3cret', 'c', 'a', 'b', nL, nD)));
  t.false(proofMatches(good, dialProof('other', 'c', 'a', 'b', nL, nD)));
  t.false(proofMatches(good, dialProof('s3cret', 'c2', 'a', 'b', nL, nD)));
  t.false(proofMatches(good, dialProof('s3cret', 'c', 'x', 'b', nL, nD)));
  t.false(proofMatches(good, dialProof('s3cret', 'c', 'a', 'b', newNonce(), nD)));
  t.false(proofMatches(good, acceptProof('s3cret', 'c', 'a', 'b', nL, nD)), 'a dial proof is not an accept proof');
  t.false(proofMatches(good, undefined));
  t.false(proofMatches(good, good.slice(1)));
});

test('handshake: a hello is checked field by field', (t) => {
  const ok = { version: HANDSHAKE_VERSION, cluster: 'c', node: 'n1', nonce: newNonce(), proof: 'p' };
  t.is(typeof checkHello(ok, 'c', true), 'object');
  t.regex(checkHello({ ...ok, cluster: 'd' }, 'c', true) as string, /cluster/);
  t.regex(checkHello({ ...ok, version: 0 }, 'c', true) as string, /version/);
  t.regex(checkHello({ ...ok, node: '' }, 'c', true) as string, /node/);
  t.regex(checkHello({ ...ok, nonce: 'zz' }, 'c', true) as string, /nonce/);
  t.regex(checkHello({ ...ok, proof: undefined }, 'c', true) as string, /proof/);
  t.regex(checkHello(null, 'c', true) as string, /object/);
});

// ---- links over loopback ----

function linkOptions(node: string, over: Partial<NodeLinksOptions> = {}): NodeLinksOptions & { logged: string[] } {
  const logged: string[] = [];
  return { node, cluster: 'test', secret: 'sesame', host: '127.0.0.1', port: 0, ...NODE_LINK_DEFAULTS, reconnectMinMs: 10, reconnectMaxMs: 100, log: (l) => logged.push(l), ...over, logged };
}

async function pair(t: { teardown(fn: () => Promise<void> | void): void }, overA: Partial<NodeLinksOptions> = {}, overB: Partial<NodeLinksOptions> = {}) {
  const oa = linkOptions('a', overA);
  const ob = linkOptions('b', overB);
  const a = new NodeLinks(oa);
  const b = new NodeLinks(ob);
  t.teardown(() => a.close());
  t.teardown(() => b.close());
  const portA = await a.listen();
  const portB = await b.listen();
  const addresses = new Map([
    ['a', { host: '127.0.0.1', port: portA }],
    ['b', { host: '127.0.0.1', port: portB }],
  ]);
  return { a, b, oa, ob, portA, portB, addresses };
}

function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error('condition not met in time'));
      setTimeout(tick, 5);
    };
    tick();
  });
}

test('links: two nodes connect once, authenticate and carry frames both ways, in order', async (t) => {
  const { a, b, addresses } = await pair(t);
  const atB: number[] = [];
  const atA: number[] = [];
  b.onFrame((node, f) => node === 'a' && f.kind === FrameKind.Batch && atB.push(f.to));
  a.onFrame((node, f) => node === 'b' && f.kind === FrameKind.Batch && atA.push(f.to));
  // frames sent before the connection exists wait in the bounded buffer
  a.setPeers(addresses);
  b.setPeers(addresses);
  for (let i = 0; i < 100; i++) a.send('b', encodeBatchFrame(i, 0, Uint8Array.of(i)));
  await until(() => a.isConnected('b') && b.isConnected('a'));
  for (let i = 0; i < 100; i++) b.send('a', encodeBatchFrame(i, 0, Uint8Array.of(i)));
  await until(() => atB.length === 100 && atA.length === 100);
  t.deepEqual(atB, [...Array(100).keys()]);
  t.deepEqual(atA, [...Array(100).keys()]);
  t.is(a.metrics.connects, 1, 'one connection for the pair: a dials (its name sorts first), b accepts');
  t.is(b.metrics.connects, 1);
});

test('links: a connection without the secret is refused with a logged reason, and nothing it sends is delivered', async (t) => {
  const { b, ob } = await pair(t);
  let delivered = 0;
  b.onFrame(() => delivered++);
  // an impostor node with the wrong secret
  const impostor = new NodeLinks(linkOptions('a', { secret: 'guess' }));
  t.teardown(() => impostor.close());
  impostor.setPeers(new Map([['b', { host: '127.0.0.1', port: (await listenPort(b)) }]]));
  impostor.send('b', encodeBatchFrame(0, 0, Uint8Array.of(1)));
  await until(() => b.metrics.refused >= 1);
  t.regex(ob.logged.join('\n'), /refused an inter-node connection from 127\.0\.0\.1:\d+: a did not prove the cluster secret/);
  t.false(ob.logged.join('\n').includes('sesame'), 'the secret is never logged');
  t.false(ob.logged.join('\n').includes('guess'));
  // a raw client that skips the handshake and sends a batch at once
  const raw = net.connect({ host: '127.0.0.1', port: await listenPort(b) });
  t.teardown(() => raw.destroy());
  await new Promise((r) => raw.once('connect', r));
  raw.write(encodeBatchFrame(0, 0, Uint8Array.of(1, 2, 3)));
  const closed = new Promise((r) => raw.once('close', r));
  raw.on('data', () => undefined);
  raw.on('error', () => undefined);
  await closed;
  await until(() => b.metrics.refused >= 2);
  t.regex(ob.logged.join('\n'), /frame kind 10 before the handshake/);
  t.is(delivered, 0);
  t.is(b.metrics.framesReceived, 0);
});

test('links: nodes of different clusters never connect, whichever side dials', async (t) => {
  const { b } = await pair(t);
  const oOther = linkOptions('a', { cluster: 'elsewhere' });
  const other = new NodeLinks(oOther);
  t.teardown(() => other.close());
  other.setPeers(new Map([['b', { host: '127.0.0.1', port: await listenPort(b) }]]));
  // the dialler sees the listener's hello name another cluster and hangs up before proving anything
  await until(() => oOther.logged.some((l) => l.includes('cluster "test" is not "elsewhere"')));
  t.false(other.isConnected('b'));
  t.false(b.isConnected('a'));
  t.is(b.metrics.connects, 0);
});

test('links: before its handshake a stranger may send at most 4 KiB in one frame: a longer one is refused before its body is read', async (t) => {
  const { b, ob } = await pair(t);
  const raw = net.connect({ host: '127.0.0.1', port: await listenPort(b) });
  t.teardown(() => raw.destroy());
  raw.on('data', () => undefined);
  raw.on('error', () => undefined);
  await new Promise((r) => raw.once('connect', r));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(4093, 0); // 4 + 4093 bytes: one over the bound
  head[4] = FrameKind.Hello;
  raw.write(head);
  await new Promise((r) => raw.once('close', r));
  t.regex(ob.logged.join('\n'), /refused an inter-node connection from 127\.0\.0\.1:\d+: frame of 4093 bytes \(at most 4092 allowed here\)/);
});

test('links: a silent connection is closed after the handshake timeout', async (t) => {
  const { b, ob } = await pair(t, {}, { handshakeTimeoutMs: 100 });
  const raw = net.connect({ host: '127.0.0.1', port: await listenPort(b) });
  t.teardown(() => raw.destroy());
  raw.on('data', () => undefined);
  raw.on('error', () => undefined);
  await new Promise((r) => raw.once('close', r));
  t.regex(ob.logged.join('\n'), /no handshake in time/);
});

test('links: the dialler reconnects after the connection drops, and frames sent meanwhile arrive', async (t) => {
  const { a, b, addresses } = await pair(t);
  const got: number[] = [];
  b.onFrame((_n, f) => f.kind === FrameKind.Batch && got.push(f.to));
  a.setPeers(addresses);
  b.setPeers(addresses);
  await until(() => a.isConnected('b'));
  // cut every socket b holds: a sees its connection close and dials again
  b['sockets'].forEach((s: net.Socket) => s.destroy());
  await until(() => !a.isConnected('b'));
  for (let i = 0; i < 10; i++) a.send('b', encodeBatchFrame(i, 0, Uint8Array.of(i)));
  await until(() => got.length === 10);
  t.deepEqual(got, [...Array(10).keys()]);
  t.true(a.metrics.connects >= 2);
});

test('links: the send buffer is bounded: beyond it frames are dropped and counted, never queued without limit', async (t) => {
  const { a } = await pair(t, { maxSendBufferBytes: 1000 });
  a.setPeers(new Map([['b', { host: '127.0.0.1', port: 1 }]])); // nothing listens there: the frames wait
  let accepted = 0;
  for (let i = 0; i < 100; i++) if (a.send('b', encodeBatchFrame(0, 0, new Uint8Array(87)))) accepted++;
  t.is(accepted, 10, '10 frames of 100 bytes fit 1000 bytes');
  t.is(a.queuedBytes('b'), 1000);
  t.is(a.metrics.dropped, 90);
  t.false(a.send('nobody', encodeBatchFrame(0, 0, Uint8Array.of(1))), 'an unknown peer');
});

test('links: an authenticated peer that sends a frame over maxFrameBytes is disconnected', async (t) => {
  const { a, b, addresses, ob } = await pair(t, {}, { maxFrameBytes: 1024 });
  let delivered = 0;
  b.onFrame(() => delivered++);
  a.setPeers(addresses);
  b.setPeers(addresses);
  await until(() => a.isConnected('b'));
  a.send('b', encodeBatchFrame(0, 0, new Uint8Array(4096)));
  await until(() => ob.logged.some((l) => /frame of \d+ bytes/.test(l)));
  t.is(delivered, 0);
});

async function listenPort(links: NodeLinks): Promise<number> {
  return ((links['server'] as net.Server).address() as net.AddressInfo).port;
}

// ---- the gateway: actors' batches across nodes ----

function batchOf(messages: Message[]): Uint8Array {
  const w = new ByteWriter();
  for (const m of messages) encodeMessage(w, m);
  return w.finish();
}

/** Two connected nodes with gateways: a (node number 0) hosts actor 1, b (1) hosts actor 2; each knows the other's actor and main thread. */
async function gateways(t: { teardown(fn: () => Promise<void> | void): void }) {
  const { a, b, addresses } = await pair(t);
  a.setPeers(addresses);
  b.setPeers(addresses);
  const ga = new NodeGateway(a, mainThreadId(0), (id) => id === 1);
  const gb = new NodeGateway(b, mainThreadId(1), (id) => id === 2);
  a.onFrame((n, f) => ga.received(n, f));
  b.onFrame((n, f) => gb.received(n, f));
  t.teardown(() => ga.close());
  t.teardown(() => gb.close());
  ga.setDirectory(new Map([[2, { node: 'b', nodeNo: 1 }], [mainThreadId(1), { node: 'b', nodeNo: 1 }]]));
  gb.setDirectory(new Map([[1, { node: 'a', nodeNo: 0 }], [mainThreadId(0), { node: 'a', nodeNo: 0 }]]));
  return { a, b, ga, gb };
}

test('gateway: an actor port and a main-thread link reach the remote node, and answers come back to the sender', async (t) => {
  const { ga, gb } = await gateways(t);

  // actor 2 on b: a port to actor 1 and one to a's main thread
  const toActor1 = gb.portFor(2, 1);
  const toMainA = gb.portFor(2, mainThreadId(0));
  // actor 1 on a: a port to actor 2
  const toActor2 = ga.portFor(1, 2);
  const actor1Got: Message[] = [];
  toActor2.on('message', (batch: Uint8Array) => decodeBatch(batch, (m) => actor1Got.push(m)));
  // a's main thread transport, linked to actor 2 through the gateway
  const mainA = new Transport(MAIN_THREAD, systemTimers, { maxBatchBytes: 65536 });
  t.teardown(() => mainA.close());
  const mainGot: Message[] = [];
  mainA.onMessage((from, m) => from === 2 && mainGot.push(m));
  mainA.connect(2, ga.mainLink(2));
  const actor2Got: Message[] = [];
  const actor2Froms = new Set<string>();
  toActor1.on('message', (batch: Uint8Array) => decodeBatch(batch, (m) => (actor2Froms.add('actor 1'), actor2Got.push(m))));
  toMainA.on('message', (batch: Uint8Array) => decodeBatch(batch, (m) => (actor2Froms.add('main a'), actor2Got.push(m))));

  mainA.send(2, { type: MsgType.ReplicateAck, op: 11, ok: true });
  toActor2.postMessage(batchOf([{ type: MsgType.ReplicateAck, op: 12, ok: true }]));
  await until(() => actor2Got.length === 2);
  t.deepEqual(actor2Got.map((m) => (m as { op: number }).op).sort(), [11, 12]);
  t.deepEqual([...actor2Froms].sort(), ['actor 1', 'main a'], 'each batch arrives on the port of the peer that sent it');
  // answers
  toMainA.postMessage(batchOf([{ type: MsgType.ReplicateAck, op: 21, ok: false }]));
  toActor1.postMessage(batchOf([{ type: MsgType.ReplicateAck, op: 22, ok: false }]));
  await until(() => mainGot.length === 1 && actor1Got.length === 1);
  t.is((mainGot[0] as { op: number }).op, 21);
  t.is((actor1Got[0] as { op: number }).op, 22);
  toActor1.close();
  toMainA.close();
  toActor2.close();
});

test('gateway: a node-level partition drops batches both ways, and a batch claiming a sender its node does not host is dropped', async (t) => {
  const { a, ga, gb } = await gateways(t);
  const p12 = ga.portFor(1, 2);
  const p21 = gb.portFor(2, 1);
  let at2 = 0;
  let at1 = 0;
  p21.on('message', () => at2++);
  p12.on('message', () => at1++);
  // only b installs the partition: a's batches are still dropped on arrival at b
  gb.setFaults({ blocked: [0], drop: [], delayMs: [] });
  p12.postMessage(batchOf([{ type: MsgType.ReplicateAck, op: 1, ok: true }]));
  p21.postMessage(batchOf([{ type: MsgType.ReplicateAck, op: 2, ok: true }]));
  await until(() => gb.metrics.faultDropped === 2);
  gb.setFaults({ blocked: [], drop: [], delayMs: [] });
  p12.postMessage(batchOf([{ type: MsgType.ReplicateAck, op: 3, ok: true }]));
  await until(() => at2 === 1);
  t.is(at1, 0);
  // a forged sender: node a sends a batch "from" actor 2, which b hosts
  a.send('b', encodeBatchFrame(2, 2, batchOf([{ type: MsgType.ReplicateAck, op: 4, ok: true }])));
  await until(() => gb.metrics.misaddressed === 1);
  t.is(at2, 1);
  p12.close();
  p21.close();
});
