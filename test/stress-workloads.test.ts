import test from 'ava';
import * as fc from 'fast-check';
import {
  DEFAULT_MAX_SCAN_LENGTH,
  OperationGenerator,
  Prng,
  SCRAMBLED_ZETAN,
  ScrambledZipfianGenerator,
  StressConfigError,
  ZipfianGenerator,
  fnvHash64,
  keyName,
  loadKeyIndexes,
  workloadSpec,
  zeta,
  type GeneratorOptions,
  type PlannedOp,
  type WorkloadName,
} from '../tools/stress/workloads.js';

const configError = (message: RegExp) => ({ instanceOf: StressConfigError, message });

/** YCSB's Utils.fnvhash64 in BigInt: FNV-1a over 8 little-endian bytes, then Math.abs of the signed result. */
function referenceFnv(value: number): bigint {
  let h = 0xcbf29ce484222325n;
  let v = BigInt(value);
  for (let i = 0; i < 8; i++) {
    h ^= v & 0xffn;
    v >>= 8n;
    h = BigInt.asUintN(64, h * 1099511628211n);
  }
  const signed = BigInt.asIntN(64, h);
  return signed < 0n ? -signed : signed;
}

function run(name: string, options: Partial<GeneratorOptions> = {}, ops = 100_000, distribution?: string): PlannedOp[] {
  const g = new OperationGenerator(workloadSpec(name, distribution), { records: 1000, clients: 1, client: 0, seed: 42, ...options });
  return Array.from({ length: ops }, () => g.next());
}

function counts<T>(xs: Iterable<T>): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

// ---------------------------------------------------------------------------
// workloadSpec

test('workloadSpec gives YCSB core workloads A–F and set', (t) => {
  const mix = (n: string) => {
    const s = workloadSpec(n);
    return [s.readProportion, s.updateProportion, s.insertProportion, s.scanProportion, s.rmwProportion, s.distribution];
  };
  t.deepEqual(mix('a'), [0.5, 0.5, 0, 0, 0, 'zipfian']);
  t.deepEqual(mix('b'), [0.95, 0.05, 0, 0, 0, 'zipfian']);
  t.deepEqual(mix('c'), [1, 0, 0, 0, 0, 'zipfian']);
  t.deepEqual(mix('d'), [0.95, 0, 0.05, 0, 0, 'latest']);
  t.deepEqual(mix('e'), [0, 0, 0.05, 0.95, 0, 'zipfian']);
  t.deepEqual(mix('f'), [0.5, 0, 0, 0, 0.5, 'zipfian']);
  t.deepEqual(mix('set'), [0, 0, 0, 0, 0, 'uniform']);
  t.is(workloadSpec('e').maxScanLength, 100);
  t.is(workloadSpec('a').description, 'A: update heavy (50% read, 50% update)');
  for (const n of ['a', 'b', 'c', 'd', 'e', 'f', 'set']) {
    const s = workloadSpec(n);
    t.is(s.name as string, n);
    t.regex(s.description, /\d+%/);
    t.true(Object.isFrozen(s));
  }
});

test('workloadSpec names and distributions are case-insensitive; the distribution overrides the default', (t) => {
  t.is(workloadSpec('A').name, 'a');
  t.is(workloadSpec(' SET ').name, 'set');
  t.is(workloadSpec('d').distribution, 'latest');
  t.is(workloadSpec('D', 'Uniform').distribution, 'uniform');
  t.is(workloadSpec('a', 'LATEST').distribution, 'latest');
  t.is(workloadSpec('a', '').distribution, 'zipfian', 'an empty override keeps the default');
  t.is(workloadSpec('a', undefined).distribution, 'zipfian');
});

test('workloadSpec rejects unknown workloads and distributions, naming them and what is allowed', (t) => {
  t.throws(() => workloadSpec('g'), configError(/unknown workload "g": allowed are a, b, c, d, e, f, set, counter/));
  t.throws(() => workloadSpec(''), configError(/unknown workload ""/));
  t.throws(() => workloadSpec('workloada'), configError(/unknown workload "workloada"/));
  t.throws(() => workloadSpec('a', 'hotspot'), configError(/unknown request distribution "hotspot": allowed are uniform, zipfian, latest/));
  const e = t.throws(() => workloadSpec('x'));
  t.is(e?.name, 'StressConfigError');
});

