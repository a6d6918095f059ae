/**
 * A load generator: one piscina task runs a group of clients for a phase
 * (load or run) and returns what they did: every operation for the checker,
 * HDR latency histograms per operation and per time window, error counts.
 *
 * Each client has one request outstanding at a time. With a target rate the
 * client is open-loop: operation i is due at start + i / rate, and its
 * latency counts from when it was due, not from when it could be sent, so a
 * stall shows up in the latency instead of being hidden by the client
 * slowing down (coordinated omission).
 */
import type { MessagePort } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import type { Op } from './checker.js';
import type { OpName } from './result.js';
import { LocalPortChannel, redisClient, StressOpError, type StressClient } from './client.js';
import { keyName, loadKeyIndexes, OperationGenerator, Prng, workloadSpec, type PlannedOp } from './workloads.js';

export type LoadTarget = { readonly kind: 'local'; readonly port: MessagePort } | { readonly kind: 'redis'; readonly url: string; readonly ringkv: boolean };

export interface LoadTask {
  readonly target: LoadTarget;
  readonly phase: 'load' | 'run';
  readonly workload: string;
  readonly distribution?: string;
  readonly records: number;
  readonly setKeys: number;
  /** This task's clients (indexes into 0..totalClients-1). */
  readonly clients: readonly number[];
  readonly totalClients: number;
  readonly seed: number;
  readonly valueBytes: number;
  /** Epoch ms (performance.timeOrigin + now) when the phase starts: shared by every task. */
  readonly startAtMs: number;
  /** Run phase: stop after this long, or after `operations` in all (split over the clients), whichever first. */
  readonly durationMs: number;
  readonly operations: number;
  /** Target operations per second over all clients; 0 = as fast as they go (closed loop). */
  readonly ratePerSec: number;
  readonly windowMs: number;
  readonly timeoutMs: number;
  /** Bound on the operations this task records; it stops issuing new ones when reached. */
  readonly maxHistoryOps: number;
  /** Consistency for a ringkv server over Redis (the local target applies it on the main thread). */
  readonly r?: number;
  readonly w?: number;
  readonly strict?: boolean;
  /** Progress (ops and errors since the last report) goes here a few times a second. */
  readonly progressPort: MessagePort;
  /** Int32Array over it: [0] set to 1 asks every client to stop. */
  readonly stopFlag: SharedArrayBuffer;
}

export interface WindowStats {
  readonly ops: number;
  readonly errors: number;
  /** Compressed HDR histogram (µs) of every op completed in the window. */
  readonly histogram: string;
}

export interface LoadTaskResult {
  readonly history: Op[];
  /** Compressed HDR histograms (µs) per operation. */
  readonly histograms: Partial<Record<OpName, string>>;
  readonly counts: Partial<Record<OpName, number>>;
  readonly errors: Record<string, number>;
  readonly windows: (WindowStats | null)[];
  readonly historyFull: boolean;
}

/** Cross-thread clock agreement is not exact: widen every completion by this, which can only make the checks more lenient. */
const CLOCK_MARGIN_MS = 1;
const PROGRESS_INTERVAL_MS = 250;
const HIGHEST_LATENCY_US = 120_000_000;
/** Set workload: elements per key before the clients move on to fresh keys (about 12 bytes each in the JSON value). */
const SET_ELEMENTS_PER_KEY = 400;
/** Error types that mean the write was refused before anything was stored (definitely not applied). */
const REFUSED = new Set(['TOO_MANY_SIBLINGS', 'SIBLINGS', 'PAIR_TOO_LARGE', 'INVALID_KEY', 'INVALID_VALUE', 'INVALID_OPTION', 'INVALID_CONTEXT', 'OVERLOADED', 'BUSY', 'NOT_A_COUNTER', 'COUNTER_OVERFLOW']);

const nowMs = (): number => performance.timeOrigin + performance.now();

function newHistogram(): hdr.Histogram {
  return hdr.build({ bitBucketSize: 'packed', lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_LATENCY_US, numberOfSignificantValueDigits: 3 });
}

/** The value written: its unique id first (what the checker tracks), padded to the value size. */
function ycsbValue(id: string, valueBytes: number): string {
  const head = `${id}|`;
  return head.length >= valueBytes ? head : head + 'x'.repeat(valueBytes - head.length);
}

function idOf(value: string): string {
  const bar = value.indexOf('|');
  return bar < 0 ? value : value.slice(0, bar);
}

/** A set-workload value: the sorted JSON array of its elements; siblings are merged by union. */
function elementsOf(values: readonly string[]): string[] {
  const out = new Set<string>();
  for (const v of values) {
    const parsed: unknown = JSON.parse(v);
    if (!Array.isArray(parsed)) throw new StressOpError('BAD_VALUE', `set value is not an array: ${v.slice(0, 80)}`);
    for (const e of parsed) out.add(String(e));
  }
  return [...out];
}

