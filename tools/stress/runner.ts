/**
 * The stress lab's shell: starts (or connects to) the target, drives the
 * load generators on a piscina pool, carries out the fault schedule, heals,
 * waits for convergence, reads the final state, runs the checkers and
 * returns a `StressResult`. Everything it judges is done by the pure
 * modules (workloads, nemesis, checker); this file only wires them to
 * threads, timers and the cluster.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { Piscina } from 'piscina';
import { Redis } from 'ioredis';
import { Cluster } from '../../src/index.js';
import { RingkvError } from '../../src/errors.js';
import { stalenessCurve, type Op } from './checker.js';
import { converge, readFinal } from './final-state.js';
import { firstUrl, nowMs, type Harness } from './harness.js';
import { mergeResults } from './merge-results.js';
import type { LocalReply, LocalRequest } from './client.js';
import type { LoadTarget, LoadTask, LoadTaskResult } from './loadgen.js';
import { describeFault, parseSchedule, randomSchedule, type FaultEvent, type FaultKind } from './nemesis.js';
import { RESULT_FORMAT_VERSION, type ClusterSample, type FaultWindow, type StressResult } from './result.js';
import { counterVerdict, lostWritesVerdict, staleReadsVerdict } from './verdicts.js';
import { keyName, OperationGenerator, StressConfigError, workloadSpec, type PlannedOp } from './workloads.js';

export interface StressConfig {
  /** 'local' (an in-process cluster) or redis://host:port. */
  readonly target: string;
  readonly workload: string;
  readonly distribution?: string;
  readonly records: number;
  /** Run phase length; the run also ends after `operations` when that is > 0. */
  readonly durationMs: number;
  readonly operations: number;
  readonly clients: number;
  /** Load-generator threads in the piscina pool. */
  readonly threads: number;
  /** Target ops/s over all clients (open loop); 0 = closed loop. */
  readonly ratePerSec: number;
  readonly valueBytes: number;
  readonly setKeys: number;
  readonly seed: number;
  /** The fault timeline: none, random kinds from the seed, or a schedule file's contents. */
  readonly nemesis: NemesisSpec;
  // local cluster settings
  readonly actors: number;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly strict: boolean;
  readonly lww: boolean;
  readonly dataDir?: string;
  // bounds
  readonly timeoutMs: number;
  readonly convergeTimeoutMs: number;
  readonly windowMs: number;
  readonly maxHistoryOps: number;
  /** Keys whose replicas are read one by one when the cluster has not converged (to name them). */
  readonly maxInspectKeys: number;
}

export type NemesisSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'random'; readonly kinds: readonly FaultKind[] }
  | { readonly kind: 'file'; readonly path: string; readonly schedule: unknown };

/**
 * The fault timeline a run will carry out. Random schedules come from the
 * seed and the cluster's ring (itself deterministic), so the same seed and
 * settings give the same schedule.
 */
export async function planFaults(config: Pick<StressConfig, 'nemesis' | 'durationMs' | 'seed'>, cluster: Cluster): Promise<FaultEvent[]> {
  const actors = cluster.members().map((m) => m.id);
  switch (config.nemesis.kind) {
    case 'none':
      return [];
    case 'random':
      return randomSchedule(config.nemesis.kinds, { actors, neighbourhoods: await neighbourhoods(cluster), durationMs: config.durationMs, seed: config.seed });
    case 'file':
      return parseSchedule(config.nemesis.schedule, { actors, durationMs: config.durationMs });
  }
}

/** The first `count` operations client `client` will issue in the run phase (for reproducibility checks). */
export function plannedOperations(config: Pick<StressConfig, 'workload' | 'distribution' | 'records' | 'clients' | 'seed' | 'setKeys'>, client: number, count: number): PlannedOp[] {
  const generator = new OperationGenerator(workloadSpec(config.workload, config.distribution), { records: config.records, clients: config.clients, client, seed: config.seed, setKeys: config.setKeys });
  return Array.from({ length: count }, () => generator.next());
}

export interface RunHooks {
  /** Called as the run goes: phase changes and progress (ops and errors so far in the phase). */
  onPhase?(phase: string, total: number): void;
  onProgress?(ops: number, errors: number): void;
  log?(line: string): void;
}

