import type { LatencyWindow } from '../coordinator/throttle.js';
import type { ActorContext } from './context.js';
import type { DeadlineSweep } from './deadlines.js';
import type { Gossip } from './gossip.js';
import type { OpView } from './op-table.js';
import type { GetRequest, PutRequest } from './requests.js';

/**
 * What the put and get coordinators share: the ops of their requests, the
 * peers' health, the deadline sweep, and the foreground latencies their
 * answers teach the background throttle.
 */
export abstract class Coordinator<R extends PutRequest | GetRequest> {
  /** Requests this actor coordinated. */
  coordinated = 0;

  constructor(
    protected readonly ctx: ActorContext,
    protected readonly ops: OpView<R>,
    protected readonly gossip: Gossip,
    private readonly sweep: DeadlineSweep,
    private readonly foreground: LatencyWindow,
  ) {}

  /** A request begins: its op, and deadlines are swept while it is open. */
  protected begin(p: R): number {
    const op = this.ops.add(p);
    this.sweep.arm();
    return op;
  }

  /** The client got its answer in time: how long it took. */
  protected answeredAfter(p: R): void {
    this.foreground.record(this.ctx.clock.monotonicMs() - p.startedMs);
  }

  /**
   * Whether `p` is past its deadline; if so and still unanswered, it fails
   * with how many replicas did answer (a timed-out request is the slowest
   * foreground of all).
   */
  protected overdue(p: R, nowMs: number, answered: number, needed: number): boolean {
    if (!p.overdue(nowMs)) return false;
    if (p.giveUp()) {
      this.foreground.record(nowMs - p.startedMs);
      this.ctx.fail(p.client, p.req, 'QUORUM_NOT_REACHED', answered, needed, p.quorum.replicas.length, 'deadline passed');
    }
    return true;
  }
}
