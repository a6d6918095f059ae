import test from 'ava';
import { ByteReader, ByteWriter, CorruptDataError } from '../src/encoding/bytes.js';
import * as dvv from '../src/versioning/dvvset.js';
import type { VersionVector } from '../src/versioning/dvvset.js';
import {
  ValueKind,
  compareBytes,
  compareSiblings,
  decodeClock,
  decodeContext,
  decodeHistory,
  encodeClock,
  encodeContext,
  isAllTombstones,
  isAllTombstonesOrExpiring,
  expiryDueMs,
  isDeleted,
  isExpired,
  isLive,
  isTombstone,
  reapable,
  newerSibling,
  syncClocks,
  type Clock,
  type Sibling,
} from '../src/versioning/sibling.js';
import { mulberry32, permutations } from './random.js';

// ---------------------------------------------------------------------------
// helpers

const randInt = (rnd: () => number, n: number): number => Math.floor(rnd() * n);

const MAX = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const utf8 = new TextEncoder();

function sib(timestampMs: number, writer: number, data: Uint8Array | string = '', kind: ValueKind = ValueKind.String): Sibling {
  return { kind, timestampMs, writer, data: typeof data === 'string' ? utf8.encode(data) : data };
}
const tomb = (timestampMs: number, writer: number): Sibling => ({ kind: ValueKind.Tombstone, timestampMs, writer, data: new Uint8Array(0) });

/** Plain-JSON view of a clock (Uint8Array payloads as number arrays) for structural comparison. */
function plain(c: Clock): unknown {
  const s = (v: Sibling) => ({ kind: v.kind, ts: v.timestampMs, w: v.writer, data: Array.from(v.data) });
  return { entries: c.entries.map((e) => ({ id: e.id, counter: e.counter, values: e.values.map(s) })), anonymous: c.anonymous.map(s) };
}

const put = (server: Clock, ctx: VersionVector, value: Sibling, id: number): Clock => dvv.update(dvv.fromContext(ctx, value), server, id, compareSiblings);

function isCorrupt(e: unknown): boolean {
  return e instanceof CorruptDataError && e.name === 'CorruptDataError';
}

function randomBytes(rnd: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = randInt(rnd, 256);
  return b;
}

/** A random reachable clock history: 3 replicas, random writes and replication. Returns snapshots. */
function randomHistory(seed: number, steps: number): Clock[][] {
  const rnd = mulberry32(seed);
  const ids = [2, 5, 9];
  const states: Clock[] = ids.map(() => dvv.empty());
  const snapshots: Clock[][] = [];
  let ts = 1_700_000_000_000;
  for (let i = 0; i < steps; i++) {
    const c = randInt(rnd, 3);
    const from = randInt(rnd, 3);
    const ctx = rnd() < 0.2 ? [] : dvv.join(states[from]!);
    ts += randInt(rnd, 3); // equal timestamps happen; writer and payload break ties
    const kind = rnd() < 0.15 ? ValueKind.Tombstone : (randInt(rnd, 3) as ValueKind);
    const value: Sibling =
      kind === ValueKind.Tombstone ? tomb(ts, ids[c]!) : { kind, timestampMs: ts, writer: ids[c]!, data: randomBytes(rnd, randInt(rnd, 12)) };
    states[c] = put(states[c]!, ctx, value, ids[c]!);
    for (let x = 0; x < 3; x++) if (x !== c && rnd() < 0.4) states[x] = syncClocks(states[x]!, states[c]!);
    snapshots.push([...states]);
  }
  return snapshots;
}

const SAMPLE: Clock = {
  entries: [
    { id: 1, counter: 3, values: [sib(1000, 1, 'hello'), sib(999, 1, new Uint8Array([0, 255, 7]), ValueKind.Bytes)] },
    { id: 4, counter: 1, values: [] },
    { id: 300, counter: 2, values: [tomb(1001, 300)] },
  ],
  anonymous: [sib(5, 0, '{"a":1}', ValueKind.Json)],
};

// ---------------------------------------------------------------------------
// ByteWriter / ByteReader

