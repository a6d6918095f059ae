import test from 'ava';
import { seededRandom } from '../src/runtime/services.js';
import { ringKey } from '../src/storage/keys.js';
import { claimWriterId, expiryKey, hintKey, StorageError } from '../src/storage/replica-store.js';
import { MemoryStore, SimDisk } from '../src/sim/memory-store.js';
import { NodeTimers } from '../src/sim/node-timers.js';
import { NUMBERS_PER_RUN, RunNumbers } from '../src/actor/incarnation.js';
import { VirtualTime } from '../src/sim/virtual-time.js';

const OPTIONS = { maxPendingWrites: 4, maxWritesPerCommit: 2, commitDelayMaxMs: 3 };

function node(disk = new SimDisk(), options = OPTIONS) {
  const time = new VirtualTime(1_000_000);
  const timers = new NodeTimers(time);
  return { time, timers, disk, store: new MemoryStore(disk, timers, seededRandom(1), options) };
}

const key = (k: string): Buffer => ringKey(Buffer.from(k));

test('a write is acknowledged only once committed; reads see it at once, range reads only once committed', (t) => {
  const { time, store, disk } = node();
  const acks: string[] = [];
  store.write(key('a'), Buffer.from('1'), (err) => acks.push(`a:${String(err)}`));
  t.deepEqual(store.get(key('a')), Buffer.from('1'), 'the overlay: a read-merge-write sees the pending write');
  t.is(store.range(0, 2 ** 32).length, 0, 'not committed: range reads do not see it');
  t.is(disk.data.size, 0);
  t.deepEqual(acks, []);
  time.runUntil(10);
  t.deepEqual(acks, ['a:null']);
  t.is(store.range(0, 2 ** 32).length, 1);
  t.is(store.count(), 1);
});

test('a crash loses what was not committed and keeps what was; the next run on the disk takes a new writer id', (t) => {
  const { time, timers, store, disk } = node();
  t.is(store.claim(3, 10, false), 10);
  store.write(key('kept'), Buffer.from('1'), () => undefined);
  time.runUntil(10);
  let lostAcked = false;
  store.write(key('lost'), Buffer.from('2'), () => (lostAcked = true));
  timers.kill(); // the crash: nothing this node scheduled runs
  time.runUntil(100);
  t.false(lostAcked);
  t.deepEqual([...disk.data.keys()].map((k) => Buffer.from(k, 'latin1').subarray(4).toString()), ['kept']);
  const again = node(disk).store;
  t.is(again.claim(3, 11, true), 11, 'an unclean stop: events of the last run may be on other replicas only');
  t.false(again.recovering);
});

test('a clean close keeps the writer id; a wiped disk where data was expected is recovering until repaired', async (t) => {
  const { store, disk } = node();
  t.is(store.claim(1, 5, false), 5);
  store.write(key('x'), Buffer.from('1'), () => undefined);
  await store.close();
  t.is(disk.data.size, 1, 'close commits what was queued');
  t.is(node(disk).store.claim(1, 6, true), 5);
  const wiped = node().store;
  t.is(wiped.claim(1, 7, true), 7);
  t.true(wiped.recovering);
  wiped.markRecovered();
  t.false(wiped.recovering);
});

test('group commits carry at most maxWritesPerCommit; beyond maxPendingWrites a write is refused at once', (t) => {
  const { time, store } = node();
  const results: (Error | null)[] = [];
  for (let i = 0; i < 5; i++) store.write(key(`k${i}`), Buffer.from('v'), (err) => results.push(err));
  t.is(results.length, 1, 'the fifth is refused synchronously');
  t.true(results[0] instanceof StorageError);
  t.is(store.pendingWrites, 4);
  time.runUntil(50);
  t.is(store.commits, 2);
  t.is(store.committedWrites, 4);
  t.is(store.pendingWrites, 0);
});

test('committed() waits for the pending write of the key, or the next turn', (t) => {
  const { time, store } = node();
  const order: string[] = [];
  store.committed(key('none'), () => order.push('none'));
  store.write(key('a'), Buffer.from('1'), () => order.push('write'));
  store.committed(key('a'), () => order.push('committed'));
  t.deepEqual(order, [], 'never synchronously');
  time.runUntil(10);
  t.deepEqual(order, ['none', 'write', 'committed']);
});

