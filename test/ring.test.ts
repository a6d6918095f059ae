import test from 'ava';
import { murmur3, ringPosition, hashLabel } from '../src/ring/hash.js';
import { Ring, RingError, RING_SIZE, allocateTokens, arcLength, foreignRanges, inArc, type RingMember } from '../src/ring/ring.js';
import { mulberry32 } from './random.js';

// ---------------------------------------------------------------------------
// helpers

const randU32 = (rnd: () => number): number => Math.floor(rnd() * RING_SIZE);
const randInt = (rnd: () => number, n: number): number => Math.floor(rnd() * n);

const utf8 = new TextEncoder();
const bytesOf = (s: string): Uint8Array => utf8.encode(s);
const hex = (n: number): string => '0x' + n.toString(16).padStart(8, '0');

/**
 * Independent MurmurHash3_x86_32 written with BigInt arithmetic (no Math.imul,
 * no 32-bit tricks), used as an oracle for random inputs.
 */
function murmurRef(data: Uint8Array, seed: number): number {
  const M = 0xffffffffn;
  const mul = (a: bigint, b: bigint): bigint => (a * b) & M;
  const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (32n - r))) & M;
  const c1 = 0xcc9e2d51n;
  const c2 = 0x1b873593n;
  let h = BigInt(seed >>> 0);
  const nblocks = Math.floor(data.length / 4);
  for (let b = 0; b < nblocks; b++) {
    let k = 0n;
    for (let j = 3; j >= 0; j--) k = (k << 8n) | BigInt(data[b * 4 + j]!);
    k = mul(rotl(mul(k, c1), 15n), c2);
    h ^= k;
    h = (mul(rotl(h, 13n), 5n) + 0xe6546b64n) & M;
  }
  let k = 0n;
  const tail = data.length & 3;
  for (let j = tail - 1; j >= 0; j--) k = (k << 8n) | BigInt(data[nblocks * 4 + j]!);
  if (tail > 0) {
    k = mul(rotl(mul(k, c1), 15n), c2);
    h ^= k;
  }
  h ^= BigInt(data.length);
  h ^= h >> 16n;
  h = mul(h, 0x85ebca6bn);
  h ^= h >> 13n;
  h = mul(h, 0xc2b2ae35n);
  h ^= h >> 16n;
  return Number(h);
}

function buildMembers(count: number, zoneOf: (id: number) => string, vnodes = 256, firstId = 0): RingMember[] {
  const members: RingMember[] = [];
  for (let id = firstId; id < firstId + count; id++) members.push({ id, zone: zoneOf(id), tokens: allocateTokens(members, id, vnodes) });
  return members;
}