export async function runStress(config: StressConfig, hooks: RunHooks = {}): Promise<StressResult> {
  validate(config);
  const spec = workloadSpec(config.workload, config.distribution);
  const startedAt = new Date().toISOString();
  const harness = await openHarness(config);
  let faults: FaultEvent[];
  try {
    faults = harness.cluster === null ? [] : await planFaults(config, harness.cluster);
  } catch (e) {
    await harness.close();
    throw e;
  }
  const pool = new Piscina({
    filename: new URL('./loadgen.js', import.meta.url).href,
    minThreads: config.threads,
    maxThreads: config.threads,
    maxQueue: config.threads, // one long task per thread, never more
    idleTimeout: 1000,
  });
  const dispatchers: { close(): void }[] = [];
  const log = hooks.log ?? (() => {});
  try {
    const history: Op[] = [];
    // ---- load phase ----
    let load = { records: 0, durationMs: 0, opsPerSec: 0 };
    if (spec.name !== 'set' && spec.name !== 'counter' && config.records > 0) {
      hooks.onPhase?.('load', config.records);
      const t0 = nowMs();
      const results = await runPhase('load', config, harness, pool, dispatchers, hooks);
      for (const r of results) for (const op of r.history) history.push(op); // not push(...): histories exceed the argument limit
      const failed = results.reduce((s, r) => s + Object.values(r.errors).reduce((a, b) => a + b, 0), 0);
      const durationMs = nowMs() - t0;
      load = { records: config.records, durationMs: Math.round(durationMs), opsPerSec: Math.round((config.records / durationMs) * 1000) };
      log(`load: ${config.records} records in ${(durationMs / 1000).toFixed(1)} s (${load.opsPerSec} ops/s, ${failed} failed)`);
    }

    // ---- run phase, with the fault schedule and the cluster sampler alongside ----
    hooks.onPhase?.('run', config.operations > 0 ? config.operations : 0);
    const runStartMs = nowMs() + 100;
    const nemesis = harness.cluster !== null ? startNemesis(harness.cluster, faults, runStartMs, log) : null;
    const sampler = startSampler(harness, runStartMs, config.windowMs);
    const results = await runPhase('run', config, harness, pool, dispatchers, hooks, runStartMs);
    const runEndMs = nowMs();
    nemesis?.stop();
    const faultWindows = (await nemesis?.finished) ?? [];
    for (const r of results) for (const op of r.history) history.push(op); // not push(...): histories exceed the argument limit

    // ---- heal, converge, read the final state ----
    hooks.onPhase?.('converge', 0);
    const healMs = nowMs();
    if (harness.cluster !== null) await healAll(harness.cluster);
    const convergence = await converge(harness, config, healMs, log);
    const samples = await sampler.stop();
    const written = [...new Set(history.filter((o) => o.kind === 'write' || o.kind === 'increment').map((o) => o.key))];
    const finalValues = await readFinal(harness, config, spec.name === 'set', written);

    // ---- check ----
    hooks.onPhase?.('check', 0);
    // for counters a lost write is a lost (or invented) increment
    const lostWrites = spec.name === 'counter' ? counterVerdict(history, finalValues) : lostWritesVerdict(history, finalValues, spec.name === 'set', runStartMs);
    const staleReads = staleReadsVerdict(history, harness, runStartMs);
    const staleness = stalenessCurve(history);
    const merged = mergeResults(results, runStartMs, runEndMs, config.windowMs);
    const checkers = { lostWrites, staleReads, convergence };
    const valid = lostWrites.valid && staleReads.valid && convergence.valid;
    return {
      formatVersion: RESULT_FORMAT_VERSION,
      startedAt,
      config: {
        target: config.target,
        server: harness.kind === 'local' ? 'ringkv (in-process)' : harness.ringkv ? 'ringkv' : 'redis-protocol server',
        workload: spec.name,
        workloadDescription: spec.description,
        distribution: spec.distribution,
        records: config.records,
        durationMs: config.durationMs,
        operations: config.operations,
        clients: config.clients,
        threads: config.threads,
        ratePerSec: config.ratePerSec,
        valueBytes: config.valueBytes,
        seed: config.seed,
        nemesis: config.nemesis.kind === 'none' ? 'none' : config.nemesis.kind === 'random' ? config.nemesis.kinds.join(',') : config.nemesis.path,
        schedule: faults.map((f) => ({ ...f })),
        ...(harness.consistency ?? {}),
        ...(harness.kind === 'local' ? { actors: config.actors, lww: config.lww } : {}),
        timeoutMs: config.timeoutMs,
        historyFull: results.some((r) => r.historyFull),
      },
      durationMs: Math.round(runEndMs - runStartMs),
      load,
      throughput: merged.throughput,
      latency: merged.latency,
      errors: merged.errors,
      timeline: merged.timeline,
      faults: faultWindows,
      cluster: samples,
      staleness,
      checkers,
      valid,
    };
  } finally {
    for (const d of dispatchers) d.close();
    await pool.destroy();
    await harness.close();
  }
}

