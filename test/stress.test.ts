import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { Redis } from 'ioredis';
import { planFaults, plannedOperations, runStress, type StressConfig } from '../tools/stress/runner.js';
import { renderReport } from '../tools/stress/report.js';
import type { StressResult } from '../tools/stress/result.js';
import { startRespServer } from '../src/server/resp/server.js';
import { startCluster, tempDir, until } from './helpers.js';
import { shortStressConfig } from './stress-fixture.js';

const run = promisify(execFile);
const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

function config(overrides: Partial<StressConfig> = {}): StressConfig {
  return shortStressConfig(overrides);
}

/** Open the report in headless Chromium and say what it drew. */
async function renderInChromium(t: ExecutionContext, result: StressResult): Promise<{ charts: Record<string, number>; faultBands: number; verdict: string; errors: string[] }> {
  t.true(existsSync('/usr/bin/chromium'), 'Debian chromium is needed (.ci/run installs it)');
  const dir = tempDir(t, 'ringkv-report-');
  const file = join(dir, 'report.html');
  writeFileSync(file, renderReport(result));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(pathToFileURL(file).href);
    const charts: Record<string, number> = {};
    for (const chart of ['throughput', 'latency', 'staleness', 'cluster']) {
      // points actually drawn: series elements with a visible box and data
      let points = 0;
      for (const series of await page.locator(`svg[data-chart="${chart}"] [data-series]`).all()) {
        const box = await series.boundingBox();
        if (box !== null && (box.width > 0 || box.height > 0)) points += Number((await series.getAttribute('data-points')) ?? 0);
      }
      charts[chart] = points;
    }
    const faultBands = await page.$$eval('svg[data-chart="throughput"] [data-fault]', (els) => els.length);
    const verdict = await page.locator('[data-verdict]').innerText();
    return { charts, faultBands, verdict, errors };
  } finally {
    await browser.close();
  }
}

test.serial('a short run with a kill and a partition loses nothing, converges, and its report renders with data', async (t) => {
  const schedule = {
    faults: [
      { kind: 'kill', atMs: 600, durationMs: 800, targets: [1] },
      { kind: 'partition', atMs: 1700, durationMs: 800, groups: [[0, 1], [2, 3, 4]] },
    ],
  };
  // 5 s: room for the killed actor's restart to finish before the partition is due, on a loaded machine
  // (a run ends at its duration, and a fault not yet started by then is not started)
  const result = await runStress(config({ durationMs: 5000, strict: true, nemesis: { kind: 'file', path: 'inline', schedule } }));
  t.true(result.valid, JSON.stringify(result.checkers, null, 1));
  t.deepEqual(
    result.faults.map((f) => f.kind),
    ['kill', 'partition'],
  );
  t.true(result.faults.every((f) => f.endMs > f.startMs));
  t.true(result.throughput.operations > 100);
  t.true(result.load.records === 1000);
  t.true((result.latency.read?.count ?? 0) > 0 && (result.latency.update?.count ?? 0) > 0);
  t.true(result.timeline.length >= 5);
  t.true(result.checkers.lostWrites.checked > 1000, 'load and run writes are all checked');
  t.is(result.checkers.staleReads.skipped, undefined, 'strict R+W>N: stale reads are judged');
  t.true(result.checkers.staleReads.checked > 0);
  t.not(result.checkers.convergence.timeToConvergeMs, null);
  t.true(result.cluster.length > 0);
  t.true(result.staleness.some((b) => b.reads > 0));
  const drawn = await renderInChromium(t, result);
  t.deepEqual(drawn.errors, []);
  for (const [chart, points] of Object.entries(drawn.charts)) t.true(points > 0, `${chart} chart has data`);
  t.is(drawn.faultBands, 2);
  t.is(drawn.verdict, 'PASS');
});

test.serial('the set workload loses no add with siblings, and is caught losing adds with last-write-wins', async (t) => {
  const siblings = await runStress(config({ workload: 'set', records: 0, durationMs: 2500, seed: 5 }));
  t.true(siblings.valid, JSON.stringify(siblings.checkers.lostWrites));
  t.true(siblings.checkers.lostWrites.checked > 200, `${siblings.checkers.lostWrites.checked} adds acknowledged`);
  const lww = await runStress(config({ workload: 'set', records: 0, durationMs: 2500, seed: 5, lww: true }));
  t.false(lww.valid);
  t.false(lww.checkers.lostWrites.valid);
  t.true(lww.checkers.lostWrites.violationCount > 0);
  t.regex(lww.checkers.lostWrites.violations[0]!, /^add \S+ to \S+ by client \d+, acknowledged at .* is gone/);
  t.log(`siblings: 0 of ${siblings.checkers.lostWrites.checked} adds lost; last-write-wins: ${lww.checkers.lostWrites.violationCount} of ${lww.checkers.lostWrites.checked} lost`);
});

