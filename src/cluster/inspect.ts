/** What each replica of a key stores, as is: for checking convergence in tests and tools. */
import { QuorumError } from '../errors.js';
import { ringPosition } from '../ring/hash.js';
import type { Ring } from '../ring/ring.js';
import type { ActorStatus } from '../supervisor/supervisor.js';
import { MsgType, type Message } from '../transport/protocol.js';
import * as dvv from '../versioning/dvvset.js';
import { compareSiblings, decodeClock, encodeContext, isExpired, isTombstone } from '../versioning/sibling.js';
import type { Liveness } from './liveness.js';
import type { Router } from './router.js';
import { decodeValue, type Value } from './values.js';

/** What one replica stores for a key, as is (no quorum, no reconciliation). */
export interface ReplicaView {
  readonly actor: number;
  readonly status: ActorStatus;
  /** 'replica': the actor is in the key's preference list; 'hint': it holds a hint for `hintFor`. */
  readonly role: 'replica' | 'hint';
  readonly hintFor?: number;
  /** null when the actor could not be asked (down) or did not answer. */
  readonly found: boolean | null;
  /** Every stored version, tombstones and expired values included, newest first (expiresAtMs 0: never). */
  readonly versions: { value: Value | null; deleted: boolean; expired: boolean; expiresAtMs: number; timestampMs: number; writer: number }[];
  /** The causal context of what this replica holds ('' when nothing). */
  readonly context: string;
}

type Stored = Pick<ReplicaView, 'found' | 'versions' | 'context'>;

/**
 * What each actor of the key's preference list stores for it, and every
 * hint for it any actor holds (see Cluster.inspect): replicas in
 * preference-list order, then hint holders.
 */
export async function inspectReplicas(ring: Ring, liveness: Liveness, router: Router, keyBytes: Uint8Array, timeoutMs: number, nowMs: number): Promise<ReplicaView[]> {
  const position = ringPosition(keyBytes);
  const pref = ring.preferenceList(position);
  // Ask every live actor: the replicas for what they store, every actor for hints it holds.
  const views = await Promise.all(
    [...ring.members.keys()].map(async (actor): Promise<ReplicaView[]> => {
      const status = liveness.statusOf(actor);
      const isReplica = pref.includes(actor);
      const unknown: ReplicaView = { actor, status, role: 'replica', found: null, versions: [], context: '' };
      if (!liveness.isRunning(actor)) return isReplica ? [unknown] : [];
      let reply: Message;
      try {
        reply = await router.sendTo(actor, 'get', 1, pref.length, timeoutMs, (req) => ({ type: MsgType.ClientInspect, req, key: keyBytes, position }));
      } catch (err) {
        if (err instanceof QuorumError) return isReplica ? [unknown] : [];
        throw err;
      }
      if (reply.type !== MsgType.InspectOk) throw new Error('internal: unexpected reply');
      const out: ReplicaView[] = [];
      if (isReplica) out.push({ actor, status, role: 'replica', ...stored(reply.clock, nowMs) });
      for (const [owner, clock] of reply.hints) out.push({ actor, status, role: 'hint', hintFor: owner, ...stored(clock, nowMs) });
      return out;
    }),
  );
  const all = views.flat();
  return [...pref.map((id) => all.find((v) => v.actor === id && v.role === 'replica')!), ...all.filter((v) => v.role === 'hint')];
}

/** One stored clock as a replica view shows it ('' bytes: nothing stored). */
function stored(bytes: Uint8Array, nowMs: number): Stored {
  if (bytes.length === 0) return { found: false, versions: [], context: '' };
  const clock = decodeClock(bytes);
  const versions = dvv
    .values(clock)
    .sort((a, b) => compareSiblings(b, a))
    .map((s) => ({ value: isTombstone(s) ? null : decodeValue(s), deleted: isTombstone(s), expired: isExpired(s, nowMs), expiresAtMs: s.expiresAtMs ?? 0, timestampMs: s.timestampMs, writer: s.writer }));
  return { found: versions.some((x) => !x.deleted && !x.expired), versions, context: encodeContext(dvv.join(clock)) };
}