test('varint encodings at the 7-bit boundaries', (t) => {
  const enc = (v: number): number[] => Array.from(new ByteWriter(1).varint(v).finish());
  t.deepEqual(enc(0), [0x00]);
  t.deepEqual(enc(1), [0x01]);
  t.deepEqual(enc(127), [0x7f]);
  t.deepEqual(enc(128), [0x80, 0x01]);
  t.deepEqual(enc(300), [0xac, 0x02]);
  t.deepEqual(enc(16383), [0xff, 0x7f]);
  t.deepEqual(enc(16384), [0x80, 0x80, 0x01]);
  t.deepEqual(enc(2 ** 32 - 1), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  t.deepEqual(enc(2 ** 32), [0x80, 0x80, 0x80, 0x80, 0x10]);
  t.deepEqual(enc(2 ** 49 - 1).length, 7);
  t.deepEqual(enc(2 ** 49).length, 8);
  t.deepEqual(enc(MAX), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
});

test('varint round trips at boundaries and random values; lengths are minimal', (t) => {
  const values = [0, 1, 127, 128, 255, 256, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 42, 2 ** 52, MAX - 1, MAX];
  const rnd = mulberry32(3);
  for (let i = 0; i < 2000; i++) values.push(Math.floor(rnd() * 2 ** randInt(rnd, 54)));
  const w = new ByteWriter(4);
  for (const v of values) w.varint(v);
  const r = new ByteReader(w.finish());
  for (const v of values) {
    const before = r.offset;
    t.is(r.varint(), v);
    const expectedLen = Math.max(1, Math.ceil(v.toString(2).length / 7));
    t.is(r.offset - before, expectedLen, `length of ${v}`);
  }
  t.is(r.remaining, 0);
  t.notThrows(() => r.end());
});

test('varint rejects negative, unsafe, fractional and non-finite numbers with RangeError', (t) => {
  const w = new ByteWriter();
  for (const v of [-1, -0.5, 0.5, 1.5, 2 ** 53, 2 ** 53 + 2, 2 ** 64, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    t.throws(() => w.varint(v), { instanceOf: RangeError }, String(v));
  }
  t.is(w.length, 0, 'nothing written on failure');
  t.throws(() => w.bytes({ length: -1 } as unknown as Uint8Array), { instanceOf: RangeError });
});

test('ByteReader.varint rejects truncated, over-long and unsafe varints with CorruptDataError', (t) => {
  const cases: [string, number[]][] = [
    ['empty', []],
    ['truncated', [0x80]],
    ['truncated long', [0xff, 0xff, 0xff]],
    ['nine bytes', [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]],
    ['2^53 (8 bytes)', [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]],
    ['2^56-1 (8 bytes)', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]],
  ];
  for (const [what, bytes] of cases) {
    const e = t.throws(() => new ByteReader(new Uint8Array(bytes)).varint(), undefined, what);
    t.true(isCorrupt(e), `${what}: ${String(e)}`);
  }
  t.is(new ByteReader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])).varint(), MAX);
});

test('ByteWriter grows past its initial size, including from zero bytes', (t) => {
  for (const initial of [0, 1, 3, 8, 256]) {
    const w = new ByteWriter(initial);
    const payload = randomBytes(mulberry32(initial + 1), 1000);
    w.u8(0xab).u32(0xdeadbeef).varint(MAX).bytes(payload).raw(new Uint8Array([1, 2, 3]));
    for (let i = 0; i < 500; i++) w.varint(i * 977);
    t.is(w.length, w.finish().length);
    const r = new ByteReader(w.finish());
    t.is(r.u8(), 0xab);
    t.is(r.u32(), 0xdeadbeef);
    t.is(r.varint(), MAX);
    t.deepEqual(Array.from(r.bytes()), Array.from(payload));
    t.deepEqual(Array.from(r.raw(3)), [1, 2, 3]);
    for (let i = 0; i < 500; i++) t.is(r.varint(), i * 977);
    t.notThrows(() => r.end());
  }
});

test('ByteWriter: u32 is big-endian; finish copies, reset rewinds', (t) => {
  const w = new ByteWriter(2);
  w.u32(0x01020304);
  t.deepEqual(Array.from(w.finish()), [1, 2, 3, 4]);
  w.reset();
  t.is(w.length, 0);
  w.u8(0x3f);
  const copy = w.finish();
  w.reset();
  w.u8(0x77);
  t.is(copy[0], 0x3f, 'finish() is a copy');
  t.is(w.finish().length, 1);
  t.is(new ByteReader(new ByteWriter(1).u32(0xffffffff).finish()).u32(), 0xffffffff);
});

