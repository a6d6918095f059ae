import test from 'ava';
import { Autoscaler, AutoscalerError, DEFAULT_POLICY, type ActorLoad, type AutoscalerPolicy, type Decision } from '../src/membership/autoscaler.js';
import { InvalidOptionError } from '../src/index.js';
import { renderMetrics } from '../src/server/metrics.js';
import { startCluster, until } from './helpers.js';

const policy = (o: Partial<AutoscalerPolicy> = {}): AutoscalerPolicy => ({ ...DEFAULT_POLICY, minActors: 3, maxActors: 10, ...o });

/** A synthetic cluster: every actor serves `capacityPerSec`; utilisation and latency follow the offered load. */
function sampleFor(atMs: number, actors: { id: number; zone: string }[], offeredPerSec: number, capacityPerSec = 10_000) {
  const utilisation = Math.min(1, offeredPerSec / (actors.length * capacityPerSec));
  const p99Ms = 2 + 200 * Math.max(0, utilisation - 0.7) ** 2; // latency climbs as the actors saturate
  const loads: ActorLoad[] = actors.map((a) => ({ id: a.id, zone: a.zone, elu: utilisation, requestsPerSec: offeredPerSec / actors.length, queueDepth: Math.round(utilisation * 50) }));
  return { atMs, actors: loads, p99Ms };
}

test('driven by a load that rises and falls, it scales out and back in within its bounds, without flapping', (t) => {
  const scaler = new Autoscaler(policy({ minActors: 3, maxActors: 8 }), 3);
  let actors = [0, 1, 2].map((id) => ({ id, zone: ['a', 'b', 'c'][id]! }));
  let nextId = 3;
  const decisions: (Decision & { atMs: number })[] = [];
  const sizes: number[] = [];
  // 60 virtual minutes, one sample a second: 10 min idle, ramp to 70k req/s over 10 min, 20 min plateau, down to idle over 10 min, 10 min idle
  for (let s = 0; s < 3600; s++) {
    const atMs = s * 1000;
    const minute = s / 60;
    const offered = minute < 10 ? 3000 : minute < 20 ? 3000 + (67_000 * (minute - 10)) / 10 : minute < 40 ? 70_000 : minute < 50 ? 70_000 - (67_000 * (minute - 40)) / 10 : 3000;
    const d = scaler.observe(sampleFor(atMs, actors, offered));
    if (d.action === 'add') {
      actors = [...actors, { id: nextId++, zone: d.zone }];
      decisions.push({ ...d, atMs });
    } else if (d.action === 'remove') {
      actors = actors.filter((a) => a.id !== d.id);
      decisions.push({ ...d, atMs });
    }
    sizes.push(actors.length);
  }
  const adds = decisions.filter((d) => d.action === 'add');
  const removes = decisions.filter((d) => d.action === 'remove');
  t.true(adds.length >= 4, `scaled out ${adds.length} times`);
  t.true(removes.length >= 4, `scaled in ${removes.length} times`);
  t.true(Math.max(...sizes) <= 8 && Math.min(...sizes) >= 3, 'within minActors..maxActors');
  t.is(sizes[sizes.length - 1], 3, 'back to the floor when idle');
  // no flapping: all the adds come before all the removes, and changes are a cooldown apart
  t.true(adds[adds.length - 1]!.atMs < removes[0]!.atMs);
  for (let i = 1; i < decisions.length; i++) t.true(decisions[i]!.atMs - decisions[i - 1]!.atMs >= DEFAULT_POLICY.cooldownMs);
  // zones stay balanced as it grows, and every decision says why with its figures
  const peakZones = new Map<string, number>();
  for (const a of actors) peakZones.set(a.zone, (peakZones.get(a.zone) ?? 0) + 1);
  t.deepEqual([...peakZones.keys()].sort(), ['a', 'b', 'c']);
  for (const d of decisions) {
    t.regex(d.reason, /(hot|cold) for 30000 ms: mean ELU [0-9.]+, p99 [0-9.]+ ms/);
    t.true(d.figures.actors > 0);
  }
  t.log(decisions.map((d) => `${(d.atMs / 60_000).toFixed(1)} min: ${d.action} → ${d.figures.actors + (d.action === 'add' ? 1 : -1)} actors`).join('; '));
});

test('it waits for a full window, holds during the cooldown, and respects maxActors', (t) => {
  const scaler = new Autoscaler(policy({ minActors: 3, maxActors: 4, windowMs: 10_000, cooldownMs: 20_000 }), 3);
  const actors = [0, 1, 2].map((id) => ({ id, zone: 'z' }));
  const hot = (atMs: number, a = actors) => scaler.observe(sampleFor(atMs, a, 1e9));
  for (let s = 0; s < 8; s++) t.is(hot(s * 1000).reason, 'not a full window of samples yet');
  let d = hot(9000);
  t.is(d.action, 'add');
  const four = [...actors, { id: 3, zone: 'z' }];
  for (let s = 10; s < 29; s++) t.regex(hot(s * 1000, four).reason, /cooling down after the last change/);
  d = hot(29_000, four); // cooled down, and the window since the change is full
  t.is(d.action, 'hold');
  t.regex(d.reason, /already at maxActors \(4\)/);
});

