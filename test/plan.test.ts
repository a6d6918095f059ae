import test from 'ava';
import * as fc from 'fast-check';
import { allocateTokens, inArc, Ring, RING_SIZE, type RingMember } from '../src/ring/ring.js';
import { applyChanges, MembershipError, planTransfers, type MembershipChange, type TransferPlan } from '../src/membership/plan.js';
import { mulberry32 } from './random.js';

function members(count: number, zones = ['a', 'b', 'c'], vnodes = 256): RingMember[] {
  const out: RingMember[] = [];
  for (let id = 0; id < count; id++) out.push({ id, zone: zones[id % zones.length]!, tokens: allocateTokens(out, id, vnodes) });
  return out;
}

/** Every invariant a plan must keep, checked at `samples` random positions. */
function checkPlan(t: { true(v: boolean, m?: string): void; fail(m: string): void }, before: Ring, after: Ring, plan: TransferPlan, seed: number, samples = 2000): void {
  const random = mulberry32(seed);
  for (let s = 0; s < samples; s++) {
    const pos = Math.floor(random() * RING_SIZE);
    const was = before.preferenceList(pos);
    const will = after.preferenceList(pos);
    const covering = plan.transfers.filter((tr) => tr.ranges.some(([a, b]) => inArc(pos, a, b)));
    const gained = will.filter((id) => !was.includes(id));
    // exactly one transfer per gained replica, none elsewhere
    if (covering.length !== gained.length) return t.fail(`position ${pos}: ${covering.length} transfers for ${gained.length} gained replicas`);
    for (const tr of covering) {
      if (!gained.includes(tr.to)) return t.fail(`position ${pos}: transfer to ${tr.to}, which does not gain it`);
      if (!was.includes(tr.from)) return t.fail(`position ${pos}: transfer from ${tr.from}, which did not hold it`);
      const departing = was.find((id) => !after.members.has(id));
      if (departing !== undefined && tr.from !== departing) return t.fail(`position ${pos}: ${departing} leaves the cluster but ${tr.from} sends`);
      if (departing === undefined && !will.includes(tr.from) && was.some((id) => will.includes(id))) return t.fail(`position ${pos}: source ${tr.from} leaves though a replica stays`);
    }
  }
  t.true(true);
}

test('adding a sixth actor to five: every range moves to it, from a replica that keeps it, about 1/6 of replicas', (t) => {
  const five = members(5);
  const before = Ring.build(five, 3);
  const six = applyChanges(five, [{ kind: 'add', id: 5, zone: 'c' }], 256, 3);
  const after = Ring.build(six, 3);
  const plan = planTransfers(before, after);
  t.true(plan.transfers.every((tr) => tr.to === 5));
  t.true(plan.movedFraction > 0.9 / 6 && plan.movedFraction < 1.1 / 6, `${plan.movedFraction}`);
  t.true(Math.abs(plan.movedFraction - after.replicaShare(5) / 3) < 1e-9, 'what moves is exactly what the new actor holds');
  // zone-aware lists: the new zone-c actor takes zone-c actor 2's place, so the four others stream
  t.deepEqual([...new Set(plan.transfers.map((tr) => tr.from))].sort(), [0, 1, 3, 4]);
  const sent = plan.transfers.map((tr) => tr.fraction);
  t.true(Math.max(...sent) < 2 * Math.min(...sent), `the streaming load is spread: ${sent.map((f) => f.toFixed(4)).join(', ')}`);
  checkPlan(t, before, after, plan, 1);
  t.log(`adding a 6th actor moves ${(plan.movedFraction * 100).toFixed(2)}% of key replicas`);
});

test('removing an actor that is gone for good: its ranges come from the replicas that keep them, never from it', (t) => {
  const six = members(6);
  const before = Ring.build(six, 3);
  const five = applyChanges(six, [{ kind: 'remove', id: 2 }], 256, 3);
  const after = Ring.build(five, 3);
  const plan = planTransfers(before, after, () => undefined, new Set([2]));
  t.true(plan.transfers.length > 0);
  t.true(plan.transfers.every((tr) => tr.from !== 2 && tr.to !== 2), 'the gone actor sends nothing');
  const random = mulberry32(9);
  for (let s = 0; s < 2000; s++) {
    const pos = Math.floor(random() * RING_SIZE);
    const was = before.preferenceList(pos);
    const will = after.preferenceList(pos);
    for (const tr of plan.transfers.filter((x) => x.ranges.some(([a, b]) => inArc(pos, a, b)))) {
      if (!was.includes(tr.from) || !will.includes(tr.from)) return t.fail(`position ${pos}: source ${tr.from} is not a replica that keeps it`);
    }
    if (plan.transfers.filter((x) => x.ranges.some(([a, b]) => inArc(pos, a, b))).length !== will.filter((id) => !was.includes(id)).length) return t.fail(`position ${pos}: a gained replica without its transfer`);
  }
  // a segment whose every old replica is gone has no source: nothing is planned for it
  const lonely = planTransfers(before, after, () => undefined, new Set(six.map((m) => m.id)));
  t.deepEqual(lonely.transfers, []);
});

