/**
 * Planning a membership change, pure (no I/O): which ring the cluster
 * would have after adding or removing actors, and which ranges would have
 * to move from which actor to which. Consistent hashing keeps this small:
 * only ranges whose preference list changes move, each to the actor that
 * gains it, from a replica that keeps it.
 */
import { allocateTokens, arcLength, Ring, RING_SIZE, type RingMember } from '../ring/ring.js';

export type MembershipChange =
  | { readonly kind: 'add'; readonly id: number; readonly zone: string; /** Tokens relative to the others (default 1). */ readonly weight?: number }
  | { readonly kind: 'remove'; readonly id: number };

export class MembershipError extends Error {
  override readonly name = 'MembershipError';
}

const MAX_WEIGHT = 16;
const MAX_ACTOR_ID = 1_000_000;

/**
 * The members after `changes`: removed actors leave with their tokens, then
 * each added actor gets round(vnodes × weight) tokens, placed "best of 8"
 * against everyone present (so it takes slices from every other actor).
 */
export function applyChanges(members: readonly RingMember[], changes: readonly MembershipChange[], vnodes: number, n: number): RingMember[] {
  if (!Array.isArray(changes) || changes.length === 0) throw new MembershipError('a plan needs at least one change');
  const ids = new Set(members.map((m) => m.id));
  const touched = new Set<number>();
  for (const c of changes) {
    if (c === null || typeof c !== 'object' || (c.kind !== 'add' && c.kind !== 'remove')) throw new MembershipError(`a change is { kind: 'add', id, zone, weight? } or { kind: 'remove', id }, got ${JSON.stringify(c)}`);
    if (!Number.isInteger(c.id) || c.id < 0 || c.id > MAX_ACTOR_ID) throw new MembershipError(`actor id must be an integer in 0..${MAX_ACTOR_ID}, got ${String(c.id)}`);
    if (touched.has(c.id)) throw new MembershipError(`actor ${c.id} appears in more than one change`);
    touched.add(c.id);
    if (c.kind === 'remove' && !ids.has(c.id)) throw new MembershipError(`cannot remove actor ${c.id}: not a member`);
    if (c.kind === 'add') {
      if (ids.has(c.id)) throw new MembershipError(`cannot add actor ${c.id}: already a member`);
      if (typeof c.zone !== 'string' || c.zone.length === 0 || c.zone.length > 64) throw new MembershipError(`zone must be a non-empty string of at most 64 chars, got ${JSON.stringify(c.zone)}`);
      const w = c.weight ?? 1;
      if (typeof w !== 'number' || !(w > 0 && w <= MAX_WEIGHT)) throw new MembershipError(`weight must be in (0, ${MAX_WEIGHT}], got ${String(c.weight)}`);
    }
  }
  const removed = new Set(changes.filter((c) => c.kind === 'remove').map((c) => c.id));
  const out: RingMember[] = members.filter((m) => !removed.has(m.id));
  for (const c of changes) {
    if (c.kind !== 'add') continue;
    const tokens = Math.max(1, Math.round(vnodes * (c.weight ?? 1)));
    out.push({ id: c.id, zone: c.zone, tokens: allocateTokens(out, c.id, tokens) });
  }
  if (out.length < n) throw new MembershipError(`the change leaves ${out.length} actors; n=${n} needs at least ${n}`);
  return out;
}

/** One actor streaming ranges to another. */
export interface Transfer {
  readonly from: number;
  readonly to: number;
  /** Ring ranges (start, end] the target gains, in ring order; adjacent ones merged. */
  readonly ranges: readonly (readonly [number, number])[];
  /** Share of the ring these ranges cover (0..1). */
  readonly fraction: number;
  /** Keys and bytes to stream, estimated from the source's per-arc figures (0 without them). */
  readonly keys: number;
  readonly bytes: number;
}

/** What an actor holds in an arc of the current ring (from its Merkle trees), for estimates. */
export type ArcContents = (arcIndex: number, actor: number) => { readonly keys: number; readonly bytes: number } | undefined;

export interface TransferPlan {
  readonly transfers: Transfer[];
  /** Fraction of all key replicas that move: gained range length over RING_SIZE × n. */
  readonly movedFraction: number;
}