// ---------------------------------------------------------------------------
// Op mix

test('each workload produces its op mix within statistical tolerance (100k ops)', (t) => {
  const expected: Record<WorkloadName, Record<string, number>> = {
    a: { read: 0.5, update: 0.5 },
    b: { read: 0.95, update: 0.05 },
    c: { read: 1 },
    d: { read: 0.95, insert: 0.05 },
    e: { scan: 0.95, insert: 0.05 },
    f: { read: 0.5, rmw: 0.5 },
    set: { add: 1 },
    counter: { incr: 1 },
  };
  for (const [name, mix] of Object.entries(expected)) {
    const ops = run(name, { clients: 3, client: 2 });
    const c = counts(ops.map((o) => o.kind));
    t.deepEqual([...c.keys()].sort(), Object.keys(mix).sort(), `${name}: only the workload's kinds`);
    for (const [kind, p] of Object.entries(mix)) {
      const observed = (c.get(kind as PlannedOp['kind']) ?? 0) / ops.length;
      t.true(Math.abs(observed - p) < 0.01, `${name} ${kind}: ${observed} vs ${p}`); // > 6 sigma at n = 100k
    }
  }
});

test('E scans have a uniform length in 1..maxScanLength', (t) => {
  const scans = run('e').filter((o): o is Extract<PlannedOp, { kind: 'scan' }> => o.kind === 'scan');
  const lengths = scans.map((s) => s.length);
  t.is(Math.min(...lengths), 1);
  t.is(Math.max(...lengths), DEFAULT_MAX_SCAN_LENGTH);
  t.true(lengths.every((l) => Number.isInteger(l)));
  const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  t.true(Math.abs(mean - 50.5) < 0.5, `mean ${mean}`);
  const c = counts(lengths);
  for (let l = 1; l <= 100; l++) t.true(Math.abs(c.get(l)! / scans.length - 0.01) < 0.002, `length ${l}`);
  t.true(run('a', {}, 1000).every((o) => !('length' in o)));
});