test('ByteReader: truncation, trailing bytes, views with a byteOffset', (t) => {
  const backing = new Uint8Array([9, 9, 9, 0x01, 0x02, 0x03, 0x04, 0x03, 0xaa, 0xbb, 0xcc, 0x05, 9]);
  const r = new ByteReader(backing.subarray(3, 12));
  t.is(r.remaining, 9);
  t.is(r.u32(), 0x01020304);
  const b = r.bytes();
  t.deepEqual(Array.from(b), [0xaa, 0xbb, 0xcc]);
  t.is(b.buffer, backing.buffer, 'bytes() is a view, not a copy');
  t.is(r.remaining, 1);
  t.true(isCorrupt(t.throws(() => r.end())));
  t.is(r.u8(), 5);
  t.notThrows(() => r.end());
  t.true(isCorrupt(t.throws(() => r.u8())));
  t.true(isCorrupt(t.throws(() => new ByteReader(new Uint8Array(3)).u32())));
  t.true(isCorrupt(t.throws(() => new ByteReader(new Uint8Array([5, 1, 2])).bytes()))); // length 5, only 2 left
  t.true(isCorrupt(t.throws(() => new ByteReader(new Uint8Array([1])).raw(2))));
  // u32 through a misaligned view
  const w = new ByteWriter().u8(0).u32(0x0a0b0c0d).finish();
  t.is(new ByteReader(w.subarray(1)).u32(), 0x0a0b0c0d);
});

// ---------------------------------------------------------------------------
// siblings

test('compareSiblings: timestamp, then writer, then kind, then payload bytes', (t) => {
  t.true(compareSiblings(sib(1, 9), sib(2, 0)) < 0);
  t.true(compareSiblings(sib(2, 1), sib(2, 0)) > 0);
  t.true(compareSiblings(sib(2, 1, 'x', ValueKind.Bytes), sib(2, 1, 'a', ValueKind.String)) < 0);
  t.true(compareSiblings(sib(2, 1, 'ab'), sib(2, 1, 'b')) < 0);
  t.true(compareSiblings(sib(2, 1, 'ab'), sib(2, 1, 'a')) > 0);
  t.is(compareSiblings(sib(2, 1, 'same'), sib(2, 1, 'same')), 0);
  t.true(newerSibling(sib(3, 0), sib(2, 5)));
  t.false(newerSibling(sib(2, 1, 'q'), sib(2, 1, 'q')));
  t.is(compareBytes(new Uint8Array([]), new Uint8Array([])), 0);
  t.true(compareBytes(new Uint8Array([0]), new Uint8Array([])) > 0);
  t.true(compareBytes(new Uint8Array([1, 255]), new Uint8Array([2])) < 0);
  t.true(compareBytes(new Uint8Array([200]), new Uint8Array([100, 1])) > 0);
  // long arrays (compared natively) order exactly as a byte-by-byte comparison does
  const bytewise = (a: Uint8Array, b: Uint8Array): number => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  };
  const rndLong = mulberry32(9);
  for (let i = 0; i < 500; i++) {
    const a = randomBytes(rndLong, 40 + randInt(rndLong, 40));
    const b = randInt(rndLong, 2) === 0 ? Uint8Array.from(a.subarray(0, 40 + randInt(rndLong, a.length - 39))) : randomBytes(rndLong, 40 + randInt(rndLong, 40));
    if (b.length > 50 && randInt(rndLong, 2) === 0) b[b.length - 1] = 255 - (b[b.length - 1] ?? 0);
    t.is(Math.sign(compareBytes(a, b)), Math.sign(bytewise(a, b)));
  }
  // antisymmetric on random siblings
  const rnd = mulberry32(8);
  for (let i = 0; i < 500; i++) {
    const a = sib(randInt(rnd, 3), randInt(rnd, 3), randomBytes(rnd, randInt(rnd, 3)), randInt(rnd, 4) as ValueKind);
    const b = sib(randInt(rnd, 3), randInt(rnd, 3), randomBytes(rnd, randInt(rnd, 3)), randInt(rnd, 4) as ValueKind);
    t.is(Math.sign(compareSiblings(a, b)) + Math.sign(compareSiblings(b, a)), 0);
  }
});

