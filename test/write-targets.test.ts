import test from 'ava';
import fc from 'fast-check';
import { planWriteTargets, type PeerHealth } from '../src/coordinator/write-targets.js';

const health = (dead: number[], suspected: number[]): PeerHealth => ({ dead: (id) => dead.includes(id), suspected: (id) => suspected.includes(id) });
const PREF = [0, 1, 2];
const WALK = [0, 1, 2, 3, 4, 5];

test('all healthy: the preference list, no substitutes', (t) => {
  const p = planWriteTargets(0, PREF, () => WALK, 2, false, health([], []));
  t.true(p.ok);
  if (p.ok) t.deepEqual([p.targets, [...p.hintFor]], [[0, 1, 2], []]);
});

test('a dead replica gets a substitute holding its hint', (t) => {
  const p = planWriteTargets(0, PREF, () => WALK, 2, false, health([1], []));
  if (!p.ok) return t.fail();
  t.deepEqual(p.owners, [0, 2]);
  t.deepEqual([...p.hintFor], [[3, 1]]);
});

test('a suspected replica still gets the write; no substitute while W does not depend on it', (t) => {
  const p = planWriteTargets(0, PREF, () => WALK, 2, false, health([], [2]));
  if (!p.ok) return t.fail();
  t.deepEqual(p.targets, [0, 1, 2]);
  t.is(p.hintFor.size, 0);
});

test('suspects W depends on get a substitute each, and are still sent to', (t) => {
  const p = planWriteTargets(0, PREF, () => WALK, 3, false, health([], [1, 2]));
  if (!p.ok) return t.fail();
  t.deepEqual(p.owners, [0, 1, 2]);
  t.deepEqual([...p.hintFor], [[3, 1], [4, 2]]);
});

test('only evidence fails a write before it starts: everyone suspected still makes W', (t) => {
  const p = planWriteTargets(0, PREF, () => [0, 1, 2], 3, false, health([], [1, 2]));
  t.true(p.ok);
  const dead = planWriteTargets(0, PREF, () => [0, 1, 2], 2, false, health([1, 2], []));
  t.false(dead.ok);
  if (!dead.ok) t.is(dead.reachable, 1);
});

test('strict writes take no substitutes, but still send to suspects', (t) => {
  const p = planWriteTargets(0, PREF, () => WALK, 2, true, health([], [1, 2]));
  if (!p.ok) return t.fail();
  t.deepEqual(p.targets, [0, 1, 2]);
  const q = planWriteTargets(0, PREF, () => WALK, 2, true, health([1, 2], []));
  t.false(q.ok);
  if (!q.ok) t.regex(q.reason, /strict/);
});

test('substitutes are neither dead nor suspected, and come in ring order', (t) => {
  const p = planWriteTargets(0, PREF, () => WALK, 2, false, health([1, 3], [4]));
  if (!p.ok) return t.fail();
  t.deepEqual([...p.hintFor], [[5, 1]]);
});

test('properties: never a dead target, never a duplicate, N copies when candidates allow, W healthy when candidates allow', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 3, max: 8 }),
      fc.integer({ min: 1, max: 3 }),
      fc.boolean(),
      fc.array(fc.constantFrom('ok', 'dead', 'suspect'), { minLength: 8, maxLength: 8 }),
      (members, w, strict, states) => {
        const walk = Array.from({ length: members }, (_, i) => i);
        const pref = walk.slice(0, 3);
        const dead = walk.filter((id) => id !== 0 && states[id] === 'dead');
        const suspected = walk.filter((id) => id !== 0 && states[id] === 'suspect');
        const p = planWriteTargets(0, pref, () => walk, w, strict, health(dead, suspected));
        const alive = pref.filter((id) => !dead.includes(id)).length;
        const candidates = walk.filter((id) => !pref.includes(id) && !dead.includes(id) && !suspected.includes(id)).length;
        if (!p.ok) return strict ? alive < w : alive + candidates < w;
        if (new Set(p.targets).size !== p.targets.length) return false;
        if (p.targets.some((id) => dead.includes(id))) return false;
        if (strict) return p.hintFor.size === 0;
        const sound = p.targets.filter((id) => !suspected.includes(id)).length;
        const deadOwners = pref.length - alive;
        return p.hintFor.size >= Math.min(deadOwners, candidates) && (sound >= w || p.hintFor.size === candidates);
      },
    ),
  );
  t.pass();
});
