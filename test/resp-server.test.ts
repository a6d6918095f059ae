import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { Cluster } from '../src/index.js';
import { startRespServer, type RespServer } from '../src/server/resp/server.js';
import { startCluster } from './helpers.js';

const run = promisify(execFile);

const LIMITS = { maxBulkBytes: 11 * 1024, maxArgs: 1024 * 1024, maxInlineBytes: 64 * 1024, maxQueryBufferBytes: 64 * 1024 * 1024, maxDiscardBulkBytes: 4 * 1024 * 1024 };

async function serve(t: ExecutionContext, options: { password?: string; cluster?: Cluster; maxClients?: number } = {}): Promise<{ cluster: Cluster; server: RespServer }> {
  const cluster = options.cluster ?? (await startCluster(t, { actors: 3 }));
  const server = await startRespServer(cluster, { host: '127.0.0.1', port: 0, password: options.password ?? null, maxClients: options.maxClients ?? 100, maxPipelineDepth: 4096, limits: LIMITS });
  t.teardown(() => server.close());
  return { cluster, server };
}

function client(t: ExecutionContext, port: number, extra: Record<string, unknown> = {}): Redis {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 3, ...extra });
  t.teardown(() => r.disconnect());
  return r;
}

/** Send raw bytes, collect everything the server sends until it closes the connection (or timeoutMs). */
function raw(port: number, bytes: string | Buffer, timeoutMs = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: false });
    }, timeoutMs);
    s.on('data', (c) => chunks.push(c));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: true });
    });
    s.on('error', () => undefined);
    s.write(bytes);
  });
}

test.serial('ioredis: strings, binary values, DEL, EXISTS, MGET, MSET, SET NX/XX/GET', async (t) => {
  const { server } = await serve(t);
  const r = client(t, server.port);
  t.is(await r.ping(), 'PONG');
  t.is(await r.echo('hi'), 'hi');
  t.is(await r.set('a', 'alpha'), 'OK');
  t.is(await r.get('a'), 'alpha');
  const bin = Buffer.from([0, 255, 13, 10, 1]);
  await r.set(Buffer.from('bin\r\nkey'), bin);
  t.deepEqual(await r.getBuffer(Buffer.from('bin\r\nkey')), bin);
  t.is(await r.get('missing'), null);
  t.is(await r.mset('m1', 'one', 'm2', 'two'), 'OK');
  t.deepEqual(await r.mget('m1', 'missing', 'm2'), ['one', null, 'two']);
  t.is(await r.exists('m1', 'm2', 'missing'), 2);
  t.is(await r.del('m1', 'missing'), 1);
  t.is(await r.exists('m1'), 0);
  t.is(await r.set('a', 'nope', 'NX'), null);
  t.is(await r.set('fresh', 'yes', 'NX'), 'OK');
  t.is(await r.set('absent', 'x', 'XX'), null);
  t.is(await r.set('a', 'beta', 'XX', 'GET'), 'alpha');
  t.is(await r.get('a'), 'beta');
  t.is(await r.select(0), 'OK');
  await t.throwsAsync(r.select(1), { message: /DB index is out of range/ });
  await t.throwsAsync(r.set('k', 'v', 'EX', 0), { message: /invalid expire time in 'set' command/ });
  t.true((await r.dbsize()) >= 3);
  t.is(await r.client('SETNAME', 'tester'), 'OK');
  t.is(await r.client('GETNAME'), 'tester');
  t.regex(String(await r.info('ringkv_ring')), /n:3/);
});