function validate(c: StressConfig): void {
  const int = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new StressConfigError(`${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  };
  int('records', c.records, 0, 100_000_000);
  int('operations', c.operations, 0, 1_000_000_000);
  int('duration (ms)', c.durationMs, 100, 24 * 3600_000);
  int('clients', c.clients, 1, 10_000);
  int('threads', c.threads, 1, 64);
  int('rate', c.ratePerSec, 0, 10_000_000);
  int('value size', c.valueBytes, 8, 1_000_000);
  int('set keys', c.setKeys, 1, 1000);
  int('seed', c.seed, 0, 2 ** 31 - 1);
  int('timeout (ms)', c.timeoutMs, 1, 600_000);
  int('max history ops', c.maxHistoryOps, 1000, 100_000_000);
  if (c.threads > c.clients) throw new StressConfigError(`threads (${c.threads}) must not exceed clients (${c.clients})`);
  if (c.target !== 'local' && !/^rediss?:\/\//.test(c.target)) throw new StressConfigError(`target must be 'local' or redis://host:port, got '${c.target}'`);
  if (c.target !== 'local' && c.nemesis.kind !== 'none') {
    throw new StressConfigError('--nemesis needs --target local: faults are injected through the in-process cluster, not over a server connection');
  }
}

async function openHarness(c: StressConfig): Promise<Harness> {
  if (c.target === 'local') {
    const ownDir = c.dataDir === undefined;
    const dataDir = c.dataDir ?? mkdtempSync(join(tmpdir(), 'ringkv-stress-'));
    const cluster = await Cluster.start({ dataDir, actors: c.actors, n: c.n, r: c.r, w: c.w, strict: c.strict, lastWriteWins: c.lww, timeoutMs: c.timeoutMs });
    return {
      kind: 'local',
      cluster,
      ringkv: true,
      url: '',
      consistency: { n: c.n, r: c.r, w: c.w, strict: c.strict },
      close: async () => {
        await cluster.close();
        if (ownDir) Cluster.destroy(dataDir);
      },
    };
  }
  const redis = new Redis(firstUrl(c.target), { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: c.timeoutMs });
  redis.on('error', () => {});
  await redis.connect();
  let consistency: Harness['consistency'] = null;
  let ringkv = false;
  try {
    const reply = (await redis.call('RINGKV.CONSISTENCY')) as (string | number)[];
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), String(reply[i + 1]));
    ringkv = true;
    consistency = { n: Number(m.get('n')), r: c.r, w: c.w, strict: c.strict };
  } catch {
    ringkv = false; // any other Redis-protocol server
  }
  redis.disconnect();
  return { kind: 'redis', cluster: null, ringkv, url: c.target, consistency, close: async () => {} };
}

