import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { InvalidOptionError } from '../src/index.js';
import { fromEnv, fromFile, resolveServerConfig } from '../src/server/config.js';
import { useColour } from '../tools/stress/cli.js';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

test('config: flags beat environment beat the config file beat defaults, and everything is validated', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'ringkv.json');
  writeFileSync(file, JSON.stringify({ port: 7000, httpPort: 7001, dataDir: '/from/file', n: 3 }));
  const c = resolveServerConfig(fromFile(file), fromEnv({ RINGKV_PORT: '7100', RINGKV_DATA_DIR: '/from/env' }), { port: '7200' });
  t.is(c.port, 7200);
  t.is(c.dataDir, '/from/env');
  t.is(c.httpPort, 7001);
  t.is(c.n, 3);
  t.is(c.host, '127.0.0.1');
  t.is(resolveServerConfig().dataDir, './data');
  t.throws(() => resolveServerConfig({ port: 'eighty' }), { instanceOf: InvalidOptionError, message: /port must be a port number/ });
  t.throws(() => resolveServerConfig({ host: '0.0.0.0' }), { instanceOf: InvalidOptionError, message: /refusing to listen on non-loopback/ });
  t.is(resolveServerConfig({ host: '0.0.0.0', password: 'pw' }).host, '0.0.0.0');
  t.is(resolveServerConfig({ host: '0.0.0.0', forceNonLoopback: true }).host, '0.0.0.0');
  t.throws(() => resolveServerConfig({ r: 'most' }), { instanceOf: InvalidOptionError });
  t.throws(() => resolveServerConfig({ sync: 'sometimes' }), { instanceOf: InvalidOptionError });
  // the Redis-habit switches: off / estimate / the cluster default unless asked
  t.like(resolveServerConfig(), { allowFlush: false, dbsize: 'estimate', maxPairBytes: undefined });
  t.like(resolveServerConfig(fromEnv({ RINGKV_ALLOW_FLUSH: 'yes', RINGKV_DBSIZE: 'exact', RINGKV_MAX_PAIR_BYTES: '65536' })), { allowFlush: true, dbsize: 'exact', maxPairBytes: 65536 });
  t.throws(() => resolveServerConfig({ dbsize: 'roughly' }), { instanceOf: InvalidOptionError, message: /dbsize must be estimate or exact/ });
  t.throws(() => resolveServerConfig({ maxPairBytes: '8' }), { instanceOf: InvalidOptionError, message: /max-pair-bytes must be an integer 16\.\.67108864/ });
  t.throws(() => resolveServerConfig({ allowFlush: 'maybe' }), { instanceOf: InvalidOptionError });
  writeFileSync(file, JSON.stringify({ prot: 1 }));
  t.throws(() => fromFile(file), { instanceOf: InvalidOptionError, message: /unknown setting 'prot'/ });
  writeFileSync(file, '{ nope');
  t.throws(() => fromFile(file), { instanceOf: InvalidOptionError });
});

test('every command has --help', async (t) => {
  for (const cmd of [[], ['start'], ['get'], ['put'], ['del'], ['status'], ['add-actor'], ['remove-actor'], ['stress']]) {
    const { stdout } = await run(process.execPath, [CLI, ...cmd, '--help']);
    t.regex(stdout, /Usage: ringkv/);
  }
  const { stdout } = await run(process.execPath, [CLI, 'start', '--help']);
  for (const flag of ['--data-dir', '--port', '--http-port', '--host', '--actors', '--n', '--r', '--w', '--password', '--allow-flush', '--dbsize', '--max-pair-bytes']) t.true(stdout.includes(flag), flag);
});

test('a bad setting stops start with a clear message', async (t) => {
  const err = await t.throwsAsync(run(process.execPath, [CLI, 'start', '--host', '0.0.0.0', '--data-dir', tempDir(t)]));
  t.regex(String((err as { stderr?: string }).stderr), /refusing to listen on non-loopback address 0.0.0.0 without a password/);
});