test.serial('a pipeline runs the commands on one key in order (SET k then GET k reads its write), and other keys at once', async (t) => {
  // A stand-in cluster whose writes take 40 ms and whose reads answer at once:
  // if the server ran a pipeline's commands all at once, each GET would overtake the SET before it.
  const stored = new Map<string, Buffer>();
  let running = 0;
  let mostAtOnce = 0;
  const slowWrites = {
    n: 3,
    async put(key: Buffer, value: Buffer) {
      mostAtOnce = Math.max(mostAtOnce, ++running);
      await new Promise((r) => setTimeout(r, 40));
      const existed = stored.has(key.toString('latin1'));
      stored.set(key.toString('latin1'), Buffer.from(value));
      running--;
      return { context: '', existed };
    },
    putWithCallback(key: Buffer, value: Buffer, _options: unknown, done: (err: Error | null, result?: { context: string }) => void) {
      this.put(key, value).then((r) => done(null, r), done);
    },
    // reads answer in the turn they arrive, as direct reads do
    getDirect(key: Buffer) {
      const v = stored.get(key.toString('latin1'));
      return { found: v !== undefined, values: v === undefined ? [] : [v], context: 'ctx' };
    },
    async get(key: Buffer) {
      return this.getDirect(key);
    },
    async getCoordinated(key: Buffer) {
      return this.getDirect(key);
    },
    async delete(key: Buffer) {
      await new Promise((r) => setTimeout(r, 40));
      // DEL counts what the coordinator held (PutResult.existed)
      const existed = stored.delete(key.toString('latin1'));
      return { context: '', existed };
    },
  };
  const { server } = await serve(t, { cluster: slowWrites as unknown as Cluster });
  const r = client(t, server.port, { enableReadyCheck: false });
  const p = r.pipeline();
  for (let round = 0; round < 3; round++) for (const k of ['a', 'b', 'c', 'd']) p.set(k, `${k}${round}`).get(k);
  p.mget('a', 'b', 'c', 'd').del('a').exists('a', 'b');
  const replies = (await p.exec())!.map(([e, v]) => (e === null ? v : e.message));
  const expected: unknown[] = [];
  for (let round = 0; round < 3; round++) for (const k of ['a', 'b', 'c', 'd']) expected.push('OK', `${k}${round}`);
  t.deepEqual(replies.slice(0, expected.length), expected);
  t.deepEqual(replies.slice(expected.length), [['a2', 'b2', 'c2', 'd2'], 1, 1]);
  t.true(mostAtOnce >= 4, `writes to different keys ran at once (at most ${mostAtOnce} together)`);
});

test.serial('pipelines are answered in order', async (t) => {
  const { server } = await serve(t);
  const r = client(t, server.port);
  // read-your-writes is promised with strict quorums: under a loaded CI box gossip may briefly suspect a
  // live actor, and a sloppy write acknowledged by a substitute need not be seen by the next R=2 read
  await r.call('RINGKV.CONSISTENCY', 'STRICT', 'yes');
  const p = r.pipeline();
  for (let i = 0; i < 2000; i++) {
    p.set(`p${i}`, `v${i}`);
    p.get(`p${i}`);
    if (i % 100 === 0) p.ping();
  }
  const res = (await p.exec())!;
  let k = 0;
  for (let i = 0; i < 2000; i++) {
    t.deepEqual(res[k++], [null, 'OK']);
    t.deepEqual(res[k++], [null, `v${i}`]);
    if (i % 100 === 0) t.deepEqual(res[k++], [null, 'PONG']);
  }
});

