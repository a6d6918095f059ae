import test, { type ExecutionContext } from 'ava';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, ClusterClosedError, InvalidOptionError, type ClusterOptions } from '../src/index.js';
import { startHttpServer, type HttpServerOptions } from '../src/server/http/server.js';
import { startCluster, until } from './helpers.js';

const CTX = 'x-ringkv-context';
const BODY_LIMIT = 64 * 1024;

interface Served {
  cluster: Cluster;
  base: string;
  port: number;
}

/** A 3-actor cluster with the HTTP server on an ephemeral port; both closed when the test ends (server first). */
async function serve(t: ExecutionContext, clusterOptions: Partial<ClusterOptions> = {}, serverOptions: Partial<HttpServerOptions> = {}): Promise<Served> {
  const cluster = await startCluster(t, { actors: 3, ...clusterOptions });
  const server = await startHttpServer(cluster, {
    host: '127.0.0.1',
    port: 0,
    allowedHosts: ['127.0.0.1', 'localhost'],
    bodyLimitBytes: BODY_LIMIT,
    ...serverOptions,
  });
  t.teardown(() => server.close()); // teardowns run last-in first-out: the server closes before the cluster
  return { cluster, base: `http://127.0.0.1:${server.port}`, port: server.port };
}

interface ErrorBody {
  error: { code: string; message: string; answered?: number; needed?: number; replicas?: number; siblings?: number; maxSiblings?: number };
}

async function errorOf(res: Response): Promise<ErrorBody['error']> {
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('application/json')) throw new Error(`error reply is not JSON: ${type}`);
  return ((await res.json()) as ErrorBody).error;
}

async function put(base: string, key: string, body: RequestInit['body'], contentType?: string, context?: string, query = ''): Promise<Response> {
  const headers: Record<string, string> = {};
  if (contentType !== undefined) headers['content-type'] = contentType;
  if (context !== undefined) headers[CTX] = context;
  return fetch(`${base}/kv/${key}${query}`, { method: 'PUT', headers, ...(body !== undefined && { body }) });
}

/** A request with a chosen Host header (fetch does not let a caller set Host). */
function rawRequest(port: number, options: { method?: string; path: string; headers?: Record<string, string | number>; body?: Buffer | string }): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

test.serial('JSON, text and bytes round-trip with their Content-Type and a context header', async (t) => {
  const { base, cluster } = await serve(t);
  const json = { name: 'ada', tags: ['x', 'y'], nested: { n: 1.5, ok: true, nothing: null } };
  const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13]);

  let res = await put(base, 'doc', JSON.stringify(json), 'application/json');
  t.is(res.status, 204);
  t.regex(res.headers.get(CTX) ?? '', /^[A-Za-z0-9_-]+$/);
  res = await put(base, 'text', 'héllo wörld ✓', 'text/plain; charset=utf-8');
  t.is(res.status, 204);
  res = await put(base, 'bin', bytes, 'application/octet-stream');
  t.is(res.status, 204);
  res = await put(base, 'nobody-type', new Uint8Array([7, 8, 9])); // no Content-Type: bytes
  t.is(res.status, 204);
  res = await put(base, 'image', bytes, 'image/png'); // any other type: bytes
  t.is(res.status, 204);
  res = await put(base, 'number', '42', 'application/json');
  t.is(res.status, 204);
  res = await put(base, 'markdown', '# title', 'text/markdown');
  t.is(res.status, 204);

  res = await fetch(`${base}/kv/doc`);
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'application/json; charset=utf-8');
  t.truthy(res.headers.get(CTX));
  t.deepEqual(await res.json(), json);

  res = await fetch(`${base}/kv/text`);
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  t.is(await res.text(), 'héllo wörld ✓');

  res = await fetch(`${base}/kv/bin`);
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'application/octet-stream');
  t.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);

  res = await fetch(`${base}/kv/nobody-type`);
  t.is(res.headers.get('content-type'), 'application/octet-stream');
  t.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from([7, 8, 9]));
  res = await fetch(`${base}/kv/image`);
  t.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
  res = await fetch(`${base}/kv/number`);
  t.is(await res.json(), 42);
  res = await fetch(`${base}/kv/markdown`);
  t.is(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  t.is(await res.text(), '# title');

  // The server stores what the library API reads back as the same types.
  t.deepEqual((await cluster.get('doc')).values, [json]);
  t.deepEqual((await cluster.get('text')).values, ['héllo wörld ✓']);
  t.deepEqual((await cluster.get('bin')).values, [bytes]);

  // HEAD answers like GET without the body; r, timeoutMs and strict=true are accepted.
  res = await fetch(`${base}/kv/doc`, { method: 'HEAD' });
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'application/json; charset=utf-8');
  res = await fetch(`${base}/kv/doc?r=all&timeoutMs=2000&strict=true`);
  t.is(res.status, 200);
  res = await fetch(`${base}/kv/doc?r=1`);
  t.is(res.status, 200);
  res = await put(base, 'doc', '[]', 'application/json', undefined, '?w=quorum&timeoutMs=2000&strict=true');
  t.is(res.status, 204);
});

