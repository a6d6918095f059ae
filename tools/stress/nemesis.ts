/**
 * The stress lab's nemesis: fault schedules as pure data (a timeline of
 * faults, each undone after its duration), either random from a seed or read
 * from a schedule file. No I/O and no clock: the shell applies them.
 */
import { Prng, StressConfigError } from './workloads.js';

export type FaultKind = 'kill' | 'pause' | 'partition' | 'isolate' | 'ring-partition' | 'loss' | 'delay' | 'wipe';
export const FAULT_KINDS: readonly FaultKind[] = Object.freeze(['kill', 'pause', 'partition', 'isolate', 'ring-partition', 'loss', 'delay', 'wipe'] as const);

export interface FaultEvent {
  readonly kind: FaultKind;
  readonly atMs: number; // since the run phase began
  readonly durationMs: number; // the fault is undone (restart / heal) at atMs + durationMs
  readonly targets: readonly number[]; // kill/pause/wipe/isolate/loss/delay: exactly one actor; partition/ring-partition: the smaller side
  readonly groups?: readonly [readonly number[], readonly number[]]; // partition, isolate, ring-partition: the two sides (disjoint, covering every actor)
  readonly fraction?: number; // loss: fraction of messages lost on every link to and from the target, in (0, 1]
  readonly delayMs?: number; // delay: added to every message to and from the target
}

export interface ScheduleContext {
  readonly actors: readonly number[];
  /** Ring neighbourhoods: sets of actors that replicate a common arc (e.g. a preference list); ring-partition cuts one off from the rest. */
  readonly neighbourhoods: readonly (readonly number[])[];
  readonly durationMs: number;
  readonly seed: number;
}

const SPLIT_KINDS: ReadonlySet<FaultKind> = new Set(['partition', 'isolate', 'ring-partition']);

/** Faults in a random schedule are placed in [10%, 85%] of the run: the head lets the workload start, the tail lets final operations succeed. */
export const QUIET_HEAD_FRACTION = 0.1;
export const QUIET_TAIL_FRACTION = 0.15;
/** Random faults are never shorter than this, nor gaps between them; a run whose fault window (75% of it) is shorter than MIN_FAULT_MS (i.e. under ~134 ms) gets no faults. */
export const MIN_FAULT_MS = 100;
export const MIN_GAP_MS = 50;
/** Defaults for schedule files that leave them out. */
export const DEFAULT_LOSS_FRACTION = 0.5;
export const DEFAULT_DELAY_MS = 200;
export const MAX_DELAY_MS = 60_000;
/** Stream id for the nemesis's Prng, apart from the clients' streams (0..clients-1). */
const NEMESIS_STREAM = -0x4e454d;

function allowedKindsText(): string {
  return FAULT_KINDS.join(', ');
}

function parseKind(text: string, where: string): FaultKind {
  const k = text.trim().toLowerCase();
  if (!(FAULT_KINDS as readonly string[]).includes(k)) {
    throw new StressConfigError(`${where}unknown fault kind ${JSON.stringify(text)}: allowed are ${allowedKindsText()}`);
  }
  return k as FaultKind;
}

