import { checkConvergence, checkCounters, checkNoLostWrites, checkNoStaleReads, type Op, type ReplicaSnapshot } from '../../tools/stress/checker.js';
import { resolveOptions } from '../cluster/options.js';
import { ringPosition } from '../ring/hash.js';
import { arcRanges } from '../ring/ring.js';
import { seededRandom } from '../runtime/services.js';
import { positionOf, userKeyOf } from '../storage/keys.js';
import { MsgType } from '../transport/protocol.js';
import * as dvv from '../versioning/dvvset.js';
import { decodeCounter, value as counterValue } from '../versioning/counter.js';
import { decodeClock, encodeClock, syncClocks, ValueKind, type Clock } from '../versioning/sibling.js';
import { SimClient } from './client.js';
import { Nemesis, SIM_FAULTS, type SimFault } from './nemesis.js';
import { SimNetwork } from './network.js';
import { SimCluster } from './sim-cluster.js';
import { VirtualTime } from './virtual-time.js';
import { Workload, writeIdsOf } from './workload.js';

export interface SimOptions {
  readonly seed: number;
  readonly ops: number;
  readonly actors: number;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  /** Last-write-wins instead of siblings: the simulator must catch it losing writes. */
  readonly lww: boolean;
  /** Strict quorums (no sloppy substitutes): reads are then checked for staleness when R + W > N. */
  readonly strict: boolean;
  readonly faults: readonly SimFault[];
  readonly keys: number;
  readonly processes: number;
  /** Tests only: the planted bug of MemoryStore (acknowledge before commit). */
  readonly plantAckBeforeCommit?: boolean;
}

export const SIM_DEFAULTS: Omit<SimOptions, 'seed'> = Object.freeze({ ops: 400, actors: 5, n: 3, r: 2, w: 2, lww: false, strict: true, faults: SIM_FAULTS, keys: 12, processes: 6 });

export interface SimResult {
  readonly seed: number;
  readonly digest: string;
  readonly violations: readonly string[];
  /** Operations recorded, and how they ended. */
  readonly counts: { readonly ok: number; readonly info: number; readonly fail: number };
  readonly faults: readonly string[];
  readonly simulatedMs: number;
  readonly events: number;
  /** The one line `ringkv sim --seed` prints. */
  readonly line: string;
}

/** Simulated time a run may take before it is stopped (a livelock is a finding too). */
const MAX_RUN_MS = 600_000;
const HEAL_MS = 3_000;
const REQUEST_TIMEOUT_MS = 1_000;
const EPOCH_MS = Date.UTC(2026, 0, 1);

/**
 * One seed: the workload under the nemesis, then heal, restart every
 * actor, a full repair, and the stress lab's checks. A pure function of its
 * options: the same seed gives the same digest on any machine.
 */
export function runSeed(o: SimOptions): SimResult {
  // An actor logs a message it failed to handle and goes on; in a simulation that is a finding.
  const logged: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]): void => {
    logged.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
  };
  try {
    const result = runLogged(o);
    if (logged.length === 0) return result;
    const violations = [...result.violations, ...logged.slice(0, 10).map((l) => `logged error: ${l}`)];
    return { ...result, violations, line: result.line.replace(/violations=\d+/, `violations=${violations.length}`) };
  } finally {
    console.error = consoleError;
  }
}

