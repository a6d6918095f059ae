import { hashLabel } from './hash.js';

/** Positions are unsigned 32-bit integers; the ring wraps at 2^32. */
export const RING_SIZE = 2 ** 32;

export interface RingMember {
  readonly id: number;
  readonly zone: string;
  /** Sorted or not; each is an unsigned 32-bit ring position. */
  readonly tokens: readonly number[];
}

/** A token range (start, end] owned by the token at `end`. Arc 0 wraps. */
export interface Arc {
  readonly index: number;
  /** Exclusive start position. */
  readonly start: number;
  /** Inclusive end position (the token). */
  readonly end: number;
  readonly preference: readonly number[];
}

export class RingError extends Error {
  override readonly name = 'RingError';
}

/**
 * An immutable consistent-hash ring with virtual nodes. Pure: no I/O, no
 * clock. Arc i is (tokens[i-1], tokens[i]] and belongs to the owner of
 * tokens[i]; arc 0 wraps around from the last token. A key's preference list
 * is the first `n` distinct actors met walking clockwise from its arc,
 * preferring actors in zones not yet used (Riak/Cassandra-style rack
 * awareness), falling back to repeated zones only when zones run out.
 */
export class Ring {
  readonly n: number;
  readonly members: ReadonlyMap<number, RingMember>;
  private readonly tokens: Uint32Array;
  private readonly owners: Int32Array;
  private readonly prefs: (readonly number[])[];
  private shares: Map<number, number> | null = null;

  private constructor(members: readonly RingMember[], n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RingError(`n must be a positive integer, got ${n}`);
    if (members.length < n) {
      throw new RingError(`a ring with n=${n} needs at least ${n} actors, got ${members.length}`);
    }
    const byId = new Map<number, RingMember>();
    const pairs: [number, number][] = [];
    for (const m of members) {
      if (byId.has(m.id)) throw new RingError(`duplicate actor id ${m.id}`);
      if (m.tokens.length === 0) throw new RingError(`actor ${m.id} has no tokens`);
      byId.set(m.id, m);
      for (const t of m.tokens) {
        if (!Number.isInteger(t) || t < 0 || t >= RING_SIZE) throw new RingError(`bad token ${t} for actor ${m.id}`);
        pairs.push([t, m.id]);
      }
    }
    pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 1; i < pairs.length; i++) {
      // A shared token would make a zero-length arc that arcLength counts as the full circle.
      if (pairs[i]![0] === pairs[i - 1]![0]) throw new RingError(`token ${pairs[i]![0]} claimed twice (actors ${pairs[i - 1]![1]}, ${pairs[i]![1]})`);
    }
    this.n = n;
    this.members = byId;
    this.tokens = Uint32Array.from(pairs, (p) => p[0]);
    this.owners = Int32Array.from(pairs, (p) => p[1]);
    this.prefs = new Array(pairs.length);
    for (let i = 0; i < pairs.length; i++) this.prefs[i] = this.choosePreference(i);
  }

  static build(members: readonly RingMember[], n: number): Ring {
    return new Ring(members, n);
  }

  get arcCount(): number {
    return this.tokens.length;
  }

  /** Index of the arc containing `position`: the first token >= position, wrapping to 0. */
  arcIndex(position: number): number {
    const t = this.tokens;
    let lo = 0;
    let hi = t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t[mid]! < position) lo = mid + 1;
      else hi = mid;
    }
    return lo === t.length ? 0 : lo;
  }

  preferenceList(position: number): readonly number[] {
    return this.prefs[this.arcIndex(position)]!;
  }

  preferenceOfArc(index: number): readonly number[] {
    const p = this.prefs[index];
    if (p === undefined) throw new RingError(`no arc ${index}`);
    return p;
  }

  arc(index: number): Arc {
    const t = this.tokens;
    if (index < 0 || index >= t.length) throw new RingError(`no arc ${index}`);
    const start = index === 0 ? t[t.length - 1]! : t[index - 1]!;
    return { index, start, end: t[index]!, preference: this.prefs[index]! };
  }

  arcs(): Arc[] {
    const out: Arc[] = [];
    for (let i = 0; i < this.tokens.length; i++) out.push(this.arc(i));
    return out;
  }

  /**
   * Every distinct actor in clockwise order from the arc of `position`. The
   * actors after the preference list are the fallbacks a sloppy quorum uses.
   */
  walk(position: number): number[] {
    return this.walkFrom(this.arcIndex(position), this.members.size);
  }

  /** Fraction of the ring for which `actor` is in the preference list (computed once: the ring is immutable). */
  replicaShare(actor: number): number {
    if (this.shares === null) {
      const totals = new Map<number, number>();
      const t = this.tokens;
      for (let i = 0; i < t.length; i++) {
        const len = arcLength(i === 0 ? t[t.length - 1]! : t[i - 1]!, t[i]!);
        for (const id of this.prefs[i]!) totals.set(id, (totals.get(id) ?? 0) + len);
      }
      this.shares = totals;
    }
    return (this.shares.get(actor) ?? 0) / RING_SIZE;
  }

  private walkFrom(index: number, limit: number): number[] {
    const seen: number[] = [];
    const count = this.tokens.length;
    for (let step = 0; step < count && seen.length < limit; step++) {
      const owner = this.owners[(index + step) % count]!;
      if (!seen.includes(owner)) seen.push(owner);
    }
    return seen;
  }

  private choosePreference(index: number): readonly number[] {
    const walk = this.walkFrom(index, this.members.size);
    const chosen: number[] = [];
    const zones = new Set<string>();
    for (const id of walk) {
      if (chosen.length === this.n) break;
      const zone = this.members.get(id)!.zone;
      if (!zones.has(zone)) {
        zones.add(zone);
        chosen.push(id);
      }
    }
    for (const id of walk) {
      if (chosen.length === this.n) break;
      if (!chosen.includes(id)) chosen.push(id);
    }
    // Keep clockwise order so the first entry is the natural coordinator.
    chosen.sort((a, b) => walk.indexOf(a) - walk.indexOf(b));
    if (chosen.length !== this.n) throw new RingError(`internal: preference list of arc ${index} has ${chosen.length} actors`);
    return Object.freeze(chosen);
  }
}

