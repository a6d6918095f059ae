import test from 'ava';
import { FORWARD_OP, OpTable } from '../src/actor/op-table.js';

interface Put {
  readonly kind: 'put';
  readonly name: string;
}
interface Get {
  readonly kind: 'get';
  readonly name: string;
}
interface Push {
  readonly kind: 'push';
  readonly name: string;
}
interface Handoff {
  readonly kind: 'handoff';
  readonly name: string;
}
type Owner = Put | Get | Push | Handoff;

function table() {
  const ops = new OpTable<Owner>(3);
  const acks: string[] = [];
  const receiver = { acked: (op: number, owner: { name: string }, from: number, ok: boolean) => acks.push(`${owner.name}#${op} from ${from} ${ok}`) };
  ops.routeAcksTo({ put: receiver, push: receiver, handoff: receiver });
  return { ops, acks, puts: ops.view('put'), gets: ops.view('get'), pushes: ops.view('push'), handoffs: ops.view('handoff') };
}

test('ops are unique across kinds, and never the forwarded-write op', (t) => {
  const { puts, gets, pushes, handoffs } = table();
  const seen = new Set<number>();
  for (let i = 0; i < 50; i++) {
    for (const op of [puts.add({ kind: 'put', name: 'p' }), gets.add({ kind: 'get', name: 'g' }), pushes.add({ kind: 'push', name: 's' }), handoffs.add({ kind: 'handoff', name: 'h' })]) {
      t.false(seen.has(op));
      t.not(op, FORWARD_OP);
      seen.add(op);
    }
  }
});

test('an ack goes to the job that owns its op; a forwarded write, a get and a closed op are ignored', (t) => {
  const { ops, acks, puts, gets, pushes, handoffs } = table();
  const p = puts.add({ kind: 'put', name: 'put' });
  const g = gets.add({ kind: 'get', name: 'get' });
  const s = pushes.add({ kind: 'push', name: 'push' });
  const h = handoffs.add({ kind: 'handoff', name: 'handoff' });
  ops.ack(h, 1, true);
  ops.ack(s, 2, false);
  ops.ack(p, 3, true);
  ops.ack(g, 4, true);
  ops.ack(FORWARD_OP, 5, true);
  pushes.delete(s);
  ops.ack(s, 2, true);
  t.deepEqual(acks, [`handoff#${h} from 1 true`, `push#${s} from 2 false`, `put#${p} from 3 true`]);
});

test('a view sees its own kind only; requests are counted and listed in the order they began', (t) => {
  const { ops, puts, gets, pushes } = table();
  const p1 = puts.add({ kind: 'put', name: 'p1' });
  const g1 = gets.add({ kind: 'get', name: 'g1' });
  pushes.add({ kind: 'push', name: 's1' });
  const p2 = puts.add({ kind: 'put', name: 'p2' });
  t.is(puts.get(g1), undefined);
  t.is(gets.get(g1)?.name, 'g1');
  t.is(ops.requestCount, 3, 'background ops are not requests');
  t.deepEqual([...ops.openRequests()].map(([op, o]) => [op, o.name]), [[p1, 'p1'], [g1, 'g1'], [p2, 'p2']]);
  puts.delete(p1);
  ops.clearRequests();
  t.is(ops.requestCount, 0);
});

test('dropWhere forgets the picked ops of one kind only', (t) => {
  const { ops, acks, pushes, handoffs } = table();
  const a = pushes.add({ kind: 'push', name: 'a' });
  const b = pushes.add({ kind: 'push', name: 'b' });
  const h = handoffs.add({ kind: 'handoff', name: 'h' });
  pushes.dropWhere((o) => o.name === 'a');
  ops.ack(a, 1, true);
  ops.ack(b, 1, true);
  pushes.dropWhere(() => true);
  ops.ack(h, 1, true);
  t.deepEqual(acks, [`b#${b} from 1 true`, `h#${h} from 1 true`]);
});

test('an owner of another kind is refused', (t) => {
  const { puts } = table();
  t.throws(() => puts.add({ kind: 'get', name: 'x' } as unknown as Put));
});

test("a run's ops are its own: another run of the same actor never hands out one of them", (t) => {
  const first = new OpTable<Owner>(3);
  const second = new OpTable<Owner>(4);
  const ops = (table: OpTable<Owner>) => [table.view('put').add({ kind: 'put', name: 'p' }), table.view('push').add({ kind: 'push', name: 's' })];
  const a = ops(first);
  const b = ops(second);
  t.true(a.every((op) => op > 3 * 2 ** 32 && op < 4 * 2 ** 32));
  t.true(b.every((op) => op > 4 * 2 ** 32 && op < 5 * 2 ** 32));
});
