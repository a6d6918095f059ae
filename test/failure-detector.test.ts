import test from 'ava';
import fc from 'fast-check';
import { detectorOptions, FailureDetector } from '../src/membership/failure-detector.js';

// gossip every 100 ms, failAfterMs 1000: the defaults a cluster runs with
const OPTIONS = detectorOptions(100, 1000);

/** Observer 0 ticks every `periodMs` and hears member 1 advance every `heardEveryMs`, until `untilMs`. */
function run(d: FailureDetector, fromMs: number, untilMs: number, periodMs: number, heardEveryMs: number, members = [1]): number {
  let hb = 1_000_000 + fromMs;
  let nextHeard = fromMs;
  for (let now = fromMs; now <= untilMs; now += periodMs) {
    d.tick(now);
    while (nextHeard <= now) {
      hb++;
      d.merge(members.map((id) => [id, hb] as const), nextHeard);
      nextHeard += heardEveryMs;
    }
  }
  return untilMs;
}

test('accrual: a member heard every 100 ms is suspected after failAfterMs of silence, not before', (t) => {
  const d = new FailureDetector(0, [0, 1], OPTIONS, 0);
  const last = run(d, 0, 5000, 100, 100);
  t.deepEqual(d.down(last + 999), []);
  t.deepEqual(d.down(last + 1001), [1]);
});

test('accrual: a member heard only every 400 ms (a busy machine) gets proportionally more time, within maxFailAfterMs', (t) => {
  const d = new FailureDetector(0, [0, 1], OPTIONS, 0);
  const last = run(d, 0, 20_000, 100, 400);
  const bound = d.suspectAfterMs(1);
  t.true(bound > 2500 && bound <= 4000, `suspects after ${bound} ms`);
  t.deepEqual(d.down(last + 2000), [], 'silence of 5 observed intervals is not yet suspicious');
  t.deepEqual(d.down(last + 4001), [1], 'maxFailAfterMs bounds detection');
  t.true(d.phi(1, last + 4001) > d.phi(1, last + 1000));
});

test('accrual: the bound stays within [failAfterMs, maxFailAfterMs] whatever the intervals', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 60_000 }), { minLength: 1, maxLength: 200 }), (gaps) => {
      const d = new FailureDetector(0, [0, 1], OPTIONS, 0);
      let now = 0;
      let hb = 0;
      for (const g of gaps) {
        now += g;
        d.merge([[1, ++hb]], now);
      }
      const bound = d.suspectAfterMs(1);
      return bound >= 1000 && bound <= 4000;
    }),
  );
  t.pass();
});

test('local pause: an observer whose own loop froze for 3 s convicts nobody when it wakes, before reading what arrived', (t) => {
  const d = new FailureDetector(0, [0, 1, 2], OPTIONS, 0);
  run(d, 0, 2000, 100, 100, [1, 2]);
  // frozen from 2000 to 5000: the first tick after it sees everyone silent for 3 s
  d.tick(5000);
  t.true(d.inGrace);
  t.deepEqual(d.down(5000), [], 'no verdict before the backlog is read');
  // the backlog: member 1 was alive all along, member 2 really died at 2000
  d.merge([[1, 9_000_000]], 5001);
  t.deepEqual(d.down(5050), []);
  d.tick(5100);
  d.merge([[1, 9_000_001]], 5150);
  d.tick(5200);
  t.false(d.inGrace, 'grace ends after graceTicks on-time ticks');
  t.deepEqual(d.down(5200), [2], 'the dead one is convicted once judging resumes');
  t.is(d.stalls, 1);
});

test('local pause: without the grace (localPauseMs beyond any stall) the same wake-up convicts the living: the mechanism the grace fixes', (t) => {
  const d = new FailureDetector(0, [0, 1, 2], detectorOptions(100, 1000, { localPauseMs: 1e9 }), 0);
  run(d, 0, 2000, 100, 100, [1, 2]);
  d.tick(5000);
  t.deepEqual(d.down(5000), [1, 2]);
});

test('local pause: a member already suspected before the stall stays suspected through the grace', (t) => {
  const d = new FailureDetector(0, [0, 1, 2], OPTIONS, 0);
  run(d, 0, 2000, 100, 100, [1, 2]);
  // member 2 falls silent; suspected at 3100
  run(d, 2100, 3100, 100, 100, [1]);
  t.deepEqual(d.down(3100), [2]);
  d.tick(6000);
  t.deepEqual(d.down(6000), [2]);
});

test('local pause: the interval spanning the stall does not teach the detector that the member is slow', (t) => {
  const d = new FailureDetector(0, [0, 1], OPTIONS, 0);
  run(d, 0, 2000, 100, 100);
  const before = d.suspectAfterMs(1);
  d.tick(12_000);
  d.merge([[1, 9_000_000]], 12_001);
  t.is(d.suspectAfterMs(1), before);
});

test('ended members are down at once and stay down through any grace, until reset', (t) => {
  const d = new FailureDetector(0, [0, 1, 2], OPTIONS, 0);
  run(d, 0, 1000, 100, 100, [1, 2]);
  d.ended(2, 1000);
  t.deepEqual(d.down(1000), [2]);
  t.true(d.hasEnded(2));
  d.tick(5000);
  t.deepEqual(d.down(5000), [2]);
  d.reset(2, 5000);
  t.false(d.hasEnded(2));
  t.deepEqual(d.down(5000), []);
});

test('options are checked', (t) => {
  t.throws(() => new FailureDetector(0, [0], detectorOptions(100, 1000, { maxFailAfterMs: 500 }), 0), { instanceOf: RangeError });
  t.throws(() => new FailureDetector(0, [0], detectorOptions(100, 1000, { windowSize: 0 }), 0), { instanceOf: RangeError });
  t.throws(() => new FailureDetector(0, [0], detectorOptions(100, 1000, { phiThreshold: 0 }), 0), { instanceOf: RangeError });
});
