import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Cluster,
  ClusterClosedError,
  ImpossibleQuorumError,
  InvalidContextError,
  InvalidKeyError,
  InvalidOptionError,
  InvalidValueError,
  LayoutMismatchError,
  PairTooLargeError,
  QuorumError,
  TooManySiblingsError,
  UnknownActorError,
} from '../src/index.js';
import { prng, startCluster, tempDir, until } from './helpers.js';

test.serial('values come back as the type written: Buffer, string, JSON', async (t) => {
  const c = await startCluster(t);
  const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
  const cases: [string, unknown][] = [
    ['bytes', bytes],
    ['string', 'héllo wörld ✓'],
    ['empty-string', ''],
    ['object', { name: 'ada', tags: ['x', 'y'], nested: { n: 1.5, ok: true, nothing: null } }],
    ['array', [1, 'two', { three: 3 }]],
    ['number', 42],
    ['boolean', false],
    ['null', null],
    ['json-looking-string', '{"a":1}'],
  ];
  for (const [k, v] of cases) await c.put(k, v as never);
  for (const [k, v] of cases) {
    const res = await c.get(k);
    t.true(res.found, k);
    t.is(res.values.length, 1, k);
    t.deepEqual(res.values[0], v, k);
    if (v instanceof Buffer) t.true(Buffer.isBuffer(res.values[0]));
    if (typeof v === 'string') t.is(typeof res.values[0], 'string', k);
  }
  const missing = await c.get('no-such-key');
  t.deepEqual(missing, { values: [], expiresAtMs: [], context: '', found: false });
});

test.serial('binary and unicode keys; a string key and its UTF-8 bytes are the same key', async (t) => {
  const c = await startCluster(t);
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  await c.put(allBytes, 'all-bytes');
  await c.put('ключ-鍵-🔑', 'unicode');
  await c.put(Buffer.from([0]), 'nul');
  t.deepEqual((await c.get(allBytes)).values, ['all-bytes']);
  t.deepEqual((await c.get(Buffer.from('ключ-鍵-🔑'))).values, ['unicode']);
  t.deepEqual((await c.get('ключ-鍵-🔑')).values, ['unicode']);
  t.deepEqual((await c.get(new Uint8Array([0]))).values, ['nul']);
  t.false((await c.get(Buffer.from([0, 0]))).found);
});

test.serial('w=all puts a copy on all n replicas; every arc digest agrees', async (t) => {
  const c = await startCluster(t);
  for (let i = 0; i < 300; i++) await c.put(`k${i}`, `v${i}`, { w: 'all' });
  const cmp = await c.compareReplicas();
  t.is(cmp.divergent.length, 0);
  t.is(cmp.identical, cmp.arcs);
  const total = Object.values(cmp.keysPerActor).reduce((a, b) => a + b, 0);
  t.is(total, 300 * 3);
  // each actor holds roughly its share (3/5 of 300 = 180)
  for (const n of Object.values(cmp.keysPerActor)) t.true(n > 120 && n < 240, `actor holds ${n}`);
});

test.serial('named levels and numbers resolve against n; impossible quorums are refused before anything is sent', async (t) => {
  const c = await startCluster(t);
  await c.put('a', 1, { w: 'one' });
  await c.put('a', 2, { w: 'quorum' });
  await c.put('a', 3, { w: 'all', context: (await c.get('a', { r: 'all' })).context });
  t.deepEqual((await c.get('a', { r: 'one' })).values.length >= 1, true);
  await t.throwsAsync(c.put('b', 1, { w: 4 }), { instanceOf: ImpossibleQuorumError, message: /w=4 is impossible with n=3/ });
  await t.throwsAsync(c.get('b', { r: 4 }), { instanceOf: ImpossibleQuorumError });
  await t.throwsAsync(c.get('b', { r: 0 }), { instanceOf: ImpossibleQuorumError });
  await t.throwsAsync(c.put('b', 1, { w: 1.5 }), { instanceOf: ImpossibleQuorumError });
  await t.throwsAsync(c.put('b', 1, { w: 'most' as never }), { instanceOf: ImpossibleQuorumError });
  t.false((await c.get('b', { r: 'all' })).found, 'refused writes wrote nothing');
});

