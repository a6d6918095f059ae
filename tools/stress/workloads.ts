/**
 * The stress lab's workloads: YCSB's core workloads A–F, a Jepsen-style
 * `set` workload and a `counter` workload (increments of PN-counters), as pure, seeded operation generators (no I/O, no clock, no
 * Math.random), so a run's operations replay exactly from its seed.
 *
 * The key choosers follow YCSB's generators (ZipfianGenerator after Gray et
 * al., "Quickly Generating Billion-Record Synthetic Databases"; ScrambledZipfian;
 * SkewedLatest) with the run-time key space described on OperationGenerator.
 */

export class StressConfigError extends Error {
  override name = 'StressConfigError';
}

export type WorkloadName = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'set' | 'counter';
export type Distribution = 'uniform' | 'zipfian' | 'latest';

export const WORKLOAD_NAMES: readonly WorkloadName[] = ['a', 'b', 'c', 'd', 'e', 'f', 'set', 'counter'];
export const DISTRIBUTIONS: readonly Distribution[] = ['uniform', 'zipfian', 'latest'];

export interface WorkloadSpec {
  readonly name: WorkloadName;
  readonly description: string;
  readonly readProportion: number;
  readonly updateProportion: number;
  readonly insertProportion: number;
  readonly scanProportion: number;
  readonly rmwProportion: number; // read-modify-write (F)
  readonly distribution: Distribution; // request distribution
  readonly maxScanLength: number; // scan length is uniform in 1..maxScanLength
}

/** YCSB's workload E uses 100; the other workloads never scan but carry the same bound. */
export const DEFAULT_MAX_SCAN_LENGTH = 100;
/** Keys the `set` (and `counter`) workload writes to when GeneratorOptions.setKeys is not given. */
export const DEFAULT_SET_KEYS = 4;

type Mix = Pick<WorkloadSpec, 'readProportion' | 'updateProportion' | 'insertProportion' | 'scanProportion' | 'rmwProportion'>;
const NO_OPS: Mix = { readProportion: 0, updateProportion: 0, insertProportion: 0, scanProportion: 0, rmwProportion: 0 };

// Proportions and request distributions of YCSB's workloads/workloada..f.
const WORKLOADS: Readonly<Record<WorkloadName, { description: string; mix: Mix; distribution: Distribution }>> = {
  a: { description: 'A: update heavy (50% read, 50% update)', mix: { ...NO_OPS, readProportion: 0.5, updateProportion: 0.5 }, distribution: 'zipfian' },
  b: { description: 'B: read mostly (95% read, 5% update)', mix: { ...NO_OPS, readProportion: 0.95, updateProportion: 0.05 }, distribution: 'zipfian' },
  c: { description: 'C: read only (100% read)', mix: { ...NO_OPS, readProportion: 1 }, distribution: 'zipfian' },
  d: { description: 'D: read latest (95% read, 5% insert)', mix: { ...NO_OPS, readProportion: 0.95, insertProportion: 0.05 }, distribution: 'latest' },
  e: { description: 'E: short ranges (95% scan, 5% insert)', mix: { ...NO_OPS, scanProportion: 0.95, insertProportion: 0.05 }, distribution: 'zipfian' },
  f: { description: 'F: read-modify-write (50% read, 50% read-modify-write)', mix: { ...NO_OPS, readProportion: 0.5, rmwProportion: 0.5 }, distribution: 'zipfian' },
  // Every op is an `add`, so the proportions above (which have no `add`) are all 0.
  set: { description: 'set: Jepsen-style set (100% add of unique elements)', mix: NO_OPS, distribution: 'uniform' },
  // Every op is an `incr` (INCRBY of -2..5, never 0) of one of setKeys PN-counters.
  counter: { description: 'counter: PN-counters (100% increment by -2..5)', mix: NO_OPS, distribution: 'uniform' },
};

/** name is case-insensitive ('A' or 'a'); distribution overrides the workload's default. Throws StressConfigError for unknown names/distributions. */
export function workloadSpec(name: string, distribution?: string): WorkloadSpec {
  const key = typeof name === 'string' ? name.trim().toLowerCase() : '';
  if (!(WORKLOAD_NAMES as readonly string[]).includes(key)) {
    throw new StressConfigError(`unknown workload ${JSON.stringify(name)}: allowed are ${WORKLOAD_NAMES.join(', ')} (case-insensitive)`);
  }
  const w = WORKLOADS[key as WorkloadName];
  let dist = w.distribution;
  if (distribution !== undefined && distribution.trim() !== '') {
    const d = distribution.trim().toLowerCase();
    if (!(DISTRIBUTIONS as readonly string[]).includes(d)) {
      throw new StressConfigError(`unknown request distribution ${JSON.stringify(distribution)}: allowed are ${DISTRIBUTIONS.join(', ')}`);
    }
    dist = d as Distribution;
  }
  return Object.freeze({ name: key as WorkloadName, description: w.description, ...w.mix, distribution: dist, maxScanLength: DEFAULT_MAX_SCAN_LENGTH });
}

