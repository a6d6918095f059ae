// The load generators' histograms and counts, merged into the run's
// throughput, latency and timeline.
import * as hdr from 'hdr-histogram-js';
import type { LoadTaskResult } from './loadgen.js';
import type { LatencySummary, OpName, TimelinePoint } from './result.js';

function summarize(h: hdr.Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  return {
    count: h.totalCount,
    meanMs: ms(h.mean),
    p50Ms: ms(h.getValueAtPercentile(50)),
    p95Ms: ms(h.getValueAtPercentile(95)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
  };
}

export function mergeResults(results: readonly LoadTaskResult[], runStartMs: number, runEndMs: number, windowMs: number) {
  const perOp = new Map<OpName, hdr.Histogram>();
  const byOp: Partial<Record<OpName, number>> = {};
  const errors: Record<string, number> = {};
  const windows: { ops: number; errors: number; histogram: hdr.Histogram }[] = [];
  for (const r of results) {
    for (const [name, encoded] of Object.entries(r.histograms) as [OpName, string][]) {
      const h = hdr.decodeFromCompressedBase64(encoded, 'packed');
      const into = perOp.get(name);
      if (into === undefined) perOp.set(name, h);
      else into.add(h);
    }
    for (const [name, count] of Object.entries(r.counts) as [OpName, number][]) byOp[name] = (byOp[name] ?? 0) + count;
    for (const [type, count] of Object.entries(r.errors)) errors[type] = (errors[type] ?? 0) + count;
    r.windows.forEach((w, i) => {
      while (windows.length <= i) windows.push({ ops: 0, errors: 0, histogram: hdr.build({ bitBucketSize: 'packed' }) });
      if (w === null) return;
      windows[i]!.ops += w.ops;
      windows[i]!.errors += w.errors;
      windows[i]!.histogram.add(hdr.decodeFromCompressedBase64(w.histogram, 'packed'));
    });
  }
  const operations = Object.values(byOp).reduce((a, b) => a + b, 0);
  const durationMs = Math.max(1, runEndMs - runStartMs);
  const latency: Partial<Record<OpName, LatencySummary>> = {};
  for (const [name, h] of perOp) latency[name] = summarize(h);
  const timeline: TimelinePoint[] = windows.map((w, i) => {
    const s = w.histogram.totalCount === 0 ? null : summarize(w.histogram);
    // the last window ends with the run: a rate over the full windowMs would show a false drop
    const lengthMs = Math.max(1, Math.min(windowMs, Math.round(durationMs - i * windowMs)));
    return { tMs: i * windowMs, lengthMs, ops: w.ops, errors: w.errors, opsPerSec: Math.round((w.ops * 1000) / lengthMs), p50Ms: s?.p50Ms ?? 0, p99Ms: s?.p99Ms ?? 0, maxMs: s?.maxMs ?? 0 };
  });
  return { throughput: { operations, opsPerSec: Math.round((operations * 1000) / durationMs), byOp }, latency, errors, timeline };
}
