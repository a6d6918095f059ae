import test from 'ava';
import * as fc from 'fast-check';
import { BackgroundThrottle, LatencyWindow } from '../src/coordinator/throttle.js';

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
