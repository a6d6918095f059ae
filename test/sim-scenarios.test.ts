import test from 'ava';
import { Scenario } from '../src/sim/scenario.js';

// Timing tests on simulated time: the real actors, no wall clock, no sleeps, no flakes on a loaded machine.
// (They were thread tests with sleeps and polling in test/expiry.test.ts.)

const SWEEP = { antiEntropyIntervalMs: 0, tombstoneGraceMs: 0, expirySweepIntervalMs: 50 } as const;

const sum = (s: Scenario, field: 'expiredCollected' | 'expiryRetries' | 'hintsPending' | 'expiryIndexEntries' | 'hintsDropped' | 'hintsHandedOff'): number => s.stats().reduce((n, a) => n + a[field], 0);

/** Kill the replica at `downPlace` of one preference list, and write `count` keys of it with a TTL (W=2: hints on a substitute). */
function writeWhileDown(s: Scenario, prefix: string, count: number, downPlace: number, ttlMs: number): { keys: string[]; down: number } {
  const pref = s.cluster.ring.preferenceList(s.cluster.ring.arc(3).end);
  const keys = Array.from({ length: count }, (_, i) => s.keyWithPreference(pref, `${prefix}${i}`));
  const down = pref[downPlace]!;
  s.cluster.crash(down, false);
  for (const k of keys) if (s.put(k, 'v', { ttlMs, w: 2 }).kind !== 'ok') throw new Error(`put ${k} failed`);
  return { keys, down };
}

test('the expiry sweep collects expired values as writes go on, with no anti-entropy pass; what is written again survives', (t) => {
  const s = new Scenario({ cluster: SWEEP });
  t.teardown(() => s.close());
  const perRound = 100;
  s.put('kept', 'old', { ttlMs: 100 });
  s.put('kept', 'new'); // overwritten before it expired: its index entry is stale, the key is not
  s.put('longer', 'v', { ttlMs: 100 });
  s.put('longer', 'v', { ttlMs: 60_000 }); // a later expiry replaces the earlier one
  const stored: number[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < perRound; i++) t.is(s.put(`round${round}:${i}`, 'x'.repeat(100), { ttlMs: 100, w: 3 }).kind, 'ok');
    // each round expires 100 ms after it was written; the sweep (every 50 ms) collects it well within a second
    t.not(s.advanceUntil(() => s.storedEntries() <= 6, 1000), -1, `round ${round} collected within a simulated second`);
    stored.push(s.storedEntries());
  }
  t.deepEqual(stored, [6, 6, 6, 6, 6], 'only the two kept keys (3 replicas each) stay');
  t.is(sum(s, 'expiredCollected'), 5 * perRound * 3, 'each replica of each expired key removed once');
  t.not(s.advanceUntil(() => sum(s, 'expiryIndexEntries') === 1, 5000), -1, 'the index keeps only the long expiry');
  t.deepEqual(s.get('kept', { r: 3 }).values, ['new']);
  t.deepEqual(s.get('longer', { r: 3 }).values, ['v']);
});

test('the expiry sweep leaves an expired value alone while a hint for it is pending, and collects it everywhere once the replica is back', (t) => {
  const s = new Scenario({ cluster: SWEEP });
  t.teardown(() => s.close());
  const { keys, down } = writeWhileDown(s, 'held', 10, 2, 100);
  s.advance(2000); // forty sweeps after the values expired
  for (const k of keys) {
    t.deepEqual(s.get(k).values, [], `${k} expired`);
    t.deepEqual([...s.held(k).keys()].filter((id) => id !== down).length, 2, `${k}: both live replicas still hold it`);
  }
  t.true(sum(s, 'expiryRetries') > 0, 'the sweep looked and put it off');
  t.true(sum(s, 'hintsPending') >= keys.length);
  s.cluster.restart(down);
  const tookMs = s.advanceUntil(() => keys.every((k) => s.held(k).size === 0), 10_000);
  t.not(tookMs, -1, 'collected on every replica');
  t.log(`collected everywhere ${tookMs} simulated ms after the replica came back`);
  for (const k of keys) t.deepEqual(s.get(k, { r: 3 }).values, []);
  t.is(sum(s, 'hintsPending'), 0);
});

test('the expiry sweep collects nothing while any actor holds a hint, even with every replica up', (t) => {
  // hints are handed off only every 10 minutes here: they stay pending for the whole test
  const s = new Scenario({ cluster: { ...SWEEP, handoffIntervalMs: 600_000 } });
  t.teardown(() => s.close());
  const { keys, down } = writeWhileDown(s, 'hinted', 10, 1, 100);
  s.cluster.restart(down);
  t.true(s.repair(), 'the restarted replica gets the writes too: every replica holds the same bytes, only the hints are left');
  for (const k of keys) t.is(s.held(k).size, 3);
  const retriesBefore = sum(s, 'expiryRetries');
  s.advance(3000);
  t.true(sum(s, 'expiryRetries') > retriesBefore + keys.length, 'the sweep looked again with every actor up');
  t.true(sum(s, 'hintsPending') >= keys.length, 'the hints are still pending');
  for (const k of keys) t.is(s.held(k).size, 3, `${k}: every replica still holds it`);
  t.is(sum(s, 'expiredCollected'), 0);
});

test('hints older than maxHintAgeMs are dropped and counted instead of handed off', (t) => {
  const s = new Scenario({ cluster: { maxHintAgeMs: 1000, handoffIntervalMs: 50 } });
  t.teardown(() => s.close());
  const owner = 4;
  const keys: string[] = [];
  for (let i = 0; keys.length < 5; i++) if (s.preference(`old${i}`).includes(owner)) keys.push(`old${i}`);
  s.cluster.crash(owner, false);
  for (const k of keys) t.is(s.put(k, 'old', { w: 2 }).kind, 'ok');
  t.is(sum(s, 'hintsPending'), keys.length, 'a substitute holds one hint per write');
  s.advance(1300); // older than maxHintAgeMs by the time the owner is back
  s.cluster.restart(owner);
  t.not(s.advanceUntil(() => sum(s, 'hintsPending') === 0, 1000), -1, 'old hints dropped');
  t.is(sum(s, 'hintsDropped'), keys.length);
  t.is(sum(s, 'hintsHandedOff'), 0);
  for (const k of keys) t.false(s.held(k).has(owner), `${k}: the owner never got it from a hint (anti-entropy's job)`);
});

test('a hint younger than maxHintAgeMs is handed off once its owner is back: the owner holds the write, the substitute no longer holds the hint', (t) => {
  const s = new Scenario({ cluster: { maxHintAgeMs: 60_000, handoffIntervalMs: 50 } });
  t.teardown(() => s.close());
  const owner = 2;
  const keys: string[] = [];
  for (let i = 0; keys.length < 5; i++) if (s.preference(`young${i}`).includes(owner)) keys.push(`young${i}`);
  s.cluster.crash(owner, false);
  for (const k of keys) t.is(s.put(k, 'v', { w: 2 }).kind, 'ok');
  s.advance(1000);
  s.cluster.restart(owner);
  const tookMs = s.advanceUntil(() => sum(s, 'hintsPending') === 0, 2000);
  t.not(tookMs, -1, 'handed off');
  t.log(`handed off ${tookMs} simulated ms after the owner came back`);
  t.is(sum(s, 'hintsHandedOff'), keys.length);
  for (const k of keys) t.true(s.held(k).has(owner), `${k}: the owner holds it`);
});
