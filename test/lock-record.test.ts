import test from 'ava';
import { formatLockRecord, judgeLock, parseLockRecord, UNREADABLE_LOCK_GRACE_MS, type LockFacts, type LockRecord, type LockVerdict } from '../src/supervisor/lock-record.js';

const SELF = { pid: 1000, startTime: '777', hostname: 'box', bootId: 'boot-1' };
const record = (over: Partial<LockRecord> = {}): LockRecord => ({
  pid: 2000,
  startTime: '555',
  bootId: 'boot-1',
  hostname: 'box',
  token: 'abc123',
  acquiredAt: '2026-12-01T00:00:00.000Z',
  ...over,
});
const facts = (over: Partial<LockFacts> = {}, holder: Partial<LockFacts['holder']> = {}): LockFacts => ({
  self: SELF,
  heldHere: false,
  holder: { exists: true, zombie: false, startTime: '555', ...holder },
  fileAgeMs: 10,
  ...over,
});

test('lock records: format and parse round-trip', (t) => {
  const r = record({ startTime: null, bootId: null });
  t.deepEqual(parseLockRecord(formatLockRecord(r)), r);
  t.deepEqual(parseLockRecord(formatLockRecord(record())), record());
  t.deepEqual(parseLockRecord(JSON.stringify({ ...record(), extra: 1 })), record(), 'unknown fields are ignored');
});

test('lock records: anything that is not a whole record parses as null (unreadable)', (t) => {
  const whole = formatLockRecord(record());
  const bad = [
    '',
    '\n',
    whole.slice(0, 20), // cut short
    'null',
    '42',
    '"ringkv"',
    '[]',
    JSON.stringify({ ...record(), pid: 0 }), // kill(0) would signal our own process group
    JSON.stringify({ ...record(), pid: -1 }), // kill(-1) would signal every process we may
    JSON.stringify({ ...record(), pid: 1.5 }),
    JSON.stringify({ ...record(), pid: '2000' }),
    JSON.stringify({ ...record(), token: '' }),
    JSON.stringify({ ...record(), startTime: 555 }),
    JSON.stringify({ ...record(), hostname: undefined }),
    JSON.stringify({ ...record(), acquiredAt: undefined }),
    JSON.stringify({ ...record(), bootId: undefined }),
  ];
  for (const text of bad) t.is(parseLockRecord(text), null, text);
});

test('staleness: the named cases', (t) => {
  const is = (v: LockVerdict, stale: boolean, why: LockVerdict['why'], what: string): void => {
    t.deepEqual(v, { stale, why } as LockVerdict, what);
  };
  is(judgeLock(record(), facts()), false, 'alive', 'a live holder with its start time keeps its lock');
  is(judgeLock(record(), facts({}, { exists: false, startTime: null })), true, 'gone', 'a holder that is gone (kill -9) leaves a stale lock');
  is(judgeLock(record(), facts({}, { zombie: true })), true, 'zombie', 'an exited holder not yet reaped holds nothing');
  is(judgeLock(record(), facts({}, { startTime: '999' })), true, 'pid-reused', 'the pid now names a later process');
  is(judgeLock(record({ startTime: null }), facts({}, { startTime: '999' })), false, 'alive', 'no recorded start time: the pid alone decides');
  is(judgeLock(record(), facts({}, { startTime: null })), false, 'alive', 'start time unreadable now: the pid alone decides');
  is(judgeLock(record({ bootId: 'boot-0' }), facts()), true, 'rebooted', 'a lock from before a reboot');
  is(judgeLock(record({ bootId: null }), facts()), false, 'alive', 'no recorded boot id: not judged by it');
  is(judgeLock(record({ bootId: 'boot-0' }), facts({ self: { ...SELF, bootId: null } })), false, 'alive', 'our boot id unknown: not judged by it');
  is(judgeLock(record({ hostname: 'other' }), facts({}, { exists: false })), false, 'other-host', 'another host: its pids cannot be checked from here');
  is(judgeLock(record({ pid: SELF.pid }), facts({ heldHere: true })), false, 'held-here', 'another Cluster in this process');
  is(judgeLock(record({ pid: SELF.pid }), facts({ heldHere: false })), true, 'own-pid', 'our pid but not our lock: an earlier process had this pid');
  is(judgeLock(record({ pid: SELF.pid, startTime: SELF.startTime }), facts({ heldHere: false })), false, 'held-here', 'our pid and start time: a Cluster in another thread of this process');
  is(judgeLock(record({ pid: SELF.pid, startTime: null }), facts({ heldHere: false })), true, 'own-pid', 'no start time recorded: only the registry can say it is ours');
  is(judgeLock(record({ pid: SELF.pid, startTime: SELF.startTime }), facts({ heldHere: false, self: { ...SELF, startTime: null } })), true, 'own-pid', 'our start time unknown: only the registry');
  is(judgeLock(null, facts({ fileAgeMs: 0 })), false, 'unreadable-recent', 'an unreadable lock may be being written');
  is(judgeLock(null, facts({ fileAgeMs: UNREADABLE_LOCK_GRACE_MS - 1 })), false, 'unreadable-recent', 'just under the grace');
  is(judgeLock(null, facts({ fileAgeMs: UNREADABLE_LOCK_GRACE_MS })), true, 'unreadable-old', 'an unreadable lock past the grace is a crash’s leftover');
});

