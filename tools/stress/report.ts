/**
 * The stress lab's HTML report: one self-contained page (inline CSS, inline
 * SVG charts, no scripts, no external resources) drawn from a run's
 * result.json. Pure: a string in, a string out, so it can be tested without
 * a browser and opened from a CI artifact without a server.
 *
 * Every chart `<svg>` carries `data-chart`, every drawn series `data-series`
 * and `data-points`, every fault band `data-fault`: hooks for tests.
 */
import type { StalenessBucket } from './checker.js';
import type { CheckerVerdict, ClusterSample, ConvergenceVerdict, FaultWindow, LatencySummary, StressResult, TimelinePoint } from './result.js';

// ---------------------------------------------------------------- formatting

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape for both text and attribute values: everything from the result goes through here. */
function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function withCommas(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function fmtInt(n: number): string {
  return Number.isFinite(n) ? withCommas(Math.round(n).toString()) : '–';
}

/** Rates and the like: whole numbers when large, one decimal when small. */
function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return Math.abs(n) >= 100 ? fmtInt(n) : n.toFixed(1);
}

/** Milliseconds with about three significant digits (what the HDR histogram keeps). */
function fmtMs(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 100) return fmtInt(n);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

function fmtSeconds(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  const s = ms / 1000;
  return Math.abs(s) >= 100 ? `${fmtInt(s)} s` : `${Number(s.toFixed(2))} s`;
}

/** Axis tick labels: compact (12k, 1.5M) and no float noise (0.30000000000000004). */
function fmtTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(4)));
}

function fmtConfigValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

// ---------------------------------------------------------------- scales

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

interface Scale {
  /** Value → pixel. */
  readonly at: (v: number) => number;
  readonly ticks: readonly number[];
  readonly log: boolean;
}

/** Linear from 0 to a rounded-up maximum. */
function linearScale(maxValue: number, pxLow: number, pxHigh: number, tickCount = 5): Scale {
  const top = maxValue > 0 && Number.isFinite(maxValue) ? maxValue : 1;
  const step = niceStep(top / tickCount);
  const max = Math.ceil(top / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; i * step <= max + step * 1e-9; i++) ticks.push(i * step);
  return { at: (v) => pxLow + ((pxHigh - pxLow) * v) / max, ticks, log: false };
}

/** Log10 over whole decades; values at or below the floor are drawn on it. */
function logScale(values: readonly number[], pxLow: number, pxHigh: number): Scale {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  const minV = positive.length > 0 ? Math.min(...positive) : 1;
  const maxV = positive.length > 0 ? Math.max(...positive) : 10;
  const lo = Math.floor(Math.log10(minV));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(maxV)));
  const ticks: number[] = [];
  for (let d = lo; d <= hi; d++) {
    ticks.push(10 ** d);
    if (hi - lo <= 3 && d < hi) ticks.push(2 * 10 ** d, 5 * 10 ** d);
  }
  ticks.sort((a, b) => a - b);
  const at = (v: number): number => {
    const e = Math.min(hi, Math.max(lo, v > 0 ? Math.log10(v) : lo));
    return pxLow + ((pxHigh - pxLow) * (e - lo)) / (hi - lo);
  };
  return { at, ticks, log: true };
}

// ---------------------------------------------------------------- chart frame

const VIEW_W = 960;
const VIEW_H = 330;
const M = { top: 52, right: 76, bottom: 50, left: 76 } as const;
const PLOT = { x0: M.left, x1: VIEW_W - M.right, y0: M.top, y1: VIEW_H - M.bottom } as const;
const CHAR_W_PX = 6.3; // rough advance of a 12px sans-serif character, for laying out labels

const COLORS = { blue: '#2563eb', red: '#dc2626', green: '#059669', slate: '#475569', orange: '#ea580c' } as const;
const READS_FILL = '#cbd5e1';
/** Fault bands: hues kept apart from the series colours so a band never reads as a line. */
const FAULT_PALETTE = ['#f59e0b', '#8b5cf6', '#ec4899', '#14b8a6', '#64748b', '#84cc16'] as const;
const FAULT_FIXED: Readonly<Record<string, string>> = { kill: '#f59e0b', partition: '#8b5cf6' };

function faultColors(faults: readonly FaultWindow[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of faults) {
    if (out.has(f.kind)) continue;
    const used = new Set(out.values());
    const free = FAULT_PALETTE.find((c) => !used.has(c) && !Object.values(FAULT_FIXED).includes(c));
    out.set(f.kind, FAULT_FIXED[f.kind] ?? free ?? FAULT_PALETTE[out.size % FAULT_PALETTE.length]!);
  }
  return out;
}

const r1 = (n: number): string => String(Math.round(n * 10) / 10);