export type PlannedOp =
  | { readonly kind: 'read' | 'update' | 'rmw' | 'insert' | 'add'; readonly keyIndex: number }
  | { readonly kind: 'incr'; readonly keyIndex: number; readonly by: number }
  | { readonly kind: 'scan'; readonly keyIndex: number; readonly length: number };

export interface GeneratorOptions {
  readonly records: number; // records loaded before the run (key indexes 0..records-1)
  readonly clients: number; // total concurrent clients in the run
  readonly client: number; // this client's index 0..clients-1
  readonly seed: number; // run seed (integer); each client derives its own stream from (seed, client)
  readonly setKeys?: number; // set and counter workloads: how many keys the adds (increments) go to (default 4)
}

// ---------------------------------------------------------------------------
// PRNG

/** murmur3's 32-bit finalizer: a bijective avalanche mix. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

function requireSafeInteger(value: unknown, what: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = min === Number.MIN_SAFE_INTEGER ? 'an integer' : max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}`;
    throw new StressConfigError(`${what} must be ${range} (got ${typeof value === 'number' ? value : JSON.stringify(value)})`);
  }
  return value;
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): 128-bit state,
 * passes PractRand; seeded from (seed, stream) so independent streams (one per
 * client) come from one run seed. `stream` is an extension (default 0).
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    requireSafeInteger(seed, 'seed');
    requireSafeInteger(stream, 'stream');
    const h = mix32(mix32(mix32(Math.floor(seed / TWO_POW_32) ^ 0x9e3779b9) ^ seed) ^ mix32(Math.floor(stream / TWO_POW_32) ^ mix32(stream ^ 0x7f4a7c15)));
    this.a = mix32(h ^ 0x243f6a88);
    this.b = mix32(h ^ 0x85a308d3);
    this.c = mix32(h ^ 0x13198a2e);
    this.d = 1;
    for (let i = 0; i < 15; i++) this.nextUint32(); // let the seed's bits diffuse through the state
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1), with 53 random bits (as Java's nextDouble, which YCSB's generators assume). */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 6; // 26 bits
    const lo = this.nextUint32() >>> 5; // 27 bits
    return (hi * 134217728 + lo) / TWO_POW_53;
  }

  /** Uniform in [0, n) for a safe integer n >= 1. */
  nextInt(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`nextInt(n) needs an integer n >= 1 (got ${n})`);
    return Math.floor(this.nextFloat() * n);
  }
}

// ---------------------------------------------------------------------------
// FNV-1a 64 (as YCSB's Utils.fnvhash64)

/**
 * YCSB's fnvhash64: FNV-1a over the 8 little-endian bytes of `value`, then
 * Math.abs of the signed 64-bit result. Returned as [high 32 bits, low 32 bits]
 * of that non-negative value (2**63 itself, where Java's abs overflows, is kept as 2**63).
 * Computed with 32-bit halves: the prime is 2**40 + 0x1b3, so every partial
 * product stays below 2**53 and is exact.
 */
export function fnvHash64(value: number): [hi: number, lo: number] {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  const vLo = value >>> 0;
  const vHi = Math.floor(value / TWO_POW_32) >>> 0;
  for (let i = 0; i < 8; i++) {
    const octet = i < 4 ? (vLo >>> (8 * i)) & 0xff : (vHi >>> (8 * (i - 4))) & 0xff;
    lo = (lo ^ octet) >>> 0;
    const p = lo * 0x1b3;
    hi = (hi * 0x1b3 + lo * 0x100 + Math.floor(p / TWO_POW_32)) >>> 0;
    lo = p >>> 0;
  }
  if (hi >= 0x80000000) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  return [hi, lo];
}

/** fnvHash64(value) mod n, exactly, for 1 <= n <= 2**36. */
function fnvMod(value: number, n: number): number {
  const [hi, lo] = fnvHash64(value);
  let r = hi % n;
  r = (r * 65536 + (lo >>> 16)) % n;
  return (r * 65536 + (lo & 0xffff)) % n;
}

