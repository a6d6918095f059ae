import test from 'ava';
import { flatLine, judgePhases, FLAT_LIMIT, P99_FACTOR } from '../tools/memory-verdict.js';

const MiB = 1024 * 1024;

test('judgePhases: growth against the reference and p99 against the quiet phase, at the limits', (t) => {
  const [same, under, at, p99Missing] = judgePhases(100 * MiB, 4, [
    { name: 'same', maxAnonBytes: 100 * MiB, p99Ms: 4 },
    { name: 'under', maxAnonBytes: 114.9 * MiB, p99Ms: 8 },
    { name: 'at', maxAnonBytes: 115 * MiB, p99Ms: 8.1 },
    { name: 'p99 missing', maxAnonBytes: 80 * MiB, p99Ms: NaN },
  ]);
  t.like(same, { anonGrowth: 0, flat: true, p99Ratio: 1, p99Ok: true });
  t.like(under, { flat: true, p99Ratio: P99_FACTOR, p99Ok: true });
  t.like(at, { flat: false, p99Ok: false });
  t.true(Math.abs(at!.anonGrowth - FLAT_LIMIT) < 1e-9);
  t.like(p99Missing, { flat: true, p99Ok: true });
  t.true(p99Missing!.anonGrowth < 0, 'shrinking counts as flat');
  t.true(Number.isNaN(p99Missing!.p99Ratio));
  t.true(Number.isNaN(judgePhases(MiB, NaN, [{ name: 'x', maxAnonBytes: MiB, p99Ms: 3 }])[0]!.p99Ratio), 'no quiet p99: no ratio');
  t.throws(() => judgePhases(0, 1, []), { instanceOf: RangeError });
});

test('flatLine names the phases that grew, or says FLAT with the worst growth', (t) => {
  const v = judgePhases(100, 1, [
    { name: 'pass 1', maxAnonBytes: 105, p99Ms: 1 },
    { name: 'add', maxAnonBytes: 140, p99Ms: 1 },
  ]);
  t.is(flatLine(v), 'GROWING: anonymous memory rose 15% or more over its reference in add (+40.0%)');
  t.is(flatLine(v.slice(0, 1)), 'FLAT: anonymous memory stayed within 15% of its reference in every phase (worst +5.0%)');
});
