/**
 * PN-counters (as Riak's counters): a counter is, per writer (an actor's
 * clock writer id), a monotonic total of increments and a monotonic total of
 * decrements. Concurrent copies merge by taking, per writer, the larger of
 * each total — so no increment is counted twice and none is lost, whatever
 * order replicas meet in. Pure: no I/O, no clock.
 *
 * A writer id is minted afresh when an actor restarts after an unclean stop
 * (see ActorStore.claim): a restarted actor never continues totals that might
 * be behind what other replicas saw from its previous life.
 *
 * Lineages. A counter restarted after a DEL or SET, or converted from a
 * plain string holding a number (Redis's INCR of "10"), starts a new
 * lineage, named by the causal context (encoded version vector) of the
 * state it started from, with that string's number as its base. A counter
 * holds every lineage it has met: the same lineage merges (base by max,
 * totals per writer by max — two coordinators converting the same "10"
 * agree), different lineages add up. Without lineages, a writer restarting
 * a deleted counter at 1 would be absorbed by a concurrent old copy holding
 * that writer's total of 50: an acknowledged increment lost. Lineages that
 * a later write saw are dropped by the version layer, not here.
 *
 * Totals are float64. INCR keeps every total and the value within
 * ±(2^53−1), where they are exact; INCRBYFLOAT may make them fractional, and
 * the value is then the float sum in lineage and writer order (the same on
 * every replica).
 */
import { ByteReader, ByteWriter, CorruptDataError } from '../encoding/bytes.js';

export interface CounterEntry {
  readonly writer: number;
  /** Sum of every positive delta this writer applied (>= 0, never decreases). */
  readonly inc: number;
  /** Sum of the magnitudes of every negative delta this writer applied (>= 0, never decreases). */
  readonly dec: number;
}

export interface Lineage {
  /** The encoded version vector of the state the lineage started from (empty: a key that never existed). */
  readonly id: Uint8Array;
  readonly base: number;
  /** Sorted by writer id, strictly increasing. */
  readonly entries: readonly CounterEntry[];
}

export interface Counter {
  /** Sorted by id (byte order), strictly increasing. */
  readonly lineages: readonly Lineage[];
}

export const EMPTY_COUNTER: Counter = Object.freeze({ lineages: Object.freeze([]) as readonly Lineage[] });

/** Why an increment cannot be applied; the caller turns it into a typed error. */
export type AddRefusal = 'overflow' | 'not-finite';

/** A counter of one lineage `id` starting at `base` (a plain string's number, converted by INCR). */
export function fromBase(id: Uint8Array, base: number): Counter {
  if (!Number.isFinite(base)) throw new RangeError(`counter base must be finite, got ${base}`);
  return { lineages: [{ id, base: normalZero(base), entries: [] }] };
}

/** The counter's value: every lineage's base + its writers' increments − decrements, summed in order (deterministic). */
export function value(c: Counter): number {
  let sum = 0;
  for (const l of c.lineages) {
    sum += l.base;
    for (const e of l.entries) sum += e.inc - e.dec;
  }
  return normalZero(sum);
}

/** The lineage an increment adds to when the caller starts none: the last one (none: the never-existed lineage). */
export function currentLineage(c: Counter): Uint8Array {
  return c.lineages.length === 0 ? NEVER_EXISTED : c.lineages[c.lineages.length - 1]!.id;
}

/** The id of the lineage of a key that never existed (an empty version vector, as encodeVV writes it). */
export const NEVER_EXISTED: Uint8Array = Uint8Array.of(0);

/**
 * Add `delta` to `writer`'s entry of lineage `id` (created at base 0 if
 * missing). With `integer` (INCR), every total and the value must stay
 * within ±(2^53−1), where float64 sums of integers are exact (else
 * 'overflow'); without (INCRBYFLOAT), finite (else 'not-finite'). A refusal
 * changes nothing.
 */
export function add(c: Counter, id: Uint8Array, writer: number, delta: number, integer: boolean): Counter | AddRefusal {
  if (!Number.isSafeInteger(writer) || writer < 0) throw new RangeError(`writer id must be a non-negative safe integer, got ${writer}`);
  const withLineage = merge(c, { lineages: [{ id, base: 0, entries: [] }] });
  const li = withLineage.lineages.findIndex((l) => compareIds(l.id, id) === 0);
  const lineage = withLineage.lineages[li]!;
  const old = lineage.entries.find((e) => e.writer === writer) ?? { writer, inc: 0, dec: 0 };
  const next: CounterEntry = delta >= 0 ? { writer, inc: old.inc + delta, dec: old.dec } : { writer, inc: old.inc, dec: old.dec - delta };
  const refusal: AddRefusal = integer ? 'overflow' : 'not-finite';
  // totals stay within ±(2^53−1) for INCR (integral unless INCRBYFLOAT made them fractional)
  const ok = integer ? (x: number) => Number.isFinite(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER : Number.isFinite;
  if (!ok(next.inc) || !ok(next.dec)) return refusal;
  const lineages = [...withLineage.lineages];
  lineages[li] = { id, base: lineage.base, entries: mergeEntries(lineage.entries, [next]) };
  const out: Counter = { lineages };
  if (!(integer ? Number.isSafeInteger : Number.isFinite)(value(out))) return refusal;
  return out;
}

/** Join of two counters: lineages by id; within one, base by max and each writer's totals by max. Commutative, associative, idempotent. */
export function merge(a: Counter, b: Counter): Counter {
  return { lineages: mergeSorted(a.lineages, b.lineages, (x, y) => compareIds(x.id, y.id), mergeLineage) };
}

function mergeLineage(x: Lineage, y: Lineage): Lineage {
  return { id: x.id, base: Math.max(x.base, y.base), entries: mergeEntries(x.entries, y.entries) };
}

function mergeEntries(a: readonly CounterEntry[], b: readonly CounterEntry[]): CounterEntry[] {
  return mergeSorted(a, b, (x, y) => x.writer - y.writer, (x, y) => ({ writer: x.writer, inc: Math.max(x.inc, y.inc), dec: Math.max(x.dec, y.dec) }));
}

/** Merge two sorted lists, combining equal items. */
function mergeSorted<T>(a: readonly T[], b: readonly T[], compare: (x: T, y: T) => number, combine: (x: T, y: T) => T): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const order = i === a.length ? 1 : j === b.length ? -1 : compare(a[i]!, b[j]!);
    if (order < 0) out.push(a[i++]!);
    else if (order > 0) out.push(b[j++]!);
    else out.push(combine(a[i++]!, b[j++]!));
  }
  return out;
}