/**
 * The key for an index, YCSB-style: 'user' + fnvhash64(index) in decimal (the
 * same digits YCSB's CoreWorkload uses), then '-' + the index. The suffix makes
 * it injective for every index (FNV over fixed-width input is not a proven
 * bijection); the hash prefix spreads keys over the key space.
 */
export function keyName(index: number): string {
  requireSafeInteger(index, 'key index', 0);
  const [hi, lo] = fnvHash64(index);
  return `user${((BigInt(hi) << 32n) | BigInt(lo)).toString()}-${index}`;
}

/** The key indexes client `client` writes in the load phase: contiguous blocks whose sizes differ by at most one, disjoint, covering 0..records-1. */
export function loadKeyIndexes(records: number, clients: number, client: number): number[] {
  requireSafeInteger(records, 'records', 0);
  requireSafeInteger(clients, 'clients', 1);
  requireSafeInteger(client, 'client', 0, clients - 1);
  const from = Math.floor((client * records) / clients);
  const to = Math.floor(((client + 1) * records) / clients);
  const out = new Array<number>(to - from);
  for (let i = from; i < to; i++) out[i - from] = i;
  return out;
}

// ---------------------------------------------------------------------------
// Zipfian

const ZETA_CACHE_MAX_ENTRIES = 64;
const zetaCache = new Map<string, { readonly theta: number; readonly items: number; readonly zeta: number }>();

/** Continue the sum of 1/i^theta from i = from+1 to `to`; sequential, so extending a cached prefix gives bit-identical results to a fresh sum. */
function zetaExtend(sum: number, from: number, to: number, theta: number): number {
  for (let i = from + 1; i <= to; i++) sum += Math.exp(-theta * Math.log(i)); // ~2x faster than Math.pow
  return sum;
}

/**
 * zeta(items, theta) = sum over i = 1..items of 1/i^theta. Cached per (theta,
 * items) in a bounded module-level map, and extended from the largest cached
 * smaller count, so 64 clients compute it once (10 million items take ~0.2 s).
 */
export function zeta(items: number, theta: number): number {
  requireSafeInteger(items, 'zipfian item count', 0);
  const key = `${theta}:${items}`;
  const hit = zetaCache.get(key);
  if (hit !== undefined) return hit.zeta;
  let from = 0;
  let sum = 0;
  for (const e of zetaCache.values()) {
    if (e.theta === theta && e.items <= items && e.items > from) {
      from = e.items;
      sum = e.zeta;
    }
  }
  const z = zetaExtend(sum, from, items, theta);
  if (zetaCache.size >= ZETA_CACHE_MAX_ENTRIES) zetaCache.delete(zetaCache.keys().next().value!);
  zetaCache.set(key, { theta, items, zeta: z });
  return z;
}

export const ZIPFIAN_CONSTANT = 0.99;

/**
 * YCSB's ZipfianGenerator (Gray et al.): item 0 is the most popular, item i has
 * probability (1/(i+1)^theta) / zeta(items). zeta is computed once for the item
 * count, and incrementally when next() is called with a larger count.
 * Extensions: next() takes an optional current item count (YCSB's
 * nextLong(itemcount)); a smaller count than before is allowed (zeta comes from
 * the cache). Unlike YCSB, eta is recomputed for the current count, not the
 * construction count. `zetan` lets a caller pass a precomputed zeta for `items`.
 */
export class ZipfianGenerator {
  readonly items: number;
  readonly theta: number;
  private readonly alpha: number;
  private readonly zeta2: number;
  private countForZeta: number;
  private zetan: number;
  private eta: number;

  constructor(items: number, theta = ZIPFIAN_CONSTANT, zetan?: number) {
    requireSafeInteger(items, 'zipfian item count', 1);
    if (typeof theta !== 'number' || !(theta > 0 && theta < 1)) throw new StressConfigError(`zipfian theta must be in (0, 1) (got ${theta})`);
    if (zetan !== undefined && !(Number.isFinite(zetan) && zetan >= 1)) throw new StressConfigError(`zipfian zeta must be a finite number >= 1 (got ${zetan})`);
    this.items = items;
    this.theta = theta;
    this.alpha = 1 / (1 - theta);
    this.zeta2 = zetaExtend(0, 0, 2, theta);
    this.countForZeta = items;
    this.zetan = zetan ?? zeta(items, theta);
    this.eta = this.etaFor(items);
  }