/** One contiguous ring-position range [from, to) (to = 2^32 means "to the end"). */
export interface PositionRange {
  readonly from: number;
  readonly to: number;
}

/** The (start, end] arc as position ranges [from, to). */
export function arcRanges(start: number, end: number): PositionRange[] {
  if (start < end) return [{ from: start + 1, to: end + 1 }];
  // wrapping arc: (start, 2^32) and [0, end]
  return [
    { from: start + 1, to: RING_SIZE },
    { from: 0, to: end + 1 },
  ].filter((r) => r.from < r.to);
}

/**
 * The positions whose preference list does not include `actor`, as sorted,
 * disjoint, merged ranges [from, to): what an actor may drop after a
 * membership change moved those ranges to other replicas (cleanup).
 */
export function foreignRanges(ring: Ring, actor: number): PositionRange[] {
  const pieces: PositionRange[] = [];
  for (const arc of ring.arcs()) if (!arc.preference.includes(actor)) pieces.push(...arcRanges(arc.start, arc.end));
  pieces.sort((a, b) => a.from - b.from);
  const merged: PositionRange[] = [];
  for (const p of pieces) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.to === p.from) merged[merged.length - 1] = { from: last.from, to: p.to };
    else merged.push(p);
  }
  return merged;
}

/** Length of the arc (start, end], wrapping. A full-circle arc (start === end) has length 2^32. */
export function arcLength(start: number, end: number): number {
  const d = end - start;
  return d > 0 ? d : d + RING_SIZE;
}

/** True when `position` lies in the arc (start, end]. */
export function inArc(position: number, start: number, end: number): boolean {
  if (start < end) return position > start && position <= end;
  return position > start || position <= end; // wrapping arc (or the whole ring)
}

/**
 * Deterministic token allocation for a new actor. Each of its `vnodes`
 * tokens is the best of `candidates` hashed positions: the one that falls in
 * the currently largest arc. This "best of k choices" keeps arcs close to
 * equal (so load is even with a modest vnode count) while staying
 * pseudo-random, so adding an actor takes slices from every other actor
 * rather than from one neighbourhood.
 */
export function allocateTokens(existing: readonly RingMember[], id: number, vnodes: number, candidates = 8): number[] {
  if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > 4096) throw new RingError(`vnodes must be 1..4096, got ${vnodes}`);
  const taken: number[] = [];
  for (const m of existing) for (const t of m.tokens) taken.push(t);
  taken.sort((a, b) => a - b);
  const out: number[] = [];
  for (let v = 0; v < vnodes; v++) {
    let best = -1;
    let bestGap = -1;
    for (let c = 0; c < candidates || best < 0; c++) {
      const pos = hashLabel(`${id}/${v}/${c}`);
      const i = lowerBound(taken, pos);
      if (taken[i] === pos) continue;
      const gap = taken.length === 0 ? RING_SIZE : arcLength(i === 0 ? taken[taken.length - 1]! : taken[i - 1]!, i === taken.length ? taken[0]! : taken[i]!);
      if (gap > bestGap) {
        bestGap = gap;
        best = pos;
      }
    }
    taken.splice(lowerBound(taken, best), 0, best);
    out.push(best);
  }
  return out;
}

function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
