import test from 'ava';
import { recordRequest, registry } from '../src/server/metrics.js';

/** The value of one exposition line, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('request metrics: counts by outcome and a cumulative latency histogram, as Prometheus expects', async (t) => {
  const op = 'metrics-test-op';
  const seconds = [0.0001, 0.0005, 0.0007, 0.003, 0.2, 12, Number.NaN, -1];
  for (const s of seconds) recordRequest('resp', op, 'ok', s);
  recordRequest('resp', op, 'quorum_not_reached', 0.002);
  recordRequest('resp', op, 'quorum_not_reached', 0.004);
  const text = await registry.metrics();
  const labels = `front_end="resp",operation="${op}"`;
  t.is(sample(text, `ringkv_requests_total{${labels},outcome="ok"}`), 8, 'every request counts, timed or not');
  t.is(sample(text, `ringkv_requests_total{${labels},outcome="quorum_not_reached"}`), 2);
  t.regex(text, /# TYPE ringkv_requests_total counter/);
  t.regex(text, /# TYPE ringkv_request_duration_seconds histogram/);
  // timed: the 6 finite, non-negative ones and the 2 failures; le is an upper bound, inclusive
  const expected: [string, number][] = [
    ['0.0005', 2],
    ['0.001', 3],
    ['0.0025', 4],
    ['0.005', 6],
    ['0.25', 7],
    ['10', 7],
    ['+Inf', 8],
  ];
  for (const [le, n] of expected) t.is(sample(text, `ringkv_request_duration_seconds_bucket{le="${le}",${labels}}`), n, `le=${le}`);
  t.is(sample(text, `ringkv_request_duration_seconds_count{${labels}}`), 8);
  const sum = sample(text, `ringkv_request_duration_seconds_sum{${labels}}`)!;
  t.true(Math.abs(sum - (0.0001 + 0.0005 + 0.0007 + 0.003 + 0.2 + 12 + 0.002 + 0.004)) < 1e-9);
  // a second scrape reports the same totals (counters are not added twice)
  const again = await registry.metrics();
  t.is(sample(again, `ringkv_requests_total{${labels},outcome="ok"}`), 8);
  t.is(sample(again, `ringkv_request_duration_seconds_count{${labels}}`), 8);
});