function svgOpen(chart: string, label: string, heightPx = VIEW_H): string {
  return `<svg data-chart="${esc(chart)}" viewBox="0 0 ${VIEW_W} ${heightPx}" role="img" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg">`;
}

function noData(chart: string, label: string, why: string): string {
  const h = 120;
  return (
    `${svgOpen(chart, `${label}: no data`, h)}` +
    `<rect x="1" y="1" width="${VIEW_W - 2}" height="${h - 2}" rx="8" class="nodata-frame"/>` +
    `<text x="${VIEW_W / 2}" y="${h / 2 - 4}" text-anchor="middle" class="nodata">no data</text>` +
    `<text x="${VIEW_W / 2}" y="${h / 2 + 18}" text-anchor="middle" class="muted">${esc(why)}</text></svg>`
  );
}

interface LegendItem {
  readonly label: string;
  readonly color: string;
  readonly kind: 'line' | 'dashed' | 'band' | 'bar';
}

/** One or two rows above the plot, left-aligned with it. */
function legend(items: readonly LegendItem[]): string {
  let x: number = PLOT.x0;
  let y = 18;
  const parts: string[] = [];
  for (const it of items) {
    const widthPx = 24 + it.label.length * CHAR_W_PX + 16;
    if (x + widthPx > PLOT.x1 && x > PLOT.x0) {
      x = PLOT.x0;
      y += 17;
    }
    const swatch =
      it.kind === 'band' || it.kind === 'bar'
        ? `<rect x="${r1(x)}" y="${y - 9}" width="18" height="11" rx="2" fill="${it.color}" fill-opacity="${it.kind === 'band' ? 0.25 : 0.8}" stroke="${it.color}"/>`
        : `<line x1="${r1(x)}" y1="${y - 4}" x2="${r1(x + 18)}" y2="${y - 4}" stroke="${it.color}" stroke-width="2.5"${it.kind === 'dashed' ? ' stroke-dasharray="5 3"' : ''}/>`;
    parts.push(`${swatch}<text x="${r1(x + 24)}" y="${y}" class="legend">${esc(it.label)}</text>`);
    x += widthPx;
  }
  return `<g class="legend-box">${parts.join('')}</g>`;
}

function yAxis(scale: Scale, side: 'left' | 'right', title: string, grid: boolean): string {
  const x = side === 'left' ? PLOT.x0 : PLOT.x1;
  const dx = side === 'left' ? -8 : 8;
  const anchor = side === 'left' ? 'end' : 'start';
  const parts = [`<line x1="${x}" y1="${PLOT.y0}" x2="${x}" y2="${PLOT.y1}" class="axis"/>`];
  for (const v of scale.ticks) {
    const y = r1(scale.at(v));
    if (grid) parts.push(`<line x1="${PLOT.x0}" y1="${y}" x2="${PLOT.x1}" y2="${y}" class="grid"/>`);
    parts.push(`<line x1="${x}" y1="${y}" x2="${x + dx / 2}" y2="${y}" class="axis"/>`);
    parts.push(`<text x="${x + dx}" y="${y}" dy="0.32em" text-anchor="${anchor}" class="tick">${fmtTick(v)}</text>`);
  }
  const tx = side === 'left' ? 18 : VIEW_W - 14;
  const ty = (PLOT.y0 + PLOT.y1) / 2;
  parts.push(`<text transform="translate(${tx} ${ty}) rotate(-90)" text-anchor="middle" class="axis-title">${esc(title)}</text>`);
  return parts.join('');
}

/** Time axis in seconds since the run phase began. */
function timeAxis(xMaxMs: number, at: (tMs: number) => number): string {
  const stepS = niceStep(xMaxMs / 1000 / 10);
  const parts = [`<line x1="${PLOT.x0}" y1="${PLOT.y1}" x2="${PLOT.x1}" y2="${PLOT.y1}" class="axis"/>`];
  for (let i = 0; i * stepS * 1000 <= xMaxMs + 1e-6; i++) {
    const tS = i * stepS;
    const x = r1(at(tS * 1000));
    parts.push(`<line x1="${x}" y1="${PLOT.y1}" x2="${x}" y2="${PLOT.y1 + 5}" class="axis"/>`);
    parts.push(`<text x="${x}" y="${PLOT.y1 + 18}" text-anchor="middle" class="tick">${fmtTick(tS)}</text>`);
  }
  parts.push(`<text x="${(PLOT.x0 + PLOT.x1) / 2}" y="${VIEW_H - 8}" text-anchor="middle" class="axis-title">time since run start, s</text>`);
  return parts.join('');
}