test.serial('impossible cluster shapes are refused at start', async (t) => {
  const dir = tempDir(t);
  await t.throwsAsync(Cluster.start({ dataDir: dir, actors: 2, n: 3 }), { instanceOf: ImpossibleQuorumError, message: /at least 3 actors/ });
  await t.throwsAsync(Cluster.start({ dataDir: dir, actors: 3, n: 3, r: 4 }), { instanceOf: ImpossibleQuorumError });
  await t.throwsAsync(Cluster.start({ dataDir: dir, actors: 3, n: 0 }), { instanceOf: InvalidOptionError });
  await t.throwsAsync(Cluster.start({ dataDir: '' }), { instanceOf: InvalidOptionError });
  await t.throwsAsync(Cluster.start({ dataDir: dir, actors: 3, vnodes: 0 }), { instanceOf: InvalidOptionError });
});

test.serial('siblings: two writes from one old context become siblings; the merged context resolves them', async (t) => {
  const c = await startCluster(t);
  const first = await c.put('doc', 'v0');
  await c.put('doc', 'left', { context: first.context });
  await c.put('doc', 'right', { context: first.context });
  const both = await c.get('doc', { r: 'all' });
  t.deepEqual([...both.values].sort(), ['left', 'right']);
  await c.put('doc', 'merged', { context: both.context });
  const one = await c.get('doc', { r: 'all' });
  t.deepEqual(one.values, ['merged']);
  // a blind sibling is concurrent with what is stored: it never silently replaces it
  await c.put('doc', 'blind', { sibling: true });
  t.deepEqual([...(await c.get('doc')).values].sort(), ['blind', 'merged']);
});

test.serial('a write with the latest context supersedes; a stale context keeps the newer value as a sibling', async (t) => {
  const c = await startCluster(t);
  const a = await c.put('k', 'a');
  const b = await c.put('k', 'b', { context: a.context });
  t.deepEqual((await c.get('k')).values, ['b']);
  await c.put('k', 'c', { context: a.context }); // did not see b
  t.deepEqual([...(await c.get('k')).values].sort(), ['b', 'c']);
  await c.put('k', 'd', { context: (await c.get('k')).context });
  t.deepEqual((await c.get('k')).values, ['d']);
  t.not(b.context, a.context);
});

test.serial('deletes are tombstones: a deleted key reads as not found but keeps a context; a concurrent write survives a delete', async (t) => {
  const c = await startCluster(t);
  const w = await c.put('gone', 'x');
  const d = await c.delete('gone', { context: w.context });
  const r = await c.get('gone', { r: 'all' });
  t.false(r.found);
  t.deepEqual(r.values, []);
  t.is(r.context, d.context);
  t.not(r.context, '');
  // write after the delete with its context: the key is back
  await c.put('gone', 'again', { context: r.context });
  t.deepEqual((await c.get('gone')).values, ['again']);
  // delete concurrent with a write: the write is kept (a sibling of the tombstone)
  const base = await c.get('gone');
  await c.put('gone', 'concurrent', { context: base.context });
  await c.delete('gone', { context: base.context });
  const after = await c.get('gone');
  t.true(after.found);
  t.deepEqual(after.values, ['concurrent']);
});

test.serial('last-write-wins mode keeps only the newest of concurrent writes', async (t) => {
  const c = await startCluster(t, { lastWriteWins: true });
  const base = await c.put('lww', 'v0');
  await c.put('lww', 'older', { context: base.context });
  await new Promise((r) => setTimeout(r, 5));
  await c.put('lww', 'newer', { context: base.context });
  await c.put('lww', 'blind-newest', { sibling: true });
  t.deepEqual((await c.get('lww', { r: 'all' })).values, ['blind-newest']);
});

