import test from 'ava';
import * as fc from 'fast-check';
import {
  DEFAULT_DELAY_MS,
  DEFAULT_LOSS_FRACTION,
  FAULT_KINDS,
  describeFault,
  parseNemesisFlag,
  parseSchedule,
  randomSchedule,
  type FaultEvent,
  type FaultKind,
  type ScheduleContext,
} from '../tools/stress/nemesis.js';
import { StressConfigError } from '../tools/stress/workloads.js';

const configError = (message: RegExp) => ({ instanceOf: StressConfigError, message });
const five: ScheduleContext = { actors: [0, 1, 2, 3, 4], neighbourhoods: [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0], [4, 0, 1]], durationMs: 60_000, seed: 1 };

/** Every rule a schedule must keep, as one list of problems (empty when it is sound). */
function problems(events: readonly FaultEvent[], ctx: ScheduleContext, kinds: readonly FaultKind[]): string[] {
  const out: string[] = [];
  const actors = new Set(ctx.actors);
  let wipes = 0;
  events.forEach((e, i) => {
    const at = `#${i} ${JSON.stringify(e)}`;
    if (!kinds.includes(e.kind)) out.push(`${at}: kind not requested`);
    if (!Number.isInteger(e.atMs) || !Number.isInteger(e.durationMs) || e.durationMs < 1) out.push(`${at}: bad times`);
    if (e.atMs < ctx.durationMs * 0.1) out.push(`${at}: starts in the quiet head`);
    if (e.atMs + e.durationMs > ctx.durationMs * 0.85) out.push(`${at}: ends in the quiet tail`);
    if (i > 0) {
      const p = events[i - 1]!;
      if (p.atMs + p.durationMs >= e.atMs) out.push(`${at}: no gap after the previous fault`);
    }
    if (e.kind === 'wipe') wipes++;
    if (!e.targets.every((a) => actors.has(a))) out.push(`${at}: unknown target`);
    if (['partition', 'isolate', 'ring-partition'].includes(e.kind)) {
      const [a, b] = e.groups ?? [[], []];
      if (a.length === 0 || b.length === 0) out.push(`${at}: an empty side`);
      if (a.some((x) => b.includes(x))) out.push(`${at}: sides overlap`);
      if (a.length + b.length !== ctx.actors.length || ![...a, ...b].every((x) => actors.has(x))) out.push(`${at}: sides do not cover the actors`);
      if (e.targets.length !== Math.min(a.length, b.length) || !(JSON.stringify(e.targets) === JSON.stringify(a) || JSON.stringify(e.targets) === JSON.stringify(b))) {
        out.push(`${at}: targets are not the smaller side`);
      }
      if (e.kind === 'isolate' && e.targets.length !== 1) out.push(`${at}: isolate is not one actor`);
      if (e.kind === 'partition' && Math.abs(a.length - b.length) > 1) out.push(`${at}: partition is not halves`);
    } else {
      if (e.targets.length !== 1) out.push(`${at}: not exactly one target`);
      if (e.groups !== undefined) out.push(`${at}: groups on a single-actor fault`);
    }
    if (e.kind === 'loss' && !(e.fraction! > 0 && e.fraction! <= 1)) out.push(`${at}: bad fraction`);
    if (e.kind !== 'loss' && e.fraction !== undefined) out.push(`${at}: stray fraction`);
    if (e.kind === 'delay' && !(Number.isInteger(e.delayMs) && e.delayMs! > 0)) out.push(`${at}: bad delay`);
    if (e.kind !== 'delay' && e.delayMs !== undefined) out.push(`${at}: stray delayMs`);
  });
  if (wipes > 1) out.push(`${wipes} wipes`);
  return out;
}

// ---------------------------------------------------------------------------
// --nemesis

test('FAULT_KINDS lists every kind once', (t) => {
  t.deepEqual([...FAULT_KINDS], ['kill', 'pause', 'partition', 'isolate', 'ring-partition', 'loss', 'delay', 'wipe']);
});