/** Translucent bands under the series, labels staggered into lanes so overlapping faults stay legible. */
function faultBands(faults: readonly FaultWindow[], colors: ReadonlyMap<string, string>, at: (tMs: number) => number): { bands: string; labels: string } {
  const bands: string[] = [];
  const labels: string[] = [];
  const laneEndPx: number[] = [];
  const sorted = [...faults].sort((a, b) => a.startMs - b.startMs);
  for (const f of sorted) {
    const color = colors.get(f.kind) ?? FAULT_PALETTE[0];
    const xStart = at(f.startMs);
    const xEnd = Math.max(xStart + 2, at(Number.isFinite(f.endMs) ? f.endMs : Infinity));
    const tip = `${f.kind}: ${fmtSeconds(f.startMs)} – ${fmtSeconds(f.endMs)}${f.description ? ` — ${f.description}` : ''}`;
    bands.push(
      `<rect data-fault="${esc(f.kind)}" x="${r1(xStart)}" y="${PLOT.y0}" width="${r1(xEnd - xStart)}" height="${PLOT.y1 - PLOT.y0}" fill="${color}" fill-opacity="0.13" stroke="${color}" stroke-opacity="0.55" stroke-dasharray="3 3"><title>${esc(tip)}</title></rect>`,
    );
    const textWidthPx = f.kind.length * CHAR_W_PX + 8;
    let lane = laneEndPx.findIndex((end) => end < xStart);
    if (lane < 0) lane = laneEndPx.length;
    laneEndPx[lane] = xStart + textWidthPx;
    labels.push(`<text x="${r1(xStart + 4)}" y="${PLOT.y0 + 14 + lane * 14}" class="fault-label">${esc(f.kind)}</text>`);
  }
  return { bands: bands.join(''), labels: labels.join('') };
}

interface TimeSeries {
  readonly name: string;
  readonly label: string;
  readonly color: string;
  readonly axis: 'left' | 'right';
  readonly dashed?: boolean;
  /** [tMs, value]; a null value breaks the line (a window with nothing to measure). */
  readonly points: readonly (readonly [number, number | null])[];
}

interface TimeChart {
  readonly chart: string;
  readonly label: string;
  readonly xMaxMs: number;
  readonly left: { readonly title: string; readonly log?: boolean };
  readonly right?: { readonly title: string };
  readonly series: readonly TimeSeries[];
  readonly faults: readonly FaultWindow[];
  readonly faultColors: ReadonlyMap<string, string>;
}

function seriesPath(s: TimeSeries, at: (tMs: number) => number, scale: Scale): string {
  let d = '';
  let pen = false;
  let drawn = 0;
  for (const [tMs, v] of s.points) {
    if (v === null || !Number.isFinite(v) || !Number.isFinite(tMs)) {
      pen = false;
      continue;
    }
    const x = r1(at(tMs));
    const y = r1(scale.at(v));
    d += `${pen ? 'L' : 'M'}${x} ${y}`;
    // a lone point would draw nothing: give it a tiny segment so the round cap shows a dot
    if (!pen && s.points.length === 1) d += `L${x} ${y}`;
    pen = true;
    drawn++;
  }
  const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
  return `<path data-series="${esc(s.name)}" data-points="${drawn}" d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.dashed === true ? 1.6 : 2.2}" stroke-linejoin="round" stroke-linecap="round"${dash}><title>${esc(s.label)}</title></path>`;
}

function timeChart(chart: TimeChart): string {
  const xMaxMs = chart.xMaxMs > 0 ? chart.xMaxMs : 1000;
  // points past the axis's end (samples taken while converging) are not drawn, rather than piled on its edge
  const c: TimeChart = { ...chart, series: chart.series.map((s) => ({ ...s, points: s.points.filter(([tMs]) => tMs <= xMaxMs) })) };
  const at = (tMs: number): number => PLOT.x0 + ((PLOT.x1 - PLOT.x0) * Math.min(Math.max(tMs, 0), xMaxMs)) / xMaxMs;
  const valuesOf = (axis: 'left' | 'right'): number[] =>
    c.series.filter((s) => s.axis === axis).flatMap((s) => s.points.map(([, v]) => v).filter((v): v is number => v !== null && Number.isFinite(v)));
  const left = c.left.log === true ? logScale(valuesOf('left'), PLOT.y1, PLOT.y0) : linearScale(Math.max(0, ...valuesOf('left')), PLOT.y1, PLOT.y0);
  const right = c.right === undefined ? undefined : linearScale(Math.max(0, ...valuesOf('right')), PLOT.y1, PLOT.y0, 4);
  const bands = faultBands(c.faults, c.faultColors, at);
  const legendItems: LegendItem[] = c.series.map((s) => ({ label: s.axis === 'right' && c.right !== undefined ? `${s.label} (right axis)` : s.label, color: s.color, kind: s.dashed === true ? 'dashed' : 'line' }));
  for (const [kind, color] of c.faultColors) if (c.faults.some((f) => f.kind === kind)) legendItems.push({ label: `fault: ${kind}`, color, kind: 'band' });
  return (
    svgOpen(c.chart, c.label) +
    `<rect x="${PLOT.x0}" y="${PLOT.y0}" width="${PLOT.x1 - PLOT.x0}" height="${PLOT.y1 - PLOT.y0}" class="plot-bg"/>` +
    yAxis(left, 'left', c.left.title, true) +
    (right !== undefined && c.right !== undefined ? yAxis(right, 'right', c.right.title, false) : '') +
    bands.bands +
    timeAxis(xMaxMs, at) +
    c.series.map((s) => seriesPath(s, at, s.axis === 'right' && right !== undefined ? right : left)).join('') +
    bands.labels +
    legend(legendItems) +
    '</svg>'
  );
}

