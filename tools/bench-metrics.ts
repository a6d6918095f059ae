// `npm run bench:metrics`: what recording one request's metrics costs a
// front end (CPU µs per request, timing included), beside prom-client's own
// labelled inc()/observe() on the same series shape, alternating, medians.
import { Counter, Histogram, Registry } from 'prom-client';
import { recordRequest } from '../src/server/metrics.js';

const CALLS = 1_000_000;
const ROUNDS = 5;
const OPS = ['get', 'set'] as const;

const registry = new Registry();
const counter = new Counter({ name: 'bench_requests_total', help: 'h', labelNames: ['front_end', 'operation', 'outcome'] as const, registers: [registry] });
const histogram = new Histogram({ name: 'bench_request_duration_seconds', help: 'h', labelNames: ['front_end', 'operation'] as const, buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });

function cpuUsPerCall(record: (op: string, seconds: number) => void): number {
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) {
    const startedMs = performance.now();
    record(OPS[i & 1]!, (performance.now() - startedMs) / 1000);
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / CALLS;
}

const ringkv: number[] = [];
const promClient: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  ringkv.push(cpuUsPerCall((op, s) => recordRequest('resp', op, 'ok', s)));
  promClient.push(
    cpuUsPerCall((op, s) => {
      counter.inc({ front_end: 'resp', operation: op, outcome: 'ok' });
      histogram.observe({ front_end: 'resp', operation: op }, s);
    }),
  );
}
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`request metrics, ${CALLS.toLocaleString()} calls x ${ROUNDS} rounds (alternating), CPU µs per request incl. two performance.now():`);
console.log(`  ringkv recordRequest (tallies, rendered at scrape): ${median(ringkv).toFixed(3)} (runs ${ringkv.map((x) => x.toFixed(2)).join('/')})`);
console.log(`  prom-client inc + observe with labels:             ${median(promClient).toFixed(3)} (runs ${promClient.map((x) => x.toFixed(2)).join('/')})`);
