/**
 * Prometheus metrics shared by the server front ends (HTTP and RESP).
 *
 * One registry per process: request counters and latencies are recorded by
 * the front ends as requests finish; the per-actor series are filled at
 * scrape time from the public `Cluster` API (`members()` and `stats()`).
 *
 * Series:
 * - `ringkv_requests_total{front_end, operation, outcome}` (counter). `outcome`
 *   is `ok`, `not_found`, or an error code in lower case (`quorum_not_reached`,
 *   `invalid_option`, …): a small, fixed set.
 * - `ringkv_request_duration_seconds{front_end, operation}` (histogram).
 * - `ringkv_actor_up{actor, zone}` (gauge): 1 when the actor's thread is up.
 * - `ringkv_actor_keys{actor}` (gauge): keys the actor stores (tombstones included).
 * - `ringkv_actor_pending_ops{actor}` (gauge): requests the actor is coordinating.
 * - `ringkv_actor_coordinated_requests_total{actor, operation}` (counter; `get` or `put`, deletes count as puts).
 * - `ringkv_actor_read_repairs_total{actor}` (counter).
 * - `ringkv_actor_lmdb_commits_total{actor}` (counter): LMDB transactions committed.
 * - `ringkv_reads_total{path}` (counter): reads this process served `direct`ly
 *   (the main thread read the replicas' LMDB snapshots) or `coordinated` by an actor.
 * - `ringkv_coordinated_reads_total{reason}` (counter): why reads went to an actor
 *   (`disabled`, `via`, `ring-changing`, `fault`, `unhealthy`, `error`).
 * - `ringkv_direct_read_repairs_total` (counter): read repairs sent by direct reads.
 * - `ringkv_actor_stats_available` (gauge): 1 when `cluster.stats()` answered for
 *   this scrape; 0 when it failed (e.g. an actor is down) and the per-actor
 *   stats series above were left out.
 *
 * The per-actor cumulative counts restart from zero when an actor restarts,
 * which Prometheus' `rate()` handles as a counter reset.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { Cluster } from '../index.js';

export type FrontEnd = 'http' | 'resp';

/** How long a scrape waits for `cluster.stats()` before leaving the stats series out. */
const STATS_TIMEOUT_MS = 2000;

export const registry = new Registry();

/** The Content-Type of `renderMetrics`' output (Prometheus text exposition format). */
export const metricsContentType: string = registry.contentType;

/** Latency buckets (seconds) of ringkv_request_duration_seconds. */
const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/**
 * One front end's requests of one operation, counted in plain numbers:
 * prom-client's own inc()/observe() hash their labels on every call
 * (measured: 0.66 µs a request here, the cost of a whole direct read), so
 * the hot path only adds to these, and prom-client reads them at scrape.
 */
class RequestTally {
  ok = 0;
  /** Outcomes other than ok (a small fixed set: error codes). */
  readonly failed = new Map<string, number>();
  /** Requests per latency bucket (not cumulative); the last is +Inf. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS_S.length + 1);
  count = 0;
  sumSeconds = 0;

  constructor(
    readonly frontEnd: FrontEnd,
    readonly operation: string,
  ) {}
}

/** Tallies by front end, then operation: two map lookups, no label hashing. */
const tallies: Record<FrontEnd, Map<string, RequestTally>> = { http: new Map(), resp: new Map() };

function tallyOf(frontEnd: FrontEnd, op: string): RequestTally {
  const byOp = tallies[frontEnd];
  let tally = byOp.get(op);
  if (tally === undefined) {
    tally = new RequestTally(frontEnd, op);
    byOp.set(op, tally);
  }
  return tally;
}

function* allTallies(): Generator<RequestTally> {
  for (const byOp of Object.values(tallies)) yield* byOp.values();
}

new Counter({
  name: 'ringkv_requests_total',
  help: 'Requests served by a front end, by operation and outcome (ok, not_found, or a lower-case error code).',
  labelNames: ['front_end', 'operation', 'outcome'] as const,
  registers: [registry],
  collect() {
    this.reset(); // then set from the tallies, which hold the totals
    for (const t of allTallies()) {
      if (t.ok > 0) this.inc({ front_end: t.frontEnd, operation: t.operation, outcome: 'ok' }, t.ok);
      for (const [outcome, n] of t.failed) this.inc({ front_end: t.frontEnd, operation: t.operation, outcome }, n);
    }
  },
});

const LATENCY = {
  name: 'ringkv_request_duration_seconds',
  help: 'Time from a request arriving at a front end to its reply, by operation.',
  type: 'histogram',
  aggregator: 'sum',
} as const;

/** ringkv_request_duration_seconds, rendered from the tallies: prom-client's registry takes any metric with get(). */
registry.registerMetric({
  ...LATENCY,
  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const t of allTallies()) {
      const labels = { front_end: t.frontEnd, operation: t.operation };
      let cumulative = 0;
      LATENCY_BUCKETS_S.forEach((le, i) => {
        cumulative += t.buckets[i]!;
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${LATENCY.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: t.count, metricName: `${LATENCY.name}_bucket` });
      values.push({ labels, value: t.sumSeconds, metricName: `${LATENCY.name}_sum` });
      values.push({ labels, value: t.count, metricName: `${LATENCY.name}_count` });
    }
    return Promise.resolve({ ...LATENCY, values });
  },
  reset() {
    for (const byOp of Object.values(tallies)) byOp.clear();
  },
} as never);

