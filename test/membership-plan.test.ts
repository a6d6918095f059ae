import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidOptionError } from '../src/index.js';
import { ringPosition } from '../src/ring/hash.js';
import { Ring } from '../src/ring/ring.js';
import { applyChanges, splitPushRanges } from '../src/membership/plan.js';
import { startCluster } from './helpers.js';

test.serial('plan(): adding an actor shows the transfers, with keys and bytes estimated from the data, and changes nothing', async (t) => {
  const c = await startCluster(t, { antiEntropyIntervalMs: 0 });
  const keys = Array.from({ length: 3000 }, (_, i) => `plan:${i}`);
  await Promise.all(keys.map((k) => c.put(k, 'x'.repeat(50), { w: 'all' })));
  const metaBefore = readFileSync(join(c.options.dataDir, 'ringkv.json'), 'utf8');
  const plan = await c.plan([{ kind: 'add' }]);
  t.is(plan.members.length, 6);
  const added = plan.members.find((m) => !c.members().some((x) => x.id === m.id))!;
  t.is(added.id, 5, 'the next actor id');
  t.true(plan.transfers.every((tr) => tr.to === added.id));
  t.true(plan.movedFraction > 0.9 / 6 && plan.movedFraction < 1.1 / 6, `${plan.movedFraction}`);
  // what would really move: each key once per replica it gains
  const after = Ring.build(applyChanges([...c.ring.members.values()], [{ kind: 'add', id: 5, zone: added.zone }], 256, 3), 3);
  let gained = 0;
  for (const k of keys) {
    const pos = ringPosition(Buffer.from(k));
    gained += after.preferenceList(pos).filter((id) => !c.ring.preferenceList(pos).includes(id)).length;
  }
  t.true(Math.abs(plan.keys - gained) <= Math.max(30, gained * 0.2), `estimated ${plan.keys} keys to move, really ${gained}`);
  t.true(plan.bytes > plan.keys * 50, 'bytes count keys and values');
  t.is(readFileSync(join(c.options.dataDir, 'ringkv.json'), 'utf8'), metaBefore, 'asking changed nothing');
  t.is(c.members().length, 5);
  t.log(`plan: add actor 5 moves ${(plan.movedFraction * 100).toFixed(2)}% of replicas: ~${plan.keys} keys (${gained} really), ~${plan.bytes} bytes in ${plan.transfers.length} transfers`);
});

test.serial('plan(): removing an actor streams only its ranges, from the actor itself; bad changes are refused', async (t) => {
  const c = await startCluster(t, { antiEntropyIntervalMs: 0 });
  const plan = await c.plan([{ kind: 'remove', id: 1 }]);
  t.true(plan.transfers.length > 0);
  t.true(plan.transfers.every((tr) => tr.from === 1 && tr.to !== 1));
  t.true(Math.abs(plan.movedFraction - c.members().find((m) => m.id === 1)!.replicaShare / 3) < 1e-9);
  await t.throwsAsync(c.plan([{ kind: 'remove', id: 9 }]), { instanceOf: InvalidOptionError, message: /cannot remove actor 9/ });
  await t.throwsAsync(c.plan([{ kind: 'remove', id: 0 }, { kind: 'remove', id: 1 }, { kind: 'remove', id: 2 }]), { instanceOf: InvalidOptionError, message: /n=3 needs at least 3/ });
  await t.throwsAsync(c.plan([{ kind: 'add', weight: -1 }]), { instanceOf: InvalidOptionError, message: /weight/ });
});

test('splitPushRanges: halves of the ranges, or of one arc at its middle (across the wrap too); one position cannot split', (t) => {
  t.deepEqual(splitPushRanges([[0, 10], [20, 30], [40, 50]]), [[[0, 10], [20, 30]], [[40, 50]]]);
  t.deepEqual(splitPushRanges([[100, 200]]), [[[100, 150]], [[150, 200]]]);
  const wrapped = splitPushRanges([[2 ** 32 - 10, 10]])!;
  t.deepEqual(wrapped, [[[2 ** 32 - 10, 0]], [[0, 10]]]);
  t.is(splitPushRanges([[5, 6]]), null);
  t.is(splitPushRanges([]), null);
});
