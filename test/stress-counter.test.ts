import test from 'ava';
import { checkCounters, type IncrementOp, type Outcome } from '../tools/stress/checker.js';
import { runStress, type StressConfig } from '../tools/stress/runner.js';
import { shortStressConfig } from './stress-fixture.js';

/** A short counter run (see shortStressConfig). */
function config(overrides: Partial<StressConfig> = {}): StressConfig {
  return shortStressConfig({ workload: 'counter', records: 0, ratePerSec: 1500, seed: 23, timeoutMs: 1000, ...overrides });
}

let t0 = 0;
const inc = (key: string, by: number, outcome: Outcome): IncrementOp => ({ kind: 'increment', key, process: 0, invokeMs: t0++, completeMs: t0++, outcome, by });

test('checkCounters: final = acknowledged + a subset of the unknown increments; refused ones count for nothing', (t) => {
  const history = [inc('k', 5, 'ok'), inc('k', -2, 'ok'), inc('k', 4, 'info'), inc('k', -1, 'info'), inc('k', 100, 'fail')];
  for (const final of [3, 2, 7, 6]) t.true(checkCounters(history, new Map([['k', final]])).valid, `final ${final}`);
  const lost = checkCounters(history, new Map([['k', 1]]));
  t.false(lost.valid, 'an acknowledged increment lost');
  t.deepEqual(lost.violations[0], { key: 'k', final: 1, acknowledged: 3, min: 2, max: 7 });
  t.false(checkCounters(history, new Map([['k', 8]])).valid, 'an increment counted twice');
  t.false(checkCounters(history, new Map([['k', 103]])).valid, 'a refused increment applied');
  t.false(checkCounters(history, new Map([['k', Number.NaN]])).valid, 'siblings that are not one counter');
  t.false(checkCounters(history, new Map()).valid, 'a missing counter with acknowledged increments');
  t.true(checkCounters([inc('u', 3, 'info')], new Map()).valid, 'a missing counter whose only increment timed out');
});

test.serial('the counter workload under kills and partitions loses no acknowledged increment and converges', async (t) => {
  const schedule = {
    faults: [
      { kind: 'kill', atMs: 500, durationMs: 700, targets: [1] },
      { kind: 'partition', atMs: 1500, durationMs: 900, groups: [[0, 1], [2, 3, 4]] },
      { kind: 'kill', atMs: 2500, durationMs: 300, targets: [3] },
    ],
  };
  const result = await runStress(config({ nemesis: { kind: 'file', path: 'inline', schedule } }));
  t.true(result.valid, JSON.stringify(result.checkers, null, 1));
  t.deepEqual(
    result.faults.map((f) => f.kind),
    ['kill', 'partition', 'kill'],
  );
  t.true(result.checkers.lostWrites.checked > 200, `${result.checkers.lostWrites.checked} increments acknowledged`);
  t.true((result.latency.incr?.count ?? 0) > 200);
  t.not(result.checkers.convergence.timeToConvergeMs, null);
  t.log(`${result.checkers.lostWrites.checked} acknowledged increments, errors ${JSON.stringify(result.errors)}`);
});
