import test from 'ava';
import fc from 'fast-check';
import { Admission } from '../src/coordinator/admission.js';

const OPTIONS = { targetMs: 500, intervalMs: 1000, maxInFlight: 100, minInFlight: 8 };

function fill(a: Admission, n: number, nowMs: number): void {
  for (let i = 0; i < n; i++) {
    t0(a.check() === 'admit');
    a.started(nowMs);
  }
}
function t0(ok: boolean): void {
  if (!ok) throw new Error('expected admit');
}

test('count bound: the request beyond maxInFlight is refused, and admitted again once one ends', (t) => {
  const a = new Admission(OPTIONS);
  fill(a, 100, 0);
  t.is(a.check(), 'too-many');
  a.finished(0, 10);
  t.is(a.check(), 'admit');
  t.is(a.refusedTooMany, 1);
});

test('a burst of slow answers shorter than the interval refuses nothing', (t) => {
  const a = new Admission(OPTIONS);
  fill(a, 50, 0);
  for (let i = 0; i < 20; i++) a.finished(0, 600 + i * 10); // slow, but only for 190 ms
  t.is(a.check(), 'admit');
  t.false(a.overloaded);
});

test('a standing queue (every answer over target for a whole interval) refuses while more than minInFlight are out', (t) => {
  const a = new Admission(OPTIONS);
  fill(a, 50, 0);
  for (let now = 600; now <= 1700; now += 100) a.finished(0, now);
  t.true(a.overloaded);
  t.is(a.inFlight, 38);
  t.is(a.check(), 'too-slow');
  t.is(a.refusedTooSlow, 1);
  // the probes below minInFlight still go out
  while (a.inFlight >= 8) a.finished(0, 1800);
  t.is(a.check(), 'admit');
  a.started(1800);
  // the first answer back under target ends the refusals
  a.finished(1800, 1850);
  t.false(a.overloaded);
  t.is(a.check(), 'admit');
});

test('a stalled actor answers nothing: its oldest request in flight counts as a slow answer', (t) => {
  const a = new Admission(OPTIONS);
  fill(a, 20, 0);
  a.noteOldest(600, 600);
  t.false(a.overloaded, 'one look is not a standing queue');
  a.noteOldest(1700, 1700);
  t.true(a.overloaded);
  t.is(a.check(), 'too-slow');
  a.noteOldest(100, 1800);
  t.true(a.overloaded, 'a young oldest request is no evidence of recovery; an answer under target is');
});

test('options are checked', (t) => {
  t.throws(() => new Admission({ ...OPTIONS, targetMs: 0 }), { instanceOf: RangeError });
  t.throws(() => new Admission({ ...OPTIONS, minInFlight: 0 }), { instanceOf: RangeError });
  t.throws(() => new Admission({ ...OPTIONS, minInFlight: 101 }), { instanceOf: RangeError });
  t.throws(() => new Admission(OPTIONS).finished(0, 1), { message: /without started/ });
});

test('property: in flight never exceeds maxInFlight, and refusals for time need a whole interval over target', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 2000 })), { maxLength: 500 }), (steps) => {
      const a = new Admission({ targetMs: 500, intervalMs: 1000, maxInFlight: 20, minInFlight: 4 });
      const out: number[] = [];
      let now = 0;
      let firstSlowAt: number | null = null;
      for (const [send, latency] of steps) {
        now += 10;
        if (send || out.length === 0) {
          if (a.check() === 'admit') {
            a.started(now);
            out.push(now);
          }
        } else {
          const started = out.shift()!;
          const end = Math.max(now, started + latency);
          now = end;
          a.finished(started, end);
          if (end - started <= 500) firstSlowAt = null;
          else firstSlowAt ??= end;
          if (a.overloaded && (firstSlowAt === null || end - firstSlowAt < 1000)) return false;
        }
        if (a.inFlight > 20 || a.inFlight !== out.length) return false;
      }
      return true;
    }),
  );
  t.pass();
});