/**
 * The transfers that take a cluster from ring `before` to ring `after`.
 * The ring is cut at every token of either ring, so each segment has one
 * preference list before and one after; every actor that gains a segment
 * gets it from the replica leaving the cluster if there is one (it hands
 * off its own data), else from a replica that keeps it — the one with the
 * least to send so far — or, when none does, from its first replica before.
 * Actors in `gone` (a node lost for good) send nothing: their segments come
 * from a replica that keeps them, or from another old replica; a segment
 * whose every old replica is gone has no source and is not streamed.
 */
export function planTransfers(before: Ring, after: Ring, contents: ArcContents = () => undefined, gone: ReadonlySet<number> = new Set()): TransferPlan {
  if (before.n !== after.n) throw new MembershipError(`n must not change (${before.n} → ${after.n})`);
  const bounds = [...new Set([...before.arcs().map((a) => a.end), ...after.arcs().map((a) => a.end)])].sort((a, b) => a - b);
  const byPair = new Map<string, { from: number; to: number; ranges: [number, number][]; length: number; keys: number; bytes: number }>();
  const sending = new Map<number, number>();
  let moved = 0;
  for (let i = 0; i < bounds.length; i++) {
    const start = i === 0 ? bounds[bounds.length - 1]! : bounds[i - 1]!;
    const end = bounds[i]!;
    const length = bounds.length === 1 ? RING_SIZE : (end - start + RING_SIZE) % RING_SIZE;
    const was = before.preferenceList(end);
    const will = after.preferenceList(end);
    const keeping = was.filter((id) => will.includes(id) && !gone.has(id));
    const departing = was.find((id) => !after.members.has(id) && !gone.has(id));
    const anyOld = was.find((id) => !gone.has(id));
    for (const to of will) {
      if (was.includes(to)) continue;
      if (anyOld === undefined) continue; // every replica it had is gone: nothing to stream from
      // An actor leaving the cluster hands off what it holds itself (it may hold writes no other replica has yet);
      // otherwise the keeping replica with the least to send so far, so the streaming load spreads.
      let from = departing ?? keeping[0] ?? anyOld;
      if (departing === undefined) for (const id of keeping) if ((sending.get(id) ?? 0) < (sending.get(from) ?? 0)) from = id;
      sending.set(from, (sending.get(from) ?? 0) + length);
      const k = `${from}>${to}`;
      let t = byPair.get(k);
      if (t === undefined) byPair.set(k, (t = { from, to, ranges: [], length: 0, keys: 0, bytes: 0 }));
      const last = t.ranges[t.ranges.length - 1];
      if (last !== undefined && last[1] === start) last[1] = end;
      else t.ranges.push([start, end]);
      t.length += length;
      moved += length;
      // the segment lies inside one arc of the current ring: its share of what the source holds there
      const arc = before.arc(before.arcIndex(end));
      const held = contents(arc.index, from);
      if (held !== undefined) {
        const share = length / arcLength(arc.start, arc.end);
        t.keys += held.keys * share;
        t.bytes += held.bytes * share;
      }
    }
  }
  const transfers = [...byPair.values()]
    .map((t) => ({ from: t.from, to: t.to, ranges: t.ranges, fraction: t.length / RING_SIZE, keys: Math.round(t.keys), bytes: Math.round(t.bytes) }))
    .sort((a, b) => a.to - b.to || a.from - b.from);
  return { transfers, movedFraction: moved / (RING_SIZE * before.n) };
}

/**
 * A transfer push in two halves, for one that came back cut short (it held
 * more than maxRepairPushEntries) or with lost acks: the halves of its
 * ranges, or of its one range (start, end], split at the middle of the arc
 * (it may wrap past 2^32). Null when it is one position and cannot be split.
 */
export function splitPushRanges(ranges: readonly (readonly [number, number])[]): [[number, number][], [number, number][]] | null {
  if (ranges.length > 1) {
    const half = Math.ceil(ranges.length / 2);
    return [ranges.slice(0, half).map(([a, b]) => [a, b]), ranges.slice(half).map(([a, b]) => [a, b])];
  }
  if (ranges.length === 0) return null;
  const [start, end] = ranges[0]!;
  const length = arcLength(start, end);
  if (length < 2) return null;
  const middle = (start + Math.floor(length / 2)) % RING_SIZE;
  return [[[start, middle]], [[middle, end]]];
}