test('parseNemesisFlag: none, all, and comma lists', (t) => {
  t.deepEqual(parseNemesisFlag(''), []);
  t.deepEqual(parseNemesisFlag('none'), []);
  t.deepEqual(parseNemesisFlag(' None '), []);
  t.deepEqual(parseNemesisFlag('all'), [...FAULT_KINDS]);
  t.deepEqual(parseNemesisFlag('ALL'), [...FAULT_KINDS]);
  t.deepEqual(parseNemesisFlag('kill'), ['kill']);
  t.deepEqual(parseNemesisFlag(' kill, Pause ,KILL,ring-partition, '), ['kill', 'pause', 'ring-partition']);
  t.deepEqual(parseNemesisFlag('all,kill'), [...FAULT_KINDS]);
  t.throws(() => parseNemesisFlag('kill,explode'), configError(/unknown fault kind "explode": allowed are none, all, or a comma list of kill, pause, partition, isolate, ring-partition, loss, delay, wipe/));
  t.throws(() => parseNemesisFlag('partitions'), configError(/"partitions"/));
  t.throws(() => parseNemesisFlag('none,kill'), configError(/'none' cannot be combined/));
  t.throws(() => parseNemesisFlag('all,bogus'), configError(/unknown fault kind "bogus"/));
});

// ---------------------------------------------------------------------------
// Random schedules

test('random schedules are reproducible from the seed and differ between seeds', (t) => {
  const a = randomSchedule(FAULT_KINDS, five);
  t.deepEqual(randomSchedule(FAULT_KINDS, five), a);
  t.deepEqual(randomSchedule(FAULT_KINDS, { ...five, actors: [...five.actors] }), a, 'a copied context');
  const seen = new Set<string>();
  for (let seed = 0; seed < 30; seed++) seen.add(JSON.stringify(randomSchedule(FAULT_KINDS, { ...five, seed })));
  t.is(seen.size, 30);
  t.notDeepEqual(randomSchedule(['kill'], { ...five, seed: 1 }), randomSchedule(['kill'], { ...five, seed: 2 }));
});

test('a random schedule keeps every rule (property over kinds, cluster sizes, durations and seeds)', (t) => {
  fc.assert(
    fc.property(
      fc.subarray([...FAULT_KINDS], { minLength: 1 }),
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 135, max: 900_000 }),
      fc.integer(),
      fc.boolean(),
      (kinds, actorCount, durationMs, seed, withNeighbourhoods) => {
        const actors = Array.from({ length: actorCount }, (_, i) => i * 2 + 1); // ids need not be 0..n-1
        const neighbourhoods = withNeighbourhoods ? actors.map((_, i) => [0, 1, 2].map((d) => actors[(i + d) % actors.length]!)) : [];
        const ctx = { actors, neighbourhoods, durationMs, seed };
        const events = randomSchedule(kinds, ctx);
        const found = problems(events, ctx, kinds);
        if (found.length > 0) throw new Error(found.join('\n'));
        const splittable = kinds.some((k) => !['partition', 'isolate', 'ring-partition'].includes(k)) || actorCount > 1;
        if (splittable && events.length === 0) throw new Error('no fault although the run is long enough');
      },
    ),
    { numRuns: 400, seed: 42 },
  );
  t.pass();
});

test('short runs still get one fault per requested kind', (t) => {
  const kindsOf = (events: readonly FaultEvent[]) => [...new Set(events.map((e) => e.kind))].sort();
  for (let seed = 0; seed < 20; seed++) {
    const all = randomSchedule(FAULT_KINDS, { ...five, durationMs: 5000, seed });
    t.deepEqual(kindsOf(all), [...FAULT_KINDS].sort(), `5 s, all kinds, seed ${seed}`);
    t.deepEqual(problems(all, { ...five, durationMs: 5000 }, FAULT_KINDS), []);
    const two = randomSchedule(['kill', 'partition'], { ...five, durationMs: 6000, seed });
    t.deepEqual(kindsOf(two), ['kill', 'partition'], `6 s, two kinds, seed ${seed}`);
  }
  // every subset of kinds fits in 5 s
  for (let mask = 1; mask < 1 << FAULT_KINDS.length; mask++) {
    const kinds = FAULT_KINDS.filter((_, i) => mask & (1 << i));
    t.deepEqual(kindsOf(randomSchedule(kinds, { ...five, durationMs: 5000, seed: mask })), [...kinds].sort(), kinds.join(','));
  }
});