test('tombstones and isDeleted', (t) => {
  t.true(isTombstone(tomb(1, 1)));
  t.false(isTombstone(sib(1, 1)));
  const deleted = put(dvv.empty(), [], tomb(1, 1), 1);
  t.true(isDeleted(deleted, 0));
  const mixed = put(deleted, [], sib(2, 2, 'v'), 2);
  t.false(isDeleted(mixed, 0));
  t.true(isDeleted(put(mixed, dvv.join(mixed), tomb(3, 1), 1), 0));
  t.true(isDeleted(dvv.empty(), 0), 'no siblings reads as deleted');
});

test('expiry: part of the stored sibling, invisible from its instant on, collectable once past the cutoff', (t) => {
  const expiring: Sibling = { ...sib(5, 1, 'v'), expiresAtMs: 1000 };
  const forever = sib(6, 2, 'w');
  t.false(isExpired(expiring, 999));
  t.true(isExpired(expiring, 1000), 'expired at its instant, as Redis');
  t.false(isExpired(forever, Number.MAX_SAFE_INTEGER));
  t.true(isLive(expiring, 999));
  t.false(isLive(expiring, 1000));
  // round trip, and older bytes (no expiry flag) still read
  const clock = put(put(dvv.empty(), [], expiring, 1), [], forever, 2);
  const decoded = decodeClock(encodeClock(clock));
  t.deepEqual(
    dvv.values(decoded).map((s) => s.expiresAtMs ?? 0).sort((a, b) => a - b),
    [0, 1000],
  );
  t.is(compareBytes(encodeClock(decoded), encodeClock(clock)), 0, 'canonical');
  t.true(isDeleted(put(dvv.empty(), [], expiring, 1), 1000));
  t.false(isDeleted(clock, 5000), 'a sibling without expiry stays');
  // siblings equal but for expiry are distinct, in a total order
  t.not(compareSiblings(expiring, { ...expiring, expiresAtMs: 2000 }), 0);
  t.is(Math.sign(compareSiblings(expiring, { ...expiring, expiresAtMs: 2000 })), -Math.sign(compareSiblings({ ...expiring, expiresAtMs: 2000 }, expiring)));
  // the GC: every sibling a tombstone written before the cutoff, or a value expired before it
  const onlyExpiring = put(dvv.empty(), [], expiring, 1);
  t.true(isAllTombstonesOrExpiring(encodeClock(onlyExpiring)));
  t.false(isAllTombstonesOrExpiring(encodeClock(clock)));
  t.false(isAllTombstones(encodeClock(onlyExpiring)));
  t.false(reapable(onlyExpiring, 1000), 'expired at the cutoff, not before it');
  t.true(reapable(onlyExpiring, 1001));
  t.false(reapable(clock, 10_000), 'a value that never expires is never collected');
  const tombAndExpired = put(onlyExpiring, [], tomb(7, 3), 3);
  t.true(reapable(tombAndExpired, 1001));
  t.false(reapable(tombAndExpired, 7), 'the tombstone is not yet past the cutoff');
  t.false(reapable(dvv.empty(), 10_000));
  // the expiry sweep's index time: the latest expiry or tombstone, only where some value expires
  t.is(expiryDueMs(encodeClock(onlyExpiring)), 1000);
  t.is(expiryDueMs(encodeClock(put(onlyExpiring, [], tomb(5000, 3), 3))), 5000, 'a later tombstone beside it: its time');
  t.is(expiryDueMs(encodeClock(tombAndExpired)), 1000);
  t.is(expiryDueMs(encodeClock(clock)), 0, 'a sibling that never expires: never due');
  t.is(expiryDueMs(encodeClock(put(dvv.empty(), [], tomb(7, 3), 3))), 0, 'tombstones only: left to the pass');
  t.is(expiryDueMs(new Uint8Array([9, 9, 9])), 0, 'not a stored clock');
  for (const cutoff of [999, 1000, 1001, 1002]) t.is(reapable(onlyExpiring, cutoff), cutoff > expiryDueMs(encodeClock(onlyExpiring)), 'due means reapable once the cutoff passes it');
  // a flag with a zero expiry is corrupt
  const bytes = Buffer.from(encodeClock(onlyExpiring));
  t.throws(() => decodeClock(Buffer.from(bytes.toString('hex').replace('e807', '0000'), 'hex')), { instanceOf: CorruptDataError });
});

