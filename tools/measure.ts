// What the benchmarks measure the same way: the process's memory from
// /proc/self/status (it covers every worker thread), disk usage, number
// formats, env knobs, and request latency in an HDR histogram.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import hdr from 'hdr-histogram-js';

export const MiB = 1024 * 1024;

export interface ProcMemory {
  rss: number;
  /** Anonymous: JS heaps and native allocations (malloc arenas) of every thread. */
  anon: number;
  /** File-backed: mmapped LMDB pages (the OS reclaims them under pressure). */
  file: number;
  shmem: number;
  threads: number;
}

/** RSS of the whole process (all threads), in bytes, from /proc/self/status. */
export function procMemory(): ProcMemory {
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (name: string, unit = 1024): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status);
    return m === null ? NaN : Number(m[1]) * unit;
  };
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile'), shmem: field('RssShmem'), threads: field('Threads', 1) };
}

/** Allocated (du) and apparent bytes of everything under `dir`. */
export function diskUsage(dir: string): { allocated: number; apparent: number } {
  let allocated = 0;
  let apparent = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      const sub = diskUsage(p);
      allocated += sub.allocated;
      apparent += sub.apparent;
    } else {
      const st = lstatSync(p);
      allocated += st.blocks * 512;
      apparent += st.size;
    }
  }
  return { allocated, apparent };
}

export const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** A non-negative integer from the environment (underscores allowed), or undefined; exits 2 on a bad value. */
export function optionalIntEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(v) || v < 0) {
    console.error(`${name} must be a non-negative integer, got ${raw}`);
    process.exit(2);
  }
  return v;
}

export function intEnv(name: string, fallback: number): number {
  return optionalIntEnv(name) ?? fallback;
}

/** Request latencies in microseconds (1 µs .. 120 s, 3 significant digits); read back in ms. */
export class Latencies {
  private readonly h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

  recordMs(ms: number): void {
    this.h.recordValue(Math.min(120_000_000, Math.max(1, Math.round(ms * 1000))));
  }

  get count(): number {
    return this.h.totalCount;
  }

  percentileMs(p: number): number {
    return this.h.totalCount === 0 ? NaN : this.h.getValueAtPercentile(p) / 1000;
  }

  get maxMs(): number {
    return this.h.totalCount === 0 ? NaN : this.h.maxValue / 1000;
  }

  destroy(): void {
    this.h.destroy();
  }
}

/**
 * Where the process's anonymous memory sits, from /proc/self/smaps (every
 * thread): `brk` the main malloc arena; `arenas` the other threads' malloc
 * arenas (glibc maps each arena heap at a 64 MiB boundary); `stacks` thread
 * stacks (a guard page below); `other` every other anonymous mapping (V8
 * heap pages, large mallocs, lmdb-js buffers); `files` anonymous pages of
 * file mappings (libraries' data, private writes). Costs a few ms.
 */
export interface AnonBreakdown {
  brk: number;
  arenas: number;
  arenaCount: number;
  stacks: number;
  other: number;
  files: number;
}

const ARENA_ALIGN = 64 * MiB;

interface Mapping {
  start: number;
  end: number;
  perms: string;
  path: string;
  anon: number;
}

export function anonBreakdown(): AnonBreakdown {
  const out: AnonBreakdown = { brk: 0, arenas: 0, arenaCount: 0, stacks: 0, other: 0, files: 0 };
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return out;
  }
  const maps: Mapping[] = [];
  for (const line of text.split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) maps.push({ start: parseInt(header[1]!, 16), end: parseInt(header[2]!, 16), perms: header[3]!, path: header[4]!.trim(), anon: 0 });
    else if (line.startsWith('Anonymous:') && maps.length > 0) maps[maps.length - 1]!.anon += Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
  }
  maps.forEach((m, i) => {
    const next = maps[i + 1];
    const prev = maps[i - 1];
    let kind: Exclude<keyof AnonBreakdown, 'arenaCount'>;
    if (m.path === '[heap]') kind = 'brk';
    else if (m.path.startsWith('[stack')) kind = 'stacks';
    else if (m.path !== '') kind = 'files';
    // a glibc arena heap: a 64 MiB-aligned reservation, its used part read-write, the rest ---p
    else if (m.perms.startsWith('rw') && m.start % ARENA_ALIGN === 0 && (m.end - m.start === ARENA_ALIGN || (next !== undefined && next.start === m.end && next.perms === '---p' && next.end - m.start === ARENA_ALIGN))) {
      kind = 'arenas';
      out.arenaCount++;
    }
    // a pthread stack: a small ---p guard right below it
    else if (m.perms.startsWith('rw') && prev !== undefined && prev.end === m.start && prev.perms === '---p' && prev.end - prev.start <= 64 * 1024) kind = 'stacks';
    else kind = 'other';
    out[kind] += m.anon;
  });
  return out;
}