test.serial('keys are percent-decoded path segments: UTF-8, reserved characters and binary', async (t) => {
  const { base, cluster } = await serve(t);
  const cases: [string, string | Buffer][] = [
    [encodeURIComponent('ключ ✓'), 'ключ ✓'],
    [encodeURIComponent('a/b?c#d%e'), 'a/b?c#d%e'],
    ['plus+sign', 'plus+sign'],
    ['%00%FF%fe', Buffer.from([0x00, 0xff, 0xfe])],
  ];
  for (const [i, [path, key]] of cases.entries()) {
    const res = await put(base, path, `value ${i}`, 'text/plain');
    t.is(res.status, 204, path);
    t.deepEqual((await cluster.get(key)).values, [`value ${i}`], path);
    const back = await fetch(`${base}/kv/${path}`);
    t.is(back.status, 200, path);
    t.is(await back.text(), `value ${i}`, path);
  }
  // Hex digits in either case name the same bytes.
  t.is(await (await fetch(`${base}/kv/%00%ff%FE`)).text(), 'value 3');
  // Malformed percent-encoding, an empty key, an over-long key: 400 INVALID_KEY.
  for (const path of ['bad%ZZ', 'bad%4', '', 'k'.repeat(1025)]) {
    const res = await fetch(`${base}/kv/${path}`);
    t.is(res.status, 400, path);
    t.is((await errorOf(res)).code, 'INVALID_KEY', path);
  }
  // A key is one segment: an unencoded '/' is another path.
  const res = await fetch(`${base}/kv/a/b`);
  t.is(res.status, 404);
  t.is((await errorOf(res)).code, 'NO_ROUTE');
});

test.serial('two PUTs from the same context give 300 with both siblings; a PUT with its context resolves them', async (t) => {
  const { base } = await serve(t);
  let res = await put(base, 'user', 'first', 'text/plain');
  const ctx0 = res.headers.get(CTX)!;
  t.truthy(ctx0);
  res = await put(base, 'user', JSON.stringify({ name: 'ada' }), 'application/json', ctx0);
  t.is(res.status, 204);
  res = await put(base, 'user', Buffer.from([1, 2, 3]), 'application/octet-stream', ctx0);
  t.is(res.status, 204);

  res = await fetch(`${base}/kv/user`);
  t.is(res.status, 300);
  t.is(res.headers.get('content-type'), 'application/json; charset=utf-8');
  const ctx300 = res.headers.get(CTX)!;
  t.truthy(ctx300);
  const body = (await res.json()) as { siblings: { type: string; value: unknown }[] };
  t.is(body.siblings.length, 2);
  const sorted = [...body.siblings].sort((a, b) => a.type.localeCompare(b.type));
  t.deepEqual(sorted, [
    { type: 'bytes', value: Buffer.from([1, 2, 3]).toString('base64') },
    { type: 'json', value: { name: 'ada' } },
  ]);

  res = await put(base, 'user', 'resolved', 'text/plain', ctx300);
  t.is(res.status, 204);
  res = await fetch(`${base}/kv/user`);
  t.is(res.status, 200);
  t.is(await res.text(), 'resolved');

  // A string sibling is listed as { type: 'string' }.
  const ctx = res.headers.get(CTX)!;
  await put(base, 'user', 'left', 'text/plain', ctx);
  await put(base, 'user', 'right', 'text/plain', ctx);
  res = await fetch(`${base}/kv/user`);
  t.is(res.status, 300);
  const strings = ((await res.json()) as { siblings: { type: string; value: unknown }[] }).siblings;
  t.deepEqual(strings.map((s) => s.type), ['string', 'string']);
  t.deepEqual(strings.map((s) => s.value).sort(), ['left', 'right']);
});