const actorUp = new Gauge({
  name: 'ringkv_actor_up',
  help: 'Whether the actor is up (1) or down/stopped (0).',
  labelNames: ['actor', 'zone'] as const,
  registers: [registry],
});

const actorKeys = new Gauge({
  name: 'ringkv_actor_keys',
  help: 'Keys stored by the actor (tombstones included).',
  labelNames: ['actor'] as const,
  registers: [registry],
});

const actorUtilisation = new Gauge({
  name: 'ringkv_actor_event_loop_utilization',
  help: "Share of time the actor's thread was busy since the previous scrape (0..1).",
  labelNames: ['actor'] as const,
  registers: [registry],
});

const actorPending = new Gauge({
  name: 'ringkv_actor_pending_ops',
  help: 'Requests the actor is coordinating right now.',
  labelNames: ['actor'] as const,
  registers: [registry],
});

const actorCoordinated = new Counter({
  name: 'ringkv_actor_coordinated_requests_total',
  help: 'Requests the actor coordinated since it started, by operation (deletes count as puts).',
  labelNames: ['actor', 'operation'] as const,
  registers: [registry],
});

const actorAntiEntropyKeysSent = new Counter({
  name: 'ringkv_actor_anti_entropy_keys_sent_total',
  help: 'Entries the actor pushed to other replicas in anti-entropy passes since it started.',
  labelNames: ['actor'] as const,
  registers: [registry],
});
const actorCleanupRemoved = new Counter({
  name: 'ringkv_actor_cleanup_removed_keys_total',
  help: 'Entries the actor deleted in cleanup passes (copies of ranges a membership change moved away) since it started.',
  labelNames: ['actor'] as const,
  registers: [registry],
});
const actorReadRepairs = new Counter({
  name: 'ringkv_actor_read_repairs_total',
  help: 'Read repairs the actor sent since it started.',
  labelNames: ['actor'] as const,
  registers: [registry],
});

const actorHints = new Gauge({
  name: 'ringkv_actor_hints_pending',
  help: 'Hints the actor holds for owners that were down (sloppy quorum), not yet handed off.',
  labelNames: ['actor'] as const,
  registers: [registry],
});

const actorHintEvents = new Counter({
  name: 'ringkv_actor_hints_total',
  help: 'Hints the actor stored, handed off to their owner, or dropped (store full or too old).',
  labelNames: ['actor', 'event'] as const,
  registers: [registry],
});

const repairPasses = new Gauge({
  name: 'ringkv_anti_entropy_passes',
  help: 'Anti-entropy passes finished since the cluster started.',
  registers: [registry],
});

const autoscalerDecisions = new Gauge({
  name: 'ringkv_autoscaler_decisions',
  help: 'Changes the autoscaler decided (of its latest 50), by action.',
  labelNames: ['action'] as const,
  registers: [registry],
});

const hedgedReads = new Gauge({
  name: 'ringkv_hedged_reads',
  help: 'Reads also sent to a second coordinator because the first was slow (hedgeReadsAfterMs), since the cluster started.',
  registers: [registry],
});

const actorCommits = new Counter({
  name: 'ringkv_actor_lmdb_commits_total',
  help: 'LMDB transactions the actor committed since it started (group commits).',
  labelNames: ['actor'] as const,
  registers: [registry],
});