test.serial('ringkv start serves RESP and HTTP; get/put/del/status talk to it; SIGTERM stops cleanly and a restart serves what was acknowledged', async (t) => {
  const dataDir = tempDir(t);
  const start = async (): Promise<{ child: ReturnType<typeof spawn>; port: number; httpPort: number; output: () => string }> => {
    const child = spawn(process.execPath, [CLI, 'start', '--data-dir', dataDir, '--port', '0', '--http-port', '0', '--actors', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    for (let i = 0; i < 300 && !/http:/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    const port = Number(/redis-cli -p ([0-9]+)/.exec(out)?.[1]);
    const httpPort = Number(/http:\/\/127\.0\.0\.1:([0-9]+)/.exec(out)?.[1]);
    t.true(port > 0 && httpPort > 0, out);
    return { child, port, httpPort, output: () => out };
  };
  const stop = async (child: ReturnType<typeof spawn>): Promise<number | null> => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    return exited;
  };
  const first = await start();
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args, '--port', String(first.port)]);
  t.regex((await cli('put', 'greeting', 'hello')).stdout, /context: \S+/);
  t.is((await cli('get', 'greeting')).stdout.trim(), 'hello');
  const status = (await cli('status')).stdout;
  t.regex(status, /ringkv healthy: 3\/3 actors up, n=3/);
  t.regex(status, /zone/);
  const http = await fetch(`http://127.0.0.1:${first.httpPort}/kv/greeting`);
  t.is(await http.text(), 'hello');
  // put replaces; --sibling keeps what is there (get lists both); del deletes them all
  await cli('put', 'greeting', 'hi', '--sibling');
  t.deepEqual((await cli('get', 'greeting')).stdout.trim().split('\n').sort(), ['hello', 'hi']);
  await cli('put', 'greeting', 'hello');
  t.is((await cli('get', 'greeting')).stdout.trim(), 'hello');
  const both = await cli('put', 'greeting', 'x', '--sibling', '--context', 'AAAA').then(() => 0, (e: { code: number }) => e.code);
  t.is(both, 2, '--sibling with --context is bad usage');
  t.regex((await cli('del', 'greeting')).stdout, /deleted 1/);
  t.regex((await cli('add-actor')).stdout, /added: 3\nremoved: \nmoved_fraction: 0\.\d+/);
  t.regex((await cli('status')).stdout, /4\/4 actors up/);
  t.regex((await cli('remove-actor', '3')).stdout, /removed: 3/);
  await cli('put', 'kept', 'forever');
  t.is(await stop(first.child), 0);
  t.regex(first.output(), /stopped cleanly/);
  const second = await start();
  const again = await run(process.execPath, [CLI, 'get', 'kept', '--port', String(second.port)]);
  t.is(again.stdout.trim(), 'forever');
  const gone = await t.throwsAsync(run(process.execPath, [CLI, 'get', 'greeting', '--port', String(second.port)]));
  t.regex(String((gone as { stdout?: string }).stdout), /not found/);
  t.is(await stop(second.child), 0);
});

test('a second ringkv start on a directory in use exits non-zero with one line naming the holder; the first keeps serving', async (t) => {
  const dataDir = tempDir(t);
  const first = spawn(process.execPath, [CLI, 'start', '--data-dir', dataDir, '--port', '0', '--http-port', '0', '--actors', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => first.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (first.exitCode !== null || first.signalCode !== null) return;
    first.kill('SIGKILL');
    await exited;
  });
  let out = '';
  // ready when it prints its HTTP address (no deadline of our own: the test's timeout bounds it)
  const httpPort = await new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += String(d);
      const m = /http:\/\/127\.0\.0\.1:([0-9]+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    first.stdout.on('data', onData);
    first.stderr.on('data', onData);
    void exited.then(() => reject(new Error(`the first server exited:\n${out}`)));
  });

  const err = (await t.throwsAsync(run(process.execPath, [CLI, 'start', '--data-dir', dataDir, '--port', '0', '--http-port', '0']))) as Error & { code?: number; stderr?: string; stdout?: string };
  t.not(err.code, 0);
  t.is(err.stdout, '', 'it never got as far as serving');
  const lines = String(err.stderr).trim().split('\n');
  t.is(lines.length, 1, String(err.stderr));
  t.true(lines[0]!.startsWith(`ringkv: data directory ${dataDir} is locked by pid ${first.pid}:`), lines[0]);

  const put = await fetch(`http://127.0.0.1:${httpPort}/kv/still`, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'serving' });
  t.is(put.status, 204);
  t.is(await (await fetch(`http://127.0.0.1:${httpPort}/kv/still`)).text(), 'serving');
  first.kill('SIGTERM');
  t.is(await exited, 0, out);
});