function shuffle<T>(xs: readonly T[], rnd: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randInt(rnd, i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Clockwise-from-position owner sequence computed naively from the member list (oracle). */
function naiveWalk(members: readonly RingMember[], position: number): number[] {
  const pairs: [number, number][] = [];
  for (const m of members) for (const t of m.tokens) pairs.push([t, m.id]);
  pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let start = pairs.findIndex(([t]) => t >= position);
  if (start < 0) start = 0;
  const seen: number[] = [];
  for (let s = 0; s < pairs.length; s++) {
    const owner = pairs[(start + s) % pairs.length]![1];
    if (!seen.includes(owner)) seen.push(owner);
  }
  return seen;
}

/** Oracle for the zone-aware preference list: distinct zones first, then walk order, kept in walk order. */
function naivePreference(members: readonly RingMember[], position: number, n: number): number[] {
  const walk = naiveWalk(members, position);
  const zoneOf = new Map(members.map((m) => [m.id, m.zone]));
  const chosen = new Set<number>();
  const zones = new Set<string>();
  for (const id of walk) {
    if (chosen.size === n) break;
    if (!zones.has(zoneOf.get(id)!)) {
      zones.add(zoneOf.get(id)!);
      chosen.add(id);
    }
  }
  for (const id of walk) {
    if (chosen.size === n) break;
    chosen.add(id);
  }
  return walk.filter((id) => chosen.has(id));
}

// Shared key set for the load/movement tests: 1,000,000 UTF-8 keys `key:${i}`.
const KEY_COUNT = 1_000_000;
let keyPositionsCache: Uint32Array | undefined;
function keyPositions(): Uint32Array {
  if (keyPositionsCache === undefined) {
    const pos = new Uint32Array(KEY_COUNT);
    for (let i = 0; i < KEY_COUNT; i++) pos[i] = ringPosition(bytesOf(`key:${i}`));
    keyPositionsCache = pos;
  }
  return keyPositionsCache;
}

// ---------------------------------------------------------------------------
// murmur3 / hash.ts

const VECTORS: [bytes: Uint8Array, seed: number, expected: number][] = [
  // Published MurmurHash3_x86_32 reference vectors (SMHasher-compatible), also
  // cross-checked against an independent implementation.
  [new Uint8Array([]), 0, 0],
  [new Uint8Array([]), 1, 0x514e28b7],
  [new Uint8Array([]), 0xffffffff, 0x81f16f39],
  [new Uint8Array([0, 0, 0, 0]), 0, 0x2362f9de],
  [new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0, 0x76293b50],
  [new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0, 0xf55b516b],
  [new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0x5082edee, 0x2362f9de],
  [new Uint8Array([0x21, 0x43, 0x65]), 0, 0x7e4a8634],
  [new Uint8Array([0x21, 0x43]), 0, 0xa0f7b07a],
  [new Uint8Array([0x21]), 0, 0x72661cf4],
  [bytesOf('aaaa'), 0x9747b28c, 0x5a97808a],
  [bytesOf('aaa'), 0x9747b28c, 0x283e0130],
  [bytesOf('aa'), 0x9747b28c, 0x5d211726],
  [bytesOf('a'), 0x9747b28c, 0x7fa09ea6],
  [bytesOf('abcd'), 0x9747b28c, 0xf0478627],
  [bytesOf('abc'), 0x9747b28c, 0xc84a62dd],
  [bytesOf('ab'), 0x9747b28c, 0x74875592],
  [bytesOf('abc'), 0, 0xb3dd93fa],
  [bytesOf('Hello, world!'), 0x9747b28c, 0x24884cba],
  [bytesOf('Hello, world!'), 1234, 0xfaf6cdb3],
  [bytesOf('ππππππππ'), 0x9747b28c, 0xd58063c1],
  [bytesOf('a'.repeat(256)), 0x9747b28c, 0x37405bdc],
  [bytesOf('hello'), 0, 0x248bfa47],
  [bytesOf('The quick brown fox jumps over the lazy dog'), 0, 0x2e4ff723],
  [bytesOf('The quick brown fox jumps over the lazy dog'), 0x9747b28c, 0x2fa826cd],
];

test('murmur3 matches MurmurHash3_x86_32 reference vectors', (t) => {
  for (const [bytes, seed, expected] of VECTORS) {
    t.is(hex(murmur3(bytes, seed)), hex(expected), `len=${bytes.length} seed=${hex(seed)}`);
  }
});

test('murmur3 default seed is 0', (t) => {
  t.is(murmur3(bytesOf('hello')), 0x248bfa47);
  t.is(murmur3(new Uint8Array(0)), 0);
});

test('murmur3 agrees with an independent BigInt implementation on random inputs (all tail lengths)', (t) => {
  const rnd = mulberry32(0xdecafbad);
  for (let i = 0; i < 3000; i++) {
    const len = i < 200 ? i % 67 : randInt(rnd, 300);
    const data = new Uint8Array(len);
    for (let j = 0; j < len; j++) data[j] = randInt(rnd, 256);
    const seed = i % 5 === 0 ? 0 : randU32(rnd);
    const got = murmur3(data, seed);
    const want = murmurRef(data, seed);
    if (got !== want) {
      t.fail(`mismatch len=${len} seed=${seed}: ${hex(got)} vs ${hex(want)}`);
      return;
    }
  }
  t.pass();
});

test('murmur3 returns an unsigned 32-bit integer and treats seeds modulo 2^32', (t) => {
  const rnd = mulberry32(7);
  for (let i = 0; i < 500; i++) {
    const data = new Uint8Array(randInt(rnd, 40)).map(() => randInt(rnd, 256));
    const h = murmur3(data, randU32(rnd));
    t.true(Number.isInteger(h) && h >= 0 && h < RING_SIZE);
  }
  const d = bytesOf('seed');
  t.is(murmur3(d, -1), murmur3(d, 0xffffffff));
  t.is(murmur3(d, 2 ** 32 + 5), murmur3(d, 5));
});

test('murmur3 hashes a subarray view by its own bytes (byteOffset respected)', (t) => {
  const big = bytesOf('xxxxThe quick brown fox jumps over the lazy dogyyyy');
  const view = big.subarray(4, big.length - 4);
  t.is(murmur3(view, 0), 0x2e4ff723);
  t.is(murmur3(view.slice(), 0), 0x2e4ff723);
  const odd = big.subarray(1, 6); // unaligned view with a 1-byte tail
  t.is(murmur3(odd, 99), murmurRef(odd.slice(), 99));
});

test('murmur3 is sensitive to every byte and to the seed', (t) => {
  const base = bytesOf('The quick brown fox jumps over the lazy dog');
  const h0 = murmur3(base, 0);
  for (let i = 0; i < base.length; i++) {
    const m = base.slice();
    m[i]! ^= 1;
    t.not(murmur3(m, 0), h0, `flip at ${i}`);
  }
  t.not(murmur3(base, 1), h0);
  // Trailing zero bytes change the hash (length is mixed in).
  t.not(murmur3(new Uint8Array([1, 0]), 0), murmur3(new Uint8Array([1]), 0));
});

test('ringPosition and hashLabel use fixed seeds (persisted layout must never change)', (t) => {
  const k = bytesOf('key:0');
  t.is(ringPosition(k), murmur3(k, 0x52494e47));
  t.is(hex(ringPosition(bytesOf('key:0'))), '0xb395c048');
  t.is(hex(ringPosition(bytesOf('key:1'))), '0x846f75c5');
  t.is(hex(ringPosition(bytesOf('user/42'))), '0x2107f863');
  t.is(hex(ringPosition(new Uint8Array(0))), '0x04ec04b8');
  t.is(hashLabel('0/0/0'), murmur3(bytesOf('0/0/0'), 0x544f4b4e));
  t.is(hex(hashLabel('0/0/0')), '0x41ead631');
  t.is(hex(hashLabel('7/3/1')), '0x03ee6958');
  t.is(hex(hashLabel('')), '0x79661b88');
  // UTF-8 encoding of labels
  t.is(hashLabel('π'), murmur3(new Uint8Array([0xcf, 0x80]), 0x544f4b4e));
});

// ---------------------------------------------------------------------------
// arcIndex / arcs

const SMALL: RingMember[] = [
  { id: 1, zone: 'a', tokens: [300, 100] }, // unsorted on purpose
  { id: 2, zone: 'b', tokens: [200, 400] },
];

test('arcIndex: first token >= position, equal-to-token belongs to that arc, wraps to arc 0', (t) => {
  const ring = Ring.build(SMALL, 1);
  t.is(ring.arcCount, 4);
  const cases: [number, number][] = [
    [0, 0],
    [1, 0],
    [99, 0],
    [100, 0], // equal to token 0
    [101, 1],
    [199, 1],
    [200, 1],
    [201, 2],
    [300, 2],
    [301, 3],
    [400, 3], // equal to last token
    [401, 0], // above the last token wraps
    [RING_SIZE - 1, 0],
  ];
  for (const [pos, idx] of cases) t.is(ring.arcIndex(pos), idx, `position ${pos}`);
  // owners by arc with n=1: the token's owner
  t.deepEqual(ring.preferenceList(100), [1]);
  t.deepEqual(ring.preferenceList(101), [2]);
  t.deepEqual(ring.preferenceList(250), [1]);
  t.deepEqual(ring.preferenceList(350), [2]);
  t.deepEqual(ring.preferenceList(401), [1]);
  t.deepEqual(ring.preferenceList(0), [1]);
});

test('arcs: arc 0 wraps from the last token; arcs tile the circle exactly', (t) => {
  const ring = Ring.build(SMALL, 2);
  const arcs = ring.arcs();
  t.deepEqual(
    arcs.map((a) => [a.index, a.start, a.end]),
    [
      [0, 400, 100],
      [1, 100, 200],
      [2, 200, 300],
      [3, 300, 400],
    ],
  );
  t.is(
    arcs.reduce((s, a) => s + arcLength(a.start, a.end), 0),
    RING_SIZE,
  );
  t.deepEqual(ring.arc(2), arcs[2]);
  t.deepEqual([...ring.arc(0).preference], [1, 2]);
  t.deepEqual([...ring.arc(1).preference], [2, 1]);
  t.throws(() => ring.arc(-1), { instanceOf: RingError });
  t.throws(() => ring.arc(4), { instanceOf: RingError });
  t.throws(() => ring.preferenceOfArc(4), { instanceOf: RingError });
  t.throws(() => ring.preferenceOfArc(-1), { instanceOf: RingError });
  t.deepEqual(ring.preferenceOfArc(3), ring.preferenceList(350));
});

test('arcIndex agrees with inArc on every arc for random positions and random rings', (t) => {
  const rnd = mulberry32(42);
  for (let r = 0; r < 20; r++) {
    const count = 1 + randInt(rnd, 6);
    const used = new Set<number>();
    const members: RingMember[] = [];
    for (let id = 0; id < count; id++) {
      const tokens: number[] = [];
      const nt = 1 + randInt(rnd, 5);
      while (tokens.length < nt) {
        const tok = r % 4 === 0 ? randInt(rnd, 50) : randU32(rnd); // small universe forces edge positions
        if (!used.has(tok)) {
          used.add(tok);
          tokens.push(tok);
        }
      }
      members.push({ id, zone: 'z', tokens });
    }
    const ring = Ring.build(members, 1);
    const arcs = ring.arcs();
    const probes = [0, RING_SIZE - 1, ...used, ...[...used].map((u) => (u + 1) % RING_SIZE)];
    for (let i = 0; i < 200; i++) probes.push(r % 4 === 0 ? randInt(rnd, 60) : randU32(rnd));
    for (const p of probes) {
      const idx = ring.arcIndex(p);
      const containing = arcs.filter((a) => arcs.length === 1 || inArc(p, a.start, a.end)).map((a) => a.index);
      t.deepEqual(containing, arcs.length === 1 ? [0] : [idx], `ring ${r} position ${p}`);
      t.deepEqual(ring.preferenceList(p), ring.preferenceOfArc(idx));
    }
  }
});

// ---------------------------------------------------------------------------
// preference lists

test('preference lists: n distinct actors, in walk order, first entry owns the arc', (t) => {
  for (const n of [1, 2, 3, 5]) {
    const members = buildMembers(5, (id) => `z${id % 3}`, 32);
    const ring = Ring.build(members, n);
    const owners = new Map<number, number>();
    for (const m of members) for (const tok of m.tokens) owners.set(tok, m.id);
    for (const arc of ring.arcs()) {
      const p = arc.preference;
      t.is(p.length, n);
      t.is(new Set(p).size, n);
      t.is(p[0]!, owners.get(arc.end)!, 'coordinator is the owner of the token ending the arc');
      const walk = ring.walk(arc.end);
      const idx = p.map((a) => walk.indexOf(a));
      t.deepEqual(
        idx,
        [...idx].sort((a, b) => a - b),
        'clockwise order',
      );
      t.true(Object.isFrozen(p));
    }
  }
});

test('preference lists match a naive oracle (zones first, then walk order) on random rings', (t) => {
  const rnd = mulberry32(1234);
  for (let r = 0; r < 30; r++) {
    const count = 1 + randInt(rnd, 7);
    const zones = 1 + randInt(rnd, 4);
    const members = buildMembers(count, () => `z${randInt(rnd, zones)}`, 1 + randInt(rnd, 12), 10);
    const n = 1 + randInt(rnd, count);
    const ring = Ring.build(shuffle(members, rnd), n);
    for (let i = 0; i < 100; i++) {
      const p = randU32(rnd);
      t.deepEqual([...ring.preferenceList(p)], naivePreference(members, p, n));
      t.deepEqual(ring.walk(p), naiveWalk(members, p));
    }
  }
});

test('preference lists are deterministic: independent of member order and token order', (t) => {
  const rnd = mulberry32(99);
  const members = buildMembers(6, (id) => `z${id % 2}`, 64);
  const a = Ring.build(members, 3);
  const b = Ring.build(
    shuffle(members, rnd).map((m) => ({ ...m, tokens: shuffle(m.tokens, rnd) })),
    3,
  );
  const c = Ring.build(buildMembers(6, (id) => `z${id % 2}`, 64), 3);
  t.is(a.arcCount, 6 * 64);
  t.deepEqual(a.arcs(), b.arcs());
  t.deepEqual(a.arcs(), c.arcs());
});

test('zones: 3 zones with n=3 -> every preference list spans all 3 zones', (t) => {
  const members = buildMembers(9, (id) => ['us', 'eu', 'ap'][id % 3]!, 64);
  const zoneOf = new Map(members.map((m) => [m.id, m.zone]));
  const ring = Ring.build(members, 3);
  for (const arc of ring.arcs()) {
    t.is(new Set(arc.preference.map((id) => zoneOf.get(id))).size, 3, `arc ${arc.index}`);
  }
  // Zone awareness really changes something versus the plain walk.
  let differs = 0;
  for (const arc of ring.arcs()) if (arc.preference.join() !== ring.walk(arc.end).slice(0, 3).join()) differs++;
  t.true(differs > 0);
});

test('zones: 2 zones with n=3 -> both zones appear, third replica falls back to walk order', (t) => {
  const members = buildMembers(6, (id) => (id < 4 ? 'left' : 'right'), 64);
  const zoneOf = new Map(members.map((m) => [m.id, m.zone]));
  const ring = Ring.build(members, 3);
  for (const arc of ring.arcs()) {
    const p = arc.preference;
    t.is(new Set(p.map((id) => zoneOf.get(id))).size, 2, `arc ${arc.index}`);
    // Remaining slot: the first not-yet-chosen actor in walk order.
    const walk = ring.walk(arc.end);
    const firstLeft = walk.find((id) => zoneOf.get(id) === 'left')!;
    const firstRight = walk.find((id) => zoneOf.get(id) === 'right')!;
    const third = walk.find((id) => id !== firstLeft && id !== firstRight)!;
    t.deepEqual([...p].sort((x, y) => x - y), [firstLeft, firstRight, third].sort((x, y) => x - y));
  }
});

test('zones: hand-made ring shows zone preference and fallback', (t) => {
  const members: RingMember[] = [
    { id: 1, zone: 'z1', tokens: [10] },
    { id: 2, zone: 'z1', tokens: [20] },
    { id: 3, zone: 'z2', tokens: [30] },
    { id: 4, zone: 'z3', tokens: [40] },
  ];
  const n2 = Ring.build(members, 2);
  t.deepEqual([...n2.preferenceList(5)], [1, 3]); // skips 2 (same zone as 1)
  t.deepEqual([...n2.preferenceList(15)], [2, 3]);
  t.deepEqual([...n2.preferenceList(25)], [3, 4]);
  t.deepEqual([...n2.preferenceList(35)], [4, 1]);
  t.deepEqual([...n2.preferenceList(45)], [1, 3]); // wraps
  const n3 = Ring.build(members, 3);
  t.deepEqual([...n3.preferenceList(5)], [1, 3, 4]);
  t.deepEqual([...n3.preferenceList(35)], [4, 1, 3]);
  const n4 = Ring.build(members, 4);
  t.deepEqual([...n4.preferenceList(5)], [1, 2, 3, 4]); // zones exhausted: fall back to walk order
  t.deepEqual([...n4.preferenceList(25)], [3, 4, 1, 2]);
  const single = Ring.build(members.map((m) => ({ ...m, zone: 'same' })), 3);
  t.deepEqual([...single.preferenceList(5)], [1, 2, 3]); // one zone: plain walk order
  t.deepEqual([...single.preferenceList(31)], [4, 1, 2]);
});

test('walk: every distinct actor once, clockwise from the arc of the position', (t) => {
  const members = buildMembers(7, () => 'z', 16);
  const ring = Ring.build(members, 3);
  const rnd = mulberry32(5);
  for (let i = 0; i < 200; i++) {
    const p = randU32(rnd);
    const w = ring.walk(p);
    t.is(w.length, 7);
    t.is(new Set(w).size, 7);
    t.deepEqual(w.slice(0, 3), [...ring.preferenceList(p)]);
  }
});

// ---------------------------------------------------------------------------
// Ring.build validation

test('Ring.build rejects bad n, too few actors, duplicate ids, and bad tokens', (t) => {
  const ok: RingMember[] = [
    { id: 1, zone: 'a', tokens: [1, 1000] },
    { id: 2, zone: 'b', tokens: [2, 2000] },
    { id: 3, zone: 'c', tokens: [3, 3000] },
  ];
  t.notThrows(() => Ring.build(ok, 3));
  for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    const e = t.throws(() => Ring.build(ok, n), { instanceOf: RingError });
    t.is(e?.name, 'RingError');
  }
  t.throws(() => Ring.build(ok, 4), { instanceOf: RingError, message: /at least 4/ });
  t.throws(() => Ring.build([], 1), { instanceOf: RingError });
  t.throws(() => Ring.build([...ok, { id: 2, zone: 'd', tokens: [9] }], 1), { instanceOf: RingError, message: /duplicate actor id 2/ });
  t.throws(() => Ring.build([...ok, { id: 4, zone: 'd', tokens: [] }], 1), { instanceOf: RingError, message: /no tokens/ });
  for (const bad of [-1, RING_SIZE, RING_SIZE + 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => Ring.build([...ok, { id: 4, zone: 'd', tokens: [7, bad] }], 1), { instanceOf: RingError, message: /bad token/ }, `token ${bad}`);
  }
  // Boundary tokens are valid.
  const edge = Ring.build([{ id: 9, zone: 'x', tokens: [0, RING_SIZE - 1] }], 1);
  t.is(edge.arcIndex(0), 0);
  t.is(edge.arcIndex(1), 1);
  t.is(edge.arcIndex(RING_SIZE - 1), 1);
});

test('Ring.build rejects a token claimed twice (it would make a zero-length arc count as the full circle)', (t) => {
  t.throws(
    () =>
      Ring.build(
        [
          { id: 1, zone: 'a', tokens: [10, 20] },
          { id: 2, zone: 'b', tokens: [20, 30] },
        ],
        1,
      ),
    { instanceOf: RingError, message: /token 20/ },
  );
  t.throws(() => Ring.build([{ id: 1, zone: 'a', tokens: [5, 5] }], 1), { instanceOf: RingError });
});

test('a ring with n equal to the member count puts every actor in every preference list', (t) => {
  const members = buildMembers(4, (id) => `z${id}`, 8);
  const ring = Ring.build(members, 4);
  for (const arc of ring.arcs()) t.deepEqual([...arc.preference].sort(), [0, 1, 2, 3]);
  for (const m of members) t.is(ring.replicaShare(m.id), 1);
});

test('single actor with a single token owns the whole circle', (t) => {
  const ring = Ring.build([{ id: 7, zone: 'z', tokens: [12345] }], 1);
  t.is(ring.arcCount, 1);
  const arc = ring.arc(0);
  t.is(arc.start, 12345);
  t.is(arc.end, 12345);
  t.is(arcLength(arc.start, arc.end), RING_SIZE);
  t.is(ring.replicaShare(7), 1);
  for (const p of [0, 12344, 12345, 12346, RING_SIZE - 1]) t.deepEqual([...ring.preferenceList(p)], [7]);
});

// ---------------------------------------------------------------------------
// replicaShare / arcLength / inArc

test('replicaShare sums to n over all actors; unknown actors have share 0', (t) => {
  const configs: [number, number, (id: number) => string, number][] = [
    [5, 3, (id) => `z${id}`, 256],
    [6, 3, (id) => `z${id % 3}`, 32],
    [4, 1, () => 'z', 16],
    [3, 2, (id) => (id === 0 ? 'a' : 'b'), 8],
    [2, 2, () => 'z', 1],
  ];
  for (const [count, n, zoneOf, vnodes] of configs) {
    const members = buildMembers(count, zoneOf, vnodes);
    const ring = Ring.build(members, n);
    let sum = 0;
    for (const m of members) {
      const s = ring.replicaShare(m.id);
      t.true(s > 0 && s <= 1);
      sum += s;
    }
    t.true(Math.abs(sum - n) < 1e-9, `count=${count} n=${n}: sum ${sum}`);
    t.is(ring.replicaShare(999), 0);
  }
});

test('replicaShare equals the measure of arcs whose preference list includes the actor (hand-made ring)', (t) => {
  const ring = Ring.build(SMALL, 1);
  // tokens 100(1) 200(2) 300(1) 400(2): actor 1 owns (400,100] and (200,300]
  t.is(ring.replicaShare(1), (RING_SIZE - 400 + 100 + 100) / RING_SIZE);
  t.is(ring.replicaShare(2), 200 / RING_SIZE);
});

test('arcLength: wrapping and the full circle', (t) => {
  t.is(arcLength(0, 1), 1);
  t.is(arcLength(100, 200), 100);
  t.is(arcLength(200, 100), RING_SIZE - 100);
  t.is(arcLength(RING_SIZE - 1, 0), 1);
  t.is(arcLength(0, RING_SIZE - 1), RING_SIZE - 1);
  t.is(arcLength(5, 5), RING_SIZE);
  t.is(arcLength(0, 0), RING_SIZE);
  t.is(arcLength(RING_SIZE - 1, RING_SIZE - 1), RING_SIZE);
});

test('inArc: exclusive start, inclusive end, wrapping and full circle', (t) => {
  t.false(inArc(100, 100, 200));
  t.true(inArc(101, 100, 200));
  t.true(inArc(200, 100, 200));
  t.false(inArc(201, 100, 200));
  t.false(inArc(0, 100, 200));
  // wrapping arc (MAX-10, 5]
  const s = RING_SIZE - 10;
  t.false(inArc(s, s, 5));
  t.true(inArc(s + 1, s, 5));
  t.true(inArc(RING_SIZE - 1, s, 5));
  t.true(inArc(0, s, 5));
  t.true(inArc(5, s, 5));
  t.false(inArc(6, s, 5));
  t.false(inArc(s - 1, s, 5));
  // (MAX, 0] contains only 0
  t.true(inArc(0, RING_SIZE - 1, 0));
  t.false(inArc(RING_SIZE - 1, RING_SIZE - 1, 0));
  t.false(inArc(1, RING_SIZE - 1, 0));
  // full circle: start === end contains everything, including the endpoint
  for (const p of [0, 1, 41, 42, 43, RING_SIZE - 1]) t.true(inArc(p, 42, 42), `full circle ${p}`);
});

test('inArc agrees with arcLength: p is in (s, e] iff its clockwise distance from s is in [1, arcLength]', (t) => {
  const rnd = mulberry32(77);
  const pick = (): number => (rnd() < 0.3 ? randInt(rnd, 8) : rnd() < 0.3 ? RING_SIZE - 1 - randInt(rnd, 8) : randU32(rnd));
  for (let i = 0; i < 20000; i++) {
    const s = pick();
    const e = rnd() < 0.05 ? s : pick();
    const p = rnd() < 0.1 ? s : rnd() < 0.1 ? e : pick();
    const d = (p - s + RING_SIZE) % RING_SIZE || RING_SIZE;
    const expected = d <= arcLength(s, e);
    if (inArc(p, s, e) !== expected) {
      t.fail(`inArc(${p}, ${s}, ${e}) should be ${expected}`);
      return;
    }
  }
  t.pass();
});

// ---------------------------------------------------------------------------
// allocateTokens

test('allocateTokens is deterministic and yields distinct valid tokens not already taken', (t) => {
  const base = buildMembers(3, () => 'z', 128);
  const a = allocateTokens(base, 3, 256);
  const b = allocateTokens(base, 3, 256);
  t.deepEqual(a, b);
  t.is(a.length, 256);
  const taken = new Set(base.flatMap((m) => m.tokens));
  t.is(taken.size, 3 * 128);
  t.is(new Set(a).size, 256);
  for (const tok of a) {
    t.true(Number.isInteger(tok) && tok >= 0 && tok < RING_SIZE);
    t.false(taken.has(tok));
  }
  // depends on the actor id and on the existing ring
  t.notDeepEqual(allocateTokens(base, 4, 256), a);
  t.notDeepEqual(allocateTokens(base.slice(0, 2), 3, 256), a);
  // order of existing members does not matter
  t.deepEqual(allocateTokens([...base].reverse(), 3, 256), a);
  // Rebuilding the whole layout from scratch reproduces it exactly.
  t.deepEqual(buildMembers(3, () => 'z', 128), base);
});

test('allocateTokens derives candidates from hashLabel(`${id}/${vnode}/${candidate}`)', (t) => {
  // With a single candidate and nothing taken, the token is the hash itself.
  t.deepEqual(allocateTokens([], 5, 3, 1), [hashLabel('5/0/0'), hashLabel('5/1/0'), hashLabel('5/2/0')]);
  // The first vnode on an empty ring: every candidate's gap is the full circle, so the first wins.
  t.is(allocateTokens([], 9, 1)[0], hashLabel('9/0/0'));
  // Every token is one of that vnode's candidates.
  const toks = allocateTokens(buildMembers(2, () => 'z', 16), 2, 32, 4);
  toks.forEach((tok, v) => {
    const cands = [0, 1, 2, 3].map((c) => hashLabel(`2/${v}/${c}`));
    t.true(cands.includes(tok), `vnode ${v}`);
  });
});

test('allocateTokens picks the candidate in the largest arc (best of k)', (t) => {
  // One existing token; a second actor with 1 vnode and k candidates picks the
  // candidate whose containing arc is largest. With only one existing token every
  // candidate lands in the same full-circle arc, so the first candidate wins; add
  // a second token to make arcs unequal and check the choice against an oracle.
  const existing: RingMember[] = [{ id: 0, zone: 'z', tokens: [0, 2 ** 30] }]; // arcs: (0, 2^30] small, (2^30, 0] large
  for (let id = 1; id < 40; id++) {
    const [tok] = allocateTokens(existing, id, 1, 8);
    const cands = Array.from({ length: 8 }, (_, c) => hashLabel(`${id}/0/${c}`));
    const gap = (p: number): number => (p > 0 && p <= 2 ** 30 ? 2 ** 30 : RING_SIZE - 2 ** 30);
    const bestGap = Math.max(...cands.map(gap));
    const expected = cands.find((c) => gap(c) === bestGap);
    t.is(tok!, expected!, `id ${id}`);
  }
});

test('allocateTokens validates vnodes', (t) => {
  for (const v of [0, -1, 1.5, 4097, Number.NaN]) {
    t.throws(() => allocateTokens([], 1, v), { instanceOf: RingError }, `vnodes ${v}`);
  }
  t.is(allocateTokens([], 1, 1).length, 1);
  const many = allocateTokens([], 1, 4096);
  t.is(many.length, 4096);
  t.is(new Set(many).size, 4096);
});

test('allocateTokens keeps arcs balanced: each of 5 actors gets 0.6 +- 10% of the ring with n=3', (t) => {
  const members = buildMembers(5, (id) => `z${id}`, 256);
  const ring = Ring.build(members, 3);
  for (const m of members) {
    const s = ring.replicaShare(m.id);
    t.true(s > 0.54 && s < 0.66, `actor ${m.id} share ${s}`);
  }
  // Primary (n=1) ownership also balanced.
  const primary = Ring.build(members, 1);
  for (const m of members) {
    const s = primary.replicaShare(m.id);
    t.true(s > 0.17 && s < 0.23, `actor ${m.id} primary share ${s}`);
  }
});

// ---------------------------------------------------------------------------
// load spread and movement over 1,000,000 keys

test('spread: 5 actors x 256 vnodes, n=3, 1M keys -> most loaded actor holds <= 1.10x the mean', (t) => {
  const pos = keyPositions();
  for (const zoneOf of [(id: number) => `z${id}`, () => 'one-zone']) {
    const ring = Ring.build(buildMembers(5, zoneOf, 256), 3);
    const load = new Float64Array(5);
    for (let i = 0; i < KEY_COUNT; i++) for (const a of ring.preferenceList(pos[i]!)) load[a]!++;
    const total = load.reduce((s, x) => s + x, 0);
    t.is(total, 3 * KEY_COUNT);
    const mean = total / 5;
    const max = Math.max(...load);
    const min = Math.min(...load);
    t.log(`max/mean ${(max / mean).toFixed(4)} min/mean ${(min / mean).toFixed(4)}`);
    t.true(max <= 1.1 * mean, `max/mean ${max / mean}`);
    t.true(min >= 0.9 * mean, `min/mean ${min / mean}`);
  }
});

test('movement: adding a 6th actor moves <= 1.1/6 of placements, all of them to the new actor', (t) => {
  const pos = keyPositions();
  for (const zoneOf of [(id: number) => `z${id}`, (id: number) => `z${id % 3}`]) {
    const five = buildMembers(5, zoneOf, 256);
    const six = [...five, { id: 5, zone: zoneOf(5), tokens: allocateTokens(five, 5, 256) }];
    const before = Ring.build(five, 3);
    const after = Ring.build(six, 3);
    let moved = 0;
    let gained = 0;
    let badSource = 0;
    let badTarget = 0;
    for (let i = 0; i < KEY_COUNT; i++) {
      const a = before.preferenceList(pos[i]!);
      const b = after.preferenceList(pos[i]!);
      for (const x of a) if (!b.includes(x)) moved++;
      for (const x of b) {
        if (!a.includes(x)) {
          if (x === 5) gained++;
          else badTarget++;
        }
      }
      if (a.includes(5)) badSource++;
    }
    t.is(badSource, 0);
    t.is(badTarget, 0, 'no placement moves between old actors');
    t.is(moved, gained, 'every moved placement lands on the new actor');
    const frac = moved / (3 * KEY_COUNT);
    t.log(`moved ${(frac * 100).toFixed(2)}% (ideal ${(100 / 6).toFixed(2)}%)`);
    t.true(frac <= 1.1 / 6, `moved fraction ${frac}`);
    t.true(frac >= 0.9 / 6, `new actor takes a fair share: ${frac}`);
  }
});

test('movement: removing an actor only moves placements that involved it', (t) => {
  const pos = keyPositions();
  for (const zoneOf of [(id: number) => `z${id}`, (id: number) => `z${id % 2}`]) {
    const members = buildMembers(6, zoneOf, 128);
    const before = Ring.build(members, 3);
    for (const removed of [0, 3, 5]) {
      const after = Ring.build(
        members.filter((m) => m.id !== removed),
        3,
      );
      let involved = 0;
      let violations = 0;
      for (let i = 0; i < KEY_COUNT; i += 4) {
        const a = before.preferenceList(pos[i]!);
        const b = after.preferenceList(pos[i]!);
        if (!a.includes(removed)) {
          if (a.join() !== b.join()) violations++;
        } else {
          involved++;
          const kept = a.filter((x) => x !== removed);
          if (!kept.every((x) => b.includes(x))) violations++;
          if (b.includes(removed)) violations++;
        }
      }
      t.is(violations, 0, `removing ${removed}`);
      t.true(involved > 0);
    }
  }
});

// ---------------------------------------------------------------------------
// foreign ranges (what an actor may drop after a membership change)

test('foreignRanges: a position is in them exactly when the actor is not in its preference list', (t) => {
  const rnd = mulberry32(7);
  for (let r = 0; r < 30; r++) {
    const count = 2 + randInt(rnd, 6);
    const n = 1 + randInt(rnd, count);
    const used = new Set<number>();
    const members: RingMember[] = [];
    for (let id = 0; id < count; id++) {
      const tokens: number[] = [];
      const nt = 1 + randInt(rnd, 8);
      while (tokens.length < nt) {
        // a small universe in some rounds forces tokens at 0 and at 2^32-1 neighbours
        const tok = r % 3 === 0 ? randInt(rnd, 40) : r % 3 === 1 ? RING_SIZE - 1 - randInt(rnd, 40) : randU32(rnd);
        if (!used.has(tok)) {
          used.add(tok);
          tokens.push(tok);
        }
      }
      members.push({ id, zone: `z${id % 3}`, tokens });
    }
    const ring = Ring.build(members, n);
    const probes = [0, 1, RING_SIZE - 1, RING_SIZE - 2];
    for (const u of used) probes.push(u, (u + 1) % RING_SIZE, (u + RING_SIZE - 1) % RING_SIZE);
    for (let i = 0; i < 100; i++) probes.push(randU32(rnd));
    for (let actor = 0; actor < count; actor++) {
      const spans = foreignRanges(ring, actor);
      // sorted, disjoint, non-empty, merged (no two touching), within the ring
      for (let i = 0; i < spans.length; i++) {
        const s = spans[i]!;
        t.true(s.from >= 0 && s.from < s.to && s.to <= RING_SIZE, `ring ${r} actor ${actor} span ${i}`);
        if (i > 0) t.true(spans[i - 1]!.to < s.from, `ring ${r} actor ${actor}: spans ${i - 1} and ${i} overlap or touch`);
      }
      for (const p of probes) {
        const foreign = spans.some((s) => p >= s.from && p < s.to);
        t.is(foreign, !ring.preferenceList(p).includes(actor), `ring ${r} actor ${actor} position ${p}`);
      }
      // lengths add up to the share of the ring the actor does not replicate
      const length = spans.reduce((sum, s) => sum + (s.to - s.from), 0);
      t.is(length, RING_SIZE - Math.round(ring.replicaShare(actor) * RING_SIZE), `ring ${r} actor ${actor}`);
    }
  }
});

test('foreignRanges: empty when every actor replicates everything; the whole ring for a non-member', (t) => {
  const members = buildMembers(3, () => 'z', 8);
  t.deepEqual(foreignRanges(Ring.build(members, 3), 1), []);
  t.deepEqual(foreignRanges(Ring.build(members, 2), 99), [{ from: 0, to: RING_SIZE }]);
});
