/** The options and results of the Cluster's requests, and the checks every request's arguments pass. */
import { InvalidOptionError } from '../errors.js';
import * as dvv from '../versioning/dvvset.js';
import { compareSiblings, encodeContext, isLive, type Clock as VersionClock } from '../versioning/sibling.js';
import type { Consistency } from './options.js';
import { decodeValue, type Value } from './values.js';

export interface PutOptions {
  /** Acks needed (default: the cluster's w). */
  readonly w?: Consistency;
  /**
   * The context of a previous get (or put): this write supersedes exactly what
   * that read saw, and versions it did not see stay as siblings. '' (a get of
   * a missing key) is a context too: it saw nothing, so it supersedes nothing.
   *
   * Without a context, the write supersedes every version the coordinating
   * replica holds when it applies the write (what Redis SET and DEL mean): a
   * put replaces, a delete deletes. Versions the coordinator has not seen —
   * writes coordinated elsewhere during a failure — still become siblings.
   */
  readonly context?: string;
  /**
   * put only: add this value beside whatever the key holds, superseding
   * nothing (a blind sibling; the same as `context: ''`). Takes no context.
   */
  readonly sibling?: boolean;
  /**
   * put only: the value expires this many ms from now (integer, 1..MAX_TTL_MS):
   * from then on no read shows it, and the tombstone GC collects it. The
   * expiry is part of the version: it replicates and repairs with the value.
   */
  readonly ttlMs?: number;
  /** put only: the value expires at this wall-clock instant (ms since the epoch; a past one writes a value no read shows). Not with ttlMs. */
  readonly expireAtMs?: number;
  /** Refuse sloppy substitutes for this write (default: the cluster's `strict`). */
  readonly strict?: boolean;
  /** Have this actor of the key's preference list coordinate (as a client connected to that node would); default: the first live one. */
  readonly via?: number;
  readonly timeoutMs?: number;
}

/** A delete takes a put's options but `sibling` (a blind tombstone would hide nothing) and expiry. */
export type DeleteOptions = Omit<PutOptions, 'sibling' | 'ttlMs' | 'expireAtMs'>;

/** The longest ttlMs a put takes: 100 years. */
export const MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000;

/** An increment takes a put's options but a context (it always folds in what its coordinator holds) or `sibling`. */
export interface IncrementOptions extends Omit<PutOptions, 'sibling' | 'context'> {
  /**
   * INCRBYFLOAT: `by` may be any finite number and the counter may become
   * fractional. Without it (INCR), `by` must be a safe integer and the
   * counter must hold an integer.
   */
  readonly float?: boolean;
}

export interface IncrementResult {
  /** The counter's value as the coordinator wrote it: its merged local copy plus `by`. */
  readonly value: number;
  /** Causal context of the counter just written. */
  readonly context: string;
}

export interface GetOptions {
  /** Replies needed (default: the cluster's r). */
  readonly r?: Consistency;
  /** Have this actor of the key's preference list coordinate; default: the first live one. */
  readonly via?: number;
  readonly timeoutMs?: number;
}

/** A read's checked arguments. */
export interface ReadRequest {
  readonly keyBytes: Uint8Array;
  readonly r: number;
  readonly timeoutMs: number;
  readonly via: number | undefined;
}

/** How a callback-style write ends: `err` null and the result, or the typed error. */
export type WriteCallback = (err: Error | null, result?: PutResult) => void;

export interface PutResult {
  /** Causal context of the value just written; pass it to the next put/delete of this key. */
  readonly context: string;
  /** The coordinating replica held a live (not deleted) value for the key when it applied this write. */
  readonly existed: boolean;
}

export interface GetResult {
  /** Every concurrent sibling, newest first (empty when not found or deleted). */
  readonly values: Value[];
  /** When each of `values` expires (ms since the epoch; 0: never), in the same order. */
  readonly expiresAtMs: number[];
  /** Opaque causal context covering every sibling: pass it to a put to resolve them. */
  readonly context: string;
  readonly found: boolean;
}

/** A read's answer from its reconciled clock (null: no replica holds the key). */
export function getResult(clock: VersionClock | null, nowMs: number): GetResult {
  if (clock === null) return { values: [], expiresAtMs: [], context: '', found: false };
  // Newest first (coordinator timestamp, then actor id): front ends that can
  // show only one value (a Redis GET) show the newest, deterministically.
  // Expired values are hidden at once, by this one clock, whatever the replicas' state.
  const live = dvv
    .values(clock)
    .filter((s) => isLive(s, nowMs))
    .sort((a, b) => compareSiblings(b, a));
  return { values: live.map(decodeValue), expiresAtMs: live.map((s) => s.expiresAtMs ?? 0), context: encodeContext(dvv.join(clock)), found: live.length > 0 };
}

/** A put's expiry as an instant (0: none), from ttlMs or expireAtMs; bad values throw InvalidOptionError. */
export function expiryOf(options: PutOptions, nowMs: number): number {
  const { ttlMs, expireAtMs } = options;
  if (ttlMs !== undefined && expireAtMs !== undefined) throw new InvalidOptionError('give ttlMs or expireAtMs, not both');
  if (ttlMs !== undefined) {
    if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TTL_MS) throw new InvalidOptionError(`ttlMs must be an integer in 1..${MAX_TTL_MS}, got ${String(ttlMs)}`);
    return Math.floor(nowMs) + ttlMs;
  }
  if (expireAtMs !== undefined) {
    if (typeof expireAtMs !== 'number' || !Number.isSafeInteger(expireAtMs) || expireAtMs < 1) throw new InvalidOptionError(`expireAtMs must be a positive integer (ms since the epoch), got ${String(expireAtMs)}`);
    return expireAtMs;
  }
  return 0;
}

export function checkRequestOptions(options: object, allowed: readonly string[]): void {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('request options must be an object');
  for (const k in options) {
    if (!Object.hasOwn(options, k)) continue;
    if (!allowed.includes(k)) throw new InvalidOptionError(`unknown request option '${k}' (allowed: ${allowed.join(', ')})`);
  }
}

// Allowed request options, allocated once (these checks run on every request).
export const GET_OPTIONS = ['r', 'timeoutMs', 'via'] as const;
export const PUT_OPTIONS = ['w', 'timeoutMs', 'context', 'sibling', 'strict', 'via', 'ttlMs', 'expireAtMs'] as const;
// A blind tombstone would be a sibling no read shows: delete takes no `sibling`.
export const DELETE_OPTIONS = ['w', 'timeoutMs', 'context', 'strict', 'via'] as const;
export const INCREMENT_OPTIONS = ['w', 'timeoutMs', 'strict', 'via', 'float'] as const;

/** A request's deadline: `t` checked, or the cluster's default. */
export function timeoutOf(t: number | undefined, fallback: number): number {
  if (t === undefined) return fallback;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3_600_000) throw new InvalidOptionError(`timeoutMs must be an integer in 1..3600000, got ${String(t)}`);
  return t;
}

/** A write's `strict`: checked, or the cluster's default. */
export function strictOf(strict: boolean | undefined, fallback: boolean): boolean {
  if (strict !== undefined && typeof strict !== 'boolean') throw new InvalidOptionError('strict must be a boolean');
  return strict ?? fallback;
}