type Exec = { code: number; stdout: string; stderr: string };
/** Run the CLI and collect its exit code and output whether it fails or not. */
async function exec(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Exec> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A port nothing listens on: bound by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('ringkv --version prints the version from package.json', async (t) => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = await exec([flag]);
    t.is(r.code, 0);
    t.is(r.stdout.trim(), pkg.version);
  }
});

test('one exit-status rule: 2 for bad usage whoever notices it, 1 for a failed operation; every --help says so', async (t) => {
  const dir = tempDir(t);
  const usage: [string[], RegExp][] = [
    [['bogus'], /unknown command 'bogus'/],
    [[], /Usage: ringkv/],
    [['get'], /missing required argument 'key'/],
    [['stress', '--bogus'], /unknown option '--bogus'/],
    [['stress', '--duration', '-3'], /--duration/],
    [['stress', '--nemesis', 'explode', '--no-progress'], /explode/],
    [['start', '--r', 'seven', '--data-dir', join(dir, 'never')], /^ringkv: r must be a count 1\.\.64, one, quorum or all; got "seven"$/m],
    [['start', '--port', 'eighty', '--data-dir', join(dir, 'never')], /port must be a port number/],
  ];
  for (const [args, message] of usage) {
    const r = await exec(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message, args.join(' '));
  }
  for (const cmd of [[], ['start'], ['get'], ['stress']]) {
    t.regex((await exec([...cmd, '--help'])).stdout, /Exit status: 0 success; 1 a failed check .*; 2 bad usage/, cmd.join(' '));
  }
});

test('a client command with no server prints one clean line and exits 1', async (t) => {
  const port = await closedPort();
  for (const args of [['get', 'x'], ['put', 'x', 'y'], ['status']]) {
    const r = await exec([...args, '--port', String(port)]);
    t.is(r.code, 1, args.join(' '));
    t.is(r.stdout, '');
    t.is(r.stderr, `ringkv: cannot connect to 127.0.0.1:${port} (is the server running?)\n`, 'no ioredis "Unhandled error event", no stack');
  }
});

test('tables are coloured only on a terminal and never with NO_COLOR', async (t) => {
  const tty = { isTTY: true, hasColors: () => true };
  t.true(useColour(tty, {}));
  t.true(useColour(tty, { NO_COLOR: '' }), 'an empty NO_COLOR does not count (no-color.org)');
  t.false(useColour(tty, { NO_COLOR: '1' }));
  t.false(useColour({ isTTY: false, hasColors: () => true }, {}));
  t.false(useColour({}, {}));
  t.false(useColour({ isTTY: true, hasColors: () => false }, {}), 'a terminal without colours');
  // the real thing, into a pipe: plain text (cli-table3 used to colour it regardless)
  const out = tempDir(t, 'ringkv-stress-out-');
  const r = await exec(['stress', '--duration', '0.5', '--records', '20', '--clients', '1', '--actors', '3', '--seed', '1', '--no-progress', '--out', out]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /operation/);
  t.false(r.stdout.includes('\x1b['), 'no escape codes in a pipe');
});

test("the README's second-server example uses ports of its own, not the quick start's", (t) => {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const quick = /npm ci && npm start .*Redis protocol on 127\.0\.0\.1:([0-9]+), HTTP on 127\.0\.0\.1:([0-9]+)/.exec(readme);
  t.truthy(quick, 'the quick start names its ports');
  const starts = [...readme.matchAll(/ringkv start (--data-dir \S+ .*)/g)].map((m) => m[1]!);
  t.true(starts.length >= 1);
  for (const line of starts) {
    const port = /--port ([0-9]+)/.exec(line)?.[1];
    const httpPort = /--http-port ([0-9]+)/.exec(line)?.[1];
    t.truthy(port && httpPort, line);
    const taken: (string | undefined)[] = [quick![1], quick![2]];
    t.false(taken.includes(port) || taken.includes(httpPort), line);
  }
});

test('a start that fails (its port is taken) exits 1 with one line and leaves no data directory behind', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const port = (taken.address() as { port: number }).port;
  const dir = tempDir(t);
  const fresh = join(dir, 'data5');
  const r = await exec(['start', '--data-dir', fresh, '--port', String(port), '--http-port', '0', '--actors', '3']);
  t.is(r.code, 1);
  t.regex(r.stderr, /^ringkv: listen EADDRINUSE: address already in use 127\.0\.0\.1:[0-9]+\n$/);
  t.false(existsSync(fresh), 'the directory it created is gone');
});