// Every combination of what a record says and what the machine says.
function* everyCase(): Generator<{ record: LockRecord | null; facts: LockFacts }> {
  const records: (LockRecord | null)[] = [null];
  for (const pid of [SELF.pid, 2000]) {
    for (const hostname of ['box', 'other']) {
      for (const bootId of [null, 'boot-1', 'boot-0']) {
        for (const startTime of [null, '555', SELF.startTime]) records.push(record({ pid, hostname, bootId, startTime }));
      }
    }
  }
  const selves = [null, SELF.startTime].flatMap((startTime) => [null, 'boot-1'].map((bootId) => ({ ...SELF, startTime, bootId })));
  const holders = [false, true].flatMap((exists) => [false, true].flatMap((zombie) => [null, '555', '999'].map((startTime) => ({ exists, zombie, startTime }))));
  const ages = [0, UNREADABLE_LOCK_GRACE_MS - 1, UNREADABLE_LOCK_GRACE_MS, 3_600_000];
  for (const r of records) {
    for (const self of selves) {
      for (const heldHere of [false, true]) {
        for (const holder of holders) {
          for (const fileAgeMs of ages) yield { record: r, facts: { self, heldHere, holder, fileAgeMs } };
        }
      }
    }
  }
}

test('staleness: every combination obeys the rules', (t) => {
  const seen = new Set<string>();
  let cases = 0;
  for (const { record: r, facts: f } of everyCase()) {
    cases++;
    const v = judgeLock(r, f);
    seen.add(v.why);
    const what = JSON.stringify({ r, f, v });
    if (r === null) {
      // unreadable: only its age counts
      t.is(v.stale, f.fileAgeMs >= UNREADABLE_LOCK_GRACE_MS, what);
      continue;
    }
    const rebooted = r.bootId !== null && f.self.bootId !== null && r.bootId !== f.self.bootId;
    if (r.hostname !== f.self.hostname) {
      if (v.stale) t.fail(`another host's lock is never taken over: ${what}`);
    } else if (rebooted) {
      if (!v.stale) t.fail(`a lock from before a reboot is stale: ${what}`);
    } else if (r.pid === f.self.pid) {
      const ours = f.heldHere || (r.startTime !== null && r.startTime === f.self.startTime);
      if (v.stale === ours) t.fail(`our own pid: held exactly when this process holds it (its registry says so, or the start time is ours): ${what}`);
    } else {
      const sameProcess = f.holder.exists && !f.holder.zombie && (r.startTime === null || f.holder.startTime === null || r.startTime === f.holder.startTime);
      if (v.stale === sameProcess) t.fail(`another pid: held exactly while that same process runs: ${what}`);
    }
    // the age of a readable lock never matters (a long-running holder keeps it)
    if (judgeLock(r, { ...f, fileAgeMs: 0 }).stale !== v.stale) t.fail(`age changed the verdict: ${what}`);
  }
  t.is(cases, (1 + 2 * 2 * 3 * 3) * 2 * 2 * 2 * 2 * 2 * 3 * 4);
  t.deepEqual([...seen].sort(), ['alive', 'gone', 'held-here', 'other-host', 'own-pid', 'pid-reused', 'rebooted', 'unreadable-old', 'unreadable-recent', 'zombie']);
});