// ---------------------------------------------------------------- the four charts

/**
 * The time axis ends where the run phase ended: cluster samples go on through
 * convergence, and drawing them would stretch the axis past the run.
 */
function xMaxOf(result: StressResult): number {
  if (Number.isFinite(result.durationMs) && result.durationMs > 0) return result.durationMs;
  const ends = [...result.timeline.map((p) => p.tMs), ...result.cluster.map((s) => s.tMs), ...result.faults.map((f) => f.endMs)];
  return Math.max(0, ...ends.filter((v) => Number.isFinite(v)));
}

/** Length of each timeline window, s: as recorded, else from ops/opsPerSec when there were ops, else the sample spacing. */
function windowSeconds(timeline: readonly TimelinePoint[]): number[] {
  const spacings = timeline.slice(1).map((p, i) => p.tMs - timeline[i]!.tMs).filter((d) => d > 0).sort((a, b) => a - b);
  const typicalS = spacings.length > 0 ? spacings[Math.floor(spacings.length / 2)]! / 1000 : 1;
  return timeline.map((p) => (p.lengthMs !== undefined && p.lengthMs > 0 ? p.lengthMs / 1000 : p.ops > 0 && p.opsPerSec > 0 ? p.ops / p.opsPerSec : typicalS));
}

function throughputChart(result: StressResult, colors: ReadonlyMap<string, string>): string {
  const tl = result.timeline;
  if (tl.length === 0) return noData('throughput', 'Throughput over time', 'the run recorded no timeline');
  const windowS = windowSeconds(tl);
  return timeChart({
    chart: 'throughput',
    label: 'Throughput and errors per second over time, with fault windows',
    xMaxMs: xMaxOf(result),
    left: { title: 'throughput, ops/s' },
    right: { title: 'errors/s' },
    series: [
      { name: 'ops-per-sec', label: 'ops/s', color: COLORS.blue, axis: 'left', points: tl.map((p) => [p.tMs, p.opsPerSec]) },
      { name: 'errors-per-sec', label: 'errors/s', color: COLORS.red, axis: 'right', dashed: true, points: tl.map((p, i) => [p.tMs, p.errors / windowS[i]!]) },
    ],
    faults: result.faults,
    faultColors: colors,
  });
}

function latencyChart(result: StressResult, colors: ReadonlyMap<string, string>): string {
  const tl = result.timeline;
  if (tl.length === 0) return noData('latency', 'Latency over time', 'the run recorded no timeline');
  // windows without operations have no latency: break the line rather than draw a false zero
  const pick = (f: (p: TimelinePoint) => number) => tl.map((p): [number, number | null] => [p.tMs, p.ops > 0 ? f(p) : null]);
  return timeChart({
    chart: 'latency',
    label: 'Latency percentiles over time (log scale), with fault windows',
    xMaxMs: xMaxOf(result),
    left: { title: 'latency, ms (log scale)', log: true },
    series: [
      { name: 'p50', label: 'p50', color: COLORS.green, axis: 'left', points: pick((p) => p.p50Ms) },
      { name: 'p99', label: 'p99', color: COLORS.blue, axis: 'left', points: pick((p) => p.p99Ms) },
      { name: 'max', label: 'max', color: COLORS.red, axis: 'left', dashed: true, points: pick((p) => p.maxMs) },
    ],
    faults: result.faults,
    faultColors: colors,
  });
}

function clusterChart(result: StressResult, colors: ReadonlyMap<string, string>): string {
  const cs: readonly ClusterSample[] = result.cluster;
  if (cs.length === 0) return noData('cluster', 'Hints and repair traffic over time', 'no cluster samples (e.g. the target was not a ringkv cluster)');
  return timeChart({
    chart: 'cluster',
    label: 'Hints pending and repair traffic over time, with fault windows',
    xMaxMs: xMaxOf(result),
    left: { title: 'hints pending' },
    right: { title: 'cumulative keys / repairs' },
    series: [
      { name: 'hints-pending', label: 'hints pending', color: COLORS.blue, axis: 'left', points: cs.map((s) => [s.tMs, s.hintsPending]) },
      { name: 'repair-keys-sent', label: 'repair keys sent', color: COLORS.green, axis: 'right', points: cs.map((s) => [s.tMs, s.repairKeysSent]) },
      { name: 'read-repairs', label: 'read repairs', color: COLORS.slate, axis: 'right', dashed: true, points: cs.map((s) => [s.tMs, s.readRepairs]) },
    ],
    faults: result.faults,
    faultColors: colors,
  });
}