function runLogged(o: SimOptions): SimResult {
  const time = new VirtualTime(EPOCH_MS);
  const net = new SimNetwork<Uint8Array>(time, seededRandom(o.seed * 7 + 1));
  const resolved = resolveOptions({ dataDir: 'simulated', actors: o.actors, n: o.n, r: o.r, w: o.w, lastWriteWins: o.lww, strict: o.strict, timeoutMs: REQUEST_TIMEOUT_MS, tombstoneGraceMs: 100, expirySweepIntervalMs: 100 });
  const cluster = new SimCluster(time, net, {
    actors: o.actors,
    vnodes: 8,
    resolved,
    seed: o.seed,
    store: { maxPendingWrites: resolved.maxPendingWritesPerActor, maxWritesPerCommit: 64, commitDelayMaxMs: 2, ackBeforeCommit: o.plantAckBeforeCommit ?? false },
  });
  cluster.startAll();
  const client = new SimClient(time, net, seededRandom(o.seed * 7 + 2), cluster.ids, cluster.ring, (id) => cluster.isUp(id));
  const workload = new Workload(time, client, seededRandom(o.seed * 7 + 3), { ops: o.ops, processes: o.processes, keys: o.keys, r: o.r, w: o.w, strict: o.strict, timeoutMs: REQUEST_TIMEOUT_MS, thinkMaxMs: 40, expiringKeys: Math.floor(o.keys / 3), maxTtlMs: 400 });
  // with W=1 a write's only acknowledged copy may be the one a wipe takes: that is what W=1 means, not a finding
  const faults = o.w >= 2 ? o.faults : o.faults.filter((f) => f !== 'wipe');
  const nemesis = new Nemesis(cluster, seededRandom(o.seed * 7 + 4), { faults, meanGapMs: 200, maxFaultMs: 1000 });
  const violations: string[] = [];

  let loadDone = false;
  workload.start(() => (loadDone = true));
  nemesis.start();
  runWhile(time, () => !loadDone, MAX_RUN_MS);
  if (!loadDone) violations.push(`livelock: the workload did not finish in ${MAX_RUN_MS} simulated ms (${workload.completed} of ${o.ops} operations)`);

  nemesis.stop();
  for (const id of cluster.ids) cluster.restart(id);
  time.runUntil(time.monotonicMs() + HEAL_MS);
  if (!fullRepair(cluster, client)) violations.push('repair: not every anti-entropy push finished');
  cluster.markRepaired();
  time.runUntil(time.monotonicMs() + HEAL_MS);
  // judged at an instant when no reap, push or commit is half done (the sweep goes on collecting meanwhile)
  runWhile(time, () => !cluster.quiescent(), time.monotonicMs() + HEAL_MS);
  if (!cluster.quiescent()) violations.push(`never quiescent: messages or commits still pending ${HEAL_MS} simulated ms after the heal phase`);

  violations.push(...judge(o, cluster, workload.history), ...workload.internalErrors.map((what) => `internal error answering ${what}`));
  let expiredCollected = 0;
  for (const id of cluster.ids) expiredCollected += cluster.actor(id)?.stats().expiredCollected ?? 0;
  client.close();
  for (const id of cluster.ids) cluster.crash(id, false);
  const counts = { ok: 0, info: 0, fail: 0 };
  for (const op of workload.history) counts[op.outcome]++;
  const digest = time.digest();
  const line = `seed=${o.seed} ops=${workload.history.length} ok=${counts.ok} unknown=${counts.info} failed=${counts.fail} faults=${nemesis.log.length} expired_collected=${expiredCollected} simulated_ms=${time.monotonicMs()} events=${time.executed} violations=${violations.length} digest=${digest}`;
  return { seed: o.seed, digest, violations, counts, faults: nemesis.log, simulatedMs: time.monotonicMs(), events: time.executed, line };
}

const COUNTER_KEY = /^c\d+$/;

/** A counter key's value from its merged clock: its one live counter (NaN for anything else). */
function counterOf(clock: Clock): number | null {
  const values = dvv.values(clock);
  if (values.length === 0) return null;
  if (values.length !== 1 || values[0]!.kind !== ValueKind.Counter) return Number.NaN;
  return counterValue(decodeCounter(values[0]!.data));
}

function runWhile(time: VirtualTime, condition: () => boolean, limitMs: number): void {
  while (condition() && time.monotonicMs() <= limitMs && time.step()) {
    // each step runs one event
  }
}

