import test from 'ava';
import { readable, routeRead, type ReadRoute, type ReadRouteQuery, type ReplicaHealth } from '../src/cluster/read-route.js';
import { NO_FAULTS, touchedActors, type LinkFaults } from '../src/transport/faults.js';

const FLAGS = ['running', 'gossipDown', 'recovering', 'open', 'faulted'] as const;

/** Health number `bits` (0..31): one bit per flag, in FLAGS order. */
function health(bits: number): ReplicaHealth {
  const h: Record<string, boolean> = {};
  FLAGS.forEach((f, i) => (h[f] = (bits & (1 << i)) !== 0));
  return h as unknown as ReplicaHealth;
}

/** Every assignment of the 32 health states to `n` replicas. */
function* assignments(n: number): Generator<number[]> {
  const total = 32 ** n;
  for (let x = 0; x < total; x++) {
    const out: number[] = [];
    let rest = x;
    for (let i = 0; i < n; i++) {
      out.push(rest % 32);
      rest = Math.floor(rest / 32);
    }
    yield out;
  }
}

/** The rules, restated declaratively: what a route must satisfy for one query and one health assignment. */
function check(q: ReadRouteQuery, hs: readonly ReplicaHealth[], route: ReadRoute): string | null {
  const healthOf = (id: number): ReplicaHealth => hs[q.pref.indexOf(id)]!;
  const expectedReason = !q.enabled ? 'disabled' : q.via ? 'via' : q.ringChanging ? 'ring-changing' : hs.some((h) => h.faulted) ? 'fault' : null;
  if (expectedReason !== null) return !route.direct && route.reason === expectedReason ? null : `expected coordinated (${expectedReason})`;
  const eligible = q.pref.filter((id) => readable(healthOf(id)));
  if (eligible.length < q.r) return !route.direct && route.reason === 'unhealthy' ? null : 'expected coordinated (unhealthy)';
  if (!route.direct) return `expected direct, got ${route.reason}`;
  // exactly r distinct replicas, each up, not recovering, open; the first r such in preference order
  if (route.replicas.length !== q.r || new Set(route.replicas).size !== q.r) return 'wrong count';
  for (const id of route.replicas) {
    const h = healthOf(id);
    if (!h.running || h.gossipDown || h.recovering || !h.open || h.faulted) return `read unhealthy replica ${id}`;
  }
  return route.replicas.join() === eligible.slice(0, q.r).join() ? null : 'not the first r eligible replicas in preference order';
}

test('routeRead: every health assignment of up to 3 replicas, every r, every flag combination', (t) => {
  let cases = 0;
  for (let n = 1; n <= 3; n++) {
    const pref = Array.from({ length: n }, (_, i) => 10 + ((i * 7) % 5)); // not sorted, not 0-based
    for (const bits of assignments(n)) {
      const hs = bits.map(health);
      for (let r = 1; r <= n; r++) {
        for (const enabled of [true, false]) {
          for (const via of [false, true]) {
            for (const ringChanging of [false, true]) {
              const q = { enabled, via, ringChanging, r, pref };
              const route = routeRead(q, (id) => hs[pref.indexOf(id)]!);
              const problem = check(q, hs, route);
              if (problem !== null) return t.fail(`${problem}: ${JSON.stringify({ q, hs, route })}`);
              cases++;
            }
          }
        }
      }
    }
  }
  t.is(cases, 8 * (32 * 1 + 32 ** 2 * 2 + 32 ** 3 * 3));
});

test('routeRead: four replicas, every health assignment and r (routing flags off)', (t) => {
  const pref = [3, 0, 2, 1];
  for (const bits of assignments(4)) {
    const hs = bits.map(health);
    for (let r = 1; r <= 4; r++) {
      const q = { enabled: true, via: false, ringChanging: false, r, pref };
      const problem = check(q, hs, routeRead(q, (id) => hs[pref.indexOf(id)]!));
      if (problem !== null) return t.fail(`${problem}: ${JSON.stringify({ r, bits })}`);
    }
  }
  t.pass();
});

test('routeRead: examples — a down or recovering replica is skipped, a faulted one sends the key to a coordinator', (t) => {
  const ok: ReplicaHealth = { running: true, gossipDown: false, recovering: false, open: true, faulted: false };
  const q = { enabled: true, via: false, ringChanging: false, r: 2, pref: [4, 1, 2] };
  const at = (m: Record<number, Partial<ReplicaHealth>>) => (id: number): ReplicaHealth => ({ ...ok, ...m[id] });
  t.deepEqual(routeRead(q, at({})), { direct: true, replicas: [4, 1] });
  t.deepEqual(routeRead(q, at({ 4: { running: false } })), { direct: true, replicas: [1, 2] });
  t.deepEqual(routeRead(q, at({ 1: { recovering: true } })), { direct: true, replicas: [4, 2] });
  t.deepEqual(routeRead(q, at({ 1: { open: false }, 2: { gossipDown: true } })), { direct: false, reason: 'unhealthy' });
  t.deepEqual(routeRead(q, at({ 2: { faulted: true } })), { direct: false, reason: 'fault' }, 'a fault on a replica not read still counts');
  t.deepEqual(routeRead({ ...q, r: 3 }, at({})), { direct: true, replicas: [4, 1, 2] });
  t.throws(() => routeRead({ ...q, r: 4 }, at({})), { instanceOf: RangeError });
  t.throws(() => routeRead({ ...q, r: 0 }, at({})), { instanceOf: RangeError });
});

test('routeRead asks for the health of each replica at most once, in preference order', (t) => {
  const asked: number[] = [];
  const ok: ReplicaHealth = { running: true, gossipDown: false, recovering: false, open: true, faulted: false };
  routeRead({ enabled: true, via: false, ringChanging: false, r: 1, pref: [2, 0, 1] }, (id) => (asked.push(id), ok));
  t.deepEqual(asked, [2, 0, 1], 'every replica is asked (a fault on any of them matters), once');
});

test('touchedActors: both ends of every link rule, and paused actors; empty rules touch nobody', (t) => {
  const rules: [number, LinkFaults][] = [
    [0, { blocked: [3], drop: [], delayMs: [] }],
    [1, { blocked: [], drop: [[4, 0.5]], delayMs: [] }],
    [5, { blocked: [], drop: [], delayMs: [[6, 10]] }],
    [7, NO_FAULTS],
  ];
  t.deepEqual([...touchedActors(rules, [9])].sort((a, b) => a - b), [0, 1, 3, 4, 5, 6, 9]);
  t.deepEqual([...touchedActors([[7, NO_FAULTS]], [])], []);
});