function bucketLabel(buckets: readonly StalenessBucket[], i: number): string {
  const lo = buckets[i]!.sinceWriteMs;
  const next = buckets[i + 1];
  return next === undefined ? `≥${fmtTick(lo)}` : `${fmtTick(lo)}–${fmtTick(next.sinceWriteMs)}`;
}

/**
 * Stale fraction per bucket as bars (one path, so one series element), in
 * front of wide pale bars of the read counts on a log axis: counts span
 * decades (most reads come long after the write), and a linear axis would
 * flatten every bucket but the last.
 */
function stalenessChart(result: StressResult): string {
  const buckets = result.staleness;
  const totalReads = buckets.reduce((n, b) => n + b.reads, 0);
  if (buckets.length === 0 || totalReads === 0) return noData('staleness', 'Staleness curve', 'no reads were measured against an acknowledged write');
  const slotPx = (PLOT.x1 - PLOT.x0) / buckets.length;
  const barPx = Math.min(44, slotPx * 0.5);
  const readsBarPx = Math.min(76, slotPx * 0.84);
  const center = (i: number): number => PLOT.x0 + slotPx * (i + 0.5);
  const fractions = buckets.map((b) => (b.reads > 0 && Number.isFinite(b.fraction) ? b.fraction : 0));
  const maxPct = Math.max(...fractions) * 100;
  const left = linearScale(maxPct > 0 ? Math.min(100, maxPct) : 10, PLOT.y1, PLOT.y0);
  const readCounts = buckets.map((b) => b.reads);
  const right = logScale([Math.min(...readCounts.filter((n) => n > 0)), ...readCounts], PLOT.y1, PLOT.y0);
  const bar = (i: number, widthPx: number, topPx: number): string => {
    const x = center(i) - widthPx / 2;
    return topPx < PLOT.y1 ? `M${r1(x)} ${r1(PLOT.y1)}V${r1(topPx)}H${r1(x + widthPx)}V${r1(PLOT.y1)}Z` : '';
  };
  // the log axis floor is a whole decade below the smallest count, so every bucket with reads shows a bar
  const readsBars = buckets.map((b, i) => (b.reads > 0 ? bar(i, readsBarPx, right.at(b.reads)) : '')).join('');
  const staleBars = buckets.map((_, i) => bar(i, barPx, left.at(fractions[i]! * 100))).join('');
  const tips = buckets
    .map((b, i) => {
      const x = center(i) - readsBarPx / 2;
      const tip = `${bucketLabel(buckets, i)} ms: ${fmtInt(b.reads)} reads, ${fmtInt(b.stale)} stale (${(fractions[i]! * 100).toFixed(1)}%)`;
      return `<rect x="${r1(x)}" y="${PLOT.y0}" width="${r1(readsBarPx)}" height="${PLOT.y1 - PLOT.y0}" fill="transparent"><title>${esc(tip)}</title></rect>`;
    })
    .join('');
  const xTicks = buckets
    .map((b, i) => {
      const x = r1(center(i));
      return (
        `<line x1="${x}" y1="${PLOT.y1}" x2="${x}" y2="${PLOT.y1 + 5}" class="axis"/>` +
        `<text x="${x}" y="${PLOT.y1 + 17}" text-anchor="middle" class="tick">${esc(bucketLabel(buckets, i))}</text>` +
        `<text x="${x}" y="${PLOT.y1 + 30}" text-anchor="middle" class="tick muted">n=${esc(fmtTick(b.reads))}</text>`
      );
    })
    .join('');
  const barLabels = buckets
    .map((b, i) => {
      if (b.reads === 0) return '';
      const pct = fractions[i]! * 100;
      return `<text x="${r1(center(i))}" y="${r1(left.at(pct) - 5)}" text-anchor="middle" class="bar-label">${pct.toFixed(pct >= 10 || pct === 0 ? 0 : 1)}%</text>`;
    })
    .join('');
  return (
    svgOpen('staleness', 'Staleness: fraction of stale reads by time since the latest acknowledged write') +
    `<rect x="${PLOT.x0}" y="${PLOT.y0}" width="${PLOT.x1 - PLOT.x0}" height="${PLOT.y1 - PLOT.y0}" class="plot-bg"/>` +
    yAxis(left, 'left', 'stale reads, %', true) +
    yAxis(right, 'right', 'reads measured (log scale)', false) +
    `<path data-series="reads" data-points="${buckets.length}" d="${readsBars}" fill="${READS_FILL}"><title>reads measured per bucket</title></path>` +
    `<path data-series="stale-fraction" data-points="${buckets.length}" d="${staleBars}" fill="${COLORS.orange}" fill-opacity="0.85"><title>stale fraction per bucket</title></path>` +
    `<line x1="${PLOT.x0}" y1="${PLOT.y1}" x2="${PLOT.x1}" y2="${PLOT.y1}" class="axis"/>` +
    xTicks +
    `<text x="${(PLOT.x0 + PLOT.x1) / 2}" y="${VIEW_H - 3}" text-anchor="middle" class="axis-title">time since the latest acknowledged write, ms</text>` +
    barLabels +
    tips +
    legend([
      { label: 'stale reads, % (left axis)', color: COLORS.orange, kind: 'bar' },
      { label: 'reads measured (right axis, log)', color: READS_FILL, kind: 'bar' },
    ]) +
    '</svg>'
  );
}