test('set: every op is an add on a key uniform in [0, setKeys)', (t) => {
  const ops = run('set', {}, 40_000);
  t.true(ops.every((o) => o.kind === 'add'));
  const c = counts(ops.map((o) => o.keyIndex));
  t.deepEqual([...c.keys()].sort(), [0, 1, 2, 3], 'setKeys defaults to 4');
  for (const n of c.values()) t.true(Math.abs(n / 40_000 - 0.25) < 0.01);
  const ten = counts(run('set', { setKeys: 10, records: 0 }, 20_000).map((o) => o.keyIndex));
  t.deepEqual([...ten.keys()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'records is ignored by set');
  t.deepEqual(run('set', { setKeys: 1 }, 100).map((o) => o.keyIndex), new Array(100).fill(0));
});

// ---------------------------------------------------------------------------
// Zipfian

test('zeta: small cases, agreement with a direct sum, and cache extension is bit-identical', (t) => {
  t.is(zeta(0, 0.99), 0);
  t.is(zeta(1, 0.99), 1);
  t.true(Math.abs(zeta(2, 0.99) - (1 + 2 ** -0.99)) < 1e-15);
  let direct = 0;
  for (let i = 1; i <= 10_000; i++) direct += 1 / Math.pow(i, 0.99);
  t.true(Math.abs(zeta(10_000, 0.99) - direct) < 1e-11);
  // zeta(12345) extends the cached zeta(10000); the sum is sequential, so it equals a fresh sum exactly
  let fresh = 0;
  for (let i = 1; i <= 12_345; i++) fresh += Math.exp(-0.99 * Math.log(i));
  t.is(zeta(12_345, 0.99), fresh);
  t.is(zeta(12_345, 0.99), fresh, 'cached');
  t.throws(() => zeta(-1, 0.99), configError(/zipfian item count must be an integer >= 0/));
});

test('zeta for 10 million items computes fast (and then comes from the cache)', (t) => {
  const started = performance.now();
  const z = zeta(10_000_000, 0.985); // a theta no other test uses, so nothing is cached
  const elapsedMs = performance.now() - started;
  t.true(elapsedMs < 2000, `${elapsedMs} ms`); // ~0.2 s; generous so a loaded machine does not flake
  t.true(z > 10 && z < 30);
  const again = performance.now();
  t.is(zeta(10_000_000, 0.985), z);
  t.true(performance.now() - again < 50);
});

/** Euler–Maclaurin: sum_{i=1..n} i^-theta from an exact head and the tail's integral and corrections. */
function zetaApprox(n: number, theta: number, head = 1000): number {
  let s = 0;
  for (let i = 1; i < head; i++) s += Math.pow(i, -theta);
  const f = (x: number) => Math.pow(x, -theta);
  const f1 = (x: number) => -theta * Math.pow(x, -theta - 1);
  const f3 = (x: number) => -theta * (theta + 1) * (theta + 2) * Math.pow(x, -theta - 3);
  return s + (Math.pow(n, 1 - theta) - Math.pow(head, 1 - theta)) / (1 - theta) + (f(head) + f(n)) / 2 + (f1(n) - f1(head)) / 12 - (f3(n) - f3(head)) / 720;
}

test("YCSB's precomputed zeta for the scrambled space (10^10 items) checks out", (t) => {
  t.true(Math.abs(zetaApprox(100_000, 0.99) - zeta(100_000, 0.99)) < 1e-9, 'the approximation is accurate');
  t.true(Math.abs(zetaApprox(1e10, 0.99) - SCRAMBLED_ZETAN) < 1e-6, `${zetaApprox(1e10, 0.99)}`);
});

test('zipfian: the most popular item gets ~1/zeta, item 1 ~2^-theta/zeta, and rank frequency decreases', (t) => {
  const items = 1000;
  const samples = 200_000;
  const z = new ZipfianGenerator(items);
  t.is(z.theta, 0.99);
  const rng = new Prng(7);
  const hist = new Array<number>(items).fill(0);
  for (let i = 0; i < samples; i++) {
    const v = z.next(rng);
    if (!(Number.isInteger(v) && v >= 0 && v < items)) t.fail(`out of range: ${v}`);
    hist[v]! += 1;
  }
  const zn = zeta(items, 0.99);
  t.true(Math.abs(hist[0]! / samples - 1 / zn) < 0.004, `item 0: ${hist[0]! / samples} vs ${1 / zn}`);
  t.true(Math.abs(hist[1]! / samples - 2 ** -0.99 / zn) < 0.004, `item 1: ${hist[1]! / samples} vs ${2 ** -0.99 / zn}`);
  // mean per-item frequency over [0], [1], [2,3], [4,7], … falls bucket by bucket (roughly halving)
  const means: number[] = [];
  for (let lo = 0, hi = 1; lo < items; lo = hi, hi = Math.min(items, hi * 2)) {
    means.push(hist.slice(lo, hi).reduce((a, b) => a + b, 0) / (hi - lo));
  }
  for (let i = 1; i < means.length; i++) t.true(means[i]! < means[i - 1]! * 0.75, `bucket ${i}: ${means[i]} vs ${means[i - 1]}`);
  t.true(hist[items - 1]! > 0 || hist.slice(900).some((n) => n > 0), 'the tail is reached');
});

test('zipfian: tiny item counts, growth, and shrinking', (t) => {
  const rng = new Prng(3);
  const one = new ZipfianGenerator(1);
  t.true(Array.from({ length: 1000 }, () => one.next(rng)).every((v) => v === 0));
  const two = new ZipfianGenerator(2);
  const c2 = counts(Array.from({ length: 20_000 }, () => two.next(rng)));
  t.deepEqual([...c2.keys()].sort(), [0, 1]);
  t.true(Math.abs(c2.get(0)! / 20_000 - 1 / (1 + 2 ** -0.99)) < 0.015);
  // growing: a generator grown from 10 to 5000 items draws exactly as one built for 5000
  const grown = new ZipfianGenerator(10);
  const built = new ZipfianGenerator(5000);
  const r1 = new Prng(11);
  const r2 = new Prng(11);
  grown.next(new Prng(0), 100); // an intermediate count on the way
  t.deepEqual(
    Array.from({ length: 2000 }, () => grown.next(r1, 5000)),
    Array.from({ length: 2000 }, () => built.next(r2)),
  );
  // shrinking is allowed and stays in range
  t.true(Array.from({ length: 2000 }, () => grown.next(rng, 3)).every((v) => v >= 0 && v < 3));
  t.throws(() => grown.next(rng, 0), { instanceOf: RangeError });
  t.throws(() => new ZipfianGenerator(0), configError(/zipfian item count must be an integer >= 1 \(got 0\)/));
  t.throws(() => new ZipfianGenerator(10, 1), configError(/theta must be in \(0, 1\) \(got 1\)/));
  t.throws(() => new ZipfianGenerator(10, 0), configError(/theta/));
});

test('scrambled zipfian stays in range, is not ordered, and hashes as YCSB', (t) => {
  const rng = new Prng(5);
  for (const items of [1, 2, 7, 1000, 123_457, 1e10]) {
    const g = new ScrambledZipfianGenerator(items);
    for (let i = 0; i < 5000; i++) {
      const v = g.next(rng);
      if (!(Number.isInteger(v) && v >= 0 && v < items)) t.fail(`${items}: ${v}`);
    }
  }
  const items = 1000;
  const g = new ScrambledZipfianGenerator(items);
  const c = counts(Array.from({ length: 100_000 }, () => g.next(rng)));
  const byPopularity = [...c.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  t.is(byPopularity[0], Number(referenceFnv(0) % BigInt(items)), 'the hottest item is fnv(0) mod items, as YCSB');
  t.is(byPopularity[1], Number(referenceFnv(1) % BigInt(items)));
  t.true(c.get(byPopularity[0]!)! / 100_000 >= 1 / SCRAMBLED_ZETAN - 0.003, 'its share is at least 1/zeta(10^10)');
  t.notDeepEqual(byPopularity.slice(0, 10).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'hot items are spread, not 0..9');
  // the hot items are spread over the range: the ten hottest are not all in one tenth, and their mean is mid-range
  const top20 = byPopularity.slice(0, 20);
  t.true(new Set(top20.map((k) => Math.floor(k / 100))).size >= 5);
  const mean = top20.reduce((a, b) => a + b, 0) / top20.length;
  t.true(mean > 250 && mean < 750, `mean of the 20 hottest: ${mean}`);
  t.throws(() => new ScrambledZipfianGenerator(0), configError(/scrambled zipfian item count must be an integer in 1\.\.10000000000 \(got 0\)/));
  t.throws(() => new ScrambledZipfianGenerator(1e10 + 1), configError(/scrambled zipfian item count/));
});

test('zipfian key choice: hot keys are scrambled over the loaded records, and the hot set is stable over time and across clients', (t) => {
  const records = 1000;
  const hottest = (ops: readonly PlannedOp[]) => [...counts(ops.filter((o) => o.kind !== 'insert').map((o) => o.keyIndex)).entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const expected = Number(referenceFnv(0) % BigInt(records));
  for (const client of [0, 3]) {
    const ops = run('e', { records, clients: 4, client }, 60_000);
    t.is(hottest(ops.slice(0, 30_000)), expected, `client ${client}, first half`);
    t.is(hottest(ops.slice(30_000)), expected, `client ${client}, second half`);
  }
  const a = run('a', { records }, 50_000);
  t.is(hottest(a), expected);
  const share = a.filter((o) => o.keyIndex === expected).length / a.length;
  // YCSB's skew: the hottest item of the 10^10 space gets 1/zeta(10^10), plus the few that hash onto the same key
  t.true(share > 1 / SCRAMBLED_ZETAN - 0.005 && share < 1 / SCRAMBLED_ZETAN + 0.02, `${share}`);
});

test('every chosen key is within the key count the client assumes; inserted keys get chosen too (zipfian: loaded keys only, as its hot set is fixed)', (t) => {
  for (const distribution of ['uniform', 'zipfian', 'latest']) {
    const clients = 3;
    const g = new OperationGenerator(workloadSpec('e', distribution), { records: 200, clients, client: 1, seed: 9 });
    let inserts = 0;
    let chosenInserted = 0;
    for (let i = 0; i < 30_000; i++) {
      const before = g.assumedKeyCount;
      t.is(before, 200 + inserts * clients);
      const op = g.next();
      if (op.kind === 'insert') {
        t.is(op.keyIndex, 200 + inserts * clients + 1);
        inserts++;
      } else {
        if (!(op.keyIndex >= 0 && op.keyIndex < before)) t.fail(`${distribution}: key ${op.keyIndex} outside [0, ${before})`);
        if (op.keyIndex >= 200) chosenInserted++;
      }
    }
    if (distribution === 'zipfian') t.is(chosenInserted, 0);
    else t.true(chosenInserted > 100, `${distribution}: ${chosenInserted} ops on inserted keys`);
  }
});

test('uniform key choice is uniform over the records', (t) => {
  const c = counts(run('a', { records: 10 }, 50_000, 'uniform').map((o) => o.keyIndex));
  t.deepEqual([...c.keys()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const n of c.values()) t.true(Math.abs(n / 50_000 - 0.1) < 0.01);
});

test('latest favours the newest inserts', (t) => {
  const records = 1000;
  const ops = run('d', { records }, 100_000);
  let newest = records - 1;
  let atNewest = 0;
  let within10 = 0;
  let reads = 0;
  let readsOfInserted = 0;
  for (const op of ops) {
    if (op.kind === 'insert') {
      t.is(op.keyIndex, newest + 1, 'one client: inserts are consecutive');
      newest = op.keyIndex;
      continue;
    }
    const distance = newest - op.keyIndex;
    if (distance < 0 || op.keyIndex < 0) t.fail(`read ${op.keyIndex} beyond newest ${newest}`);
    reads++;
    if (distance === 0) atNewest++;
    if (distance < 10) within10++;
    if (op.keyIndex >= records) readsOfInserted++;
  }
  t.true(atNewest / reads > 0.09, `newest key: ${atNewest / reads}`); // 1/zeta(n) is 0.13 at 1000 keys, 0.1 at 6000
  t.true(within10 / reads > 0.3, `10 newest: ${within10 / reads}`);
  t.true(readsOfInserted / reads > 0.7, `inserted keys: ${readsOfInserted / reads}`);
  // before any insert, newest is records-1
  const first = new OperationGenerator(workloadSpec('c', 'latest'), { records, clients: 2, client: 1, seed: 1 });
  const keys = counts(Array.from({ length: 20_000 }, () => first.next().keyIndex));
  t.true(keys.get(records - 1)! / 20_000 > 0.1);
  t.true(Math.abs(keys.get(records - 1)! / 20_000 - 1 / zeta(records, 0.99)) < 0.01);
  // with several clients, a client's newest is its own latest insert
  const g = new OperationGenerator(workloadSpec('d'), { records, clients: 4, client: 2, seed: 3 });
  let own = records - 1;
  for (let i = 0; i < 20_000; i++) {
    const op = g.next();
    if (op.kind === 'insert') own = op.keyIndex;
    else if (op.keyIndex > own) t.fail(`read ${op.keyIndex} beyond own newest ${own}`);
  }
});

test('inserts are disjoint across clients: client c inserts records + k*clients + c', (t) => {
  const records = 500;
  const clients = 4;
  const perClient: number[][] = [];
  for (let client = 0; client < clients; client++) {
    const inserts = run('d', { records, clients, client, seed: 77 }, 20_000)
      .filter((o) => o.kind === 'insert')
      .map((o) => o.keyIndex);
    t.deepEqual(inserts, inserts.map((_, k) => records + k * clients + client));
    perClient.push(inserts);
  }
  const all = perClient.flat();
  t.is(new Set(all).size, all.length, 'no key inserted twice');
  const fewest = Math.min(...perClient.map((p) => p.length));
  const firstRound = perClient.flatMap((p) => p.slice(0, fewest)).sort((a, b) => a - b);
  t.deepEqual(firstRound, Array.from({ length: fewest * clients }, (_, i) => records + i), 'together they fill a contiguous range');
});

// ---------------------------------------------------------------------------
// Determinism

test('determinism: same seed and client, same ops whatever the interleaving; another seed or client, other ops', (t) => {
  for (const name of ['a', 'd', 'e', 'set']) {
    const options = { records: 300, clients: 4, client: 1, seed: 2024 };
    const a = run(name, options, 5000);
    t.deepEqual(run(name, options, 5000), a, `${name}: replay`);
    // interleaved with other generators
    const g1 = new OperationGenerator(workloadSpec(name), options);
    const g2 = new OperationGenerator(workloadSpec(name), { ...options, client: 2 });
    const mixed: PlannedOp[] = [];
    for (let i = 0; i < 5000; i++) {
      mixed.push(g1.next());
      g2.next();
      g2.next();
    }
    t.deepEqual(mixed, a, `${name}: interleaving does not matter`);
    t.notDeepEqual(run(name, { ...options, seed: 2025 }, 5000), a, `${name}: another seed`);
    t.notDeepEqual(run(name, { ...options, client: 0 }, 5000), a, `${name}: another client`);
  }
});

test('bad generator options are rejected, naming the value and what is allowed', (t) => {
  const spec = workloadSpec('a');
  const ok: GeneratorOptions = { records: 10, clients: 2, client: 0, seed: 1 };
  t.throws(() => new OperationGenerator(spec, { ...ok, records: 0 }), configError(/records must be an integer in 1\.\.\d+ \(got 0\)/));
  t.throws(() => new OperationGenerator(spec, { ...ok, records: 1.5 }), configError(/records .*got 1\.5/));
  t.throws(() => new OperationGenerator(spec, { ...ok, clients: 0 }), configError(/clients must be an integer >= 1 \(got 0\)/));
  t.throws(() => new OperationGenerator(spec, { ...ok, client: 2 }), configError(/client must be an integer in 0\.\.1 \(got 2\)/));
  t.throws(() => new OperationGenerator(spec, { ...ok, client: -1 }), configError(/client must be/));
  t.throws(() => new OperationGenerator(spec, { ...ok, seed: 0.5 }), configError(/seed must be an integer \(got 0\.5\)/));
  t.throws(() => new OperationGenerator(spec, { ...ok, seed: Number.NaN }), configError(/seed must be an integer/));
  t.throws(() => new OperationGenerator(workloadSpec('set'), { ...ok, setKeys: 0 }), configError(/setKeys must be an integer in 1\.\.\d+ \(got 0\)/));
  t.throws(() => new OperationGenerator({ ...spec, readProportion: 0.7 }, ok), configError(/proportions must sum to 1 \(got 1\.2/));
  t.throws(() => new OperationGenerator({ ...spec, updateProportion: -0.5, readProportion: 1.5 }, ok), configError(/readProportion must be a number in \[0, 1\]/));
  t.throws(() => new OperationGenerator({ ...spec, distribution: 'hot' as never }, ok), configError(/unknown request distribution "hot"/));
  t.throws(() => new OperationGenerator({ ...spec, name: 'z' as never }, ok), configError(/workload spec/));
  t.throws(() => new OperationGenerator({ ...workloadSpec('e'), maxScanLength: 0 }, ok), configError(/maxScanLength must be an integer >= 1 \(got 0\)/));
  t.notThrows(() => new OperationGenerator(spec, { ...ok, seed: -123456789012 }), 'any safe integer seeds');
});

// ---------------------------------------------------------------------------
// Keys and load split

test('keyName is YCSB-style, deterministic, and carries the index', (t) => {
  t.is(keyName(0), 'user6284781860667377211-0');
  t.is(keyName(0), keyName(0));
  const rng = new Prng(99);
  for (let i = 0; i < 2000; i++) {
    const index = i < 1000 ? i : Math.floor(rng.nextFloat() * 2 ** 40);
    t.is(keyName(index), `user${referenceFnv(index)}-${index}`);
  }
  t.is(keyName(2 ** 53 - 1), `user${referenceFnv(2 ** 53 - 1)}-${2 ** 53 - 1}`);
  t.throws(() => keyName(-1), configError(/key index must be an integer >= 0 \(got -1\)/));
  t.throws(() => keyName(1.5), configError(/key index/));
  t.throws(() => keyName(2 ** 53), configError(/key index/));
});

test('fnvHash64 matches a BigInt reference', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (v) => {
      const [hi, lo] = fnvHash64(v);
      return ((BigInt(hi) << 32n) | BigInt(lo)) === referenceFnv(v);
    }),
    { numRuns: 5000, seed: 1 },
  );
  t.pass();
});

test('keyName is injective on a large sample of indexes below 2**40', (t) => {
  const seen = new Set<string>();
  const indexes = new Set<number>();
  for (let i = 0; i < 150_000; i++) indexes.add(i);
  const rng = new Prng(4);
  while (indexes.size < 300_000) indexes.add(Math.floor(rng.nextFloat() * 2 ** 40));
  for (let b = 0; b < 40; b++) for (const d of [-1, 0, 1]) if (2 ** b + d >= 0) indexes.add(2 ** b + d);
  for (const i of indexes) seen.add(keyName(i));
  t.is(seen.size, indexes.size);
  // and the hash prefixes alone are spread: keys are not ordered by index
  const firstDigits = counts(Array.from({ length: 1000 }, (_, i) => keyName(i).slice(4, 5)));
  t.true(firstDigits.size >= 9);
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 - 1 }), fc.integer({ min: 0, max: 2 ** 40 - 1 }), (a, b) => a === b || keyName(a) !== keyName(b)), {
    numRuns: 2000,
    seed: 2,
  });
});

