import { ByteReader, ByteWriter, CorruptDataError } from '../encoding/bytes.js';
import * as dvv from './dvvset.js';
import type { DVVSet, VersionVector } from './dvvset.js';
import { decodeCounter, encodeCounter, merge as mergeCounters } from './counter.js';

/** How a stored value is read back: the type the client wrote. */
export const enum ValueKind {
  Bytes = 0,
  String = 1,
  Json = 2,
  Tombstone = 3,
  /**
   * A PN-counter (versioning/counter.ts). Stored data is the encoded counter;
   * in a ClientPut the data is instead an encoded Delta (an increment request).
   * Added without a new STORED_FORMAT: stored clocks of format 1 written
   * before counters existed simply never hold this kind.
   */
  Counter = 4,
}

/** One version of a key's value: what a DVVSet holds per event. */
export interface Sibling {
  readonly kind: ValueKind;
  /** Coordinator's clock when written; used only by last-write-wins and for display. */
  readonly timestampMs: number;
  /** Actor that coordinated the write (breaks LWW timestamp ties). */
  readonly writer: number;
  /** Encoded payload (empty for tombstones). */
  readonly data: Uint8Array;
  /**
   * When the value stops being visible (wall-clock ms since the epoch);
   * absent or 0: never. Part of the version, so it replicates, repairs and
   * merges with the value.
   */
  readonly expiresAtMs?: number;
}

export type Clock = DVVSet<Sibling>;

const STORED_FORMAT = 1;

/** Byte order; only the sign is meaningful. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  // native memcmp pays off past a few dozen bytes (stored clocks with their values are ~100+)
  if (n > 48) return Buffer.compare(a, b);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Total order on siblings: canonical ordering of anonymous values and LWW's "newer". */
export function compareSiblings(a: Sibling, b: Sibling): number {
  return a.timestampMs - b.timestampMs || a.writer - b.writer || a.kind - b.kind || compareBytes(a.data, b.data) || (a.expiresAtMs ?? 0) - (b.expiresAtMs ?? 0);
}

export const newerSibling = (a: Sibling, b: Sibling): boolean => compareSiblings(a, b) > 0;

export function isTombstone(s: Sibling): boolean {
  return s.kind === ValueKind.Tombstone;
}

/** Expired at `nowMs`: invisible to every read, as a tombstone is. */
export function isExpired(s: Sibling, nowMs: number): boolean {
  return s.expiresAtMs !== undefined && s.expiresAtMs > 0 && s.expiresAtMs <= nowMs;
}

/** A value a read shows at `nowMs`: neither a tombstone nor expired. */
export function isLive(s: Sibling, nowMs: number): boolean {
  return s.kind !== ValueKind.Tombstone && !isExpired(s, nowMs);
}

/** True when no sibling is live at `nowMs` (the key reads as deleted). */
export function isDeleted(c: Clock, nowMs: number): boolean {
  return !dvv.values(c).some((s) => isLive(s, nowMs));
}

/** Set on a stored sibling's kind byte when an expiry follows the writer id (older data never has it). */
const HAS_EXPIRY = 0x80;

function writeSibling(w: ByteWriter, s: Sibling): void {
  const expiresAtMs = s.expiresAtMs ?? 0;
  w.u8(expiresAtMs > 0 ? s.kind | HAS_EXPIRY : s.kind)
    .varint(s.timestampMs)
    .varint(s.writer);
  if (expiresAtMs > 0) w.varint(expiresAtMs);
  w.bytes(s.data);
}

function readSibling(r: ByteReader): Sibling {
  const flags = r.u8();
  const kind = flags & ~HAS_EXPIRY;
  if (kind > ValueKind.Counter) throw new CorruptDataError(`unknown value kind ${kind}`);
  const timestampMs = r.varint();
  const writer = r.varint();
  const expiresAtMs = (flags & HAS_EXPIRY) === 0 ? 0 : r.varint();
  if ((flags & HAS_EXPIRY) !== 0 && expiresAtMs === 0) throw new CorruptDataError('an expiry flag with no expiry');
  const data = r.bytes();
  // a damaged counter fails here, loudly, not later inside a merge
  if (kind === ValueKind.Counter) decodeCounter(data);
  return expiresAtMs === 0 ? { kind, timestampMs, writer, data } : { kind, timestampMs, writer, data, expiresAtMs };
}

/** Canonical binary form of a clock: equal clocks encode to equal bytes on every replica. */
const clockWriter = new ByteWriter(1024);

export function encodeClock(c: Clock): Uint8Array {
  const w = clockWriter; // reused: single-threaded, and finish() copies out
  w.reset();
  w.u8(STORED_FORMAT).varint(c.entries.length);
  for (const e of c.entries) {
    w.varint(e.id).varint(e.counter).varint(e.values.length);
    for (const v of e.values) writeSibling(w, v);
  }
  w.varint(c.anonymous.length);
  for (const v of c.anonymous) writeSibling(w, v);
  return w.finish();
}

