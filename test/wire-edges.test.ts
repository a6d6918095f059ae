import test, { type ExecutionContext } from 'ava';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { startHttpServer } from '../src/server/http/server.js';
import { startRespServer } from '../src/server/resp/server.js';
import { startCluster } from './helpers.js';

const LIMITS = { maxBulkBytes: 11 * 1024, maxArgs: 1024 * 1024, maxInlineBytes: 64 * 1024, maxQueryBufferBytes: 64 * 1024 * 1024 };

/** Write raw bytes to a port and collect what comes back until the server closes the connection. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? undefined : reject(e)));
    s.write(bytes);
  });
}

function client(t: ExecutionContext, port: number): Redis {
  const r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  t.teardown(() => r.disconnect());
  return r;
}

test('RESP: reading a key that cannot exist (empty, over maxKeyBytes) answers "not there", as Redis does; writing it is still refused', async (t) => {
  const cluster = await startCluster(t, { actors: 3 });
  const server = await startRespServer(cluster, { host: '127.0.0.1', port: 0, password: null, maxClients: 10, maxPipelineDepth: 64, limits: LIMITS });
  t.teardown(() => server.close());
  const r = client(t, server.port);
  const long = 'k'.repeat(cluster.options.maxKeyBytes + 1);
  await r.set('a', 'alpha');
  t.is(await r.exists(''), 0);
  t.is(await r.exists('a', '', long), 1, 'the other keys still count');
  t.is(await r.get(''), null);
  t.is(await r.get(long), null);
  t.deepEqual(await r.mget('a', '', long), ['alpha', null, null]);
  t.is(await r.del('', long), 0);
  t.deepEqual(await r.call('RINGKV.GETALL', ''), ['']);
  await t.throwsAsync(r.set('', 'x'), { message: /ERR a key must not be empty/ });
  await t.throwsAsync(r.set(long, 'x'), { message: /ERR key is \d+ bytes, over maxKeyBytes/ });
});

test('HTTP: requests the HTTP parser refuses (huge headers, garbage) get the documented {"error":{"code","message"}} body', async (t) => {
  const cluster = await startCluster(t, { actors: 3 });
  const server = await startHttpServer(cluster, { host: '127.0.0.1', port: 0, allowedHosts: ['127.0.0.1'], bodyLimitBytes: 64 * 1024 });
  t.teardown(() => server.close());
  const cases: [string, number, string][] = [
    [`GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'x'.repeat(64 * 1024)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ['GARBAGE\r\n\r\n', 400, 'BAD_REQUEST'],
    ['GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n', 400, 'BAD_REQUEST'],
  ];
  for (const [request, status, code] of cases) {
    const reply = await raw(server.port, request);
    const [head, body] = reply.split('\r\n\r\n');
    t.regex(head!, new RegExp(`^HTTP/1\\.1 ${status} `), code);
    t.regex(head!, /content-type: application\/json/i);
    const parsed = JSON.parse(body!) as { error: { code: string; message: string } };
    t.is(parsed.error.code, code);
    t.is(typeof parsed.error.message, 'string');
    t.deepEqual(Object.keys(parsed), ['error']);
  }
  // and the server still serves
  t.is((await fetch(`http://127.0.0.1:${server.port}/kv/missing`)).status, 404);
});

test('RESP: CONFIG SET of a Redis encoding threshold is accepted and changes nothing; any other CONFIG SET is refused', async (t) => {
  const cluster = await startCluster(t, { actors: 3 });
  const server = await startRespServer(cluster, { host: '127.0.0.1', port: 0, password: null, maxClients: 10, maxPipelineDepth: 64, limits: LIMITS });
  t.teardown(() => server.close());
  const r = client(t, server.port);
  t.is(await r.call('CONFIG', 'SET', 'list-max-listpack-size', '-1'), 'OK');
  t.is(await r.call('CONFIG', 'SET', 'zset-max-ziplist-entries', '0', 'hash-max-listpack-value', '64'), 'OK');
  for (const args of [['maxmemory', '1mb'], ['list-max-listpack-size', '-1', 'appendonly', 'no'], ['list-max-listpack-size']]) {
    await t.throwsAsync(r.call('CONFIG', 'SET', ...args), { message: /CONFIG SET is not supported/ }, args.join(' '));
  }
  t.deepEqual(await r.call('CONFIG', 'GET', 'list-max-listpack-size'), []);
  await r.set('still', 'here');
  t.is(await r.get('still'), 'here', 'the connection is in sync');
});
