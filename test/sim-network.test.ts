import test from 'ava';
import { seededRandom } from '../src/runtime/services.js';
import { RELIABLE, SimNetwork } from '../src/sim/network.js';
import { VirtualTime } from '../src/sim/virtual-time.js';

const EPOCH = Date.UTC(2026, 0, 1);

function world(seed: number) {
  const time = new VirtualTime(EPOCH);
  const net = new SimNetwork<string>(time, seededRandom(seed));
  const received: string[] = [];
  for (const id of [0, 1, 2]) net.attach(id, (from, m) => received.push(`${from}>${id}:${m}@${time.monotonicMs()}`));
  return { time, net, received };
}

test('a reliable network delivers every message at once, in order', (t) => {
  const { time, net, received } = world(1);
  for (let i = 0; i < 3; i++) net.send(0, 1, `m${i}`);
  time.runUntil(10);
  t.deepEqual(received, ['0>1:m0@0', '0>1:m1@0', '0>1:m2@0']);
  t.like(net.stats, { sent: 3, delivered: 3, dropped: 0, cut: 0 });
});

test('loss, delay, reordering and duplication follow the seed, and only the seed', (t) => {
  const run = (seed: number): string[] => {
    const { time, net, received } = world(seed);
    net.setDefaults({ dropRate: 0.2, duplicateRate: 0.1, minDelayMs: 1, maxDelayMs: 50 });
    for (let i = 0; i < 200; i++) net.send(i % 3, (i + 1) % 3, `m${i}`);
    time.runUntil(1000);
    return received;
  };
  t.deepEqual(run(7), run(7), 'same seed, same deliveries at the same instants');
  t.notDeepEqual(run(7), run(8));
  const { time, net, received } = world(7);
  net.setDefaults({ dropRate: 0.2, duplicateRate: 0.1, minDelayMs: 1, maxDelayMs: 50 });
  for (let i = 0; i < 2000; i++) net.send(0, 1, `m${i}`);
  time.runUntil(1000);
  const s = net.stats;
  t.true(s.dropped > 300 && s.dropped < 500, `about 20% lost: ${s.dropped}`);
  t.true(s.duplicated > 100 && s.duplicated < 220, `about 10% of the rest twice: ${s.duplicated}`);
  t.is(s.delivered, 2000 - s.dropped + s.duplicated);
  const order = received.map((r) => Number(r.split(':')[1]!.split('@')[0]!.slice(1)));
  t.true(order.some((n, i) => i > 0 && n < order[i - 1]!), 'random delays reorder');
  t.true(received.every((r) => Number(r.split('@')[1]) >= 1 && Number(r.split('@')[1]) <= 50));
});

test('a partition cuts both ways, also what was already on its way; heal mends it; a detached node loses what arrives', (t) => {
  const { time, net, received } = world(3);
  net.setDefaults({ ...RELIABLE, minDelayMs: 10, maxDelayMs: 10 });
  net.send(0, 1, 'on its way');
  net.partition([0], [1, 2]);
  net.send(1, 0, 'cut');
  net.send(1, 2, 'same side');
  time.runUntil(20);
  t.deepEqual(received, ['1>2:same side@10']);
  t.true(net.isCut(0, 2) && net.isCut(2, 0) && !net.isCut(1, 2));
  net.heal();
  net.detach(2);
  net.send(0, 1, 'after heal');
  net.send(0, 2, 'to a down node');
  time.runUntil(40);
  t.deepEqual(received, ['1>2:same side@10', '0>1:after heal@20']);
  t.like(net.stats, { cut: 3 });
  t.throws(() => net.partition([1], [1]), { instanceOf: RangeError });
  t.throws(() => net.setDefaults({ dropRate: 2, duplicateRate: 0, minDelayMs: 0, maxDelayMs: 0 }), { instanceOf: RangeError });
  t.throws(() => net.setLink(0, 1, { dropRate: 0, duplicateRate: 0, minDelayMs: 5, maxDelayMs: 1 }), { instanceOf: RangeError });
});