// ---------------------------------------------------------------- tables

const OP_ORDER = ['read', 'update', 'insert', 'scan', 'rmw', 'add', 'incr'];

function table(head: readonly string[], rows: readonly (readonly string[])[], numericFrom = 1): string {
  const th = head.map((h, i) => `<th${i >= numericFrom ? ' class="num"' : ''}>${h}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${i >= numericFrom ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

function configTable(config: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(config);
  if (keys.length === 0) return '<p class="muted">no configuration recorded</p>';
  return `<table class="kv">${keys.map((k) => `<tr><th>${esc(k)}</th><td><code>${esc(fmtConfigValue(config[k]))}</code></td></tr>`).join('')}</table>`;
}

/** workload, target, seed, N/R/W from the config, whichever exist, matched case-insensitively. */
function headlineFacts(config: Readonly<Record<string, unknown>>): string {
  const find = (name: string): unknown => {
    const key = Object.keys(config).find((k) => k.toLowerCase() === name);
    return key === undefined ? undefined : config[key];
  };
  const facts: string[] = [];
  for (const name of ['workload', 'target', 'seed']) {
    const v = find(name);
    if (v !== undefined) facts.push(`<span class="chip"><b>${name}</b> ${esc(fmtConfigValue(v))}</span>`);
  }
  const [n, r, w] = ['n', 'r', 'w'].map(find);
  if (n !== undefined || r !== undefined || w !== undefined) {
    const show = (v: unknown): string => (v === undefined ? '?' : esc(fmtConfigValue(v)));
    facts.push(`<span class="chip"><b>N/R/W</b> ${show(n)}/${show(r)}/${show(w)}</span>`);
  }
  return facts.join('');
}

function opsTable(result: StressResult): string {
  const byOp = result.throughput.byOp as Readonly<Record<string, number | undefined>>;
  const latency = result.latency as Readonly<Record<string, LatencySummary | undefined>>;
  const names = [...new Set([...Object.keys(byOp), ...Object.keys(latency)])].sort((a, b) => {
    const ia = OP_ORDER.indexOf(a);
    const ib = OP_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  if (names.length === 0) return '<p class="muted">no operations recorded</p>';
  const rows = names.map((op) => {
    const l = latency[op];
    const rate = byOp[op];
    const lat = l === undefined ? Array<string>(7).fill('–') : [fmtInt(l.count), fmtMs(l.meanMs), fmtMs(l.p50Ms), fmtMs(l.p95Ms), fmtMs(l.p99Ms), fmtMs(l.p999Ms), fmtMs(l.maxMs)];
    return [`<b>${esc(op)}</b>`, rate === undefined ? '–' : fmtRate(rate), ...lat];
  });
  return table(['op', 'ops/s', 'count', 'mean', 'p50', 'p95', 'p99', 'p99.9', 'max'], rows);
}

function errorsTable(errors: Readonly<Record<string, number>>, durationMs: number): string {
  const entries = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '<p class="ok-text">no errors</p>';
  const total = entries.reduce((n, [, c]) => n + c, 0);
  const perS = (c: number): string => (durationMs > 0 ? fmtRate(c / (durationMs / 1000)) : '–');
  const rows = entries.map(([type, count]) => [`<code>${esc(type)}</code>`, fmtInt(count), perS(count)]);
  rows.push(['<b>total</b>', `<b>${fmtInt(total)}</b>`, perS(total)]);
  return table(['type', 'count', 'per s'], rows);
}

function badge(v: CheckerVerdict): string {
  if (v.skipped !== undefined) return '<span class="badge skip">SKIPPED</span>';
  return v.valid ? '<span class="badge pass">PASS</span>' : '<span class="badge fail">FAIL</span>';
}

function checkerDetails(v: CheckerVerdict, convergence?: ConvergenceVerdict): string {
  const parts: string[] = [];
  if (v.skipped !== undefined) parts.push(`<p class="muted">skipped: ${esc(v.skipped)}</p>`);
  if (convergence !== undefined && v.skipped === undefined) {
    const ttc = convergence.timeToConvergeMs === null ? '<b class="fail-text">never converged within the deadline</b>' : `converged ${fmtMs(convergence.timeToConvergeMs)} ms after heal`;
    parts.push(`<p>${ttc}, ${fmtInt(convergence.repairPasses)} repair pass${convergence.repairPasses === 1 ? '' : 'es'}</p>`);
    if (convergence.divergentKeys.length > 0) parts.push(`<p>divergent keys: ${convergence.divergentKeys.map((k) => `<code>${esc(k)}</code>`).join(', ')}</p>`);
  }
  if (v.violations.length > 0) {
    parts.push(`<ol class="violations">${v.violations.map((x) => `<li><code>${esc(x)}</code></li>`).join('')}</ol>`);
    if (v.violationCount > v.violations.length) parts.push(`<p class="muted">…and ${fmtInt(v.violationCount - v.violations.length)} more not listed</p>`);
  }
  return parts.join('') || (v.valid ? '<span class="muted">—</span>' : '');
}

function checkersTable(result: StressResult): string {
  const c = result.checkers;
  const rows: [string, CheckerVerdict, ConvergenceVerdict | undefined][] = [
    ['no lost writes', c.lostWrites, undefined],
    ['no stale reads', c.staleReads, undefined],
    ['convergence', c.convergence, c.convergence],
  ];
  const body = rows
    .map(
      ([name, v, conv]) =>
        `<tr><th>${name}</th><td>${badge(v)}</td><td class="num">${fmtInt(v.checked)}</td><td class="num">${fmtInt(v.violationCount)}</td><td class="details">${checkerDetails(v, conv)}</td></tr>`,
    )
    .join('');
  return `<table class="checkers"><thead><tr><th>checker</th><th>verdict</th><th class="num">checked</th><th class="num">violations</th><th>details</th></tr></thead><tbody>${body}</tbody></table>`;
}

function faultTable(faults: readonly FaultWindow[], colors: ReadonlyMap<string, string>): string {
  if (faults.length === 0) return '<p class="muted">no faults were injected</p>';
  const rows = [...faults]
    .sort((a, b) => a.startMs - b.startMs)
    .map((f) => [
      `<span class="nowrap"><span class="swatch" style="background:${colors.get(f.kind) ?? FAULT_PALETTE[0]}"></span><b>${esc(f.kind)}</b></span>`,
      fmtSeconds(f.startMs),
      fmtSeconds(f.endMs),
      fmtSeconds(f.endMs - f.startMs),
      esc(f.targets.join(', ')),
      esc(f.description),
    ]);
  const th = ['kind', 'start', 'end', 'duration', 'targets', 'description'].map((h, i) => `<th${i >= 1 && i <= 3 ? ' class="num"' : ''}>${h}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${i >= 1 && i <= 3 ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

// ---------------------------------------------------------------- page

const CSS = `
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9;--card:#fff;--pass:#15803d;--fail:#b91c1c;--skip:#6b7280}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:0 0 10px}h3{font-size:14px;margin:0 0 6px;color:#374151}
header.top{display:flex;flex-wrap:wrap;gap:20px;justify-content:space-between;align-items:flex-start}
.sub{color:var(--muted);margin:0 0 10px}
.chip{display:inline-block;background:#eef2ff;color:#1e3a8a;border-radius:999px;padding:2px 10px;margin:0 6px 6px 0;font-size:13px}
.chip b{font-weight:600;margin-right:4px;color:#3730a3}
.verdict{font-size:46px;font-weight:800;letter-spacing:.06em;color:#fff;border-radius:14px;padding:6px 26px;margin:0;line-height:1.2;text-align:center}
.verdict.pass{background:var(--pass)}.verdict.fail{background:var(--fail)}
.verdict-note{color:var(--muted);font-size:12px;text-align:center;margin:4px 0 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin-top:16px;overflow-x:auto}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:16px}
.grid>.card{margin-top:0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);font-weight:600}
.num{text-align:right;white-space:nowrap}
table.kv th{font-weight:600;color:#374151;width:1%;white-space:nowrap}
code{font:12.5px/1.4 ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace;overflow-wrap:anywhere}
.badge{display:inline-block;border-radius:6px;padding:1px 8px;font-weight:700;font-size:12px;color:#fff}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.skip{background:var(--skip)}
.checkers{min-width:640px}.checkers td.details{width:55%}.checkers td.details p{margin:0 0 4px}
.violations{margin:4px 0;padding-left:22px;color:#7f1d1d}
.ok-text{color:var(--pass);font-weight:600}.fail-text{color:var(--fail)}.muted{color:var(--muted)}.nowrap{white-space:nowrap}
.kpis{display:flex;flex-wrap:wrap;gap:10px 28px;margin-bottom:10px}
.kpi b{display:block;font-size:22px}.kpi span{color:var(--muted);font-size:12px}
figure{margin:0;overflow-x:auto}figure svg{min-width:620px}figcaption{color:var(--muted);font-size:12.5px;margin-top:6px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px;opacity:.8}
svg{display:block;width:100%;height:auto}
svg text{font-family:system-ui,"Liberation Sans","DejaVu Sans",Arial,sans-serif;fill:#374151}
svg .tick{font-size:11.5px;fill:#4b5563}
svg .muted{fill:#9ca3af}
svg .axis-title{font-size:12.5px;font-weight:600;fill:#374151}
svg .legend{font-size:12px}
svg .axis{stroke:#6b7280;stroke-width:1}
svg .grid{stroke:#e5e7eb;stroke-width:1}
svg .plot-bg{fill:#fcfcfd}
svg .fault-label{font-size:11.5px;font-weight:700;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
svg .bar-label{font-size:11px;font-weight:600;fill:#9a3412;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg .nodata{font-size:22px;font-weight:700;fill:#9ca3af}
svg .nodata-frame{fill:#fafafa;stroke:#d1d5db;stroke-dasharray:6 4}
`;

function section(title: string, body: string, extraClass = ''): string {
  return `<section class="card${extraClass}"><h2>${title}</h2>${body}</section>`;
}

function figure(title: string, svg: string, caption: string): string {
  return section(title, `<figure>${svg}<figcaption>${caption}</figcaption></figure>`);
}

/** The whole report: one HTML document with everything inline. */
export function renderReport(result: StressResult): string {
  const colors = faultColors(result.faults);
  const verdict = result.valid ? 'PASS' : 'FAIL';
  const cfg = result.config;
  const titleBits = ['workload', 'target'].map((k) => cfg[k]).filter((v) => v !== undefined).map(fmtConfigValue);
  const title = `ringkv stress — ${titleBits.length > 0 ? titleBits.join(' on ') : 'run'} — ${verdict}`;
  const failing = (['lostWrites', 'staleReads', 'convergence'] as const).filter((k) => !result.checkers[k].valid);

  const kpis =
    `<div class="kpis">` +
    `<div class="kpi"><b>${fmtRate(result.throughput.opsPerSec)}</b><span>ops/s overall</span></div>` +
    `<div class="kpi"><b>${fmtInt(result.throughput.operations)}</b><span>operations</span></div>` +
    `<div class="kpi"><b>${fmtSeconds(result.durationMs)}</b><span>run phase</span></div>` +
    `<div class="kpi"><b>${fmtInt(result.load.records)}</b><span>records loaded in ${fmtSeconds(result.load.durationMs)} (${fmtRate(result.load.opsPerSec)} ops/s)</span></div>` +
    `</div>`;

  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${esc(title)}</title><style>${CSS}</style></head><body><main>` +
    `<header class="top"><div><h1>ringkv stress report</h1>` +
    `<p class="sub">started ${esc(result.startedAt)} · run phase ${fmtSeconds(result.durationMs)} · result format v${esc(result.formatVersion)}</p>` +
    `<div>${headlineFacts(cfg)}</div></div>` +
    `<div><p class="verdict ${result.valid ? 'pass' : 'fail'}" data-verdict="${verdict.toLowerCase()}">${verdict}</p>` +
    `<p class="verdict-note">${result.valid ? 'every checker valid' : `failed: ${failing.map((k) => esc(k)).join(', ') || 'see checkers'}`}</p></div></header>` +
    section('Checkers', checkersTable(result)) +
    section('Throughput and latency', `${kpis}<h3>per operation (latency in ms)</h3>${opsTable(result)}`) +
    `<div class="grid" style="margin-top:16px">` +
    section('Errors', errorsTable(result.errors, result.durationMs)) +
    section('Configuration', configTable(cfg)) +
    `</div>` +
    figure('Throughput over time', throughputChart(result, colors), 'Operations completed per second (left axis) and errors per second (right axis). Shaded bands are fault windows.') +
    figure('Latency over time', latencyChart(result, colors), 'Per-window latency over every operation, ms, on a log scale; gaps are windows with no completed operations.') +
    figure('Staleness', stalenessChart(result), 'Share of reads that missed the latest acknowledged write of their key, by how long after that acknowledgement the read began (buckets, ms); n is the number of reads in each bucket.') +
    figure('Hints and repair traffic', clusterChart(result, colors), 'Hinted handoffs waiting for delivery (left axis); cumulative keys pushed by anti-entropy and read repairs (right axis).') +
    section('Fault timeline', faultTable(result.faults, colors)) +
    `</main></body></html>`
  );
}