test('loadKeyIndexes splits 0..records-1 evenly and disjointly over the clients', (t) => {
  for (const records of [0, 1, 2, 7, 100, 1001]) {
    for (const clients of [1, 2, 3, 8, 64]) {
      const parts = Array.from({ length: clients }, (_, c) => loadKeyIndexes(records, clients, c));
      t.deepEqual(parts.flat(), Array.from({ length: records }, (_, i) => i), `${records}/${clients}`);
      const sizes = parts.map((p) => p.length);
      t.true(Math.max(...sizes) - Math.min(...sizes) <= 1, `${records}/${clients}: sizes ${sizes}`);
    }
  }
  t.throws(() => loadKeyIndexes(-1, 1, 0), configError(/records must be an integer >= 0 \(got -1\)/));
  t.throws(() => loadKeyIndexes(10, 0, 0), configError(/clients must be an integer >= 1/));
  t.throws(() => loadKeyIndexes(10, 2, 2), configError(/client must be an integer in 0\.\.1 \(got 2\)/));
});

// ---------------------------------------------------------------------------
// Prng

test('Prng: ranges, rough uniformity, determinism and independent streams', (t) => {
  const r = new Prng(12345);
  let sum = 0;
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const f = r.nextFloat();
    if (!(f >= 0 && f < 1)) t.fail(`nextFloat ${f}`);
    sum += f;
    const k = r.nextInt(10);
    if (!(Number.isInteger(k) && k >= 0 && k < 10)) t.fail(`nextInt ${k}`);
    buckets[k]! += 1;
  }
  t.true(Math.abs(sum / 100_000 - 0.5) < 0.005);
  const chi2 = buckets.reduce((s, n) => s + (n - 10_000) ** 2 / 10_000, 0);
  t.true(chi2 < 30, `chi-square ${chi2} (9 degrees of freedom)`);
  const seq = (p: Prng) => Array.from({ length: 20 }, () => p.nextUint32());
  t.deepEqual(seq(new Prng(1)), seq(new Prng(1)));
  t.notDeepEqual(seq(new Prng(1)), seq(new Prng(2)));
  t.notDeepEqual(seq(new Prng(1)), seq(new Prng(1, 1)));
  t.notDeepEqual(seq(new Prng(1)), seq(new Prng(1 + 2 ** 32)), 'the high bits of the seed count');
  t.deepEqual(seq(new Prng(1)), seq(new Prng(1, 0)));
  t.is(new Prng(0).nextInt(1), 0);
  t.true(new Prng(0).nextInt(2 ** 50) < 2 ** 50);
  t.throws(() => r.nextInt(0), { instanceOf: RangeError });
  t.throws(() => r.nextInt(2.5), { instanceOf: RangeError });
  t.throws(() => new Prng(0.5), configError(/seed must be an integer \(got 0\.5\)/));
});

test('counter: increments by a nonzero amount in -2..5 over setKeys keys, replayable from the seed', (t) => {
  const ops = run('counter', { setKeys: 3 }, 5000) as Extract<PlannedOp, { kind: 'incr' }>[];
  t.true(ops.every((o) => o.kind === 'incr' && o.keyIndex >= 0 && o.keyIndex < 3 && o.by !== 0 && o.by >= -2 && o.by <= 5));
  t.deepEqual([...new Set(ops.map((o) => o.by))].sort((a, b) => a - b), [-2, -1, 1, 2, 3, 4, 5]);
  t.deepEqual(run('counter', { setKeys: 3 }, 100), ops.slice(0, 100));
});
