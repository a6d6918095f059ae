import test from 'ava';
import { DeadlineSweep, type Expiring } from '../src/actor/deadlines.js';
import type { ActorContext } from '../src/actor/context.js';

/** Timers run by hand: the interval the sweep arms, and whether it was cancelled. */
function fakeContext() {
  const intervals: { fn: () => void; cancelled: boolean }[] = [];
  let now = 0;
  const ctx = {
    closing: false,
    config: { sweepIntervalMs: 10 },
    clock: { now: () => now, monotonicMs: () => now },
    timers: {
      setInterval(fn: () => void) {
        const t = { fn, cancelled: false };
        intervals.push(t);
        return { cancel: () => (t.cancelled = true) };
      },
    },
  } as unknown as ActorContext;
  return { ctx, intervals, advance: (ms: number) => (now += ms) };
}

function job(name: string, log: string[], waiting: () => boolean): Expiring {
  return { waiting, expire: (nowMs) => log.push(`${name}@${nowMs}`) };
}

test('the sweep runs while a job waits, in the order jobs are watched, and stops once nothing waits', (t) => {
  const { ctx, intervals, advance } = fakeContext();
  const sweep = new DeadlineSweep(ctx);
  const log: string[] = [];
  let open = 1;
  sweep.watch(job('pushes', log, () => false));
  sweep.watch(job('requests', log, () => open > 0));
  sweep.arm();
  sweep.arm();
  t.is(intervals.length, 1, 'armed once however often asked');
  advance(10);
  intervals[0]!.fn();
  t.deepEqual(log, ['pushes@10', 'requests@10']);
  open = 0;
  intervals[0]!.fn();
  t.true(intervals[0]!.cancelled, 'nothing waits: an idle actor does not wake');
  t.is(log.length, 2);
  sweep.arm();
  t.is(intervals.length, 2, 'armed again by the next request');
});

test('a closing actor arms no sweep', (t) => {
  const { ctx, intervals } = fakeContext();
  ctx.closing = true;
  new DeadlineSweep(ctx).arm();
  t.is(intervals.length, 0);
});