/** Runs one phase on every load-generator thread and waits for all of them. */
async function runPhase(
  phase: 'load' | 'run',
  c: StressConfig,
  h: Harness,
  pool: Piscina,
  dispatchers: { close(): void }[],
  hooks: RunHooks,
  startAtMs = nowMs() + 50,
): Promise<LoadTaskResult[]> {
  const stopFlag = new SharedArrayBuffer(4);
  const tasks: Promise<LoadTaskResult>[] = [];
  for (let t = 0; t < c.threads; t++) {
    const clients: number[] = [];
    for (let client = t; client < c.clients; client += c.threads) clients.push(client);
    const progress = new MessageChannel();
    progress.port1.on('message', (p: { ops: number; errors: number }) => hooks.onProgress?.(p.ops, p.errors));
    const transfer: MessagePort[] = [progress.port2];
    let target: LoadTarget;
    if (h.cluster !== null) {
      const channel = new MessageChannel();
      dispatchers.push(serveLocal(h.cluster, channel.port1, c));
      target = { kind: 'local', port: channel.port2 };
      transfer.push(channel.port2);
    } else {
      target = { kind: 'redis', url: h.url, ringkv: h.ringkv };
    }
    const task: LoadTask = {
      target,
      phase,
      workload: c.workload,
      distribution: c.distribution,
      records: c.records,
      setKeys: c.setKeys,
      clients,
      totalClients: c.clients,
      seed: c.seed,
      valueBytes: c.valueBytes,
      startAtMs,
      durationMs: phase === 'load' ? 24 * 3600_000 : c.durationMs,
      operations: phase === 'load' ? 0 : c.operations,
      ratePerSec: phase === 'load' ? 0 : c.ratePerSec,
      windowMs: c.windowMs,
      timeoutMs: c.timeoutMs,
      maxHistoryOps: Math.ceil(c.maxHistoryOps / c.threads),
      r: h.kind === 'redis' ? c.r : undefined,
      w: h.kind === 'redis' ? c.w : undefined,
      strict: h.kind === 'redis' ? c.strict : undefined,
      progressPort: progress.port2,
      stopFlag,
    };
    tasks.push(
      pool.run(task, { transferList: transfer }).finally(() => progress.port1.close()) as Promise<LoadTaskResult>,
    );
  }
  try {
    return await Promise.all(tasks);
  } catch (e) {
    Atomics.store(new Int32Array(stopFlag), 0, 1);
    await Promise.allSettled(tasks);
    throw e;
  }
}

/** The main-thread end of the local target: runs each request through the Cluster API, replies in batches. */
function serveLocal(cluster: Cluster, port: MessagePort, c: StressConfig): { close(): void } {
  let outbox: LocalReply[] = [];
  const reply = (r: LocalReply): void => {
    if (outbox.length === 0) queueMicrotask(() => {
      const batch = outbox;
      outbox = [];
      port.postMessage(batch);
    });
    outbox.push(r);
  };
  const fail = (id: number, e: unknown): LocalReply => ({
    id,
    ok: false,
    type: e instanceof RingkvError ? e.code : e instanceof Error ? e.name : 'UNKNOWN',
    message: e instanceof Error ? e.message : String(e),
  });
  const asString = (v: unknown): string => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : JSON.stringify(v));
  const run = async (q: LocalRequest): Promise<LocalReply> => {
    try {
      switch (q.op) {
        case 'get': {
          const res = await cluster.get(q.key, { r: c.r });
          return { id: q.id, ok: true, values: res.values.map(asString), context: res.context };
        }
        case 'put':
          if (q.context === undefined) await cluster.put(q.key, q.value, { w: c.w, strict: c.strict });
          else await cluster.put(q.key, q.value, { w: c.w, strict: c.strict, context: q.context });
          return { id: q.id, ok: true };
        case 'scan': {
          const page = await cluster.scan(q.cursor, { count: q.count });
          return { id: q.id, ok: true, count: page.keys.length };
        }
        case 'incr': {
          const res = await cluster.increment(q.key, q.by, { w: c.w, strict: c.strict });
          return { id: q.id, ok: true, value: res.value };
        }
      }
    } catch (e) {
      return fail(q.id, e);
    }
  };
  port.on('message', (batch: LocalRequest[]) => {
    for (const q of batch) void run(q).then(reply);
  });
  return { close: () => port.close() };
}

interface NemesisHandle {
  stop(): void;
  readonly finished: Promise<FaultWindow[]>;
}