  private etaFor(count: number): number {
    return (1 - Math.pow(2 / count, 1 - this.theta)) / (1 - this.zeta2 / this.zetan);
  }

  /** An item in [0, itemCount); itemCount defaults to the construction count. */
  next(rng: Prng, itemCount: number = this.items): number {
    if (itemCount !== this.countForZeta) {
      if (!Number.isSafeInteger(itemCount) || itemCount < 1) throw new RangeError(`zipfian item count must be an integer >= 1 (got ${itemCount})`);
      this.zetan = itemCount > this.countForZeta ? zetaExtend(this.zetan, this.countForZeta, itemCount, this.theta) : zeta(itemCount, this.theta);
      this.countForZeta = itemCount;
      this.eta = this.etaFor(itemCount);
    }
    const u = rng.nextFloat();
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < this.zeta2) return 1; // reached only when itemCount >= 3, where eta is finite
    const v = Math.floor(itemCount * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    return Math.min(Math.max(v, 0), itemCount - 1);
  }
}

/** YCSB's ScrambledZipfian item space and its precomputed zeta for theta 0.99 (summing 10^10 terms would take minutes). */
export const SCRAMBLED_ITEM_SPACE = 1e10;
export const SCRAMBLED_ZETAN = 26.46902820178302;

/**
 * YCSB's ScrambledZipfianGenerator: a zipfian value over a fixed space of 10^10
 * items (theta 0.99), FNV-hashed, mod `items`. Popular items are spread over
 * the range instead of clustering at 0; the skew is flatter than a zipfian over
 * `items` (the hottest item gets ~1/26.5 of draws plus hash collisions).
 * items must be 1..10^10.
 */
export class ScrambledZipfianGenerator {
  readonly items: number;
  private readonly base = new ZipfianGenerator(SCRAMBLED_ITEM_SPACE, ZIPFIAN_CONSTANT, SCRAMBLED_ZETAN);

  constructor(items: number) {
    this.items = requireSafeInteger(items, 'scrambled zipfian item count', 1, SCRAMBLED_ITEM_SPACE);
  }

  next(rng: Prng): number {
    return fnvMod(this.base.next(rng), this.items);
  }
}

// ---------------------------------------------------------------------------
// Operation generator

const MAX_RECORDS = 2 ** 36; // fnvMod's exact range; far beyond any run
/** What a counter-workload increment adds: mostly up, sometimes down (DECRBY), never 0. */
const INCREMENTS: readonly number[] = [-2, -1, 1, 2, 3, 4, 5];

function requireProportion(spec: WorkloadSpec, field: keyof Mix): number {
  const p = spec[field];
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new StressConfigError(`${field} must be a number in [0, 1] (got ${p})`);
  return p;
}

/**
 * Deterministic: the same spec + options give the same sequence of ops,
 * whatever the timing (each client draws from its own stream, Prng(seed, client)).
 *
 * Key space during the run, without coordination between clients:
 *  - client c's k-th insert (k = 0, 1, …) is key index records + k*clients + c;
 *  - after this client has made k inserts, it assumes the key count is
 *    records + k*clients, i.e. that every other client inserted as many as it
 *    did. Keys other clients have not inserted yet may be chosen (a read finds
 *    nothing; an update writes the key first): that is the approximation.
 *  - uniform: uniform over that key count.
 *  - zipfian: YCSB's ScrambledZipfian over the loaded records (a zipfian
 *    value over 10^10 items, FNV-hashed, mod records), so the skew is YCSB's
 *    and the hot set is fixed over time and the same for every client.
 *    Keys inserted during the run are not chosen by it (E still inserts them).
 *  - latest: newest = this client's latest insert (records-1 before it
 *    inserted), key = newest - zipfian(newest+1), clamped at 0; rank 0 is
 *    always this client's own newest key, which certainly exists.
 *  - set: every op is an add; the key is drawn over 0..setKeys-1 with the spec's
 *    distribution (uniform by default; latest treats setKeys-1 as newest).
 *  - counter: as set, every op an increment by a nonzero amount in -2..5.
 *  - scan: starts at a chosen key, length uniform in 1..maxScanLength; the
 *    range may run past the current key count.
 */
export class OperationGenerator {
  private readonly spec: WorkloadSpec;
  private readonly rng: Prng;
  private readonly records: number;
  private readonly clients: number;
  private readonly client: number;
  private readonly isSet: boolean;
  private readonly isCounter: boolean;
  private readonly thresholds: readonly (readonly [number, 'read' | 'update' | 'insert' | 'scan' | 'rmw'])[];
  private zipfian: ZipfianGenerator | undefined;
  private scrambled: ScrambledZipfianGenerator | undefined;
  private inserts = 0;
  private newest: number;

