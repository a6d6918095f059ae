import test, { type ExecutionContext } from 'ava';
import { ActorStore } from '../src/storage/store.js';
import { tempDir } from './helpers.js';

/** A fresh store in a temp dir, closed after the test. */
function openStore(t: ExecutionContext, maxPendingWrites: number, cacheBytes = 0): ActorStore {
  const store = ActorStore.open({
    path: tempDir(t),
    mapSizeBytes: 2 ** 28,
    compressionThresholdBytes: 0,
    cacheBytes,
    maxWritesPerCommit: 1000,
    maxPendingWrites,
    sync: 'periodic',
    syncIntervalMs: 100,
  });
  t.teardown(() => store.close());
  store.claim(0, 0, false);
  return store;
}

test('the write queue is bounded: beyond maxPendingWrites a write is refused at once; what was queued commits', async (t) => {
  const store = openStore(t, 3);
  const outcomes = await Promise.all(
    Array.from({ length: 5 }, (_, i) => new Promise<Error | null>((resolve) => store.write(Buffer.from(`k${i}`), Buffer.from(`v${i}`), resolve))),
  );
  t.deepEqual(
    outcomes.map((e) => e === null),
    [true, true, true, false, false],
  );
  t.regex(outcomes[3]!.message, /maxPendingWrites/);
  t.is(store.refusedWrites, 2);
  t.is(store.pendingWrites, 0);
  t.deepEqual(store.get(Buffer.from('k2')), Buffer.from('v2'));
  t.is(store.get(Buffer.from('k3')), undefined, 'a refused write changed nothing');
  // room again once committed
  t.is(await new Promise<Error | null>((resolve) => store.write(Buffer.from('k3'), Buffer.from('v3'), resolve)), null);
});

test('the expiry index yields what is due, earliest first, from where a sweep left off, and forgets dropped entries once committed', async (t) => {
  const store = openStore(t, 100);
  const key = (name: string): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from(name)]);
  store.indexExpiry(3000, key('c'));
  store.indexExpiry(1000, key('a'));
  store.indexExpiry(2000, key('b'));
  store.indexExpiry(2000, key('b')); // the same entry twice is one entry
  store.indexExpiry(9000, key('later'));
  // index writes commit with the next lmdb-js batch: a data write after them commits no sooner
  await new Promise<Error | null>((resolve) => store.write(key('x'), Buffer.from('v'), resolve));
  const due = store.dueExpiries(5000, 10);
  t.deepEqual(due.map((e) => [e.atMs, e.key.subarray(4).toString()]), [[1000, 'a'], [2000, 'b'], [3000, 'c']]);
  t.is(store.expiryIndexCount(), 4);
  t.deepEqual(store.dueExpiries(5000, 2).map((e) => e.key.subarray(4).toString()), ['a', 'b'], 'at most limit');
  t.deepEqual(store.dueExpiries(5000, 2, due[0]!.indexKey).map((e) => e.key.subarray(4).toString()), ['b', 'c'], 'after a key, exclusive');
  t.deepEqual(store.dueExpiries(1999, 10).map((e) => e.atMs), [1000], 'nothing not yet due');
  store.dropExpiry(due[0]!.indexKey);
  await new Promise<Error | null>((resolve) => store.write(key('y'), Buffer.from('v'), resolve));
  t.deepEqual(store.dueExpiries(5000, 10).map((e) => e.atMs), [2000, 3000]);
});

test('only reads fill the cache: writes and read-merge-writes (peek) leave it empty, a read of a stored key fills it, a later write keeps it current', async (t) => {
  const store = openStore(t, 100_000, 1 << 20);
  const write = (k: string, v: string): Promise<Error | null> => new Promise((resolve) => store.write(Buffer.from(k), Buffer.from(v), resolve));
  await Promise.all(Array.from({ length: 1000 }, (_, i) => write(`k${i}`, `v${i}`)));
  // a read-merge-write of every key, as a replica merging a handoff or an anti-entropy push does
  for (let i = 0; i < 1000; i++) t.deepEqual(store.peek(Buffer.from(`k${i}`)), Buffer.from(`v${i}`));
  await Promise.all(Array.from({ length: 1000 }, (_, i) => write(`k${i}`, `w${i}`)));
  t.is(store.cachedBytes, 0, 'writes made no key hot');
  t.deepEqual(store.get(Buffer.from('k7')), Buffer.from('w7'));
  t.true(store.cachedBytes > 0, 'a read did');
  const held = store.cachedBytes;
  t.is(await write('k7', 'x7'), null);
  t.deepEqual(store.peek(Buffer.from('k7')), Buffer.from('x7'), 'the cached key was kept current');
  t.is(store.cachedBytes, held);
});
