/**
 * Whether a read may be served by the front end reading the replicas' LMDB
 * snapshots directly, and which replicas it reads. Pure: the front end
 * gathers each replica's health, this decides.
 *
 * Direct is allowed only where it answers exactly what a coordinator would:
 * - the ring is not switching (a coordinator switches rings mid-change; while
 *   a change only streams, reads and writes are coordinated by the old ring,
 *   which is what a direct read uses);
 * - no injected fault touches any of the key's replicas (faults must keep
 *   their meaning: the read meets the partition, pause, loss or delay);
 * - the replicas read are the first R of the preference list that are up
 *   (thread running, gossip majority not saying down), not recovering, and
 *   whose env is open — the same ones a coordinator would count: it skips
 *   replicas it sees down and does not count a recovering one.
 * Anything else goes to a coordinator actor, which has spares, speculative
 * retries, deadlines and the typed errors.
 */

export interface ReplicaHealth {
  /** The supervisor runs its thread. */
  readonly running: boolean;
  /** A majority of gossip observers see it down. */
  readonly gossipDown: boolean;
  /** It lost its disk and anti-entropy has not refilled it: its reads do not count. */
  readonly recovering: boolean;
  /** Its env is open for this incarnation (published in its read signal). */
  readonly open: boolean;
  /** An injected fault (link rule on either end, or a pause) touches it. */
  readonly faulted: boolean;
}

export interface ReadRouteQuery {
  /** The directReads option. */
  readonly enabled: boolean;
  /** A membership change is in progress. */
  readonly ringChanging: boolean;
  /** The caller named a coordinator (`via`): it coordinates, as asked. */
  readonly via: boolean;
  /** Replies needed, 1..pref.length. */
  readonly r: number;
  /** The key's preference list. */
  readonly pref: readonly number[];
}

/** Why a read went to a coordinator (counted per reason). */
export type CoordinatedReason = 'disabled' | 'via' | 'ring-changing' | 'fault' | 'unhealthy' | 'error';

export const COORDINATED_REASONS: readonly CoordinatedReason[] = ['disabled', 'via', 'ring-changing', 'fault', 'unhealthy', 'error'];

export type ReadRoute = { readonly direct: true; readonly replicas: readonly number[] } | { readonly direct: false; readonly reason: CoordinatedReason };

/** May this replica's stored value count toward R in a direct read? */
export function readable(h: ReplicaHealth): boolean {
  return h.running && !h.gossipDown && !h.recovering && h.open && !h.faulted;
}

export function routeRead(q: ReadRouteQuery, health: (id: number) => ReplicaHealth): ReadRoute {
  if (!q.enabled) return { direct: false, reason: 'disabled' };
  if (q.via) return { direct: false, reason: 'via' };
  if (q.ringChanging) return { direct: false, reason: 'ring-changing' };
  if (!Number.isInteger(q.r) || q.r < 1 || q.r > q.pref.length) throw new RangeError(`r=${q.r} impossible with ${q.pref.length} replicas`);
  const replicas: number[] = [];
  for (const id of q.pref) {
    const h = health(id);
    if (h.faulted) return { direct: false, reason: 'fault' };
    if (replicas.length < q.r && readable(h)) replicas.push(id);
  }
  if (replicas.length < q.r) return { direct: false, reason: 'unhealthy' };
  return { direct: true, replicas };
}
