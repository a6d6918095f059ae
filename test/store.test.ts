import test from 'ava';
import { ActorStore } from '../src/storage/store.js';
import { tempDir } from './helpers.js';

test('the write queue is bounded: beyond maxPendingWrites a write is refused at once; what was queued commits', async (t) => {
  const store = ActorStore.open({
    path: tempDir(t),
    mapSizeBytes: 2 ** 28,
    compressionThresholdBytes: 0,
    cacheBytes: 0,
    maxWritesPerCommit: 1000,
    maxPendingWrites: 3,
    sync: 'periodic',
    syncIntervalMs: 100,
  });
  t.teardown(() => store.close());
  store.claim(0, 0, false);
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
