import test from 'ava';
import { BACKGROUND_CAP_STEP_FRACTION, ForegroundPacing, PACE_INTERVAL_MS, SCAN_STEP_FRACTION } from '../src/cluster/foreground-pacing.js';
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

/** Merkle builds as the pacing sees them, driven by the test. */
function fakeBuilds(): { busy: boolean; events: number; run: () => void } {
  const b = {
    busy: false,
    events: 0,
    /** A whole build, started and settled between two ticks. */
    run: () => void (b.events += 2),
  };
  return b;
}

const OPTIONS = { dataDir: '/nonexistent', backgroundP99Factor: 2, backgroundMinPerSec: 1000, backgroundMaxPerSec: 40_000, antiEntropyScanMinPerSec: 5000, antiEntropyScanMaxPerSec: 400_000 } as const;

test('ForegroundPacing: every latency reaches both rates; each halves when requests are over twice their quiet p99, and grows back by its own step', (t) => {
  const { timers, run, live } = manualTimers();
  const scanRate = new SharedRate();
  const builds = fakeBuilds();
  const pacing = new ForegroundPacing(resolveOptions(OPTIONS), timers, scanRate, builds);
  const cap = new SharedRate(pacing.capBuffers.rate);
  const actor = new SharedActivity(pacing.capBuffers.activity);
  t.is(cap.entriesPerSec, 40_000, 'the cap starts at backgroundMaxPerSec');
  t.is(scanRate.entriesPerSec, 400_000);
  // quiet: 3 ms requests teach both baselines
  for (let i = 0; i < 100; i++) pacing.record(3);
  run(PACE_INTERVAL_MS);
  // an actor's handoff runs and a build is running; requests are slower than twice the baseline: both halve
  actor.bump();
  builds.busy = true;
  for (let i = 0; i < 100; i++) pacing.record(400);
  run(PACE_INTERVAL_MS);
  t.is(cap.entriesPerSec, 20_000);
  t.is(scanRate.entriesPerSec, 200_000);
  // 5 ms while both run: within twice the quiet 3 ms (the slow interval did not teach a baseline), so each grows by its step
  actor.bump();
  for (let i = 0; i < 100; i++) pacing.record(5);
  run(PACE_INTERVAL_MS);
  const capGrown = 20_000 + Math.ceil(40_000 * BACKGROUND_CAP_STEP_FRACTION);
  t.is(cap.entriesPerSec, capGrown);
  t.is(pacing.backgroundCapPerSec, capGrown);
  t.is(scanRate.entriesPerSec, 200_000 + Math.ceil(400_000 * SCAN_STEP_FRACTION));
  // 20 ms while the handoff runs halves the cap: the baseline is still the quiet 3 ms (had the 400 ms interval taught it, 20 would pass under the 50 ms absolute target)
  actor.bump();
  for (let i = 0; i < 100; i++) pacing.record(20);
  run(PACE_INTERVAL_MS);
  t.is(cap.entriesPerSec, Math.floor(capGrown / 2));
  pacing.close();
  t.is(live(), 0, 'close cancels the timer');
});

test('ForegroundPacing: an interval in which any background work ran (an actor\'s job, a build running, or a build that started and ended between two ticks) teaches neither quiet baseline', (t) => {
  const quietThen = (slowInterval: (builds: ReturnType<typeof fakeBuilds>, actor: SharedActivity) => void): { cap: number; scan: number } => {
    const { timers, run } = manualTimers();
    const scanRate = new SharedRate();
    const builds = fakeBuilds();
    const pacing = new ForegroundPacing(resolveOptions(OPTIONS), timers, scanRate, builds);
    const actor = new SharedActivity(pacing.capBuffers.activity);
    for (let i = 0; i < 100; i++) pacing.record(3);
    run(PACE_INTERVAL_MS);
    // many slow intervals with background work: were they taken as quiet, the baseline would climb towards 40 ms
    for (let k = 0; k < 10; k++) {
      slowInterval(builds, actor);
      for (let i = 0; i < 100; i++) pacing.record(40);
      run(PACE_INTERVAL_MS);
    }
    // then 10 ms with background work running: over twice a 3 ms baseline (halves), under twice a learned 40 ms one (grows)
    builds.busy = true;
    const capBefore = pacing.backgroundCapPerSec;
    const scanBefore = scanRate.entriesPerSec;
    for (let i = 0; i < 100; i++) pacing.record(10);
    run(PACE_INTERVAL_MS);
    pacing.close();
    return { cap: pacing.backgroundCapPerSec - capBefore, scan: scanRate.entriesPerSec - scanBefore };
  };
  const cases = {
    'an actor bumped': (_b: ReturnType<typeof fakeBuilds>, actor: SharedActivity) => actor.bump(),
    'a build was running': (b: ReturnType<typeof fakeBuilds>) => void (b.busy = true),
    'a build ran between ticks': (b: ReturnType<typeof fakeBuilds>) => {
      b.busy = false;
      b.run();
    },
  };
  for (const [name, slow] of Object.entries(cases)) {
    const moved = quietThen(slow);
    t.true(moved.cap <= 0, `${name}: the cap did not grow (its baseline is still the quiet one)`);
    t.true(moved.scan <= 0, `${name}: the scan rate did not grow`);
  }
  // and the control: with no background work seen, the slow intervals do teach both baselines, and then 10 ms lets both grow
  const taught = quietThen((b) => void (b.busy = false));
  t.true(taught.cap > 0 && taught.scan > 0, 'with nothing running the slow intervals are the baseline');
});