test.serial('DELETE gives 204; a deleted key is 404 with its context, a never-written one 404 without', async (t) => {
  const { base } = await serve(t);
  let res = await fetch(`${base}/kv/never`);
  t.is(res.status, 404);
  t.is(res.headers.get(CTX), null);
  t.deepEqual(await errorOf(res), { code: 'NOT_FOUND', message: 'key not found' });

  res = await put(base, 'gone', 'soon', 'text/plain');
  const ctx = res.headers.get(CTX)!;
  res = await fetch(`${base}/kv/gone`, { method: 'DELETE', headers: { [CTX]: ctx } });
  t.is(res.status, 204);
  t.truthy(res.headers.get(CTX));

  res = await fetch(`${base}/kv/gone?r=all`);
  t.is(res.status, 404);
  t.is((await errorOf(res)).code, 'NOT_FOUND');
  const deletedCtx = res.headers.get(CTX);
  t.truthy(deletedCtx);

  // Writing with the 404's context supersedes the tombstone: one value, no siblings.
  res = await put(base, 'gone', 'back', 'text/plain', deletedCtx!);
  t.is(res.status, 204);
  res = await fetch(`${base}/kv/gone`);
  t.is(res.status, 200);
  t.is(await res.text(), 'back');

  // DELETE accepts w, timeoutMs and strict=true like PUT.
  res = await fetch(`${base}/kv/gone?w=all&timeoutMs=2000&strict=true`, { method: 'DELETE', headers: { [CTX]: res.headers.get(CTX)! } });
  t.is(res.status, 204);
});

