import test from 'ava';
import { Redis } from 'ioredis';
import { OverloadedError, type Cluster } from '../src/index.js';
import { startRespServer } from '../src/server/resp/server.js';
import { ringPosition } from '../src/ring/hash.js';
import { startCluster, until } from './helpers.js';

// A busy actor is not a dead one: suspicion (gossip heard late) must never fail a request by itself.

function keyCoordinatedBy(c: Cluster, coordinator: number): string {
  for (let i = 0; ; i++) {
    const k = `busy-${i}`;
    if (c.ring.preferenceList(ringPosition(Buffer.from(k)))[0] === coordinator) return k;
  }
}

const statsOf = async (c: Cluster, id: number) => (await c.stats()).find((s) => s.id === id)!;

test.serial('a coordinator that merely suspects its replicas still sends to them: the write waits for their late acks instead of failing at once', async (t) => {
  const c = await startCluster(t, { gossipIntervalMs: 25, failAfterMs: 400, timeoutMs: 15_000, antiEntropyIntervalMs: 0, handoffIntervalMs: 60_000 });
  const coordinator = 0;
  // Everything the others send to the coordinator (gossip and acks) arrives 3 s late: alive, only slow.
  for (const peer of [1, 2, 3, 4]) await c.faults.delay(peer, coordinator, 3000);
  await until(t, 'the coordinator suspects all its peers', async () => (await statsOf(c, coordinator)).suspects.length === 4, 10_000);
  const key = keyCoordinatedBy(c, coordinator);
  const started = Date.now();
  const put = await c.put(key, 'late but fine', { via: coordinator, w: 2 }).then(
    () => 'ok',
    (e: Error) => `${e.name}: ${e.message}`,
  );
  t.is(put, 'ok', 'suspicion alone must not refuse the write');
  t.true(Date.now() - started >= 1000, 'it was answered by the delayed acks, not at once');
  const got = await c.get(key, { via: coordinator, r: 2 }).then(
    (r) => r.values,
    (e: Error) => `${e.name}: ${e.message}`,
  );
  t.deepEqual(got, ['late but fine']);
  await c.faults.heal();
});

test.serial('an actor whose own loop froze for 3 s convicts nobody when it wakes; the others still see it down meanwhile', async (t) => {
  const c = await startCluster(t, { antiEntropyIntervalMs: 0 });
  const observer = 1;
  await until(t, 'everyone up', () => c.members().every((m) => m.status === 'up'));
  const before = await statsOf(c, observer);
  c.faults.pause(observer, 3000);
  const detectedMs = await until(t, 'the frozen actor is seen down', () => c.members().find((m) => m.id === observer)!.status === 'down', 10_000);
  t.true(detectedMs < 4000 + 1000, `detected after ${detectedMs} ms`);
  await until(t, 'it is up again', () => c.members().find((m) => m.id === observer)!.status === 'up', 10_000);
  // a few gossip rounds after waking
  await new Promise((r) => setTimeout(r, 1500));
  const after = await statsOf(c, observer);
  t.true(after.localStalls > before.localStalls, 'it noticed its own stall');
  t.is(after.suspicionsRaised, before.suspicionsRaised, 'it suspected nobody when it woke');
  t.deepEqual(after.suspects, []);
});

test.serial('backpressure: coordinators with a standing queue refuse new work at once (OverloadedError, RESP -BUSY), and take it again once they answer', async (t) => {
  const c = await startCluster(t, { actors: 3, overloadTargetMs: 100, overloadIntervalMs: 200, timeoutMs: 8000, antiEntropyIntervalMs: 0, failAfterMs: 10_000 });
  const server = await startRespServer(c, { host: '127.0.0.1', port: 0, password: null, maxClients: 10, maxPipelineDepth: 64, limits: { maxBulkBytes: 11 * 1024, maxArgs: 1024, maxInlineBytes: 64 * 1024, maxQueryBufferBytes: 1024 * 1024 } });
  t.teardown(() => server.close());
  // every actor's loop stops for 2.5 s (3 actors, N=3: every key's replicas): what was sent waits, unanswered
  for (const id of [0, 1, 2]) c.faults.pause(id, 2500);
  const queued = Array.from({ length: 30 }, (_, i) => c.put(`queued-${i}`, i).then(() => 'ok', (e: Error) => e.name));
  // probes: one admitted waits with the rest; the test looks only for an immediate refusal
  const probes: Promise<unknown>[] = [];
  await until(t, 'the front end sees standing queues', async () => {
    const probe = c.put(`probe-${probes.length}`, 'probe');
    probes.push(probe.catch(() => undefined));
    const e = await Promise.race([probe.then(() => null, (x: Error) => x), new Promise((r) => setTimeout(() => r(null), 20))]);
    return e instanceof OverloadedError && /overloadTargetMs/.test(e.message);
  }, 5000);
  t.true(c.refusedRequests.tooSlow > 0);
  // over RESP the same refusal is -BUSY
  const redis = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 0 });
  t.teardown(() => redis.disconnect());
  const busy = await redis.set('k', 'x').then(() => 'OK', (e: Error) => e.message);
  t.regex(busy, /^BUSY /);
  // nothing that was admitted failed: the queued writes complete once the actors run again
  t.deepEqual(await Promise.all(queued), Array(30).fill('ok'));
  await Promise.all(probes);
  await until(t, 'work is taken again', async () => (await c.put('k', 'after').then(() => true, () => false)), 5000);
  t.deepEqual((await c.get('k')).values, ['after']);
});

test.serial('a pause after a heal pauses again, and is detected like the first (heal used to leave every signal set)', async (t) => {
  const c = await startCluster(t, { gossipIntervalMs: 25, failAfterMs: 400, antiEntropyIntervalMs: 0 });
  const status = (id: number) => c.members().find((m) => m.id === id)!.status;
  for (const id of [1, 2, 1]) {
    c.faults.pause(id, 5000);
    await until(t, `actor ${id} seen down`, () => status(id) === 'down', 6000);
    await c.faults.heal();
    await until(t, 'everyone up after the heal', () => c.members().every((m) => m.status === 'up'), 6000);
  }
  t.pass();
});

test('callers that retry a refused request at once, with no pause, still finish: a refusal arrives after the replies already waiting', async (t) => {
  // room for 4 requests: most of the 64 callers are refused on every try until some answers are read
  const c = await startCluster(t, { maxPendingRequests: 4, antiEntropyIntervalMs: 0 });
  let refused = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < 500) {
        const i = next++;
        for (;;) {
          try {
            await c.put(`tight:${i}`, 'v');
            break;
          } catch (err) {
            if (!(err instanceof OverloadedError)) throw err;
            refused++; // and straight back in: a refusal delivered as a microtask would loop here forever
          }
        }
      }
    }),
  );
  t.true(refused > 0, 'the bound did refuse');
  t.true((await c.get('tight:499')).found);
});