test.serial('sibling cap: a write that would exceed maxSiblings is refused and changes nothing', async (t) => {
  const c = await startCluster(t, { maxSiblings: 3 });
  for (const v of ['a', 'b', 'c']) await c.put('crowded', v, { sibling: true });
  t.is((await c.get('crowded')).values.length, 3);
  const err = await t.throwsAsync(c.put('crowded', 'd', { sibling: true }), { instanceOf: TooManySiblingsError });
  t.is(err?.siblings, 4);
  t.is(err?.maxSiblings, 3);
  const now = await c.get('crowded', { r: 'all' });
  t.deepEqual([...now.values].sort(), ['a', 'b', 'c']);
  await c.put('crowded', 'resolved', { context: now.context });
  t.deepEqual((await c.get('crowded')).values, ['resolved']);
});

test.serial('oversized pairs are refused with a typed error and nothing is written', async (t) => {
  const c = await startCluster(t);
  const key = 'big';
  const value = Buffer.alloc(10 * 1024 - key.length + 1);
  const err = await t.throwsAsync(c.put(key, value), { instanceOf: PairTooLargeError });
  t.is(err?.pairBytes, 10 * 1024 + 1);
  t.is(err?.maxPairBytes, 10 * 1024);
  t.is(err?.code, 'PAIR_TOO_LARGE');
  t.false((await c.get(key, { r: 'all' })).found);
  await c.put(key, Buffer.alloc(10 * 1024 - key.length)); // exactly at the limit is fine
  t.is(((await c.get(key)).values[0] as Buffer).length, 10 * 1024 - key.length);
  await t.throwsAsync(c.put('s', 'é'.repeat(6000)), { instanceOf: PairTooLargeError }); // counted in UTF-8 bytes
  await t.throwsAsync(c.put('o', { blob: 'x'.repeat(11000) }), { instanceOf: PairTooLargeError });
});

test.serial('bad keys, values, contexts and options are refused with typed errors', async (t) => {
  const c = await startCluster(t);
  for (const key of [42, null, undefined, {}, '', Buffer.alloc(0), Buffer.alloc(1025)]) {
    await t.throwsAsync(c.put(key as never, 'v'), { instanceOf: InvalidKeyError }, String(key));
    await t.throwsAsync(c.get(key as never), { instanceOf: InvalidKeyError });
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const value of [undefined, () => 1, Symbol('s'), 10n, cyclic, Number.NaN, Number.POSITIVE_INFINITY]) {
    await t.throwsAsync(c.put('k', value as never), { instanceOf: InvalidValueError }, String(typeof value));
  }
  await t.throwsAsync(c.put('k', 'v', { context: '!!not base64!!' }), { instanceOf: InvalidContextError });
  await t.throwsAsync(c.put('k', 'v', { context: 'AAAA' + 'A'.repeat(3) }), { instanceOf: InvalidContextError });
  await t.throwsAsync(c.put('k', 'v', { context: 5 as never }), { instanceOf: InvalidContextError });
  await t.throwsAsync(c.put('k', 'v', { wq: 2 } as never), { instanceOf: InvalidOptionError });
  await t.throwsAsync(c.get('k', { timeoutMs: -1 }), { instanceOf: InvalidOptionError });
  t.false((await c.get('k', { r: 'all' })).found, 'nothing was written by refused requests');
  await t.throwsAsync(c.faults.kill(99), { instanceOf: UnknownActorError });
});

test.serial('a quorum that cannot be reached fails at the deadline saying how many replicas answered', async (t) => {
  const c = await startCluster(t, { timeoutMs: 300, hedgeReadsAfterMs: 0 }); // no hedged read: the counts are the first coordinator's
  // find a key whose preference list is [x, y, z]; x's messages to y and z are lost (they look alive)
  const pref = c.ring.preferenceList(c.ring.arc(0).end);
  const key = await findKeyWithPreference(c, pref);
  await c.faults.drop(pref[0]!, pref[1]!, 1);
  await c.faults.drop(pref[0]!, pref[2]!, 1);
  const err = await t.throwsAsync(c.put(key, 'v', { w: 2 }), { instanceOf: QuorumError });
  t.is(err?.answered, 1);
  t.is(err?.needed, 2);
  t.is(err?.replicas, 3);
  t.regex(err!.message, /1 of 2 needed replicas answered/);
  const rerr = await t.throwsAsync(c.get(key, { r: 3 }), { instanceOf: QuorumError });
  t.is(rerr?.answered, 1);
  t.is(rerr?.needed, 3);
  // W=1 and R=1 are answered by the coordinator alone
  await c.put(key, 'one', { w: 1 });
  t.true((await c.get(key, { r: 1 })).values.includes('one'));
});