test('removing an actor moves only what it held, to the others, handed off by the leaving actor itself', (t) => {
  const six = members(6);
  const before = Ring.build(six, 3);
  const five = applyChanges(six, [{ kind: 'remove', id: 2 }], 256, 3);
  const after = Ring.build(five, 3);
  const plan = planTransfers(before, after);
  t.true(plan.transfers.every((tr) => tr.from === 2 && tr.to !== 2), 'it hands off its own data (it may hold writes nobody else has yet)');
  t.true(Math.abs(plan.movedFraction - before.replicaShare(2) / 3) < 1e-9, 'exactly the removed actor\'s replicas move');
  checkPlan(t, before, after, plan, 2);
});

test('keys and bytes are estimated from what each source holds per arc', (t) => {
  const five = members(5);
  const before = Ring.build(five, 3);
  const after = Ring.build(applyChanges(five, [{ kind: 'add', id: 5, zone: 'c' }], 256, 3), 3);
  // a uniform density: each arc holds keys in proportion to its length
  const perUnit = 1e-3;
  const arcs = before.arcs();
  const plan = planTransfers(before, after, (index) => {
    const a = arcs[index]!;
    const length = (a.end - a.start + RING_SIZE) % RING_SIZE || RING_SIZE;
    return { keys: length * perUnit, bytes: length * perUnit * 120 };
  });
  const keys = plan.transfers.reduce((s, tr) => s + tr.keys, 0);
  const expected = plan.movedFraction * RING_SIZE * 3 * perUnit;
  t.true(Math.abs(keys - expected) <= plan.transfers.length, `${keys} vs ${expected}`);
  t.true(plan.transfers.every((tr) => Math.abs(tr.bytes - tr.keys * 120) <= 120));
  t.true(planTransfers(before, after).transfers.every((tr) => tr.keys === 0 && tr.bytes === 0), 'no figures, no estimate');
});

test('an unchanged ring plans nothing; weights scale the tokens an actor gets', (t) => {
  const ring = Ring.build(members(4), 2);
  t.deepEqual(planTransfers(ring, ring), { transfers: [], movedFraction: 0 });
  const heavy = applyChanges(members(4), [{ kind: 'add', id: 9, zone: 'z', weight: 2 }], 64, 2);
  t.is(heavy.find((m) => m.id === 9)!.tokens.length, 128);
  const light = applyChanges(members(4), [{ kind: 'add', id: 9, zone: 'z', weight: 0.5 }], 64, 2);
  t.is(light.find((m) => m.id === 9)!.tokens.length, 32);
  const share = (ms: RingMember[]): number => Ring.build(ms, 2).replicaShare(9);
  t.true(share(heavy) > 1.5 * share(light));
});

test('bad changes are refused with a clear error', (t) => {
  const five = members(5);
  const bad: [MembershipChange[], RegExp][] = [
    [[], /at least one change/],
    [[{ kind: 'remove', id: 7 }], /cannot remove actor 7: not a member/],
    [[{ kind: 'add', id: 1, zone: 'a' }], /cannot add actor 1: already a member/],
    [[{ kind: 'add', id: 8, zone: '' }], /zone must be/],
    [[{ kind: 'add', id: 8, zone: 'a', weight: 0 }], /weight must be in/],
    [[{ kind: 'add', id: -1, zone: 'a' }], /actor id must be/],
    [[{ kind: 'add', id: 8, zone: 'a' }, { kind: 'add', id: 8, zone: 'b' }], /more than one change/],
    [[{ kind: 'remove', id: 0 }, { kind: 'remove', id: 1 }, { kind: 'remove', id: 2 }], /leaves 2 actors; n=3 needs at least 3/],
    [[{ kind: 'move', id: 1 } as unknown as MembershipChange], /a change is/],
  ];
  for (const [changes, message] of bad) t.throws(() => applyChanges(five, changes, 256, 3), { instanceOf: MembershipError, message });
  t.throws(() => planTransfers(Ring.build(five, 3), Ring.build(five, 2)), { instanceOf: MembershipError, message: /n must not change/ });
});

test('property: any mix of additions and removals gives a plan with one transfer per gained replica, from a holder', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 3, max: 7 }),
      fc.integer({ min: 1, max: 3 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 1, max: 1_000_000 }),
      (count, n, adds, seed) => {
        const start = members(count, ['a', 'b'], 32);
        const changes: MembershipChange[] = [];
        let nextId = count;
        const removable = start.map((m) => m.id);
        for (const add of adds) {
          if (add || removable.length - 1 < n) changes.push({ kind: 'add', id: nextId++, zone: nextId % 2 === 0 ? 'a' : 'b' });
          else changes.push({ kind: 'remove', id: removable.splice(seed % removable.length, 1)[0]! });
        }
        const before = Ring.build(start, n);
        const after = Ring.build(applyChanges(start, changes, 32, n), n);
        const plan = planTransfers(before, after);
        let ok = true;
        checkPlan({ true: () => undefined, fail: () => (ok = false) }, before, after, plan, seed, 300);
        return ok && plan.movedFraction >= 0 && plan.movedFraction <= 1;
      },
    ),
    { numRuns: 60 },
  );
  t.pass();
});