/** Carries out the fault timeline against the in-process cluster; each fault is undone at its end. */
function startNemesis(cluster: Cluster, faults: readonly FaultEvent[], runStartMs: number, log: (line: string) => void): NemesisHandle {
  let stopped = false;
  let wake: () => void = () => {};
  const windows: FaultWindow[] = [];
  const waitUntil = async (atMs: number): Promise<void> => {
    const ms = runStartMs + atMs - nowMs();
    if (ms <= 0 || stopped) return;
    await Promise.race([sleep(ms), new Promise<void>((r) => (wake = r))]);
  };
  const others = (t: number): number[] => cluster.members().map((m) => m.id).filter((id) => id !== t);
  const finished = (async () => {
    for (const f of faults) {
      await waitUntil(f.atMs);
      if (stopped) break;
      const startMs = nowMs() - runStartMs;
      const target = f.targets[0]!;
      log(`nemesis: ${describeFault(f)}`);
      switch (f.kind) {
        case 'kill':
        case 'wipe':
          await cluster.faults.kill(target);
          break;
        case 'pause':
          cluster.faults.pause(target, f.durationMs);
          break;
        case 'partition':
        case 'isolate':
        case 'ring-partition':
          await cluster.faults.partition(f.groups![0], f.groups![1]);
          break;
        case 'loss':
          for (const o of others(target)) {
            await cluster.faults.drop(target, o, f.fraction!);
            await cluster.faults.drop(o, target, f.fraction!);
          }
          break;
        case 'delay':
          for (const o of others(target)) {
            await cluster.faults.delay(target, o, f.delayMs!);
            await cluster.faults.delay(o, target, f.delayMs!);
          }
          break;
      }
      await waitUntil(f.atMs + f.durationMs);
      // undo even when the run ended early: the next step heals everything anyway, but a wipe must still happen
      switch (f.kind) {
        case 'kill':
          await cluster.faults.restart(target);
          break;
        case 'wipe':
          await cluster.faults.wipe(target); // the disk is lost: it comes back empty
          break;
        default:
          await cluster.faults.heal();
      }
      windows.push({ kind: f.kind, startMs: Math.round(startMs), endMs: Math.round(nowMs() - runStartMs), targets: [...f.targets], description: describeFault(f) });
      log(`nemesis: ended ${f.kind}`);
    }
    return windows;
  })();
  return {
    stop: () => {
      stopped = true;
      wake();
    },
    finished,
  };
}

/** Restart every actor that is down and restore every link. */
async function healAll(cluster: Cluster): Promise<void> {
  await cluster.faults.heal();
  for (const m of cluster.members()) if (m.status === 'down') await cluster.faults.restart(m.id);
}

/** Samples hints and repair traffic once per window while the run goes on (and through convergence). */
function startSampler(h: Harness, runStartMs: number, windowMs: number): { stop(): Promise<ClusterSample[]> } {
  const samples: ClusterSample[] = [];
  const info = h.kind === 'redis' && h.ringkv ? new Redis(firstUrl(h.url), { maxRetriesPerRequest: 1, commandTimeout: 2000 }) : null;
  info?.on('error', () => {});
  let base: { repair: number; readRepairs: number } | null = null;
  let stopped = false;
  const sampleOnce = async (): Promise<void> => {
    let hintsPending = 0;
    let repair = 0;
    let readRepairs = 0;
    let actorsUp = 0;
    if (h.cluster !== null) {
      const stats = await h.cluster.stats({ timeoutMs: Math.min(500, windowMs) });
      for (const s of stats) {
        hintsPending += s.hintsPending;
        repair += s.antiEntropyKeysSent;
        readRepairs += s.readRepairs;
      }
      readRepairs += h.cluster.readPaths().directReadRepairs; // repairs sent by reads served on the main thread
      actorsUp = h.cluster.members().filter((m) => m.status === 'up').length;
    } else if (info !== null) {
      // a ringkv server: the same figures from INFO
      const text = await info.info();
      // 'name:value' is a section total, 'name=value' a per-actor figure (summed)
      const field = (name: string, separator: ':' | '='): number =>
        [...text.matchAll(new RegExp(`\\b${name}${separator}([0-9]+)`, 'g'))].reduce((sum, m) => sum + Number(m[1]), 0);
      hintsPending = field('hints_pending', ':');
      repair = field('anti_entropy_keys_sent', '=');
      readRepairs = field('read_repairs', '=') + field('direct_read_repairs', ':');
      actorsUp = field('actors_up', ':');
    } else {
      return; // another Redis-protocol server: nothing to sample
    }
    base ??= { repair, readRepairs };
    // counters restart with an actor: never draw a negative
    samples.push({ tMs: Math.round(nowMs() - runStartMs), hintsPending, repairKeysSent: Math.max(0, repair - base.repair), readRepairs: Math.max(0, readRepairs - base.readRepairs), actorsUp });
  };
  const loop = (async () => {
    while (!stopped) {
      await sampleOnce().catch(() => undefined);
      await sleep(windowMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await sampleOnce().catch(() => undefined);
      info?.disconnect();
      return samples;
    },
  };
}

/** Ring neighbourhoods for the nemesis: the preference lists of a few keys (actors that replicate a common arc). */
export async function neighbourhoods(cluster: Cluster, count = 8): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < count; i++) {
    const views = await cluster.inspect(keyName(i));
    out.push(views.filter((v) => v.role === 'replica').map((v) => v.actor));
  }
  return out;
}
