import test from 'ava';
import { checkConvergence, checkNoLostWrites, checkNoStaleReads, stalenessCurve, type Op, type ReadOp, type WriteOp } from '../tools/stress/checker.js';
import { Cluster } from '../src/index.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prng } from './helpers.js';

const w = (id: string, invokeMs: number, completeMs: number, supersedes: string[] = [], outcome: WriteOp['outcome'] = 'ok', key = 'k'): WriteOp => ({
  kind: 'write',
  id,
  key,
  process: 0,
  invokeMs,
  completeMs,
  outcome,
  supersedes,
});
const r = (values: string[], invokeMs: number, completeMs: number, key = 'k', outcome: ReadOp['outcome'] = 'ok'): ReadOp => ({ kind: 'read', key, process: 1, invokeMs, completeMs, outcome, values });

test('a valid history passes every check', (t) => {
  const history: Op[] = [w('a', 0, 5), r(['a'], 6, 7), w('b', 8, 10, ['a']), r(['b'], 11, 12), w('c', 13, 15, ['b']), r(['c'], 20, 21)];
  t.true(checkNoLostWrites(history, new Map([['k', ['c']]])).valid, 'a and b were superseded by c, transitively');
  t.true(checkNoStaleReads(history).valid);
  t.true(checkConvergence(new Map([['k', new Map([[0, ['c']], [1, ['c']], [2, ['c']]])]])).valid);
});

test('a lost write is flagged with its key and operation', (t) => {
  const history: Op[] = [w('a', 0, 5), w('b', 1, 6), w('c', 2, 7, [], 'fail'), w('d', 3, 8, [], 'info')];
  const verdict = checkNoLostWrites(history, new Map([['k', ['a']]]));
  t.false(verdict.valid);
  t.deepEqual(
    verdict.violations.map((v) => v.write.id),
    ['b'],
    'b was acknowledged, concurrent with a, and is gone; failed and indeterminate writes may vanish',
  );
  t.is(verdict.violations[0]!.key, 'k');
  // siblings keep both: nothing lost
  t.true(checkNoLostWrites(history, new Map([['k', ['a', 'b']]])).valid);
  // a deleted key (tombstone id in the final state) accounts for what the delete superseded
  t.true(checkNoLostWrites([w('a', 0, 1), w('del', 2, 3, ['a'])], new Map([['k', ['del']]])).valid);
  t.throws(() => checkNoLostWrites([w('a', 0, 1), w('a', 2, 3)], new Map()), { message: /appears twice/ });
});

test('a stale read is flagged; reads of something later or concurrent, or that overlap the write, are not', (t) => {
  const base: Op[] = [w('old', 0, 1), w('new', 2, 10, ['old']), w('other', 3, 4, [], 'ok', 'k2')];
  const stale = checkNoStaleReads([...base, r(['old'], 11, 12)]);
  t.false(stale.valid);
  t.is(stale.violations[0]!.missed.id, 'new');
  t.false(checkNoStaleReads([...base, r([], 11, 12)]).valid, 'reading nothing after an acknowledged write is stale');
  t.true(checkNoStaleReads([...base, r(['new'], 11, 12)]).valid);
  t.true(checkNoStaleReads([...base, r(['old'], 5, 12)]).valid, 'began before the write was acknowledged: not judged');
  t.true(checkNoStaleReads([...base, w('later', 12, 13, ['new']), r(['later'], 14, 15)]).valid, 'something causally later');
  t.true(checkNoStaleReads([...base, w('concurrent', 11, 12, ['old']), r(['concurrent'], 14, 15)]).valid, 'concurrent with it');
  t.true(checkNoStaleReads([...base, r(['old'], 11, 12, 'k', 'fail')]).valid, 'failed reads are not judged');
});

test('a divergent replica is flagged with what each replica holds', (t) => {
  const verdict = checkConvergence(
    new Map([
      ['same', new Map([[0, ['x', 'y']], [1, ['y', 'x']]])],
      ['diff', new Map([[0, ['x']], [1, ['x', 'y']], [2, ['x']]])],
    ]),
  );
  t.false(verdict.valid);
  t.deepEqual(
    verdict.violations.map((v) => v.key),
    ['diff'],
  );
  t.deepEqual(verdict.violations[0]!.replicas.get(1), ['x', 'y']);
});

test('staleness curve: the fraction of stale reads by time since the latest acknowledged write', (t) => {
  const history: Op[] = [w('a', 0, 100), w('b', 101, 200, ['a']), r(['a'], 201, 202), r(['b'], 202, 203), r(['a'], 260, 261), r(['b'], 600, 601), r(['b'], 1500, 1501)];
  const curve = stalenessCurve(history, [0, 10, 100, 1000]);
  t.deepEqual(
    curve.map((b) => [b.sinceWriteMs, b.reads, b.stale]),
    [
      [0, 2, 1],
      [10, 1, 1],
      [100, 1, 0],
      [1000, 1, 0],
    ],
  );
  t.is(curve[0]!.fraction, 0.5);
});