  constructor(spec: WorkloadSpec, options: GeneratorOptions) {
    if (spec === null || typeof spec !== 'object' || !(WORKLOAD_NAMES as readonly string[]).includes(spec.name)) {
      throw new StressConfigError(`workload spec must come from workloadSpec() (name one of ${WORKLOAD_NAMES.join(', ')})`);
    }
    if (!(DISTRIBUTIONS as readonly string[]).includes(spec.distribution)) {
      throw new StressConfigError(`unknown request distribution ${JSON.stringify(spec.distribution)}: allowed are ${DISTRIBUTIONS.join(', ')}`);
    }
    if (options === null || typeof options !== 'object') throw new StressConfigError('generator options must be an object');
    this.spec = spec;
    this.isCounter = spec.name === 'counter';
    this.isSet = spec.name === 'set' || this.isCounter; // the same key space: setKeys keys
    this.clients = requireSafeInteger(options.clients, 'clients', 1);
    this.client = requireSafeInteger(options.client, 'client', 0, this.clients - 1);
    requireSafeInteger(options.seed, 'seed');
    if (this.isSet) {
      this.records = requireSafeInteger(options.setKeys ?? DEFAULT_SET_KEYS, 'setKeys', 1, MAX_RECORDS);
      this.thresholds = [];
    } else {
      this.records = requireSafeInteger(options.records, 'records', 1, MAX_RECORDS);
      let sum = 0;
      const thresholds: [number, 'read' | 'update' | 'insert' | 'scan' | 'rmw'][] = [];
      for (const [field, kind] of [
        ['readProportion', 'read'],
        ['updateProportion', 'update'],
        ['insertProportion', 'insert'],
        ['scanProportion', 'scan'],
        ['rmwProportion', 'rmw'],
      ] as const) {
        const p = requireProportion(spec, field);
        if (p === 0) continue;
        sum += p;
        thresholds.push([sum, kind]);
      }
      if (Math.abs(sum - 1) > 1e-9) throw new StressConfigError(`workload ${spec.name}: proportions must sum to 1 (got ${sum})`);
      thresholds[thresholds.length - 1]![0] = Infinity; // rounding never leaves a draw unassigned
      this.thresholds = thresholds;
      if (spec.scanProportion > 0) requireSafeInteger(spec.maxScanLength, 'maxScanLength', 1);
    }
    this.rng = new Prng(options.seed, this.client);
    this.newest = this.records - 1;
  }

  /** The key count this client assumes exists now (see the class comment). */
  get assumedKeyCount(): number {
    return this.records + this.inserts * this.clients;
  }

  next(): PlannedOp {
    if (this.isCounter) {
      const keyIndex = this.chooseKey();
      const by = INCREMENTS[this.rng.nextInt(INCREMENTS.length)]!;
      return { kind: 'incr', keyIndex, by };
    }
    if (this.isSet) return { kind: 'add', keyIndex: this.chooseKey() };
    const u = this.rng.nextFloat();
    let kind: 'read' | 'update' | 'insert' | 'scan' | 'rmw' = 'read';
    for (const [threshold, k] of this.thresholds) {
      if (u < threshold) {
        kind = k;
        break;
      }
    }
    if (kind === 'insert') {
      const keyIndex = this.records + this.inserts * this.clients + this.client;
      this.inserts += 1;
      this.newest = keyIndex;
      return { kind, keyIndex };
    }
    const keyIndex = this.chooseKey();
    if (kind === 'scan') return { kind, keyIndex, length: 1 + this.rng.nextInt(this.spec.maxScanLength) };
    return { kind, keyIndex };
  }

  private chooseKey(): number {
    const count = this.assumedKeyCount;
    switch (this.spec.distribution) {
      case 'uniform':
        return this.rng.nextInt(count);
      case 'zipfian':
        // YCSB's scrambled zipfian over the loaded records: the same skew as YCSB (hottest key ~1/26.5 of picks) and a hot set that stays put while E inserts
        this.scrambled ??= new ScrambledZipfianGenerator(this.records);
        return this.scrambled.next(this.rng);
      case 'latest': {
        this.zipfian ??= new ZipfianGenerator(this.newest + 1);
        return Math.max(0, this.newest - this.zipfian.next(this.rng, this.newest + 1));
      }
    }
  }
}
