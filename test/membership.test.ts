import test from 'ava';
import { clusterView, detectorOptions, FailureDetector } from '../src/membership/failure-detector.js';

/** A fixed-timeout detector (no accrual, no stall detection): the model these cases were written for. */
const fixed = (failAfterMs: number) => detectorOptions(10, failAfterMs, { maxFailAfterMs: failAfterMs, localPauseMs: Infinity });
import { decide, NO_FAULTS } from '../src/transport/faults.js';

test('failure detector: a member is down once its heartbeat is still for failAfterMs, up as soon as it advances', (t) => {
  const a = new FailureDetector(0, [0, 1, 2], fixed(100), 0);
  const b = new FailureDetector(1, [0, 1, 2], fixed(100), 0, 5000);
  t.deepEqual(a.down(50), []);
  t.deepEqual(a.down(101), [1, 2]);
  b.tick(101);
  a.merge(b.heartbeats(), 101);
  t.deepEqual(a.down(150), [2], 'b advanced; c never did');
  t.deepEqual(a.down(202), [1, 2]);
  b.tick(210);
  a.merge(b.heartbeats(), 210);
  t.deepEqual(a.down(210), [2]);
  // an older table never moves a heartbeat back
  a.merge([[1, 1]], 500);
  t.deepEqual(a.down(500), [1, 2]);
  // never ourselves
  t.false(a.down(10_000).includes(0));
  // a restarted member starting above its old counter is heard again
  const b2 = new FailureDetector(1, [0, 1, 2], fixed(100), 600, 9000);
  b2.tick(600);
  a.merge(b2.heartbeats(), 600);
  t.false(a.down(650).includes(1));
  // gossip relays: c hears of b through a
  const c = new FailureDetector(2, [0, 1, 2], fixed(100), 0);
  c.merge(a.heartbeats(), 640);
  t.false(c.down(700).includes(1));
  t.throws(() => new FailureDetector(0, [0], fixed(0), 0), { instanceOf: RangeError });
});

test('failure detector: a member whose thread ended stays down, whatever late gossip says, until it is reset', (t) => {
  const a = new FailureDetector(0, [0, 1, 2], fixed(100), 0);
  const b = new FailureDetector(1, [0, 1, 2], fixed(100), 0, 5000);
  b.tick(10);
  a.merge(b.heartbeats(), 10);
  t.deepEqual(a.down(20), []);
  a.ended(1, 20);
  t.deepEqual(a.down(20), [1], 'down at once');
  // the dead actor's last heartbeat reaches a through another peer's table: it must not look alive again
  b.tick(15);
  a.merge(b.heartbeats(), 30);
  t.deepEqual(a.down(30), [1]);
  // restarted: reset, then its new incarnation is heard as usual
  a.reset(1, 40);
  t.deepEqual(a.down(40), []);
  const b2 = new FailureDetector(1, [0, 1, 2], fixed(100), 40, 9000);
  b2.tick(50);
  a.merge(b2.heartbeats(), 50);
  t.deepEqual(a.down(120), [2], 'heard again (2 never spoke)');
  t.deepEqual(a.down(151), [1, 2]);
  a.ended(0, 200);
  t.false(a.down(200).includes(0), 'never ourselves');
});

test('cluster view: down when a strict majority of the other observers see it down', (t) => {
  const members = [0, 1, 2, 3, 4];
  // actor 0 isolated: it sees everyone down, everyone sees it down
  const isolated = new Map<number, number[]>([
    [0, [1, 2, 3, 4]],
    [1, [0]],
    [2, [0]],
    [3, [0]],
    [4, [0]],
  ]);
  t.deepEqual([...clusterView(isolated, members)], [0]);
  // 2 | 3 split: the minority side is down, the majority side is up
  const split = new Map<number, number[]>([
    [0, [2, 3, 4]],
    [1, [2, 3, 4]],
    [2, [0, 1]],
    [3, [0, 1]],
    [4, [0, 1]],
  ]);
  t.deepEqual([...clusterView(split, members)].sort(), [0, 1]);
  // one confused observer is not enough
  t.deepEqual([...clusterView(new Map([[0, [1]], [1, []], [2, []]]), [0, 1, 2])], []);
  t.deepEqual([...clusterView(new Map(), members)], []);
});

test('fault decisions: blocked drops everything, drop loses the given fraction, delay delays', (t) => {
  let x = 0;
  const seq = () => (x = (x + 0.37) % 1);
  t.is(decide(NO_FAULTS, 1, seq).kind, 'deliver');
  t.is(decide({ blocked: [1], drop: [], delayMs: [] }, 1, seq).kind, 'drop');
  t.is(decide({ blocked: [1], drop: [], delayMs: [] }, 2, seq).kind, 'deliver');
  const half = { blocked: [], drop: [[1, 0.5]] as [number, number][], delayMs: [] };
  let dropped = 0;
  for (let i = 0; i < 1000; i++) if (decide(half, 1, Math.random).kind === 'drop') dropped++;
  t.true(dropped > 400 && dropped < 600, `${dropped}`);
  t.is(decide({ blocked: [], drop: [[1, 1]], delayMs: [] }, 1, Math.random).kind, 'drop');
  t.is(decide({ blocked: [], drop: [[1, 0]], delayMs: [] }, 1, Math.random).kind, 'deliver');
  t.deepEqual(decide({ blocked: [], drop: [], delayMs: [[3, 250]] }, 3, seq), { kind: 'delay', ms: 250 });
});