const blind = (id: string, invokeMs: number, completeMs: number, outcome: WriteOp['outcome'] = 'ok', key = 'k'): WriteOp => ({ ...w(id, invokeMs, completeMs, [], outcome, key), blind: true });

test('blind writes (SET, YCSB updates) are ordered by real time: older ones may vanish, a newer one may not', (t) => {
  const history: Op[] = [blind('a', 0, 1), blind('b', 2, 3), blind('c', 2.5, 4), blind('d', 10, 11, 'info')];
  // a completed before b and c began: replaced. b and c overlap: either may have been last.
  t.true(checkNoLostWrites(history.slice(0, 3), new Map([['k', ['c']]])).valid);
  t.true(checkNoLostWrites(history.slice(0, 3), new Map([['k', ['b']]])).valid);
  t.true(checkNoLostWrites(history.slice(0, 3), new Map([['k', ['b', 'c']]])).valid, 'siblings of overlapping writes');
  const reverted = checkNoLostWrites(history.slice(0, 3), new Map([['k', ['a']]]));
  t.false(reverted.valid, 'the key went back to a value older than two acknowledged writes');
  t.deepEqual(reverted.violations.map((v) => v.write.id).sort(), ['b', 'c']);
  t.false(checkNoLostWrites(history.slice(0, 3), new Map()).valid, 'a key that vanished loses its writes');
  // an indeterminate write may take effect at any time: it may replace all of them
  t.true(checkNoLostWrites(history, new Map([['k', ['d']]])).valid);
  // a value never written in this history keeps nothing
  t.false(checkNoLostWrites(history.slice(0, 1), new Map([['k', ['x']]])).valid);
});

test('stale reads of blind writes: only a value that completed before the write began is stale', (t) => {
  const history: Op[] = [blind('a', 0, 1), blind('b', 2, 5), blind('c', 4, 6)];
  const stale = checkNoStaleReads([...history, r(['a'], 7, 8)]);
  t.false(stale.valid);
  t.deepEqual(
    stale.violations.map((v) => v.missed.id).sort(),
    ['b', 'c'],
    'both newest writes were missed (a, certainly older than them, is not judged again)',
  );
  t.true(checkNoStaleReads([...history, r(['b'], 7, 8)]).valid, 'b overlapped c: it may have been last');
  t.true(checkNoStaleReads([...history, r(['c'], 7, 8)]).valid);
  t.true(checkNoStaleReads([...history, r(['a'], 4.5, 8)]).valid, 'began before b and c were acknowledged');
  t.false(checkNoStaleReads([...history, r([], 7, 8)]).valid);
  const curve = stalenessCurve([...history, r(['a'], 7, 8), r(['b'], 7, 8), r(['c'], 7, 8)], [0]);
  t.deepEqual([curve[0]!.reads, curve[0]!.stale], [3, 1]);
});

/** The set workload (as Jepsen's): add unique elements by read-modify-write, merging siblings by union. */
async function setWorkload(lastWriteWins: boolean): Promise<{ lost: number; adds: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-set-'));
  const c = await Cluster.start({ dataDir, actors: 3, lastWriteWins, antiEntropyIntervalMs: 0 });
  const history: Op[] = [];
  const random = prng(lastWriteWins ? 1 : 2);
  try {
    await Promise.all(
      Array.from({ length: 6 }, async (_, p) => {
        for (let i = 0; i < 40; i++) {
          const key = `set${Math.floor(random() * 2)}`;
          const read = await c.get(key);
          const seen = new Set<string>();
          for (const v of read.values) for (const e of v as string[]) seen.add(e);
          const id = `${p}:${i}`;
          const invokeMs = performance.now();
          try {
            await c.put(key, [...seen, id], { context: read.context });
            history.push({ kind: 'write', id, key, process: p, invokeMs, completeMs: performance.now(), outcome: 'ok', supersedes: [] });
          } catch {
            history.push({ kind: 'write', id, key, process: p, invokeMs, completeMs: performance.now(), outcome: 'info', supersedes: [] });
          }
        }
      }),
    );
    const finalValues = new Map<string, string[]>();
    for (const key of ['set0', 'set1']) {
      const res = await c.get(key, { r: 'all' });
      finalValues.set(key, [...new Set(res.values.flatMap((v) => v as string[]))]);
    }
    const verdict = checkNoLostWrites(history, finalValues);
    return { lost: verdict.violations.length, adds: history.filter((o) => o.kind === 'write' && o.outcome === 'ok').length };
  } finally {
    await c.close();
    Cluster.destroy(dataDir);
  }
}

test.serial('the set workload loses no acknowledged add with siblings, and is caught losing adds with last-write-wins', async (t) => {
  const siblings = await setWorkload(false);
  t.true(siblings.adds > 200);
  t.is(siblings.lost, 0);
  const lww = await setWorkload(true);
  t.true(lww.lost > 0, `last-write-wins lost ${lww.lost} of ${lww.adds} acknowledged adds`);
  t.log(`siblings: 0 of ${siblings.adds} adds lost; last-write-wins: ${lww.lost} of ${lww.adds} lost`);
});
