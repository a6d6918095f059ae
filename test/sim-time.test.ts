import test from 'ava';
import { VirtualTime } from '../src/sim/virtual-time.js';

const EPOCH = Date.UTC(2026, 0, 1);

test('events run in time order, ties in the order scheduled; immediates after what is due now', (t) => {
  const time = new VirtualTime(EPOCH);
  const order: string[] = [];
  time.setTimeout(() => order.push('b@10'), 10);
  time.setTimeout(() => order.push('a@5'), 5);
  time.setTimeout(() => {
    order.push('c@10');
    time.setImmediate(() => order.push(`immediate@${time.monotonicMs()}`));
    time.setTimeout(() => order.push('zero-delay'), 0);
  }, 10);
  time.setTimeout(() => order.push('d@10'), 10);
  t.is(time.runUntil(100), 6);
  t.deepEqual(order, ['a@5', 'b@10', 'c@10', 'd@10', 'immediate@10', 'zero-delay']);
  t.is(time.monotonicMs(), 100, 'time moves to the end of the window');
  t.is(time.now(), EPOCH + 100);
});

test('cancelled timers and intervals never run; an interval repeats at its period', (t) => {
  const time = new VirtualTime(EPOCH);
  const ticks: number[] = [];
  const interval = time.setInterval(() => ticks.push(time.monotonicMs()), 30);
  const never = time.setTimeout(() => t.fail('cancelled'), 50);
  never.cancel();
  time.runUntil(100);
  t.deepEqual(ticks, [30, 60, 90]);
  interval.cancel();
  time.runUntil(1000);
  t.deepEqual(ticks, [30, 60, 90]);
  t.is(time.pending, 0);
  // an interval that cancels itself from inside its own tick stops too
  let n = 0;
  const self = time.setInterval(() => ++n === 2 && self.cancel(), 10);
  time.runUntil(2000);
  t.is(n, 2);
});

test('the trace digest is a function of what ran: the same schedule gives the same digest, a different one does not', (t) => {
  const run = (delays: number[]): string => {
    const time = new VirtualTime(EPOCH);
    for (const [i, d] of delays.entries()) time.at(d, `event${i}`, () => time.record(`ran${i}`));
    time.runUntil(10_000);
    return time.digest();
  };
  t.is(run([5, 1, 9]), run([5, 1, 9]));
  t.not(run([5, 1, 9]), run([5, 2, 9]));
  t.not(run([5, 1, 9]), run([1, 5, 9]), 'the same times under other labels');
  t.regex(run([]), /^[0-9a-f]{16}$/);
});

test('bounds: pending events are capped, a bad epoch is refused, maxEvents stops a run that would not end', (t) => {
  const time = new VirtualTime(EPOCH, { maxPendingEvents: 3 });
  for (let i = 0; i < 3; i++) time.setTimeout(() => undefined, i);
  t.throws(() => time.setTimeout(() => undefined, 1), { instanceOf: RangeError, message: /maxPendingEvents/ });
  t.throws(() => new VirtualTime(-1), { instanceOf: RangeError });
  const spin = new VirtualTime(EPOCH);
  const again = (): void => spin.setImmediate(again);
  again();
  t.is(spin.runUntil(1, 50), 50, 'an event loop that never idles is cut at maxEvents');
  t.is(spin.monotonicMs(), 0, 'and time did not move past what ran');
});