test.serial('bad input is 400 with a JSON error naming its code', async (t) => {
  const { base } = await serve(t);
  await put(base, 'k', 'v', 'text/plain');
  const cases: [string, RequestInit, string][] = [
    ['/kv/k?r=abc', {}, 'INVALID_OPTION'],
    ['/kv/k?r=', {}, 'INVALID_OPTION'],
    ['/kv/k?r=-1', {}, 'INVALID_OPTION'],
    ['/kv/k?r=0', {}, 'IMPOSSIBLE_QUORUM'],
    ['/kv/k?r=4', {}, 'IMPOSSIBLE_QUORUM'],
    ['/kv/k?r=1&r=2', {}, 'INVALID_OPTION'],
    ['/kv/k?w=2', {}, 'INVALID_OPTION'], // w is for writes
    ['/kv/k?timeoutMs=soon', {}, 'INVALID_OPTION'],
    ['/kv/k?timeoutMs=0', {}, 'INVALID_OPTION'],
    ['/kv/k?consistency=all', {}, 'INVALID_OPTION'],
    ['/kv/k?strict=yes', {}, 'INVALID_OPTION'],
    ['/kv/k?r=2', { method: 'PUT', body: 'x' }, 'INVALID_OPTION'], // r is for reads
    ['/kv/k?w=all&strict=maybe', { method: 'PUT', body: 'x' }, 'INVALID_OPTION'],
    ['/kv/k?w=9', { method: 'PUT', body: 'x' }, 'IMPOSSIBLE_QUORUM'],
    ['/kv/k?w=one&strict=0', { method: 'DELETE' }, 'INVALID_OPTION'],
    ['/kv/k', { method: 'PUT', body: '{"a":', headers: { 'content-type': 'application/json' } }, 'INVALID_VALUE'],
    ['/kv/k', { method: 'PUT', body: '', headers: { 'content-type': 'application/json' } }, 'INVALID_VALUE'],
    ['/kv/k', { method: 'PUT', body: Buffer.from([0xc3, 0x28]), headers: { 'content-type': 'text/plain' } }, 'INVALID_VALUE'],
    ['/kv/k', { method: 'PUT', body: 'x', headers: { [CTX]: 'not a context!' } }, 'INVALID_CONTEXT'],
    ['/kv/k', { method: 'DELETE', headers: { [CTX]: 'AAAA' } }, 'INVALID_CONTEXT'],
    ['/status?verbose=1', {}, 'INVALID_OPTION'],
    ['/metrics?x=1', {}, 'INVALID_OPTION'],
  ];
  for (const [path, init, code] of cases) {
    const res = await fetch(base + path, init);
    t.is(res.status, 400, `${init.method ?? 'GET'} ${path}`);
    const error = await errorOf(res);
    t.is(error.code, code, `${init.method ?? 'GET'} ${path}`);
    t.true(error.message.length > 0);
  }
  const strict = await errorOf(await fetch(`${base}/kv/k?strict=yes`));
  t.regex(strict.message, /strict must be 'true' or 'false'/);
  t.is((await fetch(`${base}/kv/k?strict=false`)).status, 200);
  const unknown = await errorOf(await fetch(`${base}/kv/k?consistency=all`));
  t.regex(unknown.message, /unknown query parameter 'consistency'/);
  // None of the refused writes changed the key.
  t.is(await (await fetch(`${base}/kv/k`)).text(), 'v');

  // Other statuses of the HTTP layer.
  let res = await fetch(`${base}/kv/k`, { method: 'POST', body: 'x' });
  t.is(res.status, 405);
  t.is(res.headers.get('allow'), 'GET, HEAD, PUT, DELETE');
  t.is((await errorOf(res)).code, 'METHOD_NOT_ALLOWED');
  res = await fetch(`${base}/nothing/here`);
  t.is(res.status, 404);
  t.is((await errorOf(res)).code, 'NO_ROUTE');
  res = await fetch(`${base}/kv/k`, { method: 'PUT', body: 'x', headers: { 'content-type': 'text/plain; charset=latin1' } });
  t.is(res.status, 415);
  t.is((await errorOf(res)).code, 'UNSUPPORTED_MEDIA_TYPE');
});

test.serial('oversized pairs and bodies are 413 and store nothing', async (t) => {
  const { base, cluster } = await serve(t, { maxPairBytes: 4096 }, { bodyLimitBytes: 16 * 1024 });
  let res = await put(base, 'big', 'x'.repeat(5000), 'text/plain');
  t.is(res.status, 413);
  const pairError = await errorOf(res);
  t.is(pairError.code, 'PAIR_TOO_LARGE');
  t.regex(pairError.message, /nothing was written/);
  t.false((await cluster.get('big')).found);

  res = await put(base, 'huge', Buffer.alloc(32 * 1024, 1), 'application/octet-stream');
  t.is(res.status, 413);
  t.is((await errorOf(res)).code, 'BODY_TOO_LARGE');
  t.false((await cluster.get('huge')).found);

  // Just under both limits is fine.
  res = await put(base, 'fits', 'x'.repeat(4000), 'text/plain');
  t.is(res.status, 204);
  t.is((await (await fetch(`${base}/kv/fits`)).text()).length, 4000);
});