test.serial('a write whose Replicate message is lost is sent again: lossy links still reach W', async (t) => {
  const lossy = async (writeRetries: number): Promise<number> => {
    const c = await startCluster(t, { timeoutMs: 1000, writeRetryMs: 100, writeRetries, strict: true, antiEntropyIntervalMs: 0 });
    const pref = c.ring.preferenceList(c.ring.arc(0).end);
    const key = await findKeyWithPreference(c, pref);
    await c.faults.drop(pref[0]!, pref[1]!, 0.3);
    await c.faults.drop(pref[0]!, pref[2]!, 0.3);
    const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => c.put(`${key}`, `v${i}`, { w: 'all', via: pref[0]! })));
    await c.close();
    return results.filter((r) => r.status === 'rejected').length;
  };
  // without retries about half the W=all writes lose a Replicate on one of two links; with two retries about 5%
  const withRetries = await lossy(2);
  const without = await lossy(0);
  t.true(withRetries < 15, `${withRetries} of 60 failed with retries`);
  t.true(without > withRetries, `${without} of 60 failed without retries`);
  t.log(`W=all over links losing 30%: ${without}/60 failed without write retries, ${withRetries}/60 with two`);
});

test.serial('when a coordinator\'s thread ends, its reads are re-routed and its writes fail at once, not at the deadline', async (t) => {
  const c = await startCluster(t, { timeoutMs: 4000, antiEntropyIntervalMs: 0 });
  const pref = c.ring.preferenceList(c.ring.arc(0).end);
  const key = await findKeyWithPreference(c, pref);
  await c.put(key, 'v', { w: 'all' });
  // hold the coordinator's requests: its messages to the other replicas arrive 1.5 s late
  await c.faults.delay(pref[0]!, pref[1]!, 1500);
  await c.faults.delay(pref[0]!, pref[2]!, 1500);
  const started = Date.now();
  const read = c.get(key, { r: 2 });
  const write = c.put(key, 'w', { w: 2, via: pref[0]! });
  await new Promise((r) => setTimeout(r, 100));
  await c.faults.kill(pref[0]!);
  t.deepEqual((await read).values, ['v'], 'the read was answered by the next replica');
  const err = await t.throwsAsync(write, { instanceOf: QuorumError });
  t.regex(err!.message, /coordinator actor \d+ ended before answering/);
  t.true(Date.now() - started < 1500, `answered after ${Date.now() - started} ms, not at the 4 s deadline`);
});

test.serial('a read whose coordinator is cut off from its replicas is hedged to the next replica and answered quickly', async (t) => {
  const c = await startCluster(t, { timeoutMs: 4000, hedgeReadsAfterMs: 100, failAfterMs: 10_000, antiEntropyIntervalMs: 0 });
  const pref = c.ring.preferenceList(c.ring.arc(0).end);
  const key = await findKeyWithPreference(c, pref);
  await c.put(key, 'v', { w: 'all' });
  // the coordinator still looks up (failure detection is slow here), but cannot reach the other replicas
  await c.faults.partition([pref[0]!], [pref[1]!, pref[2]!]);
  const started = Date.now();
  t.deepEqual((await c.get(key, { r: 2 })).values, ['v']);
  const tookMs = Date.now() - started;
  t.true(tookMs < 2000, `answered after ${tookMs} ms, not at the 4 s deadline`);
  t.is(c.hedgedReads, 1);
  const off = await startCluster(t, { timeoutMs: 600, hedgeReadsAfterMs: 0, failAfterMs: 10_000, antiEntropyIntervalMs: 0 });
  const key2 = await findKeyWithPreference(off, pref);
  await off.put(key2, 'v', { w: 'all' });
  await off.faults.partition([pref[0]!], [pref[1]!, pref[2]!]);
  await t.throwsAsync(off.get(key2, { r: 2 }), { instanceOf: QuorumError }, 'without hedging the read waits for its cut-off coordinator');
  t.is(off.hedgedReads, 0);
});