test.serial('siblings: GET shows the newest, RINGKV.GETALL all of them with a context that resolves them', async (t) => {
  const { server } = await serve(t);
  const r = client(t, server.port);
  const ctx = (await r.call('RINGKV.PUT', 'doc', 'v0')) as string;
  await r.call('RINGKV.PUT', 'doc', 'left', 'CONTEXT', ctx);
  await new Promise((res) => setTimeout(res, 3));
  await r.call('RINGKV.PUT', 'doc', 'right', 'CONTEXT', ctx);
  t.is(await r.get('doc'), 'right', 'the newest sibling');
  const [context, ...values] = (await r.call('RINGKV.GETALL', 'doc')) as string[];
  t.deepEqual(values, ['right', 'left']);
  t.regex(String(await r.info('ringkv_quorum')), /gets_with_siblings:1/);
  await r.call('RINGKV.PUT', 'doc', 'merged', 'CONTEXT', context!);
  t.deepEqual(await r.call('RINGKV.GETALL', 'doc'), [((await r.call('RINGKV.GETALL', 'doc')) as string[])[0], 'merged']);
  // RINGKV.PUT … SIBLING is a blind write: a sibling, never a silent replacement
  await r.call('RINGKV.PUT', 'doc', 'blind', 'SIBLING');
  t.is(((await r.call('RINGKV.GETALL', 'doc')) as string[]).length, 3);
  // RINGKV.PUT without a context replaces what the coordinator holds, as SET does
  await r.call('RINGKV.PUT', 'doc', 'replaced');
  t.deepEqual(((await r.call('RINGKV.GETALL', 'doc')) as string[]).slice(1), ['replaced']);
  // a plain SET replaces, as in Redis: it supersedes every version the coordinator holds
  await r.set('doc', 'set');
  t.deepEqual(((await r.call('RINGKV.GETALL', 'doc')) as string[]).slice(1), ['set']);
  const delCtx = (await r.call('RINGKV.DEL', 'doc', 'CONTEXT', ((await r.call('RINGKV.GETALL', 'doc')) as string[])[0]!)) as string;
  t.true(delCtx.length > 0);
  t.is(await r.get('doc'), null);
  // RESP3: a client that opted in gets an attribute saying how many siblings there were
  const base = (await r.call('RINGKV.PUT', 'two', 'a')) as string;
  await r.call('RINGKV.PUT', 'two', 'b', 'CONTEXT', base);
  await r.call('RINGKV.PUT', 'two', 'c', 'CONTEXT', base);
  const text = (await raw(server.port, 'HELLO 3\r\nRINGKV.CONSISTENCY SIBLINGS-ATTR yes\r\nGET two\r\nQUIT\r\n')).text;
  t.regex(text, /\+OK\r\n\|1\r\n\$8\r\nsiblings\r\n:2\r\n\$1\r\n[bc]\r\n/);
  // …and nobody else: by default (or after SIBLINGS-ATTR no) the reply is a plain bulk string
  for (const opt of ['', 'RINGKV.CONSISTENCY SIBLINGS-ATTR yes\r\nRINGKV.CONSISTENCY SIBLINGS-ATTR no\r\n']) {
    const plain = (await raw(server.port, `HELLO 3\r\n${opt}GET two\r\nQUIT\r\n`)).text;
    t.false(plain.includes('|'), plain);
    t.regex(plain, /\r\n\$1\r\n[bc]\r\n\+OK\r\n$/);
  }
  // the stock redis-cli 7.0 in RESP3 mode reads it (it fails on any attribute: "Protocol error, got "|"")
  const cli = await run('redis-cli', ['-3', '-p', String(server.port), 'GET', 'two'], { timeout: 30_000 });
  t.regex(cli.stdout.trim(), /^[bc]$/);
  t.is(cli.stderr, '');
  await t.throwsAsync(r.call('RINGKV.CONSISTENCY', 'SIBLINGS-ATTR', 'maybe'), { message: /SIBLINGS-ATTR takes yes or no/ });
});

test.serial('per-connection consistency and its validation', async (t) => {
  const { server } = await serve(t);
  const r = client(t, server.port);
  t.is(await r.call('RINGKV.CONSISTENCY', 'R', '3', 'W', 'all'), 'OK');
  await r.set('c', '1');
  t.is(await r.get('c'), '1');
  await t.throwsAsync(r.call('RINGKV.CONSISTENCY', 'R', '4'), { message: /impossible with n=3/ });
  t.is(await r.call('RINGKV.CONSISTENCY', 'STRICT', 'yes'), 'OK');
  t.regex(JSON.stringify(await r.call('RINGKV.CONSISTENCY')), /strict","yes","siblings-attr","no"/);
  await t.throwsAsync(r.call('RINGKV.CONSISTENCY', 'STRICT', 'maybe'), { message: /STRICT takes yes or no/ });
  const views = (await r.call('RINGKV.INSPECT', 'c')) as unknown[][];
  t.is(views.length, 3);
  t.regex(JSON.stringify(views), /"versions","1"/);
  t.regex(String(await r.info('ringkv_hints')), /hints_pending:0/);
  await t.throwsAsync(r.call('RINGKV.CONSISTENCY', 'Q', '1'), { message: /syntax error/ });
});

test.serial('SCAN with MATCH and COUNT walks the whole ring', async (t) => {
  const { server } = await serve(t);
  const r = client(t, server.port);
  const p = r.pipeline();
  for (let i = 0; i < 300; i++) p.set(i % 3 === 0 ? `user:${i}` : `other:${i}`, 'x');
  await p.exec();
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', 'user:*', 'COUNT', 50);
    for (const k of keys) seen.add(k);
    cursor = next;
  } while (cursor !== '0');
  t.is(seen.size, 100);
  for (const k of seen) t.true(k.startsWith('user:'));
  await t.throwsAsync(r.scan('abc'), { message: /invalid cursor/ });
});