/** `--nemesis` flag: 'none' or '' → []; 'all' → FAULT_KINDS; else a comma list of kinds (trimmed, case-insensitive, deduplicated, in first-seen order). */
export function parseNemesisFlag(text: string): FaultKind[] {
  if (typeof text !== 'string') throw new StressConfigError(`--nemesis must be a string (got ${JSON.stringify(text)})`);
  const items = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (items.length === 0 || (items.length === 1 && items[0] === 'none')) return [];
  if (items.includes('none')) throw new StressConfigError(`--nemesis ${JSON.stringify(text)}: 'none' cannot be combined with fault kinds`);
  if (items.includes('all')) {
    for (const i of items) if (i !== 'all') parseKind(i, `--nemesis ${JSON.stringify(text)}: `);
    return [...FAULT_KINDS];
  }
  const out: FaultKind[] = [];
  for (const i of items) {
    const k = (FAULT_KINDS as readonly string[]).includes(i) ? (i as FaultKind) : undefined;
    if (k === undefined) {
      throw new StressConfigError(`--nemesis: unknown fault kind ${JSON.stringify(i)}: allowed are none, all, or a comma list of ${allowedKindsText()}`);
    }
    if (!out.includes(k)) out.push(k);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Context validation

function validateActors(actors: unknown): number[] {
  if (!Array.isArray(actors) || actors.length === 0) throw new StressConfigError('actors must be a non-empty array of actor ids');
  const seen = new Set<number>();
  for (const a of actors) {
    if (typeof a !== 'number' || !Number.isSafeInteger(a) || a < 0) throw new StressConfigError(`actor ids must be integers >= 0 (got ${JSON.stringify(a)})`);
    if (seen.has(a)) throw new StressConfigError(`actor ${a} is listed twice in actors`);
    seen.add(a);
  }
  return [...actors] as number[];
}

function validateDuration(durationMs: unknown): number {
  if (typeof durationMs !== 'number' || !Number.isFinite(durationMs) || durationMs <= 0) {
    throw new StressConfigError(`durationMs must be a finite number > 0 (got ${JSON.stringify(durationMs)})`);
  }
  return durationMs;
}

const byNumber = (a: number, b: number): number => a - b;

function shuffled<T>(xs: readonly T[], rng: Prng): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Two sides, the smaller one (targets) first, each sorted. */
function split(side: readonly number[], actors: readonly number[]): { targets: number[]; groups: [number[], number[]] } {
  const inSide = new Set(side);
  const a = [...side].sort(byNumber);
  const b = actors.filter((x) => !inSide.has(x)).sort(byNumber);
  const [small, large] = b.length < a.length ? [b, a] : [a, b];
  return { targets: [...small], groups: [small, large] };
}

// ---------------------------------------------------------------------------
// Random schedules

/**
 * A reproducible random schedule from ctx.seed, using the given kinds
 * (round-robin over a seeded shuffle of them).
 *
 * Timeline: faults lie in [10%, 85%] of durationMs, one at a time, separated by
 * gaps of at least gapMs. Defaults: faultMs = clamp(durationMs/5, 100, 3000),
 * gapMs = clamp(durationMs/20, 50, 3000). Each fault lasts 75–100% of faultMs.
 * If fewer than one fault per kind fits, faultMs and gapMs (given or default)
 * are scaled down together until every kind fits once, but not below
 * MIN_FAULT_MS / MIN_GAP_MS (then as many as fit). Returns [] when no kinds are
 * usable or the window is shorter than MIN_FAULT_MS (durationMs < ~134 ms).
 * At most one `wipe` (a second before repair could legitimately lose data).
 * With a single actor, partition/isolate/ring-partition are dropped (nothing
 * to split).
 */
export function randomSchedule(kinds: readonly FaultKind[], ctx: ScheduleContext, options: { readonly faultMs?: number; readonly gapMs?: number } = {}): FaultEvent[] {
  if (!Array.isArray(kinds)) throw new StressConfigError('kinds must be an array of fault kinds');
  const actors = validateActors(ctx.actors);
  const durationMs = validateDuration(ctx.durationMs);
  if (typeof ctx.seed !== 'number' || !Number.isSafeInteger(ctx.seed)) throw new StressConfigError(`seed must be an integer (got ${JSON.stringify(ctx.seed)})`);
  const known = new Set(actors);
  if (!Array.isArray(ctx.neighbourhoods)) throw new StressConfigError('neighbourhoods must be an array of actor lists');
  const neighbourhoods = ctx.neighbourhoods.map((n, i) => {
    if (!Array.isArray(n)) throw new StressConfigError(`neighbourhoods[${i}] must be an array of actor ids`);
    for (const a of n) if (!known.has(a)) throw new StressConfigError(`neighbourhoods[${i}]: actor ${JSON.stringify(a)} is not in the cluster (actors: ${actors.join(',')})`);
    return [...new Set(n)];
  }).filter((n) => n.length > 0);
  for (const [name, v] of [['faultMs', options.faultMs], ['gapMs', options.gapMs]] as const) {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 1)) {
      throw new StressConfigError(`${name} must be a number >= 1 (got ${JSON.stringify(v)})`);
    }
  }

  const usable: FaultKind[] = [];
  for (const k of kinds) {
    const kind = parseKind(String(k), '');
    if (actors.length < 2 && SPLIT_KINDS.has(kind)) continue;
    if (!usable.includes(kind)) usable.push(kind);
  }
  const startMs = Math.ceil(durationMs * QUIET_HEAD_FRACTION);
  const endMs = Math.floor(durationMs * (1 - QUIET_TAIL_FRACTION));
  const windowMs = endMs - startMs;
  if (usable.length === 0 || windowMs < MIN_FAULT_MS) return [];

  const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
  let faultMs = Math.min(windowMs, Math.round(options.faultMs ?? clamp(durationMs / 5, MIN_FAULT_MS, 3000)));
  let gapMs = Math.round(options.gapMs ?? clamp(durationMs / 20, MIN_GAP_MS, 3000));
  const fits = (f: number, g: number): number => Math.floor((windowMs + g) / (f + g));
  if (fits(faultMs, gapMs) < usable.length) {
    const scale = windowMs / (usable.length * faultMs + (usable.length - 1) * gapMs);
    faultMs = Math.max(Math.min(faultMs, MIN_FAULT_MS), Math.floor(faultMs * scale));
    gapMs = Math.max(Math.min(gapMs, MIN_GAP_MS), Math.floor(gapMs * scale));
  }
  const count = Math.max(1, fits(faultMs, gapMs));

  const rng = new Prng(ctx.seed, NEMESIS_STREAM);
  const order = shuffled(usable, rng);
  const sequence: FaultKind[] = [];
  let wiped = false;
  for (let i = 0; sequence.length < count; i++) {
    const k = order[i % order.length]!;
    if (k === 'wipe') {
      if (wiped) {
        if (order.length === 1) break;
        continue;
      }
      wiped = true;
    }
    sequence.push(k);
  }

  // Durations 75–100% of faultMs; the slack is spread at random before, between and after the faults.
  const durations = sequence.map(() => Math.max(1, faultMs - rng.nextInt(Math.floor(faultMs / 4) + 1)));
  const slackMs = windowMs - durations.reduce((s, d) => s + d, 0) - (sequence.length - 1) * gapMs;
  const weights = Array.from({ length: sequence.length + 1 }, () => rng.nextFloat());
  const weightSum = weights.reduce((s, w) => s + w, 0) || 1;
  const events: FaultEvent[] = [];
  let atMs = startMs;
  sequence.forEach((kind, i) => {
    atMs += Math.floor((slackMs * weights[i]!) / weightSum);
    events.push(randomFault(kind, atMs, durations[i]!, actors, neighbourhoods, rng));
    atMs += durations[i]! + gapMs;
  });
  return events;
}

