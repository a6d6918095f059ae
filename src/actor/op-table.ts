import assert from 'node:assert/strict';
import { NUMBERS_PER_RUN, RunNumbers } from './incarnation.js';

/**
 * Every message an actor sends that expects an answer carries an op
 * number; the op table hands them out and says whose an answer is. Put,
 * hint handoff and anti-entropy push all send Replicate and get the same
 * ReplicateAck back, so an ack is routed by the kind of the op's owner:
 *
 *   put      a client write this actor coordinates (a request)
 *   get      a client read this actor coordinates (a request; ReadReply)
 *   handoff  a hint handed to its owner (background)
 *   push     an entry of an anti-entropy push (background)
 *
 * A forwarded write (to a replica a pending ring adds) carries FORWARD_OP,
 * owned by nobody: its ack is dropped.
 *
 * Numbers come from this run's own block (incarnation.ts), so no answer
 * meant for an earlier run of the actor matches. Requests get its odd
 * numbers and background ops its even ones, each family in its own map:
 * an answer costs one lookup, and the deadline sweep walks the requests
 * alone, not the thousands of acks a push may have out.
 */
export const FORWARD_OP = 0;

export type OpKind = 'put' | 'get' | 'handoff' | 'push';
export interface OpOwner {
  readonly kind: OpKind;
}

const REQUEST_KINDS: ReadonlySet<OpKind> = new Set(['put', 'get']);

/** The job that takes the acks of one kind of op. */
export interface AckReceiver<T> {
  acked(op: number, owner: T, from: number, ok: boolean): void;
}

type OfKind<O extends OpOwner, K extends OpKind> = Extract<O, { readonly kind: K }>;
type Receivers<O extends OpOwner> = { readonly [K in O['kind']]?: AckReceiver<OfKind<O, K>> };

/** What one job sees of the table: its own ops only. */
export interface OpView<T extends OpOwner> {
  /** Take the next op number for `owner`. */
  add(owner: T): number;
  /** The owner of `op` if it is this job's and still open; undefined for a late answer. */
  get(op: number): T | undefined;
  delete(op: number): void;
  /** Drop every open op of this job whose owner `which` picks (their late answers are then ignored). */
  dropWhere(which: (owner: T) => boolean): void;
}

export class OpTable<O extends OpOwner> {
  private readonly requests = new Map<number, O>();
  private readonly background = new Map<number, O>();
  private nextRequest: number;
  private nextBackground: number;
  private readonly end: number;
  private receivers: Receivers<O> | null = null;

  /** `run`: this spawn's fresh writer id, as RunNumbers takes it. */
  constructor(run: number) {
    const first = new RunNumbers(run).take(); // the block's first number, odd: its start is a multiple of 2^32
    this.nextRequest = first;
    this.nextBackground = first + 1;
    this.end = first - 1 + NUMBERS_PER_RUN;
  }

  /** Requests open now (counted against maxPendingOps). */
  get requestCount(): number {
    return this.requests.size;
  }

  /** Open requests in the order they began. */
  openRequests(): IterableIterator<[number, OfKind<O, 'put' | 'get'>]> {
    return this.requests.entries() as IterableIterator<[number, OfKind<O, 'put' | 'get'>]>;
  }

  /** The actor closes: its requests are answered, and their late answers dropped. */
  clearRequests(): void {
    this.requests.clear();
  }

  /** Say once which job takes the acks of which kind (a kind with none, as get, ignores them). */
  routeAcksTo(receivers: Receivers<O>): void {
    assert(this.receivers === null, 'ack receivers are set once');
    this.receivers = receivers;
  }

  /** A ReplicateAck: to the job that owns its op, if the op is still open. */
  ack(op: number, from: number, ok: boolean): void {
    const owner = this.familyOf(op).get(op);
    if (owner === undefined) return; // a forwarded write's, or a late ack of a finished op
    assert(this.receivers !== null, 'acks are routed once receivers are set');
    const receiver = this.receivers[owner.kind as O['kind']] as AckReceiver<O> | undefined;
    receiver?.acked(op, owner, from, ok);
  }

  view<K extends O['kind']>(kind: K): OpView<OfKind<O, K>> {
    const isRequest = REQUEST_KINDS.has(kind);
    const family = isRequest ? this.requests : this.background;
    const wrongKind = `an op of kind ${kind}`;
    return {
      add: (owner) => {
        assert(owner.kind === kind, wrongKind);
        const op = isRequest ? this.nextRequest : this.nextBackground;
        assert(op < this.end, 'this run used all of its op numbers');
        if (isRequest) this.nextRequest += 2;
        else this.nextBackground += 2;
        family.set(op, owner);
        return op;
      },
      get: (op) => {
        const owner = family.get(op);
        return owner !== undefined && owner.kind === kind ? (owner as OfKind<O, K>) : undefined;
      },
      delete: (op) => {
        family.delete(op);
      },
      dropWhere: (which) => {
        for (const [op, owner] of family) if (owner.kind === kind && which(owner as OfKind<O, K>)) family.delete(op);
      },
    };
  }

  private familyOf(op: number): Map<number, O> {
    return op % 2 === 1 ? this.requests : this.background;
  }
}