test.serial('errors: unknown command, wrong arity, oversized value (nothing stored)', async (t) => {
  const { server } = await serve(t);
  const r = client(t, server.port);
  await t.throwsAsync(r.call('NOSUCH', 'a', 'b'), { message: "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b'" });
  await t.throwsAsync(r.call('GET'), { message: "ERR wrong number of arguments for 'get' command" });
  await t.throwsAsync(r.call('GET', 'a', 'b'), { message: "ERR wrong number of arguments for 'get' command" });
  await t.throwsAsync(r.set('big', Buffer.alloc(10 * 1024)), { message: /over the limit/ });
  t.is(await r.get('big'), null);
  t.is(await r.ping(), 'PONG', 'the connection still works');
  // the command table has only its own entries: Object's prototype names no command
  const proto = await raw(server.port, 'constructor\r\n__proto__ x\r\nCOMMAND INFO constructor\r\nQUIT\r\n');
  t.is(proto.text, "-ERR unknown command 'constructor', with args beginning with: \r\n-ERR unknown command '__proto__', with args beginning with: 'x'\r\n*1\r\n$-1\r\n+OK\r\n");
  // a key named twice in one command does not wait on itself, and later commands on it see its write
  const twice = await raw(server.port, 'MSET k 1 k 2\r\nGET k\r\nQUIT\r\n');
  t.is(twice.text, '+OK\r\n$1\r\n2\r\n+OK\r\n');
  const { renderMetrics } = await import('../src/server/metrics.js');
  const { cluster } = await serve(t);
  const text = await renderMetrics(cluster);
  t.regex(text, /ringkv_requests_total\{front_end="resp",operation="set",outcome="pair_too_large"\} [1-9]/);
  t.regex(text, /ringkv_request_duration_seconds_count\{front_end="resp",operation="ping"\} [1-9]/);
  t.regex(text, /ringkv_actor_hints_pending\{actor="0"\} 0/);
});

test.serial('malformed RESP gets a Redis protocol error, earlier pipelined replies are still sent, the connection closes, others are untouched', async (t) => {
  const { server } = await serve(t);
  const other = client(t, server.port);
  await other.set('safe', 'kept');
  const cases: [string, RegExp][] = [
    ['*3000000000\r\n', /-ERR Protocol error: invalid multibulk length\r\n$/],
    ['*1\r\nfoo\r\n', /-ERR Protocol error: expected '\$', got 'f'\r\n$/],
    ['*1\r\n$-10\r\n', /-ERR Protocol error: invalid bulk length\r\n$/],
    ['*1\r\n$2000000000\r\n', /-ERR Protocol error: invalid bulk length\r\n$/],
    ['*20000000000000000000\r\n', /-ERR Protocol error: (invalid multibulk length|too big mbulk count string)\r\n$/],
    ['SET "unbalanced x\r\n', /-ERR Protocol error: unbalanced quotes in request\r\n$/],
  ];
  for (const [bytes, expected] of cases) {
    const { text, closed } = await raw(server.port, `PING\r\n*2\r\n$3\r\nGET\r\n$4\r\nsafe\r\n${bytes}`);
    t.true(text.startsWith('+PONG\r\n$4\r\nkept\r\n'), JSON.stringify(text));
    t.regex(text, expected);
    t.true(closed, `closed after ${JSON.stringify(bytes)}`);
  }
  const inline = await raw(server.port, 'A'.repeat(70 * 1024));
  t.regex(inline.text, /Protocol error: too big inline request/);
  t.true(inline.closed);
  t.is(await other.get('safe'), 'kept');
});

test.serial('a value too large is refused with a clear error and the connection goes on (redis-cli and ioredis); a larger one than can be read past closes it', async (t) => {
  const { server } = await serve(t);
  const r = client(t, server.port);
  await t.throwsAsync(r.set('huge', Buffer.alloc(500 * 1024, 0x61)), { message: /^ERR argument of 512000 bytes is over the limit of 11264 bytes; the command was not run$/ });
  t.is(await r.set('after', 'ok'), 'OK', 'the same connection is still in sync');
  t.is(await r.get('after'), 'ok');
  t.is(await r.get('huge'), null, 'nothing was stored');
  // redis-cli reads its value from stdin with -x
  const cli = spawn('redis-cli', ['-p', String(server.port), '-x', 'SET', 'huge']);
  const cliOut: Buffer[] = [];
  cli.stdout.on('data', (c: Buffer) => cliOut.push(c));
  cli.stdin.end(Buffer.alloc(200 * 1024, 0x62));
  await new Promise((resolve) => cli.once('close', resolve));
  t.regex(Buffer.concat(cliOut).toString('latin1'), /ERR argument of 204800 bytes is over the limit/);
  t.regex((await r.info('clients')) ?? '', /refused_commands:2/);
  // past maxDiscardBulkBytes: the protocol error Redis gives, and the connection closes
  const beyond = await raw(server.port, `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${LIMITS.maxDiscardBulkBytes + 1}\r\n`);
  t.deepEqual(beyond, { text: '-ERR Protocol error: invalid bulk length\r\n', closed: true });
});