test('it never retires below n and minActors, nor an actor whose zone the replicas need', (t) => {
  const scaler = new Autoscaler(policy({ minActors: 3, maxActors: 10, windowMs: 5000, cooldownMs: 0 }), 3);
  const idle = (atMs: number, a: { id: number; zone: string }[]) => scaler.observe(sampleFor(atMs, a, 0));
  const five = [
    { id: 0, zone: 'a' },
    { id: 1, zone: 'b' },
    { id: 2, zone: 'c' },
    { id: 3, zone: 'a' },
    { id: 4, zone: 'c' },
  ];
  let d: Decision = { action: 'hold', reason: '', figures: undefined as never };
  for (let s = 0; s <= 5; s++) d = idle(s * 1000, five);
  t.is(d.action, 'remove');
  t.true(d.action === 'remove' && [0, 2, 3, 4].includes(d.id), 'from a zone with two actors, never b');
  const three = [
    { id: 0, zone: 'a' },
    { id: 1, zone: 'b' },
    { id: 2, zone: 'c' },
  ];
  for (let s = 10; s <= 16; s++) d = idle(s * 1000, three);
  t.is(d.action, 'hold');
  t.regex(d.reason, /already at the floor \(3 actors/);
});

test('bad policies and out-of-order samples are refused', (t) => {
  t.throws(() => new Autoscaler(policy({ minActors: 2 }), 3), { instanceOf: AutoscalerError, message: /minActors must be an integer >= n/ });
  t.throws(() => new Autoscaler(policy({ maxActors: 2 }), 1), { instanceOf: AutoscalerError, message: /maxActors must be/ });
  t.throws(() => new Autoscaler(policy({ coldElu: 0.9 }), 3), { instanceOf: AutoscalerError, message: /coldElu < hotElu/ });
  t.throws(() => new Autoscaler(policy({ agreement: 0 }), 3), { instanceOf: AutoscalerError, message: /agreement/ });
  const s = new Autoscaler(policy(), 3);
  s.observe(sampleFor(1000, [{ id: 0, zone: 'a' }], 0));
  t.throws(() => s.observe(sampleFor(1000, [{ id: 0, zone: 'a' }], 0)), { instanceOf: AutoscalerError, message: /time order/ });
  t.throws(() => s.observe({ atMs: 2000, actors: [], p99Ms: 1 }), { instanceOf: AutoscalerError, message: /at least one actor/ });
});

test.serial('wired to a cluster: under load it adds an actor within its bounds, and says why in its status and metrics', async (t) => {
  // thresholds so low that any traffic is "hot": the point is the wiring, the policy is tested above
  const c = await startCluster(t, {
    actors: 3,
    antiEntropyIntervalMs: 0,
    autoscale: { minActors: 3, maxActors: 4, sampleIntervalMs: 100, windowMs: 500, cooldownMs: 60_000, hotElu: 0.001, coldElu: 0.0005 },
  });
  let stop = false;
  const load = (async () => {
    for (let i = 0; !stop; i++) await Promise.all(Array.from({ length: 32 }, (_, j) => c.put(`auto:${i}:${j}`, 'v').catch(() => undefined)));
  })();
  await until(t, 'the autoscaler added an actor', () => c.members().length === 4, 20_000);
  await until(t, 'the change finished', () => c.autoscalerStatus().decisions[0]?.outcome.startsWith('done') === true, 20_000);
  stop = true;
  await load;
  const status = c.autoscalerStatus();
  t.true(status.enabled);
  t.is(status.decisions.length, 1, 'one change; the cooldown holds the rest (and 4 is the maximum)');
  t.is(status.decisions[0]!.action, 'add');
  t.regex(status.decisions[0]!.reason, /hot for 500 ms: mean ELU [0-9.]+/);
  t.regex(await renderMetrics(c), /ringkv_autoscaler_decisions\{action="add"\} 1/);
});

test('autoscale options are validated when the cluster starts', async (t) => {
  const { Cluster } = await import('../src/index.js');
  for (const [autoscale, message] of [
    [{ minActors: 2, maxActors: 4 }, /autoscale.minActors/],
    [{ minActors: 3, maxActors: 2 }, /autoscale.maxActors/],
    [{ minActors: 3, maxActors: 4, hotElu: 0.1, coldElu: 0.2 }, /coldElu .* must be below hotElu/],
    [{ minActors: 3, maxActors: 4, hotElu: 2 }, /autoscale.hotElu must be a number in 0..1/],
  ] as const) {
    await t.throwsAsync(Cluster.start({ dataDir: '/nonexistent-never-created', n: 3, actors: 3, autoscale }), { instanceOf: InvalidOptionError, message });
  }
});