test.serial('a Host header outside allowedHosts is refused before any route runs', async (t) => {
  const { port, cluster } = await serve(t);
  for (const host of ['evil.example', 'evil.example:80', `127.0.0.2:${port}`, 'localhost.evil.example']) {
    const res = await rawRequest(port, { method: 'PUT', path: '/kv/rebind', headers: { host, 'content-type': 'text/plain' }, body: 'pwned' });
    t.is(res.status, 421, host);
    t.is((JSON.parse(res.body) as ErrorBody).error.code, 'HOST_NOT_ALLOWED', host);
  }
  t.false((await cluster.get('rebind')).found);
  // Even for paths the router refuses, and before a too-large body is read.
  let res = await rawRequest(port, { path: '/x%FF', headers: { host: 'evil.example' } });
  t.is(res.status, 421);
  res = await rawRequest(port, { path: '/status', headers: { host: 'evil.example' } });
  t.is(res.status, 421);
  res = await rawRequest(port, { method: 'PUT', path: '/kv/rebind', headers: { host: 'evil.example' }, body: Buffer.alloc(BODY_LIMIT * 2) });
  t.is(res.status, 421);

  // Allowed names match whatever the port and case.
  for (const host of [`127.0.0.1:${port}`, `LocalHost:${port}`, 'localhost']) {
    res = await rawRequest(port, { method: 'PUT', path: '/kv/ok', headers: { host, 'content-type': 'text/plain' }, body: host });
    t.is(res.status, 204, host);
  }
});

test.serial('503 with the counts when a quorum cannot be reached; /status and /metrics show the actor down', async (t) => {
  const { base, cluster } = await serve(t);
  const ctx = (await put(base, 'k', 'v', 'text/plain')).headers.get(CTX)!;
  await cluster.faults.kill(1);

  let res = await fetch(`${base}/kv/k?r=all&timeoutMs=300`);
  t.is(res.status, 503);
  let error = await errorOf(res);
  t.is(error.code, 'QUORUM_NOT_REACHED');
  t.is(error.needed, 3);
  t.is(error.replicas, 3);
  t.true(typeof error.answered === 'number' && error.answered < 3);

  res = await put(base, 'k', 'w', 'text/plain', ctx, '?w=all&timeoutMs=300');
  t.is(res.status, 503);
  error = await errorOf(res);
  t.is(error.code, 'QUORUM_NOT_REACHED');
  t.is(error.needed, 3);

  // The default quorum (2 of 3) still answers. With 3 actors there is no sloppy substitute for
  // the dead one, so the W=3 write was refused before anything was written.
  res = await fetch(`${base}/kv/k`);
  t.is(res.status, 200);
  t.is(await res.text(), 'v');

  res = await fetch(`${base}/status`);
  t.is(res.status, 200);
  const status = (await res.json()) as { health: string; actors: { id: number; status: string }[] };
  t.is(status.health, 'degraded');
  t.is(status.actors.find((a) => a.id === 1)?.status, 'down');

  const metrics = await (await fetch(`${base}/metrics`)).text();
  t.regex(metrics, /ringkv_actor_up\{actor="1",zone="default"\} 0/);
  t.regex(metrics, /ringkv_actor_up\{actor="0",zone="default"\} 1/);
  t.regex(metrics, /ringkv_requests_total\{front_end="http",operation="get",outcome="quorum_not_reached"\} [1-9]/);
});

test.serial('409 for too many siblings; 503 with Retry-After when overloaded', async (t) => {
  const { base, cluster } = await serve(t, { maxSiblings: 1, maxPendingRequests: 1 });
  let res = await put(base, 'k', 'one', 'text/plain');
  t.is(res.status, 204);
  res = await put(base, 'k', 'two', 'text/plain', undefined, '?sibling=true'); // a blind sibling: would be a second sibling
  t.is(res.status, 409);
  const error = await errorOf(res);
  t.is(error.code, 'TOO_MANY_SIBLINGS');
  t.is(error.siblings, 2);
  t.is(error.maxSiblings, 1);
  t.is(await (await fetch(`${base}/kv/k`)).text(), 'one');

  // One request parked on an unreachable quorum fills maxPendingRequests: the next is refused.
  await cluster.faults.kill(2);
  const parked = fetch(`${base}/kv/k?r=all&timeoutMs=1500`);
  await sleep(300);
  res = await fetch(`${base}/kv/k`);
  t.is(res.status, 503);
  t.is(res.headers.get('retry-after'), '1');
  t.is((await errorOf(res)).code, 'OVERLOADED');
  t.is((await parked).status, 503);
});

