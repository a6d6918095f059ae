import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { byteRange } from '../src/server/resp/string-commands.js';
import { startRespServer, type RespServer } from '../src/server/resp/server.js';
import { startCluster } from './helpers.js';

const LIMITS = { maxBulkBytes: 11 * 1024, maxArgs: 1024 * 1024, maxInlineBytes: 64 * 1024, maxQueryBufferBytes: 64 * 1024 * 1024 };

async function serve(t: ExecutionContext, options: { allowFlush?: boolean; dbsize?: 'estimate' | 'exact' } = {}): Promise<{ server: RespServer; r: Redis }> {
  const cluster = await startCluster(t, { actors: 3 });
  const server = await startRespServer(cluster, { host: '127.0.0.1', port: 0, password: null, maxClients: 10, maxPipelineDepth: 4096, limits: LIMITS, ...options });
  t.teardown(() => server.close());
  const r = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
  t.teardown(() => r.disconnect());
  return { server, r };
}

test('GETRANGE offsets are clamped as Redis clamps them', (t) => {
  const v = Buffer.from('Hello World');
  const cases: [number, number, string][] = [
    [0, 3, 'Hell'],
    [-3, -1, 'rld'],
    [0, -1, 'Hello World'],
    [10, 100, 'd'],
    [0, -100, 'H'], // end before the start clamps to 0, as Redis does
    [5, 3, ''],
    [-1, -5, ''],
    [100, 200, ''],
  ];
  for (const [start, end, expected] of cases) t.is(byteRange(v, start, end).toString(), expected, `${start} ${end}`);
  t.is(byteRange(Buffer.alloc(0), 0, -1).length, 0);
});

test.serial('string commands that read then write: SETNX, GETSET, GETDEL, APPEND, STRLEN, GETRANGE/SUBSTR, UNLINK, TYPE, TOUCH', async (t) => {
  const { r } = await serve(t);
  t.is(await r.setnx('a', '1'), 1);
  t.is(await r.setnx('a', '2'), 0);
  t.is(await r.get('a'), '1');
  t.is(await r.getset('a', '3'), '1');
  t.is(await r.get('a'), '3');
  t.is(await r.getset('fresh', 'x'), null);
  t.is(await r.append('s', 'Hello'), 5);
  t.is(await r.append('s', ' World'), 11);
  t.is(await r.strlen('s'), 11);
  t.is(await r.strlen('missing'), 0);
  t.is(await r.getrange('s', 0, 4), 'Hello');
  t.is(await r.call('SUBSTR', 's', '-5', '-1'), 'World');
  t.is(await r.getrange('missing', 0, -1), '');
  t.is(await r.type('s'), 'string');
  t.is(await r.type('missing'), 'none');
  t.is(await r.touch('s', 'a', 'missing'), 2);
  t.is(await r.getdel('s'), 'Hello World');
  t.is(await r.get('s'), null);
  t.is(await r.getdel('s'), null);
  t.is(await r.unlink('a', 'fresh', 'missing'), 2);
  t.is(await r.exists('a', 'fresh'), 0);
  await t.throwsAsync(r.call('GETRANGE', 's', 'x', '1'), { message: /ERR .*not an integer/ });
  await t.throwsAsync(r.call('SETNX', 'a'), { message: /wrong number of arguments/ });
});

test.serial('KEYS, RANDOMKEY and an exact DBSIZE walk the live keys; FLUSHALL is refused unless allowed', async (t) => {
  const { r } = await serve(t, { dbsize: 'exact' });
  for (let i = 0; i < 30; i++) await r.set(`user:${i}`, 'v');
  await r.set('other', 'v');
  await r.del('user:0');
  const keys = (await r.keys('user:*')).sort();
  t.is(keys.length, 29);
  t.false(keys.includes('user:0'), 'a deleted key is not listed');
  t.deepEqual(await r.keys('other'), ['other']);
  t.deepEqual(await r.keys('nomatch*'), []);
  t.is(await r.dbsize(), 30, 'exact: live keys, not stored entries over n');
  const random = await r.randomkey();
  t.true(random !== null && (random === 'other' || keys.includes(random)));
  await t.throwsAsync(r.flushall(), { message: /--allow-flush/ });
  t.is(await r.dbsize(), 30, 'a refused FLUSHALL deleted nothing');
});

test.serial('FLUSHALL and FLUSHDB delete every key when the server allows them', async (t) => {
  const { r } = await serve(t, { allowFlush: true, dbsize: 'exact' });
  for (let i = 0; i < 50; i++) await r.set(`k${i}`, 'v');
  t.is(await r.flushall(), 'OK');
  t.is(await r.dbsize(), 0);
  t.deepEqual(await r.keys('*'), []);
  t.is(await r.randomkey(), null);
  await r.set('again', 'v');
  t.is(await r.flushdb('ASYNC'), 'OK');
  t.is(await r.get('again'), null);
  await t.throwsAsync(r.call('FLUSHALL', 'NOW'), { message: /syntax error/ });
  t.is(await r.call('FUNCTION', 'FLUSH'), 'OK', 'no server-side functions: nothing to flush');
});

