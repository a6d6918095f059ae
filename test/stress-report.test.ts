import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { renderReport } from '../tools/stress/report.js';
import { runStress } from '../tools/stress/runner.js';
import { RESULT_FORMAT_VERSION, type ClusterSample, type FaultWindow, type StressResult, type TimelinePoint } from '../tools/stress/result.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Render `html` in headless Chromium and hand the loaded page to `use`
 * (`beforeLoad` may listen first); the temp dir and browser go with the
 * test. A machine without Chromium fails the test, saying how to get it.
 */
async function inChromium(t: ExecutionContext, html: string, use: (page: Page, dir: string) => Promise<void>, beforeLoad: (page: Page) => void = () => undefined): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    t.fail(`${CHROMIUM} not found: this test needs Debian's chromium package, which .ci/run installs (apt-get install chromium)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const htmlPath = join(dir, 'report.html');
  writeFileSync(htmlPath, html);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    beforeLoad(page);
    await page.goto(pathToFileURL(htmlPath).href, { waitUntil: 'load' });
    await use(page, dir);
  } finally {
    await browser.close();
  }
}
const CHARTS = ['throughput', 'latency', 'staleness', 'cluster'] as const;
const XSS = '<script>alert(1)</script>';

/**
 * A 30-second run with a node killed at 8–14 s and a partition at 18–24 s:
 * throughput dips and errors appear in the fault windows, hints pile up
 * during the partition and drain after it, and one lost write is reported
 * under a key full of HTML special characters.
 */
function syntheticResult(overrides: Partial<StressResult> = {}): StressResult {
  const faults: FaultWindow[] = [
    { kind: 'kill', startMs: 8000, endMs: 14000, targets: [2], description: 'kill actor 2, restart after 6 s' },
    { kind: 'partition', startMs: 18000, endMs: 24000, targets: [0, 1], description: 'partition [0,1] | [2,3,4]' },
  ];
  const inFault = (tMs: number): FaultWindow | undefined => faults.find((f) => tMs >= f.startMs && tMs < f.endMs);
  const timeline: TimelinePoint[] = Array.from({ length: 30 }, (_, i) => {
    const tMs = (i + 1) * 1000;
    const fault = inFault(tMs - 500);
    const opsPerSec = Math.round(5200 + 300 * Math.sin(i / 2) - (fault?.kind === 'kill' ? 1800 : fault ? 2600 : 0));
    const errors = fault?.kind === 'partition' ? 140 + 10 * (i % 3) : fault ? 25 : i % 7 === 0 ? 1 : 0;
    const slow = fault ? 6 : 1;
    return { tMs, ops: opsPerSec, errors, opsPerSec, p50Ms: 0.4 * slow + 0.02 * (i % 5), p99Ms: 3.1 * slow + 0.3 * (i % 4), maxMs: 18 * slow + 2 * (i % 6) };
  });
  const cluster: ClusterSample[] = Array.from({ length: 31 }, (_, i) => {
    const tMs = i * 1000;
    const hintsPending = tMs < 18000 ? (tMs >= 8000 && tMs < 14000 ? 200 * (i - 7) : 0) : tMs < 24000 ? 900 * (i - 17) : Math.max(0, 5400 - 1500 * (i - 24));
    return { tMs, hintsPending, repairKeysSent: Math.max(0, 310 * (i - 13)), readRepairs: 6 * i, actorsUp: inFault(tMs)?.kind === 'kill' ? 4 : 5 };
  });
  const bucketsMs = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
  const staleness = bucketsMs.map((sinceWriteMs, i) => {
    const reads = [40, 120, 260, 480, 900, 1500, 2400, 3100, 4200, 6000, 52000][i]!;
    const stale = Math.round(reads * 0.4 * Math.exp(-i / 2.2));
    return { sinceWriteMs, reads, stale, fraction: stale / reads };
  });
  const ops = timeline.reduce((n, p) => n + p.ops, 0);
  return {
    formatVersion: RESULT_FORMAT_VERSION,
    startedAt: '2025-01-01T12:00:00.000Z',
    config: { workload: 'ycsb-a', target: 'local', seed: 42, n: 3, r: 2, w: 2, actors: 5, durationS: 30, faults: 'kill,partition', 'note<&>': 'a "quoted" <value> & more' },
    durationMs: 30000,
    load: { records: 10000, durationMs: 1800, opsPerSec: 5555.6 },
    throughput: { operations: ops, opsPerSec: ops / 30, byOp: { read: ops / 60, update: ops / 60 } },
    latency: {
      read: { count: ops / 2, meanMs: 0.71, p50Ms: 0.42, p95Ms: 1.9, p99Ms: 4.3, p999Ms: 21.5, maxMs: 58.2 },
      update: { count: ops / 2, meanMs: 0.94, p50Ms: 0.55, p95Ms: 2.6, p99Ms: 6.1, p999Ms: 29.9, maxMs: 71.4 },
    },
    errors: { QuorumError: 812, TimeoutError: 97, 'ERR <weird> & "odd"': 3 },
    timeline,
    faults,
    cluster,
    staleness,
    checkers: {
      lostWrites: {
        valid: false,
        checked: 41200,
        violationCount: 3,
        violations: [`key user<1>&"2": write w-17 ${XSS} acknowledged at 19.2 s is missing`, "key 'k&b': write w-99 lost"],
      },
      staleReads: { valid: true, skipped: 'R+W <= N: stale reads are allowed', checked: 0, violationCount: 0, violations: [] },
      convergence: { valid: true, checked: 10000, violationCount: 0, violations: [], timeToConvergeMs: 1840, repairPasses: 2, divergentKeys: [] },
    },
    valid: false,
    ...overrides,
  };
}

/** The `<svg data-chart=…>…</svg>` element for one chart. */
function chartSvg(html: string, chart: string): string {
  const m = new RegExp(`<svg data-chart="${chart}"[\\s\\S]*?</svg>`).exec(html);
  if (m === null) throw new Error(`no ${chart} chart`);
  return m[0];
}

function seriesPoints(svg: string): Map<string, number> {
  return new Map([...svg.matchAll(/data-series="([^"]+)" data-points="(\d+)"/g)].map((m) => [m[1]!, Number(m[2])]));
}

test('the report is one self-contained HTML document with every chart drawn from the data', (t) => {
  const html = renderReport(syntheticResult());
  t.regex(html, /^<!doctype html>/);
  t.notRegex(html, /<script\b/i, 'no scripts at all (and the injected one is escaped)');
  t.notRegex(html, /<(link|img|iframe|object|embed)\b/i, 'no external resources');
  t.notRegex(html, /\b(src|href)=|url\(|@import/i, 'nothing to fetch');
  for (const chart of CHARTS) {
    const svg = chartSvg(html, chart);
    t.notRegex(svg, /no data/, `${chart} has data`);
    t.true([...seriesPoints(svg).values()].some((n) => n > 0), `${chart} draws a series with points`);
  }
  t.deepEqual(seriesPoints(chartSvg(html, 'throughput')), new Map([['ops-per-sec', 30], ['errors-per-sec', 30]]));
  t.deepEqual(seriesPoints(chartSvg(html, 'latency')), new Map([['p50', 30], ['p99', 30], ['max', 30]]));
  t.deepEqual(seriesPoints(chartSvg(html, 'staleness')), new Map([['reads', 11], ['stale-fraction', 11]]));
  t.deepEqual(seriesPoints(chartSvg(html, 'cluster')), new Map([['hints-pending', 31], ['repair-keys-sent', 31], ['read-repairs', 31]]));
  for (const chart of ['throughput', 'latency', 'cluster']) {
    const svg = chartSvg(html, chart);
    t.is(svg.match(/data-fault="kill"/g)?.length, 1, `${chart} shades the kill`);
    t.is(svg.match(/data-fault="partition"/g)?.length, 1, `${chart} shades the partition`);
  }
  t.regex(html, /data-verdict="fail">FAIL</);
  t.regex(html, /R\+W &lt;= N: stale reads are allowed/, 'the skip reason is shown');
  t.regex(html, /partition \[0,1\] \| \[2,3,4\]/, 'the fault timeline lists descriptions');
});

test('every string from the result is escaped, so a violation is rendered as text', (t) => {
  const html = renderReport(syntheticResult());
  t.false(html.includes(XSS));
  t.true(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  t.true(html.includes('key user&lt;1&gt;&amp;&quot;2&quot;'));
  t.true(html.includes('key &#39;k&amp;b&#39;'));
  t.true(html.includes('ERR &lt;weird&gt; &amp; &quot;odd&quot;'), 'error types');
  t.true(html.includes('note&lt;&amp;&gt;'), 'config keys');
  t.true(html.includes('a &quot;quoted&quot; &lt;value&gt; &amp; more'), 'config values');
  const hostile = renderReport(syntheticResult({ faults: [{ kind: 'x"><b>k', startMs: 0, endMs: 10, targets: [], description: '</td><i>' }] }));
  t.false(hostile.includes('"><b>k'), 'fault kinds are escaped in attributes too');
  t.false(hostile.includes('</td><i>'));
});

test('empty series say "no data" instead of drawing nothing; a passing run reads PASS', (t) => {
  const noCluster = renderReport(syntheticResult({ cluster: [] }));
  t.regex(chartSvg(noCluster, 'cluster'), />no data</);
  t.notRegex(chartSvg(noCluster, 'throughput'), /no data/);

  const empty = renderReport(syntheticResult({ timeline: [], cluster: [], staleness: [], faults: [], errors: {}, latency: {}, config: {} }));
  for (const chart of CHARTS) t.regex(chartSvg(empty, chart), />no data</, `${chart} says no data`);
  t.regex(empty, /no faults were injected/);
  t.regex(empty, /no errors/);

  const ok = syntheticResult();
  const pass = renderReport({ ...ok, valid: true, checkers: { ...ok.checkers, lostWrites: { valid: true, checked: 41200, violationCount: 0, violations: [] } } });
  t.regex(pass, /data-verdict="pass">PASS</);
});

test('headless Chromium renders every chart with visible data, fault bands and the verdict', async (t) => {
  const problems: string[] = [];
  const requests: string[] = [];
  const listen = (page: Page): void => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('request', (req) => requests.push(req.url()));
  };
  await inChromium(t, renderReport(syntheticResult()), async (page, dir) => {
    // set to keep the screenshot (the temp dir is removed)
    const screenshotPath = process.env['STRESS_REPORT_SCREENSHOT'] ?? join(dir, 'report.png');

    t.is(await page.locator('[data-verdict]').innerText(), 'FAIL');
    for (const chart of CHARTS) {
      const svg = page.locator(`svg[data-chart="${chart}"]`);
      t.true(await svg.isVisible(), `${chart} chart visible`);
      const box = await svg.boundingBox();
      t.true(box !== null && box.width > 0 && box.height > 0, `${chart} chart has a size`);
      const drawn: string[] = [];
      for (const s of await svg.locator('[data-series]').all()) {
        const points = Number(await s.getAttribute('data-points'));
        const sBox = await s.boundingBox();
        if (points > 0 && sBox !== null && sBox.width > 0 && sBox.height > 0) drawn.push(`${await s.getAttribute('data-series')}`);
      }
      t.true(drawn.length > 0, `${chart} draws at least one series with points and a visible extent`);
    }
    const bands = page.locator('svg[data-chart="throughput"] [data-fault]');
    t.is(await bands.count(), 2);
    for (const kind of ['kill', 'partition']) {
      const band = await page.locator(`svg[data-chart="throughput"] [data-fault="${kind}"]`).boundingBox();
      t.true(band !== null && band.width > 0 && band.height > 0, `${kind} band drawn`);
    }
    t.true(await page.getByText(XSS).first().isVisible(), 'the hostile violation is shown as text');

    await page.screenshot({ path: screenshotPath, fullPage: true });
    t.true(statSync(screenshotPath).size > 10_000, 'screenshot written');
    t.log(`screenshot: ${screenshotPath}`);
    t.deepEqual(problems, []);
    t.deepEqual(
      requests.filter((u) => !u.startsWith('file:')),
      [],
      'nothing but the file itself is loaded',
    );
  }, listen);
});

/**
 * A 5.1 s run with 1 s windows: five full windows and a last one of 100 ms,
 * all at 5000 ops/s; cluster samples go on to 7 s (taken while converging).
 */
function shortRun(): StressResult {
  const timeline: TimelinePoint[] = Array.from({ length: 6 }, (_, i) => {
    const lengthMs = i < 5 ? 1000 : 100;
    const ops = i < 5 ? 5000 + (i % 2) * 100 : 500; // 5000 or 5100 ops/s: a little wobble so the line has height
    return { tMs: i * 1000, lengthMs, ops, errors: i === 5 ? 10 : 0, opsPerSec: Math.round((ops * 1000) / lengthMs), p50Ms: 0.5, p99Ms: 3, maxMs: 20 };
  });
  const cluster: ClusterSample[] = Array.from({ length: 8 }, (_, i) => ({ tMs: i * 1000, hintsPending: 10 * i, repairKeysSent: 5 * i, readRepairs: i, actorsUp: 5 }));
  const ops = timeline.reduce((n, p) => n + p.ops, 0);
  return syntheticResult({ durationMs: 5100, timeline, cluster, faults: [], throughput: { operations: ops, opsPerSec: Math.round(ops / 5.1), byOp: { read: ops } } });
}

/** [x, y] of every vertex of a series' path. */
function vertices(svg: string, series: string): [number, number][] {
  const d = new RegExp(`data-series="${series}"[^>]* d="([^"]*)"`).exec(svg)?.[1] ?? '';
  return [...d.matchAll(/[ML](-?[\d.]+) (-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

test('a partial last window is drawn as a rate over its real length, and the time axis ends with the run (headless Chromium)', async (t) => {
  const html = renderReport(shortRun());
  const svg = chartSvg(html, 'throughput');
  const points = vertices(svg, 'ops-per-sec');
  t.is(points.length, 6);
  const ys = points.map(([, y]) => y);
  const spread = Math.max(...ys.slice(0, 5)) - Math.min(...ys.slice(0, 5));
  t.true(Math.abs(ys[5]! - ys[4]!) <= spread + 1, `the last window is at the same rate as the others, not a drop: ${ys.join(' ')}`);
  const ticks = [...svg.matchAll(/text-anchor="middle" class="tick">([^<]+)</g)].map((m) => Number(m[1]));
  t.true(ticks.length > 2);
  t.true(Math.max(...ticks) <= 5.1, `time ticks stop at the run's end: ${ticks.join(' ')}`);
  t.is(Math.max(...ticks), 5, 'and reach it');
  // errors/s over the last window's real length: 10 errors in 100 ms are 100/s, the right axis's top
  t.true(vertices(svg, 'errors-per-sec').length === 6);

  await inChromium(t, html, async (page) => {
    for (const chart of ['throughput', 'latency', 'cluster']) {
      const plot = await page.locator(`svg[data-chart="${chart}"] rect.plot-bg`).boundingBox();
      t.truthy(plot, chart);
      for (const s of await page.locator(`svg[data-chart="${chart}"] [data-series]`).all()) {
        const box = await s.boundingBox();
        if (box === null || plot === null) continue;
        // round caps stick out by half the stroke width
        t.true(box.x + box.width <= plot.x + plot.width + 3, `${chart}/${await s.getAttribute('data-series')} ends within the time axis`);
      }
    }
    // the line does reach the run's last window
    const line = await page.locator('svg[data-chart="throughput"] [data-series="ops-per-sec"]').boundingBox();
    const plot = await page.locator('svg[data-chart="throughput"] rect.plot-bg').boundingBox();
    t.true(line !== null && plot !== null && line.x + line.width > plot.x + plot.width * 0.9, 'the throughput line reaches the last window');
  });
});

test('the runner measures each timeline window over its real length: the last one ends with the run', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringkv-windows-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const result = await runStress({
    target: 'local', workload: 'a', records: 100, durationMs: 1250, operations: 0, clients: 2, threads: 1, ratePerSec: 400, valueBytes: 50, setKeys: 4, seed: 3,
    nemesis: { kind: 'none' }, actors: 3, n: 3, r: 2, w: 2, strict: false, lww: false, dataDir, timeoutMs: 2000, convergeTimeoutMs: 30_000, windowMs: 500, maxHistoryOps: 100_000, maxInspectKeys: 1000,
  });
  const tl = result.timeline;
  t.true(tl.length >= 3, JSON.stringify(tl));
  for (const p of tl) {
    const expected = Math.max(1, Math.min(500, Math.round(result.durationMs - p.tMs)));
    t.is(p.lengthMs, expected, `window at ${p.tMs} ms`);
    t.is(p.opsPerSec, Math.round((p.ops * 1000) / expected));
  }
  t.true(tl.at(-1)!.lengthMs! < 500, 'a 1.25 s run ends in a partial window');
});
