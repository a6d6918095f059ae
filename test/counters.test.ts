import test from 'ava';
import { Redis } from 'ioredis';
import { Cluster, CounterOverflowError, InvalidOptionError, InvalidValueError, NotACounterError } from '../src/index.js';
import { ringPosition } from '../src/ring/hash.js';
import { startHttpServer } from '../src/server/http/server.js';
import { startRespServer } from '../src/server/resp/server.js';
import { startCluster, until } from './helpers.js';

const LIMITS = { maxBulkBytes: 11 * 1024, maxArgs: 1024 * 1024, maxInlineBytes: 64 * 1024, maxQueryBufferBytes: 64 * 1024 * 1024, maxDiscardBulkBytes: 4 * 1024 * 1024 };

const preferenceOf = (c: Cluster, key: string): readonly number[] => c.ring.preferenceList(ringPosition(Buffer.from(key)));

test.serial('increment: a missing key starts at 0, reads back as a number, and bad input is refused with nothing written', async (t) => {
  const c = await startCluster(t, { actors: 3 });
  t.deepEqual(await c.increment('hits', 1).then((r) => r.value), 1);
  t.is((await c.increment('hits', 41)).value, 42);
  t.is((await c.increment('hits', -50)).value, -8);
  t.deepEqual((await c.get('hits')).values, [-8]);
  await t.throwsAsync(c.increment('hits', 1.5), { instanceOf: InvalidValueError });
  await t.throwsAsync(c.increment('hits', Number.MAX_SAFE_INTEGER + 1), { instanceOf: InvalidValueError });
  await t.throwsAsync(c.increment('hits', Number.NaN, { float: true }), { instanceOf: InvalidValueError });
  await t.throwsAsync(c.increment('hits', 1, { context: 'x' } as never), { instanceOf: InvalidOptionError });
  await t.throwsAsync(c.increment('hits', Number.MAX_SAFE_INTEGER), { instanceOf: CounterOverflowError });
  t.deepEqual((await c.get('hits')).values, [-8], 'a refused increment changed nothing');
  // a plain value holding an integer becomes the counter's base; any other value is refused
  await c.put('ten', '10');
  t.is((await c.increment('ten', 1)).value, 11);
  await c.put('word', 'abc');
  const e = await t.throwsAsync(c.increment('word', 1), { instanceOf: NotACounterError });
  t.is(e?.message, 'value is not an integer or out of range');
  t.deepEqual((await c.get('word')).values, ['abc']);
  // floats: INCRBYFLOAT semantics; INCR of a fractional counter is refused
  t.is((await c.increment('f', 10.5, { float: true })).value, 10.5);
  t.is((await c.increment('f', 0.1, { float: true })).value, 10.6);
  await t.throwsAsync(c.increment('f', 1), { instanceOf: NotACounterError });
  // a put replaces a counter (Redis SET); a delete deletes it and the next increment starts at 0
  await c.put('hits', 'x');
  t.deepEqual((await c.get('hits')).values, ['x']);
  await c.delete('hits');
  t.is((await c.increment('hits', 3)).value, 3);
});

test.serial('increments coordinated on both sides of a partition all count after heal', async (t) => {
  const c = await startCluster(t, { actors: 5, gossipIntervalMs: 25, failAfterMs: 400, timeoutMs: 1000 });
  const key = 'split-counter';
  const [a, b, d] = preferenceOf(c, key) as [number, number, number];
  t.is((await c.increment(key, 100, { w: 'all' })).value, 100);
  const others = [0, 1, 2, 3, 4].filter((id) => id !== a);
  await c.faults.partition([a], others);
  // W=1: each side acknowledges on its own; a counts alone, b and d on theirs
  let minority = 0;
  let majority = 0;
  for (let i = 0; i < 20; i++) {
    await c.increment(key, 1, { via: a, w: 1 });
    minority += 1;
    await c.increment(key, 2, { via: i % 2 === 0 ? b : d, w: 1 });
    majority += 2;
  }
  const seenByA = (await c.increment(key, 0, { via: a, w: 1 })).value;
  t.is(seenByA, 100 + minority, 'the cut-off side counts only its own increments');
  await c.faults.heal();
  await until(t, 'everyone up', () => c.members().every((m) => m.status === 'up'));
  await c.repair();
  const expected = 100 + minority + majority;
  for (const via of [a, b, d]) t.deepEqual((await c.get(key, { r: 'all', via })).values, [expected], `read via ${via}`);
  t.is((await c.increment(key, 1, { via: a })).value, expected + 1, 'the next increment builds on every one');
  t.is((await c.compareReplicas()).divergent.length, 0);
});

test.serial('a replica killed mid-load loses no acknowledged increment', async (t) => {
  const c = await startCluster(t, { actors: 4, gossipIntervalMs: 25, failAfterMs: 400, timeoutMs: 1500 });
  const key = 'kill-counter';
  const [victim] = preferenceOf(c, key) as [number];
  let acked = 0;
  let ambiguous = 0;
  let stop = false;
  const worker = async (by: number): Promise<void> => {
    while (!stop) {
      try {
        await c.increment(key, by);
        acked += by;
      } catch {
        ambiguous += by; // a failed increment may or may not have been applied
      }
    }
  };
  const workers = [worker(1), worker(2), worker(3)];
  await until(t, 'load running', () => acked > 200, 20_000);
  await c.faults.kill(victim);
  const atKill = acked;
  await until(t, 'load goes on without the victim', () => acked > atKill + 200, 20_000);
  await c.faults.restart(victim);
  const atRestart = acked;
  await until(t, 'load goes on after the restart', () => acked > atRestart + 200, 20_000);
  stop = true;
  await Promise.all(workers);
  await c.repair();
  const [final] = (await c.get(key, { r: 'all' })).values as [number];
  t.true(final >= acked, `final ${final} counts every acknowledged increment (${acked})`);
  t.true(final <= acked + ambiguous, `final ${final} counts nothing that was never sent (acked ${acked} + ambiguous ${ambiguous})`);
});