test.serial('after a protocol error the server closes the connection: a client still sending finds it gone (Redis "protocol desync" regression)', async (t) => {
  const { server } = await serve(t);
  for (const start of ['\x00', '*\x00', '$\x00']) {
    const outcome = await new Promise<{ sentBytes: number; reply: string }>((resolve) => {
      const s = connect(server.port, '127.0.0.1');
      const got: Buffer[] = [];
      let sentBytes = 0;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearInterval(timer);
        s.destroy();
        resolve({ sentBytes, reply: Buffer.concat(got).toString('latin1') });
      };
      s.on('data', (c) => got.push(c));
      s.on('error', finish);
      s.on('close', finish);
      s.write(start, 'latin1');
      const payload = Buffer.alloc(1024, 0x41);
      // keep writing, as the Valkey test does, until the server is gone (bounded: 64 MiB)
      const timer = setInterval(() => {
        for (let i = 0; i < 64 && !done && sentBytes < 64 * 1024 * 1024; i++) {
          s.write(payload);
          sentBytes += payload.length;
        }
        if (sentBytes >= 64 * 1024 * 1024) finish();
      }, 1);
    });
    t.regex(outcome.reply, /^-ERR Protocol error: too big (inline request|mbulk count string|bulk count string)\r\n$/, JSON.stringify(start));
    t.true(outcome.sentBytes < 16 * 1024 * 1024, `${JSON.stringify(start)}: the connection closed after ${outcome.sentBytes} bytes`);
  }
});

test.serial('a connection that starts like HTTP is closed as an attack', async (t) => {
  const { server } = await serve(t);
  for (const req of ['POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n']) {
    const { closed } = await raw(server.port, req);
    t.true(closed);
  }
});

test.serial('with a password every command but AUTH/HELLO/QUIT is refused until authenticated; unauthenticated limits are tight', async (t) => {
  const { server } = await serve(t, { password: 's3cret' });
  const refused = await raw(server.port, 'GET a\r\nPING\r\nQUIT\r\n');
  t.is(refused.text, '-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n+OK\r\n');
  const wrong = await raw(server.port, 'AUTH nope\r\nQUIT\r\n');
  t.regex(wrong.text, /^-WRONGPASS/);
  const big = await raw(server.port, '*20\r\n');
  t.is(big.text, '-ERR Protocol error: unauthenticated multibulk length\r\n');
  const bulk = await raw(server.port, '*2\r\n$4\r\nAUTH\r\n$20000\r\n');
  t.is(bulk.text, '-ERR Protocol error: invalid bulk length\r\n', 'over the server-wide bulk limit (~11 KiB here, below the 16 KiB unauthenticated cap)');
  // AUTH pipelined with a large write in one packet: the write is parsed under the authenticated limits
  const value = 'v'.repeat(9000);
  const pipelined = await raw(server.port, `AUTH s3cret\r\n*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${value.length}\r\n${value}\r\n*13\r\n$4\r\nMSET${'\r\n$1\r\nk\r\n$1\r\nv'.repeat(5)}\r\n$2\r\nk2\r\n$1\r\nv\r\nQUIT\r\n`);
  t.is(pipelined.text, '+OK\r\n+OK\r\n+OK\r\n+OK\r\n');
  const r = client(t, server.port, { password: 's3cret' });
  t.is(await r.set('a', 'b'), 'OK');
  const hello = await raw(server.port, 'HELLO 3 AUTH default s3cret\r\nGET a\r\nQUIT\r\n');
  t.regex(hello.text, /^%7\r\n/);
  t.regex(hello.text, /\$1\r\nb\r\n\+OK\r\n$/);
});