test('the threshold: a 134 ms run gets no fault, a 135 ms run gets one', (t) => {
  t.deepEqual(randomSchedule(['kill'], { ...five, durationMs: 134 }), []);
  t.deepEqual(randomSchedule(FAULT_KINDS, { ...five, durationMs: 1 }), []);
  const one = randomSchedule(['kill'], { ...five, durationMs: 135 });
  t.is(one.length, 1);
  t.true(one[0]!.durationMs >= 75);
  t.deepEqual(problems(one, { ...five, durationMs: 135 }, ['kill']), []);
  t.deepEqual(randomSchedule([], five), [], 'no kinds, no faults');
});

test('defaults: faults of up to 3 s with gaps that scale with the run', (t) => {
  const long = randomSchedule(['kill', 'pause'], { ...five, durationMs: 600_000 });
  t.true(long.length > 20);
  t.true(long.every((e) => e.durationMs <= 3000 && e.durationMs >= 2250));
  for (let i = 1; i < long.length; i++) t.true(long[i]!.atMs - (long[i - 1]!.atMs + long[i - 1]!.durationMs) >= 3000);
  const ten = randomSchedule(['kill', 'pause'], { ...five, durationMs: 10_000 });
  t.true(ten.every((e) => e.durationMs <= 2000 && e.durationMs >= 1500), 'durationMs / 5');
  for (let i = 1; i < ten.length; i++) t.true(ten[i]!.atMs - (ten[i - 1]!.atMs + ten[i - 1]!.durationMs) >= 500, 'durationMs / 20');
  // explicit sizes
  const explicit = randomSchedule(['loss'], { ...five, durationMs: 100_000 }, { faultMs: 1000, gapMs: 4000 });
  t.true(explicit.every((e) => e.durationMs <= 1000 && e.durationMs >= 750));
  for (let i = 1; i < explicit.length; i++) t.true(explicit[i]!.atMs - (explicit[i - 1]!.atMs + explicit[i - 1]!.durationMs) >= 4000);
  t.true(explicit.length >= 14);
  t.throws(() => randomSchedule(['kill'], five, { faultMs: 0 }), configError(/faultMs must be a number >= 1 \(got 0\)/));
  t.throws(() => randomSchedule(['kill'], five, { gapMs: -5 }), configError(/gapMs must be a number >= 1/));
});

test('at most one wipe per schedule', (t) => {
  t.is(randomSchedule(['wipe'], five).length, 1);
  const mixed = randomSchedule(['wipe', 'kill'], { ...five, durationMs: 300_000 });
  t.true(mixed.length > 10);
  t.is(mixed.filter((e) => e.kind === 'wipe').length, 1);
  t.true(mixed.filter((e) => e.kind === 'kill').length === mixed.length - 1);
});

test('random splits: halves for partition, one actor for isolate, a neighbourhood for ring-partition', (t) => {
  for (let seed = 0; seed < 20; seed++) {
    const ctx = { ...five, seed, durationMs: 100_000 };
    for (const e of randomSchedule(['partition'], ctx)) {
      t.deepEqual([e.groups![0].length, e.groups![1].length], [2, 3]);
      t.deepEqual(e.targets, e.groups![0]);
    }
    for (const e of randomSchedule(['isolate'], ctx)) {
      t.is(e.targets.length, 1);
      t.deepEqual(e.groups, [e.targets, [0, 1, 2, 3, 4].filter((a) => a !== e.targets[0])]);
    }
    for (const e of randomSchedule(['ring-partition'], ctx)) {
      const big = [...e.groups![1]];
      t.true(five.neighbourhoods.some((n) => JSON.stringify([...n].sort()) === JSON.stringify(big)), `${big} is a neighbourhood`);
      t.deepEqual(e.targets, e.groups![0], 'the smaller side (the rest of the ring) is the target');
    }
  }
  const sides = new Set(randomSchedule(['partition'], { ...five, durationMs: 600_000 }).map((e) => JSON.stringify(e.groups)));
  t.true(sides.size > 3, 'partitions are random');
  // a neighbourhood that covers every actor (or none given) falls back to cutting off one actor
  for (const neighbourhoods of [[[0, 1, 2]], []]) {
    const events = randomSchedule(['ring-partition'], { actors: [0, 1, 2], neighbourhoods, durationMs: 60_000, seed: 3 });
    t.true(events.length > 0);
    for (const e of events) {
      t.is(e.targets.length, 1);
      t.deepEqual(problems([e], { actors: [0, 1, 2], neighbourhoods, durationMs: 60_000, seed: 3 }, ['ring-partition']), []);
    }
  }
  // two actors: partition still has two non-empty sides
  for (const e of randomSchedule(['partition'], { actors: [7, 9], neighbourhoods: [], durationMs: 60_000, seed: 1 })) t.deepEqual(e.groups!.map((g) => g.length), [1, 1]);
});