// ---------------------------------------------------------------------------
// encodeClock / decodeClock

test('encodeClock/decodeClock round trip: empty, entries, anonymous values, tombstones', (t) => {
  const empty = encodeClock(dvv.empty());
  t.deepEqual(Array.from(empty), [1, 0, 0], 'format 1, no entries, no anonymous values');
  t.deepEqual(decodeClock(empty), dvv.empty());
  const bytes = encodeClock(SAMPLE);
  t.deepEqual(plain(decodeClock(bytes)), plain(SAMPLE));
  t.deepEqual(encodeClock(decodeClock(bytes)), bytes);
  // an entry with history but no live values, only anonymous values
  const c: Clock = { entries: [{ id: 0, counter: 0, values: [] }], anonymous: [sib(1, 1, 'a'), sib(1, 1, 'b')] };
  t.deepEqual(plain(decodeClock(encodeClock(c))), plain(c));
  const kinds: Clock = { entries: [{ id: 7, counter: 4, values: [tomb(4, 7), sib(3, 7, 'j', ValueKind.Json), sib(2, 7, 's'), sib(1, 7, 'b', ValueKind.Bytes)] }], anonymous: [] };
  const back = decodeClock(encodeClock(kinds));
  t.deepEqual(
    back.entries[0]!.values.map((v) => v.kind),
    [ValueKind.Tombstone, ValueKind.Json, ValueKind.String, ValueKind.Bytes],
  );
  t.true(isTombstone(back.entries[0]!.values[0]!));
  t.is(back.entries[0]!.values[0]!.data.length, 0);
});

test('encodeClock/decodeClock: binary payloads with every byte value, and big payloads', (t) => {
  const all = new Uint8Array(256).map((_, i) => i);
  const big = randomBytes(mulberry32(1), 200_000);
  const c: Clock = { entries: [{ id: 1, counter: 2, values: [sib(1, 1, all, ValueKind.Bytes), sib(0, 1, big, ValueKind.Bytes)] }], anonymous: [sib(0, 0, all.slice().reverse(), ValueKind.Bytes)] };
  const bytes = encodeClock(c);
  const back = decodeClock(bytes);
  t.deepEqual(Array.from(back.entries[0]!.values[0]!.data), Array.from(all));
  t.true(compareBytes(back.entries[0]!.values[1]!.data, big) === 0);
  t.deepEqual(Array.from(back.anonymous[0]!.data), Array.from(all).reverse());
  // payloads are views into the input
  t.is(back.entries[0]!.values[0]!.data.buffer, bytes.buffer);
});

test('encodeClock/decodeClock: counters, ids, timestamps and writers up to 2^53-1', (t) => {
  const c: Clock = {
    entries: [
      { id: 0, counter: MAX, values: [sib(MAX, MAX, 'x')] },
      { id: 2 ** 32, counter: 2 ** 32 + 1, values: [] },
      { id: MAX, counter: 128, values: [sib(128, 127, '')] },
    ],
    anonymous: [sib(0, 0)],
  };
  const back = decodeClock(encodeClock(c));
  t.deepEqual(plain(back), plain(c));
  t.is(back.entries[0]!.counter, MAX);
  t.is(back.entries[0]!.values[0]!.timestampMs, MAX);
  t.is(back.entries[2]!.id, MAX);
});

test('encodeClock reuses its writer without aliasing results', (t) => {
  const a = encodeClock(SAMPLE);
  const snapshot = Array.from(a);
  const b = encodeClock(dvv.empty());
  t.deepEqual(Array.from(a), snapshot);
  t.deepEqual(Array.from(b), [1, 0, 0]);
  t.deepEqual(encodeClock(SAMPLE), a);
});

test('encodeClock/decodeClock round trip on random reachable clocks', (t) => {
  let n = 0;
  for (let seed = 1; seed <= 20; seed++) {
    for (const snap of randomHistory(seed, 40)) {
      for (const c of snap) {
        const bytes = encodeClock(c);
        const back = decodeClock(bytes);
        t.deepEqual(plain(back), plain(c));
        t.deepEqual(encodeClock(back), bytes);
        n++;
      }
    }
  }
  t.true(n > 1000);
});