/**
 * Decode only a clock's causal history (entry ids and counters), skipping
 * sibling payloads: enough for `dvv.less`, which is all a replica needs in
 * the common case of receiving a strictly newer version.
 */
export function decodeHistory(bytes: Uint8Array): Clock {
  return decode(bytes, false);
}

/** Decode a stored clock; sibling payloads are views into `bytes`. */
export function decodeClock(bytes: Uint8Array): Clock {
  return decode(bytes, true);
}

function decode(bytes: Uint8Array, withValues: boolean): Clock {
  const r = new ByteReader(bytes);
  const format = r.u8();
  if (format !== STORED_FORMAT) throw new CorruptDataError(`unknown stored clock format ${format}`);
  const entries: dvv.Entry<Sibling>[] = [];
  const ne = r.varint();
  let prevId = -1;
  for (let i = 0; i < ne; i++) {
    const id = r.varint();
    if (id <= prevId) throw new CorruptDataError(`entry ids not strictly increasing (${prevId}, ${id})`);
    prevId = id;
    const counter = r.varint();
    const nv = r.varint();
    if (nv > counter) throw new CorruptDataError(`actor ${id}: ${nv} values for counter ${counter}`);
    const values: Sibling[] = [];
    for (let j = 0; j < nv; j++) {
      const v = readSibling(r);
      if (withValues) values.push(v);
    }
    entries.push({ id, counter, values });
  }
  if (!withValues) return { entries, anonymous: [] };
  const na = r.varint();
  const anonymous: Sibling[] = [];
  for (let i = 0; i < na; i++) anonymous.push(readSibling(r));
  r.end();
  const clock = { entries, anonymous };
  dvv.assertValid(clock);
  return clock;
}

/** Binary form of a version vector (used on the wire and inside contexts). */
const vvWriter = new ByteWriter(256);

export function encodeVV(vv: VersionVector): Uint8Array {
  const w = vvWriter; // reused: single-threaded, and finish() copies out
  w.reset();
  w.varint(vv.length);
  for (const [id, c] of vv) w.varint(id).varint(c);
  return w.finish();
}

export function decodeVV(bytes: Uint8Array): VersionVector {
  if (bytes.length === 0) return dvv.EMPTY_VV;
  const r = new ByteReader(bytes);
  const n = r.varint();
  if (n > 65_536) throw new CorruptDataError(`version vector with ${n} entries`);
  const vv: [number, number][] = [];
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const id = r.varint();
    const c = r.varint();
    if (id <= prev) throw new CorruptDataError('version vector not sorted by actor id');
    vv.push([id, c]);
    prev = id;
  }
  r.end();
  return vv;
}

/** Opaque causal context handed to clients: base64url of the version vector ('' = nothing seen). */
export function encodeContext(vv: VersionVector): string {
  if (vv.length === 0) return '';
  return Buffer.from(encodeVV(vv)).toString('base64url');
}

/** encodeVV(dvv.join(c)) without building the intermediate version vector. */
export function encodeJoin(c: Clock): Uint8Array {
  const w = vvWriter;
  w.reset();
  w.varint(c.entries.length);
  for (const e of c.entries) w.varint(e.id).varint(e.counter);
  return w.finish();
}

/** The context string for a version vector already in wire form (skips a decode/encode round trip). */
export function contextOfEncodedVV(bytes: Uint8Array): string {
  if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 0)) return '';
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
}

export function decodeContext(context: string): VersionVector {
  if (context === '') return dvv.EMPTY_VV;
  if (!/^[A-Za-z0-9_-]+$/.test(context)) throw new CorruptDataError('context is not base64url');
  const bytes = Buffer.from(context, 'base64url');
  // Buffer silently drops stray bits ('A' decodes to nothing): accept only what encodeContext produces.
  if (bytes.length === 0 || bytes.toString('base64url') !== context) throw new CorruptDataError('context is not canonical base64url');
  return decodeVV(bytes);
}

/**
 * Merge two versions of a key: the one place replicas' versions meet
 * (replica writes, read reconciliation, direct reads, hints, anti-entropy,
 * read repair). Concurrent counters then collapse into one by CRDT merge.
 */
export const syncClocks = (a: Clock, b: Clock): Clock => collapseCounters(dvv.sync(a, b, compareSiblings));

/**
 * Concurrent counter siblings are one counter: merge them (per-writer max,
 * so nothing is lost or counted twice) into a single value. As with the
 * last-write-wins collapse (dvv.lww), every remaining value becomes an
 * anonymous value over the unchanged causal history, so later syncs of
 * collapsed and uncollapsed replicas commute; a later write that saw the
 * whole history supersedes them all. With fewer than two counter siblings
 * there is nothing to merge and the clock is returned as is.
 */
