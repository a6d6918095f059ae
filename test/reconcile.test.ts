import test from 'ava';
import { ReadQuorum } from '../src/coordinator/quorum.js';
import { decodeReply, readRepairs, reconcile } from '../src/coordinator/reconcile.js';
import * as dvv from '../src/versioning/dvvset.js';
import { ValueKind, compareSiblings, decodeClock, encodeClock, syncClocks, type Clock, type Sibling } from '../src/versioning/sibling.js';

const enc = new TextEncoder();
const sib = (t: number, writer: number, data: string): Sibling => ({ kind: ValueKind.String, timestampMs: t, writer, data: enc.encode(data) });
const write = (server: Clock, ctx: dvv.VersionVector, value: Sibling, id: number): Clock => dvv.update(dvv.fromContext(ctx, value), server, id, compareSiblings);

// a → b (b supersedes a); c concurrent with a
const a = write(dvv.empty(), [], sib(1, 1, 'a'), 1);
const b = write(a, dvv.join(a), sib(2, 2, 'b'), 2);
const c = write(dvv.empty(), [], sib(3, 3, 'c'), 3);
const bytes = (x: Clock | null): Uint8Array => (x === null ? new Uint8Array(0) : encodeClock(x));

/** Feed replies as a coordinator does; returns the parallel arrays and the quorum. */
function feed(pref: number[], r: number, replies: [number, Clock | null][]): { q: ReadQuorum; from: number[]; raw: Uint8Array[] } {
  const q = new ReadQuorum(pref, r);
  const from: number[] = [];
  const raw: Uint8Array[] = [];
  for (const [actor, clock] of replies) {
    const bs = bytes(clock);
    q.reply(actor, bs.length === 0 ? null : decodeReply(q, from, raw, bs));
    from.push(actor);
    raw.push(bs);
  }
  return { q, from, raw };
}

test('byte-equal replies: the first reply as is, its decoded clock, no repairs; identical bytes decode once', (t) => {
  const { q, from, raw } = feed([0, 1, 2], 2, [[0, b], [1, b]]);
  t.is(q.replyOf(0), q.replyOf(1), 'the second identical reply reuses the first decoded clock');
  const out = reconcile(q, from, raw);
  t.is(out.bytes, raw[0]);
  t.is(out.clock, q.replyOf(0) ?? null);
  t.deepEqual(readRepairs(q, raw).actors, []);
});

test('a stale replica: the merged answer, and a repair carrying it to that replica only', (t) => {
  const { q, from, raw } = feed([0, 1, 2], 2, [[0, b], [1, a]]);
  const out = reconcile(q, from, raw);
  t.deepEqual(Buffer.from(out.bytes), Buffer.from(encodeClock(b)));
  const repairs = readRepairs(q, raw);
  t.deepEqual(repairs.actors, [1]);
  t.deepEqual(Buffer.from(repairs.clock), Buffer.from(encodeClock(b)));
});

test('concurrent versions become siblings; both replicas are repaired; a missing replica gets the merge', (t) => {
  const { q, from, raw } = feed([0, 1, 2], 3, [[0, a], [1, c], [2, null]]);
  const out = reconcile(q, from, raw);
  const merged = syncClocks(a, c);
  t.deepEqual(Buffer.from(out.bytes), Buffer.from(encodeClock(merged)));
  t.deepEqual(dvv.values(decodeClock(out.bytes)).length, 2);
  t.deepEqual(readRepairs(q, raw).actors, [0, 1, 2]);
});

test('nothing stored anywhere: empty answer, null clock, no repairs', (t) => {
  const { q, from, raw } = feed([0, 1, 2], 2, [[2, null], [0, null]]);
  const out = reconcile(q, from, raw);
  t.is(out.bytes.length, 0);
  t.is(out.clock, null);
  t.deepEqual(readRepairs(q, raw).actors, []);
});

test('corrupt bytes throw when decoded (a coordinator counts that replica failed; a direct read hands over to a coordinator)', (t) => {
  const q = new ReadQuorum([0, 1], 2);
  t.throws(() => decodeReply(q, [], [], Uint8Array.from([1, 5, 255, 255])));
});
