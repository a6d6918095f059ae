/**
 * Dotted Version Vector Sets (Almeida, Baquero, Gonçalves, Preguiça, Fonte;
 * the `dvvset` module Riak uses). Pure: no I/O, no clock.
 *
 * A DVVSet is the whole replicated state of one key: a causal history per
 * actor (`entries`, sorted by actor id) where each entry holds the values
 * written by events of that actor still not overwritten (newest first), plus
 * anonymous values that came from a client without a dot of their own.
 * Concurrent writes stay as siblings; a write that carries a context (the
 * version vector a client read) supersedes exactly what that context saw.
 */
export interface Entry<V> {
  readonly id: number;
  /** Highest event counter seen from this actor. */
  readonly counter: number;
  /** Values of the newest events (counter, counter-1, ...), newest first. */
  readonly values: readonly V[];
}

export interface DVVSet<V> {
  readonly entries: readonly Entry<V>[];
  readonly anonymous: readonly V[];
}

/** A version vector: [actor id, counter] pairs sorted by actor id. */
export type VersionVector = readonly (readonly [number, number])[];

export const EMPTY_VV: VersionVector = Object.freeze([]);

export function empty<V>(): DVVSet<V> {
  return { entries: [], anonymous: [] };
}

/** A client value wrapped with the context (version vector) it was written from. */
export function fromContext<V>(context: VersionVector, value: V): DVVSet<V> {
  assertSortedVV(context);
  return { entries: context.map(([id, counter]) => ({ id, counter, values: [] })), anonymous: [value] };
}

/** The causal context of a clock: what a client must send back to supersede it. */
export function join<V>(s: DVVSet<V>): VersionVector {
  return s.entries.map((e) => [e.id, e.counter] as const);
}

/** All sibling values (anonymous first, then per-actor newest first). */
export function values<V>(s: DVVSet<V>): V[] {
  const out = [...s.anonymous];
  for (const e of s.entries) out.push(...e.values);
  return out;
}

export function size<V>(s: DVVSet<V>): number {
  let n = s.anonymous.length;
  for (const e of s.entries) n += e.values.length;
  return n;
}

/** a < b: every event in a is in b and b has at least one more. */
export function less<V>(a: DVVSet<V>, b: DVVSet<V>): boolean {
  return greater(b.entries, a.entries);
}

/** Same causal history (values may still differ only if state is corrupt). */
export function equalHistory<V>(a: DVVSet<V>, b: DVVSet<V>): boolean {
  if (a.entries.length !== b.entries.length) return false;
  for (let i = 0; i < a.entries.length; i++) {
    if (a.entries[i]!.id !== b.entries[i]!.id || a.entries[i]!.counter !== b.entries[i]!.counter) return false;
  }
  return true;
}

function greater<V>(c1: readonly Entry<V>[], c2: readonly Entry<V>[]): boolean {
  let strict = false;
  let i = 0;
  let j = 0;
  for (;;) {
    if (i === c1.length && j === c2.length) return strict;
    if (j === c2.length) return true;
    if (i === c1.length) return false;
    const a = c1[i]!;
    const b = c2[j]!;
    if (a.id === b.id) {
      if (a.counter < b.counter) return false;
      if (a.counter > b.counter) strict = true;
      i++;
      j++;
    } else if (a.id < b.id) {
      strict = true;
      i++;
    } else {
      return false;
    }
  }
}

/**
 * Merge two clocks of the same key (replication, read reconciliation,
 * anti-entropy). Commutative, associative and idempotent. `compare` orders
 * anonymous values so the result is canonical (replicas encode byte-equal).
 */
export function sync<V>(a: DVVSet<V>, b: DVVSet<V>, compare: (x: V, y: V) => number): DVVSet<V> {
  let anonymous: readonly V[];
  if (less(a, b)) anonymous = b.anonymous;
  else if (less(b, a)) anonymous = a.anonymous;
  else anonymous = unionSorted(a.anonymous, b.anonymous, compare);
  return { entries: syncEntries(a.entries, b.entries), anonymous };
}

function unionSorted<V>(a: readonly V[], b: readonly V[], compare: (x: V, y: V) => number): V[] {
  const all = [...a];
  for (const v of b) if (!all.some((x) => compare(x, v) === 0)) all.push(v);
  return all.sort(compare);
}

function syncEntries<V>(a: readonly Entry<V>[], b: readonly Entry<V>[]): Entry<V>[] {
  const out: Entry<V>[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j === b.length || (i < a.length && a[i]!.id < b[j]!.id)) out.push(a[i++]!);
    else if (i === a.length || b[j]!.id < a[i]!.id) out.push(b[j++]!);
    else out.push(mergeEntry(a[i++]!, b[j++]!));
  }
  return out;
}

function mergeEntry<V>(x: Entry<V>, y: Entry<V>): Entry<V> {
  // Keep the entry with the higher counter, but only the values the other
  // side has not seen overwritten: events above (other.counter - other.values.length).
  const [hi, lo] = x.counter >= y.counter ? [x, y] : [y, x];
  if (hi.counter - hi.values.length >= lo.counter - lo.values.length) return hi;
  return { id: hi.id, counter: hi.counter, values: hi.values.slice(0, hi.counter - lo.counter + lo.values.length) };
}