export default async function runLoadTask(task: LoadTask): Promise<LoadTaskResult> {
  const spec = workloadSpec(task.workload, task.distribution);
  const addsPerKeyGeneration = Math.max(1, Math.floor(SET_ELEMENTS_PER_KEY / task.totalClients));
  const stop = new Int32Array(task.stopFlag);
  const channel = task.target.kind === 'local' ? new LocalPortChannel(task.target.port) : null;
  const history: Op[] = [];
  const histograms = new Map<OpName, hdr.Histogram>();
  const counts: Partial<Record<OpName, number>> = {};
  const errors: Record<string, number> = {};
  const windows: { ops: number; errors: number; histogram: hdr.Histogram }[] = [];
  let historyFull = false;
  let progressOps = 0;
  let progressErrors = 0;
  const progressTimer = setInterval(() => {
    if (progressOps === 0 && progressErrors === 0) return;
    task.progressPort.postMessage({ ops: progressOps, errors: progressErrors });
    progressOps = 0;
    progressErrors = 0;
  }, PROGRESS_INTERVAL_MS);

  const record = (name: OpName, dueMs: number, completeMs: number, failed: string | null): void => {
    const latencyUs = Math.max(1, Math.min(HIGHEST_LATENCY_US, Math.round((completeMs - dueMs) * 1000)));
    let h = histograms.get(name);
    if (h === undefined) histograms.set(name, (h = newHistogram()));
    h.recordValue(latencyUs);
    counts[name] = (counts[name] ?? 0) + 1;
    progressOps++;
    if (failed !== null) {
      errors[failed] = (errors[failed] ?? 0) + 1;
      progressErrors++;
    }
    if (task.phase === 'run') {
      const index = Math.max(0, Math.floor((completeMs - task.startAtMs) / task.windowMs));
      while (windows.length <= index) windows.push({ ops: 0, errors: 0, histogram: newHistogram() });
      const win = windows[index]!;
      win.ops++;
      if (failed !== null) win.errors++;
      win.histogram.recordValue(latencyUs);
    }
  };
  const errorType = (e: unknown): string => (e instanceof StressOpError ? e.type : e instanceof Error ? e.name : 'UNKNOWN');
  const outcomeOf = (type: string): 'fail' | 'info' => (REFUSED.has(type) ? 'fail' : 'info');

  const runClient = async (client: number, stressClient: StressClient): Promise<void> => {
    let seq = 0;
    let adds = 0;
    const nextId = (): string => `${task.phase === 'load' ? 'l' : 'c'}${client}.${seq++}`;
    const roomInHistory = (): boolean => {
      if (history.length + 2 <= task.maxHistoryOps) return true;
      historyFull = true;
      return false;
    };

    const read = async (key: string, name: OpName, dueMs: number): Promise<{ values: readonly string[]; context: string } | null> => {
      const invokeMs = nowMs();
      try {
        const res = await stressClient.read(key);
        const completeMs = nowMs();
        const values = spec.name === 'set' ? elementsOf(res.values) : res.values.map(idOf);
        history.push({ kind: 'read', key, process: client, invokeMs, completeMs: completeMs + CLOCK_MARGIN_MS, outcome: 'ok', values });
        if (name === 'read') record(name, dueMs, completeMs, null);
        return { values, context: res.context };
      } catch (e) {
        const completeMs = nowMs();
        history.push({ kind: 'read', key, process: client, invokeMs, completeMs: completeMs + CLOCK_MARGIN_MS, outcome: 'fail', values: [] });
        record(name, dueMs, completeMs, errorType(e));
        return null;
      }
    };

    const write = async (key: string, id: string, value: string, context: string | undefined, supersedes: readonly string[], name: OpName, dueMs: number): Promise<void> => {
      const invokeMs = nowMs();
      const blind = context === undefined && spec.name !== 'set';
      try {
        await stressClient.write(key, value, context);
        const completeMs = nowMs();
        history.push({ kind: 'write', id, key, process: client, invokeMs, completeMs: completeMs + CLOCK_MARGIN_MS, outcome: 'ok', supersedes, blind });
        record(name, dueMs, completeMs, null);
      } catch (e) {
        const completeMs = nowMs();
        const type = errorType(e);
        history.push({ kind: 'write', id, key, process: client, invokeMs, completeMs: completeMs + CLOCK_MARGIN_MS, outcome: outcomeOf(type), supersedes, blind });
        record(name, dueMs, completeMs, type);
      }
    };

    const increment = async (key: string, by: number, dueMs: number): Promise<void> => {
      const invokeMs = nowMs();
      try {
        await stressClient.increment(key, by);
        const completeMs = nowMs();
        history.push({ kind: 'increment', key, process: client, invokeMs, completeMs: completeMs + CLOCK_MARGIN_MS, outcome: 'ok', by });
        record('incr', dueMs, completeMs, null);
      } catch (e) {
        const completeMs = nowMs();
        const type = errorType(e);
        // a timed-out increment may have been applied: the checker allows it either way
        history.push({ kind: 'increment', key, process: client, invokeMs, completeMs: completeMs + CLOCK_MARGIN_MS, outcome: outcomeOf(type), by });
        record('incr', dueMs, completeMs, type);
      }
    };

    const execute = async (op: PlannedOp, dueMs: number): Promise<void> => {
      const key = keyName(op.keyIndex);
      switch (op.kind) {
        case 'read':
          await read(key, 'read', dueMs);
          return;
        case 'update':
        case 'insert': {
          const id = nextId();
          await write(key, id, ycsbValue(id, task.valueBytes), undefined, [], op.kind, dueMs);
          return;
        }
        case 'rmw': {
          const seen = await read(key, 'rmw', dueMs);
          if (seen === null) return; // counted as a failed rmw
          const id = nextId();
          await write(key, id, ycsbValue(id, task.valueBytes), seen.context, seen.values, 'rmw', dueMs);
          return;
        }
        case 'add': {
          // Every client moves to fresh keys after addsPerKeyGeneration adds, so a set stays far below maxPairBytes.
          const key = keyName(op.keyIndex + task.setKeys * Math.floor(adds++ / addsPerKeyGeneration));
          const seen = await read(key, 'add', dueMs);
          if (seen === null) return;
          const id = nextId();
          const value = JSON.stringify([...seen.values, id].sort());
          await write(key, id, value, seen.context, seen.values, 'add', dueMs);
          return;
        }
        case 'incr':
          await increment(key, op.by, dueMs);
          return;
        case 'scan': {
          const invokeMs = nowMs();
          const cursor = new Prng(op.keyIndex).nextInt(2 ** 32);
          try {
            await stressClient.scan(cursor, op.length);
            record('scan', dueMs, nowMs(), null);
          } catch (e) {
            record('scan', dueMs, Math.max(invokeMs, nowMs()), errorType(e));
          }
          return;
        }
      }
    };

    if (task.phase === 'load') {
      for (const index of loadKeyIndexes(task.records, task.totalClients, client)) {
        if (Atomics.load(stop, 0) === 1 || !roomInHistory()) return;
        const id = nextId();
        await write(keyName(index), id, ycsbValue(id, task.valueBytes), undefined, [], 'insert', nowMs());
      }
      return;
    }

    const generator = new OperationGenerator(spec, { records: task.records, clients: task.totalClients, client, seed: task.seed, setKeys: task.setKeys });
    const quota = Math.floor(task.operations / task.totalClients) + (client < task.operations % task.totalClients ? 1 : 0);
    const ratePerClient = task.ratePerSec > 0 ? task.ratePerSec / task.totalClients : 0;
    const endMs = task.startAtMs + task.durationMs;
    for (let i = 0; task.operations === 0 || i < quota; i++) {
      let dueMs = nowMs();
      if (ratePerClient > 0) {
        dueMs = task.startAtMs + (i * 1000) / ratePerClient;
        const waitMs = dueMs - nowMs();
        if (waitMs > 0) await sleep(waitMs);
      }
      if (Atomics.load(stop, 0) === 1 || nowMs() >= endMs || !roomInHistory()) return;
      await execute(generator.next(), dueMs);
    }
  };

  const waitMs = task.startAtMs - nowMs();
  const clients: StressClient[] = [];
  try {
    // a redis target may list several servers (the nodes of a multi-node cluster): clients spread over them
    const urls = channel !== null ? [] : (task.target as { url: string }).url.split(',');
    for (const clientNo of task.clients) {
      clients.push(
        channel !== null
          ? channel.client()
          : await redisClient({ url: urls[clientNo % urls.length]!, ringkv: (task.target as { ringkv: boolean }).ringkv, timeoutMs: task.timeoutMs, r: task.r, w: task.w, strict: task.strict }),
      );
    }
    if (waitMs > 0) await sleep(waitMs);
    await Promise.all(task.clients.map((client, i) => runClient(client, clients[i]!)));
  } finally {
    clearInterval(progressTimer);
    task.progressPort.postMessage({ ops: progressOps, errors: progressErrors });
    await Promise.all(clients.map((c) => c.close()));
    channel?.close();
    task.progressPort.close();
  }
  const encoded: Partial<Record<OpName, string>> = {};
  for (const [name, h] of histograms) encoded[name] = hdr.encodeIntoCompressedBase64(h);
  return {
    history,
    histograms: encoded,
    counts,
    errors,
    windows: windows.map((w) => (w.ops === 0 ? null : { ops: w.ops, errors: w.errors, histogram: hdr.encodeIntoCompressedBase64(w.histogram) })),
    historyFull,
  };
}