const reads = new Counter({
  name: 'ringkv_reads_total',
  help: 'Reads served directly from the replicas\' LMDB snapshots on the main thread (direct) or by a coordinator actor (coordinated), since the cluster started.',
  labelNames: ['path'] as const,
  registers: [registry],
});

const coordinatedReads = new Counter({
  name: 'ringkv_coordinated_reads_total',
  help: 'Reads sent to a coordinator actor, by why they could not be served directly.',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const directReadRepairs = new Counter({
  name: 'ringkv_direct_read_repairs_total',
  help: 'Read repairs sent to stale replicas by direct reads, since the cluster started.',
  registers: [registry],
});

const statsAvailable = new Gauge({
  name: 'ringkv_actor_stats_available',
  help: 'Whether cluster.stats() answered for this scrape (1) or not (0: per-actor stats series left out).',
  registers: [registry],
});

/** Record one finished request of a front end. */
export function recordRequest(frontEnd: FrontEnd, op: string, outcome: string, seconds: number): void {
  const t = tallyOf(frontEnd, op);
  if (outcome === 'ok') t.ok++;
  else t.failed.set(outcome, (t.failed.get(outcome) ?? 0) + 1);
  if (!(seconds >= 0 && seconds < Infinity)) return; // NaN, negative or infinite: counted, not timed
  let i = 0;
  while (i < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[i]!) i++;
  t.buckets[i]!++;
  t.count++;
  t.sumSeconds += seconds;
}

type StatsSnapshot = Awaited<ReturnType<Cluster['stats']>>;

/** `cluster.stats()`, or null when it fails or takes longer than `timeoutMs`. */
export async function statsOrNull(cluster: Cluster, timeoutMs = STATS_TIMEOUT_MS): Promise<StatsSnapshot | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      cluster.stats(),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs);
        timer.unref();
      }),
    ]);
  } catch {
    return null;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Fill the per-actor series from `cluster` and render the whole registry in Prometheus text format. */
export async function renderMetrics(cluster: Cluster): Promise<string> {
  const stats = await statsOrNull(cluster);
  const members = cluster.members();
  // Everything below up to registry.metrics() is synchronous, so concurrent scrapes cannot interleave.
  for (const m of [actorUp, actorKeys, actorPending, actorUtilisation, actorCoordinated, actorReadRepairs, actorAntiEntropyKeysSent, actorCleanupRemoved, actorCommits, actorHints, actorHintEvents]) m.reset();
  repairPasses.set(cluster.repairs);
  const paths = cluster.readPaths();
  for (const m of [reads, coordinatedReads, directReadRepairs]) m.reset();
  reads.inc({ path: 'direct' }, paths.direct);
  reads.inc({ path: 'coordinated' }, paths.coordinated);
  for (const [reason, n] of Object.entries(paths.coordinatedBy)) coordinatedReads.inc({ reason }, n);
  directReadRepairs.inc(paths.directReadRepairs);
  hedgedReads.set(cluster.hedgedReads);
  const decided = cluster.autoscalerStatus().decisions;
  for (const action of ['add', 'remove'] as const) autoscalerDecisions.set({ action }, decided.filter((d) => d.action === action).length);
  for (const m of members) actorUp.set({ actor: String(m.id), zone: m.zone }, m.status === 'up' ? 1 : 0);
  statsAvailable.set(stats === null ? 0 : 1);
  if (stats !== null) {
    for (const s of stats) {
      const actor = String(s.id);
      actorKeys.set({ actor }, s.keys);
      actorPending.set({ actor }, s.pendingOps);
      actorUtilisation.set({ actor }, s.eventLoopUtilization);
      actorCoordinated.inc({ actor, operation: 'get' }, s.coordinatedGets);
      actorCoordinated.inc({ actor, operation: 'put' }, s.coordinatedPuts);
      actorReadRepairs.inc({ actor }, s.readRepairs);
      actorAntiEntropyKeysSent.inc({ actor }, s.antiEntropyKeysSent);
      actorCleanupRemoved.inc({ actor }, s.cleanupRemovedKeys);
      actorCommits.inc({ actor }, s.commits);
      actorHints.set({ actor }, s.hintsPending);
      actorHintEvents.inc({ actor, event: 'stored' }, s.hintsStored);
      actorHintEvents.inc({ actor, event: 'handed_off' }, s.hintsHandedOff);
      actorHintEvents.inc({ actor, event: 'dropped' }, s.hintsDropped);
    }
  }
  return registry.metrics();
}