test.serial('strict mode with two replicas down refuses W=2 at once and writes nothing', async (t) => {
  const c = await startCluster(t, { strict: true });
  const pref = c.ring.preferenceList(c.ring.arc(0).end);
  const key = await findKeyWithPreference(c, pref);
  await c.faults.kill(pref[1]!);
  await c.faults.kill(pref[2]!);
  const err = await t.throwsAsync(c.put(key, 'v', { w: 2 }), { instanceOf: QuorumError });
  t.is(err?.needed, 2);
  t.regex(err!.message, /strict: only 1 of the key's 3 replicas are up/);
  t.false((await c.get(key, { r: 1 })).found, 'nothing was written');
  t.deepEqual((await c.inspect(key)).filter((v) => v.found === true), []);
  t.is(c.members().filter((m) => m.status === 'down').length, 2);
  // a non-strict write of the same key takes sloppy substitutes instead
  await c.put(key, 'sloppy', { w: 2, strict: false });
  const views = await c.inspect(key);
  t.true(views.some((v) => v.role === 'hint' && v.versions[0]?.value === 'sloppy'));
});

async function findKeyWithPreference(c: Cluster, pref: readonly number[]): Promise<string> {
  const { ringPosition } = await import('../src/ring/hash.js');
  for (let i = 0; ; i++) {
    const k = `probe-${i}`;
    const p = c.ring.preferenceList(ringPosition(Buffer.from(k)));
    if (p.join() === pref.join()) return k;
  }
}

test.serial('read repair: a replica that missed a write is fixed by a read', async (t) => {
  const c = await startCluster(t, { strict: true }); // no hint: the restarted replica stays stale until a read repairs it
  const pref = c.ring.preferenceList(c.ring.arc(7).end);
  const key = await findKeyWithPreference(c, pref);
  await c.faults.kill(pref[2]!);
  await c.put(key, 'while-down', { w: 2 });
  await c.faults.restart(pref[2]!);
  let cmp = await c.compareReplicas();
  t.true(cmp.divergent.length >= 1, 'the restarted replica is stale');
  t.deepEqual((await c.get(key, { r: 'all' })).values, ['while-down']);
  // repair is asynchronous: wait until the digests agree
  for (let i = 0; i < 50 && cmp.divergent.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    cmp = await c.compareReplicas();
  }
  t.is(cmp.divergent.length, 0);
  // sent by whoever served the read: a coordinator actor, or the front end's direct read
  const stats = await c.stats();
  t.true(stats.reduce((s, a) => s + a.readRepairs, 0) + c.readPaths().directReadRepairs >= 1);
});

test.serial('restart from the same dataDir brings back the actors, the ring and every acknowledged write', async (t) => {
  const dataDir = tempDir(t);
  const first = await Cluster.start({ dataDir, actors: 5, n: 3, zones: ['a', 'b', 'c'] });
  const written = new Map<string, string>();
  await Promise.all(
    Array.from({ length: 2000 }, async (_, i) => {
      await first.put(`dur:${i}`, `value-${i}`, { w: 2 });
      written.set(`dur:${i}`, `value-${i}`);
    }),
  );
  const membersBefore = first.members();
  await first.close();
  await t.throwsAsync(first.get('dur:1'), { instanceOf: ClusterClosedError });
  const second = await Cluster.start({ dataDir }); // no shape options: all from disk
  t.teardown(() => second.close());
  // the same actors, zones and shares; whether each is seen up yet depends on how soon gossip is heard after a start
  const withoutStatus = (ms: ReturnType<Cluster['members']>) => ms.map(({ status: _status, ...m }) => m);
  t.deepEqual(withoutStatus(second.members()), withoutStatus(membersBefore));
  await until(t, 'every actor seen up again', () => second.members().every((m) => m.status === 'up'));
  t.deepEqual(new Set(second.members().map((m) => m.zone)), new Set(['a', 'b', 'c']));
  let missing = 0;
  await Promise.all(
    [...written].map(async ([k, v]) => {
      const r = await second.get(k, { r: 2 });
      if (r.values.length !== 1 || r.values[0] !== v) missing++;
    }),
  );
  t.is(missing, 0);
});

test.serial('a directory written by another layout, or with another shape, is refused with a clear error', async (t) => {
  const dataDir = tempDir(t);
  const c = await Cluster.start({ dataDir, actors: 3, n: 3 });
  await c.close();
  await t.throwsAsync(Cluster.start({ dataDir, actors: 4 }), { instanceOf: LayoutMismatchError, message: /actors=3/ });
  await t.throwsAsync(Cluster.start({ dataDir, n: 2 }), { instanceOf: LayoutMismatchError });
  const metaPath = join(dataDir, 'ringkv.json');
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(metaPath, JSON.stringify({ ...meta, layoutVersion: 99 }));
  await t.throwsAsync(Cluster.start({ dataDir }), { instanceOf: LayoutMismatchError, message: /layout version 99/ });
  writeFileSync(metaPath, '{ not json');
  await t.throwsAsync(Cluster.start({ dataDir }), { instanceOf: LayoutMismatchError });
});

test.serial('concurrent read-modify-write clients merging siblings lose no acknowledged add', async (t) => {
  const c = await startCluster(t);
  const random = prng(7);
  const keys = Array.from({ length: 20 }, (_, i) => `set:${i}`);
  const acknowledged = new Map<string, Set<string>>(keys.map((k) => [k, new Set()]));
  let reads = 0;
  const client = async (id: number): Promise<void> => {
    for (let op = 0; op < 60; op++) {
      const key = keys[Math.floor(random() * keys.length)]!;
      if (random() < 0.3) {
        await c.get(key);
        reads++;
        continue;
      }
      const current = await c.get(key);
      const union = new Set<string>();
      for (const v of current.values) for (const e of v as string[]) union.add(e);
      const element = `${id}-${op}`;
      union.add(element);
      await c.put(key, [...union], { context: current.context });
      acknowledged.get(key)!.add(element);
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, i) => client(i)));
  t.true(reads > 0);
  let lost = 0;
  for (const key of keys) {
    const final = await c.get(key, { r: 'all' });
    const seen = new Set<string>();
    for (const v of final.values) for (const e of v as string[]) seen.add(e);
    for (const e of acknowledged.get(key)!) if (!seen.has(e)) lost++;
  }
  t.is(lost, 0);
});