/**
 * A new event at actor `id` for a client write: `client` is
 * fromContext(ctx, value); `server` is the coordinator's current clock for
 * the key. Everything the client's context saw is superseded; concurrent
 * values stay as siblings.
 *
 * `firstCounter`: where the event's counter starts when the clock holds no
 * value of `id` (its entry is new, or all its values were superseded); see
 * firstCounterAt. Counters of a key restart when the key is collected
 * (tombstone or expiry GC), and an old copy that survives somewhere (a
 * replica that missed the collection, a late read reply) would otherwise
 * hold the same dots for other values and silently win over the new ones.
 */
export function update<V>(client: DVVSet<V>, server: DVVSet<V>, id: number, compare: (x: V, y: V) => number, firstCounter = 1): DVVSet<V> {
  if (client.anonymous.length !== 1) throw new Error('update: client clock must carry exactly one new value');
  const value = client.anonymous[0]!;
  const synced = sync({ entries: client.entries, anonymous: [] }, server, compare);
  // Server-side anonymous values only exist after a last-write-wins collapse;
  // a client whose context covers the whole server history has seen them.
  const anonymous = covers(client.entries, server.entries) ? [] : synced.anonymous;
  return { entries: event(synced.entries, id, value, firstCounter), anonymous };
}

/** Every event in `b` is in `a` (a >= b). */
function covers<V>(a: readonly Entry<V>[], b: readonly Entry<V>[]): boolean {
  let i = 0;
  for (const e of b) {
    while (i < a.length && a[i]!.id < e.id) i++;
    if (e.counter === 0) continue;
    if (i === a.length || a[i]!.id !== e.id || a[i]!.counter < e.counter) return false;
  }
  return true;
}

function event<V>(entries: readonly Entry<V>[], id: number, value: V, firstCounter: number): Entry<V>[] {
  const out: Entry<V>[] = [];
  let placed = false;
  for (const e of entries) {
    if (!placed && e.id === id) {
      // values name consecutive events below the counter: it may jump only when the entry holds none
      out.push({ id, counter: e.values.length === 0 ? Math.max(e.counter + 1, firstCounter) : e.counter + 1, values: [value, ...e.values] });
      placed = true;
    } else if (!placed && e.id > id) {
      out.push({ id, counter: firstCounter, values: [value] }, e);
      placed = true;
    } else {
      out.push(e);
    }
  }
  if (!placed) out.push({ id, counter: firstCounter, values: [value] });
  return out;
}

/** Milliseconds from the Unix epoch to 2024-01-01, where first counters start (smaller counters, shorter varints). */
const COUNTER_EPOCH_MS = Date.UTC(2024, 0, 1);
/** First counters advance this many per millisecond: a writer would have to make more events than this per ms of a key's life to meet its past. */
export const FIRST_COUNTERS_PER_MS = 1024;

/**
 * The first counter of a writer's entry minted at `nowMs`: above every
 * counter the same writer can have reached for the same key in an earlier
 * life of it, which began at least a millisecond before and made fewer than
 * FIRST_COUNTERS_PER_MS events per millisecond since (a key is collected
 * only after its values expired or were deleted, plus the grace period).
 */
export function firstCounterAt(nowMs: number): number {
  return Math.max(1, Math.floor(nowMs - COUNTER_EPOCH_MS) * FIRST_COUNTERS_PER_MS);
}

/**
 * Last-write-wins collapse: keep only the value `newer` prefers, as an
 * anonymous value over the full causal history (every entry keeps its
 * counter but no values). Keeping the winner inside an entry would give it a
 * different dot and make later syncs order-dependent; as an anonymous value
 * over an unchanged history, syncs of collapsed replicas commute.
 */
export function lww<V>(s: DVVSet<V>, newer: (x: V, y: V) => boolean): DVVSet<V> {
  const all = values(s);
  if (all.length <= 1) return s; // a single value is already the newest dot of its entry
  let best: V = all[0] as V;
  for (const v of all) if (newer(v, best)) best = v;
  return { entries: s.entries.map((e) => (e.values.length === 0 ? e : { id: e.id, counter: e.counter, values: [] })), anonymous: [best] };
}

/** Merge several version vectors (pointwise max): the context that resolves all of them. */
export function mergeVV(...vvs: VersionVector[]): VersionVector {
  const m = new Map<number, number>();
  for (const vv of vvs) for (const [id, c] of vv) m.set(id, Math.max(m.get(id) ?? 0, c));
  return [...m.entries()].sort((a, b) => a[0] - b[0]);
}

/** Structural check used when decoding stored or received clocks: fail loudly on corruption. */
export function assertValid<V>(s: DVVSet<V>): void {
  let prev = -1;
  for (const e of s.entries) {
    if (!Number.isInteger(e.id) || e.id < 0 || e.id <= prev) throw new Error(`corrupt clock: entry ids not strictly increasing (${prev}, ${e.id})`);
    if (!Number.isInteger(e.counter) || e.counter < 0 || e.values.length > e.counter) {
      throw new Error(`corrupt clock: actor ${e.id} counter ${e.counter} with ${e.values.length} values`);
    }
    prev = e.id;
  }
}

function assertSortedVV(vv: VersionVector): void {
  let prev = -1;
  for (const [id, c] of vv) {
    if (!Number.isInteger(id) || id < 0 || id <= prev || !Number.isInteger(c) || c < 0) throw new Error('corrupt context: version vector not sorted or negative');
    prev = id;
  }
}