test('canonical: replicas that sync in different orders encode byte-equal', (t) => {
  let compared = 0;
  for (let seed = 50; seed < 70; seed++) {
    const snaps = randomHistory(seed, 30);
    const rnd = mulberry32(seed);
    // four clocks of the same key taken at different times on different replicas
    const parts = [0, 1, 2, 3].map(() => snaps[randInt(rnd, snaps.length)]![randInt(rnd, 3)]!);
    let reference: Uint8Array | undefined;
    for (const order of permutations(parts)) {
      // left fold
      const left = order.reduce((acc, c) => syncClocks(acc, c));
      // balanced tree
      const tree = syncClocks(syncClocks(order[0]!, order[1]!), syncClocks(order[2]!, order[3]!));
      const bl = encodeClock(left);
      const bt = encodeClock(tree);
      reference ??= bl;
      t.deepEqual(bl, reference);
      t.deepEqual(bt, reference);
      compared += 2;
    }
  }
  // anonymous values arriving in different orders are sorted canonically
  const x: Clock = { entries: [{ id: 1, counter: 1, values: [] }], anonymous: [sib(5, 1, 'b'), sib(5, 1, 'a')] };
  const y: Clock = { entries: [{ id: 2, counter: 1, values: [] }], anonymous: [sib(3, 2, 'z'), sib(5, 1, 'a')] };
  const z: Clock = { entries: [{ id: 3, counter: 1, values: [] }], anonymous: [sib(9, 0, 'q')] };
  const encs = permutations([x, y, z]).map((o) => encodeClock(o.reduce((acc, c) => syncClocks(acc, c))));
  for (const e of encs) t.deepEqual(e, encs[0]);
  t.deepEqual(
    decodeClock(encs[0]!).anonymous.map((s) => `${s.timestampMs}/${new TextDecoder().decode(s.data)}`),
    ['3/z', '5/a', '5/b', '9/q'],
  );
  t.true(compared > 900);
});

test('decodeClock throws CorruptDataError on every truncation and on trailing bytes', (t) => {
  const inputs = [encodeClock(SAMPLE), encodeClock(dvv.empty()), ...randomHistory(5, 10).flat().slice(-6).map((c) => encodeClock(c))];
  for (const bytes of inputs) {
    for (let len = 0; len < bytes.length; len++) {
      let err: unknown;
      try {
        decodeClock(bytes.subarray(0, len));
      } catch (e) {
        err = e;
      }
      if (!isCorrupt(err)) return void t.fail(`prefix of length ${len}/${bytes.length}: ${String(err)}`);
    }
    for (const extra of [[0], [1, 2, 3]]) {
      const longer = new Uint8Array([...bytes, ...extra]);
      t.true(isCorrupt(t.throws(() => decodeClock(longer))), 'trailing bytes');
    }
  }
});

test('decodeClock throws CorruptDataError on unknown format, unknown kind, nv > counter, unsorted ids, huge varints', (t) => {
  const corrupt = (what: string, build: (w: ByteWriter) => void): void => {
    const w = new ByteWriter(8);
    build(w);
    const e = t.throws(() => decodeClock(w.finish()), undefined, what);
    t.true(isCorrupt(e), `${what}: ${String(e)}`);
  };
  corrupt('format 0', (w) => w.u8(0).varint(0).varint(0));
  corrupt('format 2', (w) => w.u8(2).varint(0).varint(0));
  corrupt('format 255', (w) => w.u8(255).varint(0).varint(0));
  corrupt('empty input', () => {});
  // 4 is a counter: with an empty payload it is as corrupt as an unknown kind
  for (const kind of [4, 5, 200, 255]) {
    corrupt(`entry value kind ${kind}`, (w) => w.u8(1).varint(1).varint(1).varint(1).varint(1).u8(kind).varint(0).varint(0).varint(0).varint(0));
    corrupt(`anonymous kind ${kind}`, (w) => w.u8(1).varint(0).varint(1).u8(kind).varint(0).varint(0).varint(0));
  }
  corrupt('nv > counter', (w) => w.u8(1).varint(1).varint(1).varint(1).varint(2).u8(0).varint(0).varint(0).varint(0).u8(0).varint(0).varint(0).varint(0).varint(0));
  corrupt('nv > counter = 0', (w) => w.u8(1).varint(1).varint(1).varint(0).varint(1).u8(0).varint(0).varint(0).varint(0).varint(0));
  corrupt('ids out of order', (w) => w.u8(1).varint(2).varint(5).varint(1).varint(0).varint(3).varint(1).varint(0).varint(0));
  corrupt('duplicate ids', (w) => w.u8(1).varint(2).varint(5).varint(1).varint(0).varint(5).varint(2).varint(0).varint(0));
  corrupt('payload longer than input', (w) => w.u8(1).varint(0).varint(1).u8(0).varint(0).varint(0).varint(100).raw(new Uint8Array(10)));
  corrupt('entry count but no entries', (w) => w.u8(1).varint(1_000_000));
  corrupt('unsafe counter', (w) => w.u8(1).varint(1).varint(1).raw(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])).varint(0).varint(0));
  // the valid neighbours of those cases decode fine
  t.notThrows(() => decodeClock(new ByteWriter().u8(1).varint(1).varint(1).varint(1).varint(1).u8(3).varint(0).varint(0).varint(0).varint(0).finish()));
  t.notThrows(() => decodeClock(new ByteWriter().u8(1).varint(2).varint(3).varint(1).varint(0).varint(5).varint(1).varint(0).varint(0).finish()));
});

