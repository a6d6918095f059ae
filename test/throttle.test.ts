import test from 'ava';
import * as fc from 'fast-check';
import { BackgroundThrottle, effectiveTargetMs, LatencyWindow, TokenBucket } from '../src/coordinator/throttle.js';

test('LatencyWindow: p99 is the bucket bound at or just above the exact 99th percentile', (t) => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 5000, noNaN: true }), { minLength: 1, maxLength: 500 }), (latencies) => {
      const w = new LatencyWindow();
      for (const ms of latencies) w.record(ms);
      const sorted = [...latencies].sort((a, b) => a - b);
      const exact = sorted[Math.ceil(sorted.length * 0.99) - 1]!;
      const p99 = w.p99()!;
      // never below the exact value; at most one bucket (35%) above it, or the first bucket's bound
      return p99 >= exact && (p99 <= Math.max(exact * 1.35, LatencyWindow.BOUNDS_MS[0]!) || p99 === Infinity);
    }),
  );
  const w = new LatencyWindow();
  t.is(w.p99(), null, 'nothing recorded');
  w.record(Number.NaN);
  w.record(-1);
  t.is(w.count, 0, 'clock oddities are not latencies');
  w.record(1e9);
  t.is(w.p99(), Infinity);
  w.reset();
  t.is(w.p99(), null);
});

test('BackgroundThrottle: halves while the foreground is slow, grows back step by step, full when idle', (t) => {
  const th = new BackgroundThrottle({ targetP99Ms: 20, minPerSec: 100, maxPerSec: 10_000, stepPerSec: 500 });
  t.is(th.perSec, 10_000, 'starts at the maximum');
  t.is(th.update(50), 5000);
  t.is(th.update(50), 2500);
  for (let i = 0; i < 10; i++) th.update(1000);
  t.is(th.perSec, 100, 'never below the minimum');
  t.is(th.update(10), 600, 'additive increase');
  t.is(th.update(20), 1100, 'at the target is within it');
  for (let i = 0; i < 100; i++) th.update(5);
  t.is(th.perSec, 10_000, 'never above the maximum');
  th.update(100);
  t.is(th.update(null), 10_000, 'no foreground traffic: everything for the background');
  t.throws(() => new BackgroundThrottle({ targetP99Ms: 0, minPerSec: 1, maxPerSec: 2, stepPerSec: 1 }), { instanceOf: RangeError });
  t.throws(() => new BackgroundThrottle({ targetP99Ms: 1, minPerSec: 5, maxPerSec: 2, stepPerSec: 1 }), { instanceOf: RangeError });
  t.throws(() => new BackgroundThrottle({ targetP99Ms: 1, minPerSec: 1, maxPerSec: 2, stepPerSec: 0 }), { instanceOf: RangeError });
});

test('BackgroundThrottle with a baseline factor: quiet intervals set the baseline, background is held to a multiple of it', (t) => {
  const th = new BackgroundThrottle({ targetP99Ms: 50, minPerSec: 100, maxPerSec: 10_000, stepPerSec: 500, baselineFactor: 2, floorMs: 1 });
  t.is(th.baselineP99Ms, null);
  t.is(th.targetMs, 50, 'no baseline yet: the absolute target');
  th.update(4);
  t.is(th.baselineP99Ms, 4, 'the first quiet interval is the baseline');
  t.is(th.targetMs, 8);
  t.is(th.update(20, true), 5000, '5x the baseline while background ran: halved, though far below the absolute 50 ms');
  t.is(th.baselineP99Ms, 4, 'intervals with background work do not move the baseline');
  t.is(th.update(7, true), 5500, 'within 2x: grows back');
  th.update(9);
  t.is(th.baselineP99Ms, 4 + 0.2 * 5, 'a quiet interval moves the baseline a fifth of the way');
  t.is(th.update(Infinity), th.perSec, 'an infinite p99 (a timed-out request) never becomes the baseline');
  t.is(th.baselineP99Ms, 5);
  t.is(th.update(null, true), 10_000, 'no foreground at all: everything for the background');
});

test('effectiveTargetMs: the relative target lies between the floor and the absolute target', (t) => {
  const o = { targetP99Ms: 50, minPerSec: 1, maxPerSec: 2, stepPerSec: 1, baselineFactor: 2, floorMs: 3 };
  t.is(effectiveTargetMs(o, null), 50);
  t.is(effectiveTargetMs(o, 0.2), 3, 'a sub-millisecond baseline: the floor');
  t.is(effectiveTargetMs(o, 10), 20);
  t.is(effectiveTargetMs(o, 40), 50, 'never above the absolute target');
  t.is(effectiveTargetMs({ ...o, baselineFactor: 0 }, 10), 50, 'factor 0: the absolute target alone');
  t.throws(() => new BackgroundThrottle({ ...o, baselineFactor: 0.5 }), { instanceOf: RangeError });
  t.throws(() => new BackgroundThrottle({ ...o, floorMs: -1 }), { instanceOf: RangeError });
});

test('TokenBucket: budget accrues with time at the rate, at most burstMs worth, and says how long until the next entry', (t) => {
  const b = new TokenBucket(20);
  t.is(b.available(0, 10_000), 200, 'starts with one burst: 20 ms at 10 000/s');
  b.take(200);
  t.is(b.available(0, 10_000), 0);
  t.is(b.waitMs(10_000), 1, 'one entry every 0.1 ms: the next within a ms');
  t.is(b.available(5, 10_000), 50, '5 ms later: 50 entries');
  t.is(b.available(1000, 10_000), 200, 'unused budget does not pile up beyond one burst');
  b.take(200);
  t.is(b.available(1000, 100), 0);
  t.is(b.waitMs(100), 10);
  t.is(new TokenBucket(1).available(0, 10), 1, 'at least one entry, however low the rate');
  t.throws(() => new TokenBucket(0), { instanceOf: RangeError });
});