test.serial('stats() reports how busy each actor thread is (event-loop utilisation over the last second)', async (t) => {
  const c = await startCluster(t, { antiEntropyIntervalMs: 0 });
  const deadline = Date.now() + 1300;
  let i = 0;
  while (Date.now() < deadline) await Promise.all(Array.from({ length: 64 }, () => c.put(`busy:${i++}`, 'v')));
  const stats = await c.stats();
  t.is(stats.length, 5);
  for (const s of stats) t.true(s.eventLoopUtilization >= 0 && s.eventLoopUtilization <= 1, `${s.eventLoopUtilization}`);
  t.true(stats.some((s) => s.eventLoopUtilization > 0.01), stats.map((s) => s.eventLoopUtilization).join(', '));
});

test.serial('members() lists id, zone, tokens and status; zones spread each preference list', async (t) => {
  const c = await startCluster(t, { actors: 6, zones: ['z1', 'z2', 'z3'], vnodes: 64 });
  const m = c.members();
  t.deepEqual(
    m.map((x) => [x.id, x.zone, x.tokens, x.status]),
    [
      [0, 'z1', 64, 'up'],
      [1, 'z2', 64, 'up'],
      [2, 'z3', 64, 'up'],
      [3, 'z1', 64, 'up'],
      [4, 'z2', 64, 'up'],
      [5, 'z3', 64, 'up'],
    ],
  );
  t.is(Math.round(m.reduce((s, x) => s + x.replicaShare, 0) * 1000) / 1000, 3);
  for (const arc of c.ring.arcs()) t.is(new Set(arc.preference.map((id) => m[id]!.zone)).size, 3);
});

