import test, { type ExecutionContext } from 'ava';
import { ActorStore } from '../src/storage/store.js';
import { tempDir } from './helpers.js';

/** A fresh store in a temp dir, closed after the test. */
function openStore(t: ExecutionContext, maxPendingWrites: number, cacheBytes = 0, maxBackgroundWritesPerCommit?: number, maxWritesPerCommit = 1000): ActorStore {
  const store = ActorStore.open({
    path: tempDir(t),
    mapSizeBytes: 2 ** 28,
    compressionThresholdBytes: 0,
    cacheBytes,
    maxWritesPerCommit,
    ...(maxBackgroundWritesPerCommit === undefined ? {} : { maxBackgroundWritesPerCommit }),
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

/** Write and resolve with the order the callback ran in. */
function writeTracked(store: ActorStore, order: string[], key: string, value: string | null, background: boolean): Promise<Error | null> {
  return new Promise((resolve) =>
    store.write(
      Buffer.from(key),
      value === null ? null : Buffer.from(value),
      (err) => {
        order.push(`${key}=${value}`);
        resolve(err);
      },
      background,
    ),
  );
}

test('foreground writes commit before background writes queued earlier; a commit carries at most maxBackgroundWritesPerCommit of those', async (t) => {
  const store = openStore(t, 10_000, 0, 4);
  const order: string[] = [];
  const writes: Promise<Error | null>[] = [];
  for (let i = 0; i < 10; i++) writes.push(writeTracked(store, order, `bg${i}`, 'v', true));
  writes.push(writeTracked(store, order, 'fg', 'v', false));
  t.deepEqual(await Promise.all(writes), Array(11).fill(null));
  t.is(order[0], 'fg=v', 'the foreground write went first though queued last');
  t.deepEqual(order.slice(1), Array.from({ length: 10 }, (_, i) => `bg${i}=v`), 'the background lane keeps its order');
  t.is(store.commits, 3, 'fg + 4 background, then 4, then 2');
  t.is(store.committedWrites, 11);
});

test('writes to one key commit in the order they were made, whichever lane: a foreground write behind a queued background one joins its lane', async (t) => {
  const store = openStore(t, 10_000, 0, 2);
  const order: string[] = [];
  const writes: Promise<Error | null>[] = [];
  for (let i = 0; i < 6; i++) writes.push(writeTracked(store, order, `bg${i}`, 'v', true));
  writes.push(writeTracked(store, order, 'k', 'old', true)); // a handoff entry for k, queued behind six others
  writes.push(writeTracked(store, order, 'k', 'new', false)); // then a request's write to k
  writes.push(writeTracked(store, order, 'other', 'v', false));
  t.deepEqual(await Promise.all(writes), Array(9).fill(null));
  t.true(order.indexOf('k=old') < order.indexOf('k=new'));
  t.is(order[0], 'other=v', 'an unrelated foreground write still goes first');
  t.deepEqual(store.get(Buffer.from('k')), Buffer.from('new'), 'the later write is what is stored');
  // and a background write behind a queued foreground one commits after it
  const more: Promise<Error | null>[] = [writeTracked(store, order, 'j', 'fg', false), writeTracked(store, order, 'j', 'bg', true)];
  await Promise.all(more);
  t.deepEqual(store.get(Buffer.from('j')), Buffer.from('bg'));
});

test('a busy foreground does not starve background writes: every commit carries some', async (t) => {
  const store = openStore(t, 100_000, 0, 8);
  const order: string[] = [];
  const background = Array.from({ length: 16 }, (_, i) => writeTracked(store, order, `bg${i}`, 'v', true));
  // foreground writes keep arriving, a full commit's worth each turn
  let rounds = 0;
  const foreground: Promise<Error | null>[] = [];
  await new Promise<void>((resolve) => {
    const more = (): void => {
      for (let i = 0; i < 1000; i++) foreground.push(writeTracked(store, order, `fg${rounds}-${i}`, 'v', false));
      if (++rounds < 4) setImmediate(more);
      else resolve();
    };
    more();
  });
  t.deepEqual(await Promise.all(background), Array(16).fill(null));
  await Promise.all(foreground);
  t.true(order.indexOf('bg15=v') < order.indexOf('fg3-999=v'), 'the background writes committed while the foreground kept coming');
});

test('a background write to a key whose foreground write waits behind a full commit joins the foreground lane: it never overtakes it', async (t) => {
  const store = openStore(t, 10_000, 0, 4, 2);
  const order: string[] = [];
  const writes = ['a', 'b', 'c'].map((k) => writeTracked(store, order, k, 'v', false));
  writes.push(writeTracked(store, order, 'k', 'request', false)); // fourth in the foreground lane: two commits away
  writes.push(writeTracked(store, order, 'k', 'stream', true)); // merged over it, so it must land after it
  t.deepEqual(await Promise.all(writes), Array(5).fill(null));
  t.true(order.indexOf('k=request') < order.indexOf('k=stream'));
  t.deepEqual(store.get(Buffer.from('k')), Buffer.from('stream'));
});