test('one actor: splits are dropped, single-actor faults remain', (t) => {
  const one = { actors: [0], neighbourhoods: [[0]], durationMs: 30_000, seed: 1 };
  t.deepEqual(randomSchedule(['partition', 'isolate', 'ring-partition'], one), []);
  const events = randomSchedule(['partition', 'kill'], one);
  t.true(events.length > 0 && events.every((e) => e.kind === 'kill' && e.targets[0] === 0));
});

test('random schedule context validation', (t) => {
  t.throws(() => randomSchedule(['kill'], { ...five, actors: [] }), configError(/actors must be a non-empty array/));
  t.throws(() => randomSchedule(['kill'], { ...five, actors: [0, 0] }), configError(/actor 0 is listed twice/));
  t.throws(() => randomSchedule(['kill'], { ...five, actors: [0, -1] }), configError(/actor ids must be integers >= 0 \(got -1\)/));
  t.throws(() => randomSchedule(['kill'], { ...five, durationMs: 0 }), configError(/durationMs must be a finite number > 0 \(got 0\)/));
  t.throws(() => randomSchedule(['kill'], { ...five, seed: 1.5 }), configError(/seed must be an integer \(got 1\.5\)/));
  t.throws(() => randomSchedule(['kill'], { ...five, neighbourhoods: [[0, 9]] }), configError(/neighbourhoods\[0\]: actor 9 is not in the cluster/));
  t.throws(() => randomSchedule(['explode' as FaultKind], five), configError(/unknown fault kind "explode": allowed are kill/));
});

// ---------------------------------------------------------------------------
// Schedule files

const ctx5 = { actors: [0, 1, 2, 3, 4], durationMs: 10_000 };

test('parseSchedule reads the documented example, fills defaults and sorts by time', (t) => {
  const events = parseSchedule(
    {
      faults: [
        { kind: 'kill', atMs: 1000, durationMs: 2000, targets: [1] },
        { kind: 'partition', atMs: 4000, durationMs: 1500, groups: [[0, 1], [2, 3, 4]] },
        { kind: 'loss', atMs: 0, durationMs: 1000, targets: [2], fraction: 0.3 },
      ],
    },
    ctx5,
  );
  t.deepEqual(events, [
    { kind: 'loss', atMs: 0, durationMs: 1000, targets: [2], fraction: 0.3 },
    { kind: 'kill', atMs: 1000, durationMs: 2000, targets: [1] },
    { kind: 'partition', atMs: 4000, durationMs: 1500, targets: [0, 1], groups: [[0, 1], [2, 3, 4]] },
  ]);
  t.deepEqual(parseSchedule({ faults: [] }, ctx5), []);
});