test('decodeClock on random corruptions either throws CorruptDataError or returns a valid clock', (t) => {
  const rnd = mulberry32(2024);
  const bases = randomHistory(77, 25)
    .flat()
    .map((c) => encodeClock(c))
    .filter((b) => b.length > 3);
  let rejected = 0;
  let accepted = 0;
  for (let i = 0; i < 20000; i++) {
    const base = bases[randInt(rnd, bases.length)]!;
    let bytes: Uint8Array;
    const mode = randInt(rnd, 4);
    if (mode === 0) {
      bytes = base.slice();
      bytes[randInt(rnd, bytes.length)] = randInt(rnd, 256);
    } else if (mode === 1) {
      bytes = base.slice();
      bytes[randInt(rnd, bytes.length)]! ^= 1 << randInt(rnd, 8);
    } else if (mode === 2) {
      const at = randInt(rnd, base.length);
      bytes = new Uint8Array([...base.subarray(0, at), randInt(rnd, 256), ...base.subarray(at)]);
    } else {
      bytes = randomBytes(rnd, randInt(rnd, 24));
      bytes[0] = 1;
    }
    let clock: Clock;
    try {
      clock = decodeClock(bytes);
    } catch (e) {
      if (!isCorrupt(e)) return void t.fail(`non-CorruptDataError for ${Array.from(bytes)}: ${String(e)}`);
      rejected++;
      continue;
    }
    accepted++;
    dvv.assertValid(clock);
    for (const v of dvv.values(clock)) if (v.kind > ValueKind.Counter) return void t.fail('bad kind accepted');
  }
  t.log(`${rejected} rejected, ${accepted} accepted`);
  t.true(rejected > 1000);
});

// ---------------------------------------------------------------------------
// contexts

