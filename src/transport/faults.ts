/**
 * Fault rules for one actor's outgoing links, and the pure decision the
 * transport takes for each message. Partitions are two-way because the
 * supervisor installs the rule on both sides.
 */
export interface LinkFaults {
  /** Peers this actor cannot reach at all (a partition). */
  readonly blocked: readonly number[];
  /** Fraction (0..1) of messages to each peer that are lost. */
  readonly drop: readonly (readonly [number, number])[];
  /** Extra delivery delay to each peer, in ms. */
  readonly delayMs: readonly (readonly [number, number])[];
}

export const NO_FAULTS: LinkFaults = Object.freeze({ blocked: [], drop: [], delayMs: [] });

export type Delivery = { readonly kind: 'deliver' } | { readonly kind: 'drop' } | { readonly kind: 'delay'; readonly ms: number };

const DELIVER: Delivery = Object.freeze({ kind: 'deliver' });
const DROP: Delivery = Object.freeze({ kind: 'drop' });

/** What happens to one message to `peer`; `random` is uniform in [0, 1) (injected). */
export function decide(faults: LinkFaults, peer: number, random: () => number): Delivery {
  if (faults.blocked.includes(peer)) return DROP;
  for (const [p, fraction] of faults.drop) if (p === peer && random() < fraction) return DROP;
  for (const [p, ms] of faults.delayMs) if (p === peer && ms > 0) return { kind: 'delay', ms };
  return DELIVER;
}

export function isEmpty(f: LinkFaults): boolean {
  return f.blocked.length === 0 && f.drop.length === 0 && f.delayMs.length === 0;
}

/**
 * Actors a fault touches: those with rules on their own links, those another
 * actor's rules name, and those paused. A direct read leaves a key alone
 * while any of its replicas is here, so its reads meet the fault.
 */
export function touchedActors(rules: Iterable<readonly [number, LinkFaults]>, paused: Iterable<number>): Set<number> {
  const out = new Set<number>(paused);
  for (const [id, f] of rules) {
    if (isEmpty(f)) continue;
    out.add(id);
    for (const peer of f.blocked) out.add(peer);
    for (const [peer] of f.drop) out.add(peer);
    for (const [peer] of f.delayMs) out.add(peer);
  }
  return out;
}
