import test from 'ava';
import { BACKGROUND_CAP_INTERVAL_MS, BACKGROUND_CAP_STEP_FRACTION, ForegroundPacing, SCAN_PACE_INTERVAL_MS } from '../src/cluster/foreground-pacing.js';
import { resolveOptions } from '../src/cluster/options.js';
import { RatePacer, SharedActivity, SharedRate } from '../src/coordinator/shared-rate.js';
import { LatencyWindow } from '../src/coordinator/throttle.js';
import type { Timers } from '../src/runtime/services.js';

test('SharedRate: one shared cell, seen through another view of the same buffer, clamped to a non-negative int32', (t) => {
  const r = new SharedRate();
  const other = new SharedRate(r.buffer);
  t.is(other.entriesPerSec, 0);
  r.entriesPerSec = 123_456.7;
  t.is(other.entriesPerSec, 123_456);
  r.entriesPerSec = -5;
  t.is(other.entriesPerSec, 0);
  r.entriesPerSec = 1e12;
  t.is(other.entriesPerSec, 2 ** 31 - 1);
});

test('SharedActivity: the reader sees whether any view bumped since its last look, once', (t) => {
  const reader = new SharedActivity();
  const actorA = new SharedActivity(reader.buffer);
  const actorB = new SharedActivity(reader.buffer);
  t.false(reader.ranSinceLastLook());
  actorA.bump();
  actorB.bump();
  t.true(reader.ranSinceLastLook());
  t.false(reader.ranSinceLastLook(), 'seen: not again');
  actorB.bump();
  t.true(reader.ranSinceLastLook());
});

test('RatePacer: the rate halves while foreground requests are slower than twice their quiet baseline, and grows back', (t) => {
  const rate = new SharedRate();
  const pacer = new RatePacer(rate, { targetP99Ms: 50, minPerSec: 1000, maxPerSec: 100_000, stepPerSec: 5000, baselineFactor: 2, floorMs: 1 });
  t.is(rate.entriesPerSec, 100_000, 'starts at the maximum');
  for (let i = 0; i < 100; i++) pacer.record(3);
  t.is(pacer.tick(false), 100_000, 'quiet: no background work ran');
  t.is(pacer.baselineP99Ms, LatencyWindow.BOUNDS_MS.find((b) => b >= 3)!);
  for (let i = 0; i < 100; i++) pacer.record(30);
  t.is(pacer.tick(true), 50_000, 'background work made requests 10x slower: halved');
  t.is(rate.entriesPerSec, 50_000, 'and the threads that follow it see it');
  for (let i = 0; i < 100; i++) pacer.record(3);
  t.is(pacer.tick(true), 55_000, 'back within 2x: grows by a step');
  t.is(pacer.tick(true), 100_000, 'no requests at all: the maximum');
});

/** Timers whose intervals run when the test says so. */
function manualTimers(): { timers: Timers; run: (ms: number) => void; live: () => number } {
  const intervals: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const timers = {
    setInterval(fn: () => void, ms: number) {
      const t = { fn, ms, cancelled: false };
      intervals.push(t);
      return { cancel: () => (t.cancelled = true) };
    },
  } as unknown as Timers;
  return { timers, run: (ms) => intervals.filter((i) => i.ms === ms && !i.cancelled).forEach((i) => i.fn()), live: () => intervals.filter((i) => !i.cancelled).length };
}

test('ForegroundPacing: every latency reaches both rates; the actors\' cap halves when requests are over twice their quiet p99 and learns that baseline only from intervals in which no actor said its background work ran', (t) => {
  const o = resolveOptions({ dataDir: '/nonexistent', backgroundP99Factor: 2, backgroundMinPerSec: 1000, backgroundMaxPerSec: 40_000, antiEntropyScanMinPerSec: 5000, antiEntropyScanMaxPerSec: 400_000 });
  const { timers, run, live } = manualTimers();
  const scanRate = new SharedRate();
  let building = false;
  const pacing = new ForegroundPacing(o, timers, scanRate, () => building);
  const cap = new SharedRate(pacing.capBuffers.rate);
  const actor = new SharedActivity(pacing.capBuffers.activity);
  t.is(cap.entriesPerSec, 40_000, 'the cap starts at backgroundMaxPerSec');
  t.is(scanRate.entriesPerSec, 400_000);
  // quiet: 3 ms requests teach both baselines
  for (let i = 0; i < 100; i++) pacing.record(3);
  run(SCAN_PACE_INTERVAL_MS);
  run(BACKGROUND_CAP_INTERVAL_MS);
  // an actor's handoff runs and requests are slower than twice the baseline: the cap halves
  actor.bump();
  building = true;
  for (let i = 0; i < 100; i++) pacing.record(400);
  run(BACKGROUND_CAP_INTERVAL_MS);
  t.is(cap.entriesPerSec, 20_000);
  // the same latencies reached the scan rate: it halves too
  run(SCAN_PACE_INTERVAL_MS);
  t.is(scanRate.entriesPerSec, 200_000);
  building = false;
  // 5 ms while the handoff runs: within twice the quiet 3 ms (the slow intervals did not teach the baseline), so the cap grows by a step of max x BACKGROUND_CAP_STEP_FRACTION
  actor.bump();
  for (let i = 0; i < 100; i++) pacing.record(5);
  run(BACKGROUND_CAP_INTERVAL_MS);
  const grown = 20_000 + Math.ceil(40_000 * BACKGROUND_CAP_STEP_FRACTION);
  t.is(cap.entriesPerSec, grown);
  t.is(pacing.backgroundCapPerSec, grown);
  // 20 ms while the handoff runs halves it: the baseline is still the quiet 3 ms (had the 400 ms interval taught it, 20 would pass under the 50 ms absolute target)
  actor.bump();
  for (let i = 0; i < 100; i++) pacing.record(20);
  run(BACKGROUND_CAP_INTERVAL_MS);
  t.is(cap.entriesPerSec, Math.floor(grown / 2));
  pacing.close();
  t.is(live(), 0, 'close cancels both timers');
});