test.serial('RESP: INCR family, GET of a counter, INCR of "10", Redis error texts (ioredis)', async (t) => {
  const cluster = await startCluster(t, { actors: 3 });
  const server = await startRespServer(cluster, { host: '127.0.0.1', port: 0, password: null, maxClients: 10, maxPipelineDepth: 4096, limits: LIMITS });
  t.teardown(() => server.close());
  const r = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
  t.teardown(() => r.disconnect());
  t.is(await r.incr('n'), 1);
  t.is(await r.incrby('n', 10), 11);
  t.is(await r.decr('n'), 10);
  t.is(await r.decrby('n', 20), -10);
  t.is(await r.decrby('n', -3), -7);
  t.is(await r.get('n'), '-7', 'GET of a counter answers its value as Redis does');
  t.is(await r.set('s', '10'), 'OK');
  t.is(await r.incr('s'), 11);
  t.is(await r.get('s'), '11');
  await r.set('big', '17179869184');
  t.is(await r.incrby('big', 17179869184), 34359738368);
  await r.set('word', 'abc');
  await t.throwsAsync(r.incr('word'), { message: 'ERR value is not an integer or out of range' });
  t.is(await r.get('word'), 'abc', 'the refused INCR changed nothing');
  await r.set('half', '1.5');
  await t.throwsAsync(r.incr('half'), { message: 'ERR value is not an integer or out of range' });
  await t.throwsAsync(r.incrby('n', '1.5'), { message: 'ERR value is not an integer or out of range' });
  await t.throwsAsync(r.incrby('n', '9223372036854775807'), { message: 'ERR increment or decrement would overflow' });
  await t.throwsAsync(r.decrby('n', '-9223372036854775808'), { message: 'ERR decrement would overflow' });
  await r.set(' sp', '    11');
  await t.throwsAsync(r.incr(' sp'), { message: /^ERR / });
  // INCRBYFLOAT
  t.is(await r.incrbyfloat('fl', 1), '1');
  t.is(await r.incrbyfloat('fl', 0.25), '1.25');
  t.is(await r.get('fl'), '1.25');
  t.is(await r.incrbyfloat('half', 1.5), '3');
  t.is(await r.incr('half'), 4, 'a fractional value that came back to an integer counts again');
  await r.set('one', '1');
  t.is(await r.incrbyfloat('one', -1.1), '-0.10000000000000009');
  await t.throwsAsync(r.incrbyfloat('word', 1), { message: 'ERR value is not a valid float' });
  await t.throwsAsync(r.incrbyfloat('fl', 'abc'), { message: 'ERR value is not a valid float' });
  await t.throwsAsync(r.incrbyfloat('fl', '+inf'), { message: 'ERR increment would produce NaN or Infinity' });
  await r.del('z');
  await r.incrbyfloat('z', 1 / 41);
  t.is(await r.incrbyfloat('z', -1 / 41), '0', 'no negative zero');
  // SET over a counter replaces it
  t.is(await r.set('n', 'fresh'), 'OK');
  t.is(await r.get('n'), 'fresh');
  await t.throwsAsync(r.incr('n'), { message: 'ERR value is not an integer or out of range' });
  await t.throwsAsync(r.call('incr') as Promise<unknown>, { message: /wrong number of arguments/ });
});

test.serial('HTTP: POST /kv/:key/increment?by=N answers the new value; bad input is a typed 4xx', async (t) => {
  const cluster = await startCluster(t, { actors: 3 });
  const server = await startHttpServer(cluster, { host: '127.0.0.1', port: 0, allowedHosts: ['127.0.0.1'], bodyLimitBytes: 64 * 1024 });
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;
  const post = (path: string): Promise<Response> => fetch(`${base}${path}`, { method: 'POST' });
  let res = await post('/kv/visits/increment?by=5');
  t.is(res.status, 200);
  t.deepEqual(await res.json(), { value: 5 });
  res = await post('/kv/visits/increment?by=-2&w=all');
  t.deepEqual(await res.json(), { value: 3 });
  res = await post('/kv/visits/increment?by=0.5&float=true');
  t.deepEqual(await res.json(), { value: 3.5 });
  res = await fetch(`${base}/kv/visits`);
  t.is(await res.text(), '3.5');
  res = await post('/kv/visits/increment?by=1.5');
  t.is(res.status, 400);
  t.is(((await res.json()) as { error: { code: string } }).error.code, 'INVALID_VALUE');
  res = await post('/kv/visits/increment');
  t.is(res.status, 400);
  await fetch(`${base}/kv/name`, { method: 'PUT', body: 'abc', headers: { 'content-type': 'text/plain' } });
  res = await post('/kv/name/increment?by=1');
  t.is(res.status, 409);
  t.is(((await res.json()) as { error: { code: string } }).error.code, 'NOT_A_COUNTER');
});