test('encodeContext/decodeContext round trip', (t) => {
  t.is(encodeContext([]), '');
  t.is(decodeContext(''), dvv.EMPTY_VV);
  const fixed: VersionVector = [
    [0, 1],
    [1, 0],
    [127, 128],
    [2 ** 32, MAX],
    [MAX, 2],
  ];
  const s = encodeContext(fixed);
  t.regex(s, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
  t.deepEqual(decodeContext(s), fixed);
  const rnd = mulberry32(66);
  for (let i = 0; i < 2000; i++) {
    const ids = [...new Set(Array.from({ length: randInt(rnd, 8) }, () => randInt(rnd, 2 ** randInt(rnd, 40))))].sort((a, b) => a - b);
    const vv = ids.map((id) => [id, Math.floor(rnd() * 2 ** randInt(rnd, 53))] as const);
    const ctx = encodeContext(vv);
    if (vv.length === 0) t.is(ctx, '');
    else t.regex(ctx, /^[A-Za-z0-9_-]+$/);
    t.deepEqual(decodeContext(ctx), vv.map(([a, b]) => [a, b]));
  }
  // a context read from a clock resolves that clock
  const c = put(put(dvv.empty(), [], sib(1, 1, 'a'), 1), [], sib(2, 2, 'b'), 2);
  const ctx = decodeContext(encodeContext(dvv.join(c)));
  t.deepEqual(dvv.values(put(c, ctx, sib(3, 1, 'c'), 1)).length, 1);
});

test('decodeContext rejects garbage with CorruptDataError', (t) => {
  const b64 = (build: (w: ByteWriter) => void): string => {
    const w = new ByteWriter();
    build(w);
    return Buffer.from(w.finish()).toString('base64url');
  };
  const valid = encodeContext([
    [1, 2],
    [3, 4],
  ]);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const nonCanonical = valid.slice(0, -1) + alphabet[alphabet.indexOf(valid.at(-1)!) + 1]!;
  t.deepEqual(Buffer.from(nonCanonical, 'base64url'), Buffer.from(valid, 'base64url'), 'Buffer alone would accept it');
  const garbage = [
    'not base64!',
    'a b',
    'AQID+',
    'AQID/',
    'AQI=',
    valid + '=',
    ' ' + valid,
    'é',
    'A', // decodes to zero bytes
    nonCanonical, // same bytes as `valid`, but with stray low bits set in the last character
    valid.slice(0, -1), // truncated
    b64((w) => w.varint(2).varint(1).varint(1)), // one pair missing
    b64((w) => w.varint(1).varint(1).varint(1).u8(0)), // trailing byte
    b64((w) => w.varint(2).varint(5).varint(1).varint(3).varint(1)), // unsorted ids
    b64((w) => w.varint(2).varint(5).varint(1).varint(5).varint(2)), // duplicate ids
    b64((w) => w.varint(2_000_000)), // absurd length
    b64((w) => w.raw(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))), // over-long varint
  ];
  for (const g of garbage) {
    const e = t.throws(() => decodeContext(g), undefined, JSON.stringify(g));
    t.true(isCorrupt(e), `${JSON.stringify(g)}: ${String(e)}`);
  }
  t.deepEqual(decodeContext(valid), [
    [1, 2],
    [3, 4],
  ]);
});

test('syncClocks is dvv.sync with the sibling order', (t) => {
  const a = put(dvv.empty(), [], sib(5, 1, 'a'), 1);
  const b = put(dvv.empty(), [], sib(4, 2, 'b'), 2);
  const m = syncClocks(a, b);
  t.deepEqual(plain(m), plain(dvv.sync(a, b, compareSiblings)));
  t.deepEqual(encodeClock(m), encodeClock(syncClocks(b, a)));
  t.is(dvv.size(m), 2);
});

test('decodeHistory reads the same causal history as decodeClock, so less() agrees on every pair', (t) => {
  let pairs = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const all = randomHistory(seed, 25).flat();
    for (const a of all) {
      const ha = decodeHistory(encodeClock(a));
      t.deepEqual(dvv.join(ha), dvv.join(a));
      t.is(dvv.size(ha), 0);
    }
    for (let i = 0; i < all.length; i += 3) {
      for (let j = 0; j < all.length; j += 5) {
        const a = all[i]!;
        const b = all[j]!;
        t.is(dvv.less(decodeHistory(encodeClock(a)), decodeHistory(encodeClock(b))), dvv.less(a, b));
        pairs++;
      }
    }
  }
  t.true(pairs > 100);
  t.throws(() => decodeHistory(new Uint8Array([9])), { instanceOf: CorruptDataError });
  t.throws(() => decodeHistory(encodeClock(randomHistory(3, 5).flat().pop()!).subarray(0, 3)), { instanceOf: CorruptDataError });
});

test('contextOfEncodedVV matches encodeContext for every version vector', async (t) => {
  const { contextOfEncodedVV, encodeVV } = await import('../src/versioning/sibling.js');
  const vvs: VersionVector[] = [[], [[0, 1]], [[1, 5], [7, 300]], [[3, 2 ** 40]]];
  for (const vv of vvs) t.is(contextOfEncodedVV(encodeVV(vv)), encodeContext(vv));
  t.is(contextOfEncodedVV(new Uint8Array(0)), '');
});

test('encodeJoin is encodeVV of the join', async (t) => {
  const { encodeJoin, encodeVV } = await import('../src/versioning/sibling.js');
  for (let seed = 1; seed <= 5; seed++) for (const c of randomHistory(seed, 20).flat()) t.deepEqual(encodeJoin(c), encodeVV(dvv.join(c)));
});
