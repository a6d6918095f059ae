// redis-benchmark against ringkv (N=3, R=2, W=2) and, when redis-server is
// installed, against a real Redis with AOF on, in the same run. Used by
// `npm run bench` (tools/bench.ts) and runnable alone: node dist/tools/bench-redis.js
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveServerConfig } from '../src/server/config.js';
import { startServer } from '../src/server/server.js';

const run = promisify(execFile);
const REQUESTS = Number(process.env.BENCH_REDIS_REQUESTS ?? 200_000);

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

async function redisBenchmark(port: number, pipeline: number): Promise<{ set: number; get: number }> {
  const { stdout } = await run('redis-benchmark', ['-p', String(port), '-t', 'set,get', '-n', String(REQUESTS), '-r', '100000', '-d', '100', '-c', '50', '-P', String(pipeline), '-q'], {
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const rate = (name: string): number => Number(new RegExp(`${name}: ([0-9.]+) requests per second`).exec(stdout)?.[1] ?? NaN);
  return { set: rate('SET'), get: rate('GET') };
}

export async function benchRedisProtocol(): Promise<void> {
  if (!has('redis-benchmark')) {
    console.log('\nredis-benchmark not installed (Debian: redis-tools): skipping the Redis-protocol comparison');
    return;
  }
  const rows: Record<string, Record<string, string>> = {};
  const results: Record<string, { p1: { set: number; get: number }; p16: { set: number; get: number } }> = {};
  const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-bench-server-'));
  const server = await startServer(resolveServerConfig({ dataDir, port: 0, httpPort: 0, n: 3, r: 2, w: 2 }));
  try {
    results.ringkv = { p1: await redisBenchmark(server.respPort, 1), p16: await redisBenchmark(server.respPort, 16) };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (has('redis-server')) {
    const dir = mkdtempSync(join(tmpdir(), 'redis-bench-'));
    const port = 17_000 + Math.floor(Math.random() * 1000);
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--dir', dir], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100; i++) {
        if ((await run('redis-cli', ['-p', String(port), 'PING']).catch(() => ({ stdout: '' }))).stdout.includes('PONG')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      results.redis = { p1: await redisBenchmark(port, 1), p16: await redisBenchmark(port, 16) };
    } finally {
      redis.kill('SIGTERM');
      await new Promise((r) => redis.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const [name, r] of Object.entries(results)) {
    rows[name === 'redis' ? 'Redis (AOF everysec)' : 'ringkv (N=3 R=2 W=2, 3 actors)'] = {
      'SET -P 1': Math.round(r.p1.set).toLocaleString('en-US'),
      'GET -P 1': Math.round(r.p1.get).toLocaleString('en-US'),
      'SET -P 16': Math.round(r.p16.set).toLocaleString('en-US'),
      'GET -P 16': Math.round(r.p16.get).toLocaleString('en-US'),
    };
  }
  console.log(`\nredis-benchmark -t set,get -n ${REQUESTS} -r 100000 -d 100 -c 50 (requests/s)`);
  console.table(rows);
  const k = results.ringkv!;
  const r = results.redis;
  if (r !== undefined) {
    const pct = (a: number, b: number): string => `${((100 * a) / b).toFixed(0)}%`;
    console.log(
      // issue 12's targets
      `ringkv / Redis: -P 1 SET ${pct(k.p1.set, r.p1.set)} (target 35%), GET ${pct(k.p1.get, r.p1.get)} (target 60%); ` +
        `-P 16 SET ${pct(k.p16.set, r.p16.set)} (target 10%), GET ${pct(k.p16.get, r.p16.get)} (target 20%)`,
    );
  } else {
    console.log('redis-server not installed: no Redis comparison');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRedisProtocol();