test.serial('/status lists the ring, every actor with its stats, and the health', async (t) => {
  const { base, cluster } = await serve(t);
  for (let i = 0; i < 20; i++) await put(base, `key-${i}`, String(i), 'text/plain');
  for (let i = 0; i < 5; i++) await fetch(`${base}/kv/key-${i}`);
  // W=2 acknowledges before the third replica commits: on a loaded machine it can still be behind
  await until(t, 'every replica committed', async () => (await cluster.stats()).every((s) => s.keys === 20));
  const res = await fetch(`${base}/status`);
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'application/json; charset=utf-8');
  const status = (await res.json()) as {
    health: string;
    ring: { n: number; actors: number; vnodes: number };
    actors: { id: number; zone: string; tokens: number; replicaShare: number; status: string; keys: number; coordinated: { get: number; put: number } }[];
    reads: { direct: number; coordinated: number };
    statsAvailable: boolean;
  };
  t.is(status.health, 'ok');
  t.true(status.statsAvailable);
  t.deepEqual(status.ring, { n: 3, actors: 3, vnodes: 3 * 256 });
  t.deepEqual(
    status.actors.map((a) => [a.id, a.zone, a.tokens, a.status]),
    [
      [0, 'default', 256, 'up'],
      [1, 'default', 256, 'up'],
      [2, 'default', 256, 'up'],
    ],
  );
  for (const a of status.actors) {
    t.is(a.replicaShare, 1); // n = actors: every actor holds every key
    t.is(a.keys, 20);
  }
  t.is(status.actors.reduce((sum, a) => sum + a.coordinated.put, 0), 20);
  // a healthy cluster serves reads on the main thread (direct reads): no actor coordinates them
  t.is(status.actors.reduce((sum, a) => sum + a.coordinated.get, 0), 0);
  t.like(status.reads, { direct: 5, coordinated: 0 });
});