function randomFault(kind: FaultKind, atMs: number, durationMs: number, actors: readonly number[], neighbourhoods: readonly (readonly number[])[], rng: Prng): FaultEvent {
  const one = (): number => actors[rng.nextInt(actors.length)]!;
  switch (kind) {
    case 'kill':
    case 'pause':
    case 'wipe':
      return { kind, atMs, durationMs, targets: [one()] };
    case 'loss':
      return { kind, atMs, durationMs, targets: [one()], fraction: (10 + rng.nextInt(81)) / 100 }; // 10%..90%
    case 'delay':
      return { kind, atMs, durationMs, targets: [one()], delayMs: 20 + 10 * rng.nextInt(39) }; // 20..400 ms
    case 'isolate': {
      const a = one();
      return { kind, atMs, durationMs, targets: [a], groups: [[a], actors.filter((x) => x !== a).sort(byNumber)] };
    }
    case 'partition': {
      const s = shuffled(actors, rng);
      return { kind, atMs, durationMs, ...split(s.slice(0, Math.floor(s.length / 2)), actors) };
    }
    case 'ring-partition': {
      const n = neighbourhoods.length > 0 ? neighbourhoods[rng.nextInt(neighbourhoods.length)]! : [];
      // Fallback when there is no neighbourhood or it covers every actor: cut one actor off (of the neighbourhood if any).
      const side = n.length > 0 && n.length < actors.length ? n : [n.length > 0 ? n[rng.nextInt(n.length)]! : one()];
      return { kind, atMs, durationMs, ...split(side, actors) };
    }
  }
}

// ---------------------------------------------------------------------------
// Schedule files

const FAULT_FIELDS = new Set(['kind', 'atMs', 'durationMs', 'targets', 'groups', 'fraction', 'delayMs', 'comment']);
const TOP_FIELDS = new Set(['faults', 'comment', 'description']);

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function actorList(x: unknown, where: string, known: ReadonlySet<number>, actors: readonly number[]): number[] {
  if (!Array.isArray(x)) throw new StressConfigError(`${where} must be an array of actor ids (got ${JSON.stringify(x)})`);
  const seen = new Set<number>();
  for (const a of x) {
    if (typeof a !== 'number' || !Number.isSafeInteger(a)) throw new StressConfigError(`${where}: actor ids must be integers (got ${JSON.stringify(a)})`);
    if (!known.has(a)) throw new StressConfigError(`${where}: actor ${a} is not in the cluster (actors: ${actors.join(',')})`);
    if (seen.has(a)) throw new StressConfigError(`${where}: actor ${a} is listed twice`);
    seen.add(a);
  }
  return [...seen].sort(byNumber);
}