test.serial('values above the compression threshold are stored LZ4-compressed and read back intact', async (t) => {
  const { statSync, readdirSync } = await import('node:fs');
  const dataDir = tempDir(t);
  const c = await startCluster(t, { dataDir, actors: 3, compressionThresholdBytes: 512, sync: 'always' });
  const big = 'ringkv '.repeat(1400); // ~9.8 KB, very compressible
  for (let i = 0; i < 400; i++) await c.put(`z${i}`, `${i}:${big}`, { w: 'all' });
  for (let i = 0; i < 400; i += 37) t.is((await c.get(`z${i}`)).values[0], `${i}:${big}`);
  await c.close();
  // 400 values x 3 replicas x ~9.8 KB = ~11.8 MB uncompressed; LMDB files must be far smaller
  let bytes = 0;
  for (const id of readdirSync(join(dataDir, 'actors'))) bytes += statSync(join(dataDir, 'actors', id, 'data.mdb')).size;
  t.true(bytes < 4 * 1024 * 1024, `LMDB files hold ${bytes} bytes`);
});

test.serial('requests beyond maxPendingRequests are refused with OverloadedError; the rest complete', async (t) => {
  const { OverloadedError } = await import('../src/index.js');
  const c = await startCluster(t, { maxPendingRequests: 16 });
  const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => c.put(`o${i}`, i)));
  const refused = results.filter((r) => r.status === 'rejected');
  t.true(refused.length > 0);
  for (const r of refused) t.true((r as PromiseRejectedResult).reason instanceof OverloadedError);
  const accepted = results.filter((r) => r.status === 'fulfilled').length;
  t.true(accepted >= 16);
  let readable = 0;
  for (let i = 0; i < 200; i++) if (results[i]!.status === 'fulfilled' && (await c.get(`o${i}`)).values[0] === i) readable++;
  t.is(readable, accepted);
});

test.serial('sync: always and sync: periodic both keep every acknowledged write across a restart', async (t) => {
  for (const sync of ['always', 'periodic'] as const) {
    const dataDir = tempDir(t);
    const c = await Cluster.start({ dataDir, actors: 3, n: 3, sync });
    await Promise.all(Array.from({ length: 500 }, (_, i) => c.put(`s${i}`, `${sync}-${i}`)));
    await c.close();
    const again = await Cluster.start({ dataDir, sync });
    let ok = 0;
    for (let i = 0; i < 500; i++) if ((await again.get(`s${i}`)).values[0] === `${sync}-${i}`) ok++;
    await again.close();
    t.is(ok, 500, sync);
  }
  await t.throwsAsync(Cluster.start({ dataDir: tempDir(t), sync: 'sometimes' as never }), { instanceOf: InvalidOptionError });
});

test.serial('a corrupt stored value fails its requests loudly with a typed error; the actor and other keys live on', async (t) => {
  const { RingkvError } = await import('../src/index.js');
  const { ringKey } = await import('../src/storage/keys.js');
  const { ActorStore } = await import('../src/storage/store.js');
  const dataDir = tempDir(t);
  let c = await Cluster.start({ dataDir, actors: 3, n: 3 });
  await c.put('victim', 'fine', { w: 'all' });
  await c.put('bystander', 'ok', { w: 'all' });
  const { ringPosition } = await import('../src/ring/hash.js');
  const coordinator = c.ring.preferenceList(ringPosition(Buffer.from('victim')))[0]!;
  await c.close();
  const store = ActorStore.open({ path: join(dataDir, 'actors', String(coordinator)), mapSizeBytes: 2 ** 30, compressionThresholdBytes: 1024, cacheBytes: 0, maxWritesPerCommit: 10, maxPendingWrites: 1000, sync: 'always', syncIntervalMs: 100 });
  await store.put(ringKey(Buffer.from('victim')), Buffer.from([1, 5, 255, 255]));
  await store.close();
  c = await Cluster.start({ dataDir }); // the actor logs the corruption on stderr (expected below)
  t.teardown(() => c.close());
  const err = await t.throwsAsync(c.put('victim', 'new'), { instanceOf: RingkvError });
  t.is(err?.code, 'INTERNAL');
  // reads skip the corrupt replica (it counts as not answering) and ask a spare
  t.deepEqual((await c.get('victim', { r: 2 })).values, ['fine']);
  await t.throwsAsync(c.get('victim', { r: 'all' }), { instanceOf: QuorumError });
  t.deepEqual((await c.get('bystander', { r: 'all' })).values, ['ok']);
  t.true(c.members().every((m) => m.status === 'up'));
});

