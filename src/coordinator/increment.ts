/**
 * An increment as its coordinator applies it (pure): from every sibling the
 * coordinator holds for the key, the counter it writes — its own writer's
 * entry of the merged local counter, plus the delta — or why it refuses.
 */
import type { ErrorCode } from '../errors.js';
import { add, decodeDelta, encodeCounter } from '../versioning/counter.js';
import { counterBase } from '../versioning/counter-base.js';
import type { Sibling } from '../versioning/sibling.js';

export type IncrementPlan = { readonly ok: true; readonly data: Uint8Array } | { readonly ok: false; readonly code: ErrorCode; readonly detail: string };

/**
 * `deltaBytes` is a ClientPut's data for a Counter kind (an encoded Delta);
 * `stateId` the encoded version vector of the coordinator's copy (names a
 * lineage that starts here: see counter.ts).
 */
export function planIncrement(siblings: readonly Sibling[], stateId: Uint8Array, writer: number, deltaBytes: Uint8Array): IncrementPlan {
  let delta;
  try {
    delta = decodeDelta(deltaBytes);
  } catch (err) {
    return { ok: false, code: 'INVALID_VALUE', detail: (err as Error).message };
  }
  const base = counterBase(siblings, delta.integer, stateId);
  if (typeof base === 'string') return { ok: false, code: 'NOT_A_COUNTER', detail: base };
  const next = add(base.counter, base.lineage, writer, delta.by, delta.integer);
  if (typeof next === 'string') return { ok: false, code: 'COUNTER_OVERFLOW', detail: next };
  return { ok: true, data: encodeCounter(next) };
}
