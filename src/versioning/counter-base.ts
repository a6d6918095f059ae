/**
 * What an increment starts from, given every sibling a coordinator holds for
 * the key (Redis's INCR rules, on a store with siblings). Pure.
 *
 * - nothing live (absent, deleted): a counter at 0;
 * - counters merge (per-writer max) into one;
 * - a plain value holding a number (a string or bytes in Redis's integer
 *   syntax — or, for INCRBYFLOAT, float syntax — or a JSON number) becomes a
 *   counter's base, merged by max with any counter beside it (a SET
 *   concurrent with increments: every increment still counts);
 * - any other live value: the increment is refused (Redis's "value is not an
 *   integer or out of range" / "value is not a valid float"), nothing changes.
 */
import { ValueKind, type Sibling } from './sibling.js';
import { currentLineage, decodeCounter, EMPTY_COUNTER, fromBase, merge, value, type Counter } from './counter.js';

export type BaseRefusal = 'not-integer' | 'not-float';

/** Redis's string2ll: optional '-', no leading zeros, no spaces or '+'; here also within ±(2^53−1). */
const INTEGER_TEXT = /^(0|-?[1-9][0-9]{0,19})$/;
/** Redis's string2ld accepts strtold's decimal syntax without surrounding spaces; inf and nan are refused. */
const FLOAT_TEXT = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;
/** Redis refuses numeric strings longer than this (MAX_LONG_DOUBLE_CHARS). */
export const MAX_NUMBER_TEXT_BYTES = 5 * 1024;

/** A Redis integer string's value, or null when it is not one (or is outside the safe integer range). */
export function parseIntegerText(text: string): number | null {
  if (!INTEGER_TEXT.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** A Redis float string's value, or null when it is not one (or is not finite). */
export function parseFloatText(text: string): number | null {
  if (text.length > MAX_NUMBER_TEXT_BYTES || !FLOAT_TEXT.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** The number a plain (non-counter) value holds, as INCR (`integer`) or INCRBYFLOAT reads it; null when none. */
function plainNumber(s: Sibling, integer: boolean): number | null {
  if (s.kind === ValueKind.Json) {
    const text = Buffer.from(s.data.buffer, s.data.byteOffset, s.data.length).toString('utf8');
    const n: unknown = JSON.parse(text);
    if (typeof n !== 'number') return null;
    return integer ? (Number.isSafeInteger(n) ? n : null) : Number.isFinite(n) ? n : null;
  }
  if (s.kind !== ValueKind.String && s.kind !== ValueKind.Bytes) return null;
  if (s.data.length > MAX_NUMBER_TEXT_BYTES) return null;
  const text = Buffer.from(s.data.buffer, s.data.byteOffset, s.data.length).toString('latin1');
  return integer ? parseIntegerText(text) : parseFloatText(text);
}

/** Where an increment starts: the counter (every lineage it holds) and the lineage its delta goes to. */
export interface IncrementBase {
  readonly counter: Counter;
  readonly lineage: Uint8Array;
}

/**
 * The counter an increment (integral for INCR, `integer`) starts from, or
 * why it cannot start. `stateId` names the state the siblings are (the
 * encoded version vector of the coordinator's copy): a counter that starts
 * here — from nothing, a deletion or a plain number — is the lineage of that
 * name, which any coordinator starting from the same state shares.
 */
export function counterBase(siblings: readonly Sibling[], integer: boolean, stateId: Uint8Array): IncrementBase | BaseRefusal {
  const refusal: BaseRefusal = integer ? 'not-integer' : 'not-float';
  let counter: Counter = EMPTY_COUNTER;
  let startsHere = true;
  for (const s of siblings) {
    if (s.kind === ValueKind.Tombstone) continue;
    if (s.kind === ValueKind.Counter) {
      counter = merge(counter, decodeCounter(s.data));
      startsHere = false;
      continue;
    }
    const n = plainNumber(s, integer);
    if (n === null) return refusal;
    // several plain numbers (concurrent SETs) start one lineage: its base is the largest
    counter = merge(counter, fromBase(stateId, n));
  }
  // a plain number beside counters (a SET concurrent with increments) starts a lineage too
  if (siblings.some((s) => s.kind !== ValueKind.Tombstone && s.kind !== ValueKind.Counter)) startsHere = true;
  // INCR of a counter INCRBYFLOAT made fractional: Redis refuses INCR of "10.5" the same way.
  if (integer && !Number.isSafeInteger(value(counter))) return refusal;
  return { counter, lineage: startsHere ? stateId : currentLineage(counter) };
}
