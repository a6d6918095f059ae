/**
 * Which actors a write goes to: the sloppy-quorum decision (Dynamo §4.6),
 * pure. A busy actor is not a dead one, so peers are told apart in two
 * kinds:
 * - dead: there is evidence it cannot take the write (its thread ended, the
 *   link to it is gone or cut by a fault). It gets nothing; a substitute
 *   holds a hint for it, so N copies still exist.
 * - suspected: gossip has not heard from it for a while, but it may only be
 *   slow. It still gets the write (if it is alive its ack counts), and a
 *   substitute is added only where W would otherwise depend on suspects.
 * A write fails before it starts only on evidence: fewer than W actors can
 * take it at all. Everything else is left to the deadline.
 */
export interface PeerHealth {
  dead(id: number): boolean;
  suspected(id: number): boolean;
}

export type WritePlan =
  | {
      readonly ok: true;
      /** Preference-list actors that get the write (self first if it is one). */
      readonly owners: readonly number[];
      /** Substitute → the preference-list actor it holds a hint for. */
      readonly hintFor: ReadonlyMap<number, number>;
      /** owners then substitutes: everyone asked. */
      readonly targets: readonly number[];
    }
  | { readonly ok: false; readonly reachable: number; readonly reason: string };

const NO_HINTS: ReadonlyMap<number, number> = new Map();

/**
 * `pref`: the key's preference list; `walk`: every ring member clockwise
 * from the key (the order substitutes are taken in), asked for only when a
 * substitute is needed. Strict writes take no substitutes.
 */
export function planWriteTargets(self: number, pref: readonly number[], walk: () => readonly number[], w: number, strict: boolean, health: PeerHealth): WritePlan {
  if (!Number.isInteger(w) || w < 1 || w > pref.length) throw new RangeError(`w=${w} impossible with ${pref.length} replicas`);
  // the common case, on every put: every replica healthy, the plan is the preference list itself
  if (pref.every((id) => id === self || (!health.dead(id) && !health.suspected(id)))) return { ok: true, owners: pref, hintFor: NO_HINTS, targets: pref };
  const owners = pref.filter((id) => id === self || !health.dead(id));
  const hintFor = new Map<number, number>();
  if (!strict) {
    // every dead owner gets a substitute (N copies); suspects only as many as W needs
    const candidates = walk().filter((id) => id !== self && !pref.includes(id) && !health.dead(id) && !health.suspected(id));
    const suspects = owners.filter((id) => id !== self && health.suspected(id));
    let sound = owners.length - suspects.length;
    for (const id of pref) {
      if (owners.includes(id) || candidates.length === 0) continue;
      hintFor.set(candidates.shift()!, id);
      sound++;
    }
    for (const id of suspects) {
      if (sound >= w || candidates.length === 0) break;
      hintFor.set(candidates.shift()!, id);
      sound++;
    }
  }
  const targets = [...owners, ...hintFor.keys()];
  if (targets.length < w) {
    const reason = strict ? `strict: only ${owners.length} of the key's ${pref.length} replicas are up` : `only ${targets.length} actors can take it`;
    return { ok: false, reachable: targets.length, reason };
  }
  return { ok: true, owners, hintFor, targets };
}