test.serial('/metrics exposes request counters, latencies and per-actor series', async (t) => {
  const { base } = await serve(t);
  for (let i = 0; i < 10; i++) await put(base, `m-${i}`, String(i), 'text/plain');
  for (let i = 0; i < 10; i++) await fetch(`${base}/kv/m-${i}`);
  await fetch(`${base}/kv/missing`);
  await fetch(`${base}/kv/m-0?r=zzz`);
  const res = await fetch(`${base}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  t.regex(text, /# TYPE ringkv_requests_total counter/);
  t.regex(text, /ringkv_requests_total\{front_end="http",operation="put",outcome="ok"\} \d+/);
  t.regex(text, /ringkv_requests_total\{front_end="http",operation="get",outcome="not_found"\} \d+/);
  t.regex(text, /ringkv_requests_total\{front_end="http",operation="get",outcome="invalid_option"\} \d+/);
  t.regex(text, /ringkv_request_duration_seconds_bucket\{le="0.005",front_end="http",operation="get"\} \d+/);
  for (const actor of ['0', '1', '2']) {
    t.regex(text, new RegExp(`ringkv_actor_keys\\{actor="${actor}"\\} 10\\b`));
    t.regex(text, new RegExp(`ringkv_actor_up\\{actor="${actor}",zone="default"\\} 1\\b`));
    t.regex(text, new RegExp(`ringkv_actor_coordinated_requests_total\\{actor="${actor}",operation="put"\\} \\d+`));
    t.regex(text, new RegExp(`ringkv_actor_read_repairs_total\\{actor="${actor}"\\} \\d+`));
    t.regex(text, new RegExp(`ringkv_actor_lmdb_commits_total\\{actor="${actor}"\\} [1-9]\\d*`));
    t.regex(text, new RegExp(`ringkv_actor_event_loop_utilization\\{actor="${actor}"\\} (0|1|0\\.\\d+)\\b`));
    t.regex(text, new RegExp(`ringkv_actor_anti_entropy_keys_sent_total\\{actor="${actor}"\\} \\d+`));
  }
  t.regex(text, /ringkv_actor_stats_available 1/);
  t.regex(text, /ringkv_hedged_reads \d+/);
  const coordinatedPuts = [...text.matchAll(/ringkv_actor_coordinated_requests_total\{actor="\d",operation="put"\} (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  t.is(coordinatedPuts, 10);
});

test.serial('errors other than RingkvError are 500; a closed cluster is 503', async (t) => {
  const broken = {
    get: () => Promise.reject(new Error('disk on fire')),
    put: () => Promise.reject(new ClusterClosedError()),
    members: () => [],
    stats: () => Promise.resolve([]),
    n: 3,
  } as unknown as Cluster;
  const server = await startHttpServer(broken, { host: '127.0.0.1', port: 0, allowedHosts: ['127.0.0.1'], bodyLimitBytes: 1024 });
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;
  let res = await fetch(`${base}/kv/k`);
  t.is(res.status, 500);
  t.deepEqual(await errorOf(res), { code: 'INTERNAL', message: 'disk on fire' });
  res = await put(base, 'k', 'v', 'text/plain');
  t.is(res.status, 503);
  t.is((await errorOf(res)).code, 'CLUSTER_CLOSED');
});

test.serial('startHttpServer validates its options; close() stops listening and is idempotent', async (t) => {
  const cluster = {} as Cluster;
  const good: HttpServerOptions = { host: '127.0.0.1', port: 0, allowedHosts: ['127.0.0.1'], bodyLimitBytes: 1024 };
  for (const bad of [{ port: -1 }, { port: 70000 }, { host: '' }, { allowedHosts: [] }, { bodyLimitBytes: 0 }]) {
    await t.throwsAsync(startHttpServer(cluster, { ...good, ...bad }), { instanceOf: InvalidOptionError }, JSON.stringify(bad));
  }
  const server = await startHttpServer(cluster, good);
  t.true(server.port > 0);
  await server.close();
  await server.close();
  await t.throwsAsync(fetch(`http://127.0.0.1:${server.port}/status`));
});

test.serial('PUT ?ttlMs= writes a value that expires: GET shows when, then 404; a bad ttlMs is a 400 and writes nothing', async (t) => {
  const { base } = await serve(t);
  const before = Date.now();
  t.is((await put(base, 'ttl', 'brief', 'text/plain', undefined, '?ttlMs=300')).status, 204);
  const res = await fetch(`${base}/kv/ttl`);
  t.is(res.status, 200);
  t.is(await res.text(), 'brief');
  const at = Number(res.headers.get('x-ringkv-expires-at'));
  t.true(at >= before + 300 && at <= Date.now() + 300);
  t.is((await put(base, 'kept', 'v', 'text/plain')).status, 204);
  t.is((await fetch(`${base}/kv/kept`)).headers.get('x-ringkv-expires-at'), null, 'no expiry, no header');
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now()) + 50));
  t.is((await fetch(`${base}/kv/ttl`)).status, 404);
  for (const bad of ['?ttlMs=0', '?ttlMs=-1', '?ttlMs=soon', '?ttlMs=99999999999999999']) {
    const r = await put(base, 'bad', 'v', 'text/plain', undefined, bad);
    t.is(r.status, 400, bad);
    t.is((await errorOf(r)).code, 'INVALID_OPTION');
  }
  t.is((await fetch(`${base}/kv/bad`)).status, 404);
  t.is((await fetch(`${base}/kv/kept?ttlMs=5`, { method: 'DELETE' })).status, 400, 'a delete takes no ttlMs');
});