export function collapseCounters(c: Clock): Clock {
  const all = dvv.values(c);
  let counters = 0;
  for (const v of all) if (v.kind === ValueKind.Counter) counters++;
  if (counters < 2) return c;
  let merged: Sibling | null = null;
  const others: Sibling[] = [];
  for (const v of all) {
    if (v.kind !== ValueKind.Counter) others.push(v);
    else merged = merged === null ? v : mergeCounterSiblings(merged, v);
  }
  const anonymous = [merged!];
  for (const v of others) if (!anonymous.some((x) => compareSiblings(x, v) === 0)) anonymous.push(v);
  anonymous.sort(compareSiblings);
  const entries = c.entries.map((e) => (e.values.length === 0 ? e : { id: e.id, counter: e.counter, values: [] }));
  return { entries, anonymous };
}

/** One counter sibling from two: the counters joined; timestamp, writer and expiry of the newer (a join too, so the result is order-free). */
function mergeCounterSiblings(a: Sibling, b: Sibling): Sibling {
  const newer = compareSiblings(a, b) >= 0 ? a : b;
  const data = encodeCounter(mergeCounters(decodeCounter(a.data), decodeCounter(b.data)));
  const merged = { kind: ValueKind.Counter, timestampMs: newer.timestampMs, writer: newer.writer, data };
  return (newer.expiresAtMs ?? 0) > 0 ? { ...merged, expiresAtMs: newer.expiresAtMs! } : merged;
}

/**
 * Whether a stored clock holds at least one sibling and only tombstones,
 * read without building the clock (a Merkle build asks this of every
 * entry). Bytes that are not a stored clock answer false.
 */
export function isAllTombstones(bytes: Uint8Array): boolean {
  return everySibling(bytes, (kind) => kind === ValueKind.Tombstone);
}

/**
 * May the tombstone GC find this entry collectable: is every sibling a
 * tombstone or an expiring value? (Whether each is old enough is decided on
 * the decoded clock, see reapable.) Read without building the clock.
 */
export function isAllTombstonesOrExpiring(bytes: Uint8Array): boolean {
  return everySibling(bytes, (kind, expiresAtMs) => kind === ValueKind.Tombstone || expiresAtMs > 0);
}

/**
 * When a stored entry of expiring values becomes collectable: the latest
 * expiry of its values, or tombstone write time, when every sibling is an
 * expiring value or a tombstone and at least one expires; 0 otherwise (a
 * value that never expires, or tombstones only, which only an anti-entropy
 * pass collects). What the expiry sweep indexes a write under (expiry-sweep.ts).
 * Read without building the clock.
 */
export function expiryDueMs(bytes: Uint8Array): number {
  let due = 0;
  let expiring = false;
  const all = everySibling(bytes, (kind, expiresAtMs, timestampMs) => {
    if (expiresAtMs > 0) {
      expiring = true;
      due = Math.max(due, expiresAtMs);
      return true;
    }
    if (kind !== ValueKind.Tombstone) return false;
    due = Math.max(due, timestampMs);
    return true;
  });
  return all && expiring ? due : 0;
}

/**
 * The tombstone GC's test on a decoded clock: every sibling a tombstone
 * written before `cutoffMs`, or a value that expired before it. Either way
 * no read can see it, and every replica has had the grace period to hold it.
 */
export function reapable(c: Clock, cutoffMs: number): boolean {
  const values = dvv.values(c);
  return values.length > 0 && values.every((s) => (s.kind === ValueKind.Tombstone ? s.timestampMs < cutoffMs : (s.expiresAtMs ?? 0) > 0 && s.expiresAtMs! < cutoffMs));
}

/** Does `test` hold for every sibling of a stored clock (and is there one)? Bytes that are not a stored clock answer false. */
function everySibling(bytes: Uint8Array, test: (kind: number, expiresAtMs: number, timestampMs: number) => boolean): boolean {
  try {
    const r = new ByteReader(bytes);
    if (r.u8() !== STORED_FORMAT) return false;
    let siblings = 0;
    const skipSiblings = (count: number): boolean => {
      for (let j = 0; j < count; j++) {
        const flags = r.u8();
        const timestampMs = r.varint();
        r.varint();
        const expiresAtMs = (flags & HAS_EXPIRY) !== 0 ? r.varint() : 0;
        r.bytes();
        siblings++;
        if (!test(flags & ~HAS_EXPIRY, expiresAtMs, timestampMs)) return false;
      }
      return true;
    };
    const ne = r.varint();
    for (let i = 0; i < ne; i++) {
      r.varint();
      r.varint();
      if (!skipSiblings(r.varint())) return false;
    }
    if (!skipSiblings(r.varint())) return false;
    return siblings > 0 && r.remaining === 0;
  } catch {
    return false;
  }
}
