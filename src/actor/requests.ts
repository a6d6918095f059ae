import type { ReadQuorum, WriteQuorum } from '../coordinator/quorum.js';
import { decodeReply, readRepairs, reconcile } from '../coordinator/reconcile.js';

/**
 * The requests an actor coordinates, as values (riak_kv's put_core and
 * get_core): replies go in; whether to answer, with what, whether to ask
 * more replicas or retry, and the read repairs come out. Pure: no I/O and
 * no clock of their own (times are passed in), so every decision is tested
 * without an actor; the coordinators do the sending.
 */

/** What both kinds share: who asked, and when it must be answered. */
abstract class ClientRequest {
  answered = false;

  constructor(
    readonly client: number,
    readonly req: number,
    readonly startedMs: number,
    readonly deadlineMs: number,
  ) {}

  overdue(nowMs: number): boolean {
    return this.deadlineMs <= nowMs;
  }

  /** Past its deadline: true if the client is still to be answered (with a failure), which this marks as done. */
  giveUp(): boolean {
    if (this.answered) return false;
    this.answered = true;
    return true;
  }

  /** Answer once: mark it answered and pass `a` on. */
  protected settle<A>(a: A): A {
    this.answered = true;
    return a;
  }
}

/** What a put answers its client: nothing yet, ok, or a failure and why. */
export type PutAnswer = 'none' | 'ok' | 'own-write-failed' | 'replicas-failed';

/** One put: the write quorum, what PutOk carries, and what was sent (for retries). */
export class PutRequest extends ClientRequest {
  readonly kind = 'put';
  retries = 0;
  lastSentMs: number;

  constructor(
    client: number,
    req: number,
    readonly quorum: WriteQuorum,
    startedMs: number,
    deadlineMs: number,
    /** What PutOk carries: the causal context, whether a live value existed, an increment's counter (empty otherwise). */
    readonly context: Uint8Array,
    readonly existed: boolean,
    readonly counter: Uint8Array,
    /** What was sent, for a retry to replicas whose ack is missing (a lost message). */
    readonly key: Buffer,
    readonly clock: Uint8Array,
    /** Substitute → the preference-list actor it holds a hint for. */
    readonly hintFor: ReadonlyMap<number, number>,
  ) {
    super(client, req, startedMs, deadlineMs);
    this.lastSentMs = startedMs;
  }

  /**
   * Take `actor`'s answer (-1: none, only look) and say what to answer the
   * client now; an answer is given once, after which this says 'none'.
   * A put is acknowledged only once the coordinator's (`self`'s) own copy
   * is committed: the next event it mints for the key builds on its stored
   * clock, so a crash that lost an uncommitted copy (which other replicas
   * acked) would mint the same dot again for another value, and one would
   * vanish.
   */
  reply(self: number, actor: number, ok: boolean): PutAnswer {
    if (actor >= 0) {
      if (ok) this.quorum.ack(actor);
      else this.quorum.fail(actor);
    }
    if (this.answered) return 'none';
    if (actor === self && !ok) return this.settle('own-write-failed');
    const outcome = this.quorum.outcome;
    if (outcome === 'ok' && this.quorum.hasAcked(self)) return this.settle('ok');
    if (outcome === 'failed') return this.settle('replicas-failed');
    return 'none';
  }

  /** A re-send is due to the replicas that have not answered: counts it as made. Merging the same clock again is harmless. */
  retryDue(nowMs: number, retryMs: number, maxRetries: number): boolean {
    if (this.answered || this.retries >= maxRetries || nowMs - this.lastSentMs < retryMs) return false;
    this.retries++;
    this.lastSentMs = nowMs;
    return true;
  }
}

/** What a get answers its client: nothing yet, the reconciled value, or a failure. */
export type GetAnswer = 'none' | 'ok' | 'failed';

/** One get: the read quorum, the raw replies, and the replicas not asked yet. */
export class GetRequest extends ClientRequest {
  readonly kind = 'get';
  /** Who replied with which bytes (parallel arrays: at most n entries); identical replies skip reconciliation. */
  readonly rawFrom: number[] = [];
  readonly raw: Uint8Array[] = [];
  /** Asked replicas that have not replied or failed; the coordinator's own read is the first. */
  outstanding = 1;

  constructor(
    client: number,
    req: number,
    readonly key: Buffer,
    readonly quorum: ReadQuorum,
    startedMs: number,
    deadlineMs: number,
    /** Replicas not asked yet (asked when one fails, or after speculativeRetryMs), in the order to ask them. */
    private readonly spare: number[],
  ) {
    super(client, req, startedMs, deadlineMs);
  }

  get hasSpare(): boolean {
    return this.spare.length > 0;
  }

  /** The next replica to ask (the caller says `asked` or `unreachable`), undefined when none is left. */
  nextSpare(): number | undefined {
    return this.spare.shift();
  }

  asked(): void {
    this.outstanding++;
  }

  unreachable(replica: number): void {
    this.quorum.fail(replica);
  }

  /** A replica's reply: its stored bytes (empty: nothing stored), or not ok (it failed, or does not count while recovering). */
  reply(actor: number, ok: boolean, clockBytes: Uint8Array): void {
    this.outstanding--;
    if (!ok) return this.quorum.fail(actor);
    try {
      this.quorum.reply(actor, clockBytes.length === 0 ? null : decodeReply(this.quorum, this.rawFrom, this.raw, clockBytes));
      this.rawFrom.push(actor);
      this.raw.push(clockBytes);
    } catch {
      this.quorum.fail(actor); // a corrupt replica counts as not answering; never as an empty one
    }
  }

  /** Short of R even if every asked replica answers, and a spare is left: replace a failed replica. */
  get wantsSpare(): boolean {
    return !this.answered && this.cannotReachR && this.spare.length > 0;
  }

  /** What to answer the client now; an answer is given once, after which this says 'none'. */
  answer(): GetAnswer {
    if (this.answered) return 'none';
    const outcome = this.quorum.outcome;
    if (outcome === 'ok') return this.settle('ok');
    if (outcome === 'failed' || (this.cannotReachR && this.spare.length === 0)) return this.settle('failed');
    return 'none';
  }

  /** Answered and every asked replica replied: read repair can be decided. */
  get finished(): boolean {
    return this.answered && this.outstanding === 0;
  }

  /** Still short after speculativeRetryMs: ask every spare at once. */
  speculativeDue(nowMs: number, retryMs: number): boolean {
    return !this.answered && this.spare.length > 0 && nowMs - this.startedMs >= retryMs;
  }

  /** The reconciled value of the replies (the encoded clock GetOk carries). */
  result(): Uint8Array {
    return reconcile(this.quorum, this.rawFrom, this.raw).bytes;
  }

  /** Replicas that replied with less than the reconciled value, and the clock to send them. */
  repairs(): { actors: number[]; clock: Uint8Array } {
    return readRepairs(this.quorum, this.raw);
  }

  private get cannotReachR(): boolean {
    return this.quorum.answered + this.outstanding < this.quorum.r;
  }
}

/**
 * The replicas a read may ask besides `self`, in the order to ask them:
 * those this actor suspects last, so a dead one does not cost a
 * speculative retry (but is still asked before the read gives up).
 */
export function sparesFor(self: number, pref: readonly number[], suspected: ReadonlySet<number>): number[] {
  const out: number[] = [];
  for (const id of pref) if (id !== self && !suspected.has(id)) out.push(id);
  if (suspected.size > 0) for (const id of pref) if (id !== self && suspected.has(id)) out.push(id);
  return out;
}