const sameSet = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/**
 * A schedule file: JSON `{ "faults": [ { "kind", "atMs", "durationMs", "targets"?, "groups"?, "fraction"?, "delayMs"?, "comment"? } ] }`
 * (a JSON string is parsed first). Validates everything and throws
 * StressConfigError naming the fault (faults[i]) and field. Defaults: isolate's
 * groups from its target ([t] | the rest) and its target from a singleton
 * group; partition/ring-partition's targets from the smaller group (ties: the
 * first) and groups from targets (targets | the rest); loss fraction 0.5;
 * delay 200 ms. Actor lists come back sorted; faults sorted by atMs. Faults
 * may touch (one ends at the ms the next starts) but not overlap.
 */
export function parseSchedule(json: unknown, ctx: Pick<ScheduleContext, 'actors' | 'durationMs'>): FaultEvent[] {
  const actors = validateActors(ctx.actors);
  const runMs = validateDuration(ctx.durationMs);
  const known = new Set(actors);
  let doc = json;
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc);
    } catch (e) {
      throw new StressConfigError(`schedule is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!isRecord(doc)) throw new StressConfigError('schedule must be a JSON object { "faults": [...] }');
  for (const k of Object.keys(doc)) if (!TOP_FIELDS.has(k)) throw new StressConfigError(`schedule: unknown field ${JSON.stringify(k)} (allowed: ${[...TOP_FIELDS].join(', ')})`);
  if (!Array.isArray(doc['faults'])) throw new StressConfigError('schedule: "faults" must be an array of faults');

  const events = doc['faults'].map((raw: unknown, i: number): FaultEvent => {
    const at = `faults[${i}]`;
    if (!isRecord(raw)) throw new StressConfigError(`${at} must be an object`);
    for (const k of Object.keys(raw)) if (!FAULT_FIELDS.has(k)) throw new StressConfigError(`${at}: unknown field ${JSON.stringify(k)} (allowed: ${[...FAULT_FIELDS].join(', ')})`);
    if (typeof raw['kind'] !== 'string') throw new StressConfigError(`${at}.kind must be one of ${allowedKindsText()} (got ${JSON.stringify(raw['kind'])})`);
    const kind = parseKind(raw['kind'], `${at}.kind: `);
    const atMs = raw['atMs'];
    if (typeof atMs !== 'number' || !Number.isSafeInteger(atMs) || atMs < 0) throw new StressConfigError(`${at}.atMs must be an integer >= 0 (got ${JSON.stringify(atMs)})`);
    const durationMs = raw['durationMs'];
    if (typeof durationMs !== 'number' || !Number.isSafeInteger(durationMs) || durationMs < 1) {
      throw new StressConfigError(`${at}.durationMs must be an integer >= 1 (got ${JSON.stringify(durationMs)})`);
    }
    if (atMs + durationMs > runMs) throw new StressConfigError(`${at} ends at ${atMs + durationMs} ms, after the run phase (${runMs} ms)`);
    if (raw['fraction'] !== undefined && kind !== 'loss') throw new StressConfigError(`${at}.fraction is only for loss faults (this is ${kind})`);
    if (raw['delayMs'] !== undefined && kind !== 'delay') throw new StressConfigError(`${at}.delayMs is only for delay faults (this is ${kind})`);
    if (raw['groups'] !== undefined && !SPLIT_KINDS.has(kind)) throw new StressConfigError(`${at}.groups is only for partition, isolate and ring-partition faults (this is ${kind})`);
    if (raw['comment'] !== undefined && typeof raw['comment'] !== 'string') throw new StressConfigError(`${at}.comment must be a string`);

    const targets = raw['targets'] === undefined ? undefined : actorList(raw['targets'], `${at}.targets`, known, actors);
    let groups: [number[], number[]] | undefined;
    if (raw['groups'] !== undefined) {
      const g = raw['groups'];
      if (!Array.isArray(g) || g.length !== 2) throw new StressConfigError(`${at}.groups must be two arrays of actor ids, [[...], [...]] (got ${JSON.stringify(g)})`);
      const a = actorList(g[0], `${at}.groups[0]`, known, actors);
      const b = actorList(g[1], `${at}.groups[1]`, known, actors);
      if (a.length === 0 || b.length === 0) throw new StressConfigError(`${at}.groups: both sides must be non-empty`);
      const both = a.find((x) => b.includes(x));
      if (both !== undefined) throw new StressConfigError(`${at}.groups: actor ${both} is on both sides`);
      const missing = actors.filter((x) => !a.includes(x) && !b.includes(x));
      if (missing.length > 0) throw new StressConfigError(`${at}.groups must cover every actor: missing ${missing.join(',')}`);
      groups = [a, b];
    }

    const base = { kind, atMs, durationMs };
    if (SPLIT_KINDS.has(kind)) {
      if (actors.length < 2) throw new StressConfigError(`${at}: ${kind} needs at least 2 actors`);
      if (groups === undefined) {
        if (targets === undefined) throw new StressConfigError(`${at}: ${kind} needs "groups" or "targets"`);
        if (targets.length === 0 || targets.length === actors.length) throw new StressConfigError(`${at}.targets: ${kind} needs a non-empty side that is not every actor`);
        if (kind === 'isolate' && targets.length !== 1) throw new StressConfigError(`${at}.targets: isolate takes exactly one actor (got ${targets.length})`);
        const rest = actors.filter((x) => !targets.includes(x)).sort(byNumber);
        return { ...base, targets: targets.length <= rest.length ? targets : rest, groups: [targets, rest] };
      }
      const [a, b] = groups;
      if (kind === 'isolate') {
        const single = a.length === 1 ? a : b.length === 1 ? b : undefined;
        if (single === undefined) throw new StressConfigError(`${at}.groups: isolate needs one side of exactly one actor`);
        if (targets !== undefined && !(targets.length === 1 && (sameSet(targets, a) || sameSet(targets, b)))) {
          throw new StressConfigError(`${at}.targets must be the single isolated actor, one side of groups`);
        }
        return { ...base, targets: targets ?? single, groups };
      }
      if (targets !== undefined && !sameSet(targets, a) && !sameSet(targets, b)) throw new StressConfigError(`${at}.targets must equal one side of groups`);
      return { ...base, targets: b.length < a.length ? b : a.length < b.length ? a : (targets ?? a), groups };
    }

    if (targets === undefined || targets.length !== 1) throw new StressConfigError(`${at}.targets: ${kind} takes exactly one actor, e.g. "targets": [${actors[0]}] (got ${JSON.stringify(raw['targets'])})`);
    if (kind === 'loss') {
      const fraction = raw['fraction'] ?? DEFAULT_LOSS_FRACTION;
      if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) throw new StressConfigError(`${at}.fraction must be a number in (0, 1] (got ${JSON.stringify(fraction)})`);
      return { ...base, targets, fraction };
    }
    if (kind === 'delay') {
      const delayMs = raw['delayMs'] ?? DEFAULT_DELAY_MS;
      if (typeof delayMs !== 'number' || !Number.isSafeInteger(delayMs) || delayMs < 1 || delayMs > MAX_DELAY_MS) {
        throw new StressConfigError(`${at}.delayMs must be an integer in 1..${MAX_DELAY_MS} (got ${JSON.stringify(delayMs)})`);
      }
      return { ...base, targets, delayMs };
    }
    return { ...base, targets };
  });

  const order = events.map((e, i) => ({ e, i })).sort((x, y) => x.e.atMs - y.e.atMs || x.i - y.i);
  for (let j = 1; j < order.length; j++) {
    const prev = order[j - 1]!;
    const cur = order[j]!;
    if (prev.e.atMs + prev.e.durationMs > cur.e.atMs) {
      throw new StressConfigError(
        `faults[${prev.i}] (${prev.e.atMs}..${prev.e.atMs + prev.e.durationMs} ms) overlaps faults[${cur.i}] (from ${cur.e.atMs} ms): faults run one at a time`,
      );
    }
  }
  return order.map((x) => x.e);
}

const list = (xs: readonly number[]): string => `[${xs.join(',')}]`;

/** One line: 'kill actor 2 for 1500 ms', 'partition [0,1] | [2,3,4] for 2000 ms'. */
export function describeFault(e: FaultEvent): string {
  const actor = `actor ${e.targets.join(',')}`;
  const span = `for ${e.durationMs} ms`;
  switch (e.kind) {
    case 'kill':
    case 'pause':
    case 'wipe':
    case 'isolate':
      return `${e.kind} ${actor} ${span}`;
    case 'loss':
      return `loss ${Number(((e.fraction ?? DEFAULT_LOSS_FRACTION) * 100).toFixed(1))}% on ${actor} ${span}`;
    case 'delay':
      return `delay ${e.delayMs ?? DEFAULT_DELAY_MS} ms on ${actor} ${span}`;
    case 'partition':
    case 'ring-partition': {
      const [a, b] = e.groups ?? [e.targets, []];
      return `${e.kind} ${list(a)} | ${list(b)} ${span}`;
    }
  }
}
