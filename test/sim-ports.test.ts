import test from 'ava';
import { seededRandom } from '../src/runtime/services.js';
import { SimNetwork } from '../src/sim/network.js';
import { SimEndpoint } from '../src/sim/ports.js';
import { VirtualTime } from '../src/sim/virtual-time.js';
import { MsgType, type Message } from '../src/transport/protocol.js';
import { Transport } from '../src/transport/transport.js';

/** Two real Transports (actors 0 and 1) linked through the simulated network, in simulated time. */
function pair(seed: number) {
  const time = new VirtualTime(Date.UTC(2026, 0, 1));
  const random = seededRandom(seed);
  const net = new SimNetwork<Uint8Array>(time, random);
  const ends = [new SimEndpoint(net, 0), new SimEndpoint(net, 1)];
  const transports = ends.map((e) => new Transport(e.id, time, { maxBatchBytes: 64 * 1024 }, random));
  transports[0]!.connect(1, ends[0]!.portTo(1));
  transports[1]!.connect(0, ends[1]!.portTo(0));
  const received: [number, Message][] = [];
  transports[1]!.onMessage((from, m) => received.push([from, m]));
  transports[0]!.onMessage(() => undefined);
  return { time, net, ends, transports, received };
}

const gossip = (i: number): Message => ({ type: MsgType.Gossip, heartbeats: [[0, i]] });

test('the real Transport runs over the simulated network: one batch per turn, decoded in order on the other side', (t) => {
  const { time, net, transports, received } = pair(1);
  for (let i = 0; i < 100; i++) transports[0]!.send(1, gossip(i));
  time.runUntil(10);
  t.is(received.length, 100);
  t.deepEqual(received.map(([from, m]) => [from, m.type === MsgType.Gossip ? m.heartbeats[0]![1] : -1]), Array.from({ length: 100 }, (_, i) => [0, i]));
  t.is(net.stats.sent, 1, 'the 100 messages of one turn went as one batch');
  t.like(transports[0]!.metrics, { messagesSent: 100, batchesSent: 1 });
});

test('network faults hit whole batches; a node that is down loses what arrives; the seed replays it all', (t) => {
  const run = (seed: number) => {
    const { time, net, ends, transports, received } = pair(seed);
    net.setDefaults({ dropRate: 0.3, duplicateRate: 0.2, minDelayMs: 1, maxDelayMs: 20 });
    for (let turn = 0; turn < 50; turn++) time.at(turn * 5, 'turn', () => transports[0]!.send(1, gossip(turn)));
    time.at(100, 'crash', () => ends[1]!.down());
    time.at(150, 'restart', () => ends[1]!.up());
    time.runUntil(1000);
    return { received: received.map(([, m]) => (m.type === MsgType.Gossip ? m.heartbeats[0]![1] : -1)), stats: net.stats, digest: time.digest() };
  };
  const a = run(5);
  t.deepEqual(run(5), a, 'same seed, same run');
  t.not(run(6).digest, a.digest);
  t.true(a.stats.dropped > 0 && a.stats.duplicated > 0 && a.stats.cut > 0, JSON.stringify(a.stats));
  t.is(a.received.length, a.stats.delivered, 'one message per batch here: every delivered batch decoded');
  t.true(new Set(a.received).size < a.received.length, 'duplicates arrive twice (the protocol must be idempotent)');
});

test("the Transport's own fault injection (delay) runs on simulated timers too", (t) => {
  const { time, transports, received } = pair(2);
  transports[0]!.setFaults({ blocked: [], drop: [], delayMs: [[1, 40]] });
  transports[0]!.send(1, gossip(1));
  time.runUntil(39);
  t.is(received.length, 0);
  time.runUntil(41);
  t.is(received.length, 1);
});