test('hints and the expiry index: overlay counts, committed order, resume after a key', (t) => {
  const { time, store } = node();
  store.writeHint(hintKey(2, key('a')), Buffer.from('h'), () => undefined);
  t.is(store.hintCount(), 1);
  t.deepEqual(store.getHint(hintKey(2, key('a'))), Buffer.from('h'));
  t.deepEqual(store.hintEntries(10), [], 'committed hints only');
  time.runUntil(10);
  t.is(store.hintEntries(10).length, 1);
  store.writeHint(hintKey(2, key('a')), null, () => undefined);
  t.is(store.hintCount(), 0);
  store.indexExpiry(300, key('late'));
  store.indexExpiry(100, key('early'));
  time.runUntil(20);
  const due = store.dueExpiries(200, 10);
  t.deepEqual(due.map((d) => d.key.subarray(4).toString()), ['early']);
  t.deepEqual(store.dueExpiries(1000, 10, expiryKey(100, key('early'))).map((d) => d.atMs), [300]);
  store.dropExpiry(due[0]!.indexKey);
  time.runUntil(30);
  t.is(store.expiryIndexCount(), 1);
});

test('claimWriterId: the env must be this layout and this actor', (t) => {
  const meta = { layoutVersion: 2, actorId: 4, writerId: 9, recovering: false, uncleanShutdown: false };
  t.deepEqual(claimWriterId(meta, 2, 4, 12, true, 'here'), { kind: 'existing', writerId: 9, recovering: false, writerIdChanged: false });
  t.deepEqual(claimWriterId({ ...meta, uncleanShutdown: true }, 2, 4, 12, true, 'here'), { kind: 'existing', writerId: 12, recovering: false, writerIdChanged: true });
  t.deepEqual(claimWriterId({ layoutVersion: undefined, actorId: undefined, writerId: undefined, recovering: undefined, uncleanShutdown: false }, 2, 4, 12, true, 'here'), { kind: 'new', writerId: 12, recovering: true });
  t.throws(() => claimWriterId(meta, 3, 4, 12, true, 'here'), { instanceOf: StorageError, message: /layout version 2, this build reads 3/ });
  t.throws(() => claimWriterId(meta, 2, 5, 12, true, 'here'), { instanceOf: StorageError, message: /belongs to actor 4, not 5/ });
  t.throws(() => claimWriterId({ ...meta, writerId: -1 }, 2, 4, 12, true, 'here'), { instanceOf: StorageError, message: /no valid writer id/ });
});

test('NodeTimers: a killed node runs nothing it scheduled, whatever the kind', (t) => {
  const time = new VirtualTime(0);
  const timers = new NodeTimers(time);
  const ran: string[] = [];
  timers.setTimeout(() => ran.push('timeout'), 5);
  timers.setInterval(() => ran.push('interval'), 3);
  time.runUntil(4);
  timers.setImmediate(() => ran.push('immediate'));
  timers.kill();
  time.runUntil(100);
  t.deepEqual(ran, ['interval']);
  t.is(time.pending, 0, 'its timers are cancelled, not left to fire as no-ops');
});

test('RunNumbers: each run of an actor numbers its requests in its own block, so an answer meant for an earlier run matches nothing', (t) => {
  const first = new RunNumbers(7);
  const second = new RunNumbers(8);
  const a = [first.take(), first.take()];
  const b = [second.take(), second.take()];
  t.deepEqual(a, [7 * NUMBERS_PER_RUN + 1, 7 * NUMBERS_PER_RUN + 2]);
  t.deepEqual(b, [8 * NUMBERS_PER_RUN + 1, 8 * NUMBERS_PER_RUN + 2]);
  t.true(new RunNumbers(0).take() > 0, 'op 0 stays the number that matches nothing (forwarded writes)');
  t.throws(() => new RunNumbers(-1));
  t.throws(() => new RunNumbers(2 ** 21 + 1), undefined, 'numbers must stay within the wire varint (2^53)');
});