test.serial('expiry over RESP: SET EX/PX/EXAT/PXAT/KEEPTTL, SETEX, PSETEX, EXPIRE* with NX|XX|GT|LT, TTL/PTTL/EXPIRETIME/PEXPIRETIME, PERSIST, GETEX', async (t) => {
  const { r } = await serve(t);
  t.is(await r.set('a', 'v', 'EX', 100), 'OK');
  t.is(await r.ttl('a'), 100);
  const pttl = await r.pttl('a');
  t.true(pttl > 99_000 && pttl <= 100_000);
  t.is(await r.ttl('missing'), -2);
  await r.set('plain', 'p');
  t.is(await r.ttl('plain'), -1);
  t.is(await r.call('EXPIRETIME', 'plain'), -1);
  const at = Math.floor(Date.now() / 1000) + 500;
  t.is(await r.set('b', 'v', 'EXAT', at), 'OK');
  t.is(await r.call('EXPIRETIME', 'b'), at);
  t.is(await r.call('PEXPIRETIME', 'b'), at * 1000);
  t.is(await r.set('b', 'w', 'KEEPTTL'), 'OK');
  t.is(await r.call('EXPIRETIME', 'b'), at, 'KEEPTTL keeps it');
  t.is(await r.get('b'), 'w');
  t.is(await r.set('b', 'x'), 'OK');
  t.is(await r.ttl('b'), -1, 'a plain SET clears it, as in Redis');
  t.is(await r.setex('c', 50, 'v'), 'OK');
  t.is(await r.ttl('c'), 50);
  t.is(await r.psetex('d', 50_000, 'v'), 'OK');
  t.is(await r.ttl('d'), 50);
  // EXPIRE and its conditions: no expiry counts as infinite for GT/LT
  t.is(await r.expire('plain', 100, 'XX'), 0);
  t.is(await r.expire('plain', 100, 'GT'), 0);
  t.is(await r.expire('plain', 100, 'NX'), 1);
  t.is(await r.expire('plain', 200, 'NX'), 0);
  t.is(await r.expire('plain', 50, 'GT'), 0);
  t.is(await r.expire('plain', 300, 'GT'), 1);
  t.is(await r.expire('plain', 400, 'LT'), 0);
  t.is(await r.expire('plain', 10, 'LT'), 1);
  t.is(await r.ttl('plain'), 10);
  t.is(await r.get('plain'), 'p', 'the value is kept');
  t.is(await r.expire('missing', 10), 0);
  await t.throwsAsync(r.call('EXPIRE', 'plain', '10', 'NX', 'XX'), { message: /NX and XX, GT or LT options at the same time are not compatible/ });
  await t.throwsAsync(r.call('EXPIRE', 'plain', 'soon'), { message: /not an integer/ });
  t.is(await r.persist('plain'), 1);
  t.is(await r.ttl('plain'), -1);
  t.is(await r.persist('plain'), 0);
  t.is(await r.pexpireat('plain', Date.now() + 60_000), 1);
  t.true((await r.pttl('plain')) > 50_000);
  // GETEX
  t.is(await r.getex('plain', 'PERSIST'), 'p');
  t.is(await r.ttl('plain'), -1);
  t.is(await r.getex('plain', 'EX', 30), 'p');
  t.is(await r.ttl('plain'), 30);
  t.is(await r.getex('missing', 'EX', 30), null);
  // an expiry in the past deletes, as Redis does; short ones run out
  t.is(await r.expire('plain', -1), 1);
  t.is(await r.get('plain'), null);
  t.is(await r.set('short', 'v', 'PX', 150), 'OK');
  t.is(await r.get('short'), 'v');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(await r.get('short'), null);
  t.is(await r.exists('short'), 0);
  t.is(await r.ttl('short'), -2);
  // bad input: Redis's texts, and nothing written
  await t.throwsAsync(r.set('e', 'v', 'EX', 'x'), { message: /not an integer/ });
  await t.throwsAsync(r.set('e', 'v', 'EX', -5), { message: /invalid expire time in 'set' command/ });
  await t.throwsAsync(r.call('SET', 'e', 'v', 'EX', '10', 'PX', '10'), { message: /syntax error/ });
  await t.throwsAsync(r.call('SET', 'e', 'v', 'KEEPTTL', 'EX', '10'), { message: /syntax error/ });
  await t.throwsAsync(r.setex('e', 0, 'v'), { message: /invalid expire time in 'setex' command/ });
  t.is(await r.exists('e'), 0);
});

test.serial('a RESP GET the direct path cannot serve is routed to a coordinator once (counted once, by its reason)', async (t) => {
  const cluster = await startCluster(t, { actors: 3, directReads: false });
  const server = await startRespServer(cluster, { host: '127.0.0.1', port: 0, password: null, maxClients: 10, maxPipelineDepth: 4096, limits: LIMITS });
  t.teardown(() => server.close());
  const r = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
  t.teardown(() => r.disconnect());
  await r.set('k', 'v');
  const before = cluster.readPaths();
  t.is(await r.get('k'), 'v');
  const after = cluster.readPaths();
  t.is(after.coordinated - before.coordinated, 1);
  t.is(after.coordinatedBy.disabled - before.coordinatedBy.disabled, 1);
  t.is(after.direct, before.direct);
});