test.serial('redis-cli (scripted and interactive) and redis-benchmark work against ringkv', async (t) => {
  const { server } = await serve(t);
  const port = String(server.port);
  const cli = (...args: string[]) => run('redis-cli', ['-p', port, ...args], { timeout: 30_000 });
  t.is((await cli('SET', 'greeting', 'hello world')).stdout.trim(), 'OK');
  t.is((await cli('GET', 'greeting')).stdout.trim(), 'hello world');
  t.is((await cli('--raw', 'RINGKV.GETALL', 'greeting')).stdout.trim().split('\n').length, 2);
  // interactive mode: commands on stdin, as a person would type them
  const interactive = await new Promise<string>((resolve, reject) => {
    const child = execFile('redis-cli', ['-p', port], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin!.end('PING\nSET x 1\nGET x\nDBSIZE\n');
  });
  t.regex(interactive, /PONG[\s\S]*OK[\s\S]*1/);
  const bench = await run('redis-benchmark', ['-p', port, '-t', 'set,get,mset', '-n', '3000', '-P', '16', '-q'], { timeout: 120_000 });
  t.regex(bench.stdout, /SET: [0-9.]+ requests per second/);
  t.regex(bench.stdout, /GET: [0-9.]+ requests per second/);
  t.regex(bench.stdout, /MSET \(10 keys\): [0-9.]+ requests per second/);
  t.is((await cli('GET', 'greeting')).stdout.trim(), 'hello world');
});

test.serial('ioredis reconnects after the server restarts on the same port', async (t) => {
  const cluster = await startCluster(t, { actors: 3 });
  const first = await startRespServer(cluster, { host: '127.0.0.1', port: 0, password: null, maxClients: 100, maxPipelineDepth: 4096, limits: LIMITS });
  const port = first.port;
  const r = client(t, port, { retryStrategy: () => 50 });
  await r.set('k', 'before');
  await first.close();
  const second = await startRespServer(cluster, { host: '127.0.0.1', port, password: null, maxClients: 100, maxPipelineDepth: 4096, limits: LIMITS });
  t.teardown(() => second.close());
  t.is(await r.get('k'), 'before');
  await r.set('k', 'after');
  t.is(await r.get('k'), 'after');
});

test.serial('thousands of idle connections and clients vanishing mid-request do not hurt others', async (t) => {
  const { server } = await serve(t, { maxClients: 2100 });
  const idle = await Promise.all(
    Array.from({ length: 2000 }, () => new Promise<import('node:net').Socket>((resolve) => {
      const s = connect(server.port, '127.0.0.1', () => resolve(s));
      s.on('error', () => undefined);
    })),
  );
  t.teardown(() => idle.forEach((s) => s.destroy()));
  for (let i = 0; i < 20; i++) {
    const s = connect(server.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write('*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$100\r\nabc'); // the rest never comes
    s.destroy();
  }
  const r = client(t, server.port);
  await r.set('fine', 'yes');
  t.is(await r.get('fine'), 'yes');
  t.is(await r.get('half'), null);
});

test.serial('beyond maxClients a new connection gets an error and is closed; existing clients are unaffected', async (t) => {
  const { server } = await serve(t, { maxClients: 3 });
  const a = client(t, server.port);
  const b = client(t, server.port);
  const c = client(t, server.port);
  await Promise.all([a.ping(), b.ping(), c.ping()]);
  const extra = await raw(server.port, 'PING\r\n');
  t.is(extra.text, '-ERR max number of clients reached\r\n');
  t.true(extra.closed);
  t.is(await a.ping(), 'PONG');
});

test.serial('property: random and malformed byte streams at the RESP port never take the server down or disturb a well-behaved client', async (t) => {
  const fc = await import('fast-check');
  const { server } = await serve(t, { maxClients: 500 });
  const good = client(t, server.port);
  let round = 0;
  // RESP-looking fragments make the fuzzer reach deep parser states, not just the first byte.
  const fragment = fc.oneof(
    fc.constantFrom('*', '$', '\r\n', '*1\r\n', '*2\r\n', '$3\r\nGET\r\n', '$3\r\nSET\r\n', '$-1\r\n', '*-1\r\n', '$0\r\n\r\n', '"', "'", ' ', 'PING', 'AUTH', 'QUIT\r\n', '\x00', '*99999999999\r\n', '$2147483648\r\n'),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
    fc.string({ maxLength: 16 }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(fragment, { maxLength: 24 }), fc.integer({ min: 1, max: 4 }), async (parts, splits) => {
      const bytes = Buffer.from(parts.join(''), 'latin1');
      await new Promise<void>((resolve) => {
        const s = connect(server.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('close', () => resolve());
        s.on('connect', async () => {
          const step = Math.ceil(bytes.length / splits) || 1;
          for (let i = 0; i < bytes.length; i += step) {
            s.write(bytes.subarray(i, i + step));
            await new Promise((r) => setImmediate(r));
          }
          setTimeout(() => s.destroy(), 20);
        });
      });
      const key = `fuzz:${round++}`;
      await good.set(key, key);
      return (await good.get(key)) === key;
    }),
    { numRuns: 150, seed: 42 },
  );
  t.is(await good.ping(), 'PONG');
  t.is(await good.dbsize() >= 150, true);
});