test('the same seed gives the same operations and the same fault schedule; another seed does not', async (t) => {
  const base = { workload: 'a', records: 1000, clients: 4, seed: 99, setKeys: 4 };
  t.deepEqual(plannedOperations(base, 2, 500), plannedOperations(base, 2, 500));
  t.notDeepEqual(plannedOperations(base, 2, 500), plannedOperations({ ...base, seed: 100 }, 2, 500));
  t.notDeepEqual(plannedOperations(base, 1, 500), plannedOperations(base, 2, 500), 'each client has its own stream');
  const cluster = await startCluster(t);
  const kinds = { kind: 'random', kinds: ['kill', 'pause', 'partition', 'ring-partition', 'loss', 'wipe'] } as const;
  const a = await planFaults({ nemesis: kinds, durationMs: 20_000, seed: 99 }, cluster);
  const b = await planFaults({ nemesis: kinds, durationMs: 20_000, seed: 99 }, cluster);
  const c = await planFaults({ nemesis: kinds, durationMs: 20_000, seed: 100 }, cluster);
  t.true(a.length >= 6);
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

test.serial('over the Redis protocol: the same workload against a ringkv server and against a real Redis', async (t) => {
  const cluster = await startCluster(t, { actors: 3 });
  const server = await startRespServer(cluster, {
    host: '127.0.0.1',
    port: 0,
    password: null,
    maxClients: 100,
    maxPipelineDepth: 4096,
    limits: { maxBulkBytes: 1 << 20, maxArgs: 1024, maxInlineBytes: 64 << 10, maxQueryBufferBytes: 1 << 20 },
  });
  t.teardown(() => server.close());
  const ringkv = await runStress(config({ target: `redis://127.0.0.1:${server.port}`, workload: 'f', durationMs: 1500, records: 500 }));
  t.true(ringkv.valid, JSON.stringify(ringkv.checkers));
  t.is(ringkv.config['server'], 'ringkv');
  t.true((ringkv.latency.rmw?.count ?? 0) > 0);
  t.true(ringkv.checkers.convergence.valid);
  t.true(ringkv.cluster.length > 0 && ringkv.cluster.every((x) => x.actorsUp === 3), 'the server is sampled through INFO');

  t.true(existsSync('/usr/bin/redis-server'), 'Debian redis-server is needed (.ci/run installs it)');
  const port = await freePort();
  const redisServer = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  t.teardown(() => {
    redisServer.kill('SIGKILL');
  });
  await until(t, 'redis-server accepts connections', async () => {
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  });
  const redis = await runStress(config({ target: `redis://127.0.0.1:${port}`, workload: 'a', durationMs: 1500, records: 500 }));
  t.true(redis.valid, JSON.stringify(redis.checkers));
  t.is(redis.config['server'], 'redis-protocol server');
  t.true(redis.checkers.convergence.skipped !== undefined, 'one Redis has no replicas to converge');
  t.deepEqual(redis.cluster, [], 'nothing to sample on another server');
  t.is(redis.checkers.staleReads.skipped, undefined, 'one server: every read is judged');
  t.log(`workload F on ringkv: ${ringkv.throughput.opsPerSec} ops/s; workload A on Redis: ${redis.throughput.opsPerSec} ops/s`);
});

test('a run asked for faults over a server connection, or with bad settings, is refused with a clear error', async (t) => {
  await t.throwsAsync(runStress(config({ target: 'redis://127.0.0.1:1', nemesis: { kind: 'random', kinds: ['kill'] } })), { name: 'StressConfigError', message: /--nemesis needs --target local/ });
  await t.throwsAsync(runStress(config({ workload: 'z' })), { name: 'StressConfigError', message: /workload/ });
  await t.throwsAsync(runStress(config({ threads: 4, clients: 2 })), { name: 'StressConfigError', message: /threads/ });
  await t.throwsAsync(runStress(config({ target: 'http://x' })), { name: 'StressConfigError', message: /target/ });
});

test('ringkv stress on the command line writes result.json and report.html, and exits 2 on bad flags', async (t) => {
  const out = tempDir(t, 'ringkv-stress-out-');
  const { stdout } = await run(process.execPath, [CLI, 'stress', '--duration', '1', '--records', '200', '--clients', '2', '--seed', '4', '--out', out, '--no-progress'], { timeout: 60_000 });
  t.regex(stdout, /seed 4/);
  t.regex(stdout, /VALID: result\.json and report\.html/);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as StressResult;
  t.true(result.valid);
  t.is(result.config['seed'], 4);
  t.regex(readFileSync(join(out, 'report.html'), 'utf8'), /<svg[^>]+data-chart="throughput"/);
  const bad = await run(process.execPath, [CLI, 'stress', '--nemesis', 'explode', '--no-progress'], { timeout: 30_000 }).catch((e: { code: number; stderr: string }) => e);
  t.is((bad as { code: number }).code, 2);
  t.regex((bad as { stderr: string }).stderr, /explode/);
});