/**
 * A full anti-entropy round, as a pass that found every leaf different
 * would run it: every replica pushes each arc it holds to the arc's other
 * replicas (SyncRanges), through the actors' own push path.
 */
export function fullRepair(cluster: SimCluster, client: SimClient): boolean {
  const pushes = new Map<string, { actor: number; peers: number[]; ranges: [number, number][] }>();
  for (const arc of cluster.ring.arcs()) {
    for (const actor of arc.preference) {
      const peers = arc.preference.filter((id) => id !== actor);
      const group = `${actor}>${peers.join(',')}`;
      let push = pushes.get(group);
      if (push === undefined) pushes.set(group, (push = { actor, peers, ranges: [] }));
      for (const r of arcRanges(arc.start, arc.end)) push.ranges.push([r.from, r.to]);
    }
  }
  let waiting = pushes.size;
  let complete = true;
  for (const push of pushes.values()) {
    client.request(push.actor, 60_000, (req) => ({ type: MsgType.SyncRanges, req, ranges: push.ranges, peers: push.peers }), (reply) => {
      waiting--;
      if (reply.kind !== 'ok' || reply.message.type !== MsgType.SyncDone || reply.message.failed > 0) complete = false;
    });
  }
  runWhile(cluster.time, () => waiting > 0, cluster.time.monotonicMs() + 120_000);
  return complete && waiting === 0;
}

/** The stress lab's checks on the run's history and on what each replica holds. */
function judge(o: SimOptions, cluster: SimCluster, history: readonly Op[]): string[] {
  const replicas = new Map<string, Map<number, Clock>>();
  for (const id of cluster.ids) {
    for (const [k, value] of cluster.disk(id).data) {
      const stored = Buffer.from(k, 'latin1');
      if (!cluster.ring.preferenceList(positionOf(stored)).includes(id)) continue;
      const key = Buffer.from(userKeyOf(stored)).toString('utf8');
      if (!replicas.has(key)) replicas.set(key, new Map());
      replicas.get(key)!.set(id, decodeClock(value));
    }
  }
  for (const op of history) if (op.kind === 'write' && !replicas.has(op.key)) replicas.set(op.key, new Map());
  const snapshot = new Map<string, Map<number, string[]>>();
  const finalValues = new Map<string, string[]>();
  const counters = new Map<string, number | null>();
  for (const [key, held] of replicas) {
    const pref = cluster.ring.preferenceList(ringPosition(Buffer.from(key)));
    const byReplica = new Map<number, string[]>();
    let merged: Clock = dvv.empty();
    for (const id of pref) {
      const clock = held.get(id);
      byReplica.set(id, clock === undefined ? [] : writeIdsOf(encodeClock(clock)));
      if (clock !== undefined) merged = syncClocks(merged, clock);
    }
    snapshot.set(key, byReplica);
    if (COUNTER_KEY.test(key)) counters.set(key, counterOf(merged));
    else finalValues.set(key, writeIdsOf(encodeClock(merged)));
  }
  const out: string[] = [];
  for (const v of checkNoLostWrites(history, finalValues).violations) out.push(`lost write: ${v.write.id} of ${v.key} (acknowledged) is not in the final value [${(finalValues.get(v.key) ?? []).join(',')}]`);
  for (const v of checkConvergence(snapshot as ReplicaSnapshot).violations) out.push(`divergent replicas of ${v.key}: ${[...v.replicas].map(([id, ids]) => `${id}=[${ids.join(',')}]`).join(' ')}`);
  for (const v of checkCounters(history, counters).violations) out.push(`counter ${v.key} is ${v.final} after acknowledged increments summing to ${v.acknowledged} (allowed ${v.min}..${v.max})`);
  if (o.strict && o.r + o.w > o.n) {
    for (const v of checkNoStaleReads(history).violations) out.push(`stale read of ${v.read.key}: returned [${v.read.values.join(',')}] after ${v.missed.id} was acknowledged`);
  }
  return out;
}