test('parseSchedule defaults: isolate groups from its target and back, partition sides from targets, loss and delay amounts', (t) => {
  const one = (fault: object) => parseSchedule({ faults: [fault] }, ctx5)[0];
  t.deepEqual(one({ kind: 'isolate', atMs: 0, durationMs: 10, targets: [3] }), { kind: 'isolate', atMs: 0, durationMs: 10, targets: [3], groups: [[3], [0, 1, 2, 4]] });
  t.deepEqual(one({ kind: 'isolate', atMs: 0, durationMs: 10, groups: [[0, 1, 2, 4], [3]] }), { kind: 'isolate', atMs: 0, durationMs: 10, targets: [3], groups: [[0, 1, 2, 4], [3]] });
  t.deepEqual(one({ kind: 'partition', atMs: 0, durationMs: 10, targets: [4, 0] }), { kind: 'partition', atMs: 0, durationMs: 10, targets: [0, 4], groups: [[0, 4], [1, 2, 3]] });
  t.deepEqual(one({ kind: 'partition', atMs: 0, durationMs: 10, targets: [0, 1, 2] }), { kind: 'partition', atMs: 0, durationMs: 10, targets: [3, 4], groups: [[0, 1, 2], [3, 4]] }, 'targets becomes the smaller side');
  t.deepEqual(one({ kind: 'ring-partition', atMs: 0, durationMs: 10, groups: [[4, 3, 2], [1, 0]] }), { kind: 'ring-partition', atMs: 0, durationMs: 10, targets: [0, 1], groups: [[2, 3, 4], [0, 1]] });
  const tie = parseSchedule({ faults: [{ kind: 'partition', atMs: 0, durationMs: 10, groups: [[2, 3], [0, 1]], targets: [0, 1] }] }, { actors: [0, 1, 2, 3], durationMs: 100 });
  t.deepEqual(tie[0]!.targets, [0, 1], 'a tie keeps the given side');
  t.deepEqual(one({ kind: 'loss', atMs: 0, durationMs: 10, targets: [1] }), { kind: 'loss', atMs: 0, durationMs: 10, targets: [1], fraction: DEFAULT_LOSS_FRACTION });
  t.deepEqual(one({ kind: 'loss', atMs: 0, durationMs: 10, targets: [1], fraction: 1 }).fraction, 1);
  t.deepEqual(one({ kind: 'delay', atMs: 0, durationMs: 10, targets: [1] }), { kind: 'delay', atMs: 0, durationMs: 10, targets: [1], delayMs: DEFAULT_DELAY_MS });
  t.deepEqual(one({ kind: 'DELAY', atMs: 0, durationMs: 10, targets: [1], delayMs: 35, comment: 'slow link' }), { kind: 'delay', atMs: 0, durationMs: 10, targets: [1], delayMs: 35 });
  t.deepEqual(one({ kind: 'wipe', atMs: 9990, durationMs: 10, targets: [4] }), { kind: 'wipe', atMs: 9990, durationMs: 10, targets: [4] }, 'may end exactly at the end of the run');
});

test('parseSchedule accepts a JSON string and faults that touch', (t) => {
  const text = JSON.stringify({ comment: 'two kills back to back', faults: [{ kind: 'kill', atMs: 2000, durationMs: 500, targets: [0] }, { kind: 'pause', atMs: 1000, durationMs: 1000, targets: [1] }] });
  t.deepEqual(
    parseSchedule(text, ctx5).map((e) => [e.kind, e.atMs]),
    [
      ['pause', 1000],
      ['kill', 2000],
    ],
  );
});

