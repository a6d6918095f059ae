import type { ErrorCode } from '../errors.js';
import { Ring } from '../ring/ring.js';
import type { Clock, Timers } from '../runtime/services.js';
import type { ReplicaStore, WriteDone } from '../storage/replica-store.js';
import { MsgType } from '../transport/protocol.js';
import type { Transport } from '../transport/transport.js';
import type { ActorConfig } from './config.js';

/** An empty value on the wire: nothing stored, no counter. */
export const EMPTY = new Uint8Array(0);

/** For writes whose outcome nobody waits for (repairs, reaps, dropped hints). */
export const IGNORE_WRITE: WriteDone = () => undefined;

/**
 * What every job of one actor shares: the injected services, the config,
 * the ring as it stands (and the one a membership change is moving to),
 * and whether the actor is closing. The jobs hold it; only the actor shell
 * changes the ring or closes.
 */
export class ActorContext {
  readonly id: number;
  ring: Ring;
  /** The ring a membership change is moving to, while its transfers run (writes are forwarded to its new replicas). */
  pendingRing: Ring | null = null;
  closing = false;

  constructor(
    readonly config: ActorConfig,
    readonly store: ReplicaStore,
    readonly transport: Transport,
    readonly clock: Clock,
    readonly timers: Timers,
  ) {
    this.id = config.id;
    this.ring = Ring.build(config.members, config.n);
    if (!this.ring.members.has(this.id)) throw new Error(`actor ${this.id} is not a ring member`);
  }

  /** Whether this actor replicates `position` under the current ring or the one a change is moving to. */
  replicates(position: number): boolean {
    return this.ring.preferenceList(position).includes(this.id) || (this.pendingRing?.preferenceList(position).includes(this.id) ?? false);
  }

  /** Answer a client request with a typed failure and how many replicas answered. */
  fail(client: number, req: number, code: ErrorCode, answered: number, needed: number, replicas: number, detail: string): void {
    this.transport.send(client, { type: MsgType.Fail, req, code, answered, needed, replicas, detail });
  }
}