function compareIds(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

// ---- stored form ----

const FORMAT = 1;
/** Number tags: a non-negative safe integer as a varint, a negative one as the varint of its magnitude, else a float64. */
const UINT = 0;
const NEG_INT = 1;
const FLOAT = 2;
/** Bound on lineages, and on entries per lineage, a stored counter may claim (the pair size limit binds sooner). */
export const MAX_COUNTER_ENTRIES = 65_536;

const f64 = new DataView(new ArrayBuffer(8));

function writeNumber(w: ByteWriter, x: number): void {
  if (Number.isSafeInteger(x) && !Object.is(x, -0)) {
    if (x >= 0) w.u8(UINT).varint(x);
    else w.u8(NEG_INT).varint(-x);
    return;
  }
  f64.setFloat64(0, x);
  w.u8(FLOAT).raw(new Uint8Array(f64.buffer.slice(0)));
}

function readNumber(r: ByteReader): number {
  const tag = r.u8();
  if (tag === UINT) return r.varint();
  if (tag === NEG_INT) {
    const m = r.varint();
    if (m === 0) throw new CorruptDataError('counter: negative zero as an integer');
    return -m;
  }
  if (tag !== FLOAT) throw new CorruptDataError(`counter: unknown number tag ${tag}`);
  const bytes = r.raw(8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const x = view.getFloat64(0);
  // canonical: an integer-valued float would have been written as an integer
  if (!Number.isFinite(x) || (Number.isSafeInteger(x) && !Object.is(x, -0))) throw new CorruptDataError(`counter: non-canonical float ${x}`);
  return x;
}

/** Canonical bytes: equal counters encode equal on every replica. */
export function encodeCounter(c: Counter): Uint8Array {
  const w = new ByteWriter(32);
  w.u8(FORMAT).varint(c.lineages.length);
  for (const l of c.lineages) {
    w.bytes(l.id);
    writeNumber(w, l.base);
    w.varint(l.entries.length);
    for (const e of l.entries) {
      w.varint(e.writer);
      writeNumber(w, e.inc);
      writeNumber(w, e.dec);
    }
  }
  return w.finish();
}

export function decodeCounter(bytes: Uint8Array): Counter {
  const r = new ByteReader(bytes);
  const format = r.u8();
  if (format !== FORMAT) throw new CorruptDataError(`counter: unknown format ${format}`);
  const n = r.varint();
  if (n > MAX_COUNTER_ENTRIES || n > r.remaining) throw new CorruptDataError(`counter claims ${n} lineages in ${r.remaining} bytes`);
  const lineages: Lineage[] = [];
  for (let i = 0; i < n; i++) {
    const id = new Uint8Array(r.bytes()); // a copy: a lineage id outlives the buffer it was read from
    if (i > 0 && compareIds(lineages[i - 1]!.id, id) >= 0) throw new CorruptDataError('counter: lineage ids not strictly increasing');
    const base = readNumber(r);
    lineages.push({ id, base, entries: readEntries(r) });
  }
  r.end();
  return { lineages };
}

function readEntries(r: ByteReader): CounterEntry[] {
  const n = r.varint();
  if (n > MAX_COUNTER_ENTRIES || n > r.remaining) throw new CorruptDataError(`counter claims ${n} entries in ${r.remaining} bytes`);
  const entries: CounterEntry[] = [];
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const writer = r.varint();
    if (writer <= prev) throw new CorruptDataError(`counter: writer ids not strictly increasing (${prev}, ${writer})`);
    prev = writer;
    const inc = readNumber(r);
    const dec = readNumber(r);
    if (inc < 0 || dec < 0) throw new CorruptDataError(`counter: writer ${writer} has a negative total`);
    entries.push({ writer, inc, dec });
  }
  return entries;
}

/** -0 reads as 0 (Redis never answers "-0"). */
function normalZero(x: number): number {
  return x === 0 ? 0 : x;
}

// ---- deltas on the wire (main thread → coordinator) ----

/** An increment request: how much to add, and whether the counter must stay integral (INCR) or may be fractional (INCRBYFLOAT). */
export interface Delta {
  readonly by: number;
  readonly integer: boolean;
}

export function encodeDelta(d: Delta): Uint8Array {
  const w = new ByteWriter(16);
  w.u8(d.integer ? 1 : 0);
  writeNumber(w, d.by);
  return w.finish();
}

export function decodeDelta(bytes: Uint8Array): Delta {
  const r = new ByteReader(bytes);
  const flag = r.u8();
  if (flag > 1) throw new CorruptDataError(`delta: unknown flag ${flag}`);
  const by = readNumber(r);
  r.end();
  if (flag === 1 && !Number.isSafeInteger(by)) throw new CorruptDataError(`delta: integer increment ${by} is not a safe integer`);
  return { by, integer: flag === 1 };
}