test('parseSchedule rejects every malformed schedule with a message naming the problem', (t) => {
  const f = (fault: Record<string, unknown>) => ({ faults: [fault] });
  const kill = { kind: 'kill', atMs: 0, durationMs: 100, targets: [1] };
  const part = { kind: 'partition', atMs: 0, durationMs: 100 };
  const cases: [unknown, RegExp][] = [
    [42, /schedule must be a JSON object/],
    [[kill], /schedule must be a JSON object/],
    [null, /schedule must be a JSON object/],
    ['{"faults": [', /schedule is not valid JSON/],
    [{}, /"faults" must be an array/],
    [{ faults: {} }, /"faults" must be an array/],
    [{ faults: [], extra: 1 }, /schedule: unknown field "extra"/],
    [{ faults: [7] }, /faults\[0\] must be an object/],
    [f({ ...kill, duration: 5 }), /faults\[0\]: unknown field "duration" \(allowed: kind, atMs, durationMs/],
    [f({ ...kill, kind: undefined }), /faults\[0\]\.kind must be one of kill, pause/],
    [f({ ...kill, kind: 'explode' }), /faults\[0\]\.kind: unknown fault kind "explode": allowed are kill, pause, partition, isolate, ring-partition, loss, delay, wipe/],
    [f({ ...kill, atMs: -1 }), /faults\[0\]\.atMs must be an integer >= 0 \(got -1\)/],
    [f({ ...kill, atMs: 1.5 }), /faults\[0\]\.atMs must be an integer >= 0 \(got 1\.5\)/],
    [f({ ...kill, atMs: '5' }), /faults\[0\]\.atMs must be an integer >= 0 \(got "5"\)/],
    [f({ ...kill, durationMs: 0 }), /faults\[0\]\.durationMs must be an integer >= 1 \(got 0\)/],
    [f({ ...kill, durationMs: undefined }), /faults\[0\]\.durationMs must be an integer >= 1/],
    [f({ ...kill, atMs: 9950 }), /faults\[0\] ends at 10050 ms, after the run phase \(10000 ms\)/],
    [f({ ...kill, targets: undefined }), /faults\[0\]\.targets: kill takes exactly one actor, e\.g\. "targets": \[0\]/],
    [f({ ...kill, targets: [1, 2] }), /faults\[0\]\.targets: kill takes exactly one actor/],
    [f({ ...kill, targets: [] }), /faults\[0\]\.targets: kill takes exactly one actor/],
    [f({ ...kill, targets: 1 }), /faults\[0\]\.targets must be an array of actor ids \(got 1\)/],
    [f({ ...kill, targets: [9] }), /faults\[0\]\.targets: actor 9 is not in the cluster \(actors: 0,1,2,3,4\)/],
    [f({ ...kill, targets: [1.5] }), /faults\[0\]\.targets: actor ids must be integers \(got 1\.5\)/],
    [f({ ...kill, kind: 'pause', targets: [2, 2] }), /faults\[0\]\.targets: actor 2 is listed twice/],
    [f({ ...kill, groups: [[0], [1, 2, 3, 4]] }), /faults\[0\]\.groups is only for partition, isolate and ring-partition faults \(this is kill\)/],
    [f({ ...kill, fraction: 0.5 }), /faults\[0\]\.fraction is only for loss faults \(this is kill\)/],
    [f({ ...kill, kind: 'loss', fraction: 0 }), /faults\[0\]\.fraction must be a number in \(0, 1\] \(got 0\)/],
    [f({ ...kill, kind: 'loss', fraction: 1.5 }), /faults\[0\]\.fraction must be a number in \(0, 1\] \(got 1\.5\)/],
    [f({ ...kill, kind: 'loss', fraction: '0.2' }), /faults\[0\]\.fraction must be a number/],
    [f({ ...kill, kind: 'loss', delayMs: 5 }), /faults\[0\]\.delayMs is only for delay faults \(this is loss\)/],
    [f({ ...kill, kind: 'delay', delayMs: 0 }), /faults\[0\]\.delayMs must be an integer in 1\.\.60000 \(got 0\)/],
    [f({ ...kill, kind: 'delay', delayMs: 60_001 }), /faults\[0\]\.delayMs must be an integer in 1\.\.60000/],
    [f({ ...kill, comment: 5 }), /faults\[0\]\.comment must be a string/],
    [f(part), /faults\[0\]: partition needs "groups" or "targets"/],
    [f({ ...part, targets: [0, 1, 2, 3, 4] }), /faults\[0\]\.targets: partition needs a non-empty side that is not every actor/],
    [f({ ...part, targets: [] }), /faults\[0\]\.targets: partition needs a non-empty side/],
    [f({ ...part, groups: [[0, 1]] }), /faults\[0\]\.groups must be two arrays of actor ids/],
    [f({ ...part, groups: 'a|b' }), /faults\[0\]\.groups must be two arrays of actor ids/],
    [f({ ...part, groups: [[], [0, 1, 2, 3, 4]] }), /faults\[0\]\.groups: both sides must be non-empty/],
    [f({ ...part, groups: [[0, 1, 2], [2, 3, 4]] }), /faults\[0\]\.groups: actor 2 is on both sides/],
    [f({ ...part, groups: [[0, 1], [2, 3]] }), /faults\[0\]\.groups must cover every actor: missing 4/],
    [f({ ...part, groups: [[0, 1], [2, 3, 7]] }), /faults\[0\]\.groups\[1\]: actor 7 is not in the cluster/],
    [f({ ...part, groups: [[0, 1], [2, 3, 4]], targets: [0, 2] }), /faults\[0\]\.targets must equal one side of groups/],
    [f({ ...part, kind: 'isolate', targets: [0, 1] }), /faults\[0\]\.targets: isolate takes exactly one actor \(got 2\)/],
    [f({ ...part, kind: 'isolate', groups: [[0, 1], [2, 3, 4]] }), /faults\[0\]\.groups: isolate needs one side of exactly one actor/],
    [f({ ...part, kind: 'isolate', groups: [[0], [1, 2, 3, 4]], targets: [1] }), /faults\[0\]\.targets must be the single isolated actor/],
    [{ faults: [kill, { ...kill, atMs: 50 }] }, /faults\[0\] \(0\.\.100 ms\) overlaps faults\[1\] \(from 50 ms\): faults run one at a time/],
    [{ faults: [{ ...kill, atMs: 5000 }, { ...kill, atMs: 1000, durationMs: 4500 }] }, /faults\[1\] \(1000\.\.5500 ms\) overlaps faults\[0\] \(from 5000 ms\)/],
  ];
  for (const [input, message] of cases) {
    t.throws(() => parseSchedule(input, ctx5), configError(message), `${JSON.stringify(input)} → ${message}`);
  }
  t.throws(() => parseSchedule({ faults: [{ kind: 'isolate', atMs: 0, durationMs: 10, targets: [0] }] }, { actors: [0], durationMs: 100 }), configError(/faults\[0\]: isolate needs at least 2 actors/));
  t.throws(() => parseSchedule({ faults: [] }, { actors: [], durationMs: 100 }), configError(/actors must be a non-empty array/));
  t.throws(() => parseSchedule({ faults: [] }, { actors: [0], durationMs: -1 }), configError(/durationMs must be a finite number > 0/));
});

test('a random schedule survives a round trip through a schedule file', (t) => {
  const events = randomSchedule(FAULT_KINDS, five);
  t.deepEqual(parseSchedule(JSON.parse(JSON.stringify({ faults: events })), five), events);
});

// ---------------------------------------------------------------------------
// describeFault

test('describeFault gives one line per kind', (t) => {
  const base = { atMs: 0, durationMs: 1500 };
  t.is(describeFault({ ...base, kind: 'kill', targets: [2] }), 'kill actor 2 for 1500 ms');
  t.is(describeFault({ ...base, kind: 'pause', targets: [0] }), 'pause actor 0 for 1500 ms');
  t.is(describeFault({ ...base, kind: 'wipe', targets: [4] }), 'wipe actor 4 for 1500 ms');
  t.is(describeFault({ ...base, kind: 'isolate', targets: [3], groups: [[3], [0, 1, 2, 4]] }), 'isolate actor 3 for 1500 ms');
  t.is(describeFault({ kind: 'partition', atMs: 0, durationMs: 2000, targets: [0, 1], groups: [[0, 1], [2, 3, 4]] }), 'partition [0,1] | [2,3,4] for 2000 ms');
  t.is(describeFault({ ...base, kind: 'ring-partition', targets: [3, 4], groups: [[3, 4], [0, 1, 2]] }), 'ring-partition [3,4] | [0,1,2] for 1500 ms');
  t.is(describeFault({ ...base, kind: 'loss', targets: [2], fraction: 0.3 }), 'loss 30% on actor 2 for 1500 ms');
  t.is(describeFault({ ...base, kind: 'loss', targets: [2], fraction: 1 / 3 }), 'loss 33.3% on actor 2 for 1500 ms');
  t.is(describeFault({ ...base, kind: 'delay', targets: [1], delayMs: 250 }), 'delay 250 ms on actor 1 for 1500 ms');
  for (const e of randomSchedule(FAULT_KINDS, five)) t.regex(describeFault(e), /^[a-z-]+ .* for \d+ ms$/);
});