test.serial('scan visits every live key exactly once with a cursor over the whole ring; deleted keys are left out', async (t) => {
  const c = await startCluster(t);
  const written = new Set<string>();
  await Promise.all(
    Array.from({ length: 1500 }, async (_, i) => {
      await c.put(`scan:${i}`, i, { w: 'all' });
      written.add(`scan:${i}`);
    }),
  );
  for (let i = 0; i < 100; i++) {
    const r = await c.get(`scan:${i}`);
    await c.delete(`scan:${i}`, { context: r.context, w: 'all' });
    written.delete(`scan:${i}`);
  }
  for (const count of [1, 7, 500, 5000]) {
    const seen: string[] = [];
    let cursor = 0;
    let calls = 0;
    do {
      const page = await c.scan(cursor, { count });
      t.true(page.keys.length <= count + 5, 'a page holds about count keys');
      seen.push(...page.keys.map((k) => k.toString()));
      cursor = page.cursor;
      calls++;
    } while (cursor !== 0 && calls < 10_000);
    t.is(cursor, 0);
    t.is(seen.length, written.size, `count ${count}: no key twice`);
    t.deepEqual([...seen].sort(), [...written].sort(), `count ${count}: every live key`);
  }
  await t.throwsAsync(c.scan(-1), { instanceOf: InvalidOptionError });
  await t.throwsAsync(c.scan(0, { count: 0 }), { instanceOf: InvalidOptionError });
});

test.serial('without a context a write supersedes whatever the coordinator holds, without reading first', async (t) => {
  const c = await startCluster(t);
  const base = await c.put('ow', 'v0');
  await c.put('ow', 'a', { context: base.context });
  await c.put('ow', 'b', { context: base.context });
  t.is((await c.get('ow', { r: 'all' })).values.length, 2);
  await c.put('ow', 'replaced', { w: 'all' });
  t.deepEqual((await c.get('ow', { r: 'all' })).values, ['replaced']);
  for (let i = 0; i < 200; i++) await c.put('hot', `v${i}`);
  t.deepEqual((await c.get('hot')).values, ['v199'], 'repeated overwrites never pile up siblings');
  await c.delete('hot');
  t.false((await c.get('hot')).found);
  // the old spelling is gone: an unknown option is refused, not ignored
  await t.throwsAsync(c.put('ow', 'x', { overwrite: 'yes' } as never), { instanceOf: InvalidOptionError });
});

test.serial('sibling: true adds a blind sibling; bad sibling options are refused and write nothing', async (t) => {
  const c = await startCluster(t);
  await c.put('sib', 'a');
  const res = await c.put('sib', 'b', { sibling: true });
  t.true(res.existed, 'the coordinator held a live value');
  t.deepEqual((await c.get('sib', { r: 'all' })).values.sort(), ['a', 'b']);
  const before = await c.inspect('sib');
  await t.throwsAsync(c.put('sib', 'x', { sibling: 'yes' as never }), { instanceOf: InvalidOptionError, message: /sibling must be a boolean/ });
  await t.throwsAsync(c.put('sib', 'x', { sibling: true, context: res.context }), { instanceOf: InvalidOptionError, message: /takes no context/ });
  await t.throwsAsync(c.delete('sib', { sibling: true } as never), { instanceOf: InvalidOptionError, message: /unknown request option 'sibling'/ });
  t.deepEqual(await c.inspect('sib'), before, 'refused writes changed nothing');
  // existed: what the coordinator held when it applied the write
  t.true((await c.delete('sib')).existed);
  t.false((await c.delete('sib')).existed, 'a deleted key holds no live value');
  t.false((await c.delete('never-written')).existed);
});
